"""``classify-shim scan``: list legacy Classify usage in a code base, without running it."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, List

from ..scan import KINDS, scan_paths, write_text

__all__ = ["register", "run"]

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_ERROR = 3

_EPILOG = """\
Kinds reported: {kinds}.

Heuristics (no code is imported or run): any `<expr>.classify.videos/index/by_page_token(...)` call,
stored `client.classify` resources, `next()`/`for` over their results, and reads of `.score`,
`.duration_ratio`, `.detailed_scores`, `.clips`, `.next_page_token` on values that come from them
(followed through assignments, loops and function parameters across the scanned files), and raw
`requests`/`httpx`/`urllib`/`aiohttp` calls to /classify, /classify/bulk or /classify/{{token}}
(kind raw-http: point those at `classify-shim gateway`).
A plain `from twelvelabs import TwelveLabs` is only reported in files with other legacy usage
(use --all-imports to list every one). Silence a line with `# classify-shim: ignore` or
`# classify-shim: ignore[kind,...]`.

Exit codes: 0 ok (or findings without --check), 1 findings with --check, 2 usage error
(e.g. a path that does not exist), 3 unexpected error. Unreadable files and syntax errors
are listed under "errors" and do not change the exit code.
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "scan",
        help="find legacy Classify call sites (static analysis, never runs your code)",
        description=(
            "Find code written for the retired Classify API (twelvelabs 0.2/0.3, API v1.2): imports, "
            "classify calls, pagination, score/threshold logic and class definitions. Each finding "
            "links to the MIGRATION.md section that explains how to move it to v1.3 analyze."
        ),
        epilog=_EPILOG.format(kinds=", ".join(KINDS)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="files or directories to scan (directories are walked for *.py); default: the current directory",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text lines")
    parser.add_argument("--check", action="store_true", help="exit 1 when anything is found (for CI), else 0")
    parser.add_argument(
        "--all-imports",
        action="store_true",
        help="report every twelvelabs import, even in files without other legacy usage (step 1 helper)",
    )
    parser.add_argument(
        "--select",
        metavar="KINDS",
        help="comma-separated kinds to report (default: all)",
    )
    parser.add_argument(
        "--exclude",
        metavar="GLOB",
        action="append",
        default=[],
        help="skip files or directories matching this glob (relative path or name); repeatable",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out, err = sys.stdout, sys.stderr
    paths: List[str] = list(args.paths) or ["."]
    selected = None
    if args.select:
        selected = {k.strip() for k in str(args.select).split(",") if k.strip()}
        unknown = sorted(selected - set(KINDS))
        if unknown:
            err.write(
                f"classify-shim scan: unknown kind(s): {', '.join(unknown)}; known: {', '.join(KINDS)}\n"
            )
            return EXIT_USAGE
    try:
        report, missing = scan_paths(paths, exclude=list(args.exclude), all_imports=bool(args.all_imports))
    except Exception as exc:  # the scanner must never crash on user code; say what broke
        err.write(f"classify-shim scan: internal error: {type(exc).__name__}: {exc}\n")
        return EXIT_ERROR
    if missing:
        for path in missing:
            err.write(f"classify-shim scan: {path}: no such file or directory\n")
        return EXIT_USAGE
    if selected is not None:
        report.findings = [f for f in report.findings if f.kind in selected]
    if args.json:
        document: Any = report.as_dict()
        out.write(json.dumps(document, indent=2) + "\n")
    else:
        write_text(report, out, err)
    return EXIT_FINDINGS if args.check and report.findings else EXIT_OK
