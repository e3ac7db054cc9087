"""Fitting the margins of ``samples="auto"`` on lab worlds, in-process.

For each video the simulator writes K answers; they are parsed and mapped by the shim's own
functions (``parse_answer``, ``map_video_samples``), and for each point of a grid of margins
the adaptive rule (``_adaptive.undecided`` round by round, ``_adaptive.stages``) decides how
many of them the video gets. A video that ends with n answers is mapped exactly as
``samples=n`` maps it, so every grid point costs one mapping per round, not a client run.
The truth comes from the labels (``truth_passes``). Fit on some seeds, report on others: the
client-path figures in ``bench/fidelity.py`` use worlds the fit never saw. (A bench module:
the library's lab never imports an adapter.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from classify_shim._stats import cohen_kappa
from classify_shim.adapters.pegasus._adaptive import Margins, stages, undecided
from classify_shim.adapters.pegasus._mapping import map_video_samples
from classify_shim.adapters.pegasus._parse import AnswerError, ParsedAnswer, parse_answer
from classify_shim.lab import SimConfig, make_world, simulate_answers, truth_passes

__all__ = ["FitPoint", "choose", "fit_grid"]

SCORE_MARGINS = (0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 15.0, 20.0)
RATIO_MARGINS = (0.0, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2)


@dataclass(frozen=True)
class FitPoint:
    """One grid point: margins, pooled κ vs truth and mean model calls per video."""

    score_margin: float
    ratio_margin: float
    kappa: float
    calls_per_video: float


def fit_grid(seeds: Sequence[int], n_videos: int, threshold: Tuple[float, float], most: int = 5,
             config: Optional[SimConfig] = None,
             score_margins: Sequence[float] = SCORE_MARGINS, ratio_margins: Sequence[float] = RATIO_MARGINS,
             ) -> Tuple[List[FitPoint], Dict[int, float]]:
    """κ and calls of every grid point at ``threshold`` (min_video_score, min_duration_ratio),
    and the κ of fixed ``samples=k`` for k = 1, 3, ... ``most`` on the same answers."""
    from classify_shim._request import build_index_request

    cfg = config or SimConfig()
    rounds = stages(most)
    # Per video: its parsed answers, its request, and its pass set after each round.
    videos = []
    truth: List[bool] = []
    for seed in seeds:
        world = make_world(seed, n_videos)
        request = build_index_request(
            world.index_id, ["visual", "conversation", "text_in_video"], world.classes,
            threshold={"min_video_score": threshold[0], "min_clip_score": 1, "min_duration_ratio": threshold[1]})
        scripted = simulate_answers(world, cfg, 0, most)
        names = [spec.name for spec in request.classes]
        for video in world.videos:
            parsed: List[Optional[ParsedAnswer]] = []
            for answer in scripted[video.video_id]:
                try:
                    parsed.append(parse_answer(answer["text"], classes=request.classes, duration=video.duration))
                except AnswerError as exc:
                    parsed.append(exc.partial)
            passed = {}
            for n in rounds:
                item = map_video_samples(video.video_id, video.duration, parsed[:n], {}, request)
                passed[n] = {c["name"] for c in item["classes"]} if item else set()
            videos.append((video.duration, parsed, request, names, passed))
            truth += [truth_passes(video, n, world.class_sources(n), threshold[0], threshold[1]) for n in names]
    fixed = {}
    for n in rounds:
        if n % 2 or n == most:
            fixed[n] = cohen_kappa([c in v[4][n] for v in videos for c in v[3]], truth)
    points: List[FitPoint] = []
    for ms in score_margins:
        for mr in ratio_margins:
            margins = Margins(ms, mr)
            decided: List[bool] = []
            calls = 0
            for duration, parsed, request, names, passed in videos:
                have = rounds[0]
                for upto in rounds[1:]:
                    if not undecided(parsed[:have], {}, duration, request, None, margins):
                        break
                    have = upto
                calls += have
                decided += [c in passed[have] for c in names]
            points.append(FitPoint(ms, mr, cohen_kappa(decided, truth), calls / len(videos)))
    return points, fixed


def choose(points: Sequence[FitPoint], target: float) -> Optional[FitPoint]:
    """The rule of the fit: the cheapest grid point whose κ reaches ``target`` (``samples=3``'s
    κ on the fitting worlds: its quality for fewer calls); ties by higher κ."""
    good = [p for p in points if p.kappa >= target]
    return min(good, key=lambda p: (p.calls_per_video, -p.kappa)) if good else None
