"""The typed shapes the store keeps, the kinds they belong to, and how long each kind lives.

Every value is stored as JSON text (never pickle); the records below convert themselves to
and from plain JSON objects, so SQLite, Redis and memory hold exactly the same bytes.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple, cast

from typing_extensions import TypedDict

from .._bodies import VideoBody

__all__ = [
    "ANSWER_TTL_S",
    "CLAIM_TTL_S",
    "DECISION_REVALIDATE_S",
    "JOB_TTL_S",
    "KINDS",
    "METADATA_TTL_S",
    "PLACEMENT_TTL_S",
    "RESULT_GRACE_S",
    "DecisionRecord",
    "Evidence",
    "FailureRecord",
    "HeaderMemo",
    "JobRecord",
    "KindStats",
    "ResultHeader",
    "decision_from_text",
    "dumps",
    "failure_from_json",
    "job_from_text",
    "loads",
    "loads_list",
]

ANSWER_TTL_S = 30 * 24 * 3600.0
"""A complete model answer is reused for 30 days (the key covers model, prompt, schema and video)."""
METADATA_TTL_S = 7 * 24 * 3600.0
"""Video metadata (duration, asset id, transcript) is refreshed after a week."""
PLACEMENT_TTL_S = 30 * 24 * 3600.0
"""Which index holds a video; a stale placement is also dropped as soon as the API answers 404."""
RESULT_GRACE_S = 3600.0
"""Result pages outlive their tokens by this much (a late page fetch then says "expired", not "unknown")."""
JOB_TTL_S = 7 * 24 * 3600.0
"""Task and batch ids created on v1.3: kept a week so an interrupted run resumes them."""
CLAIM_TTL_S = 60.0
"""A claim on an answer lapses 60 s after its holder last renewed it (holders renew every 20 s),
so a killed worker's claims free themselves; on the same machine a dead holder's claim is taken
over at once."""
DECISION_REVALIDATE_S = 7 * 24 * 3600.0
"""``auto`` trusts a remembered "retired" decision for a week, then probes the endpoint once again."""

KINDS = ("answers", "videos", "placements", "results", "claims", "jobs", "decisions")
"""What the store keeps; ``classify-shim cache stats|prune|clear`` speak in these words."""


def dumps(value: Any) -> str:
    """Compact JSON; anything that is not JSON (NaN included) is refused with ``TypeError``/``ValueError``."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def loads(text: Any) -> Optional[Dict[str, Any]]:
    """A JSON object, or None for anything unreadable (a damaged row is a cache miss)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def loads_list(text: Any) -> List[VideoBody]:
    """A JSON array of objects (one result page, as the engine wrote it); anything unreadable is
    an empty page."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return []
    items = [dict(v) for v in value if isinstance(v, dict)] if isinstance(value, list) else []
    return cast(List[VideoBody], items)


class FailureRecord(TypedDict):
    """One requested video a stored result could not classify (``result.errors`` of every page):
    the fields of :class:`classify_shim.types.VideoFailure`, as JSON. Written by the engine,
    kept alike by SQLite, Redis and memory, read back by the page reader."""

    video_id: str
    stage: str  # "metadata" | "analyze" | "parse" | "exact_match"
    message: str
    attempts: int


def failure_from_json(value: Any) -> FailureRecord:
    """A stored failure, typed; ``KeyError``/``TypeError``/``ValueError`` for a damaged one (the
    result it belongs to is then unreadable: a cache miss, never a half-read error list)."""
    if not isinstance(value, Mapping):
        raise TypeError(f"a failure record is a JSON object, not {type(value).__name__}")
    video_id, stage = value["video_id"], value["stage"]
    if not isinstance(video_id, str) or not isinstance(stage, str):
        raise TypeError("a failure record names its video and stage as strings")
    attempts = value.get("attempts", 1)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise ValueError(f"a failure record's attempts is a positive whole number, not {attempts!r}")
    return FailureRecord(video_id=video_id, stage=stage, message=str(value.get("message") or ""), attempts=attempts)


@dataclass(frozen=True)
class ResultHeader:
    """Everything about a stored result except its pages (each page is a row of its own)."""

    scope: str
    page_limit: int
    total_results: int
    pages: int
    expires_at: int
    errors: List[FailureRecord] = field(default_factory=list)
    total_videos: int = 0
    model: str = ""

    def to_json(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> ResultHeader:
        return cls(
            scope=str(value["scope"]),
            page_limit=int(value["page_limit"]),
            total_results=int(value["total_results"]),
            pages=int(value["pages"]),
            expires_at=int(value["expires_at"]),
            errors=[failure_from_json(e) for e in value.get("errors") or []],
            total_videos=int(value.get("total_videos") or 0),
            model=str(value.get("model") or ""),
        )


class HeaderMemo:
    """Decoded result headers of the last few results read, per store (``get_page``).

    Every page of a result comes with its header, and the header holds the run's whole error
    list: decoding it per page made a page cost O(failed videos) (≈ 7 ms at 2,000 failures
    against 0.4 ms for the page itself). A result is written once under a fresh id, so its
    header does not change while it is stored; a page read checks that the result is still
    there and, through the store's ``mark``, that it is the same write — on SQLite: no other
    connection has committed since (``PRAGMA data_version``) or the stored text is the same;
    on Redis: the stored value has the same length — and reuses the decoded header. The
    header handed out is shared: callers read it, never change it."""

    SIZE = 8

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[str, Tuple[str, Any, ResultHeader]] = OrderedDict()

    def get(self, result_id: str, scope: str) -> Optional[Tuple[Any, ResultHeader]]:
        """``(mark, header)`` of a memoised header of this scope, or None."""
        with self._lock:
            found = self._items.get(result_id)
            if found is None or found[0] != scope:
                return None
            self._items.move_to_end(result_id)
            return found[1], found[2]

    def put(self, result_id: str, mark: Any, header: ResultHeader) -> None:
        with self._lock:
            self._items[result_id] = (header.scope, mark, header)
            self._items.move_to_end(result_id)
            while len(self._items) > self.SIZE:
                self._items.popitem(last=False)

    def forget(self, result_id: Optional[str] = None) -> None:
        """Drop one result's header (or all of them)."""
        with self._lock:
            if result_id is None:
                self._items.clear()
            else:
                self._items.pop(result_id, None)


@dataclass(frozen=True)
class Evidence:
    """The answer that caused a decision: what the endpoint said, and when."""

    status: Optional[int]
    code: Optional[str]
    message: str
    at: float
    url: Optional[str] = None

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Evidence:
        status = value.get("status")
        return cls(
            status=int(status) if isinstance(status, (int, float)) else None,
            code=str(value["code"]) if value.get("code") is not None else None,
            message=str(value.get("message") or ""),
            at=float(value.get("at") or 0.0),
            url=str(value["url"]) if value.get("url") is not None else None,
        )


@dataclass(frozen=True)
class DecisionRecord:
    """A remembered backend choice (``auto``), per host AND API version, with its evidence.

    ``revalidate_at`` is when the decision stops being trusted: after it the store no longer
    returns the record and ``auto`` asks the endpoint again (``DECISION_REVALIDATE_S``)."""

    host: str
    api_version: str
    backend: str
    evidence: Evidence
    decided_at: float
    revalidate_at: float

    @classmethod
    def new(
        cls, host: str, api_version: str, backend: str, evidence: Evidence, *, now: Optional[float] = None,
        revalidate_after_s: float = DECISION_REVALIDATE_S,
    ) -> DecisionRecord:
        at = time.time() if now is None else now
        return cls(host, api_version, backend, evidence, at, at + revalidate_after_s)

    def to_json(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> DecisionRecord:
        return cls(
            host=str(value["host"]),
            api_version=str(value["api_version"]),
            backend=str(value["backend"]),
            evidence=Evidence.from_json(value.get("evidence") or {}),
            decided_at=float(value["decided_at"]),
            revalidate_at=float(value["revalidate_at"]),
        )


@dataclass(frozen=True)
class JobRecord:
    """A v1.3 task or batch the shim created, written the moment its id is known, so a rerun
    after a crash finds it again instead of paying for a second one.

    ``key`` is the caller's fingerprint of the work (request and videos); ``kind`` is ``"task"``
    or ``"batch"``; ``payload`` is whatever the creator needs to resume (JSON)."""

    scope: str
    key: str
    kind: str
    job_id: str
    status: str = "created"
    created_at: float = 0.0
    updated_at: float = 0.0
    payload: Dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> JobRecord:
        return cls(
            scope=str(value["scope"]),
            key=str(value["key"]),
            kind=str(value["kind"]),
            job_id=str(value["job_id"]),
            status=str(value.get("status") or "created"),
            created_at=float(value.get("created_at") or 0.0),
            updated_at=float(value.get("updated_at") or 0.0),
            payload=dict(value.get("payload") or {}),
        )


@dataclass(frozen=True)
class KindStats:
    """``classify-shim cache stats``: live entries, entries past their expiry, bytes of JSON."""

    entries: int
    expired: int = 0
    bytes: Optional[int] = None


def job_from_text(text: Any) -> Optional[JobRecord]:
    """A stored job, or None for a missing or unreadable one."""
    value = loads(text)
    try:
        return JobRecord.from_json(value) if value is not None else None
    except (KeyError, TypeError, ValueError):
        return None


def decision_from_text(text: Any) -> Optional[DecisionRecord]:
    """A stored decision, or None for a missing or unreadable one."""
    value = loads(text)
    try:
        return DecisionRecord.from_json(value) if value is not None else None
    except (KeyError, TypeError, ValueError):
        return None
