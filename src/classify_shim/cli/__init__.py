"""``classify-shim`` command line: one sub-command per module, registered here."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Callable, List, Optional, Sequence

from .._version import __version__

__all__ = ["main"]

# module (relative to this package) -> it exposes ``register(subparsers)``.
_COMMANDS: Sequence[str] = (
    "classify_shim.cli._demo",
    "classify_shim.sandbox._cli",
    "classify_shim.cli._scan",
    "classify_shim.cli._doctor",
    "classify_shim.cli._classify",
    "classify_shim.cli._compare",
    "classify_shim.cli._calibrate",
    "classify_shim.cli._cache",
    "classify_shim.cli._gateway",
    "classify_shim.cli._docs",
)

EXIT_OK = 0
EXIT_FINDINGS = 1  # scan --check found legacy usage; compare found mismatches with --check
EXIT_USAGE = 2
EXIT_ERROR = 3  # an API / runtime error


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="classify-shim",
        description="Keep TwelveLabs Classify (v1.2) code running, and migrate off it.",
        epilog="Exit codes: 0 ok, 1 findings (scan --check / compare --check), 2 usage error, 3 API or runtime error.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a broken command must fail loudly, not vanish
                raise
            continue
        register: Callable[[argparse._SubParsersAction], None] = module.register  # type: ignore[type-arg]
        register(subparsers)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return EXIT_USAGE
    from .._exceptions import TwelveLabsError

    try:
        code: int = func(args)
    except TwelveLabsError as exc:
        print(f"classify-shim {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
