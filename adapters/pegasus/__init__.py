"""The ``pegasus`` backend: v1.2 Classify results served from v1.3 ``POST /analyze``.

One model call per video carries every requested class (``_prompt``), answers are parsed and
mapped to v1.2 scores (``_parse``, ``_mapping``), ``exact_match`` is read from the transcript
(``_exact``), and the run is orchestrated in ``_engine``. Results are stored whole, so pages
are served by signed tokens without calling the model again (``classify_shim._tokens``).

Sync and async twins share one engine. The sync backend runs it with ``asyncio.run`` in a
short-lived worker thread, so it also works when called from inside a running event loop
(Jupyter, an async web handler); the thread and its loop end with the call.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Awaitable, Callable, Dict, Optional, Tuple, TypeVar

from classify_shim._backend import BackendPage
from classify_shim._config import ClientConfig
from classify_shim._http import AsyncHTTP, SyncHTTP
from classify_shim._request import ClassifyRequest
from classify_shim._store import Store
from classify_shim._types import RequestOptions

from ._engine import Core, Progress, RunStats, user_stacklevel, warn_partial
from ._select import warn_model_switches
from ._v13 import bind_cancel_event

__all__ = ["AsyncPegasusBackend", "PegasusBackend", "Progress", "RunStats", "user_stacklevel"]

_T = TypeVar("_T")


def _async_http(config: ClientConfig) -> AsyncHTTP:
    return AsyncHTTP(
        config.v13_base_url,
        config.api_key,
        timeout=config.timeout,
        max_retries=config.max_retries,
        client=config.async_http_client,
    )


CANCEL_GRACE_S = 5.0
"""After Ctrl-C, how long the caller waits for in-flight calls to be cancelled before returning."""


def run_in_worker(factory: Callable[[], Awaitable[_T]]) -> _T:
    """Run ``factory()`` on a fresh event loop in a fresh thread; safe inside a running event loop.

    A ``KeyboardInterrupt`` (or any exception) raised in the caller's thread while it waits —
    Ctrl-C in a REPL or notebook — cancels the run before it propagates: the cancel event is set
    first (the rate gate then starts no new call), the run's task is cancelled on its loop
    (in-flight requests are dropped), and the worker is given :data:`CANCEL_GRACE_S` to finish.
    """
    box: Dict[str, Any] = {}
    cancel = threading.Event()
    ready = threading.Event()

    def target() -> None:
        bind_cancel_event(cancel)
        loop = asyncio.new_event_loop()
        try:
            asyncio.set_event_loop(loop)
            task: asyncio.Task[Any] = loop.create_task(factory())  # type: ignore[arg-type]
            box["loop"], box["task"] = loop, task
            ready.set()
            box["value"] = loop.run_until_complete(task)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc
        finally:
            ready.set()
            _close_loop(loop)

    worker = threading.Thread(target=target, name="classify-shim-pegasus", daemon=True)
    worker.start()
    try:
        worker.join()
    except BaseException:
        cancel.set()
        ready.wait(CANCEL_GRACE_S)
        loop, task = box.get("loop"), box.get("task")
        if loop is not None and task is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:  # the loop closed meanwhile: nothing left to cancel
                pass
        worker.join(CANCEL_GRACE_S)
        raise
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """What ``asyncio.run`` does on exit: cancel leftovers, finish async generators, close."""
    try:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        asyncio.set_event_loop(None)
        loop.close()


class PegasusBackend:
    """Blocking backend. A user ``http_client`` (sync) is used from worker threads; otherwise
    each call opens its own async connection pool and closes it before returning."""

    name = "pegasus"

    def __init__(self, config: ClientConfig, *, store: Optional[Store] = None) -> None:
        self.config = config
        # Shadow runs never show Pegasus results, so their partial failures are not the caller's news.
        self.warn_partial_results = config.backend != "shadow"
        self._core = Core(config, store)
        self._sync_http: Optional[SyncHTTP] = None
        if config.http_client is not None:
            self._sync_http = SyncHTTP(
                config.v13_base_url,
                config.api_key,
                timeout=config.timeout,
                max_retries=config.max_retries,
                client=config.http_client,
            )

    @property
    def last_run(self) -> Optional[RunStats]:
        return self._core.last_run

    def classify(self, request: ClassifyRequest, options: RequestOptions) -> BackendPage:
        core, sync_http = self._core, self._sync_http

        async def job() -> Tuple[BackendPage, RunStats]:
            if sync_http is not None:
                return await core.run(request, options, sync_http)
            http = AsyncHTTP(
                self.config.v13_base_url,
                self.config.api_key,
                timeout=self.config.timeout,
                max_retries=self.config.max_retries,
            )
            try:
                return await core.run(request, options, http)
            finally:
                await http.aclose()

        page, stats = run_in_worker(job)
        warn_model_switches(stats.model_switches)
        if self.warn_partial_results:
            warn_partial(page.errors, stats.videos)
        return page

    def page(self, token: str, options: RequestOptions) -> BackendPage:
        return self._core.page(token)

    def close(self) -> None:
        if self._sync_http is not None:
            self._sync_http.close()
        self._core.close()


class AsyncPegasusBackend:
    """Async backend: one ``AsyncHTTP`` (the user's ``http_client`` if given) for the client's life."""

    name = "pegasus"

    def __init__(self, config: ClientConfig, *, store: Optional[Store] = None) -> None:
        self.config = config
        # Shadow runs never show Pegasus results, so their partial failures are not the caller's news.
        self.warn_partial_results = config.backend != "shadow"
        self._core = Core(config, store)
        self._http = _async_http(config)

    @property
    def last_run(self) -> Optional[RunStats]:
        return self._core.last_run

    async def classify(self, request: ClassifyRequest, options: RequestOptions) -> BackendPage:
        page, stats = await self._core.run(request, options, self._http)
        warn_model_switches(stats.model_switches)
        if self.warn_partial_results:
            warn_partial(page.errors, stats.videos)
        return page

    async def page(self, token: str, options: RequestOptions) -> BackendPage:
        return self._core.page(token)

    async def aclose(self) -> None:
        await self._http.aclose()
        self._core.close()
