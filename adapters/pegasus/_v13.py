"""The v1.3 calls the Pegasus backend makes, on the shared HTTP layer (one retry policy, legacy errors).

* ``POST analyze`` with ``"stream": false`` (the API streams by default), an explicit
  ``model_name``, the video reference the model takes (``video_id`` for pegasus1.2;
  ``video: {"type": "asset_id", ...}`` for 1.5 and later), ``temperature``, ``response_format``
  and ``max_tokens``.
* ``GET indexes`` and ``GET indexes/{id}/videos`` (page-number pagination, ``page_limit`` 50).
* ``GET indexes/{id}/videos/{vid}?transcription=true`` for duration, asset id and transcript.

Async inside; a sync ``httpx.Client`` given by the user is honoured by running its calls in
worker threads (httpx clients are thread-safe), so the user's transport settings still apply.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import (
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Tuple,
    TypeVar,
    Union,
)

import httpx

from classify_shim._exceptions import RateLimitError, TwelveLabsError
from classify_shim._http import (
    RATE_LIMIT_BASE_DELAY,
    RATE_LIMIT_MAX_WAIT,
    AsyncHTTP,
    HTTPResponse,
    Observer,
    Pacing,
    RetryPolicy,
    SyncHTTP,
    backoff_delay,
)
from classify_shim._rules import finite_number
from classify_shim._types import RequestOptions

from ._limits import model_spec

__all__ = [
    "DEFAULT_CONCURRENCY",
    "LIST_PAGE_LIMIT",
    "AnalyzeAnswer",
    "RateGate",
    "V13Client",
    "VideoRecord",
    "bind_cancel_event",
    "build_analyze_body",
    "cancel_requested",
    "uses_asset_id",
    "video_reference",
]

log = logging.getLogger("classify_shim.pegasus")

LIST_PAGE_LIMIT = 50
_MAX_LIST_PAGES = 10_000  # a server that never says "last page" must not loop forever
LIST_PARALLEL = 8
"""Listing pages fetched at once once page 1 has said how many there are."""


def uses_asset_id(model_name: str) -> bool:
    """Pegasus 1.5 and later take ``video: {type: asset_id}``; 1.2 (and unknown names) take ``video_id``."""
    return model_spec(model_name).video_ref == "asset_id"


@dataclass(frozen=True)
class VideoRecord:
    """What classification needs to know about one indexed video."""

    video_id: str
    index_id: str
    duration: float
    asset_id: Optional[str] = None
    transcript: Tuple[Tuple[float, float, str], ...] = ()
    filename: Optional[str] = None
    transcript_loaded: bool = True
    """False for a record read from an index listing, which carries no transcript."""

    def to_json(self) -> Dict[str, Any]:
        return {
            "transcript_loaded": self.transcript_loaded,
            "video_id": self.video_id,
            "index_id": self.index_id,
            "duration": self.duration,
            "asset_id": self.asset_id,
            "transcript": [[s, e, t] for s, e, t in self.transcript],
            "filename": self.filename,
        }

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> VideoRecord:
        return cls(
            video_id=str(value["video_id"]),
            index_id=str(value["index_id"]),
            duration=float(value["duration"]),
            asset_id=value.get("asset_id"),
            transcript=tuple((float(s), float(e), str(t)) for s, e, t in value.get("transcript") or ()),
            filename=value.get("filename"),
            transcript_loaded=bool(value.get("transcript_loaded", True)),
        )

    def transcript_dicts(self) -> List[Dict[str, Any]]:
        """The v1.3 wire shape, ``[{"start", "end", "value"}]``."""
        return [{"start": s, "end": e, "value": t} for s, e, t in self.transcript]


@dataclass(frozen=True)
class AnalyzeAnswer:
    """A non-streamed ``/analyze`` answer; ``data`` is the model's text (our JSON document)."""

    data: Optional[str]
    finish_reason: Optional[str]
    output_tokens: Optional[int]
    generation_id: Optional[str]
    headers: Mapping[str, str]




def _transcript(raw: Any) -> Tuple[Tuple[float, float, str], ...]:
    if not isinstance(raw, list):  # null when the video has no speech
        return ()
    out: List[Tuple[float, float, str]] = []
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        start, end, text = finite_number(item.get("start"), text=True), finite_number(item.get("end"), text=True), item.get("value")
        if start is None or end is None or not isinstance(text, str):
            continue
        out.append((start, end, text))
    return tuple(out)


def parse_video(index_id: str, body: Any, video_id: Optional[str] = None) -> VideoRecord:
    """A video record from ``GET .../videos/{id}`` or one item of ``GET .../videos``."""
    if not isinstance(body, Mapping):
        raise TwelveLabsError(f"v1.3 video record for {video_id!r} is not an object: {str(body)[:200]!r}")
    vid = body.get("_id") or body.get("id") or video_id
    meta = body.get("system_metadata") or body.get("metadata") or {}
    duration = finite_number(meta.get("duration"), text=True) if isinstance(meta, Mapping) else None
    if not isinstance(vid, str) or duration is None:
        raise TwelveLabsError(
            f"v1.3 video record for {video_id!r} has no id or no system_metadata.duration: {str(body)[:200]!r}"
        )
    asset = body.get("asset_id")
    filename = meta.get("filename") if isinstance(meta, Mapping) else None
    return VideoRecord(
        video_id=vid,
        index_id=index_id,
        duration=duration,
        asset_id=asset if isinstance(asset, str) and asset else None,
        transcript=_transcript(body.get("transcription")),
        filename=filename if isinstance(filename, str) else None,
    )


def build_analyze_body(
    model_name: str,
    video: VideoRecord,
    prompt: str,
    response_format: Mapping[str, Any],
    temperature: float,
    max_tokens: int,
) -> Dict[str, Any]:
    body: Dict[str, Any] = {"model_name": model_name}
    body.update(video_reference(model_name, video))
    body.update(
        {
            "prompt": prompt,
            "temperature": temperature,
            "stream": False,
            "response_format": dict(response_format),
            "max_tokens": int(max_tokens),
        }
    )
    return body


def video_reference(model_name: str, video: VideoRecord) -> Dict[str, Any]:
    """How ``model_name`` is told which video: ``{"video_id": ...}`` (1.2) or
    ``{"video": {"type": "asset_id", "asset_id": ...}}`` (1.5+)."""
    if uses_asset_id(model_name):
        if not video.asset_id:
            raise TwelveLabsError(
                f"{model_name} needs the video's asset_id, and the v1.3 record of video {video.video_id} "
                "has none; use pegasus_model='pegasus1.2' (or 'auto') or re-index the video as an asset"
            )
        return {"video": {"type": "asset_id", "asset_id": video.asset_id}}
    return {"video_id": video.video_id}


def _forwarded(options: Optional[RequestOptions], extra_headers: Optional[Mapping[str, str]] = None
               ) -> Optional[RequestOptions]:
    """The caller's headers/timeout/extensions/cookies apply to v1.3 calls; ``params`` were meant
    for the v1.2 classify URL and are not added to v1.3 URLs."""
    if options is None and not extra_headers:
        return None
    if options is None:
        return RequestOptions(headers=dict(extra_headers or {}))
    if options.body:
        log.debug("request options %s replace the v1.2 body; they do not apply to v1.3 calls and are ignored",
                  ", ".join(sorted(options.body)))
    if options.params:
        log.debug("request option params applies to the v1.2 classify URL only; ignored for v1.3 calls")
    extra = httpx.Headers(extra_headers or {}).multi_items()
    replaced = {name for name, _ in extra}
    headers = [pair for pair in options.headers if pair[0] not in replaced] + extra
    return RequestOptions(
        headers=headers, timeout=options.timeout, extensions=options.extensions, cookies=options.cookies,
        auth=options.auth, follow_redirects=options.follow_redirects,
    )


class V13Client:
    """Thin, typed wrappers; errors are the legacy exception tree raised by ``_http``."""

    def __init__(
        self,
        http: Union[AsyncHTTP, SyncHTTP],
        on_headers: Optional[Callable[[Mapping[str, str]], None]] = None,
        *,
        observe: Optional[Observer] = None,
    ) -> None:
        self._http = http
        self.on_headers = on_headers  # headers of each final answer
        self.observe = observe  # (status, headers) of every answer, retried ones included

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Optional[Mapping[str, Any]] = None,
        options: Optional[RequestOptions] = None,
        headers: Optional[Mapping[str, str]] = None,
    ) -> HTTPResponse:
        opts = _forwarded(options, headers)
        observe = self.observe
        if isinstance(self._http, AsyncHTTP):
            response = await self._http.request(
                method, path, json=json, params=params, options=opts, observe=observe
            )
        else:
            sync = self._http
            response = await asyncio.to_thread(
                lambda: sync.request(method, path, json=json, params=params, options=opts, observe=observe)
            )
        if self.on_headers is not None:
            self.on_headers(response.headers)
        return response

    async def _list_page(self, path: str, page: int, options: Optional[RequestOptions]
                         ) -> Tuple[List[Mapping[str, Any]], Optional[float]]:
        """One listing page: its items and the ``total_page`` it announces (None if it does not)."""
        response = await self._request(
            "GET", path, params={"page": page, "page_limit": LIST_PAGE_LIMIT}, options=options
        )
        body = response.body if isinstance(response.body, Mapping) else {}
        data = body.get("data")
        if not isinstance(data, list):
            raise TwelveLabsError(f"GET v1.3/{path} answered without a data list: {str(body)[:200]!r}")
        info = body.get("page_info") if isinstance(body.get("page_info"), Mapping) else {}
        total_page = finite_number(info.get("total_page"), text=True) if info else None
        return [d for d in data if isinstance(d, Mapping)], total_page

    async def _page_lists(self, path: str, options: Optional[RequestOptions]
                          ) -> AsyncIterator[List[Mapping[str, Any]]]:
        """Every page's items, in page order, one page at a time (never the whole listing).

        Page 1 says how many pages there are; the others are then fetched up to
        :data:`LIST_PARALLEL` at a time (a 10,000-video index is 200 pages: one after the other
        they delayed the first ``/analyze`` call by 200 round trips). Without a ``total_page``
        the pages are read one by one until a short page. Either way the listing stops at the
        first empty page, as it always did."""
        first, total_page = await self._list_page(path, 1, options)
        yield first
        if not first or (total_page is None and len(first) < LIST_PAGE_LIMIT):
            return
        if total_page is None:
            page = 2
            while page <= _MAX_LIST_PAGES:
                data, total = await self._list_page(path, page, options)
                yield data
                if not data or (page >= total if total is not None else len(data) < LIST_PAGE_LIMIT):
                    return
                page += 1
            return
        last = min(int(total_page), _MAX_LIST_PAGES)
        for low in range(2, last + 1, LIST_PARALLEL):
            window = range(low, min(last, low + LIST_PARALLEL - 1) + 1)
            got = await asyncio.gather(*(self._list_page(path, n, options) for n in window))
            for data, _total in got:
                yield data
                if not data:
                    return

    async def _pages(self, path: str, options: Optional[RequestOptions]) -> List[Mapping[str, Any]]:
        items: List[Mapping[str, Any]] = []
        async for data in self._page_lists(path, options):
            items.extend(data)
        return items

    async def list_indexes(self, options: Optional[RequestOptions] = None) -> List[str]:
        ids: List[str] = []
        for item in await self._pages("indexes", options):
            iid = item.get("_id") or item.get("id")
            if isinstance(iid, str):
                ids.append(iid)
        return ids

    async def list_videos(self, index_id: str, options: Optional[RequestOptions] = None) -> List[str]:
        """Ids of every video in the index (all pages, newest first as the API orders them)."""
        return [vid for vid, _ in await self.list_video_records(index_id, options)]

    async def list_video_records(
        self, index_id: str, options: Optional[RequestOptions] = None
    ) -> List[Tuple[str, Optional[VideoRecord]]]:
        """Every video of the index with the record its list item already carries (id, asset id,
        duration; no transcript), or None when the item lacks them."""
        out: List[Tuple[str, Optional[VideoRecord]]] = []
        async for page in self._page_lists(f"indexes/{index_id}/videos", options):
            for item in page:  # parsed page by page: the raw items of the whole index are never held
                vid = item.get("_id") or item.get("id")
                if not isinstance(vid, str):
                    continue
                try:
                    record: Optional[VideoRecord] = dataclasses.replace(
                        parse_video(index_id, item, vid), transcript=(), transcript_loaded=False
                    )
                except TwelveLabsError:
                    record = None
                out.append((vid, record))
        return out

    async def get_video(self, index_id: str, video_id: str, options: Optional[RequestOptions] = None) -> VideoRecord:
        response = await self._request(
            "GET", f"indexes/{index_id}/videos/{video_id}", params={"transcription": "true"}, options=options
        )
        return parse_video(index_id, response.body, video_id)

    async def analyze(self, body: Mapping[str, Any], options: Optional[RequestOptions] = None) -> AnalyzeAnswer:
        response = await self._request("POST", "analyze", json=dict(body), options=options)
        raw = response.body
        if not isinstance(raw, Mapping):
            # A text body (e.g. NDJSON when a proxy dropped "stream": false) is reported as invalid.
            return AnalyzeAnswer(None, None, None, None, response.headers)
        usage = raw.get("usage") if isinstance(raw.get("usage"), Mapping) else {}
        tokens = usage.get("output_tokens") if usage else None
        data = raw.get("data")
        if isinstance(data, (dict, list)):  # tolerate a server/proxy that decoded the JSON for us
            data = json.dumps(data)
        reason = raw.get("finish_reason")
        gid = raw.get("id")
        return AnalyzeAnswer(
            data=data if isinstance(data, str) else None,
            finish_reason=reason if isinstance(reason, str) else None,
            output_tokens=tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else None,
            generation_id=gid if isinstance(gid, str) else None,
            headers=response.headers,
        )

    # -------------------------------------------------------------- async tasks and batches

    async def create_task(
        self, body: Mapping[str, Any], idempotency_key: str, options: Optional[RequestOptions] = None
    ) -> str:
        """``POST analyze/tasks``; the task id. The key makes a repeated create return the same task."""
        response = await self._request("POST", "analyze/tasks", json=dict(body), options=options,
                                       headers={"Idempotency-Key": idempotency_key})
        raw = response.body if isinstance(response.body, Mapping) else {}
        task_id = raw.get("task_id") or raw.get("_id") or raw.get("id")
        if not isinstance(task_id, str) or not task_id:
            raise TwelveLabsError(f"POST v1.3/analyze/tasks answered without a task_id: {str(raw)[:200]!r}")
        return task_id

    async def get_task(self, task_id: str, options: Optional[RequestOptions] = None) -> HTTPResponse:
        """``GET analyze/tasks/{id}`` (status, result, error); headers carry ``Retry-After`` hints."""
        return await self._request("GET", f"analyze/tasks/{task_id}", options=options)

    async def create_batch(
        self, body: Mapping[str, Any], idempotency_key: str, options: Optional[RequestOptions] = None
    ) -> Mapping[str, Any]:
        """``POST analyze/batches``: the created batch (``batch_id``, ``items`` with task ids)."""
        response = await self._request("POST", "analyze/batches", json=dict(body), options=options,
                                       headers={"Idempotency-Key": idempotency_key})
        raw = response.body if isinstance(response.body, Mapping) else {}
        if not isinstance(raw.get("batch_id"), str):
            raise TwelveLabsError(f"POST v1.3/analyze/batches answered without a batch_id: {str(raw)[:200]!r}")
        return raw

    async def get_batch(self, batch_id: str, options: Optional[RequestOptions] = None) -> HTTPResponse:
        return await self._request("GET", f"analyze/batches/{batch_id}", options=options)

    async def batch_results(self, batch_id: str, options: Optional[RequestOptions] = None) -> List[Mapping[str, Any]]:
        """``GET analyze/batches/{id}/results``: one entry per JSON line (unreadable lines skipped)."""
        response = await self._request("GET", f"analyze/batches/{batch_id}/results", options=options,
                                       headers={"accept": "application/jsonl, application/json"})
        body = response.body
        if isinstance(body, Mapping) and isinstance(body.get("data"), list):
            return [d for d in body["data"] if isinstance(d, Mapping)]
        if isinstance(body, list):
            return [d for d in body if isinstance(d, Mapping)]
        if isinstance(body, Mapping) and "task_id" in body:  # a one-line JSONL body sent as JSON
            return [body]
        entries: List[Mapping[str, Any]] = []
        for line in str(body or "").splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                log.info("batch %s: unreadable result line skipped: %.200r", batch_id, line)
                continue
            if isinstance(entry, Mapping):
                entries.append(entry)
        return entries

    async def aclose(self) -> None:
        if isinstance(self._http, AsyncHTTP):
            await self._http.aclose()
        else:
            self._http.close()


# ----------------------------------------------------------------------------- rate gate

MAX_CONCURRENCY = 32
DEFAULT_CONCURRENCY = MAX_CONCURRENCY
"""Calls in flight at the start of a run, unless ``max_concurrency`` says otherwise: the bound
itself (see ``RateGate``; a 429 halves it at once)."""

_T = TypeVar("_T")


class RateGate:
    """Bounded, adaptive concurrency for v1.3 calls, shared by every call of one classify run.

    The gate PACES, it never re-sends: retries are the HTTP layer's alone (one retry layer, at
    most ``1 + max_retries`` sends per API call). It sees every answer through
    :meth:`observe_answer`, retried ones included:

    * ``limit`` calls in flight; starts at the cap (``ClientConfig.max_concurrency``, else 32).
    * A 429 halves the limit and holds back every *new* call until ``Retry-After`` (or an
      exponential pause when the server gives none); a call whose retries are used up raises
      ``RateLimitError`` and the caller reports that one video.
    * Each run of successes as long as the limit raises it by one, up to the cap.
    * ``X-Ratelimit-Limit`` lowers the cap to the window size (more in flight cannot help);
      ``X-Ratelimit-Remaining: 0`` pauses until the window resets.
    * A cancelled run (Ctrl-C in the sync client, :func:`cancel_requested`) starts no new call.
    """

    def __init__(
        self,
        max_concurrency: Optional[int],
        *,
        base_delay: Optional[float] = None,
        max_delay: Optional[float] = None,
        sleep: Optional[Callable[[float], Awaitable[None]]] = None,
        cancelled: Optional[Callable[[], bool]] = None,
    ) -> None:
        self.cap = max(1, min(MAX_CONCURRENCY, max_concurrency or MAX_CONCURRENCY))
        # Start at the bound: ramping up from a few calls cost 1.3-1.6x the bound's wall time at
        # 1k-10k videos; a 429 still halves the limit at once, so a small plan is not hammered.
        self.limit = self.cap
        self.base_delay = RATE_LIMIT_BASE_DELAY if base_delay is None else base_delay
        self.max_delay = RATE_LIMIT_MAX_WAIT if max_delay is None else max_delay
        self._sleep = sleep or asyncio.sleep
        self._cancelled = cancelled or cancel_requested
        self._in_flight = 0
        self._successes = 0
        self._storm = 0  # 429s in a row, for the pause when the server gives no hint
        self._resume_at = 0.0
        self._cond: Optional[asyncio.Condition] = None
        self.rate_limited = 0  # 429 answers seen (for logs and tests)

    @classmethod
    def paced(cls, max_concurrency: Optional[int], pacing: Pacing) -> RateGate:
        """The gate of a client: its cap and its :class:`Pacing` (``ClientConfig.pacing``)."""
        return cls(max_concurrency, base_delay=pacing.rate_limit_base_delay, max_delay=pacing.rate_limit_max_wait)

    def _condition(self) -> asyncio.Condition:
        if self._cond is None:  # created lazily, inside the running loop
            self._cond = asyncio.Condition()
        return self._cond

    async def _acquire(self) -> None:
        cond = self._condition()
        async with cond:
            while self._in_flight >= self.limit:
                await cond.wait()
            self._in_flight += 1

    async def _release(self) -> None:
        cond = self._condition()
        async with cond:
            self._in_flight -= 1
            # Wake only as many waiters as may start: waking all of them is quadratic in videos.
            cond.notify(max(1, self.limit - self._in_flight))

    async def _pause(self) -> None:
        seen: Optional[float] = None
        while self._resume_at != seen:  # again only if a 429 extended the pause meanwhile
            seen = self._resume_at
            wait = seen - time.monotonic()
            if wait <= 0:
                return
            await self._sleep(wait)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Learn from rate-limit headers of any v1.3 answer."""
        lowered = {k.lower(): v for k, v in headers.items()}
        window = finite_number(lowered.get("x-ratelimit-limit"), text=True)
        if window is not None and window >= 1:
            self.cap = max(1, min(self.cap, int(window)))
            self.limit = min(self.limit, self.cap)
        remaining = lowered.get("x-ratelimit-remaining")
        if remaining is not None and remaining.strip() == "0":
            delay = RetryPolicy.server_delay(headers)
            if delay is not None:
                self._resume_at = max(self._resume_at, time.monotonic() + min(delay, self.max_delay))

    def observe_answer(self, status: int, headers: Mapping[str, str]) -> None:
        """Every answer the HTTP layer receives (called from its retry loop, maybe in a thread)."""
        if status == 429:
            self._on_rate_limited(headers)
        else:
            if status < 400:
                self._storm = 0
            self.observe(headers)

    def _on_rate_limited(self, headers: Mapping[str, str]) -> float:
        self.rate_limited += 1
        self.limit = max(1, self.limit // 2)
        self._successes = 0
        server = RetryPolicy.server_delay(headers)
        if server is not None:
            delay = min(server, self.max_delay)
        else:
            delay = backoff_delay(self._storm, self.base_delay, self.max_delay)
        self._storm += 1
        self._resume_at = max(self._resume_at, time.monotonic() + delay)
        return delay

    def _on_success(self) -> None:
        self._successes += 1
        if self._successes >= self.limit and self.limit < self.cap:
            self.limit += 1
            self._successes = 0

    async def run(self, factory: Callable[[], Awaitable[_T]], label: str = "") -> _T:
        """Wait for a slot (and any rate-limit pause), then make the call ONCE."""
        await self._pause()
        await self._acquire()
        try:
            if self._cancelled():
                raise asyncio.CancelledError(f"run cancelled before {label or 'a call'} started")
            result = await factory()
        except RateLimitError:
            log.info("rate limited%s after the HTTP layer's retries; %d in flight max",
                     f" ({label})" if label else "", self.limit)
            raise
        else:
            self._on_success()
            return result
        finally:
            await self._release()


# ----------------------------------------------------------------------------- cancellation

_CANCEL: contextvars.ContextVar[Optional[threading.Event]] = contextvars.ContextVar("classify_shim_cancel", default=None)


def cancel_requested() -> bool:
    """True once the sync client's caller was interrupted (Ctrl-C): no new v1.3 call may start."""
    event = _CANCEL.get()
    return event is not None and event.is_set()


def bind_cancel_event(event: threading.Event) -> None:
    """Bind ``event`` to the current context (the worker thread's, before its loop starts)."""
    _CANCEL.set(event)
