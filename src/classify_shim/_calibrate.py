"""Fitting a calibration profile to saved v1.2 decisions, and judging it on held-out videos.

Data: per (video, class) the Pegasus backend's unthresholded ``score`` and ``duration_ratio``
(0 when it did not list the class) and what Classify decided: a pass with its score and ratio,
or an absence, which is *censored* -- the class missed ``min_video_score`` or
``min_duration_ratio``, by how much is unknown.

Fit per class (pooled over all classes when a class has too little data):

1. monotone maps (pool-adjacent-violators, :func:`classify_shim._stats.isotonic_fit`) from the
   Pegasus score to the saved score and from the Pegasus ratio to the saved ratio. Passes
   contribute their saved values; an absence whose other quantity clears its threshold must have
   failed on this one, so it contributes "at most just below the threshold" (the current fit,
   capped there), and the two maps are refitted in turn a few rounds;
2. threshold offsets (score points, ratio) chosen to maximise Cohen's kappa with the saved
   decisions on the fitting data, the smallest offsets among equals.

Judged by K-fold cross-validation over videos (a video's pairs stay in one fold): kappa of the
uncalibrated decisions and of the calibrated ones on held-out folds, each with a cluster
bootstrap interval over videos, and the gain's interval.
"""

from __future__ import annotations

import math
import random
import statistics
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ._calibration import CalibrationProfile, ClassCalibration, MonotoneMap
from ._request import Thresholds
from ._saved import SavedPair
from ._stats import bootstrap_interval, cohen_kappa, isotonic_fit

__all__ = [
    "MIN_CLASS_NEGATIVES",
    "MIN_CLASS_PAIRS",
    "MIN_CLASS_PASSES",
    "CrossValidation",
    "Example",
    "cross_validate",
    "examples_from",
    "fit_class",
    "fit_profile",
    "uncalibrated_pass",
]

MIN_CLASS_PAIRS = 30
MIN_CLASS_PASSES = 8
MIN_CLASS_NEGATIVES = 8
"""A class with fewer pairs, passes or absences than these uses the pooled fit."""

SCORE_MARGIN = 1.0
RATIO_MARGIN = 0.02
"""A censored target sits this far below its threshold (v1.2 rounded to 2 decimals)."""

MAX_SCORE_OFFSET = 25.0
MAX_RATIO_OFFSET = 0.4
CANDIDATES = 48
ROUNDS = 4
OFFSET_MIN_GAIN = 0.02
"""An offset is moved only when it raises the fitting data's kappa by this much: small data
always has some offset that fits it better, and most of those do not carry to new videos."""


@dataclass(frozen=True)
class Example:
    """One (video, class): what Pegasus gave, what Classify decided, under which thresholds."""

    video_id: str
    class_name: str
    score: float
    ratio: float
    passed: bool
    saved_score: Optional[float]
    saved_ratio: Optional[float]
    thresholds: Thresholds


Observed = Mapping[Tuple[str, str, str], Tuple[float, float]]
"""(question, video id, class name) -> Pegasus (score, duration_ratio) of the re-run."""


def examples_from(pairs: Sequence[SavedPair], observed: Observed,
                  skip: Sequence[Tuple[str, str]] = (), default: Optional[Thresholds] = None) -> List[Example]:
    """Join saved decisions with what Pegasus gave per (question, video, class) (absent: 0 and
    0). ``skip`` lists (question, video) runs Pegasus could not classify: left out, since their
    absence says nothing about the classes."""
    skipped = set(skip)
    out = []
    for p in pairs:
        if (p.question, p.video_id) in skipped:
            continue
        score, ratio = observed.get((p.question, p.video_id, p.class_name), (0.0, 0.0))
        out.append(Example(p.video_id, p.class_name, score, ratio, p.passed, p.score, p.duration_ratio,
                           p.thresholds or default or Thresholds()))
    return out


def uncalibrated_pass(e: Example) -> bool:
    """The Pegasus backend's own decision under the saved thresholds."""
    return e.thresholds.passes_class(e.score, e.ratio)


def _compress(knots: Sequence[Tuple[float, float]], low: float, high: float) -> MonotoneMap:
    """PAVA's steps as a continuous map: one knot per block (mean x, block value), anchored at
    (low, low) and (high, high) beyond the data, so the map stays strictly increasing between
    blocks and scores do not collapse into ties."""
    blocks: List[List[float]] = []  # [sum x, count, y]
    for x, y in knots:
        if blocks and blocks[-1][2] == y:
            blocks[-1][0] += x
            blocks[-1][1] += 1
        else:
            blocks.append([x, 1.0, y])
    out = [(b[0] / b[1], b[2]) for b in blocks]
    if out and out[0][0] > low and out[0][1] >= low:
        out.insert(0, (low, min(low, out[0][1])))
    if out and out[-1][0] < high and out[-1][1] <= high:
        out.append((high, max(high, out[-1][1])))
    return MonotoneMap(tuple(out))


def _fit_map(xs: Sequence[float], ys: Sequence[float], low: float, high: float) -> MonotoneMap:
    if not xs:
        return MonotoneMap()
    return _compress(isotonic_fit(xs, ys), low, high)


def _maps(data: Sequence[Example]) -> Tuple[MonotoneMap, MonotoneMap]:
    passes = [e for e in data if e.passed]
    absent = [e for e in data if not e.passed]
    f = _fit_map([e.score for e in passes], [e.saved_score or 0.0 for e in passes], 0.0, 100.0)
    g = _fit_map([e.ratio for e in passes], [e.saved_ratio or 0.0 for e in passes], 0.0, 1.0)
    for _ in range(ROUNDS):
        xs = [e.score for e in passes]
        ys = [e.saved_score or 0.0 for e in passes]
        for e in absent:
            if g(e.ratio) >= e.thresholds.min_duration_ratio:  # must have failed on the score
                xs.append(e.score)
                ys.append(min(f(e.score), e.thresholds.min_video_score - SCORE_MARGIN))
        f = _fit_map(xs, ys, 0.0, 100.0)
        xs = [e.ratio for e in passes]
        ys = [e.saved_ratio or 0.0 for e in passes]
        for e in absent:
            if f(e.score) >= e.thresholds.min_video_score:  # must have failed on the ratio
                xs.append(e.ratio)
                ys.append(min(g(e.ratio), e.thresholds.min_duration_ratio - RATIO_MARGIN))
        g = _fit_map(xs, ys, 0.0, 1.0)
    return f, g


def _candidates(values: Sequence[float], limit: float) -> List[float]:
    """Offsets worth trying: 0 and cut points between the data's margins, within +-limit."""
    vals = sorted(set(v for v in values if abs(v) <= limit))
    cuts = [0.0] + [(a + b) / 2 for a, b in zip(vals, vals[1:])]
    if len(cuts) > CANDIDATES:
        step = len(cuts) / CANDIDATES
        cuts = [0.0] + [cuts[int(i * step)] for i in range(CANDIDATES)]
    return sorted(set(cuts))


def _offsets(data: Sequence[Example], f: MonotoneMap, g: MonotoneMap) -> Tuple[float, float]:
    """Threshold offsets, starting from the ones that give back the uncalibrated decisions
    (``f(p) >= T + d0`` exactly when ``p >= T``), moved only where the fitting data's kappa rises
    by :data:`OFFSET_MIN_GAIN`: with little evidence the profile decides as the mapping did."""
    truth = [e.passed for e in data]
    base = [ClassCalibration(f, g).adjust(e.score, e.ratio) for e in data]
    s_margin = [s - e.thresholds.min_video_score for (s, _), e in zip(base, data)]
    r_margin = [r - e.thresholds.min_duration_ratio for (_, r), e in zip(base, data)]
    t_s = statistics.median(e.thresholds.min_video_score for e in data)
    t_r = statistics.median(e.thresholds.min_duration_ratio for e in data)
    # the lowest calibrated margin of a pair whose own number cleared its threshold: every
    # such pair still clears it (f and g are monotone), the others only on a rounding tie
    s_ok = [m for m, e in zip(s_margin, data) if e.score >= e.thresholds.min_video_score]
    r_ok = [m for m, e in zip(r_margin, data) if e.ratio >= e.thresholds.min_duration_ratio]
    ds0 = min(s_ok) if s_ok else round(f(t_s), 2) - t_s
    dr0 = min(r_ok) if r_ok else round(g(t_r), 2) - t_r

    def kappa(ds: float, dr: float) -> Tuple[float, float]:
        pred = [a >= ds - 1e-9 and b >= dr - 1e-9 for a, b in zip(s_margin, r_margin)]
        return cohen_kappa(pred, truth), -(abs(ds - ds0) / MAX_SCORE_OFFSET + abs(dr - dr0) / MAX_RATIO_OFFSET)

    s_cand = [c for c in _candidates(s_margin, MAX_SCORE_OFFSET + abs(ds0)) if abs(c - ds0) <= MAX_SCORE_OFFSET]
    r_cand = [c for c in _candidates(r_margin, MAX_RATIO_OFFSET + abs(dr0)) if abs(c - dr0) <= MAX_RATIO_OFFSET]
    ds, dr = ds0, dr0
    best = kappa(ds, dr)
    for _ in range(3):
        improved = False
        for c in s_cand:
            k = kappa(c, dr)
            if k[0] > best[0] + OFFSET_MIN_GAIN:
                best, ds, improved = k, c, True
        for c in r_cand:
            k = kappa(ds, c)
            if k[0] > best[0] + OFFSET_MIN_GAIN:
                best, dr, improved = k, c, True
        if not improved:
            break
    return ds, dr


def fit_class(data: Sequence[Example], pooled: bool = False) -> ClassCalibration:
    """Maps and offsets for one class (or, with ``pooled``, for all classes together)."""
    f, g = _maps(data)
    ds, dr = _offsets(data, f, g)
    return ClassCalibration(f, g, ds, dr, pooled)


def _enough(data: Sequence[Example]) -> bool:
    passes = sum(e.passed for e in data)
    return len(data) >= MIN_CLASS_PAIRS and passes >= MIN_CLASS_PASSES and len(data) - passes >= MIN_CLASS_NEGATIVES


def fit_profile(data: Sequence[Example], model: str, template: str,
                fitted: Optional[Mapping[str, Any]] = None) -> CalibrationProfile:
    """A profile: a class of its own where the class has enough data, else the pooled fit."""
    pooled = fit_class(data, pooled=True)
    by_class: Dict[str, List[Example]] = {}
    for e in data:
        by_class.setdefault(e.class_name, []).append(e)
    classes = {name: (fit_class(rows) if _enough(rows) else pooled) for name, rows in by_class.items()}
    return CalibrationProfile(model, template, classes, pooled, dict(fitted or {}))


@dataclass
class CrossValidation:
    """Held-out figures of a K-fold cross-validation over videos."""

    folds: int
    videos: int
    pairs: int
    kappa_before: float
    kappa_after: float
    interval_before: Tuple[float, float]
    interval_after: Tuple[float, float]
    interval_gain: Tuple[float, float]
    fold_kappas: List[Tuple[float, float]] = field(default_factory=list)
    changed: int = 0
    """Held-out pairs whose decision the profile changed."""
    level: float = 0.9

    @property
    def gain(self) -> float:
        return self.kappa_after - self.kappa_before

    @property
    def beats(self) -> bool:
        return self.kappa_after > self.kappa_before

    def to_dict(self) -> Dict[str, Any]:
        def r(x: float) -> Optional[float]:
            return None if math.isnan(x) else round(x, 4)

        return {
            "folds": self.folds, "videos": self.videos, "pairs": self.pairs, "level": self.level,
            "kappa_before": r(self.kappa_before), "kappa_after": r(self.kappa_after), "gain": r(self.gain),
            "interval_before": [r(x) for x in self.interval_before],
            "interval_after": [r(x) for x in self.interval_after],
            "interval_gain": [r(x) for x in self.interval_gain],
            "fold_kappas": [[r(a), r(b)] for a, b in self.fold_kappas],
            "changed_decisions": self.changed,
        }


def cross_validate(data: Sequence[Example], folds: int = 5, seed: int = 0, rounds: int = 300,
                   level: float = 0.9) -> CrossValidation:
    """Fit on K-1 folds of videos, decide the held-out fold, and compare with the saved decisions."""
    videos = sorted({e.video_id for e in data})
    if len(videos) < 2:
        raise ValueError("cross-validation needs saved results for at least 2 videos")
    k = max(2, min(folds, len(videos)))
    order = videos[:]
    random.Random(f"calibrate:{seed}").shuffle(order)
    fold_of = {v: i % k for i, v in enumerate(order)}
    truth: List[bool] = []
    before: List[bool] = []
    after: List[bool] = []
    owner: List[int] = []
    index = {v: i for i, v in enumerate(videos)}
    fold_kappas = []
    for f in range(k):
        train = [e for e in data if fold_of[e.video_id] != f]
        test = [e for e in data if fold_of[e.video_id] == f]
        if not test:
            continue
        profile = fit_profile(train, "", "")
        t = [e.passed for e in test]
        b = [uncalibrated_pass(e) for e in test]
        a = [profile.for_class(e.class_name).passes(e.score, e.ratio, e.thresholds) for e in test]
        fold_kappas.append((cohen_kappa(b, t), cohen_kappa(a, t)))
        truth += t
        before += b
        after += a
        owner += [index[e.video_id] for e in test]
    members: Dict[int, List[int]] = {}
    for i, v in enumerate(owner):
        members.setdefault(v, []).append(i)

    def pick(vids: Sequence[int]) -> List[int]:
        return [i for v in vids for i in members.get(v, [])]

    def stat(which: List[bool]) -> Any:
        return lambda vids: cohen_kappa([which[i] for i in pick(vids)], [truth[i] for i in pick(vids)])

    def gain(vids: Sequence[int]) -> float:
        idx = pick(vids)
        t = [truth[i] for i in idx]
        return cohen_kappa([after[i] for i in idx], t) - cohen_kappa([before[i] for i in idx], t)

    n = len(videos)
    return CrossValidation(
        folds=k, videos=n, pairs=len(truth),
        kappa_before=cohen_kappa(before, truth), kappa_after=cohen_kappa(after, truth),
        interval_before=bootstrap_interval(n, stat(before), rounds=rounds, level=level, seed=seed),
        interval_after=bootstrap_interval(n, stat(after), rounds=rounds, level=level, seed=seed),
        interval_gain=bootstrap_interval(n, gain, rounds=rounds, level=level, seed=seed),
        fold_kappas=fold_kappas, changed=sum(a != b for a, b in zip(after, before)), level=level,
    )
