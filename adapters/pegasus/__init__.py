"""The ``pegasus`` backend: v1.2 Classify results served from v1.3 ``POST /analyze``.

One model call per video carries every requested class (``_prompt``), answers are parsed and
mapped to v1.2 scores (``_parse``, ``_mapping``), ``exact_match`` is read from the transcript
(``_exact``), and the run is orchestrated in ``_engine``. Results are stored whole, so pages
are served by signed tokens without calling the model again (``classify_shim._tokens``).

Sync and async twins share one engine. The sync backend runs it on one background thread and
event loop per client (``_runner``), so it also works when called from inside a running event
loop (Jupyter, an async web handler); thread, loop and pool end with the client.
"""

from __future__ import annotations

import threading
from typing import Optional, Tuple, Union

from classify_shim._backend import BackendPage
from classify_shim._config import ClientConfig
from classify_shim._http import AsyncHTTP, SyncHTTP
from classify_shim._request import ClassifyRequest, log_merged_classes
from classify_shim._store import Store
from classify_shim._types import RequestOptions

from ._cached import serve_cached
from ._engine import (
    Core,
    CostEstimate,
    Progress,
    RunStats,
    template_version,
    warn_calibration,
    warn_partial,
)
from ._runner import LoopThread
from ._select import warn_model_switches
from ._v13 import MAX_CONCURRENCY, bind_cancel_event

__all__ = [
    "AsyncPegasusBackend",
    "CostEstimate",
    "PegasusBackend",
    "Progress",
    "RunStats",
    "template_version",
]


def _cap(config: ClientConfig) -> int:
    return max(1, min(MAX_CONCURRENCY, config.max_concurrency or MAX_CONCURRENCY))


def _async_http(config: ClientConfig, *, user_client: bool = True) -> AsyncHTTP:
    # Our own pool holds as many connections as the rate gate lets calls be in flight.
    return AsyncHTTP(
        config.v13_base_url,
        config.api_key,
        timeout=config.timeout,
        max_retries=config.max_retries,
        client=config.async_http_client if user_client else None,
        max_connections=_cap(config),
        pacing=config.pacing,
    )


class PegasusBackend:
    """Blocking backend: the engine runs on the client's one background loop (``_runner``),
    with one async connection pool for the client's life. A user ``http_client`` (sync) is
    used from worker threads instead."""

    name = "pegasus"
    # What a calibration profile is keyed by; ``doctor`` reads it through the backend registry.
    template_version = staticmethod(template_version)

    def __init__(self, config: ClientConfig, *, store: Optional[Store] = None) -> None:
        self.config = config
        # Shadow runs never show Pegasus results, so their partial failures are not the caller's news
        # (except against saved results: then Pegasus serves the caller).
        self.warn_partial_results = config.backend != "shadow" or config.shadow_legacy_results is not None
        self._core = Core(config, store)
        self._runner = LoopThread()
        self._http: Optional[AsyncHTTP] = None  # bound to the runner's loop
        self._http_loop: Optional[object] = None
        self._sync_http: Optional[SyncHTTP] = None
        if config.http_client is not None:
            self._sync_http = SyncHTTP(
                config.v13_base_url,
                config.api_key,
                timeout=config.timeout,
                max_retries=config.max_retries,
                client=config.http_client,
                pacing=config.pacing,
            )

    @property
    def last_run(self) -> Optional[RunStats]:
        return self._core.last_run

    def _transport(self) -> Union[AsyncHTTP, SyncHTTP]:
        """The HTTP twin for a run; called on the loop, so the pool is bound to it."""
        if self._sync_http is not None:
            return self._sync_http
        if not self._runner.in_loop_thread():  # a nested run on its own short-lived loop
            return _async_http(self.config, user_client=False)
        loop = self._runner.loop
        if self._http is None or self._http_loop is not loop:  # first run (or first after a fork)
            self._http, self._http_loop = _async_http(self.config, user_client=False), loop
            self._runner.on_close(self._http.aclose)
        return self._http

    def classify(self, request: ClassifyRequest, options: RequestOptions) -> BackendPage:
        log_merged_classes(request)
        core = self._core
        served = serve_cached(core, request)  # every answer stored: no loop, no pool, no thread hop
        if served is not None:
            return self._finish(request, *served)

        cancel = threading.Event()  # set on Ctrl-C: the rate gate then starts no new call

        async def job() -> Tuple[BackendPage, RunStats]:
            bind_cancel_event(cancel)  # this run's task only (a context of its own)
            http = self._transport()
            try:
                return await core.run(request, options, http)
            finally:
                if isinstance(http, AsyncHTTP) and http is not self._http:
                    await http.aclose()

        return self._finish(request, *self._runner.run(job, on_interrupt=cancel.set))

    def _finish(self, request: ClassifyRequest, page: BackendPage, stats: RunStats) -> BackendPage:
        """The run's warnings, in the caller's thread (on the caller's line)."""
        warn_model_switches(stats.model_switches)
        warn_calibration(self.config, stats, request, self._core.calibration_warned)
        if self.warn_partial_results:
            warn_partial(page.errors, stats.videos)
        return page

    def estimate(self, request: ClassifyRequest, options: RequestOptions) -> CostEstimate:
        """What :meth:`classify` would pay for ``request`` now (no model call is made)."""
        core = self._core

        async def job() -> CostEstimate:
            http = self._transport()
            try:
                return await core.estimate(request, options, http)
            finally:
                if isinstance(http, AsyncHTTP) and http is not self._http:
                    await http.aclose()

        return self._runner.run(job)

    def page(self, token: str, options: RequestOptions) -> BackendPage:
        return self._core.page(token)

    def close(self) -> None:
        self._runner.close()
        if self._sync_http is not None:
            self._sync_http.close()
        self._core.close()


class AsyncPegasusBackend:
    """Async backend: one ``AsyncHTTP`` (the user's ``http_client`` if given) for the client's life."""

    name = "pegasus"

    def __init__(self, config: ClientConfig, *, store: Optional[Store] = None) -> None:
        self.config = config
        # Shadow runs never show Pegasus results, so their partial failures are not the caller's news
        # (except against saved results: then Pegasus serves the caller).
        self.warn_partial_results = config.backend != "shadow" or config.shadow_legacy_results is not None
        self._core = Core(config, store)
        self._http = _async_http(config)

    @property
    def last_run(self) -> Optional[RunStats]:
        return self._core.last_run

    async def classify(self, request: ClassifyRequest, options: RequestOptions) -> BackendPage:
        log_merged_classes(request)
        page, stats = await self._core.run(request, options, self._http)
        warn_model_switches(stats.model_switches)
        warn_calibration(self.config, stats, request, self._core.calibration_warned)
        if self.warn_partial_results:
            warn_partial(page.errors, stats.videos)
        return page

    async def estimate(self, request: ClassifyRequest, options: RequestOptions) -> CostEstimate:
        """What :meth:`classify` would pay for ``request`` now (no model call is made)."""
        return await self._core.estimate(request, options, self._http)

    async def page(self, token: str, options: RequestOptions) -> BackendPage:
        return self._core.page(token)

    async def aclose(self) -> None:
        await self._http.aclose()
        self._core.close()
