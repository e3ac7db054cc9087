"""``classify-shim calibrate``: fit a calibration profile to the v1.2 results a user saved.

Reads the saved results (``_saved``), says what re-running those videos on Pegasus costs (what
the store already answers costs nothing) and stops there unless ``--yes``; then re-runs them
through the normal client and cache with permissive thresholds (every class that scores at all
comes back), fits the profile (``_calibrate``), cross-validates it over videos and writes it only
when it beats the uncalibrated mapping on held-out data.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from .._saved import SavedRecord, SavedRequest, SavedRequestClass, SavedResults, SavedResultsError, load_saved
from ._classify import EXIT_OK, UsageError, cli_warnings, error_exit, load_classes

__all__ = ["register", "run"]

EXIT_REFUSED = 1
PERMISSIVE = {"min_video_score": 1, "min_clip_score": 1, "min_duration_ratio": 0.01}
"""The lowest thresholds v1.2 accepted: the re-run lists every class with any score, so the fit
sees Pegasus's numbers below the thresholds too (a class it does not list counts as 0)."""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "calibrate",
        help="fit a calibration profile to saved v1.2 results (re-runs those videos on Pegasus)",
        description=(
            "Read saved v1.2 Classify results (JSON or JSONL: response bodies, or {request, response} "
            "records), re-run those videos on Pegasus through the cache, fit per-class monotone maps "
            "for score and duration_ratio plus threshold offsets that reproduce the saved decisions, "
            "cross-validate over videos and write the profile (use it with calibration=PROFILE or "
            "TWELVELABS_CLASSIFY_CALIBRATION). Without --yes it only prints what the re-run costs."
        ),
        epilog=(
            "Exit codes: 0 profile written (or cost printed without --yes), 1 refused: the profile does "
            "not beat the uncalibrated mapping on held-out data, 2 usage error or unreadable saved "
            "results, 3 API or runtime error."
        ),
    )
    parser.add_argument("--saved", nargs="+", required=True, metavar="FILE",
                        help="saved results: .json / .jsonl files, or directories of them")
    parser.add_argument("--out", required=True, metavar="PROFILE", help="where to write the profile (JSON)")
    parser.add_argument("--yes", action="store_true", help="run (and pay for) the Pegasus re-run")
    parser.add_argument("--max-videos", type=int, metavar="N", help="use at most N saved videos (first N)")
    parser.add_argument("--classes", metavar="FILE|JSON",
                        help="classes with prompts, for saved bodies that carry no request")
    parser.add_argument("--options", default="visual,conversation", metavar="SOURCES",
                        help="sources for saved bodies that carry no request (default: visual,conversation)")
    parser.add_argument("--threshold", metavar="JSON",
                        help="thresholds the saved bodies without a request were made with (default: v1.2's)")
    parser.add_argument("--folds", type=int, default=5, metavar="K", help="cross-validation folds (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the folds and the bootstrap (default 0)")
    parser.add_argument("--base-url", metavar="URL", help="API host (default: TWELVELABS_BASE_URL)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON document")
    parser.set_defaults(func=run)


def _bare_request(args: argparse.Namespace) -> SavedRequest:
    from .._request import _check_threshold

    classes = []
    for i, item in enumerate(load_classes(args.classes)):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise UsageError(f"--classes: class {i} has no name")
        classes.append(SavedRequestClass(item["name"], tuple(item.get("prompts") or ()), item))
    threshold = json.loads(args.threshold) if args.threshold else None
    thresholds, _ = _check_threshold(threshold)
    options = tuple(o.strip() for o in args.options.split(",") if o.strip())
    return SavedRequest(tuple(classes), options, thresholds)


def _with_requests(saved: SavedResults, args: argparse.Namespace) -> SavedResults:
    """Records without a request get the one the command line describes (``--classes``)."""
    bare = [r for r in saved.records if r.request is None]
    if not bare:
        return saved
    if not args.classes:
        raise UsageError(
            f"{bare[0].where}: this record is a bare response body (no request); pass --classes with the "
            "classes and prompts it was asked for (and --options / --threshold if not the defaults)"
        )
    request = _bare_request(args)
    records: List[SavedRecord] = [r if r.request is not None else dataclasses.replace(r, request=request)
                                  for r in saved.records]
    return SavedResults(records, saved.skipped)


@dataclasses.dataclass
class _Job:
    """One re-run: a question (classes, prompts, sources) and the saved videos it was asked of."""

    request: SavedRequest
    video_ids: List[str]

    def kwargs(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"options": list(self.request.options),
                               "classes": [dict(c.body) for c in self.request.classes],
                               "threshold": PERMISSIVE, "page_limit": 50}
        if self.request.conversation_option:
            out["conversation_option"] = self.request.conversation_option
        return out


def _jobs(saved: SavedResults, keep: Optional[Set[str]]) -> List[_Job]:
    by_shape: Dict[str, _Job] = {}
    for rec in saved.records:
        assert rec.request is not None
        job = by_shape.setdefault(rec.request.shape(), _Job(rec.request, []))
        job.video_ids += [v for v in rec.universe if v not in job.video_ids and (keep is None or v in keep)]
    return [j for j in by_shape.values() if j.video_ids]


def _client(args: argparse.Namespace) -> Any:
    from .. import TwelveLabs

    # never the user's own profile: the fit starts from the uncalibrated mapping
    return TwelveLabs(classify_backend="pegasus", base_url=args.base_url, calibration=False)


def _estimate(client: Any, jobs: Sequence[_Job]) -> Tuple[int, int, int, List[str], int]:
    from .._request import build_videos_request
    from .._types import RequestOptions

    questions = cached = at_most = 0
    models: List[str] = []
    unreadable: List[str] = []
    for job in jobs:
        kw = job.kwargs()
        request = build_videos_request(job.video_ids, kw.pop("options"), kw.pop("classes"), **kw)
        est = client._backend.estimate(request, RequestOptions())
        questions += est.questions
        cached += est.cached
        at_most += est.at_most
        models += [m for m in est.models if m not in models]
        unreadable += est.unreadable
    return questions, cached, questions - cached, models, at_most


def _rerun(client: Any, jobs: Sequence[_Job]
           ) -> Tuple[Dict[Tuple[str, str, str], Tuple[float, float]], List[Tuple[str, str]], List[str], str]:
    observed: Dict[Tuple[str, str, str], Tuple[float, float]] = {}
    failed: List[Tuple[str, str]] = []
    models: List[str] = []
    template = ""
    for job in jobs:
        result = client.classify.videos(job.video_ids, **job.kwargs())
        pages = [result.data, *list(result)]
        stats = client._backend.last_run
        if stats is not None:
            models += [m for m in stats.models if m not in models]
            template = stats.template
        question = job.request.shape()
        failed += [(question, e.video_id) for e in result.errors]
        for page in pages:
            for video in page:
                for cls in video.classes:
                    observed[(question, video.video_id, cls.name)] = (float(cls.score), float(cls.duration_ratio))
    return observed, failed, models, template


def _loosest(saved: SavedResults) -> Dict[str, float]:
    """The loosest thresholds among the saved requests: below them the saves know nothing."""
    ts = [r.request.thresholds for r in saved.records if r.request is not None]
    if not ts:
        return {}
    return {"min_video_score": min(t.min_video_score for t in ts),
            "min_duration_ratio": min(t.min_duration_ratio for t in ts)}


def _interval(ci: Sequence[Optional[float]]) -> str:
    return "[" + ", ".join("n/a" if v is None else f"{v:.3f}" for v in ci) + "]"


def run(args: argparse.Namespace) -> int:
    out, err = sys.stdout, sys.stderr
    from .._calibrate import cross_validate, examples_from, fit_profile

    try:
        if args.max_videos is not None and args.max_videos < 2:
            raise UsageError("--max-videos: at least 2 (cross-validation needs held-out videos)")
        if args.folds < 2:
            raise UsageError("--folds: at least 2")
        try:
            saved = _with_requests(load_saved(args.saved), args)
        except SavedResultsError as exc:
            raise UsageError(str(exc)) from None
        keep = set(saved.video_ids[: args.max_videos]) if args.max_videos else None
        pairs = [p for p in saved.pairs() if keep is None or p.video_id in keep]
        jobs = _jobs(saved, keep)
        n_videos = len({p.video_id for p in pairs})
        out.write(
            f"saved results: {len(saved.records)} record(s), {n_videos} video(s), "
            f"{len({p.class_name for p in pairs})} class(es), {len(pairs)} decision(s) "
            f"({sum(p.passed for p in pairs)} passes; absent pairs count as censored fails)\n"
        )
        for note in saved.skipped:
            out.write(f"  {note}\n")
        with cli_warnings(err):
            client = _client(args)
            try:
                questions, cached, to_pay, models, at_most = _estimate(client, jobs)
                maybe = (f", and up to {at_most} more where an answer is a close call (samples="
                         f"{client.config.samples_setting})") if at_most else ""
                out.write(
                    f"re-run on Pegasus ({', '.join(models) or 'no model'}): {n_videos} video(s) in "
                    f"{len(jobs)} request(s), {questions} /analyze call(s): {cached} cached (cost 0), "
                    f"{to_pay} to pay for{maybe}\n"
                )
                if not args.yes:
                    out.write(f"nothing spent; run again with --yes to make the {to_pay} call(s) and fit\n")
                    return EXIT_OK
                observed, failed, used, template = _rerun(client, jobs)
                samples = client.config.samples_setting
            finally:
                client.close()
        data = examples_from(pairs, observed, failed)
        if failed:
            lost = sorted({v for _, v in failed})
            out.write(f"left out ({len(lost)} video(s) Pegasus could not classify): {', '.join(lost[:5])}\n")
        cv = cross_validate(data, folds=args.folds, seed=args.seed)
        model = ",".join(sorted(set(used or models))) or "unknown"
        fitted = {"videos": cv.videos, "pairs": len(data), "passes": sum(e.passed for e in data),
                  "files": sorted({Path(p).name for p in args.saved}),
                  "saved_thresholds": _loosest(saved), "samples": samples,
                  "cross_validation": cv.to_dict()}
        profile = fit_profile(data, model, template, fitted)
    except Exception as exc:
        return error_exit("calibrate", exc, err)
    own = sum(1 for c in profile.classes.values() if not c.pooled)
    cvd = cv.to_dict()
    if args.json:
        out.write(json.dumps({"profile": str(args.out) if cv.beats else None, **fitted,
                              "classes_own_map": own, "classes_pooled": len(profile.classes) - own}, indent=2) + "\n")
    else:
        out.write(
            f"fit: {len(profile.classes)} class(es), {own} with a map of their own, "
            f"{len(profile.classes) - own} pooled\n"
            f"held-out ({cv.folds}-fold over {cv.videos} videos, {cv.pairs} pairs, {int(cv.level * 100)}% intervals): "
            f"kappa before {cv.kappa_before:.3f} {_interval(cvd['interval_before'])}, "
            f"after {cv.kappa_after:.3f} {_interval(cvd['interval_after'])}, "
            f"gain {cv.gain:+.3f} {_interval(cvd['interval_gain'])}; {cv.changed} decision(s) changed\n"
        )
    if not cv.beats:
        err.write(
            f"classify-shim calibrate: profile not written: it does not beat the uncalibrated mapping on "
            f"held-out data (kappa {cv.kappa_before:.3f} -> {cv.kappa_after:.3f})\n"
        )
        return EXIT_REFUSED
    try:
        profile.save(args.out)
    except OSError as exc:
        err.write(f"classify-shim calibrate: cannot write {args.out}: {exc}\n")
        return 3
    if not args.json:
        out.write(f"wrote {args.out} (model {profile.model}, template {profile.prompt_template})\n")
    return EXIT_OK
