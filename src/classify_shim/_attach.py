"""``attach(client)``: give an official SDK client a working ``.classify``.

Users who also call other resources of the official ``twelvelabs`` SDK keep their client and
change nothing else: the shim reads the client's API key and host, and installs a classify
resource served by the selected backend. The SDK's major version is detected with
``packaging``: 0.x clients carry ``api_key``/``base_url`` (``{host}/{version}/``); 1.x clients
keep them in their client wrapper (``{host}/v1.3``). Classify never existed in v1.3, so a client
on v1.3 gets classify on v1.2 (one ``ApiVersionWarning`` says so).
"""

from __future__ import annotations

import inspect
import re
from importlib import metadata
from typing import Any, Optional, TypeVar

from packaging.version import InvalidVersion, Version

from ._client import AsyncTwelveLabs, TwelveLabs
from ._config import _host_root
from ._exceptions import TwelveLabsError, enable_v1_interop
from ._types import Secret

__all__ = ["attach", "official_sdk_version"]

C = TypeVar("C")
_VERSION_IN_URL = re.compile(r"/(v\d+(?:\.\d+)?)/?$")


def official_sdk_version() -> Optional[Version]:
    try:
        return Version(metadata.version("twelvelabs"))
    except (metadata.PackageNotFoundError, InvalidVersion):
        return None


def _first(obj: Any, *names: str) -> Any:
    for name in names:
        value = getattr(obj, name, None)
        if callable(value) and not isinstance(value, str):
            try:
                value = value()
            except TypeError:
                continue
        if isinstance(value, str) and value:
            return value
    return None


def _credentials(client: Any) -> tuple[Optional[str], Optional[str]]:
    """The client's API key and its raw base URL, wherever this SDK generation keeps them."""
    wrapper = getattr(client, "_client_wrapper", None)
    sources = [client] + ([wrapper] if wrapper is not None else [])
    key = None
    url = None
    for source in sources:
        key = key or _first(source, "api_key", "_api_key")
        url = url or _first(source, "base_url", "get_base_url", "_base_url")
    return key, url


def _url_version(url: Optional[str]) -> Optional[str]:
    """0.x clients keep their API version only in ``{host}/{version}/``."""
    match = _VERSION_IN_URL.search(url or "")
    return match.group(1) if match else None


def _enable_api_error() -> None:
    """Errors raised through a 1.x client are also its ``ApiError`` (``status_code``, ``body``)."""
    try:
        from twelvelabs.core.api_error import ApiError  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        return
    enable_v1_interop(ApiError)


def _is_async(client: Any) -> bool:
    name = type(client).__name__
    if name.startswith("Async"):
        return True
    wrapper = getattr(client, "_client_wrapper", None)
    httpx_client = getattr(getattr(wrapper, "httpx_client", None), "httpx_client", None)
    return httpx_client is not None and inspect.iscoroutinefunction(getattr(httpx_client, "send", None))


def attach(client: C, *, api_key: Optional[str] = None, base_url: Optional[str] = None, **options: Any) -> C:
    """Install ``client.classify`` (sync or async to match the client) and return the client.

    ``options`` are :class:`TwelveLabs` keyword arguments (``classify_backend``, ``cache``…).
    """
    if client is None:
        raise TwelveLabsError("attach() needs an official twelvelabs client instance")
    found_key, found_url = _credentials(client)
    key = Secret(api_key or found_key or "")  # masked: never a plain local of this frame
    found_key = api_key = None
    if not key:
        raise TwelveLabsError(
            f"attach(): could not find the API key on {type(client).__name__}; pass api_key= explicitly"
        )
    host = base_url or (_host_root(found_url) if found_url else None)
    sdk = official_sdk_version()
    # The client's API version: 0.2-0.3 keep it in ``version`` and ``{host}/{version}/``; 0.4.x
    # and 1.x only in the URL (``/v1.3``). A version without Classify (v1.3) is sent to v1.2 by
    # the shim's client, with one ``ApiVersionWarning``.
    attr = getattr(client, "version", None)
    version = (attr if isinstance(attr, str) and re.fullmatch(r"v\d+(?:\.\d+)?", attr) else None) or _url_version(
        found_url
    )
    if sdk is not None and sdk.major >= 1:
        _enable_api_error()
    shim: Any
    if _is_async(client):
        shim = AsyncTwelveLabs(key, version or "v1.2", base_url=host, **options)
    else:
        shim = TwelveLabs(key, version or "v1.2", base_url=host, **options)
    client.classify = shim.classify  # type: ignore[attr-defined]
    client._classify_shim = shim  # type: ignore[attr-defined]  # keeps the backend alive with the client
    return client
