"""The ASGI application (Starlette): v1.2 routes, ``/health`` and the migration note.

Only this module and ``_server`` import the web stack, so the core works without the extra.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, AsyncIterator, Dict, Optional

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from .._backend import BackendPage
from .._request import check_page_token
from .._types import RequestOptions
from .._version import __version__
from ._callers import Callers
from ._docs import MIGRATION_NOTE
from ._settings import MIGRATION_PATH, GatewaySettings
from ._wire import (
    GatewayError,
    RateWindow,
    build_request,
    check_api_key,
    deprecation_headers,
    dump_json,
    error_for,
    parse_json_body,
    v12_page,
)

__all__ = ["Gateway", "app_from_env", "build_app"]

log = logging.getLogger("classify_shim.gateway")
PREFIXES = ("/v1.2", "/p/v1.2")
_JSON = "application/json"


class Gateway:
    """Request handlers; one instance per process, holding the callers' clients and rate windows."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.callers = Callers(settings)
        self.rates = RateWindow(settings.rate_limit, settings.rate_window_s)
        self._deprecation = deprecation_headers(settings)

    # ---- responses -------------------------------------------------------------------------

    def _json(self, status: int, body: Any, headers: Optional[Dict[str, str]] = None) -> Response:
        out = dict(self._deprecation)
        out.update(headers or {})
        return Response(dump_json(body), status_code=status, media_type=_JSON, headers=out)

    def _error(self, exc: BaseException, headers: Optional[Dict[str, str]] = None) -> Response:
        status, body = error_for(exc)
        if status >= 500 and not isinstance(exc, GatewayError):
            log.error("request failed: %s: %s", type(exc).__name__, body["message"])
        return self._json(status, body, headers)

    def _page(self, page: BackendPage, headers: Dict[str, str]) -> Response:
        out = dict(headers)
        out["X-Classify-Shim-Backend"] = page.backend
        if page.errors:
            out["X-Classify-Shim-Failed-Videos"] = str(len(page.errors))
            for failure in page.errors:
                log.warning(
                    "video %s could not be classified (stage %s, %d attempt(s)): %s",
                    failure.video_id, failure.stage, failure.attempts, failure.message,
                )
        return self._json(200, v12_page(page.body), out)

    # ---- handlers --------------------------------------------------------------------------

    async def classify_videos(self, request: Request) -> Response:
        return await self._classify(request, "videos")

    async def classify_index(self, request: Request) -> Response:
        return await self._classify(request, "index")

    async def _classify(self, request: Request, kind: str) -> Response:
        rate_headers: Dict[str, str] = {}
        try:
            key = check_api_key(request.headers.get("x-api-key"))
            fingerprint, backend = await self.callers.backend_for(
                key, path=f"POST {request.url.path}", user_agent=request.headers.get("user-agent")
            )
            allowed, rate_headers = self.rates.hit(fingerprint)
            if not allowed:
                raise GatewayError(429, "too_many_requests", "You have exceeded the rate limit. Please try again later.")
            classify_request, ignored = build_request(kind, parse_json_body(await request.body()))
            if ignored:
                log.info("caller %s: ignored unknown body field(s) %s", fingerprint, ", ".join(ignored))
            page = await backend.classify(classify_request, RequestOptions())
        except Exception as exc:
            return self._error(exc, rate_headers)
        return self._page(page, rate_headers)

    async def page(self, request: Request) -> Response:
        raw = request.path_params["page_token"]
        try:
            if raw == "bulk":
                raise GatewayError(405, "method_not_allowed", f"Method GET is not allowed on {request.url.path}.")
            key = check_api_key(request.headers.get("x-api-key"))
            token = check_page_token(raw)
            route = request.url.path.rsplit("/", 1)[0] + "/{page_token}"  # never log the token
            _, backend = await self.callers.backend_for(
                key, path=f"GET {route}", user_agent=request.headers.get("user-agent")
            )
            page = await backend.page(token, RequestOptions())
        except Exception as exc:
            return self._error(exc)
        return self._page(page, {})

    async def health(self, request: Request) -> Response:
        body = {
            "status": "ok",
            "version": __version__,
            "backend": self.callers.backend_name,
            "callers_seen": self.callers.callers_seen,
        }
        return Response(dump_json(body), media_type=_JSON)

    async def migration(self, request: Request) -> Response:
        return PlainTextResponse(MIGRATION_NOTE, media_type="text/markdown")

    async def http_error(self, request: Request, exc: Exception) -> Response:
        """Unknown routes and wrong methods, answered in the v1.2 error shape."""
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        path = request.url.path
        if status == 405:
            error = GatewayError(405, "method_not_allowed", f"Method {request.method} is not allowed on {path}.")
        else:
            error = GatewayError(status, "not_found", f"No route for {request.method} {path}.")
        headers = dict(getattr(exc, "headers", None) or {})
        response = self._error(error, headers)
        if not path.startswith(PREFIXES):
            for name in ("Deprecation", "Sunset", "Link"):
                del response.headers[name]
        return response

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await self.callers.aclose()


def build_app(settings: Optional[GatewaySettings] = None) -> Starlette:
    gateway = Gateway(settings or GatewaySettings())
    routes = []
    for prefix in PREFIXES:
        routes += [
            Route(f"{prefix}/classify", gateway.classify_videos, methods=["POST"]),
            Route(f"{prefix}/classify/bulk", gateway.classify_index, methods=["POST"]),
            Route(f"{prefix}/classify/{{page_token}}", gateway.page, methods=["GET"]),
        ]
    routes += [
        Route("/health", gateway.health, methods=["GET"]),
        Route(MIGRATION_PATH, gateway.migration, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=gateway.lifespan,
        exception_handlers={404: gateway.http_error, 405: gateway.http_error},
    )
    app.state.gateway = gateway
    return app


def app_from_env() -> Starlette:
    """Factory for worker processes (``uvicorn`` imports it by name)."""
    from ._server import configure_logging

    configure_logging()
    return build_app(GatewaySettings.from_env())
