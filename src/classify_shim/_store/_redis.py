"""The shared store for many workers: Redis (``cache="redis://host:port/db"``).

Same semantics as SQLite, with Redis doing the expiry (every key has a TTL, so ``prune`` has
nothing to do). Values are JSON text, never pickle. Claims are ``SET NX PX`` with the owner as
value; renew and release compare the owner first (small Lua scripts), so a worker can never
release another's claim. Keys start with a prefix, ``tlcs:`` by default, chosen with the URL's
``prefix`` query parameter: ``redis://cache:6379/2?prefix=myapp:classify:``. Needs the optional
``redis`` package: ``pip install "twelvelabs-classify-shim[redis]"``.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import Executor
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .._bodies import VideoBody
from .._config import redact_url
from ._owners import dead_here
from ._protocol import StoreFault
from ._records import (
    ANSWER_TTL_S,
    JOB_TTL_S,
    KINDS,
    METADATA_TTL_S,
    PLACEMENT_TTL_S,
    RESULT_GRACE_S,
    DecisionRecord,
    HeaderMemo,
    JobRecord,
    KindStats,
    ResultHeader,
    decision_from_text,
    dumps,
    job_from_text,
    loads,
    loads_list,
)

__all__ = ["DEFAULT_PREFIX", "RedisStore", "split_url"]

DEFAULT_PREFIX = "tlcs:"
PAGES_PER_PIPELINE = 100
"""Result pages sent per round trip when a result is written."""
_T = TypeVar("_T")

# kind -> key families (results: header "r:" and pages "p:")
_FAMILIES: Dict[str, Tuple[str, ...]] = {
    "answers": ("a:",),
    "videos": ("v:",),
    "placements": ("i:",),
    "results": ("r:", "p:"),
    "claims": ("c:",),
    "jobs": ("j:",),
    "decisions": ("d:",),
}

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_TAKE_OVER = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1
end
return 0
"""


def split_url(url: str) -> Tuple[str, str]:
    """``(url for redis-py, key prefix)``: the ``prefix`` query parameter is ours, not Redis'."""
    parts = urlsplit(url.strip())
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = DEFAULT_PREFIX
    rest = []
    for name, value in query:
        if name == "prefix":
            prefix = value
        else:
            rest.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(rest))), prefix


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def _size(value: Any) -> int:
    """What ``STRLEN`` answers for a stored value: its length in bytes."""
    return len(value) if isinstance(value, bytes) else len(str(value).encode("utf-8"))


class RedisStore:
    kind = "redis"
    persistent = True
    executor: Optional[Executor] = None  # the guard around it owns the threads async callers use

    def __init__(self, client: Any, *, prefix: str = DEFAULT_PREFIX, location: str = "redis") -> None:
        self._r = client
        self.prefix = prefix
        self.location = location
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._take_over = client.register_script(_TAKE_OVER)
        self._headers = HeaderMemo()

    @classmethod
    def from_url(cls, url: str, *, timeout_s: float = 5.0) -> RedisStore:
        try:
            import redis
        except ImportError as exc:
            raise StoreFault(
                "unavailable",
                "cache is a redis:// URL but the `redis` package is not installed: "
                'pip install "twelvelabs-classify-shim[redis]"',
            ) from exc
        target, prefix = split_url(url)
        shown = redact_url(url)
        try:
            client = redis.Redis.from_url(
                target, decode_responses=True, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                health_check_interval=30,
            )
            client.ping()
        except (redis.RedisError, ValueError, OSError) as exc:
            raise StoreFault("unavailable", f"cannot reach {shown}: {exc}") from exc
        return cls(client, prefix=prefix, location=shown)

    # ------------------------------------------------------------------ plumbing

    def _k(self, family: str, *parts: str) -> str:
        return self.prefix + family + "|".join(parts)

    def _run(self, fn: Callable[[], _T]) -> _T:
        import redis

        try:
            return fn()
        except redis.RedisError as exc:
            text = str(exc)
            if isinstance(exc, (redis.ConnectionError, redis.TimeoutError)):
                kind = "unavailable"
            elif text.startswith("OOM"):
                kind = "full"
            elif text.startswith("READONLY") or "MISCONF" in text:
                kind = "readonly"
            else:
                kind = "other"
            raise StoreFault(kind, f"{self.location}: {type(exc).__name__}: {text}"[:500]) from exc

    def _scan(self, family: str) -> Iterator[str]:
        pattern = _glob_escape(self.prefix + family) + "*"
        yield from self._run(lambda: list(self._r.scan_iter(match=pattern, count=500)))

    # ------------------------------------------------------------------ answers

    def get_answer(self, key: str) -> Optional[Dict[str, Any]]:
        return loads(self._run(lambda: self._r.get(self._k("a:", key))))

    def put_answer(self, key: str, value: Mapping[str, Any]) -> None:
        text = dumps(value)
        self._run(lambda: self._r.set(self._k("a:", key), text, px=_ms(ANSWER_TTL_S)))

    # ------------------------------------------------------------------ videos

    def get_video(self, scope: str, index_id: str, video_id: str) -> Optional[Dict[str, Any]]:
        return loads(self._run(lambda: self._r.hget(self._k("v:", scope, video_id), index_id)))

    def put_video(self, scope: str, index_id: str, video_id: str, value: Mapping[str, Any]) -> None:
        text = dumps(value)
        key = self._k("v:", scope, video_id)

        def write() -> None:
            pipe = self._r.pipeline(transaction=True)
            pipe.hset(key, index_id, text)
            pipe.pexpire(key, _ms(METADATA_TTL_S))
            pipe.execute()

        self._run(write)

    def forget_video(self, scope: str, video_id: str) -> None:
        self._run(lambda: self._r.delete(self._k("v:", scope, video_id), self._k("i:", scope, video_id)))

    def get_video_indexes(self, scope: str, video_ids: Sequence[str]) -> Dict[str, str]:
        ids = list(dict.fromkeys(video_ids))
        out: Dict[str, str] = {}
        for start in range(0, len(ids), 1000):
            part = ids[start:start + 1000]
            values = self._run(lambda part=part: self._r.mget([self._k("i:", scope, v) for v in part]))  # type: ignore[misc]
            out.update({v: str(i) for v, i in zip(part, values) if i is not None})
        return out

    def put_video_index(self, scope: str, mapping: Mapping[str, str]) -> None:
        if not mapping:
            return

        def write() -> None:
            pipe = self._r.pipeline(transaction=False)
            for vid, idx in mapping.items():
                pipe.set(self._k("i:", scope, vid), str(idx), px=_ms(PLACEMENT_TTL_S))
            pipe.execute()

        self._run(write)

    def forget_video_index(self, scope: str, video_id: str) -> None:
        self._run(lambda: self._r.delete(self._k("i:", scope, video_id)))

    # ------------------------------------------------------------------ results

    def put_result(
        self, result_id: str, header: ResultHeader, pages: Sequence[Sequence[VideoBody]]
    ) -> None:
        head = dumps(header.to_json())
        until = int((header.expires_at + RESULT_GRACE_S) * 1000)

        def write() -> None:
            # Pages first, PAGES_PER_PIPELINE at a time (the JSON of the whole result is never
            # held at once), then the header: a visible header always has its pages.
            pipe = self._r.pipeline(transaction=False)
            for n, items in enumerate(pages):
                pipe.set(self._k("p:", result_id, str(n)), dumps(list(items)), pxat=until)
                if len(pipe) >= PAGES_PER_PIPELINE:
                    pipe.execute()
            pipe.set(self._k("r:", result_id), head, pxat=until)
            pipe.execute()

        self._run(write)
        self._headers.put(result_id, _size(head), header)

    def get_page(self, result_id: str, scope: str, page: int) -> Optional[Tuple[ResultHeader, List[VideoBody]]]:
        head_key, page_key = self._k("r:", result_id), self._k("p:", result_id, str(page))
        memo = self._headers.get(result_id, scope)
        if memo is not None:  # the decoded header is at hand: is the same write still stored?

            def check() -> List[Any]:
                pipe = self._r.pipeline(transaction=False)
                pipe.strlen(head_key)
                pipe.get(page_key)
                return list(pipe.execute())

            size, items = self._run(check)
            if not size:
                return None
            if size == memo[0]:
                return memo[1], loads_list(items) if items is not None else []
        head, items = self._run(lambda: self._r.mget([head_key, page_key]))
        value = loads(head)
        if value is None or value.get("scope") != scope:
            return None
        try:
            header = ResultHeader.from_json(value)
        except (KeyError, TypeError, ValueError):
            return None
        self._headers.put(result_id, _size(head), header)
        return header, loads_list(items) if items is not None else []

    # ------------------------------------------------------------------ claims

    def claim(self, key: str, owner: str, ttl_s: float) -> bool:
        name = self._k("c:", key)
        if self._run(lambda: self._r.set(name, owner, nx=True, px=_ms(ttl_s))):
            return True
        holder = self._run(lambda: self._r.get(name))
        if holder == owner:
            return bool(self._run(lambda: self._renew(keys=[name], args=[owner, _ms(ttl_s)])))
        if holder is not None and dead_here(str(holder)):
            return bool(self._run(lambda: self._take_over(keys=[name], args=[holder, owner, _ms(ttl_s)])))
        if holder is None:  # expired between the two calls: one more try
            return bool(self._run(lambda: self._r.set(name, owner, nx=True, px=_ms(ttl_s))))
        return False

    def renew_claim(self, key: str, owner: str, ttl_s: float) -> bool:
        return bool(self._run(lambda: self._renew(keys=[self._k("c:", key)], args=[owner, _ms(ttl_s)])))

    def release_claim(self, key: str, owner: str) -> None:
        self._run(lambda: self._release(keys=[self._k("c:", key)], args=[owner]))

    def claim_owner(self, key: str) -> Optional[str]:
        holder = self._run(lambda: self._r.get(self._k("c:", key)))
        if holder is None or dead_here(str(holder)):
            return None
        return str(holder)

    # ------------------------------------------------------------------ jobs

    def put_job(self, record: JobRecord) -> None:
        text = dumps(record.to_json())
        self._run(lambda: self._r.set(self._k("j:", record.scope, record.key), text, px=_ms(JOB_TTL_S)))

    def get_job(self, scope: str, key: str) -> Optional[JobRecord]:
        return job_from_text(self._run(lambda: self._r.get(self._k("j:", scope, key))))

    def delete_job(self, scope: str, key: str) -> None:
        self._run(lambda: self._r.delete(self._k("j:", scope, key)))

    def list_jobs(self, scope: Optional[str] = None) -> List[JobRecord]:
        names = list(self._scan("j:"))
        values = self._run(lambda: self._r.mget(names)) if names else []
        jobs = [j for v in values if (j := job_from_text(v)) is not None and (scope is None or j.scope == scope)]
        return sorted(jobs, key=lambda r: r.created_at)

    # ------------------------------------------------------------------ decisions

    def get_decision(self, host: str, api_version: str) -> Optional[DecisionRecord]:
        return decision_from_text(self._run(lambda: self._r.get(self._k("d:", host, api_version))))

    def put_decision(self, record: DecisionRecord) -> None:
        if record.revalidate_at <= time.time():
            return
        text = dumps(record.to_json())
        name = self._k("d:", record.host, record.api_version)
        self._run(lambda: self._r.set(name, text, pxat=int(record.revalidate_at * 1000)))

    def list_decisions(self) -> List[DecisionRecord]:
        names = list(self._scan("d:"))
        values = self._run(lambda: self._r.mget(names)) if names else []
        found = [d for v in values if (d := decision_from_text(v)) is not None]
        return sorted(found, key=lambda r: (r.host, r.api_version))

    def clear_decisions(self, host: Optional[str] = None) -> int:
        chosen = [d for d in self.list_decisions() if host is None or d.host == host]
        names = [self._k("d:", d.host, d.api_version) for d in chosen]
        return int(self._run(lambda: self._r.delete(*names))) if names else 0

    # ------------------------------------------------------------------ housekeeping

    def stats(self) -> Dict[str, KindStats]:
        out: Dict[str, KindStats] = {}
        for kind in KINDS:
            names: List[str] = []
            for family in _FAMILIES[kind]:
                names.extend(self._scan(family))
            count = len([n for n in names if not n.startswith(self.prefix + "p:")])

            def sizes(names: List[str] = names) -> int:
                pipe = self._r.pipeline(transaction=False)
                for n in names:
                    pipe.memory_usage(n)
                return sum(int(s or 0) for s in pipe.execute())

            out[kind] = KindStats(entries=count, expired=0, bytes=self._run(sizes) if names else 0)
        return out

    def prune(self) -> Dict[str, int]:
        return dict.fromkeys(KINDS, 0)  # Redis expires every key itself

    def clear(self, kinds: Optional[Sequence[str]] = None) -> Dict[str, int]:
        out: Dict[str, int] = {}
        for kind in kinds or KINDS:
            removed = 0
            for family in _FAMILIES[kind]:
                names = list(self._scan(family))
                for start in range(0, len(names), 500):
                    part = names[start:start + 500]
                    deleted = int(self._run(lambda part=part: self._r.unlink(*part)))  # type: ignore[misc]
                    if family != "p:":
                        removed += deleted
            out[kind] = removed
        if "results" in (kinds or KINDS):
            self._headers.forget()
        return out

    def close(self) -> None:
        try:
            self._r.close()
        except Exception:  # closing a dead connection is not news
            pass

