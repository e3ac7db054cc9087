"""Numeric and ordering rules shared by every backend that builds v1.2 Classify results.

Kept in one place so the Pegasus mapping, the legacy adapter and the sandbox's checks agree on
how scores are rounded, how overlapping clips are counted and how results are ordered.
Every function here is pure and deterministic: same input, same output, byte for byte.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, List, Mapping, Optional, Sequence, Tuple, TypeVar

__all__ = [
    "NORMALIZE_TEMPERATURE",
    "SCORE_DECIMALS",
    "TIME_DECIMALS",
    "clamp",
    "class_sort_key",
    "clip_sort_key",
    "duration_ratio",
    "finite_number",
    "merge_intervals",
    "order_classes",
    "order_clips",
    "order_videos",
    "round_score",
    "round_time",
    "softmax_percentages",
    "union_length",
    "video_sort_key",
]

SCORE_DECIMALS = 2
"""v1.2 recordings show scores and ratios with two decimals (``98.29``, ``0.73``)."""

TIME_DECIMALS = 3
"""Clip times are kept to the millisecond: enough for any frame rate, stable across runs."""

NORMALIZE_TEMPERATURE = 100.0
"""Softmax temperature on the 0-100 score scale (i.e. softmax of ``score / 100``).

With it the recorded two-class example (96.23 vs 90.78) normalises to 51.36 / 48.64, within
0.1 point of the recorded 51.46 / 48.54; a sharper temperature would exaggerate small score gaps.
"""


def clamp(value: float, low: float, high: float) -> float:
    """``value`` limited to ``[low, high]``; NaN becomes ``low`` so it can never leak out."""
    if math.isnan(value):
        return low
    return max(low, min(high, value))


def _round(value: float, decimals: int) -> float:
    out = round(float(value), decimals)
    return 0.0 if out == 0 else out  # no "-0.0" in JSON


def round_score(value: float) -> float:
    """A score or ratio as emitted on the wire (two decimals)."""
    return _round(value, SCORE_DECIMALS)


def round_time(value: float) -> float:
    """A clip boundary as emitted on the wire (milliseconds)."""
    return _round(value, TIME_DECIMALS)


def finite_number(value: Any, *, text: bool = False) -> Optional[float]:
    """A JSON value as a finite float, else None: booleans, NaN, infinities and integers beyond
    float range are not numbers. ``text=True`` also reads a numeric string (``"12.5"``).

    The one rule for "is this JSON value a usable number", for request checks, answers and bodies.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and text:
        try:
            value = float(value)
        except ValueError:
            return None
    if not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def merge_intervals(intervals: Iterable[Tuple[float, float]]) -> List[Tuple[float, float]]:
    """Sorted, non-overlapping union of ``(start, end)`` intervals; empty/reversed ones dropped.

    Touching intervals are merged so that two clips ``0-5`` and ``5-9`` count as ``0-9``.
    """
    cleaned = sorted((float(s), float(e)) for s, e in intervals if e > s)
    merged: List[Tuple[float, float]] = []
    for start, end in cleaned:
        if merged and start <= merged[-1][1]:
            last_start, last_end = merged[-1]
            merged[-1] = (last_start, max(last_end, end))
        else:
            merged.append((start, end))
    return merged


def union_length(intervals: Iterable[Tuple[float, float]]) -> float:
    """Seconds covered by at least one interval (overlaps counted once)."""
    return sum(end - start for start, end in merge_intervals(intervals))


def duration_ratio(intervals: Iterable[Tuple[float, float]], duration: float) -> float:
    """Covered share of a video in ``[0, 1]``; 0 when the duration is unknown or not positive.

    Intervals are cut to ``[0, duration]`` first, so the ratio can never exceed 1 (v1.2 sometimes
    returned ``1.000008…``, which clients then had to tolerate).
    """
    if not math.isfinite(duration) or duration <= 0:
        return 0.0
    clipped = ((max(0.0, s), min(duration, e)) for s, e in intervals)
    return clamp(union_length(clipped) / duration, 0.0, 1.0)


def softmax_percentages(
    scores: Sequence[float], temperature: float = NORMALIZE_TEMPERATURE
) -> List[float]:
    """Softmax of ``scores / temperature`` as percentages with two decimals summing to 100.00.

    Rounded with the largest-remainder method (ties go to the higher score, then the earlier
    item), so the rounded values add up to exactly 100.00 and a higher score never gets a
    smaller share; naive rounding drifts by up to ``n * 0.005``.
    """
    if not scores:
        return []
    if temperature <= 0 or not math.isfinite(temperature):
        raise ValueError("temperature must be a positive finite number")
    top = max(scores)
    weights = [math.exp((s - top) / temperature) for s in scores]
    total = sum(weights)
    exact = [10_000.0 * w / total for w in weights]  # in hundredths of a percent
    floors = [math.floor(x) for x in exact]
    missing = 10_000 - sum(floors)
    by_remainder = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), -scores[i], i))
    for i in by_remainder[:missing]:
        floors[i] += 1
    return [f / 100.0 for f in floors]


def clip_sort_key(clip: Mapping[str, Any]) -> Tuple[Any, ...]:
    """Clips by score (desc), then start, end, option, prompt: a total, stable order."""
    return (-float(clip["score"]), float(clip["start"]), float(clip["end"]), str(clip["option"]),
            str(clip["prompt"]))


def class_sort_key(cls: Mapping[str, Any]) -> Tuple[Any, ...]:
    """Classes by score (desc), then name."""
    return (-float(cls["score"]), str(cls["name"]))


def video_sort_key(video: Mapping[str, Any]) -> Tuple[Any, ...]:
    """Videos by their best class score (desc); equal scores by evidence (the top class's
    duration ratio, then the sum of all class scores, both desc), only then by video id."""
    classes = list(video.get("classes", []))
    if not classes:
        return (0.0, 0.0, 0.0, str(video["video_id"]))
    top = max(classes, key=lambda c: (float(c["score"]), float(c.get("duration_ratio") or 0.0)))
    return (-float(top["score"]), -float(top.get("duration_ratio") or 0.0),
            -sum(float(c["score"]) for c in classes), str(video["video_id"]))


_Item = TypeVar("_Item", bound=Mapping[str, Any])
"""A clip, class or video body (the v1.2 TypedDicts, or any mapping with those keys)."""


def order_clips(clips: Iterable[_Item]) -> List[_Item]:
    return sorted(clips, key=clip_sort_key)


def order_classes(classes: Iterable[_Item]) -> List[_Item]:
    return sorted(classes, key=class_sort_key)


def order_videos(videos: Iterable[_Item]) -> List[_Item]:
    """v1.2 observed order: ``data[]`` by top class score, descending; ties by evidence, then id."""
    return sorted(videos, key=video_sort_key)
