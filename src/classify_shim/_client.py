"""``TwelveLabs`` and ``AsyncTwelveLabs``: 0.3.2's constructor, plus keyword-only extras.

``api_key`` and ``version`` stay positional as in 0.3.2; ``TWELVELABS_BASE_URL`` replaces the
host part exactly as 0.3.2 did. Only ``.classify`` is provided: for the rest of the official
SDK, keep its client and :func:`classify_shim.attach` this one to it.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Optional, Sequence, Type, Union

import httpx

from ._backend import AsyncBackend, SyncBackend, load_async_backend, load_backend
from ._calibration import CalibrationProfile
from ._config import DEFAULT_API_VERSION, DEFAULT_MAX_RETRIES, DEFAULT_PAGE_TTL_S, ClientConfig
from ._events import MismatchCallback, ProgressCallback
from ._types import NOT_GIVEN, BackendName, NotGiven, Secret
from ._warnings import warn_version_redirect
from .resources.classify import AsyncClassify, Classify

__all__ = ["AsyncTwelveLabs", "TwelveLabs"]

def _masked(api_key: Any) -> Any:
    return Secret(api_key) if isinstance(api_key, str) and not isinstance(api_key, Secret) else api_key


_OTHER_RESOURCES = ("engine", "index", "task", "search", "generate", "embed")


class _ClientBase:
    config: ClientConfig

    @property
    def api_key(self) -> str:
        """The plain key, as 0.3.2's attribute was (the config keeps it masked)."""
        return str.__str__(self.config.api_key)

    @property
    def version(self) -> str:
        return self.config.version

    @property
    def base_url(self) -> str:
        """Where the v1.2 endpoints live, as 0.3.2 computed it: ``{host}/{version}/``."""
        return self.config.legacy_base_url

    @property
    def classify_backend(self) -> str:
        """The backend selected for this client (``legacy``/``pegasus``/``auto``/``shadow``)."""
        return self.config.backend

    def __getattr__(self, name: str) -> Any:
        if name in _OTHER_RESOURCES:
            raise AttributeError(
                f"classify-shim provides only `.classify`; `client.{name}` belongs to the official "
                f"`twelvelabs` SDK. Keep that client and add classify to it with classify_shim.attach(client)."
            )
        raise AttributeError(name)

    def __repr__(self) -> str:
        # Safe on a half-built client (its constructor raised): no attribute is assumed to exist.
        config = self.__dict__.get("config")
        if config is None:
            return f"<{type(self).__name__} (not initialised)>"
        return (
            f"{type(self).__name__}(version={config.version!r}, base_url={config.legacy_base_url!r}, "
            f"classify_backend={config.backend!r})"
        )


class TwelveLabs(_ClientBase):
    """Drop-in for ``twelvelabs.TwelveLabs`` (0.2-0.3) as far as ``client.classify`` goes."""

    classify: Classify

    def __init__(
        self,
        api_key: Optional[str] = None,
        version: Union[str, Literal["v1.1", "v1.2"]] = DEFAULT_API_VERSION,
        *,
        classify_backend: Optional[Union[str, BackendName]] = None,
        base_url: Optional[str] = None,
        timeout: Union[float, httpx.Timeout, NotGiven, None] = NOT_GIVEN,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: Optional[httpx.Client] = None,
        pegasus_model: Optional[str] = None,
        strategy: Optional[str] = None,
        samples: Union[int, str, None] = None,
        index_id: Optional[str] = None,
        cache: Union[bool, str, Path, None] = None,
        max_concurrency: Optional[int] = None,
        page_ttl_s: float = DEFAULT_PAGE_TTL_S,
        on_progress: Optional[ProgressCallback] = None,
        shadow_sample_rate: float = 1.0,
        on_mismatch: Optional[MismatchCallback] = None,
        calibration: Union[bool, str, Path, CalibrationProfile, None] = None,
        shadow_legacy_results: Union[str, Path, Sequence[Union[str, Path]], None] = None,
    ) -> None:
        api_key = _masked(api_key)  # frames printed with their locals never show the key
        self.config = ClientConfig.build(
            api_key, version, classify_backend=classify_backend, base_url=base_url, timeout=timeout,
            max_retries=max_retries, http_client=http_client, pegasus_model=pegasus_model, strategy=strategy, samples=samples,
            index_id=index_id,
            cache=cache, max_concurrency=max_concurrency, page_ttl_s=page_ttl_s, on_progress=on_progress,
            shadow_sample_rate=shadow_sample_rate, on_mismatch=on_mismatch,
            calibration=calibration, shadow_legacy_results=shadow_legacy_results,
        )
        self._start()

    def _start(self) -> None:
        if self.config.requested_version:
            warn_version_redirect(self.config.requested_version, self.config.version, self.config.host)
        self._backend: SyncBackend = load_backend(self.config.backend, self.config)
        self._closed = False
        self.classify = Classify(self)

    @classmethod
    def _from_config(cls, config: ClientConfig) -> TwelveLabs:
        """A client for a configuration already resolved (``ClientConfig.build``), e.g. one given
        other :class:`~classify_shim._http.Pacing` with ``dataclasses.replace`` (tests, tools)."""
        client = cls.__new__(cls)
        client.config = config
        client._start()
        return client

    def _open_backend(self) -> SyncBackend:
        """The backend for a call; reopened after ``close()`` or a ``with`` block, because 0.3.2's
        client stayed usable after ``with TwelveLabs(...) as client:`` ended. (``_backend`` stays
        readable after closing, e.g. for ``shadow_report``.)"""
        if self._closed:
            self._backend = load_backend(self.config.backend, self.config)
            self._closed = False
        return self._backend

    def close(self) -> None:
        """Release connections and the store; a later call opens them again."""
        if not self._closed:
            self._closed = True
            self._backend.close()

    def __enter__(self) -> TwelveLabs:
        return self

    def __exit__(
        self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        self.close()


class AsyncTwelveLabs(_ClientBase):
    """Async twin: ``await client.classify.videos(...)`` and ``async for data in result``."""

    classify: AsyncClassify

    def __init__(
        self,
        api_key: Optional[str] = None,
        version: Union[str, Literal["v1.1", "v1.2"]] = DEFAULT_API_VERSION,
        *,
        classify_backend: Optional[Union[str, BackendName]] = None,
        base_url: Optional[str] = None,
        timeout: Union[float, httpx.Timeout, NotGiven, None] = NOT_GIVEN,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: Optional[httpx.AsyncClient] = None,
        pegasus_model: Optional[str] = None,
        strategy: Optional[str] = None,
        samples: Union[int, str, None] = None,
        index_id: Optional[str] = None,
        cache: Union[bool, str, Path, None] = None,
        max_concurrency: Optional[int] = None,
        page_ttl_s: float = DEFAULT_PAGE_TTL_S,
        on_progress: Optional[ProgressCallback] = None,
        shadow_sample_rate: float = 1.0,
        on_mismatch: Optional[MismatchCallback] = None,
        calibration: Union[bool, str, Path, CalibrationProfile, None] = None,
        shadow_legacy_results: Union[str, Path, Sequence[Union[str, Path]], None] = None,
    ) -> None:
        api_key = _masked(api_key)  # frames printed with their locals never show the key
        self.config = ClientConfig.build(
            api_key, version, classify_backend=classify_backend, base_url=base_url, timeout=timeout,
            max_retries=max_retries, async_http_client=http_client, pegasus_model=pegasus_model, strategy=strategy, samples=samples,
            index_id=index_id, cache=cache, max_concurrency=max_concurrency, page_ttl_s=page_ttl_s,
            on_progress=on_progress, shadow_sample_rate=shadow_sample_rate, on_mismatch=on_mismatch,
            calibration=calibration, shadow_legacy_results=shadow_legacy_results,
        )
        self._start()

    def _start(self) -> None:
        if self.config.requested_version:
            warn_version_redirect(self.config.requested_version, self.config.version, self.config.host)
        self._backend: AsyncBackend = load_async_backend(self.config.backend, self.config)
        self._closed = False
        self.classify = AsyncClassify(self)

    @classmethod
    def _from_config(cls, config: ClientConfig) -> AsyncTwelveLabs:
        """The async twin of :meth:`TwelveLabs._from_config`."""
        client = cls.__new__(cls)
        client.config = config
        client._start()
        return client

    def _open_backend(self) -> AsyncBackend:
        """Reopened for a call after ``aclose()`` / ``async with``, like the sync twin."""
        if self._closed:
            self._backend = load_async_backend(self.config.backend, self.config)
            self._closed = False
        return self._backend

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._backend.aclose()

    async def __aenter__(self) -> AsyncTwelveLabs:
        return self

    async def __aexit__(
        self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException], tb: Optional[TracebackType]
    ) -> None:
        await self.aclose()
