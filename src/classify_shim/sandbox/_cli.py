"""``classify-shim sandbox``: serve the emulator until SIGINT/SIGTERM.

The first stdout line is the base URL (flushed at once) so scripts can start
the server with ``--port 0`` and read where it landed.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any, List, Optional

from ._server import LEGACY_MODES, NOISE_MODES, Sandbox
from ._tasks import SUNSET_MODES
from ._world import WorldError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The sandbox switches (shared by the subcommand and ``python -m``)."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default)")
    parser.add_argument("--world", metavar="FILE", default=None, help="world JSON file (default: built-in world)")
    parser.add_argument("--legacy", choices=LEGACY_MODES, default=None,
                        help="'retired' makes every v1.2 classify call answer 410 endpoint_deprecated "
                             "(default: 'live', or 'retired' with --sunset pegasus1.2)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="simulated model latency for /v1.3/analyze")
    parser.add_argument("--rate-limit-rpm", type=int, default=None,
                        help="requests per minute per API key, separately for v1.2 classify and v1.3 analyze")
    parser.add_argument("--fault-rate", type=float, default=0.0,
                        help="probability (0-1) of a 5xx or dropped connection on API endpoints")
    parser.add_argument("--noise", choices=NOISE_MODES, default="none", help="how messy model answers are")
    parser.add_argument("--seed", type=int, default=0, help="seed for noise, faults and generation ids")
    parser.add_argument("--sunset", choices=SUNSET_MODES, default="none",
                        help="'pegasus1.2' answers 1.2 and video_id calls 410 model_sunset, like a retired model")
    parser.add_argument("--task-latency-ms", type=float, default=0.0,
                        help="time an /analyze/tasks task takes to become ready")
    parser.add_argument("--token-ttl-s", type=float, default=300.0, help="lifetime of v1.2 page tokens")
    parser.add_argument("--rate-limit-window-s", type=float, default=60.0,
                        help="length of the sliding rate-limit window (shorter windows make rate-limit tests quick)")


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``sandbox`` subcommand; the parsed args carry ``func`` (returns an exit code)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sandbox",
        help="run the offline TwelveLabs API emulator",
        description="Serve an offline emulator of the TwelveLabs v1.2 Classify and v1.3 analyze/indexes APIs.",
    )
    add_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Start the sandbox, print its URL first, then serve until interrupted."""
    try:
        sandbox = Sandbox(
            world=args.world,
            host=args.host,
            port=args.port,
            legacy=args.legacy,
            latency_ms=args.latency_ms,
            rate_limit_rpm=args.rate_limit_rpm,
            fault_rate=args.fault_rate,
            noise=args.noise,
            seed=args.seed,
            token_ttl_s=args.token_ttl_s,
            sunset=args.sunset,
            task_latency_ms=args.task_latency_ms,
            rate_limit_window_s=args.rate_limit_window_s,
        )
    except (WorldError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def _on_signal(signum: int, frame: Any) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _on_signal)
        signal.signal(signal.SIGTERM, _on_signal)
    sandbox.start()
    try:
        print(sandbox.base_url, flush=True)
        src = args.world or "built-in default world"
        print(f"serving {sandbox._world.describe()} from {src}", flush=True)
        legacy = ("retired: every v1.2 classify call answers 410 endpoint_deprecated" if args.legacy == "retired"
                  else "live (--legacy retired makes it answer 410 endpoint_deprecated)")
        print(f"legacy v1.2 Classify: {legacy}", flush=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Standalone entry point (``python -m classify_shim.sandbox``)."""
    parser = argparse.ArgumentParser(prog="classify-shim-sandbox",
                                     description="Offline emulator of the TwelveLabs Classify/analyze APIs.")
    add_arguments(parser)
    return run(parser.parse_args(argv))
