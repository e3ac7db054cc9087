"""``classify-shim compare``: one request on ``legacy`` and on ``pegasus``, and where they differ.

With ``--legacy-results FILE...`` the legacy side is what Classify answered back then (saved
results, read by ``classify_shim._saved``), since the live endpoint is gone: the request comes
from the saved records unless ``--classes`` / ``--video-ids`` say otherwise, and only the
(video, class) pairs the saved results decided on are compared.

The comparison itself is :func:`classify_shim._compare.compare_results`, the same rule shadow
mode applies, so the command and ``classify_backend="shadow"`` never disagree on what a
mismatch is.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, List, Optional, TextIO, Union

from .._compare import DEFAULT_TOLERANCES, ClassComparison, MismatchReport, Tolerances, compare_results
from .._request import Thresholds
from ._classify import (
    EXIT_OK,
    Collected,
    RequestArgs,
    UsageError,
    _split,
    _threshold,
    add_request_arguments,
    cli_warnings,
    error_exit,
    load_classes,
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
    add_request_arguments(parser, required=False)
    parser.add_argument(
        "--legacy-results",
        nargs="+",
        metavar="FILE",
        help="saved v1.2 results (JSON/JSONL files or directories) as the legacy side, instead of the "
        "retired endpoint; --classes and --video-ids/--index-id then default to the saved request",
    )
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


def _saved_request(args: argparse.Namespace, saved: Any) -> RequestArgs:
    """The request to run on Pegasus: the command line's where given, else the saved one."""
    if args.classes:
        classes, options, threshold, conv = (load_classes(args.classes), _split(args.options),
                                             _threshold(args.threshold), args.conversation_option)
    else:
        asked = saved.requests()
        if len(asked) != 1:
            raise UsageError(
                f"--legacy-results: the saved results hold {len(asked)} different requests (classes, prompts, "
                "sources); pass --classes (and --options, --threshold) to say which one to compare"
            )
        r = asked[0]
        t = r.thresholds
        classes, options, conv = [dict(c.body) for c in r.classes], list(r.options), r.conversation_option
        threshold = _threshold(args.threshold) if args.threshold else {
            "min_video_score": t.min_video_score, "min_clip_score": t.min_clip_score,
            "min_duration_ratio": t.min_duration_ratio}
    target: Union[List[str], str]
    if args.video_ids is not None:
        kind, target = "videos", _split(args.video_ids)
    elif args.index_id is not None:
        kind, target = "index", str(args.index_id).strip()
    else:
        kind, target = "videos", list(saved.video_ids)
    return RequestArgs(kind=kind, target=target, options=options, classes=classes, conversation_option=conv,
                       threshold=threshold, page_limit=args.page_limit or _COMPARE_PAGE_LIMIT,
                       include_clips=not args.no_clips)


def _thresholds(value: Any) -> Thresholds:
    from .._request import _check_threshold

    return _check_threshold(value)[0]


def run(args: argparse.Namespace) -> int:
    if args.legacy_results:
        return _run_saved(args)
    if not args.classes or (args.video_ids is None and args.index_id is None):
        sys.stderr.write("classify-shim compare: --classes and one of --video-ids / --index-id are required "
                         "(or --legacy-results with saved v1.2 results)\n")
        return 2
    return _run_live(args)


def _run_saved(args: argparse.Namespace) -> int:
    from .._saved import SavedResultsError, load_saved

    out, err = sys.stdout, sys.stderr
    args.all_pages = True
    try:
        tolerances = _tolerances(args)
        try:
            saved = load_saved(args.legacy_results)
        except SavedResultsError as exc:
            raise UsageError(str(exc)) from None
        request = _saved_request(args, saved)
        known_classes = set(saved.class_names)
        names = [n for n in request.class_names if n in known_classes]
        # Only videos a saved record decided on for every compared class (SavedResults.decided_on).
        eligible = set(saved.decided_on(names))
        known_videos = set(saved.video_ids)
        considered = [v for v in request.target if v in known_videos] if isinstance(request.target, list) \
            else list(saved.video_ids)
        undecided = [v for v in considered if v not in eligible]
        if isinstance(request.target, list) and args.video_ids is None:
            request.target = [v for v in request.target if v in eligible]  # nothing to pay for elsewhere
        scope = [v for v in considered if v in eligible]
        if not scope or not names:
            raise UsageError("--legacy-results: the saved results decided on none of these videos and classes")
        legacy_body = saved.legacy_body(scope, names)
        legacy = Collected(backend="saved results", videos=legacy_body["data"], pages=len(saved.records))
        with cli_warnings(err):
            pegasus = run_request(args, request, "pegasus", err, "pegasus")
        report = compare_results(
            legacy_body,
            _complete(pegasus),
            thresholds=_thresholds(request.threshold),
            tolerances=tolerances,
            class_names=names,
            video_ids=scope,
            skip_videos=[e["video_id"] for e in pegasus.errors],
        )
    except Exception as exc:
        return error_exit("compare", exc, err)
    for note in saved.skipped:
        err.write(f"classify-shim compare: {note}\n")
    if undecided:
        err.write(f"classify-shim compare: {len(undecided)} saved video(s) have no saved decision on every one of "
                  f"these classes (asked other classes; not compared): {', '.join(undecided[:5])}\n")
    left_out = [v for v in request.target if v not in known_videos] if isinstance(request.target, list) else []
    if left_out:
        err.write(f"classify-shim compare: {len(left_out)} requested video(s) are not in the saved results "
                  f"(not compared): {', '.join(left_out[:5])}\n")
    return _finish(args, report, legacy, pegasus, out)


def _tolerances(args: argparse.Namespace) -> Tolerances:
    tolerances = Tolerances(score=args.score_tolerance, duration_ratio=args.ratio_tolerance, clip_iou=args.min_iou)
    if tolerances.score < 0 or tolerances.duration_ratio < 0 or not 0 <= tolerances.clip_iou <= 1:
        raise UsageError("tolerances must be >= 0 and --min-iou from 0 to 1")
    return tolerances


def _run_live(args: argparse.Namespace) -> int:
    out, err = sys.stdout, sys.stderr
    args.all_pages = True
    try:
        tolerances = _tolerances(args)
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
    return _finish(args, report, legacy, pegasus, out)


def _finish(args: argparse.Namespace, report: MismatchReport, legacy: Collected, pegasus: Collected,
            out: Any) -> int:
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
