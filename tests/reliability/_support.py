"""Helpers shared by the reliability suites (sandbox log reading, worlds, counting)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any, Dict, List


def settled_requests(sb: Any, *, at_least: int = 0, quiet_s: float = 0.05, limit_s: float = 5.0) -> List[Dict[str, Any]]:
    """The sandbox log once it has stopped growing.

    The sandbox appends an entry just *after* writing its response, so a client can return before
    its last request is logged. Wait until at least ``at_least`` entries are there and nothing new
    arrived for ``quiet_s`` (bounded by ``limit_s``; this is a wait, never a timing assertion).
    """
    deadline = time.monotonic() + limit_s
    entries = sb.requests()
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.01)
        now = sb.requests()
        if len(now) != len(entries):
            entries, stable_since = now, time.monotonic()
            continue
        if len(entries) >= at_least and time.monotonic() - stable_since >= quiet_s:
            break
    return entries


def endpoints(entries: List[Dict[str, Any]]) -> Counter[str]:
    """How many requests hit each sandbox endpoint (e.g. ``v1.3.analyze``)."""
    return Counter(str(e.get("endpoint")) for e in entries)


def statuses(entries: List[Dict[str, Any]], endpoint: str) -> Counter[int]:
    return Counter(int(e.get("status") or 0) for e in entries if e.get("endpoint") == endpoint)
