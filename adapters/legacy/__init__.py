"""The v1.2 backend: ``POST classify``, ``POST classify/bulk``, ``GET classify/{token}``.

Sends what ``twelvelabs`` 0.3.2 sent (method, path, ``x-api-key``, JSON body), adding only
retries and chained errors. Delete this folder when no v1.2 endpoint is left to call.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Mapping, Optional, cast

from classify_shim._backend import BackendPage, ValidatedPage
from classify_shim._bodies import PageBody
from classify_shim._config import ClientConfig
from classify_shim._exceptions import APIStatusError, TwelveLabsError
from classify_shim._http import AsyncHTTP, HTTPResponse, SyncHTTP
from classify_shim._models import page_from_json
from classify_shim._request import ClassifyRequest
from classify_shim._types import RequestOptions

__all__ = ["AsyncLegacyBackend", "LegacyBackend", "is_retirement_error"]

# Codes a retired or version-gated endpoint may answer with (the real answer is undocumented).
# NOT ``api_not_allowed``: that 403 is a plan or key problem, not a retirement.
RETIREMENT_CODES = frozenset({"endpoint_deprecated", "api_deprecated", "api_upgrade_required", "endpoint_not_found"})
CLASSIFY_ROUTES = ("/v1.2/classify", "/v1.2/classify/bulk")
"""The only paths where v1.2 Classify ever lived: an answer from anywhere else proves nothing."""


def _on_classify_route(exc: APIStatusError) -> bool:
    request = getattr(exc, "request", None)
    if request is None:
        return False
    path: str = request.url.path.rstrip("/")
    return bool(path.endswith(CLASSIFY_ROUTES))


def is_retirement_error(exc: BaseException) -> bool:
    """True only on evidence that the v1.2 classify endpoint itself is gone.

    The answer must come from the correct v1.2 classify route (``/v1.2/classify`` or
    ``/v1.2/classify/bulk``) and be either 410 Gone, a retirement code in the API's JSON error
    body, or a 404 whose body is the API's own JSON error (``{"code", "message"}``) naming no
    missing resource. Never: an HTML or empty 404 (a proxy, not the API), 403
    ``api_not_allowed`` (plan or key), ``resource_not_exist`` (a missing video or index), or
    anything answered for another path. Those raise their mapped error and change nothing.
    """
    if not isinstance(exc, APIStatusError) or not _on_classify_route(exc):
        return False
    body = exc.body if isinstance(exc.body, Mapping) else None
    code = body.get("code") if body is not None else None
    if exc.status_code == 410:
        return True
    if body is None or not isinstance(code, str):  # not the API's JSON error: no evidence
        return False
    if code in RETIREMENT_CODES:
        return exc.status_code in (400, 403, 404, 410, 426, 501)
    return exc.status_code == 404 and code != "resource_not_exist" and "message" in body


def _page(response: HTTPResponse) -> BackendPage:
    raw = response.json_bytes
    if raw is not None:  # asked for undecoded: validated into the result model in one pass
        result = page_from_json(raw)
        if result is not None:
            return ValidatedPage(raw, result, "legacy")
    body = response.decode()  # the long way: what the page is not, reported as always
    if not isinstance(body, dict) or "data" not in body or "page_info" not in body:
        raise TwelveLabsError(
            f"the v1.2 classify endpoint answered {response.status_code} without a result page: {str(body)[:200]!r}"
        )
    # The shape is the v1.2 API's; the models check every field when the page is wrapped.
    return BackendPage(body=cast(PageBody, body), backend="legacy")


def _body(request: ClassifyRequest) -> Dict[str, Any]:
    return dict(request.wire_body)


class LegacyBackend:
    name = "legacy"

    def __init__(
        self,
        config: ClientConfig,
        *,
        sleep: Optional[Callable[[float], Any]] = None,
        clock: Optional[Callable[[], float]] = None,
    ) -> None:
        self._http = SyncHTTP(
            config.legacy_base_url,
            config.api_key,
            timeout=config.timeout,
            max_retries=config.max_retries,
            client=config.http_client,
            sleep=sleep,
            clock=clock,
            pacing=config.pacing,
        )

    def classify(self, request: ClassifyRequest, options: RequestOptions) -> BackendPage:
        return _page(self._http.request("POST", request.path, json=_body(request), options=options,
                                        encoded=request.wire_json, decode=False))

    def page(self, token: str, options: RequestOptions) -> BackendPage:
        return _page(self._http.request("GET", f"classify/{token}", options=options, decode=False))

    def close(self) -> None:
        self._http.close()


class AsyncLegacyBackend:
    name = "legacy"

    def __init__(
        self,
        config: ClientConfig,
        *,
        sleep: Optional[Callable[[float], Any]] = None,
        clock: Optional[Callable[[], float]] = None,
    ) -> None:
        self._http = AsyncHTTP(
            config.legacy_base_url,
            config.api_key,
            timeout=config.timeout,
            max_retries=config.max_retries,
            client=config.async_http_client,
            sleep=sleep,
            clock=clock,
            pacing=config.pacing,
        )

    async def classify(self, request: ClassifyRequest, options: RequestOptions) -> BackendPage:
        return _page(await self._http.request("POST", request.path, json=_body(request), options=options,
                                              encoded=request.wire_json))

    async def page(self, token: str, options: RequestOptions) -> BackendPage:
        return _page(await self._http.request("GET", f"classify/{token}", options=options))

    async def aclose(self) -> None:
        await self._http.aclose()
