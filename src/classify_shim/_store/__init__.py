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
from typing import Callable, Optional, Tuple, TypeVar

from .._config import ClientConfig, redact_url
from ._guard import CacheWarning, GuardedStore, move_aside
from ._memory import MemoryStore
from ._owners import new_owner
from ._protocol import Store, StoreFault
from ._records import (
    ANSWER_TTL_S,
    CLAIM_TTL_S,
    DECISION_REVALIDATE_S,
    JOB_TTL_S,
    KINDS,
    METADATA_TTL_S,
    PLACEMENT_TTL_S,
    RESULT_GRACE_S,
    DecisionRecord,
    Evidence,
    FailureRecord,
    JobRecord,
    KindStats,
    ResultHeader,
)
from ._redis import RedisStore
from ._sqlite import SQLiteStore

__all__ = [
    "ANSWER_TTL_S",
    "CLAIM_TTL_S",
    "DECISION_REVALIDATE_S",
    "JOB_TTL_S",
    "KINDS",
    "METADATA_TTL_S",
    "PLACEMENT_TTL_S",
    "RESULT_GRACE_S",
    "CacheWarning",
    "DecisionRecord",
    "Evidence",
    "FailureRecord",
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
    """The configured store, guarded; the cache off gives the plain per-client memory store.

    A store that cannot be opened is recovered where possible (a damaged file is moved aside
    and rebuilt; a file in a read-only directory is read as it is), else the client works from
    memory, answers kept. Either way ONE ``CacheWarning`` comes with the first call it affects."""
    notice: Optional[StoreFault] = None
    what = ""
    try:
        primary = _open_primary(config)
    except StoreFault as exc:
        primary, what = _recover(config, exc)
        if primary is None:
            log.warning("classify cache is unusable (%s); using memory for this client", exc.message)
            shown = redact_url(config.cache_url) if config.cache_url else str(config.cache_path)
            return GuardedStore(None, failed_open=exc, what="memory is used instead for this client", location=shown)
        notice = exc if what else None
    if primary is None:  # the cache is off
        return MemoryStore()
    if isinstance(primary, SQLiteStore):
        path, own = primary.path, _own_dir(primary.path)
        return GuardedStore(
            primary, reopen=lambda: SQLiteStore(path, own_dir=own), workers=1, failed_open=notice, what=what
        )
    return GuardedStore(primary, workers=4)


def _recover(config: ClientConfig, fault: StoreFault) -> Tuple[Optional[Store], str]:
    """A second chance for a SQLite file that failed to open, and what was done (for the
    warning): a damaged file is moved aside and rebuilt; one in a read-only directory is read
    as it is (new answers then go to memory, and the guard warns at the first write)."""
    if config.cache_url or config.cache_path is None:
        return None, ""
    path = Path(config.cache_path)
    if fault.kind == "corrupt":
        moved = move_aside(path)
        if moved is None:
            return None, ""
        try:
            store = SQLiteStore(path, own_dir=_own_dir(path))
        except StoreFault:
            return None, ""
        return store, f"the damaged file was moved to {moved.name} and a new cache started"
    if fault.kind == "readonly" and path.is_file():
        try:
            return SQLiteStore(path, read_only=True), ""
        except StoreFault:
            return None, ""
    return None, ""


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
