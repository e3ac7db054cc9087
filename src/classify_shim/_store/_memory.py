"""The in-process store: the cache-off default, and the fallback when a configured store fails.

With the cache off, answers are deliberately not kept (every classify call asks the model
again) but pages, metadata, placements, claims and decisions live for the client's life. As a
fallback (``keep_answers=True``) it keeps answers too, so work already paid for is never lost.
Values are copied through JSON, exactly as a persistent store would hold them.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import Executor
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .._bodies import VideoBody
from ._records import (
    ANSWER_TTL_S,
    JOB_TTL_S,
    KINDS,
    METADATA_TTL_S,
    PLACEMENT_TTL_S,
    RESULT_GRACE_S,
    DecisionRecord,
    JobRecord,
    KindStats,
    ResultHeader,
    dumps,
)

__all__ = ["MemoryStore"]

_Entry = Tuple[float, Any]  # (expires at, value)


def _copy(value: Any) -> Any:
    return json.loads(dumps(value))


class MemoryStore:
    kind = "memory"
    persistent = False
    executor: Optional[Executor] = None

    def __init__(self, *, keep_answers: bool = False, location: str = "memory") -> None:
        self.keep_answers = keep_answers
        self.location = location
        self._lock = threading.Lock()
        self._data: Dict[str, Dict[Any, _Entry]] = {kind: {} for kind in KINDS}
        self._pages: Dict[str, List[Any]] = {}

    # ------------------------------------------------------------------ helpers

    def _get(self, kind: str, key: Any) -> Any:
        with self._lock:
            found = self._data[kind].get(key)
            if found is None:
                return None
            if found[0] <= time.time():
                del self._data[kind][key]
                if kind == "results":
                    self._pages.pop(key, None)
                return None
            return found[1]

    def _put(self, kind: str, key: Any, ttl_s: float, value: Any) -> None:
        with self._lock:
            self._data[kind][key] = (time.time() + ttl_s, value)

    # ------------------------------------------------------------------ answers

    def get_answer(self, key: str) -> Optional[Dict[str, Any]]:
        found = self._get("answers", key)
        return _copy(found) if found is not None else None

    def put_answer(self, key: str, value: Mapping[str, Any]) -> None:
        copied = _copy(value)  # refuse non-JSON exactly as the persistent stores do
        if self.keep_answers:
            self._put("answers", key, ANSWER_TTL_S, copied)

    # ------------------------------------------------------------------ videos

    def get_video(self, scope: str, index_id: str, video_id: str) -> Optional[Dict[str, Any]]:
        found = self._get("videos", (scope, index_id, video_id))
        return _copy(found) if found is not None else None

    def put_video(self, scope: str, index_id: str, video_id: str, value: Mapping[str, Any]) -> None:
        self._put("videos", (scope, index_id, video_id), METADATA_TTL_S, _copy(value))

    def forget_video(self, scope: str, video_id: str) -> None:
        with self._lock:
            videos = self._data["videos"]
            for key in [k for k in videos if k[0] == scope and k[2] == video_id]:
                del videos[key]
            self._data["placements"].pop((scope, video_id), None)

    def get_video_indexes(self, scope: str, video_ids: Sequence[str]) -> Dict[str, str]:
        out: Dict[str, str] = {}
        for vid in video_ids:
            found = self._get("placements", (scope, vid))
            if found is not None:
                out[vid] = str(found)
        return out

    def put_video_index(self, scope: str, mapping: Mapping[str, str]) -> None:
        expires = time.time() + PLACEMENT_TTL_S
        with self._lock:
            placements = self._data["placements"]
            for vid, idx in mapping.items():
                placements[(scope, vid)] = (expires, str(idx))

    def forget_video_index(self, scope: str, video_id: str) -> None:
        with self._lock:
            self._data["placements"].pop((scope, video_id), None)

    # ------------------------------------------------------------------ results

    def put_result(
        self, result_id: str, header: ResultHeader, pages: Sequence[Sequence[VideoBody]]
    ) -> None:
        copied = [_copy(list(p)) for p in pages]
        self.prune_kind("results")
        with self._lock:
            self._data["results"][result_id] = (header.expires_at + RESULT_GRACE_S, header)
            self._pages[result_id] = copied

    def get_page(self, result_id: str, scope: str, page: int) -> Optional[Tuple[ResultHeader, List[VideoBody]]]:
        header = self._get("results", result_id)
        if not isinstance(header, ResultHeader) or header.scope != scope:
            return None
        with self._lock:
            pages = self._pages.get(result_id) or []
            items = pages[page] if 0 <= page < len(pages) else []
        return header, _copy(items)

    # ------------------------------------------------------------------ claims

    def claim(self, key: str, owner: str, ttl_s: float) -> bool:
        now = time.time()
        with self._lock:
            claims = self._data["claims"]
            found = claims.get(key)
            if found is not None and found[0] > now and found[1] != owner:
                return False
            claims[key] = (now + ttl_s, owner)
            return True

    def renew_claim(self, key: str, owner: str, ttl_s: float) -> bool:
        with self._lock:
            claims = self._data["claims"]
            found = claims.get(key)
            if found is None or found[1] != owner:
                return False
            claims[key] = (time.time() + ttl_s, owner)
            return True

    def release_claim(self, key: str, owner: str) -> None:
        with self._lock:
            claims = self._data["claims"]
            found = claims.get(key)
            if found is not None and found[1] == owner:
                del claims[key]

    def claim_owner(self, key: str) -> Optional[str]:
        found = self._get("claims", key)
        return str(found) if found is not None else None

    # ------------------------------------------------------------------ jobs

    def put_job(self, record: JobRecord) -> None:
        self._put("jobs", (record.scope, record.key), JOB_TTL_S, JobRecord.from_json(_copy(record.to_json())))

    def get_job(self, scope: str, key: str) -> Optional[JobRecord]:
        found = self._get("jobs", (scope, key))
        return found if isinstance(found, JobRecord) else None

    def delete_job(self, scope: str, key: str) -> None:
        with self._lock:
            self._data["jobs"].pop((scope, key), None)

    def list_jobs(self, scope: Optional[str] = None) -> List[JobRecord]:
        self.prune_kind("jobs")
        with self._lock:
            records = [v for _, v in self._data["jobs"].values()]
        return sorted((r for r in records if scope is None or r.scope == scope), key=lambda r: r.created_at)

    # ------------------------------------------------------------------ decisions

    def get_decision(self, host: str, api_version: str) -> Optional[DecisionRecord]:
        found = self._get("decisions", (host, api_version))
        return found if isinstance(found, DecisionRecord) else None

    def put_decision(self, record: DecisionRecord) -> None:
        ttl = record.revalidate_at - time.time()
        if ttl > 0:
            self._put("decisions", (record.host, record.api_version), ttl, record)

    def list_decisions(self) -> List[DecisionRecord]:
        self.prune_kind("decisions")
        with self._lock:
            return sorted((v for _, v in self._data["decisions"].values()), key=lambda r: (r.host, r.api_version))

    def clear_decisions(self, host: Optional[str] = None) -> int:
        with self._lock:
            decisions = self._data["decisions"]
            keys = [k for k in decisions if host is None or k[0] == host]
            for k in keys:
                del decisions[k]
            return len(keys)

    # ------------------------------------------------------------------ housekeeping

    def prune_kind(self, kind: str) -> int:
        now = time.time()
        with self._lock:
            table = self._data[kind]
            gone = [k for k, (expires, _) in table.items() if expires <= now]
            for k in gone:
                del table[k]
                if kind == "results":
                    self._pages.pop(k, None)
            return len(gone)

    def stats(self) -> Dict[str, KindStats]:
        with self._lock:
            now = time.time()
            return {
                kind: KindStats(
                    entries=sum(1 for e, _ in table.values() if e > now),
                    expired=sum(1 for e, _ in table.values() if e <= now),
                )
                for kind, table in self._data.items()
            }

    def prune(self) -> Dict[str, int]:
        return {kind: self.prune_kind(kind) for kind in KINDS}

    def clear(self, kinds: Optional[Sequence[str]] = None) -> Dict[str, int]:
        out: Dict[str, int] = {}
        with self._lock:
            for kind in kinds or KINDS:
                out[kind] = len(self._data[kind])
                self._data[kind].clear()
                if kind == "results":
                    self._pages.clear()
        return out

    def close(self) -> None:
        return None
