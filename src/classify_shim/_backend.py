"""The backend protocol: what the classify resource needs from ``legacy``, ``pegasus`` & co.

A backend receives a checked :class:`~classify_shim._request.ClassifyRequest` and returns a
:class:`BackendPage` in the v1.2 wire shape. Sync and async twins share every rule; the
resource turns pages into ``ClassifyPageResult``. Backends live in ``classify_shim.adapters``
and are imported lazily by name, so removing one is deleting its module.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Protocol, cast, runtime_checkable

from pydantic_core import from_json

from ._bodies import PageBody
from ._request import ClassifyRequest
from ._types import BACKEND_NAMES, RequestOptions

if TYPE_CHECKING:
    from ._config import ClientConfig
    from ._models import ClassifyPageResult

__all__ = [
    "BACKENDS",
    "AsyncBackend",
    "BackendPage",
    "SyncBackend",
    "ValidatedPage",
    "VideoFailure",
    "load_backend",
]


@dataclass(frozen=True)
class VideoFailure:
    """A requested video that could not be classified, reported instead of silently dropped."""

    video_id: str
    stage: str  # "metadata" | "analyze" | "parse" | "exact_match"
    message: str
    attempts: int = 1


@dataclass
class BackendPage:
    """One page in the v1.2 wire shape: ``{"data": [...], "page_info": {...}}``."""

    body: PageBody
    backend: str
    errors: List[VideoFailure] = field(default_factory=list)


class ValidatedPage(BackendPage):
    """A page whose JSON bytes were validated straight into the result model as they arrived
    (the legacy backend: no Python dict tree in between, ≈ 100 µs of a 50-id call). ``result``
    is that model, for the resource to wrap; ``body`` is decoded from the same bytes only when
    something reads it (an adapter comparing bodies)."""

    def __init__(self, raw: bytes, result: ClassifyPageResult, backend: str) -> None:
        self._raw = raw
        self._body: Optional[PageBody] = None
        self.result = result
        self.backend = backend
        self.errors = []

    @property
    def body(self) -> PageBody:
        if self._body is None:
            self._body = cast(PageBody, from_json(self._raw))
        return self._body

    @body.setter
    def body(self, value: PageBody) -> None:
        self._body = value


@runtime_checkable
class SyncBackend(Protocol):
    name: str

    def classify(self, request: ClassifyRequest, options: RequestOptions) -> BackendPage: ...

    def page(self, token: str, options: RequestOptions) -> BackendPage: ...

    def close(self) -> None: ...


@runtime_checkable
class AsyncBackend(Protocol):
    name: str

    async def classify(self, request: ClassifyRequest, options: RequestOptions) -> BackendPage: ...

    async def page(self, token: str, options: RequestOptions) -> BackendPage: ...

    async def aclose(self) -> None: ...


# name -> (module, sync class, async class); imported on first use. Every backend follows one
# layout: module ``classify_shim.adapters.<name>``, classes ``<Name>Backend`` / ``Async<Name>Backend``.
BACKENDS: Dict[str, tuple[str, str, str]] = {
    name: (f"classify_shim.adapters.{name}", f"{name.capitalize()}Backend", f"Async{name.capitalize()}Backend")
    for name in BACKEND_NAMES
}


def _factory(name: str, is_async: bool) -> Callable[[ClientConfig], Any]:
    module_name, sync_cls, async_cls = BACKENDS[name]
    try:
        module = importlib.import_module(module_name)
        return getattr(module, async_cls if is_async else sync_cls)  # type: ignore[no-any-return]
    except (ImportError, AttributeError) as exc:
        from ._exceptions import TwelveLabsError

        raise TwelveLabsError(
            f"classify backend {name!r} is not available in this installation ({exc}); "
            f"use classify_backend='legacy' or install a release that ships it"
        ) from exc


def backend_class(name: str) -> Any:
    """The sync class of backend *name*, for reading what it declares without building one."""
    return _factory(name, False)


def load_backend(name: str, config: ClientConfig) -> SyncBackend:
    backend: SyncBackend = _factory(name, False)(config)
    return backend


def load_async_backend(name: str, config: ClientConfig) -> AsyncBackend:
    backend: AsyncBackend = _factory(name, True)(config)
    return backend


def optional_callback(cb: Optional[Callable[..., object]], *args: Any) -> None:
    """Call a user callback without letting its failure break a classify call."""
    if cb is None:
        return
    try:
        cb(*args)
    except Exception:  # a user's hook must not fail their classify call
        import logging

        logging.getLogger("classify_shim").exception("user callback %r failed", cb)
