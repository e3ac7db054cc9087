"""Run the whole client path on lab worlds and measure it against the truth.

Each run serves the simulator's answers as the sandbox's scripted model replies, calls
``classify.index`` through :class:`classify_shim.TwelveLabs` over HTTP with permissive
thresholds (every class that scores anything comes back, with clips and detailed scores), and
applies each threshold set afterwards exactly as v1.2 did (``score >= min_video_score`` and
``duration_ratio >= min_duration_ratio``). The sandbox's v1.2 emulation is run on the same world
as a second reference, never as the truth.
"""

from __future__ import annotations

import math
import statistics
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from classify_shim._stats import agreement, cohen_kappa, jaccard, precision_recall, spearman

from ._simulator import SimConfig, simulate_answers
from ._worlds import LabWorld, make_world, truth_coverage, truth_intervals, truth_passes, truth_score

__all__ = [
    "THRESHOLD_SETS",
    "Observation",
    "Pair",
    "RunResult",
    "max_samples",
    "metrics",
    "run_backend",
    "run_backend_counted",
    "run_config",
]

THRESHOLD_SETS: Dict[str, Tuple[float, float]] = {
    "default 75/0.5": (75.0, 0.5),
    "strict 90/0.7": (90.0, 0.7),
    "loose 60/0.25": (60.0, 0.25),
}
"""(min_video_score, min_duration_ratio); ``min_clip_score`` only filters listed clips."""

PERMISSIVE = {"min_video_score": 1, "min_clip_score": 1, "min_duration_ratio": 0.01}
KEY = "tlk_fidelity_lab_000000000000"

Pair = Tuple[str, str]  # (video id, class name)


@dataclass
class Observation:
    """What a backend returned for one (video, class), before any threshold."""

    score: float
    ratio: float
    clips: List[Tuple[float, float, float]] = field(default_factory=list)  # start, end, score
    max_score: Optional[float] = None
    avg_score: Optional[float] = None


RunResult = Dict[Pair, Observation]


def run_backend(world: LabWorld, scripted: Mapping[str, List[Dict[str, Any]]], backend: str,
                samples: Union[int, str] = 1, threshold: Optional[Tuple[float, float]] = None) -> RunResult:
    """Serve ``world`` (with these scripted answers) from a fresh sandbox and classify its index
    (``samples`` answers per video voted, see ``TwelveLabs(samples=...)``)."""
    return run_backend_counted(world, scripted, backend, samples, threshold)[0]


def run_backend_counted(world: LabWorld, scripted: Mapping[str, List[Dict[str, Any]]], backend: str,
                        samples: Union[int, str] = 1, threshold: Optional[Tuple[float, float]] = None
                        ) -> Tuple[RunResult, int]:
    """:func:`run_backend`, and the ``/v1.3/analyze`` calls the sandbox served. ``threshold``
    (``min_video_score``, ``min_duration_ratio``) is sent with the request instead of the
    permissive one: ``samples="auto"`` decides from the request's thresholds which videos get
    more answers, so only pairs that pass them come back."""
    from classify_shim import TwelveLabs
    from classify_shim.sandbox import Sandbox

    out: RunResult = {}
    sent = dict(PERMISSIVE)
    if threshold is not None:
        sent.update(min_video_score=threshold[0], min_duration_ratio=threshold[1])
    # Deprecation warnings are the product's, not the lab's output; the caller filters them
    # (``warnings.catch_warnings`` is not thread-safe and these runs overlap).
    with Sandbox(world.to_sandbox_world(dict(scripted))) as sb, \
            TwelveLabs(api_key=KEY, base_url=sb.base_url, classify_backend=backend, cache=False,
                       samples=samples) as client:
        result = client.classify.index(
            world.index_id, ["visual", "conversation", "text_in_video"], world.classes,
            threshold=sent, include_clips=True, show_detailed_score=True, page_limit=50,
        )
        if result.errors:
            raise RuntimeError(f"lab run failed for {len(result.errors)} video(s): {result.errors[:2]}")
        pages = [result.data, *list(result)]
        asked = sum(1 for r in sb.requests() if r["endpoint"] == "v1.3.analyze")
        served = sum(len(a) for a in scripted.values())
        if backend == "pegasus" and asked > served:  # the sandbox would have answered the rest itself
            raise RuntimeError(f"lab run asked {asked} questions for {served} scripted answers")
    for page in pages:
        for video in page:
            for cls in video.classes:
                detail = getattr(cls, "detailed_scores", None)
                out[(video.video_id, cls.name)] = Observation(
                    score=float(cls.score), ratio=float(cls.duration_ratio),
                    clips=[(float(c.start), float(c.end), float(c.score)) for c in (cls.clips or [])],
                    max_score=None if detail is None else float(detail.max_score),
                    avg_score=None if detail is None else float(detail.avg_score),
                )
    return out, asked


def passes(obs: Optional[Observation], mvs: float, mdr: float) -> bool:
    return obs is not None and obs.score >= mvs and obs.ratio >= mdr


def _union_iou(a: Sequence[Tuple[float, float]], b: Sequence[Tuple[float, float]]) -> float:
    def merged(xs: Sequence[Tuple[float, float]]) -> List[Tuple[float, float]]:
        out: List[Tuple[float, float]] = []
        for s, e in sorted(xs):
            if out and s <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], e))
            else:
                out.append((s, e))
        return out

    ma, mb = merged(a), merged(b)
    inter = 0.0
    for s1, e1 in ma:
        for s2, e2 in mb:
            inter += max(0.0, min(e1, e2) - max(s1, s2))
    total = sum(e - s for s, e in ma) + sum(e - s for s, e in mb) - inter
    return inter / total if total > 0 else 1.0


@dataclass
class ConfigRun:
    """Two runs (different simulator draws) of one config over several worlds."""

    config: SimConfig
    worlds: List[LabWorld]
    runs: List[List[RunResult]]  # [run][world]
    emulation: List[RunResult]  # [world]
    calls: List[List[int]] = field(default_factory=list)  # [run][world]: /analyze calls served


def run_config(config: SimConfig, seeds: Sequence[int], n_videos: int, emulation_cache: Dict[int, RunResult],
               n_runs: int = 2, samples: Union[int, str] = 1,
               threshold: Optional[Tuple[float, float]] = None) -> ConfigRun:
    """``n_runs`` runs (independent answers) of ``config`` on each world, ``samples`` answers
    per video voted by the client (``TwelveLabs(samples=...)``; ``"auto:K"`` is given K
    scripted answers per video and uses those it asks for). ``threshold``: see
    :func:`run_backend_counted` (the figures are then only valid at that threshold set)."""
    worlds = [make_world(s, n_videos) for s in seeds]
    scripted = max_samples(samples)
    # The runs wait on loopback HTTP far more than they compute: overlap them.
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [[pool.submit(run_backend_counted, w, simulate_answers(w, config, r, scripted), "pegasus",
                                samples, threshold)
                    for w in worlds]
                   for r in range(n_runs)]
        missing = {w.seed: pool.submit(run_backend, w, {}, "legacy") for w in worlds if w.seed not in emulation_cache}
        got = [[f.result() for f in row] for row in futures]
        for seed, fut in missing.items():
            emulation_cache[seed] = fut.result()
    emulation = [emulation_cache[w.seed] for w in worlds]
    return ConfigRun(config, worlds, [[r for r, _ in row] for row in got], emulation,
                     [[c for _, c in row] for row in got])


def max_samples(samples: Union[int, str]) -> int:
    """The most answers a video can be asked for with this ``samples`` setting."""
    from classify_shim._config import resolve_samples

    return resolve_samples(samples)[0]


def _pairs(worlds: Sequence[LabWorld]) -> List[Tuple[int, str, str]]:
    return [(i, v.video_id, c["name"]) for i, w in enumerate(worlds) for v in w.videos for c in w.classes]


def _median(xs: Sequence[float]) -> float:
    return statistics.median(xs) if xs else math.nan


def metrics(cr: ConfigRun, per_class: bool = False) -> Dict[str, Any]:
    """Every figure of the lab for one config: per threshold set, plus score-shape figures."""
    pairs = _pairs(cr.worlds)
    videos = {(i, v.video_id): v for i, w in enumerate(cr.worlds) for v in w.videos}
    run0 = cr.runs[0]
    out: Dict[str, Any] = {"config": cr.config.name, "pairs": len(pairs), "thresholds": {}}
    if cr.calls:
        out["calls_per_video"] = sum(cr.calls[0]) / len(videos)

    def obs(run: List[RunResult], i: int, vid: str, name: str) -> Optional[Observation]:
        return run[i].get((vid, name))

    for label, (mvs, mdr) in THRESHOLD_SETS.items():
        truth, shim, emu, rerun = [], [], [], []
        for i, vid, name in pairs:
            src = cr.worlds[i].class_sources(name)
            truth.append(truth_passes(videos[(i, vid)], name, src, mvs, mdr))
            shim.append(passes(obs(run0, i, vid, name), mvs, mdr))
            emu.append(passes(cr.emulation[i].get((vid, name)), mvs, mdr))
            if len(cr.runs) > 1:
                rerun.append(passes(obs(cr.runs[1], i, vid, name), mvs, mdr))
        null = [False] * len(pairs)
        p_t, r_t = precision_recall(shim, truth)
        p_e, r_e = precision_recall(shim, emu)
        row: Dict[str, Any] = {
            "truth_pass_rate": sum(truth) / len(truth),
            "agreement": agreement(shim, truth), "kappa": cohen_kappa(shim, truth),
            "jaccard": jaccard(shim, truth), "precision": p_t, "recall": r_t,
            "kappa_vs_emulation": cohen_kappa(shim, emu), "precision_vs_emulation": p_e,
            "recall_vs_emulation": r_e,
            "emulation_kappa_vs_truth": cohen_kappa(emu, truth),
            "run_to_run_kappa": cohen_kappa(shim, rerun) if rerun else math.nan,
            "null_agreement": agreement(null, truth), "null_kappa": cohen_kappa(null, truth),
        }
        if per_class:
            names = [c["name"] for c in cr.worlds[0].classes]
            row["per_class"] = {}
            for n in names:
                idx = [k for k, p in enumerate(pairs) if p[2] == n]
                t = [truth[k] for k in idx]
                s = [shim[k] for k in idx]
                pc, rc = precision_recall(s, t)
                row["per_class"][n] = {"agreement": agreement(s, t), "kappa": cohen_kappa(s, t),
                                       "precision": pc, "recall": rc, "truth_passes": sum(t)}
        out["thresholds"][label] = row
    # Score shape and continuous figures (run 0).
    s_shim, s_truth, s_emu_a, s_emu_b, ratio_err, ious = [], [], [], [], [], []
    for i, vid, name in pairs:
        v = videos[(i, vid)]
        src = cr.worlds[i].class_sources(name)
        ts = truth_score(v, name, src)
        o = obs(run0, i, vid, name)
        if ts > 0:
            s_shim.append(o.score if o else 0.0)
            s_truth.append(ts)
            ratio_err.append(abs((o.ratio if o else 0.0) - truth_coverage(v, name, src)))
            ious.append(_union_iou([(c[0], c[1]) for c in (o.clips if o else [])], truth_intervals(v, name, src)))
        e = cr.emulation[i].get((vid, name))
        if o is not None and e is not None:
            s_emu_a.append(o.score)
            s_emu_b.append(e.score)
    mvs, mdr = THRESHOLD_SETS["default 75/0.5"]
    passing = [o for r in run0 for o in r.values() if passes(o, mvs, mdr)]
    clip_scores = [c[2] for o in passing for c in o.clips]
    with_clips = [o for o in passing if o.max_score is not None and len({c[2] for c in o.clips}) > 1]
    ties = total_adj = 0
    for r in run0:
        tops: Dict[str, float] = {}
        for (vid, _), o in r.items():
            if passes(o, mvs, mdr):
                tops[vid] = max(tops.get(vid, 0.0), o.score)
        ordered = sorted(tops.values(), reverse=True)
        for a, b in zip(ordered, ordered[1:]):
            total_adj += 1
            ties += a == b
    pass_scores = [o.score for o in passing]
    out["shape"] = {
        "spearman_vs_truth": spearman(s_shim, s_truth),
        "spearman_vs_emulation": spearman(s_emu_a, s_emu_b),
        "ratio_mae": sum(ratio_err) / len(ratio_err) if ratio_err else math.nan,
        "clip_iou": sum(ious) / len(ious) if ious else math.nan,
        "pass_score_median": _median(pass_scores),
        "pass_score_min": min(pass_scores, default=math.nan),
        "pass_score_max": max(pass_scores, default=math.nan),
        "distinct_pass_scores": len(set(pass_scores)),
        "clip_score_median": _median(clip_scores),
        "top_score_ties": ties / total_adj if total_adj else 0.0,
        "avg_lt_max": (sum(1 for o in with_clips if (o.avg_score or 0) < (o.max_score or 0)) / len(with_clips)
                       if with_clips else math.nan),
    }
    return out
