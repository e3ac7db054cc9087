"""``classify-shim compare``: one request on ``legacy`` and on ``pegasus``, and where they differ.

The comparison itself is :func:`classify_shim._compare.compare_results`, the same rule shadow
mode applies, so the command and ``classify_backend="shadow"`` never disagree on what a
mismatch is.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, List, Optional, TextIO

from .._compare import DEFAULT_TOLERANCES, ClassComparison, MismatchReport, Tolerances, compare_results
from ._classify import (
    EXIT_OK,
    Collected,
    UsageError,
    add_request_arguments,
    cli_warnings,
    error_exit,
    parse_request,
    render_table,
    run_request,
)

__all__ = ["register", "run"]

EXIT_DISAGREE = 1
_COMPARE_PAGE_LIMIT = 50  # fewer page calls; results do not depend on the page size


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "compare",
        help="run one request on legacy and pegasus and report the differences per (video, class)",
        description=(
            "Run the same classify request through the legacy (v1.2) and the pegasus (v1.3 analyze) "
            "backends, every page, and report per (video, class): pass/fail on each side, the score "
            "and duration_ratio deltas (pegasus minus legacy) and the clip overlap (temporal IoU). "
            "A pair is a mismatch when pass/fail differs or a delta is past the tolerances."
        ),
        epilog=(
            "Exit codes: 0 ok (also when only scores drift), 1 with --check when a class passes on one "
            "backend and fails on the other, 2 usage error or invalid request, 3 API or runtime error "
            "(for example a retired legacy endpoint: nothing to compare against)."
        ),
    )
    add_request_arguments(parser)
    parser.add_argument("--no-clips", action="store_true", help="do not ask for clips (no IoU then)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--check", action="store_true", help="exit 1 on any pass/fail disagreement")
    parser.add_argument("--mismatches-only", action="store_true", help="list only mismatching pairs")
    parser.add_argument(
        "--score-tolerance",
        type=float,
        default=DEFAULT_TOLERANCES.score,
        metavar="POINTS",
        help=f"largest |score delta| that is not a mismatch (default {DEFAULT_TOLERANCES.score:g})",
    )
    parser.add_argument(
        "--ratio-tolerance",
        type=float,
        default=DEFAULT_TOLERANCES.duration_ratio,
        metavar="R",
        help=f"largest |duration_ratio delta| (default {DEFAULT_TOLERANCES.duration_ratio:g})",
    )
    parser.add_argument(
        "--min-iou",
        type=float,
        default=DEFAULT_TOLERANCES.clip_iou,
        metavar="IOU",
        help=f"smallest clip IoU that is not a mismatch (default {DEFAULT_TOLERANCES.clip_iou:g})",
    )
    parser.set_defaults(func=run)


def _complete(collected: Collected) -> Dict[str, Any]:
    """Every page was fetched: the body is complete (no tokens left to follow)."""
    return {"data": collected.videos, "page_info": {"next_page_token": "", "prev_page_token": ""}}


def _side(collected: Collected) -> Dict[str, Any]:
    return {"backend": collected.backend, "pages": collected.pages, "errors": collected.errors}


def _cell(passed: bool, score: Optional[float]) -> str:
    mark = "pass" if passed else "fail"
    return f"{mark} {score:.2f}" if score is not None else mark


def _delta(value: Optional[float], digits: int) -> str:
    return "-" if value is None else f"{value:+.{digits}f}"


def _print_report(
    report: MismatchReport, legacy: Collected, pegasus: Collected, only: bool, out: TextIO
) -> None:
    rows: List[List[str]] = [
        ["video_id", "class", "legacy", "pegasus", "d_score", "d_ratio", "clip_iou", "verdict"]
    ]
    shown: List[ClassComparison] = [c for c in report.comparisons if c.mismatch or not only]
    for c in shown:
        rows.append(
            [
                c.video_id,
                c.class_name,
                _cell(c.legacy_pass, c.legacy_score),
                _cell(c.pegasus_pass, c.pegasus_score),
                _delta(c.score_delta, 2),
                _delta(c.duration_ratio_delta, 3),
                "-" if c.clip_iou is None else f"{c.clip_iou:.2f}",
                "MISMATCH: " + ", ".join(c.reasons) if c.mismatch else "ok",
            ]
        )
    if len(rows) > 1:
        render_table(rows, out)
    pairs = len(report.comparisons)
    disagreements = sum(1 for c in report.comparisons if not c.agree)
    rate = "-" if report.agreement_rate is None else f"{100 * report.agreement_rate:.1f}%"
    mean = report.mean_abs_score_delta
    out.write(
        f"\n{pairs} pair(s) over {len(report.video_ids)} video(s) x {len(report.class_names)} class(es): "
        f"pass/fail agree on {pairs - disagreements} ({rate}), {disagreements} disagree; "
        f"{len(report.mismatches)} mismatch(es); mean |score delta| {'-' if mean is None else f'{mean:.2f}'}\n"
    )
    tol = report.tolerances
    out.write(
        f"tolerances: score {tol.score:g}, duration_ratio {tol.duration_ratio:g}, clip IoU >= {tol.clip_iou:g}; "
        f"legacy {legacy.pages} page(s), pegasus {pegasus.pages} page(s)\n"
    )
    for video in report.skipped_videos:
        out.write(f"skipped (pegasus could not classify it): {video}\n")


def run(args: argparse.Namespace) -> int:
    out, err = sys.stdout, sys.stderr
    args.all_pages = True
    try:
        tolerances = Tolerances(
            score=args.score_tolerance, duration_ratio=args.ratio_tolerance, clip_iou=args.min_iou
        )
        if tolerances.score < 0 or tolerances.duration_ratio < 0 or not 0 <= tolerances.clip_iou <= 1:
            raise UsageError("tolerances must be >= 0 and --min-iou from 0 to 1")
        request = parse_request(args, include_clips=not args.no_clips, show_detailed_score=False)
        if request.page_limit is None:
            request.page_limit = _COMPARE_PAGE_LIMIT
        with cli_warnings(err):
            legacy = run_request(args, request, "legacy", err, "legacy ")
            pegasus = run_request(args, request, "pegasus", err, "pegasus")
        report = compare_results(
            _complete(legacy),
            _complete(pegasus),
            tolerances=tolerances,
            class_names=request.class_names or None,
            video_ids=request.target if isinstance(request.target, list) else None,
            skip_videos=[e["video_id"] for e in pegasus.errors],
        )
    except Exception as exc:
        return error_exit("compare", exc, err)
    disagreements = sum(1 for c in report.comparisons if not c.agree)
    if args.json:
        document = {
            "report": report.to_dict(),
            "disagreements": disagreements,
            "legacy": _side(legacy),
            "pegasus": _side(pegasus),
        }
        out.write(json.dumps(document, indent=2) + "\n")
    else:
        _print_report(report, legacy, pegasus, bool(args.mismatches_only), out)
    return EXIT_DISAGREE if args.check and disagreements else EXIT_OK
