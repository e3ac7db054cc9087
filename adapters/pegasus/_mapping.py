"""From a parsed Pegasus answer (+ transcript matches) to one v1.2 ``data[]`` item.

Pegasus gives verbalized confidences and time spans, not Classify's scores. The formulas
below (explained with their reasons in ``docs/scoring.md``) turn them into the v1.2 numbers:
clip ``score``, class ``score``, ``duration_ratio`` and ``detailed_scores``; then the request's
thresholds, ordering and optional keys are applied exactly as v1.2 did. Pure and
deterministic: the same inputs give byte-identical ``json.dumps`` output.
"""

from __future__ import annotations

import contextlib
import functools
import math
from dataclasses import dataclass
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from classify_shim._bodies import ClassBody, ClipBody, VideoBody
from classify_shim._calibration import CalibrationProfile
from classify_shim._request import ClassifyRequest, ClassSpec, Thresholds
from classify_shim._rules import (
    clamp,
    class_sort_key,
    duration_ratio,
    merge_intervals,
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
    "CLIP_OWN_WEIGHT",
    "CLIP_SCALE",
    "COVERAGE_WEIGHT",
    "EVIDENCE_AT_PASS_MARK",
    "MAPPING_VERSION",
    "SEGMENT_WEIGHT",
    "STEEPNESS",
    "MappingOptions",
    "bridge_gaps",
    "calibrate",
    "class_evidence",
    "class_presence",
    "class_score",
    "clip_evidence",
    "clip_score",
    "coverage_estimate",
    "judged",
    "majority_intervals",
    "map_video",
    "map_video_samples",
    "mapping_options",
    "order_videos",
    "vote",
    "voted_numbers",
]

MAPPING_VERSION = 2
"""Mapping v2 goes with prompt template ``pegasus-classify-v2`` (docs/scoring.md)."""

ABSENT_CONFIDENCE_CAP = 20.0
"""Presence used for a class the model calls absent, whatever number it attaches."""

SEGMENT_WEIGHT = 0.3
"""Share of class evidence from the duration-weighted mean segment confidence (rest: presence)."""

CLIP_OWN_WEIGHT = 0.75
"""Share of a clip's evidence that comes from its own confidence; the rest from class presence."""

EVIDENCE_AT_PASS_MARK = 72.0
"""Evidence that maps to 75 (v1.2's default ``min_video_score``) at half coverage: a verbalised
"shown, but loosely" (70-89 on the prompt's scale) starts passing a little above 70, so a bare
"yes" (read as 70, ``DEFAULT_PRESENT_CONFIDENCE``) alone does not."""

STEEPNESS = 1.15
"""Slope of the map on the logit scale: evidence 87 gives about 90, 95 about 97 (recorded
passes: 86.6-100, median about 94)."""

COVERAGE_WEIGHT = 0.8
"""Logit points per unit of coverage around 0.5: coverage moves the score a few points, which
keeps scores continuous and ranks a fuller presence higher, as v1.2 did (100 at ratio 1)."""

CLIP_SCALE = 0.9
"""Clip scores sit below their class score (recorded: clips 74-92 under classes 86-100)."""

_LOGIT_PASS = math.log(0.75 / 0.25)


@dataclass(frozen=True)
class MappingOptions:
    """Choices of mapping v2 that the fidelity lab measures one by one (docs/fidelity.md)."""

    model_coverage: bool = True
    """Blend the model's own coverage estimate with the union of its segments."""
    bridge_gaps: bool = True
    """Count small gaps between a class's segments as covered (spans the model split)."""
    segment_confidence: bool = True
    """Class evidence includes the duration-weighted segment confidences."""


_OPTIONS = [MappingOptions()]


@contextlib.contextmanager
def mapping_options(options: MappingOptions) -> Iterator[None]:
    """Use ``options`` inside the block (for the lab's ablations; process-wide, not for production)."""
    _OPTIONS.append(options)
    try:
        yield
    finally:
        _OPTIONS.remove(options)


def _logit(p: float) -> float:
    p = min(1.0 - 1e-4, max(1e-4, p))
    return math.log(p / (1.0 - p))


def calibrate(evidence: float, coverage: float = 0.5) -> float:
    """Evidence (0-100) and coverage (0-1) to the v1.2 score scale (0-100), continuous.

    A logistic map on the logit scale: ``EVIDENCE_AT_PASS_MARK`` at half coverage gives 75,
    every input moves the score smoothly (no confidence-step lumps), and coverage adds a few
    points, so two equally confident answers differ by how much of the video they cover.
    """
    x = clamp(evidence, 0.0, 100.0) / 100.0
    z = (STEEPNESS * (_logit(x) - _logit(EVIDENCE_AT_PASS_MARK / 100.0)) + _LOGIT_PASS
         + COVERAGE_WEIGHT * (clamp(coverage, 0.0, 1.0) - 0.5))
    return 100.0 / (1.0 + math.exp(-z))


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
    """A segment's evidence 0-100: its own confidence, pulled a quarter toward class presence."""
    raw = CLIP_OWN_WEIGHT * segment_confidence + (1.0 - CLIP_OWN_WEIGHT) * presence
    return clamp(raw, 0.0, 100.0)


def clip_score(segment_confidence: float, presence: float, length_share: float = 0.0) -> float:
    """Clip ``score`` (unrounded): ``CLIP_SCALE`` x the calibrated clip evidence, where the
    clip's share of the video plays the part of coverage (longer clips score a little higher)."""
    return CLIP_SCALE * calibrate(clip_evidence(segment_confidence, presence), length_share)


def class_evidence(presence: float, segment_quality: Optional[float]) -> float:
    """``0.7 * presence + 0.3 * segment quality`` (presence alone without segments); a class the
    model calls absent keeps its (capped) presence, whatever its stray segments say."""
    if segment_quality is None or not _OPTIONS[-1].segment_confidence:
        return clamp(presence, 0.0, 100.0)
    return clamp((1.0 - SEGMENT_WEIGHT) * presence + SEGMENT_WEIGHT * segment_quality, 0.0, 100.0)


def class_score(presence: float, segment_quality: Optional[float], coverage: float) -> float:
    """Class ``score`` (unrounded): monotone in presence, segment quality and coverage."""
    return calibrate(class_evidence(presence, segment_quality), coverage)


def bridge_gaps(intervals: Sequence[Tuple[float, float]], duration: float) -> List[Tuple[float, float]]:
    """Intervals merged across gaps of at most ``max(1 s, 2 % of the video)``: a model that splits
    one presence into pieces leaves small holes that v1.2's continuous clips did not have."""
    limit = max(1.0, 0.02 * duration) if math.isfinite(duration) and duration > 0 else 1.0
    out: List[Tuple[float, float]] = []
    for a, b in sorted(intervals):
        if out and a - out[-1][1] <= limit:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def coverage_estimate(
    intervals: Sequence[Tuple[float, float]], duration: float, model_coverage: Optional[float], present: bool
) -> float:
    """``duration_ratio`` before rounding: the union of the class's spans (small gaps bridged),
    averaged with the model's own coverage estimate when it gave one for a class it calls
    present. Two independent, noisy estimates of the same share; the mean has less error than
    either when boundaries are uncertain (measured in docs/fidelity.md)."""
    opts = _OPTIONS[-1]
    spans = bridge_gaps(intervals, duration) if opts.bridge_gaps else list(intervals)
    union = duration_ratio(spans, duration)
    if not (math.isfinite(duration) and duration > 0):
        return 0.0
    if model_coverage is None or not present or not opts.model_coverage:
        return union
    if not intervals:
        return clamp(model_coverage, 0.0, 1.0)
    return clamp((union + model_coverage) / 2.0, 0.0, 1.0)


# A clip being built: (start, end, option, prompt) -> segment confidence
_ClipKey = Tuple[float, float, str, str]


def _clips(segments: Sequence[Segment], duration: float) -> Dict[_ClipKey, float]:
    """Segment confidence per clip: cut to the video, zero-length dropped, duplicates kept once."""
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
        if seg.confidence > out.get(key, -1.0):
            out[key] = seg.confidence
    return out


def _quality(clips: Mapping[_ClipKey, float]) -> Optional[float]:
    """Duration-weighted mean segment confidence, None without clips."""
    weight = sum(k[1] - k[0] for k in clips)
    if not clips or weight <= 0:
        return None
    return sum((k[1] - k[0]) * v for k, v in clips.items()) / weight


@dataclass(frozen=True)
class _Scored:
    """A passing class before ordering: its v1.2 body, plus the clip statistics that become
    ``detailed_scores`` once every class's score (and so the softmax share) is known."""

    body: ClassBody
    max_score: float
    avg_score: float


@dataclass(frozen=True)
class _Numbers:
    """One answer's v1.2 numbers for one class, before any calibration or threshold: rounded
    class ``score`` and ``duration_ratio``, and the clips with their rounded scores."""

    score: float
    ratio: float
    clips: Tuple[Tuple[_ClipKey, float], ...]


def _numbers(parsed: Optional[ParsedClass], exact_segments: Sequence[Segment], duration: float) -> _Numbers:
    """One class's numbers; a class without any segment (most of a many-class answer: absent,
    nothing to show) through :func:`_clipless_numbers`, the same computation memoised."""
    if exact_segments or (parsed is not None and parsed.segments):
        return _computed_numbers(parsed, exact_segments, duration)
    verdict = None if parsed is None else (parsed.present, parsed.confidence, parsed.coverage)
    return _clipless_numbers(verdict, duration, _OPTIONS[-1])


@functools.lru_cache(maxsize=1024)
def _clipless_numbers(
    verdict: Optional[Tuple[bool, float, Optional[float]]], duration: float, options: MappingOptions
) -> _Numbers:
    """:func:`_computed_numbers` of a class with no segments, which reads nothing but the
    verdict (present, confidence, coverage), the duration and the mapping options. ``options``
    is the one in force (``_OPTIONS[-1]``, read by the formulas themselves): it is part of the
    key so that numbers mapped under one set of options are never reused under another."""
    del options
    parsed = None
    if verdict is not None:
        present, confidence, coverage = verdict
        parsed = ParsedClass(name="", present=present, confidence=confidence, coverage=coverage)
    return _computed_numbers(parsed, (), duration)


def _computed_numbers(
    parsed: Optional[ParsedClass], exact_segments: Sequence[Segment], duration: float
) -> _Numbers:
    presence = class_presence(parsed, bool(exact_segments))
    model_segments = list(parsed.segments) if parsed is not None else []
    clips = _clips([*model_segments, *exact_segments], duration)
    present = (parsed is not None and parsed.present) or bool(exact_segments)
    model_cov = parsed.coverage if parsed is not None and parsed.present else None
    raw_ratio = coverage_estimate([(k[0], k[1]) for k in clips], duration, model_cov, present)
    quality = _quality(clips) if present else None
    known = math.isfinite(duration) and duration > 0
    scored = tuple(
        (k, round_score(clip_score(v, presence, (k[1] - k[0]) / duration if known else 0.0)))
        for k, v in clips.items()
    )
    return _Numbers(round_score(class_score(presence, quality, raw_ratio)), round_score(raw_ratio), scored)


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0


def majority_intervals(samples: Sequence[Sequence[Tuple[float, float]]]) -> List[Tuple[float, float]]:
    """The stretches of time covered by the spans of more than half of the samples (each
    sample's spans merged first, so one sample counts once), as maximal intervals."""
    need = len(samples) // 2 + 1
    events: List[Tuple[float, int]] = []
    for spans in samples:
        for start, end in merge_intervals(spans):
            if end > start:
                events += [(start, 1), (end, -1)]
    out: List[Tuple[float, float]] = []
    depth = 0
    opened: Optional[float] = None
    for t, step in sorted(events, key=lambda e: (e[0], e[1])):  # ends before starts at one instant
        depth += step
        if opened is None and depth >= need:
            opened = t
        elif opened is not None and depth < need:
            if t > opened:
                if out and out[-1][1] >= opened:
                    out[-1] = (out[-1][0], t)
                else:
                    out.append((opened, t))
            opened = None
    return out


def _voted_clips(samples: Sequence[_Numbers]) -> Tuple[Tuple[_ClipKey, float], ...]:
    """Clips of the vote: the majority intervals of the samples' clips; each takes, from every
    sample with a clip overlapping it, the clip that overlaps it most, and is scored with the
    median of those clips' scores; its option and prompt are the ones most of those clips name."""
    spans = [[(k[0], k[1]) for k, _ in s.clips] for s in samples]
    out: List[Tuple[_ClipKey, float]] = []
    for start, end in majority_intervals(spans):
        start, end = round_time(start), round_time(end)
        if not end > start:
            continue
        chosen: List[Tuple[_ClipKey, float]] = []
        for s in samples:
            best: Optional[Tuple[float, float, _ClipKey]] = None
            for k, v in s.clips:
                overlap = min(end, k[1]) - max(start, k[0])
                if overlap > 0 and (best is None or (overlap, v) > (best[0], best[1])):
                    best = (overlap, v, k)
            if best is not None:
                chosen.append((best[2], best[1]))
        if not chosen:
            continue
        names: Dict[Tuple[str, str], int] = {}
        for k, _ in chosen:
            names[(k[2], k[3])] = names.get((k[2], k[3]), 0) + 1
        option, prompt = min(names, key=lambda n: (-names[n], n))
        out.append(((start, end, option, prompt), round_score(_median([v for _, v in chosen]))))
    return tuple(out)


def vote(samples: Sequence[_Numbers]) -> _Numbers:
    """One class's numbers from k separately mapped answers: the median class score, the median
    ``duration_ratio`` and the majority clips (:func:`_voted_clips`). One answer is its own vote."""
    if len(samples) == 1:
        return samples[0]
    return _Numbers(round_score(_median([s.score for s in samples])),
                    round_score(_median([s.ratio for s in samples])), _voted_clips(samples))


def judged(
    spec: ClassSpec, numbers: _Numbers, request: ClassifyRequest, calibration: Optional[CalibrationProfile]
) -> Tuple[float, float, Thresholds]:
    """The class ``score`` and ``duration_ratio`` the thresholds are applied to, and those
    thresholds: the numbers as mapped, or as the user's calibration profile moves them."""
    score, ratio = numbers.score, numbers.ratio
    thresholds = request.threshold
    if calibration is not None:  # the user's profile, fitted to their saved v1.2 decisions
        fitted = calibration.for_class(spec.name)
        score, ratio = fitted.adjust(score, ratio)
        thresholds = fitted.thresholds(thresholds)
    return score, ratio, thresholds


def _finish(
    spec: ClassSpec, numbers: _Numbers, request: ClassifyRequest, calibration: Optional[CalibrationProfile]
) -> Optional[_Scored]:
    """Calibration, the request's thresholds and the class's v1.2 body from its numbers."""
    score, ratio, thresholds = judged(spec, numbers, request, calibration)
    if not thresholds.passes_class(score, ratio):
        return None
    body: ClassBody = {"name": spec.name, "score": score, "duration_ratio": ratio}
    scored = numbers.clips
    if request.include_clips:
        clip_bodies: List[ClipBody] = [
            {"start": k[0], "end": k[1], "score": v, "option": k[2], "prompt": k[3], "thumbnail_url": None}
            for k, v in scored
            if request.threshold.passes_clip(v)
        ]
        body["clips"] = order_clips(clip_bodies)
    scores = sorted(v for _, v in scored)
    top = round_score(max(scores, default=0.0))
    mean = round_score(sum(scores) / len(scores)) if scores else 0.0
    if scores and scores[0] < scores[-1] and mean >= top:
        mean = round_score(top - 0.01)  # rounding must not hide that the clips differ
    return _Scored(body, top, mean)


def _class_result(
    spec: ClassSpec,
    parsed: Optional[ParsedClass],
    exact_segments: Sequence[Segment],
    duration: float,
    request: ClassifyRequest,
    calibration: Optional[CalibrationProfile] = None,
) -> Optional[_Scored]:
    return _finish(spec, _numbers(parsed, exact_segments, duration), request, calibration)


def map_video(
    video_id: str,
    duration: float,
    answer: Optional[ParsedAnswer],
    exact: Mapping[str, Sequence[Segment]],
    request: ClassifyRequest,
    calibration: Optional[CalibrationProfile] = None,
) -> Optional[VideoBody]:
    """The v1.2 ``data[]`` item for one video, or None when no class passes the thresholds.

    ``answer`` is the (merged) model answer, None when no class needed the model; ``exact``
    maps class name to its transcript exact-match segments. Classes answered by neither count
    as not present. ``duration`` is the video length in seconds (unknown/<=0: nothing passes,
    since no duration ratio can be computed). ``calibration`` (a user's profile) maps class
    scores and ratios and shifts the thresholds per class before they are applied.
    """
    parsed_classes = answer.classes if answer is not None else {}
    results: List[_Scored] = []
    for spec in request.classes:
        r = _class_result(spec, parsed_classes.get(spec.name), exact.get(spec.name, ()), duration, request,
                          calibration)
        if r is not None:
            results.append(r)
    return _video_body(video_id, results, request)


def _video_body(video_id: str, results: List[_Scored], request: ClassifyRequest) -> Optional[VideoBody]:
    """The ``data[]`` item from a video's passing classes (None when none passes)."""
    if not results:
        return None
    ordered = sorted(results, key=lambda r: class_sort_key(r.body))
    normalized = softmax_percentages([r.body["score"] for r in ordered])
    classes: List[ClassBody] = []
    for r, norm in zip(ordered, normalized):
        body = r.body
        if request.show_detailed_score:
            body["detailed_scores"] = {"max_score": r.max_score, "avg_score": r.avg_score, "normalized_score": norm}
        classes.append(body)
    return {"video_id": video_id, "classes": classes}


def map_video_samples(
    video_id: str,
    duration: float,
    answers: Sequence[Optional[ParsedAnswer]],
    exact: Mapping[str, Sequence[Segment]],
    request: ClassifyRequest,
    calibration: Optional[CalibrationProfile] = None,
) -> Optional[VideoBody]:
    """:func:`map_video` over k answers to the same question (``samples=k``): each answer is
    mapped on its own, then every class is voted (:func:`vote`) before calibration and the
    thresholds. A class counts only the answers that judged it (an answer that failed, or
    left the class out, has no vote); one answer, or none, is :func:`map_video` itself."""
    usable = [a for a in answers if a is not None]
    if len(usable) <= 1:
        return map_video(video_id, duration, usable[0] if usable else None, exact, request, calibration)
    results: List[_Scored] = []
    for spec in request.classes:
        r = _finish(spec, voted_numbers(spec, usable, exact, duration)[0], request, calibration)
        if r is not None:
            results.append(r)
    return _video_body(video_id, results, request)


def voted_numbers(
    spec: ClassSpec, usable: Sequence[ParsedAnswer], exact: Mapping[str, Sequence[Segment]], duration: float
) -> Tuple[_Numbers, int]:
    """One class's numbers from the usable answers (at least one), and how many answers judged
    it: the vote of those that did; the first answer's reading when none did."""
    answered = [c for a in usable if (c := a.classes.get(spec.name)) is not None and c.answered]
    segments = exact.get(spec.name, ())
    if answered:
        return vote([_numbers(c, segments, duration) for c in answered]), len(answered)
    return _numbers(usable[0].classes.get(spec.name), segments, duration), 0


def order_videos(videos: List[VideoBody]) -> List[VideoBody]:
    """Videos by their top class score (desc), ties by video id; a new list."""
    return _order_videos(videos)
