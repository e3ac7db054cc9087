"""Who holds a claim: ``host:pid:random``, so a claim left by a dead process on this machine
can be taken over at once instead of after its expiry."""

from __future__ import annotations

import os
import socket
import uuid

__all__ = ["dead_here", "new_owner"]

_HOST = socket.gethostname().replace(":", "_") or "host"


def new_owner() -> str:
    return f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def dead_here(owner: str) -> bool:
    """True only when ``owner`` ran on this machine in a process that no longer exists."""
    parts = owner.split(":")
    if len(parts) != 3 or parts[0] != _HOST or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False
    return False
