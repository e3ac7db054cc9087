"""``classify-shim gateway``: the retired v1.2 Classify endpoints over HTTP, for callers that are not
Python SDK code (raw ``requests``/``httpx`` scripts, the JavaScript SDK, other languages).

Each request is checked by the same rules as ``client.classify`` and served by the shim's own
backends with the caller's ``x-api-key``, so mapping, thresholds, order, page tokens, store and
calibration are the ones Python callers get. Needs the ``gateway`` extra (Starlette + Uvicorn);
importing this package does not import them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from ._settings import BACKENDS, GatewaySettings

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["BACKENDS", "GatewaySettings", "MissingExtra", "create_app", "serve"]


class MissingExtra(ImportError):
    """The web stack is not installed."""


def _require_extra() -> None:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise MissingExtra(
            f"the gateway needs Starlette and Uvicorn ({exc}); "
            'install them with: pip install "twelvelabs-classify-shim[gateway]"'
        ) from exc


def create_app(settings: Optional[GatewaySettings] = None) -> Starlette:
    """The ASGI app, for running under your own server (``uvicorn``, ``hypercorn``, ``gunicorn -k``)."""
    _require_extra()
    from ._app import build_app

    return build_app(settings)


def serve(settings: GatewaySettings, **kwargs: Any) -> int:
    """Bind, print the URL first, serve until interrupted."""
    _require_extra()
    from ._server import serve as _serve

    return _serve(settings, **kwargs)
