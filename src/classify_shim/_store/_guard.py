"""The guard around every configured store: a store fault never loses paid work.

Whatever the backing store does — disk full, a read-only directory, a file damaged behind an
intact header, a Redis server gone — the guard catches the :class:`StoreFault`, warns ONCE
(``CacheWarning``, and a log line), and carries on in memory: a write that failed is kept in an
in-process overlay (answers included), and reads look there first. A damaged SQLite file is
moved aside (``<name>.damaged-<time>``) and rebuilt empty, then used again. A store that is
unreachable or refuses writes is retried after ``RETRY_AFTER_S``.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, TypeVar

from .._bodies import VideoBody
from .._warnings import CacheWarning
from ._memory import MemoryStore
from ._protocol import Store, StoreFault
from ._records import KINDS, DecisionRecord, JobRecord, KindStats, ResultHeader

__all__ = ["RETRY_AFTER_S", "CacheWarning", "GuardedStore", "move_aside"]

log = logging.getLogger("classify_shim.store")

RETRY_AFTER_S = 30.0
_T = TypeVar("_T")


def move_aside(path: Path) -> Optional[Path]:
    """Rename a damaged SQLite file (and its WAL/SHM companions) out of the way."""
    target = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}")
    try:
        path.replace(target)
    except OSError:
        return None
    for suffix in ("-wal", "-shm", "-journal"):
        companion = path.with_name(path.name + suffix)
        try:
            companion.replace(target.with_name(target.name + suffix))
        except OSError:
            pass
    return target


class GuardedStore:
    """A :class:`Store` that never raises ``StoreFault`` (see the module docstring)."""

    def __init__(
        self,
        primary: Optional[Store],
        *,
        reopen: Optional[Callable[[], Store]] = None,
        workers: int = 1,
        failed_open: Optional[StoreFault] = None,
        what: str = "",
        location: str = "",
    ) -> None:
        """``primary=None`` with ``failed_open``: the store could not be opened at all; the
        warning then comes with the first call that needed it, not at construction."""
        self._primary: Optional[Store] = primary
        self._reopen = reopen
        self.location = primary.location if primary is not None else location
        self._memory = MemoryStore(keep_answers=True, location=f"memory (instead of {self.location})")
        self._lock = threading.Lock()
        self._warned = False
        self._pending = failed_open
        self._pending_what = what or "memory is used instead for this client"
        self._down_until = 0.0  # primary skipped until then (unreachable / read-only)
        self._read_ok = True  # while down: may reads still try the primary (a full disk still reads)
        self.kind = primary.kind if primary is not None else "memory"
        self.persistent = primary.persistent if primary is not None else False
        self.executor: Optional[Executor] = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="classify-shim-store"
        )
        self.faults: List[str] = []

    # ------------------------------------------------------------------ fault handling

    @property
    def degraded(self) -> bool:
        return self._primary is None or self._down_until > time.monotonic()

    def _usable(self, write: bool) -> Optional[Store]:
        if self._pending is not None:
            fault, self._pending = self._pending, None
            self._warn(fault, self._pending_what)
        primary = self._primary
        if primary is None:
            return None
        if self._down_until > time.monotonic() and (write or not self._read_ok):
            return None
        return primary

    def _warn(self, fault: StoreFault, what: str) -> None:
        self.faults.append(f"{fault.kind}: {fault.message}")
        with self._lock:
            first, self._warned = not self._warned, True
        message = (
            f"The classify cache ({self.location}) failed ({fault.kind}: {fault.message}); {what}. "
            "Results of this call are complete: what could not be stored is kept in memory for this client."
        )
        if first:
            log.warning("%s", message)
            warnings.warn(message, CacheWarning, stacklevel=4)
        else:
            log.info("%s", message)

    def _fault(self, fault: StoreFault, primary: Store) -> bool:
        """Deal with a fault; True when a rebuilt primary is ready for one more try."""
        if fault.kind == "corrupt" and self._reopen is not None and isinstance(getattr(primary, "path", None), Path):
            path: Path = getattr(primary, "path")  # noqa: B009 - checked above
            try:
                primary.close()
            except StoreFault:
                pass
            moved = move_aside(path)
            if moved is None:  # cannot even rename it (read-only directory): memory from now on
                self._primary = None
                self._warn(fault, "the damaged file could not be moved aside; memory is used instead")
                return False
            try:
                self._primary = self._reopen()
            except StoreFault as again:
                self._primary = None
                self._warn(fault, f"the damaged file was moved to {moved} but a new one failed too ({again.message})")
                return False
            self._warn(fault, f"the damaged file was moved to {moved} and a new cache started")
            return True
        if fault.kind == "busy":
            self._warn(fault, "this operation used memory")
            return False
        self._read_ok = fault.kind in ("full", "readonly")
        self._down_until = time.monotonic() + RETRY_AFTER_S
        self._warn(fault, f"memory is used instead (the cache is tried again in {RETRY_AFTER_S:.0f} s)")
        return False

    def _read(self, fn: Callable[[Store], Optional[_T]]) -> Optional[_T]:
        local = fn(self._memory)
        if local is not None:
            return local
        for _ in range(2):
            primary = self._usable(write=False)
            if primary is None:
                return None
            try:
                return fn(primary)
            except StoreFault as fault:
                if not self._fault(fault, primary):
                    return None
        return None

    def _write(self, fn: Callable[[Store], _T]) -> _T:
        for _ in range(2):
            primary = self._usable(write=True)
            if primary is None:
                break
            try:
                return fn(primary)
            except StoreFault as fault:
                if not self._fault(fault, primary):
                    break
        return fn(self._memory)

    def _both(self, fn: Callable[[Store], _T], merge: Callable[[_T, _T], _T]) -> _T:
        """Housekeeping and listings: the primary (if it answers) and the overlay together."""
        local = fn(self._memory)
        primary = self._usable(write=False)
        if primary is None:
            return local
        try:
            return merge(fn(primary), local)
        except StoreFault as fault:
            self._fault(fault, primary)
            return local

    # ------------------------------------------------------------------ answers

    def get_answer(self, key: str) -> Optional[Dict[str, Any]]:
        return self._read(lambda s: s.get_answer(key))

    def put_answer(self, key: str, value: Mapping[str, Any]) -> None:
        self._write(lambda s: s.put_answer(key, value))

    # ------------------------------------------------------------------ videos

    def get_video(self, scope: str, index_id: str, video_id: str) -> Optional[Dict[str, Any]]:
        return self._read(lambda s: s.get_video(scope, index_id, video_id))

    def put_video(self, scope: str, index_id: str, video_id: str, value: Mapping[str, Any]) -> None:
        self._write(lambda s: s.put_video(scope, index_id, video_id, value))

    def forget_video(self, scope: str, video_id: str) -> None:
        self._memory.forget_video(scope, video_id)
        self._write(lambda s: s.forget_video(scope, video_id))

    def get_video_indexes(self, scope: str, video_ids: Sequence[str]) -> Dict[str, str]:
        local = self._memory.get_video_indexes(scope, video_ids)
        rest = [v for v in video_ids if v not in local]
        if rest:
            local.update(self._read(lambda s: s.get_video_indexes(scope, rest) or None) or {})
        return local

    def put_video_index(self, scope: str, mapping: Mapping[str, str]) -> None:
        self._write(lambda s: s.put_video_index(scope, mapping))

    def forget_video_index(self, scope: str, video_id: str) -> None:
        self._memory.forget_video_index(scope, video_id)
        self._write(lambda s: s.forget_video_index(scope, video_id))

    # ------------------------------------------------------------------ results

    def put_result(
        self, result_id: str, header: ResultHeader, pages: Sequence[Sequence[VideoBody]]
    ) -> None:
        self._write(lambda s: s.put_result(result_id, header, pages))

    def get_page(self, result_id: str, scope: str, page: int) -> Optional[Tuple[ResultHeader, List[VideoBody]]]:
        return self._read(lambda s: s.get_page(result_id, scope, page))

    # ------------------------------------------------------------------ claims

    def claim(self, key: str, owner: str, ttl_s: float) -> bool:
        return self._write(lambda s: s.claim(key, owner, ttl_s))

    def renew_claim(self, key: str, owner: str, ttl_s: float) -> bool:
        if self._memory.claim_owner(key) == owner:
            return self._memory.renew_claim(key, owner, ttl_s)
        return self._write(lambda s: s.renew_claim(key, owner, ttl_s))

    def release_claim(self, key: str, owner: str) -> None:
        self._memory.release_claim(key, owner)
        self._write(lambda s: s.release_claim(key, owner))

    def claim_owner(self, key: str) -> Optional[str]:
        return self._read(lambda s: s.claim_owner(key))

    # ------------------------------------------------------------------ jobs

    def put_job(self, record: JobRecord) -> None:
        self._write(lambda s: s.put_job(record))

    def get_job(self, scope: str, key: str) -> Optional[JobRecord]:
        return self._read(lambda s: s.get_job(scope, key))

    def delete_job(self, scope: str, key: str) -> None:
        self._memory.delete_job(scope, key)
        self._write(lambda s: s.delete_job(scope, key))

    def list_jobs(self, scope: Optional[str] = None) -> List[JobRecord]:
        return self._both(lambda s: s.list_jobs(scope), lambda a, b: [*a, *b])

    # ------------------------------------------------------------------ decisions

    def get_decision(self, host: str, api_version: str) -> Optional[DecisionRecord]:
        return self._read(lambda s: s.get_decision(host, api_version))

    def put_decision(self, record: DecisionRecord) -> None:
        self._write(lambda s: s.put_decision(record))

    def list_decisions(self) -> List[DecisionRecord]:
        return self._both(lambda s: s.list_decisions(), lambda a, b: [*a, *b])

    def clear_decisions(self, host: Optional[str] = None) -> int:
        return int(self._both(lambda s: s.clear_decisions(host), lambda a, b: a + b))

    # ------------------------------------------------------------------ housekeeping

    def stats(self) -> Dict[str, KindStats]:
        return self._both(lambda s: s.stats(), lambda a, b: a)

    def prune(self) -> Dict[str, int]:
        return self._both(lambda s: s.prune(), lambda a, b: {k: a.get(k, 0) + b.get(k, 0) for k in KINDS})

    def clear(self, kinds: Optional[Sequence[str]] = None) -> Dict[str, int]:
        return self._both(lambda s: s.clear(kinds), lambda a, b: {k: a.get(k, 0) + b.get(k, 0) for k in a})

    def close(self) -> None:
        executor, self.executor = self.executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        primary, self._primary = self._primary, None
        if primary is not None:
            try:
                primary.close()
            except StoreFault:
                pass
