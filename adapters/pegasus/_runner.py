"""One background thread + event loop per sync Pegasus client, reused by every call.

The sync backend runs the async engine. Building a thread, a loop and an ``AsyncClient`` per
call cost ≈ 46 ms even when every answer was cached; one long-lived loop thread (started on
the first call) and one ``AsyncHTTP`` bound to it make a cached call cost what its work costs.
The sync call stays safe inside a running event loop (Jupyter, an async web handler): the
engine never runs on the caller's loop. The thread, loop and connection pool are closed by
``close()`` (the client's ``close()`` / ``with`` exit), when the client is garbage collected,
and at interpreter exit; after ``os.fork`` the child starts its own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
import weakref
from typing import Any, Awaitable, Callable, Coroutine, Dict, List, Optional, TypeVar

__all__ = ["CANCEL_GRACE_S", "LoopThread", "run_in_fresh_thread"]

_T = TypeVar("_T")

CANCEL_GRACE_S = 5.0
"""After Ctrl-C, how long the caller waits for the run's in-flight calls to be cancelled."""

THREAD_NAME = "classify-shim-pegasus"


def _finish(loop: asyncio.AbstractEventLoop) -> None:
    """What ``asyncio.run`` does on exit: cancel leftovers, finish async generators, close."""
    try:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def run_in_fresh_thread(factory: Callable[[], Awaitable[_T]]) -> _T:
    """``factory()`` on a new loop in a new thread: for a call made from the loop thread itself
    (an ``on_progress`` callback that classifies again), which must not wait on its own loop."""
    box: Dict[str, Any] = {}

    def target() -> None:
        loop = asyncio.new_event_loop()
        try:
            asyncio.set_event_loop(loop)
            box["value"] = loop.run_until_complete(factory())
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc
        finally:
            _finish(loop)

    worker = threading.Thread(target=target, name=f"{THREAD_NAME}-nested", daemon=True)
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


class _State:
    """The live parts, kept apart from ``LoopThread`` so a finalizer can close them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.thread: Optional[threading.Thread] = None
        self.pid = 0
        self.closers: List[Callable[[], Awaitable[None]]] = []
        self.closed = False

    def start(self) -> asyncio.AbstractEventLoop:
        with self.lock:
            if self.closed:
                raise RuntimeError("the client is closed")
            if self.loop is not None and self.pid == os.getpid():
                return self.loop
            # First call, or a forked child (the parent's thread does not exist here).
            self.closers = []
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def target() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                try:
                    loop.run_forever()
                finally:
                    _finish(loop)

            thread = threading.Thread(target=target, name=THREAD_NAME, daemon=True)
            thread.start()
            ready.wait()
            self.loop, self.thread, self.pid = loop, thread, os.getpid()
            return loop

    def close(self) -> None:
        with self.lock:
            self.closed = True
            loop, thread, closers = self.loop, self.thread, self.closers
            self.loop, self.thread, self.closers = None, None, []
            mine = self.pid == os.getpid()
        if loop is None or thread is None or not mine or loop.is_closed():
            return
        if threading.current_thread() is thread:  # closed from a callback on the loop itself
            loop.call_soon(loop.stop)
            return

        async def shut() -> None:
            for closer in closers:
                try:
                    await closer()
                except Exception:  # closing must not fail the close of the others
                    pass

        try:
            asyncio.run_coroutine_threadsafe(shut(), loop).result(timeout=CANCEL_GRACE_S)
        except (concurrent.futures.TimeoutError, RuntimeError):
            pass
        finally:
            try:
                loop.call_soon_threadsafe(loop.stop)
            except RuntimeError:  # already closed
                pass
            thread.join(CANCEL_GRACE_S)


class LoopThread:
    """Runs coroutines for a sync client on its one background loop."""

    def __init__(self) -> None:
        self._state = _State()
        # Closed with the client, when it is collected, or at interpreter exit, whichever first.
        self._finalizer = weakref.finalize(self, self._state.close)

    @property
    def loop(self) -> Optional[asyncio.AbstractEventLoop]:
        return self._state.loop

    def on_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Await ``closer()`` on the loop when it shuts down (e.g. an ``AsyncHTTP.aclose``)."""
        self._state.closers.append(closer)

    def in_loop_thread(self) -> bool:
        return threading.current_thread() is self._state.thread

    def run(self, factory: Callable[[], Coroutine[Any, Any, _T]], *, on_interrupt: Optional[Callable[[], None]] = None) -> _T:
        """``await factory()`` on the loop and return its value in the caller's thread.

        An exception raised in the caller's thread while it waits (Ctrl-C) cancels the run's
        task before it propagates: ``on_interrupt`` first (so nothing new starts), then the task
        is cancelled and given :data:`CANCEL_GRACE_S` to finish."""
        if self.in_loop_thread():
            return run_in_fresh_thread(factory)
        loop = self._state.start()
        future = asyncio.run_coroutine_threadsafe(factory(), loop)
        try:
            return future.result()
        except BaseException:
            if not future.done():
                if on_interrupt is not None:
                    on_interrupt()
                future.cancel()
                concurrent.futures.wait([future], timeout=CANCEL_GRACE_S)
            raise

    def close(self) -> None:
        self._finalizer()
