"""Shadow mode (``classify_backend="shadow"``): serve legacy results, compare Pegasus on the side.

Callers always get the v1.2 (legacy) result, unchanged — the very page the legacy backend
returned. For a sample of calls the Pegasus backend classifies the same request concurrently
(a daemon worker thread for :class:`ShadowBackend`, an asyncio task for
:class:`AsyncShadowBackend`), so the legacy result is never delayed or altered, and Pegasus
errors never reach the caller: they are logged and counted.

* Which calls: ``videos`` and ``index`` (read-only classify calls). ``by_page_token`` goes to
  the legacy backend only — a first page's comparison already covers the request.
* Sampling (``ClientConfig.shadow_sample_rate`` = r, 0-1) is deterministic and counter-based:
  the n-th shadowable call of a client (n = 0, 1, …) is sampled iff ``ceil((n+1)·r) > ceil(n·r)``.
  So the first call is sampled whenever r > 0, and exactly ``ceil(N·r)`` of the first N calls
  are, spread evenly (r = 0.25: calls 0, 4, 8, …). r is rounded to a fraction with a
  denominator of at most 10 000.
* What is compared: :func:`classify_shim._compare.compare_results` per (video, class) on the
  videos the legacy page lists (plus, when the legacy result has one page only, every
  requested video); Pegasus computes all pages, videos it failed on are skipped.
* Where mismatches go: the ``classify_shim.shadow`` logger (INFO per comparison, WARNING per
  mismatching pair and per failed Pegasus run), ``on_mismatch(ClassComparison)`` for each
  mismatching pair (its exceptions are logged and counted, never raised), and the aggregate
  :class:`ShadowReport` (``shadow_report(client)`` or ``backend.report``; ``.to_dict()``).
* Saved legacy results (``shadow_legacy_results=FILES``, read by ``classify_shim._saved``): the
  live v1.2 endpoint is gone, so callers get the Pegasus result and the sampled calls are
  compared with what Classify decided then, on the (video, class) pairs the saved results
  decided on (a saved pass is re-checked against the call's thresholds). Same report.
* ``wait()`` joins pending comparisons (``await backend.wait()`` for async); ``close()`` /
  ``aclose()`` wait too. At most ``MAX_PENDING`` comparisons queue up; past that, sampled
  calls are counted as ``dropped`` instead of piling up work.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import threading
from concurrent.futures import Future
from fractions import Fraction
from typing import Any, Deque, Dict, List, Mapping, Optional, Sequence, Set, Tuple, Union

from classify_shim._backend import (
    AsyncBackend,
    BackendPage,
    SyncBackend,
    VideoFailure,
    load_async_backend,
    load_backend,
)
from classify_shim._bodies import PageBody
from classify_shim._compare import (
    DEFAULT_TOLERANCES,
    ClassComparison,
    MismatchReport,
    ShadowReport,
    Tolerances,
    compare_results,
)
from classify_shim._config import ClientConfig
from classify_shim._events import MismatchCallback
from classify_shim._exceptions import TwelveLabsError
from classify_shim._request import MAX_PAGE_LIMIT, ClassifyRequest
from classify_shim._types import RequestOptions

from .legacy import AsyncLegacyBackend, LegacyBackend

__all__ = [
    "MAX_PENDING",
    "AsyncShadowBackend",
    "Sampler",
    "ShadowBackend",
    "ShadowReport",
    "shadow_backend",
    "shadow_report",
]

logger = logging.getLogger("classify_shim.shadow")

#: Comparisons allowed to wait at once; more sampled calls are dropped (and counted).
MAX_PENDING = 32
#: Safety bound on following Pegasus page tokens for one request.
MAX_PEGASUS_PAGES = 1000


class Sampler:
    """Counter-based deterministic sampler; see the module docstring for the rule."""

    def __init__(self, rate: float) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"sample rate must be from 0 to 1, got {rate!r}")
        fraction = Fraction(rate).limit_denominator(10_000)
        self._p, self._q = fraction.numerator, fraction.denominator
        self._n = 0
        self._lock = threading.Lock()

    def _ceil(self, n: int) -> int:
        return -(-n * self._p // self._q)

    def __call__(self) -> bool:
        with self._lock:
            n = self._n
            self._n += 1
        return self._ceil(n + 1) > self._ceil(n)


def _next_token(body: PageBody) -> Optional[str]:
    info = body.get("page_info")
    token = info.get("next_page_token") if isinstance(info, dict) else None
    return token if isinstance(token, str) and token else None


def _full_request(request: ClassifyRequest) -> ClassifyRequest:
    """The same request with the largest page, so Pegasus's whole result takes few pages."""
    return dataclasses.replace(request, page_limit=MAX_PAGE_LIMIT)


class _Core:
    """Everything both twins share: sampling, bookkeeping, comparing and reporting."""

    def __init__(self, config: ClientConfig, tolerances: Tolerances) -> None:
        self.config = config
        self.sampler = Sampler(config.shadow_sample_rate)
        self.report = ShadowReport(tolerances)
        self.on_mismatch: Optional[MismatchCallback] = config.on_mismatch
        self.pegasus_error: Optional[BaseException] = None  # construction failure, kept
        self.saved = config.shadow_legacy_results  # the legacy side, when it is recordings

    def sample(self) -> bool:
        self.report._bump("calls")
        return self.sampler()

    def pegasus_failed(self, method: str, exc: BaseException) -> None:
        self.report._bump("pegasus_errors", exc)
        logger.warning(
            "shadow %s: the Pegasus run failed (%s: %s); the caller got the legacy result",
            method, type(exc).__name__, exc,
        )
        logger.debug("shadow Pegasus failure", exc_info=exc)

    def internal_error(self, exc: BaseException) -> None:
        self.report._bump("internal_errors", exc)
        logger.error("shadow comparison failed unexpectedly", exc_info=exc)

    def publish(
        self, request: ClassifyRequest, legacy_body: Optional[Mapping[str, Any]], pegasus_body: Mapping[str, Any],
        failures: Sequence[VideoFailure],
    ) -> MismatchReport:
        """Compare and report; ``legacy_body`` None means "the saved results" (``self.saved``)."""
        names = [c.name for c in request.classes]
        scope: Optional[List[str]] = None
        thresholds = None
        if legacy_body is None:
            assert self.saved is not None
            wanted = set(request.video_ids) if request.video_ids is not None else None
            known = set(self.saved.class_names)
            names = [n for n in names if n in known]
            scope = [v for v in self.saved.decided_on(names) if wanted is None or v in wanted]
            legacy_body = self.saved.legacy_body(scope, names)
            thresholds = request.threshold
        info = legacy_body.get("page_info")
        single_page = isinstance(info, dict) and not info.get("next_page_token") and not info.get("prev_page_token")
        if scope is None and single_page and request.video_ids is not None:
            listed = [v.get("video_id") for v in legacy_body.get("data", []) if isinstance(v, dict)]
            scope = [str(v) for v in listed if v] + [v for v in request.video_ids if v not in listed]
        report = compare_results(
            legacy_body,
            pegasus_body,
            thresholds=thresholds,
            class_names=names,
            video_ids=scope,
            skip_videos=[f.video_id for f in failures],
            tolerances=self.report.tolerances,
        )
        self.report._add(report)
        logger.info(
            "shadow %s: %d videos x %d classes compared, %d agree on pass/fail, %d mismatches, %d skipped",
            request.kind, len(report.video_ids), len(report.class_names), report.agreements,
            len(report.mismatches), len(report.skipped_videos),
        )
        for pair in report.mismatches:
            _log_mismatch(pair)
            self._callback(pair)
        return report

    def _callback(self, pair: ClassComparison) -> None:
        if self.on_mismatch is None:
            return
        try:
            self.on_mismatch(pair)
        except Exception as exc:  # a user's hook must never break anything
            self.report._bump("callback_errors", exc)
            logger.warning("shadow on_mismatch callback %r raised %s: %s", self.on_mismatch, type(exc).__name__, exc)


def _fmt(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.3g}"


def _log_mismatch(pair: ClassComparison) -> None:
    logger.warning(
        "shadow mismatch: video %s class %r (%s): legacy pass=%s score=%s ratio=%s; "
        "pegasus pass=%s score=%s ratio=%s; clip IoU=%s",
        pair.video_id, pair.class_name, ",".join(pair.reasons), pair.legacy_pass, _fmt(pair.legacy_score),
        _fmt(pair.legacy_duration_ratio), pair.pegasus_pass, _fmt(pair.pegasus_score),
        _fmt(pair.pegasus_duration_ratio), _fmt(pair.clip_iou),
    )


class _Job:
    __slots__ = ("legacy", "request")

    def __init__(self, request: ClassifyRequest) -> None:
        self.request = request
        # The legacy page once the caller's call returned; None when it raised.
        self.legacy: Future[Optional[BackendPage]] = Future()


class ShadowBackend:
    """Sync shadow backend: legacy serves, Pegasus is compared in a background thread."""

    name = "shadow"

    def __init__(
        self,
        config: ClientConfig,
        *,
        legacy: Optional[SyncBackend] = None,
        pegasus: Optional[SyncBackend] = None,
        tolerances: Tolerances = DEFAULT_TOLERANCES,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._core = _Core(config, tolerances)
        self.max_pending = max_pending  # comparisons queued at most; later sampled calls are dropped
        self._legacy: SyncBackend = legacy if legacy is not None else LegacyBackend(config)
        self._pegasus = pegasus  # built on first sampled call, in the worker thread
        self._cond = threading.Condition()
        self._pending = 0
        self._jobs: Deque[Optional[_Job]] = collections.deque()
        self._worker: Optional[threading.Thread] = None
        self._closed = False

    @property
    def report(self) -> ShadowReport:
        return self._core.report

    @property
    def pending(self) -> int:
        """Comparisons queued or running."""
        return self._pending

    # ------------------------------------------------------------------ backend protocol
    def classify(self, request: ClassifyRequest, options: RequestOptions) -> BackendPage:
        if self._core.saved is not None:  # no live legacy side: Pegasus serves
            served = self._pegasus_backend().classify(request, options)
            job = self._start(request)
            if job is not None:
                job.legacy.set_result(served)
            return served
        job = self._start(request)
        try:
            page = self._legacy.classify(request, options)
        except BaseException:
            if job is not None:
                job.legacy.set_result(None)
            raise
        if job is not None:
            job.legacy.set_result(page)
        return page

    def page(self, token: str, options: RequestOptions) -> BackendPage:
        if self._core.saved is not None:
            return self._pegasus_backend().page(token, options)
        return self._legacy.page(token, options)

    def close(self) -> None:
        """Join pending comparisons, stop the worker, close both backends (idempotent)."""
        with self._cond:
            if self._closed:
                return
        self.wait()
        with self._cond:
            self._closed = True
            self._jobs.append(None)
            self._cond.notify_all()
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join()
        if self._pegasus is not None:
            try:
                self._pegasus.close()
            except Exception as exc:
                logger.debug("closing the shadow Pegasus backend failed: %s", exc)
        self._legacy.close()

    # ------------------------------------------------------------------ shadow API
    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until no comparison is pending; False if ``timeout`` ran out first."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending == 0, timeout)

    # ------------------------------------------------------------------ internals
    def _start(self, request: ClassifyRequest) -> Optional[_Job]:
        if not self._core.sample():
            return None
        with self._cond:
            if self._closed:
                return None
            if self._pending >= self.max_pending:
                self._core.report._bump("dropped")
                logger.debug("shadow: %d comparisons pending, this call is not shadowed", self._pending)
                return None
            self._core.report._bump("sampled")
            job = _Job(request)
            self._pending += 1
            self._jobs.append(job)
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="classify-shim-shadow", daemon=True)
                self._worker.start()
            self._cond.notify_all()
        return job

    def _work(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._jobs))
                job = self._jobs.popleft()
            if job is None:
                return
            try:
                self._run(job)
            except Exception as exc:
                self._core.internal_error(exc)
            finally:
                with self._cond:
                    self._pending -= 1
                    self._cond.notify_all()

    def _pegasus_backend(self) -> SyncBackend:
        if self._pegasus is None:
            if self._core.pegasus_error is not None:
                raise self._core.pegasus_error
            try:
                self._pegasus = load_backend("pegasus", self._core.config)
            except Exception as exc:
                self._core.pegasus_error = exc
                raise
        return self._pegasus

    def _pegasus_result(
        self, request: ClassifyRequest, served: Optional[BackendPage] = None
    ) -> Tuple[Dict[str, Any], List[VideoFailure]]:
        backend = self._pegasus_backend()
        page = served if served is not None else backend.classify(_full_request(request), RequestOptions())
        data: List[Any] = list(page.body.get("data") or [])
        failures = list(page.errors)
        token = _next_token(page.body)
        for _ in range(MAX_PEGASUS_PAGES):
            if token is None:
                break
            page = backend.page(token, RequestOptions())
            data.extend(page.body.get("data") or [])
            failures.extend(page.errors)
            token = _next_token(page.body)
        return {"data": data}, failures

    def _run(self, job: _Job) -> None:
        if self._core.saved is not None:  # the caller's own Pegasus pages, against the recordings
            served = job.legacy.result()
            assert served is not None
            pegasus_body, failures = self._pegasus_result(job.request, served)
            self._core.publish(job.request, None, pegasus_body, failures)
            return
        pegasus_ok = False
        try:
            pegasus_body, failures = self._pegasus_result(job.request)
            pegasus_ok = True
        except Exception as exc:
            self._core.pegasus_failed(job.request.kind, exc)
        legacy_page = job.legacy.result()  # waits for the caller's call to end
        if legacy_page is None:  # counted whatever Pegasus did: the caller saw this error
            self._core.report._bump("legacy_errors")
        if legacy_page is None or not pegasus_ok:
            return
        self._core.publish(job.request, legacy_page.body, pegasus_body, failures)


class AsyncShadowBackend:
    """Async shadow backend: legacy serves, Pegasus is compared in an asyncio task."""

    name = "shadow"

    def __init__(
        self,
        config: ClientConfig,
        *,
        legacy: Optional[AsyncBackend] = None,
        pegasus: Optional[AsyncBackend] = None,
        tolerances: Tolerances = DEFAULT_TOLERANCES,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._core = _Core(config, tolerances)
        self.max_pending = max_pending  # comparisons in flight at most; later sampled calls are dropped
        self._legacy: AsyncBackend = legacy if legacy is not None else AsyncLegacyBackend(config)
        self._pegasus = pegasus
        self._tasks: Set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def report(self) -> ShadowReport:
        return self._core.report

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def classify(self, request: ClassifyRequest, options: RequestOptions) -> BackendPage:
        if self._core.saved is not None:  # no live legacy side: Pegasus serves
            served = await self._pegasus_backend().classify(request, options)
            pending = self._start(request)
            if pending is not None and not pending.done():
                pending.set_result(served)
            return served
        legacy = self._start(request)
        try:
            page = await self._legacy.classify(request, options)
        except BaseException:
            if legacy is not None and not legacy.done():
                legacy.set_result(None)
            raise
        if legacy is not None and not legacy.done():
            legacy.set_result(page)
        return page

    async def page(self, token: str, options: RequestOptions) -> BackendPage:
        if self._core.saved is not None:
            return await self._pegasus_backend().page(token, options)
        return await self._legacy.page(token, options)

    async def aclose(self) -> None:
        """Await pending comparisons, then close both backends (idempotent)."""
        if self._closed:
            return
        await self.wait()
        self._closed = True
        if self._pegasus is not None:
            try:
                await self._pegasus.aclose()
            except Exception as exc:
                logger.debug("closing the shadow Pegasus backend failed: %s", exc)
        await self._legacy.aclose()

    async def wait(self, timeout: Optional[float] = None) -> bool:
        """Await pending comparison tasks; False if ``timeout`` ran out first."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while self._tasks:
            remaining = None if deadline is None else max(0.0, deadline - loop.time())
            _, pending = await asyncio.wait(set(self._tasks), timeout=remaining)
            if pending and deadline is not None and loop.time() >= deadline:
                return False
        return True

    def _start(self, request: ClassifyRequest) -> Optional[asyncio.Future[Optional[BackendPage]]]:
        if not self._core.sample() or self._closed:
            return None
        if len(self._tasks) >= self.max_pending:
            self._core.report._bump("dropped")
            return None
        self._core.report._bump("sampled")
        loop = asyncio.get_running_loop()
        legacy: asyncio.Future[Optional[BackendPage]] = loop.create_future()
        task = loop.create_task(self._run(request, legacy), name="classify-shim-shadow")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return legacy

    def _pegasus_backend(self) -> AsyncBackend:
        if self._pegasus is None:
            if self._core.pegasus_error is not None:
                raise self._core.pegasus_error
            try:
                self._pegasus = load_async_backend("pegasus", self._core.config)
            except Exception as exc:
                self._core.pegasus_error = exc
                raise
        return self._pegasus

    async def _pegasus_result(
        self, request: ClassifyRequest, served: Optional[BackendPage] = None
    ) -> Tuple[Dict[str, Any], List[VideoFailure]]:
        backend = self._pegasus_backend()
        page = served if served is not None else await backend.classify(_full_request(request), RequestOptions())
        data: List[Any] = list(page.body.get("data") or [])
        failures = list(page.errors)
        token = _next_token(page.body)
        for _ in range(MAX_PEGASUS_PAGES):
            if token is None:
                break
            page = await backend.page(token, RequestOptions())
            data.extend(page.body.get("data") or [])
            failures.extend(page.errors)
            token = _next_token(page.body)
        return {"data": data}, failures

    async def _run(self, request: ClassifyRequest, legacy: asyncio.Future[Optional[BackendPage]]) -> None:
        if self._core.saved is not None:  # the caller's own Pegasus pages, against the recordings
            try:
                served = await legacy
                assert served is not None
                pegasus_body, failures = await self._pegasus_result(request, served)
                self._core.publish(request, None, pegasus_body, failures)
            except Exception as exc:
                self._core.internal_error(exc)
            return
        try:
            pegasus_ok = False
            try:
                pegasus_body, failures = await self._pegasus_result(request)
                pegasus_ok = True
            except Exception as exc:
                self._core.pegasus_failed(request.kind, exc)
            legacy_page = await legacy
            if legacy_page is None:  # counted whatever Pegasus did: the caller saw this error
                self._core.report._bump("legacy_errors")
            if legacy_page is None or not pegasus_ok:
                return
            self._core.publish(request, legacy_page.body, pegasus_body, failures)
        except Exception as exc:
            self._core.internal_error(exc)


def shadow_backend(client: Any) -> Union[ShadowBackend, AsyncShadowBackend]:
    """The shadow backend behind a shim client (or an official client given ``attach``)."""
    backend = getattr(client, "_backend", None)
    if backend is None:
        backend = getattr(getattr(client, "_classify_shim", None), "_backend", None)
    if isinstance(backend, (ShadowBackend, AsyncShadowBackend)):
        return backend
    name = getattr(backend, "name", None)
    raise TwelveLabsError(
        f"this client does not run in shadow mode (its classify backend is {name!r}); "
        f"create it with classify_backend='shadow' or TWELVELABS_CLASSIFY_BACKEND=shadow"
    )


def shadow_report(client: Any) -> ShadowReport:
    """The live aggregate report of a shadow-mode client (call ``wait()`` first for totals)."""
    return shadow_backend(client).report
