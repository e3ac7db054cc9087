"""Stopping the servers tests start (sandbox, redis-server, installed CLIs): politely, then firmly."""

from __future__ import annotations

import subprocess
from typing import Any

__all__ = ["stop"]


def stop(proc: subprocess.Popen[Any], timeout: float = 30.0) -> None:
    """SIGTERM, wait; SIGKILL if it has not gone, wait again (no zombie, no port left bound)."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)
