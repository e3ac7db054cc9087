"""The Pegasus classify run: resolve videos, ask the model once per video, map, store, page.

One run (= one ``classify.videos``/``classify.index`` call):

1. Place every video in its index — unknown ids fail the call here, before any ``/analyze``
   call (``_resolve``).
2. Per video, concurrently under the rate gate: load its record (duration, asset id,
   transcript) if placing it did not already, then at once one ``/analyze`` call carrying every class
   that needs the model (split only when the prompt is too long for the model, ``plan_chunks``);
   ``exact_match`` conversation is read from the transcript (``_exact``), so a request with
   only such classes makes no model call at all. Complete answers come from / go to the
   answer cache.
3. A truncated answer (``finish_reason: "length"``) is retried once with a bigger budget, or
   as two smaller chunks when the budget is already the model's maximum; an unreadable answer
   is retried once. After that the video is reported (``VideoFailure`` + one
   ``PartialResultWarning`` per call) and, if part of its answer was readable, mapped from that
   part. A failing video never fails the others.
4. Map and order (``_mapping``), store the whole ordered list under a new result id, and
   return page 0. Pages are served from the store by signed tokens (``_tokens``): a page fetch
   makes no network call at all.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Set, Tuple, Union, overload

from classify_shim._backend import BackendPage, VideoFailure, optional_callback
from classify_shim._bodies import PageBody, VideoBody
from classify_shim._config import ClientConfig, samples_value
from classify_shim._events import Progress, ProgressStatus
from classify_shim._exceptions import (
    APIError,
    APIStatusError,
    AuthenticationError,
    ClassifyValidationError,
    TwelveLabsError,
)
from classify_shim._http import AsyncHTTP, SyncHTTP
from classify_shim._request import ClassifyRequest, ClassSpec
from classify_shim._rules import video_sort_key
from classify_shim._store import (
    CLAIM_TTL_S,
    FailureRecord,
    ResultHeader,
    Store,
    new_owner,
    offload,
    open_store,
)
from classify_shim._tokens import key_fingerprint, make_token, read_token, rfc3339
from classify_shim._types import RequestOptions

from ._adaptive import answer_rounds, undecided
from ._batch import BatchRunner, batch_item
from ._exact import exact_match_segments
from ._limits import (
    AUTO_MODEL,
    BATCH_MAX_ACTIVE,
    BATCH_MAX_REQUESTS,
    PEGASUS12,
    PEGASUS15,
    SYNC_MAX_DURATION_S,
    model_spec,
)
from ._mapping import map_video_samples, order_videos
from ._parse import AnswerError, ParsedAnswer, Segment, merge_answers, merge_samples, parse_answer
from ._prompt import (
    PROMPT_TEMPLATE_VERSION,
    bigger_budget,
    build_prompt,
    build_response_format,
    max_tokens_for,
    needs_exact_match,
    plan_chunks,
)
from ._resolve import Resolved, Resolver, is_not_found
from ._schema import SchemaBook
from ._segments import SEGMENTS_TEMPLATE_VERSION, build_segment_format, parse_segments, plan_segment_chunks
from ._select import ModelPicker, is_too_long
from ._tasks import JobFailed, TaskAnswer, TaskRunner, item_key
from ._v13 import RateGate, V13Client, VideoRecord, build_analyze_body, video_reference

__all__ = [
    "AUTO_BATCH_MIN_VIDEOS",
    "Core",
    "CostEstimate",
    "Progress",
    "RunStats",
    "answer_key",
    "answers_per_video",
    "choose_strategy",
    "sample_temperature",
    "template_version",
    "warn_calibration",
    "warn_partial",
]

log = logging.getLogger("classify_shim.pegasus")

BACKEND_NAME = "pegasus"
PARSE_INLINE_CHARS = 8192
"""Answers longer than this are parsed in a worker thread, not on the event loop."""
PARSED_MEMO_SIZE = 256
"""Stored answers kept parsed per client (``Core.read_cached``); the memo starts over when full."""
CLAIM_POLL_FIRST_S = 0.05
CLAIM_POLL_MAX_S = 1.0
"""While another worker pays for an answer, the store is polled from 50 ms up to every second."""

SAMPLE_TEMPERATURE = 0.7
"""``temperature`` (v1.3 range 0-1, default 0.2) of the 2nd to k-th answer of ``samples=k``."""

AUTO_BATCH_MIN_VIDEOS = 200
"""``strategy="auto"`` uses batches from this many videos needing the model (when the model takes
batches): at 120 requests per minute, 200 ``/analyze`` calls already take about two minutes of
rate-limited calls, the range where one batch (a handful of calls, no per-minute limit on the
analysis itself) starts to pay off. Smaller runs stay ``sync``: a batch has minutes of latency."""


def choose_strategy(configured: str, model: str, videos_needing_model: int) -> str:
    """The strategy a run uses (``auto`` resolved, see :data:`AUTO_BATCH_MIN_VIDEOS`)."""
    if configured != "auto":
        return configured
    allows = model.strip().lower() == AUTO_MODEL or model_spec(model).batches
    return "batch" if allows and videos_needing_model >= AUTO_BATCH_MIN_VIDEOS else "sync"


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _key_prefix(
    host: str, model: str, schema: Mapping[str, Any], temperature: float, prompt: str, sample: int = 0
) -> str:
    """The answer-key material up to the video: the same for every video of a chunk. Sample 0
    (the only one with ``samples=1``) has no ``sample`` field, so its keys are the ones every
    earlier version wrote; sample ``i`` > 0 of ``samples=k`` is a key of its own."""
    # The keys in sorted order, as json.dumps(sort_keys=True) writes them; "video" sorts last.
    head: Dict[str, Any] = {"host": host, "model": model, "prompt": prompt, "schema": schema,
                            "temperature": temperature, "template": PROMPT_TEMPLATE_VERSION}
    if sample:
        head["sample"] = sample
    return _dumps(head)[:-1] + ',"video":'


def _keyed(prefix: str, video_ref: Mapping[str, Any]) -> str:
    return hashlib.sha256((prefix + _dumps(video_ref) + "}").encode("utf-8")).hexdigest()


def answer_key(
    host: str, model: str, schema: Mapping[str, Any], video_ref: Mapping[str, Any], temperature: float, prompt: str,
    sample: int = 0,
) -> str:
    """Answer-cache key: sha256 over everything that shapes the answer (not ``max_tokens``:
    only complete answers are cached, and a complete answer does not depend on the budget)
    and, for the 2nd to k-th answer of ``samples=k``, the sample's number."""
    return _keyed(_key_prefix(host, model, schema, temperature, prompt, sample), video_ref)


def sample_temperature(configured: float, sample: int) -> float:
    """Temperature of answer ``sample`` (0-based) of ``samples=k``: the first is asked exactly
    as ``samples=1`` asks (so it is the same cached answer), the others at least at
    :data:`SAMPLE_TEMPERATURE`, so that they can differ (v1.3 ``/analyze`` has no seed)."""
    return configured if sample == 0 else max(configured, SAMPLE_TEMPERATURE)


@dataclass(frozen=True)
class _Plan:
    """What every video sends for one chunk of classes (prompt, schema, key prefix), built once."""

    prompt: str
    response_format: Dict[str, Any]
    key_prefix: str


@dataclass
class _Chunk:
    """What one chunk of classes produced for one video."""

    parsed: Optional[ParsedAnswer] = None
    problem: Optional[str] = None
    stage: str = "analyze"
    calls: int = 0
    cached: bool = False


@dataclass
class _VideoOutcome:
    video_id: str
    item: Optional[VideoBody]
    failure: Optional[VideoFailure]
    status: ProgressStatus
    calls: int = 0


class _Asked:
    """One video's answers so far: parsed parts per sample (a part per chunk), problems, calls."""

    __slots__ = ("all_cached", "calls", "parts", "problems")

    def __init__(self, samples: int) -> None:
        self.parts: List[List[ParsedAnswer]] = [[] for _ in range(samples)]
        self.problems: List[Tuple[str, str]] = []
        self.calls = 0
        self.all_cached = True

    def answers(self) -> List[Optional[ParsedAnswer]]:
        """One merged answer per sample (None: nothing readable, or not asked)."""
        return merge_samples(self.parts)


@dataclass
class _Run:
    """What every step of one run shares."""

    client: V13Client
    gate: RateGate
    stats: RunStats
    options: Optional[RequestOptions]
    picker: ModelPicker
    schemas: SchemaBook
    strategy: str
    tasks: TaskRunner
    batches: Optional[BatchRunner]
    chunks: Dict[Tuple[str, bool], List[Tuple[ClassSpec, ...]]] = field(default_factory=dict)
    too_long: Set[str] = field(default_factory=set)
    """Videos sync ``/analyze`` refused for their length in this run: asked through tasks."""


@dataclass
class _Work:
    """One run's shared queue and results: what its workers take videos from and report to."""

    run: _Run
    request: ClassifyRequest
    resolver: Resolver
    resolved: Resolved
    queue: Iterator[str]  # shared by the workers: each video is taken once
    deferred: List[str] = field(default_factory=list)  # videos another worker was paying for
    kept: _Kept = field(default_factory=lambda: _Kept())
    done: int = 0


class _Kept:
    """What a run keeps of each finished video until its result is stored: the v1.2 item as
    compact JSON with its sort key, and the failure if any — not the outcome's objects. A
    mapped item as dicts is several times its JSON; 100,000 of them were most of a run's
    growth with N."""

    __slots__ = ("failures", "items")

    def __init__(self) -> None:
        self.items: Dict[str, Tuple[Tuple[Any, ...], str]] = {}
        self.failures: Dict[str, VideoFailure] = {}

    def add(self, outcome: _VideoOutcome) -> None:
        vid = outcome.video_id
        if outcome.item is not None:
            self.items[vid] = (video_sort_key(outcome.item), _item_json(outcome.item))
        else:
            self.items.pop(vid, None)
        if outcome.failure is not None:
            self.failures[vid] = outcome.failure
        else:
            self.failures.pop(vid, None)


def _item_json(item: VideoBody) -> str:
    return json.dumps(item, separators=(",", ":"), ensure_ascii=False)


class _LazyPages(Sequence[List[VideoBody]]):
    """A result's pages over the ordered item texts, each page decoded when it is read: the
    store writes them one at a time, so the whole result never exists as objects at once."""

    def __init__(self, texts: List[str], limit: int) -> None:
        self._texts = texts
        self._limit = limit

    def __len__(self) -> int:
        return max(1, -(-len(self._texts) // self._limit))

    @overload
    def __getitem__(self, index: int) -> List[VideoBody]: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[List[VideoBody]]: ...

    def __getitem__(self, index: Union[int, slice]) -> Union[List[VideoBody], Sequence[List[VideoBody]]]:
        if isinstance(index, slice):
            return [self[n] for n in range(*index.indices(len(self)))]
        n = index + len(self) if index < 0 else index
        if not 0 <= n < len(self):
            raise IndexError(index)
        start = n * self._limit
        return [json.loads(t) for t in self._texts[start:start + self._limit]]


@dataclass
class RunStats:
    """Counts of one run, for logs and tests (``Core.last_run``)."""

    videos: int = 0
    analyze_calls: int = 0
    task_creates: int = 0
    task_resumed: int = 0
    task_polls: int = 0
    batch_creates: int = 0
    batch_resumed: int = 0
    batch_items: int = 0
    batch_resubmitted: int = 0
    batch_waited_429: int = 0
    long_via_tasks: int = 0
    """Videos over sync ``/analyze``'s 1 hour routed to ``/analyze/tasks`` (also with ``strategy="sync"``;
    counted whether or not their answer was cached)."""
    strategy: str = "sync"
    samples: int = 1
    """Answers asked per video and question (``samples=k``; with ``samples="auto:K"`` the most
    asked); every one is a model call."""
    adaptive: bool = False
    """``samples="auto[:K]"``: one answer first, more only for close calls."""
    resampled: int = 0
    """Videos that got more than their first answer (``samples="auto"``)."""
    template: str = PROMPT_TEMPLATE_VERSION
    """Prompt template version the answers come from (what a calibration profile is keyed by)."""
    models: List[str] = field(default_factory=list)
    model_switches: List[str] = field(default_factory=list)
    cached_chunks: int = 0
    failures: int = 0
    rate_limited: int = 0
    metadata_calls: int = 0
    claim_waits: int = 0
    deferred: int = 0
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass
class CostEstimate:
    """What a run would pay (``Core.estimate``): questions to the model, and how many of them
    the store already answers (those cost nothing)."""

    videos: int = 0
    questions: int = 0
    """Model calls the run needs before retries: chunks x videos x ``samples``. With
    ``samples="auto"`` the first answers, and the further ones their stored answers call for."""
    cached: int = 0
    at_most: int = 0
    """``samples="auto"``: further questions that may be asked, depending on answers not yet
    stored (each costs only where that answer turns out to be a close call)."""
    strategy: str = "sync"
    samples: int = 1
    models: List[str] = field(default_factory=list)
    unreadable: List[str] = field(default_factory=list)
    """Videos whose record could not be read (the run would report them as failures)."""

    @property
    def to_pay(self) -> int:
        return self.questions - self.cached


class _Busy(Exception):
    """Internal: another worker holds the claim on this video's answer (try it later)."""

    def __init__(self, video_id: str) -> None:
        super().__init__(video_id)
        self.video_id = video_id


def _describe(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]


def exact_segments(record: VideoRecord, request: ClassifyRequest) -> Dict[str, List[Segment]]:
    """The transcript matches of the request's ``exact_match`` classes (judged without the model)."""
    transcript = record.transcript_dicts()
    return {spec.name: exact_match_segments(transcript, spec) for spec in request.classes if needs_exact_match(spec)}


def answers_per_video(config: ClientConfig) -> str:
    """For the run's first log line: ``3``, or ``1 to 5`` with ``samples="auto:5"``."""
    return f"1 to {config.samples}" if config.adaptive_samples else str(config.samples)


def template_version(strategy: str) -> str:
    """The prompt template a run's answers come from (what a calibration profile is keyed by)."""
    return SEGMENTS_TEMPLATE_VERSION if strategy == "segments" else PROMPT_TEMPLATE_VERSION


def warn_calibration(config: ClientConfig, stats: RunStats, request: ClassifyRequest, warned: Set[str]) -> None:
    """One ``CalibrationWarning`` per client and reason when the profile does not fit the call."""
    profile = config.calibration
    if profile is None:
        return
    problem = profile.mismatch(stats.models, template_version(stats.strategy), [c.name for c in request.classes],
                               request.threshold, samples_value(stats.samples, stats.adaptive))
    if problem is None or problem in warned:
        return
    warned.add(problem)
    from classify_shim._warnings import CalibrationWarning, user_stacklevel

    warnings.warn(
        f"calibration profile {profile.source or '(given)'} does not match this request: {problem}. "
        "It is applied anyway; fit one for this request with classify-shim calibrate.",
        CalibrationWarning,
        stacklevel=user_stacklevel(),
    )


def warn_partial(failures: Sequence[VideoFailure], total: int) -> None:
    """One ``PartialResultWarning`` per classify call that could not classify every video."""
    if not failures:
        return
    from classify_shim._warnings import PartialResultWarning, user_stacklevel

    shown = ", ".join(f"{f.video_id} ({f.stage})" for f in failures[:5])
    more = f" and {len(failures) - 5} more" if len(failures) > 5 else ""
    warnings.warn(
        f"{len(failures)} of {total} video(s) could not be fully classified by Pegasus: {shown}{more}. "
        "They are listed in result.errors; the other videos are complete.",
        PartialResultWarning,
        stacklevel=user_stacklevel(),
    )


class Core:
    """State shared by the sync and async Pegasus backends: config, store, result pages."""

    def __init__(self, config: ClientConfig, store: Optional[Store] = None) -> None:
        self.config = config
        self.store: Store = store if store is not None else open_store(config)
        self.scope = f"{config.host}|{key_fingerprint(config.api_key)}"
        self.owner = new_owner()  # this client's name on the claims it holds
        self._sleep = asyncio.sleep
        self.last_run: Optional[RunStats] = None
        self._plans: Dict[Tuple[Any, ...], _Plan] = {}
        self._parsed: Dict[Tuple[str, str, Tuple[ClassSpec, ...], float], ParsedAnswer] = {}
        self._failure_lists: Dict[str, Tuple[List[FailureRecord], List[VideoFailure]]] = {}
        self.calibration_warned: Set[str] = set()

    def _plan(self, kind: str, level: str, model: str, chunk: Tuple[ClassSpec, ...], sample: int = 0) -> _Plan:
        """Memoised per (kind, level, model, temperature, chunk, sample): building the prompt, the
        schema and the key material per video cost ≈ 1 ms of CPU at 50 classes."""
        temperature = sample_temperature(self.config.temperature, sample)
        memo = (kind, level, model, temperature, chunk, sample)
        plan = self._plans.get(memo)
        if plan is None:
            if kind == "segments":
                response_format = build_segment_format(chunk, level)
                prompt = SEGMENTS_TEMPLATE_VERSION
            else:
                prompt = build_prompt(chunk)
                response_format = build_response_format(chunk, level)
            plan = _Plan(prompt, response_format,
                         _key_prefix(self.config.host, model, response_format, temperature, prompt, sample))
            if len(self._plans) >= 64:
                self._plans.clear()
            self._plans[memo] = plan
        return plan

    # ------------------------------------------------------------------ pages

    def _page_from(
        self, result_id: str, header: ResultHeader, items: List[VideoBody], page: int
    ) -> BackendPage:
        limit = header.page_limit
        expires_at = header.expires_at
        pages = max(1, header.pages)
        if not 0 <= page < pages:
            raise ClassifyValidationError("page_token", f"points to page {page + 1} of a {pages}-page result")
        key = self.config.api_key
        body: PageBody = {
            "data": items,
            "page_info": {
                "limit_per_page": limit,
                "total_results": header.total_results,
                "page_expired_at": rfc3339(expires_at),
                "next_page_token": make_token(key, result_id, page + 1, expires_at) if page + 1 < pages else "",
                "prev_page_token": make_token(key, result_id, page - 1, expires_at) if page > 0 else "",
            },
        }
        return BackendPage(body=body, backend=BACKEND_NAME, errors=self._failures(result_id, header))

    def _failures(self, result_id: str, header: ResultHeader) -> List[VideoFailure]:
        """The result's error list as ``VideoFailure``s, built once per stored header: the store
        hands out the same decoded header for every page of a result (``HeaderMemo``), so a page
        costs O(page), not O(failed videos). The list is shared by the pages: never changed
        (``ClassifyPageResult`` copies it, and skips merging the same list again)."""
        if not header.errors:
            return []
        memo = self._failure_lists.get(result_id)
        if memo is not None and memo[0] is header.errors:
            return memo[1]
        failures = [VideoFailure(**e) for e in header.errors]
        if len(self._failure_lists) >= 8:
            self._failure_lists.clear()
        self._failure_lists[result_id] = (header.errors, failures)
        return failures

    def page(self, token: str) -> BackendPage:
        """A stored page: signature and expiry checked, no network call of any kind."""
        ref = read_token(self.config.api_key, token)
        stored = self.store.get_page(ref.result_id, self.scope, ref.page)
        if stored is None:
            where = (
                "the cache is off, so pages live only in the process (client) that made them"
                if not self.store.persistent
                else "the cache no longer holds it"
            )
            raise ClassifyValidationError(
                "page_token", f"points to a result that is not available ({where}); run the classify call again"
            )
        return self._page_from(ref.result_id, stored[0], stored[1], ref.page)

    # ------------------------------------------------------------------ one question

    def _video_ref(self, body: Mapping[str, Any]) -> Dict[str, Any]:
        if "video" in body:
            return dict(body["video"])
        return {"video_id": body.get("video_id")}

    @staticmethod
    def _mode(run: _Run, model: str, record: VideoRecord) -> str:
        """How this video's questions travel: ``sync`` (``/analyze``), ``segments`` (a task),
        ``batch``, or ``task`` (the ``/analyze`` question as a general task). Tasks with segments
        and batches take Pegasus 1.5+ by asset id only; other videos of such a run go to
        ``/analyze`` — except a video longer than sync ``/analyze`` takes (over
        :data:`SYNC_MAX_DURATION_S`, or refused for its length in this run), which is a task
        whatever the strategy, ``sync`` included: sending it to ``/analyze`` could only fail."""
        spec = model_spec(model)
        if run.strategy == "segments" and spec.segments and record.asset_id:
            return "segments"
        if run.strategy == "batch" and spec.batches and record.asset_id:
            return "batch"
        if Core._task_instead(run, model, record):
            return "task"
        return "sync"

    @staticmethod
    def _task_instead(run: _Run, model: str, record: VideoRecord) -> bool:
        """A video too long for sync ``/analyze`` that ``model`` can take as a task (1.5+ by asset id)."""
        long = record.duration > SYNC_MAX_DURATION_S or record.video_id in run.too_long
        spec = model_spec(model)
        return long and spec.tasks and spec.video_ref == "asset_id" and bool(record.asset_id)

    def _question(
        self, schemas: SchemaBook, record: VideoRecord, chunk: Tuple[ClassSpec, ...], model: str, mode: str,
        max_tokens: int, sample: int = 0,
    ) -> Tuple[Dict[str, Any], str]:
        """The request body and its answer-cache key (identical questions share answers)."""
        kind = "segments" if mode == "segments" else "general"
        level = schemas.level(model, kind)
        temperature = sample_temperature(self.config.temperature, sample)
        plan = self._plan(kind, level, model, chunk, sample)
        if kind == "segments":
            body: Dict[str, Any] = {"model_name": model, **video_reference(model, record),
                                    "analysis_mode": "time_based_metadata",
                                    "response_format": dict(plan.response_format),
                                    "temperature": temperature, "max_tokens": int(max_tokens)}
        else:
            body = build_analyze_body(model, record, plan.prompt, plan.response_format, temperature, max_tokens)
        return body, _keyed(plan.key_prefix, self._video_ref(body))

    @staticmethod
    def _budget(chunk: Tuple[ClassSpec, ...], model: str, mode: str, duration: float) -> int:
        budget = max_tokens_for(chunk, model, duration)
        spec = model_spec(model)
        if mode == "segments" and spec.segment_max_tokens is not None:
            low, high = spec.segment_max_tokens
            return int(min(high, max(low, budget)))
        return budget

    @staticmethod
    def _bigger(budget: int, model: str, mode: str) -> int:
        spec = model_spec(model)
        if mode == "segments" and spec.segment_max_tokens is not None:
            low, high = spec.segment_max_tokens
            return int(min(high, max(low, budget * 2)))
        return bigger_budget(budget, model)

    async def _send(
        self, run: _Run, mode: str, body: Mapping[str, Any], key: str, record: VideoRecord, max_tokens: int
    ) -> TaskAnswer:
        label = f"video {record.video_id}"
        if mode == "segments":
            return await run.tasks.run(body, item_key(key, max_tokens), label)
        if mode == "task":  # the same question; a task body has no "stream"
            task_body = {k: v for k, v in body.items() if k != "stream"}
            return await run.tasks.run(task_body, item_key(key, max_tokens), label)
        if mode == "batch":
            assert run.batches is not None
            ikey = item_key(key, max_tokens)
            run.stats.batch_items += 1
            return await run.batches.ask(ikey, batch_item(body, ikey), record.duration)
        run.stats.analyze_calls += 1
        answer = await run.gate.run(lambda: run.client.analyze(body, run.options), f"analyze {record.video_id}")
        return TaskAnswer(answer.data, answer.finish_reason, answer.output_tokens, answer.generation_id)

    async def _call(
        self, run: _Run, record: VideoRecord, chunk: Tuple[ClassSpec, ...], model: str, max_tokens: int,
        sample: int = 0,
    ) -> Union[ParsedAnswer, AnswerError]:
        """One question (through the gate / a task / a batch); a complete answer is cached.
        A rejected schema feature is asked again once with the fallback schema (``_schema``); a
        sync call refused for the video's length is asked again once as a task."""
        mode = self._mode(run, model, record)
        kind = "segments" if mode == "segments" else "general"
        fell_back = False
        while True:
            body, key = self._question(run.schemas, record, chunk, model, mode, max_tokens, sample)
            try:
                answer = await self._send(run, mode, body, key, record, max_tokens)
            except APIStatusError as exc:
                if mode == "sync" and is_too_long(exc):
                    first = record.video_id not in run.too_long  # other samples may be refused at once
                    run.too_long.add(record.video_id)
                    if self._task_instead(run, model, record):
                        if first:
                            run.stats.long_via_tasks += 1
                            log.info("video %s (%.0f s): /analyze refused it for its length (%s); asking it "
                                     "through /analyze/tasks", record.video_id, record.duration, _describe(exc))
                        mode = "task"
                        continue
                if not fell_back and run.schemas.fall_back(model, exc, kind):
                    fell_back = True
                    continue
                raise
            break
        if model not in run.stats.models:
            run.stats.models.append(model)
        if answer.data is None:
            kind_err = "truncated" if answer.finish_reason == "length" else "invalid"
            return AnswerError(kind_err, "the answer has no text in 'data'")
        reason = answer.finish_reason or "stop"
        try:
            if mode == "segments":
                parsed = parse_segments(answer.data, classes=chunk, duration=record.duration, finish_reason=reason)
            elif len(answer.data) > PARSE_INLINE_CHARS:
                # A long answer is parsed off the event loop: other videos' I/O keeps flowing.
                text = answer.data
                parsed = await asyncio.to_thread(
                    lambda: parse_answer(text, classes=chunk, duration=record.duration, finish_reason=reason)
                )
            else:
                parsed = parse_answer(answer.data, classes=chunk, duration=record.duration, finish_reason=reason)
        except AnswerError as exc:
            log.info("video %s: %s answer (%s)", record.video_id, exc.kind, exc.message)
            return exc
        if parsed.notes and log.isEnabledFor(logging.INFO):  # what was repaired or dropped, traceable
            log.info("video %s: answer read with %d repair(s): %s", record.video_id, len(parsed.notes),
                     "; ".join(parsed.notes))
        value = {
            "data": answer.data,
            "finish_reason": reason,
            "model": model,
            "mode": kind,
            "generation_id": answer.generation_id,
            "output_tokens": answer.output_tokens,
        }
        await offload(self.store, lambda: self.store.put_answer(key, value))
        return parsed

    def _key(self, run: _Run, record: VideoRecord, chunk: Tuple[ClassSpec, ...], model: str, sample: int = 0) -> str:
        return self._question(run.schemas, record, chunk, model, self._mode(run, model, record), 1, sample)[1]

    async def _cached(
        self, run: _Run, record: VideoRecord, chunk: Tuple[ClassSpec, ...], model: str, key: str
    ) -> Optional[ParsedAnswer]:
        hit = await offload(self.store, lambda: self.store.get_answer(key))
        return self.read_cached(hit, self._mode(run, model, record), record, chunk)

    def read_cached(
        self, hit: Optional[Mapping[str, Any]], mode: str, record: VideoRecord, chunk: Tuple[ClassSpec, ...]
    ) -> Optional[ParsedAnswer]:
        """A stored answer, parsed; None when there is none or it no longer reads.

        Parsing is a pure function of the text, the classes and the duration, and its result is
        immutable (frozen models), so it is memoised on exactly those: a repeated call reads
        the same stored answers again (≈ 40 % of an all-cached call's CPU was re-parsing)."""
        if hit is None or not isinstance(hit.get("data"), str):
            return None
        text: str = hit["data"]
        memo = (mode, text, chunk, record.duration)
        parsed = self._parsed.get(memo)
        if parsed is not None:
            return parsed
        try:
            if mode == "segments":
                parsed = parse_segments(text, classes=chunk, duration=record.duration, finish_reason="stop")
            else:
                parsed = parse_answer(text, classes=chunk, duration=record.duration, finish_reason="stop")
        except AnswerError:
            return None  # a parser change made it unreadable: ask again
        if len(self._parsed) >= PARSED_MEMO_SIZE:
            self._parsed.clear()
        self._parsed[memo] = parsed
        return parsed

    async def _chunk(
        self, run: _Run, record: VideoRecord, chunk: Tuple[ClassSpec, ...], model: str, wait: bool = True,
        sample: int = 0,
    ) -> _Chunk:
        """Answer for one chunk: from the store, or paid for once under a claim.

        Whoever claims the answer key pays; everyone else (another worker, thread, process or
        machine on the same store) waits for the answer to appear — or, with ``wait=False``,
        raises :class:`_Busy` so the run can do other videos first."""
        try:
            key = self._key(run, record, chunk, model, sample)
        except TwelveLabsError as exc:  # no asset id for a 1.5+ model
            return _Chunk(problem=str(exc), stage="metadata")
        hit = await self._cached(run, record, chunk, model, key)
        if hit is None:
            hit = await self._claim_or_wait(run, key, record, chunk, model, wait)
        if hit is not None:
            run.stats.cached_chunks += 1
            return _Chunk(parsed=hit, cached=True)
        renewer = asyncio.ensure_future(self._keep_claim(key))
        try:
            return await self._ask(run, record, chunk, model, sample)
        finally:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)
            await offload(self.store, lambda: self.store.release_claim(key, self.owner))

    async def _claim_or_wait(
        self, run: _Run, key: str, record: VideoRecord, chunk: Tuple[ClassSpec, ...], model: str, wait: bool
    ) -> Optional[ParsedAnswer]:
        """None once this run holds the claim on ``key`` (it pays); the answer if another
        holder delivered it meanwhile. Polls the store with backoff while someone else pays."""
        delay = CLAIM_POLL_FIRST_S
        waited = False
        while True:
            if await offload(self.store, lambda: self.store.claim(key, self.owner, CLAIM_TTL_S)):
                # The holder may have stored the answer and released just before we claimed.
                hit = await self._cached(run, record, chunk, model, key)
                if hit is not None:
                    await offload(self.store, lambda: self.store.release_claim(key, self.owner))
                return hit
            if not wait:
                raise _Busy(record.video_id)
            if not waited:
                waited = True
                run.stats.claim_waits += 1
                log.info("video %s: another worker is paying for this answer; waiting for it", record.video_id)
            await self._sleep(delay)
            delay = min(CLAIM_POLL_MAX_S, delay * 1.5)
            hit = await self._cached(run, record, chunk, model, key)
            if hit is not None:
                return hit

    async def _keep_claim(self, key: str) -> None:
        """Renew the claim while the call is in flight, so only a dead holder's claim lapses."""
        while True:
            await self._sleep(CLAIM_TTL_S / 3)
            await offload(self.store, lambda: self.store.renew_claim(key, self.owner, CLAIM_TTL_S))

    async def _ask(
        self, run: _Run, record: VideoRecord, chunk: Tuple[ClassSpec, ...], model: str, sample: int = 0
    ) -> _Chunk:
        """One question, at most one retry (bigger budget or halves)."""
        mode = self._mode(run, model, record)
        budget = self._budget(chunk, model, mode, record.duration)
        first = await self._call(run, record, chunk, model, budget, sample)
        if isinstance(first, ParsedAnswer):
            return _Chunk(parsed=first, calls=1)
        if first.kind == "truncated":
            bigger = self._bigger(budget, model, mode)
            if bigger > budget:
                second = await self._call(run, record, chunk, model, bigger, sample)
                if isinstance(second, ParsedAnswer):
                    return _Chunk(parsed=second, calls=2)
                return self._gave_up(first, second, chunk, 2, f"max_tokens {budget}, then {bigger}")
            if len(chunk) > 1:
                return await self._halves(run, record, chunk, model, first, sample)
            return self._gave_up(first, None, chunk, 1, f"max_tokens {budget} is the model's maximum")
        second = await self._call(run, record, chunk, model, budget, sample)
        if isinstance(second, ParsedAnswer):
            return _Chunk(parsed=second, calls=2)
        return self._gave_up(first, second, chunk, 2, "asked twice")

    async def _halves(
        self, run: _Run, record: VideoRecord, chunk: Tuple[ClassSpec, ...], model: str, first: AnswerError,
        sample: int = 0,
    ) -> _Chunk:
        """The retry of a chunk truncated at the maximum budget: its classes in two calls."""
        mode = self._mode(run, model, record)
        middle = len(chunk) // 2
        parts: List[ParsedAnswer] = []
        problems: List[str] = []
        for half in (chunk[:middle], chunk[middle:]):
            got = await self._call(run, record, half, model, self._budget(half, model, mode, record.duration), sample)
            if isinstance(got, ParsedAnswer):
                parts.append(got)
            else:
                if got.partial is not None:
                    parts.append(got.partial)
                names = ", ".join(c.name for c in half)
                problems.append(f"{got.kind} answer for {names} ({got.message})")
        merged = merge_answers(parts) if parts else None
        if not problems:
            return _Chunk(parsed=merged, calls=3)
        return _Chunk(
            parsed=merged,
            problem=f"answer truncated at the maximum budget, then split in two: {'; '.join(problems)}",
            stage="parse",
            calls=3,
        )

    @staticmethod
    def _gave_up(
        first: AnswerError, second: Optional[AnswerError], chunk: Sequence[ClassSpec], calls: int, how: str
    ) -> _Chunk:
        last = second or first
        partial = last.partial or first.partial
        if partial is not None:
            unanswered = [c.name for c in chunk if not (c.name in partial.classes and partial.classes[c.name].answered)]
            lost = f"; no answer for: {', '.join(unanswered)}" if unanswered else ""
        else:
            lost = "; nothing readable"
        kind = "truncated" if last.kind == "truncated" else "unreadable"
        return _Chunk(
            parsed=partial,
            problem=f"model answer {kind} ({how}): {last.message}{lost}",
            stage="parse",
            calls=calls,
        )

    # ------------------------------------------------------------------ one video

    def _chunks(self, run: _Run, request: ClassifyRequest, model: str, record: VideoRecord
                ) -> List[Tuple[ClassSpec, ...]]:
        mode = self._mode(run, model, record)
        memo = (model, mode == "segments")
        if memo not in run.chunks:
            if mode == "segments":
                run.chunks[memo] = plan_segment_chunks(request.classes, model_spec(model))
            else:
                run.chunks[memo] = plan_chunks(request.classes, model)
        return run.chunks[memo]

    async def _samples(
        self, run: _Run, record: VideoRecord, chunk: Tuple[ClassSpec, ...], model: str, wait: bool,
        which: Sequence[int],
    ) -> List[Union[_Chunk, BaseException]]:
        """Answers ``which`` (0-based sample numbers) to one chunk, asked together (each under
        its own key and claim); an exception that only fails this video is returned in its
        sample's place."""
        got: List[Union[_Chunk, BaseException]]
        if len(which) == 1:
            try:
                got = [await self._chunk(run, record, chunk, model, wait, which[0])]
            except (AuthenticationError, asyncio.CancelledError, _Busy):
                raise
            except Exception as exc:
                got = [exc]
        else:
            # A batch sends its questions once every live asker waits: while the samples are
            # out, they are this worker's askers (one fewer as each one ends).
            batches = run.batches

            async def one(sample: int) -> _Chunk:
                try:
                    return await self._chunk(run, record, chunk, model, wait, sample)
                finally:
                    if batches is not None:
                        batches.worker_done()

            if batches is not None:
                batches.add_workers(len(which) - 1)
            try:
                got = list(await asyncio.gather(*(one(s) for s in which), return_exceptions=True))
            finally:
                if batches is not None:
                    batches.add_workers(1)
        for fatal in (AuthenticationError, asyncio.CancelledError, _Busy):
            for g in got:
                if isinstance(g, fatal):
                    raise g
        return got

    async def _round(
        self, run: _Run, record: VideoRecord, chunks: Sequence[Tuple[ClassSpec, ...]], model: str, wait: bool,
        which: Sequence[int], asked: _Asked, may_switch: bool,
    ) -> Optional[str]:
        """Answers ``which`` to every chunk, into ``asked``; the model to switch to when this
        one refused the video (then nothing of the round is kept)."""
        k = self.config.samples
        for chunk in chunks:
            for sample, got in zip(which, await self._samples(run, record, chunk, model, wait, which)):
                where = f"answer {sample + 1} of {k}: " if k > 1 else ""
                if isinstance(got, (APIError, JobFailed)):
                    asked.calls += 1
                    alt = run.picker.after_error(model, record, got) if may_switch else None
                    if alt is not None and alt != model:
                        return alt
                    if isinstance(got, APIError) and is_not_found(got):
                        # deleted since we cached it: resolve it afresh next time
                        await offload(self.store, lambda: self.store.forget_video(self.scope, record.video_id))
                    asked.problems.append(("analyze", where + _describe(got)))
                    asked.all_cached = False
                    continue
                if isinstance(got, BaseException):
                    raise got
                asked.calls += got.calls
                asked.all_cached = asked.all_cached and got.cached
                if got.parsed is not None:
                    asked.parts[sample].append(got.parsed)
                if got.problem is not None:
                    asked.problems.append((got.stage, where + got.problem))
        return None

    async def _video(
        self, run: _Run, record: VideoRecord, request: ClassifyRequest, wait: bool = True
    ) -> _VideoOutcome:
        exact = exact_segments(record, request)
        model = run.picker.model_for(record)
        if record.duration > SYNC_MAX_DURATION_S and self._mode(run, model, record) == "task":
            run.stats.long_via_tasks += 1
            log.info("video %s is %.0f s, over /analyze's %.0f s: asked through /analyze/tasks (strategy %s)",
                     record.video_id, record.duration, SYNC_MAX_DURATION_S, run.strategy)
        k = self.config.samples
        rounds = answer_rounds(k, self.config.adaptive_samples)
        switched = False
        while True:
            chunks = self._chunks(run, request, model, record)
            asked = _Asked(k)
            switch_to = await self._round(run, record, chunks, model, wait, range(rounds[0]), asked, not switched)
            if switch_to is None:
                break
            log.info("video %s: %s refused; asking %s", record.video_id, model, switch_to)
            model, switched = switch_to, True
        have = rounds[0]
        for upto in rounds[1:]:  # samples="auto": more answers while a decision is close
            close = undecided(asked.answers()[:have], exact, record.duration, request, self.config.calibration)
            if not close:
                break
            log.info("video %s: close call for %s with %d answer(s); asking %d more",
                     record.video_id, ", ".join(close), have, upto - have)
            await self._round(run, record, chunks, model, wait, range(have, upto), asked, False)
            have = upto
        if have > rounds[0]:
            run.stats.resampled += 1
        problems, calls, all_cached = asked.problems, asked.calls, asked.all_cached
        failure: Optional[VideoFailure] = None
        answers = asked.answers()[:have]
        if problems:
            if any(a is not None for a in answers):
                kept = " (the classes that were answered are used)"
            elif exact:
                kept = " (only the exact_match classes were judged)"
            else:
                kept = " (no class could be judged; the video is left out of the result)"
            failure = VideoFailure(
                video_id=record.video_id,
                stage=problems[0][0],
                message="; ".join(p for _, p in problems) + kept,
                attempts=max(1, calls),
            )
        item: Optional[VideoBody] = None
        if any(a is not None for a in answers) or not chunks or exact:
            item = map_video_samples(record.video_id, record.duration, answers, exact, request,
                                     self.config.calibration)
        status: ProgressStatus
        if failure is not None:
            status = "failed"
        elif not chunks:
            status = "exact_match"
        else:
            status = "cached" if all_cached else "analyzed"
        return _VideoOutcome(record.video_id, item, failure, status, calls)

    # ------------------------------------------------------------------ what a run would cost

    async def estimate(
        self, request: ClassifyRequest, options: Optional[RequestOptions], http: Union[AsyncHTTP, SyncHTTP]
    ) -> CostEstimate:
        """What :meth:`run` would pay for this request now: videos are placed and their records
        read (v1.3 metadata calls, which cost no model time), every question's answer key is
        looked up in the store, and no ``/analyze`` call, task or batch is made."""
        gate = RateGate.paced(self.config.max_concurrency, self.config.pacing)
        client = V13Client(http, observe=gate.observe_answer)
        resolver = Resolver(client, gate, self.store, self.scope, self.config.index_id, options,
                            needs_transcript=any(needs_exact_match(c) for c in request.classes))
        if request.kind == "videos":
            resolved = await resolver.for_videos(list(request.video_ids or ()))
        else:
            resolved = await resolver.for_index(str(request.index_id))
        needs_model = bool(plan_chunks(request.classes, PEGASUS12))
        strategy = choose_strategy(self.config.strategy, self.config.pegasus_model,
                                   len(resolved.order) if needs_model else 0)
        run = _Run(client=client, gate=gate, stats=RunStats(), options=options,
                   picker=ModelPicker(self.config.pegasus_model, self.store, self.config.host),
                   schemas=SchemaBook(self.store, self.config.host), strategy=strategy,
                   tasks=TaskRunner(client, gate, self.store, self.scope, options), batches=None)
        out = CostEstimate(videos=len(resolved.order), strategy=strategy, samples=self.config.samples)
        for vid in resolved.order:
            record: Union[VideoRecord, Exception]
            if vid in resolved.pending:
                try:
                    record = await resolver.record(resolved.pending[vid], vid)
                except Exception as exc:  # counted, as the run would report it
                    record = exc
            else:
                record = resolved.records.get(vid) or resolved.errors[vid]
            if isinstance(record, Exception):
                out.unreadable.append(vid)
                continue
            model = run.picker.model_for(record)
            if model not in out.models:
                out.models.append(model)
            chunks = self._chunks(run, request, model, record)
            await self._estimate_video(run, record, request, model, chunks, out)
        return out

    async def _estimate_video(
        self, run: _Run, record: VideoRecord, request: ClassifyRequest, model: str,
        chunks: Sequence[Tuple[ClassSpec, ...]], out: CostEstimate,
    ) -> None:
        """One video's questions into ``out``: every sample with ``samples=k``; with
        ``samples="auto"`` round by round while the stored answers show a close call, the
        rounds that depend on answers not yet stored as ``at_most``."""
        k = self.config.samples
        rounds = answer_rounds(k, self.config.adaptive_samples)
        parts: List[List[ParsedAnswer]] = [[] for _ in range(k)]
        complete = True  # every answer asked so far is stored and readable
        have = 0
        for upto in rounds:
            if have:
                if not complete:
                    out.at_most += (k - have) * len(chunks)
                    return
                if not undecided(merge_samples(parts[:have]), exact_segments(record, request), record.duration,
                                 request, self.config.calibration):
                    return
            for chunk in chunks:
                for sample in range(have, upto):
                    out.questions += 1
                    try:
                        key = self._key(run, record, chunk, model, sample)
                    except TwelveLabsError:  # the same for every sample: listed once per chunk
                        if sample == 0:
                            out.unreadable.append(record.video_id)
                        complete = False
                        continue
                    hit = await self._cached(run, record, chunk, model, key)
                    if hit is None:
                        complete = False
                    else:
                        out.cached += 1
                        parts[sample].append(hit)
            have = upto

    # ------------------------------------------------------------------ the run

    async def run(
        self, request: ClassifyRequest, options: Optional[RequestOptions], http: Union[AsyncHTTP, SyncHTTP]
    ) -> Tuple[BackendPage, RunStats]:
        """Page 0 of a new result, and the run's counts: prepare (place the videos, choose the
        strategy), work through every video, save the result's pages."""
        started = time.monotonic()
        work = await self._prepare(request, options, http)
        await self._work_through(work)
        return await self._save(work, started), work.run.stats

    async def _prepare(
        self, request: ClassifyRequest, options: Optional[RequestOptions], http: Union[AsyncHTTP, SyncHTTP]
    ) -> _Work:
        """Where each video is, which strategy and runners the run uses; nothing analysed yet."""
        stats = RunStats()
        self.last_run = stats
        gate = RateGate.paced(self.config.max_concurrency, self.config.pacing)
        client = V13Client(http, observe=gate.observe_answer)
        needs_transcript = any(needs_exact_match(c) for c in request.classes)
        resolver = Resolver(client, gate, self.store, self.scope, self.config.index_id, options,
                            needs_transcript=needs_transcript)
        resolved: Resolved
        if request.kind == "videos":
            resolved = await resolver.for_videos(list(request.video_ids or ()))
        else:
            resolved = await resolver.for_index(str(request.index_id))
        order = resolved.order
        stats.videos = len(order)
        needs_model = bool(plan_chunks(request.classes, PEGASUS12))
        strategy = choose_strategy(self.config.strategy, self.config.pegasus_model, len(order) if needs_model else 0)
        stats.strategy = strategy
        stats.samples = self.config.samples
        stats.adaptive = self.config.adaptive_samples
        stats.template = template_version(strategy)
        picker = ModelPicker(self.config.pegasus_model, self.store, self.config.host)
        batches: Optional[BatchRunner] = None
        if strategy == "batch":
            batch_model = self.config.pegasus_model
            if batch_model.strip().lower() == AUTO_MODEL or not model_spec(batch_model).batches:
                batch_model = PEGASUS15
            batches = BatchRunner(client, self.store, self.scope, batch_model, options)
        tasks = TaskRunner(client, gate, self.store, self.scope, options)
        run = _Run(client=client, gate=gate, stats=stats, options=options, picker=picker,
                   schemas=SchemaBook(self.store, self.config.host), strategy=strategy, tasks=tasks, batches=batches)
        log.info(
            "classifying %d video(s), %d class(es), model %s, strategy %s, %s answer(s) per video, up to %d in flight",
            len(order), len(request.classes), picker.describe(), strategy, answers_per_video(self.config), gate.limit,
        )
        return _Work(run=run, request=request, resolver=resolver, resolved=resolved, queue=iter(order))

    def _report(self, work: _Work, outcome: _VideoOutcome) -> None:
        """One video finished: keep its outcome, log it, tell ``on_progress``."""
        work.done += 1
        work.kept.add(outcome)
        total = len(work.resolved.order)
        log.info("video %s: %s (%d/%d)", outcome.video_id, outcome.status, work.done, total)
        optional_callback(self.config.on_progress, Progress(work.done, total, outcome.video_id, outcome.status))

    async def _load(self, work: _Work, vid: str) -> Union[VideoRecord, Exception]:
        """A video's record: fetched now when placement left it pending, else already known."""
        resolved = work.resolved
        if vid in resolved.pending:
            return await work.resolver.record(resolved.pending[vid], vid)
        return resolved.records.get(vid) or resolved.errors[vid]

    async def _one(self, work: _Work, vid: str, wait: bool) -> _VideoOutcome:
        """One video from record to outcome; any failure but auth/cancel/busy is that video's only."""
        record = await self._load(work, vid)
        if isinstance(record, Exception):
            return _VideoOutcome(vid, None, VideoFailure(vid, "metadata", _describe(record), 1), "failed")
        try:
            return await self._video(work.run, record, work.request, wait)
        except (AuthenticationError, asyncio.CancelledError, _Busy):
            raise
        except Exception as exc:  # one bad video never fails the others
            log.exception("video %s failed unexpectedly", vid)
            return _VideoOutcome(vid, None, VideoFailure(vid, "analyze", _describe(exc)), "failed")

    async def _worker(self, work: _Work) -> None:
        """Take the next video until none is left, then the ones put aside (waiting for them)."""
        batches = work.run.batches
        try:
            for vid in work.queue:  # shared iterator: each video is taken by exactly one worker
                try:
                    self._report(work, await self._one(work, vid, wait=False))
                except _Busy:
                    work.run.stats.deferred += 1
                    work.deferred.append(vid)
            while work.deferred:
                self._report(work, await self._one(work, work.deferred.pop(0), wait=True))
        finally:
            if batches is not None:
                batches.worker_done()

    @staticmethod
    def _pool_width(strategy: str, videos: int, gate: RateGate) -> int:
        """How many workers a run starts.

        A fixed pool of workers, each taking the next video and carrying it from record to
        answer: a video's analysis starts as soon as its own record is in, record fetches
        never queue ahead of every analyze call, and the gate sees a few dozen waiters, not
        one per video. Twice the gate's cap keeps it full while some workers fetch records.
        Segment tasks wait minutes: a wider pool keeps more of them in flight. Batches need
        their questions waiting together: as many workers as the active batches can hold.
        A video whose answer another worker (process, machine) is paying for right now is
        put aside and taken up again, waiting for that answer, once every other video is
        under way: N workers on one store pay once per video and none sits idle.
        """
        if strategy == "batch":
            # Enough waiting questions for every batch that may be active at once, not one
            # worker per video: 100,000 parked workers held ≈ 19 KB each (1.9 GB peak).
            return min(videos, BATCH_MAX_ACTIVE * BATCH_MAX_REQUESTS)
        if strategy == "segments":
            return min(videos, 8 * gate.cap)
        return min(videos, 2 * gate.cap)

    async def _work_through(self, work: _Work) -> None:
        """Every video, by a pool of workers; on any error the others are cancelled."""
        run = work.run
        width = self._pool_width(run.strategy, len(work.resolved.order), run.gate)
        if run.batches is not None:
            run.batches.add_workers(width)
        workers = [asyncio.ensure_future(self._worker(work)) for _ in range(width)]
        try:
            await asyncio.gather(*workers)
        except BaseException:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise
        finally:
            await self._count_calls(work)
        run.stats.rate_limited = run.gate.rate_limited

    async def _count_calls(self, work: _Work) -> None:
        """What the runners spent, into the run's stats (also when the run failed)."""
        run, stats = work.run, work.run.stats
        stats.metadata_calls = work.resolver.calls
        stats.task_creates, stats.task_resumed, stats.task_polls = run.tasks.created, run.tasks.resumed, run.tasks.polls
        batches = run.batches
        if batches is not None:
            await batches.close()
            stats.batch_creates, stats.batch_resumed = batches.created, batches.resumed
            stats.batch_resubmitted, stats.batch_waited_429 = batches.resubmitted, batches.waited_429
        stats.model_switches = list(run.picker.switches)

    async def _save(self, work: _Work, started: float) -> BackendPage:
        """The outcomes in v1.2 order, cut into pages and stored; page 0 goes back."""
        order, kept, stats = work.resolved.order, work.kept, work.run.stats
        failures = [f for v in order if (f := kept.failures.get(v)) is not None]
        keyed = [k for v in order if (k := kept.items.get(v)) is not None]
        kept.items.clear()
        keyed.sort(key=lambda pair: pair[0])  # the order order_videos gives (same key, stable)
        texts = [text for _, text in keyed]
        del keyed
        pages = _LazyPages(texts, work.request.page_limit)
        result_id, header = self._header(order, len(texts), len(pages), failures, stats, work.request.page_limit)
        await offload(self.store, lambda: self.store.put_result(result_id, header, pages))
        return self.saved(result_id, header, pages, stats, started)

    def result_of(
        self, order: Sequence[str], outcomes: Mapping[str, _VideoOutcome], stats: RunStats, limit: int
    ) -> Tuple[str, ResultHeader, List[List[VideoBody]]]:
        """A new result id, its header and its pages: the outcomes in v1.2 order, cut into pages."""
        items = [o.item for v in order if (o := outcomes.get(v)) is not None and o.item is not None]
        failures = [o.failure for v in order if (o := outcomes.get(v)) is not None and o.failure is not None]
        data = order_videos(items)
        pages = [data[start:start + limit] for start in range(0, len(data), limit)] or [[]]
        result_id, header = self._header(order, len(data), len(pages), failures, stats, limit)
        return result_id, header, pages

    def _header(
        self, order: Sequence[str], results: int, pages: int, failures: Sequence[VideoFailure], stats: RunStats,
        limit: int,
    ) -> Tuple[str, ResultHeader]:
        """A new result id and its header."""
        stats.failures = len(failures)
        expires_at = int(time.time() + self.config.page_ttl_s)  # whole seconds, as page_expired_at
        header = ResultHeader(
            scope=self.scope,
            page_limit=limit,
            total_results=results,
            pages=pages,
            expires_at=expires_at,
            errors=[
                FailureRecord(video_id=f.video_id, stage=f.stage, message=f.message, attempts=f.attempts)
                for f in failures
            ],
            total_videos=len(order),
            model=",".join(stats.models) or self.config.pegasus_model,
        )
        return uuid.uuid4().hex, header

    def saved(
        self, result_id: str, header: ResultHeader, pages: Sequence[List[VideoBody]], stats: RunStats, started: float
    ) -> BackendPage:
        """Page 0 of a result just stored (and the run's closing log line)."""
        log.info(
            "classified %d video(s): %d with a passing class, %d failed, %d analyze call(s), %d task(s), "
            "%d batch(es), %d cached answer(s), %d rate-limit pause(s), %.1f s",
            header.total_videos, header.total_results, stats.failures, stats.analyze_calls, stats.task_creates,
            stats.batch_creates, stats.cached_chunks, stats.rate_limited, time.monotonic() - started,
        )
        return self._page_from(result_id, header, list(pages[0]), 0)

    def close(self) -> None:
        self.store.close()
