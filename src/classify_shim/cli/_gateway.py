"""``classify-shim gateway``: serve the v1.2 Classify endpoints over HTTP for non-Python callers."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..gateway import BACKENDS, GatewaySettings, MissingExtra, serve
from ..gateway._settings import DEFAULT_SUNSET, MIGRATION_PATH

__all__ = ["register", "run"]

EXIT_USAGE = 2

_EPILOG = """\
The first line printed is the base URL (use --port 0 to pick a free port). Point callers at it:
raw HTTP `API_URL = "<url>/v1.2"` (or `<url>/p/v1.2` for Playground code), JavaScript SDK
`new TwelveLabs({ apiKey, baseUrl: "<url>" })`. Each request is served with the caller's own
x-api-key. The upstream, store and calibration settings are the library's
(TWELVELABS_BASE_URL, TWELVELABS_CLASSIFY_CACHE, ...); use TWELVELABS_CLASSIFY_CACHE=redis://...
so several gateways behind one load balancer serve each other's page tokens.
"""


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be from 0 to 65535, got {value}")
    return value


def register(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "gateway",
        help="serve the retired v1.2 Classify HTTP endpoints from the shim's backends",
        description=(
            "An HTTP server answering POST /v1.2/classify, POST /v1.2/classify/bulk and "
            "GET /v1.2/classify/{page_token} (and the same under /p/v1.2/) exactly like v1.2, "
            "served by the shim's backends. Needs: pip install \"twelvelabs-classify-shim[gateway]\"."
        ),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8080, help="port to bind; 0 picks a free one (default 8080)")
    parser.add_argument(
        "--backend", choices=BACKENDS, default=None,
        help="what serves the requests (default: TWELVELABS_CLASSIFY_BACKEND, else pegasus)",
    )
    parser.add_argument("--workers", type=_positive, default=1, help="worker processes (default 1)")
    parser.add_argument("--base-url", default=None, help="upstream API host (default: TWELVELABS_BASE_URL or the public host)")
    parser.add_argument(
        "--rate-limit", type=int, default=0,
        help="classify POSTs allowed per caller per --rate-window seconds, per worker (default 0: no cap)",
    )
    parser.add_argument("--rate-window", type=_positive, default=86_400, help="rate window in seconds (default 86400)")
    parser.add_argument("--sunset", default=DEFAULT_SUNSET, help=f"HTTP-date for the Sunset header (default {DEFAULT_SUNSET!r})")
    parser.add_argument(
        "--docs-url", default=MIGRATION_PATH,
        help=f"migration notes the Link header points at (default {MIGRATION_PATH}, served by the gateway)",
    )
    parser.add_argument("--max-callers", type=_positive, default=256, help="callers' clients kept open (default 256)")
    parser.add_argument("--access-log", action="store_true", help="log every request line (keys are never logged)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    settings = GatewaySettings(
        host=args.host,
        port=args.port,
        backend=args.backend,
        workers=args.workers,
        base_url=args.base_url,
        rate_limit=max(0, args.rate_limit),
        rate_window_s=args.rate_window,
        sunset=args.sunset,
        docs_url=args.docs_url,
        max_callers=args.max_callers,
        access_log=bool(args.access_log),
    )
    try:
        settings.resolved_backend()
        return serve(settings)
    except MissingExtra as exc:
        print(f"classify-shim gateway: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:
        print(f"classify-shim gateway: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"classify-shim gateway: cannot bind {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
