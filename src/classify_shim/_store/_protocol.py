"""The one interface every store implements (SQLite, Redis, memory), and its one error type."""

from __future__ import annotations

from concurrent.futures import Executor
from typing import Any, Dict, List, Mapping, Optional, Protocol, Sequence, Tuple

from .._bodies import VideoBody
from ._records import DecisionRecord, JobRecord, KindStats, ResultHeader

__all__ = ["Store", "StoreFault"]


class StoreFault(Exception):
    """A store could not do what was asked (disk full, read-only, damaged file, server down).

    ``kind`` is one of ``full``, ``readonly``, ``corrupt``, ``unavailable``, ``busy``, ``other``.
    Raised by the implementations, with the driver's exception chained; the guard around every
    configured store (``_guard``) turns it into one warning and a memory fallback, so callers
    never see it."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class Store(Protocol):
    """What must outlive one call. Synchronous; async callers go through :func:`offload`.

    Scopes (``host|key fingerprint``) keep one API key's videos and results invisible to
    another's. Every kind expires (``_records``); readers never see an expired entry."""

    kind: str
    """``sqlite``, ``redis`` or ``memory``."""
    persistent: bool
    """Outlives the process (answers are kept, page tokens work in other processes)."""
    location: str
    """Where it lives, for messages (a path or a URL without its password)."""
    executor: Optional[Executor]
    """Where async callers run its calls (None: cheap enough to run inline)."""

    # model answers (complete, parsed ones only), keyed by a hash of what shapes them
    def get_answer(self, key: str) -> Optional[Dict[str, Any]]: ...

    def put_answer(self, key: str, value: Mapping[str, Any]) -> None: ...

    # video metadata and index placement
    def get_video(self, scope: str, index_id: str, video_id: str) -> Optional[Dict[str, Any]]: ...

    def put_video(self, scope: str, index_id: str, video_id: str, value: Mapping[str, Any]) -> None: ...

    def forget_video(self, scope: str, video_id: str) -> None: ...

    def get_video_indexes(self, scope: str, video_ids: Sequence[str]) -> Dict[str, str]: ...

    def put_video_index(self, scope: str, mapping: Mapping[str, str]) -> None: ...

    def forget_video_index(self, scope: str, video_id: str) -> None: ...

    # result pages: a header and one row per page, so reading a page decodes only that page
    def put_result(
        self, result_id: str, header: ResultHeader, pages: Sequence[Sequence[VideoBody]]
    ) -> None: ...

    def get_page(self, result_id: str, scope: str, page: int) -> Optional[Tuple[ResultHeader, List[VideoBody]]]: ...

    # claims: who is paying for an answer right now (expire on their own)
    def claim(self, key: str, owner: str, ttl_s: float) -> bool: ...

    def renew_claim(self, key: str, owner: str, ttl_s: float) -> bool: ...

    def release_claim(self, key: str, owner: str) -> None: ...

    def claim_owner(self, key: str) -> Optional[str]: ...

    # v1.3 tasks and batches the shim created
    def put_job(self, record: JobRecord) -> None: ...

    def get_job(self, scope: str, key: str) -> Optional[JobRecord]: ...

    def delete_job(self, scope: str, key: str) -> None: ...

    def list_jobs(self, scope: Optional[str] = None) -> List[JobRecord]: ...

    # remembered decisions (auto), per host and API version
    def get_decision(self, host: str, api_version: str) -> Optional[DecisionRecord]: ...

    def put_decision(self, record: DecisionRecord) -> None: ...

    def list_decisions(self) -> List[DecisionRecord]: ...

    def clear_decisions(self, host: Optional[str] = None) -> int: ...

    # housekeeping
    def stats(self) -> Dict[str, KindStats]: ...

    def prune(self) -> Dict[str, int]: ...

    def clear(self, kinds: Optional[Sequence[str]] = None) -> Dict[str, int]: ...

    def close(self) -> None: ...
