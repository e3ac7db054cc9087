"""From a parsed Pegasus answer (+ transcript matches) to one v1.2 ``data[]`` item.

Pegasus gives verbalized confidences and time spans, not Classify's scores. The formulas
below (explained with their reasons in ``docs/scoring.md``) turn them into the v1.2 numbers:
clip ``score``, class ``score``, ``duration_ratio`` and ``detailed_scores``; then the request's
thresholds, ordering and optional keys are applied exactly as v1.2 did. Pure and
deterministic: the same inputs give byte-identical ``json.dumps`` output.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from classify_shim._request import ClassifyRequest, ClassSpec
from classify_shim._rules import (
    clamp,
    duration_ratio,
    order_classes,
    order_clips,
    round_score,
    round_time,
    softmax_percentages,
)
from classify_shim._rules import order_videos as _order_videos

from ._exact import EXACT_MATCH_CONFIDENCE
from ._parse import ParsedAnswer, ParsedClass, Segment

__all__ = [
    "ABSENT_CONFIDENCE_CAP",
    "CALIBRATION_EXPONENT",
    "CLIP_OWN_WEIGHT",
    "COVERAGE_SATURATION",
    "WEIGHT_BEST_CLIP",
    "WEIGHT_CONFIDENCE",
    "WEIGHT_COVERAGE",
    "calibrate",
    "class_evidence",
    "class_presence",
    "class_score",
    "clip_evidence",
    "clip_score",
    "map_video",
    "order_videos",
]

WEIGHT_CONFIDENCE = 0.50
WEIGHT_BEST_CLIP = 0.30
WEIGHT_COVERAGE = 0.20
COVERAGE_SATURATION = 0.5
"""Coverage earns its full share at half the video (v1.2's default ``min_duration_ratio``)."""

ABSENT_CONFIDENCE_CAP = 20.0
"""Presence used for a class the model calls absent, whatever number it attaches."""

CLIP_OWN_WEIGHT = 0.75
"""Share of a clip's evidence that comes from its own confidence; the rest from class presence."""

CALIBRATION_EXPONENT = 0.6
"""``calibrate(x) = 100 * (x / 100) ** 0.6`` maps evidence onto the v1.2 score scale, where
matches scored 80-98 and 75 was the default pass mark (see docs/scoring.md)."""


def calibrate(evidence: float) -> float:
    """Evidence (0-100, a blend of verbalized confidences) to the v1.2 score scale (0-100).

    Concave and monotone, fixed points 0 and 100: "moderately sure and well covered" (about
    68) lands near 80, "absent" (at most 25 or so) stays low. Verbalized confidences are
    blended before calibration, so the round numbers models give do not survive as such.
    """
    x = clamp(evidence, 0.0, 100.0) / 100.0
    return 100.0 * float(x**CALIBRATION_EXPONENT)


def class_presence(parsed: Optional[ParsedClass], exact_hits: bool) -> float:
    """How strongly the video shows the class, 0-100, before any clip evidence.

    The model's confidence when it says present; at most :data:`ABSENT_CONFIDENCE_CAP` when it
    says absent (its number may then mean "sure it is absent"); 100 when the transcript has a
    verbatim exact-match hit. No answer: 0.
    """
    model = 0.0
    if parsed is not None:
        model = parsed.confidence if parsed.present else min(parsed.confidence, ABSENT_CONFIDENCE_CAP)
    if exact_hits:
        model = max(model, EXACT_MATCH_CONFIDENCE)
    return clamp(model, 0.0, 100.0)


def clip_evidence(segment_confidence: float, presence: float) -> float:
    """A segment's evidence 0-100: its own confidence, pulled a quarter toward class presence.

    A span the model rates 95 inside a class it rates 40 is less trustworthy than the same span
    in a class it rates 95.
    """
    raw = CLIP_OWN_WEIGHT * segment_confidence + (1.0 - CLIP_OWN_WEIGHT) * presence
    return clamp(raw, 0.0, 100.0)


def clip_score(segment_confidence: float, presence: float) -> float:
    """Clip ``score`` (unrounded): calibrated clip evidence."""
    return calibrate(clip_evidence(segment_confidence, presence))


def class_evidence(presence: float, best_clip_evidence: float, coverage: float) -> float:
    """``0.5 * presence + 0.3 * best clip evidence + 0.2 * 100 * min(1, coverage / 0.5)``."""
    cover = min(1.0, max(0.0, coverage) / COVERAGE_SATURATION)
    raw = (WEIGHT_CONFIDENCE * presence + WEIGHT_BEST_CLIP * best_clip_evidence
           + WEIGHT_COVERAGE * 100.0 * cover)
    return clamp(raw, 0.0, 100.0)


def class_score(presence: float, best_clip_evidence: float, coverage: float) -> float:
    """Class ``score`` (unrounded): calibrated class evidence; monotone in every input,
    100 only with certain presence, a certain clip and half the video covered."""
    return calibrate(class_evidence(presence, best_clip_evidence, coverage))


# A clip being built: (start, end, option, prompt) -> clip evidence (uncalibrated)
_ClipKey = Tuple[float, float, str, str]


def _clips(
    segments: Sequence[Segment], presence: float, duration: float
) -> Dict[_ClipKey, float]:
    """Clip evidence per clip: cut to the video, zero-length dropped, duplicates kept once."""
    known = math.isfinite(duration) and duration > 0
    out: Dict[_ClipKey, float] = {}
    for seg in segments:
        start, end = seg.start, seg.end
        if known:
            start, end = min(start, duration), min(end, duration)
        start, end = round_time(start), round_time(end)
        if not end > start:
            continue
        key = (start, end, seg.source, seg.prompt)
        evidence = clip_evidence(seg.confidence, presence)
        if evidence > out.get(key, -1.0):
            out[key] = evidence
    return out


def _class_result(
    spec: ClassSpec,
    parsed: Optional[ParsedClass],
    exact_segments: Sequence[Segment],
    duration: float,
    request: ClassifyRequest,
) -> Optional[Dict[str, Any]]:
    presence = class_presence(parsed, bool(exact_segments))
    segments = [*(parsed.segments if parsed is not None else []), *exact_segments]
    clips = _clips(segments, presence, duration)
    ratio = round_score(duration_ratio([(k[0], k[1]) for k in clips], duration))
    score = round_score(class_score(presence, max(clips.values(), default=0.0), ratio))
    if not request.threshold.passes_class(score, ratio):
        return None
    result: Dict[str, Any] = {"name": spec.name, "score": score, "duration_ratio": ratio}
    scored = [(k, round_score(calibrate(v))) for k, v in clips.items()]
    if request.include_clips:
        result["clips"] = order_clips(
            {"start": k[0], "end": k[1], "score": v, "option": k[2], "prompt": k[3], "thumbnail_url": None}
            for k, v in scored
            if request.threshold.passes_clip(v)
        )
    scores = sorted(v for _, v in scored)
    result["_detail"] = (
        round_score(max(scores, default=0.0)),
        round_score(sum(scores) / len(scores)) if scores else 0.0,
    )
    return result


def map_video(
    video_id: str,
    duration: float,
    answer: Optional[ParsedAnswer],
    exact: Mapping[str, Sequence[Segment]],
    request: ClassifyRequest,
) -> Optional[Dict[str, Any]]:
    """The v1.2 ``data[]`` item for one video, or None when no class passes the thresholds.

    ``answer`` is the (merged) model answer, None when no class needed the model; ``exact``
    maps class name to its transcript exact-match segments. Classes answered by neither count
    as not present. ``duration`` is the video length in seconds (unknown/<=0: nothing passes,
    since no duration ratio can be computed).
    """
    parsed_classes = answer.classes if answer is not None else {}
    results: List[Dict[str, Any]] = []
    for spec in request.classes:
        r = _class_result(spec, parsed_classes.get(spec.name), exact.get(spec.name, ()), duration, request)
        if r is not None:
            results.append(r)
    if not results:
        return None
    ordered = order_classes(results)
    normalized = softmax_percentages([r["score"] for r in ordered])
    classes: List[Dict[str, Any]] = []
    for r, norm in zip(ordered, normalized):
        max_score, avg_score = r.pop("_detail")
        if request.show_detailed_score:
            r["detailed_scores"] = {"max_score": max_score, "avg_score": avg_score, "normalized_score": norm}
        classes.append(r)
    return {"video_id": video_id, "classes": classes}


def order_videos(videos: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Videos by their top class score (desc), ties by video id; a new list."""
    return _order_videos(videos)
