"""The store layer: everything that must outlive one call, behind one protocol.

Model answers, video metadata and index placement, result pages, claims on answers being
paid for, v1.3 task/batch ids, and remembered decisions. Three implementations:

* ``SQLiteStore`` (``_sqlite``), the embedded default — one file shared by the user's processes;
* ``RedisStore`` (``_redis``), chosen with ``cache="redis://host:port/db"`` — shared by a fleet;
* ``MemoryStore`` (``_memory``), when the cache is off (and as the fallback on faults).

:func:`open_store` picks one from the config and wraps it in :class:`GuardedStore`, so no store
fault ever reaches a caller or loses an answer already paid for. Async callers use
:func:`offload` so disk and network I/O never block their event loop.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Callable, Optional, TypeVar

from .._config import ClientConfig
from ._guard import CacheWarning, GuardedStore
from ._memory import MemoryStore
from ._owners import new_owner
from ._protocol import Store, StoreFault
from ._records import (
    ANSWER_TTL_S,
    DECISION_REVALIDATE_S,
    JOB_TTL_S,
    KINDS,
    METADATA_TTL_S,
    PLACEMENT_TTL_S,
    RESULT_GRACE_S,
    DecisionRecord,
    Evidence,
    JobRecord,
    KindStats,
    ResultHeader,
)
from ._redis import RedisStore
from ._sqlite import SQLiteStore

__all__ = [
    "ANSWER_TTL_S",
    "DECISION_REVALIDATE_S",
    "JOB_TTL_S",
    "KINDS",
    "METADATA_TTL_S",
    "PLACEMENT_TTL_S",
    "RESULT_GRACE_S",
    "CacheWarning",
    "DecisionRecord",
    "Evidence",
    "GuardedStore",
    "JobRecord",
    "KindStats",
    "MemoryStore",
    "RedisStore",
    "ResultHeader",
    "SQLiteStore",
    "Store",
    "StoreFault",
    "new_owner",
    "offload",
    "open_existing",
    "open_store",
]

log = logging.getLogger("classify_shim.store")

_T = TypeVar("_T")


def _own_dir(path: Path) -> bool:
    try:
        from .._config import default_cache_path

        return path.parent == default_cache_path().parent
    except Exception:  # platformdirs missing or broken: just not our default dir
        return False


def _open_primary(config: ClientConfig) -> Optional[Store]:
    """The configured backing store, unguarded (None: the cache is off). Raises StoreFault."""
    url = getattr(config, "cache_url", None)
    if url:
        return RedisStore.from_url(url)
    if config.cache_path is None:
        return None
    path = Path(config.cache_path)
    return SQLiteStore(path, own_dir=_own_dir(path))


def open_store(config: ClientConfig) -> Store:
    """The configured store, guarded. A store that cannot even be opened degrades to memory
    (answers kept) with one log line; the cache off gives the plain per-client memory store."""
    try:
        primary = _open_primary(config)
    except StoreFault as exc:
        log.warning("classify cache is unusable (%s); using memory for this client", exc.message)
        return MemoryStore(keep_answers=True, location="memory (the configured cache is unusable)")
    if primary is None:
        return MemoryStore()
    if isinstance(primary, SQLiteStore):
        path, own = primary.path, _own_dir(primary.path)
        return GuardedStore(primary, reopen=lambda: SQLiteStore(path, own_dir=own), workers=1)
    return GuardedStore(primary, workers=4)


def open_existing(config: ClientConfig) -> Optional[Store]:
    """The configured persistent store if it already exists, else None — never creates a file
    (for ``doctor`` and ``auto``'s first look). Unreadable stores are None too."""
    url = getattr(config, "cache_url", None)
    if not url and (config.cache_path is None or not Path(config.cache_path).is_file()):
        return None
    try:
        primary = _open_primary(config)
    except StoreFault as exc:
        log.info("classify cache not readable (%s)", exc.message)
        return None
    return GuardedStore(primary, workers=1) if primary is not None else None


async def offload(store: Store, fn: Callable[[], _T]) -> _T:
    """Run one store call off the event loop (on the store's own thread), inline if it has none."""
    executor = store.executor
    if executor is None:
        return fn()
    return await asyncio.get_running_loop().run_in_executor(executor, fn)
