"""The v1.2 backend: ``POST classify``, ``POST classify/bulk``, ``GET classify/{token}``.

Sends what ``twelvelabs`` 0.3.2 sent (method, path, ``x-api-key``, JSON body), adding only
retries and chained errors. Delete this folder when no v1.2 endpoint is left to call.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping

from classify_shim._backend import BackendPage
from classify_shim._config import ClientConfig
from classify_shim._exceptions import APIStatusError, TwelveLabsError
from classify_shim._http import AsyncHTTP, HTTPResponse, SyncHTTP
from classify_shim._request import ClassifyRequest
from classify_shim._types import RequestOptions

__all__ = ["AsyncLegacyBackend", "LegacyBackend", "is_retirement_error"]

# Codes a retired or version-gated endpoint may answer with (the real answer is undocumented).
RETIREMENT_CODES = frozenset(
    {"endpoint_deprecated", "api_deprecated", "api_upgrade_required", "api_not_allowed", "endpoint_not_found"}
)


def is_retirement_error(exc: BaseException) -> bool:
    """True when the v1.2 classify endpoint answered that it no longer exists.

    410 always; 404 unless it names a missing resource (``resource_not_exist``); any status
    whose ``code`` is a retirement code.
    """
    if not isinstance(exc, APIStatusError):
        return False
    code = exc.body.get("code") if isinstance(exc.body, Mapping) else None
    if code in RETIREMENT_CODES or exc.status_code == 410:
        return True
    return exc.status_code == 404 and code != "resource_not_exist"


def _page(response: HTTPResponse) -> BackendPage:
    body = response.body
    if not isinstance(body, dict) or "data" not in body or "page_info" not in body:
        raise TwelveLabsError(
            f"the v1.2 classify endpoint answered {response.status_code} without a result page: {str(body)[:200]!r}"
        )
    return BackendPage(body=body, backend="legacy")


def _body(request: ClassifyRequest) -> Dict[str, Any]:
    return dict(request.wire_body)


class LegacyBackend:
    name = "legacy"

    def __init__(self, config: ClientConfig) -> None:
        self._http = SyncHTTP(
            config.legacy_base_url,
            config.api_key,
            timeout=config.timeout,
            max_retries=config.max_retries,
            client=config.http_client,
        )

    def classify(self, request: ClassifyRequest, options: RequestOptions) -> BackendPage:
        return _page(self._http.request("POST", request.path, json=_body(request), options=options))

    def page(self, token: str, options: RequestOptions) -> BackendPage:
        return _page(self._http.request("GET", f"classify/{token}", options=options))

    def close(self) -> None:
        self._http.close()


class AsyncLegacyBackend:
    name = "legacy"

    def __init__(self, config: ClientConfig) -> None:
        self._http = AsyncHTTP(
            config.legacy_base_url,
            config.api_key,
            timeout=config.timeout,
            max_retries=config.max_retries,
            client=config.async_http_client,
        )

    async def classify(self, request: ClassifyRequest, options: RequestOptions) -> BackendPage:
        return _page(await self._http.request("POST", request.path, json=_body(request), options=options))

    async def page(self, token: str, options: RequestOptions) -> BackendPage:
        return _page(await self._http.request("GET", f"classify/{token}", options=options))

    async def aclose(self) -> None:
        await self._http.aclose()
