"""``samples="auto[:K]"``: which videos get more answers, and how many at a time.

One answer per video first. While some class of the video is a *close call* — its voted
``score`` and ``duration_ratio`` (after calibration) lie within :data:`SCORE_MARGIN` /
:data:`RATIO_MARGIN` of the edge of its pass region — the video gets :data:`STEP` more answers
(the vote stays odd), up to K. A video that ends with n answers is mapped exactly as
``samples=n`` maps it; the answers are the same questions under the same keys, so every one of
them is reused by ``samples=k`` and by later adaptive runs.

The margins were fitted in the fidelity lab on worlds (seeds 21-40) other than the ones its
figures are reported on (seeds 1-20); ``python bench/fidelity.py`` re-runs the fit
(docs/fidelity.md, "Adaptive samples").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Mapping, Optional, Sequence, Tuple

from classify_shim._calibration import CalibrationProfile
from classify_shim._request import ClassifyRequest, Thresholds

from ._mapping import judged, voted_numbers
from ._parse import ParsedAnswer, Segment

__all__ = ["RATIO_MARGIN", "SCORE_MARGIN", "STEP", "Margins", "answer_rounds", "close_call", "stages", "undecided"]

SCORE_MARGIN = 10.0
"""Class-score points either side of ``min_video_score`` within which a decision is close."""
RATIO_MARGIN = 0.05
"""``duration_ratio`` either side of ``min_duration_ratio`` within which a decision is close
(the single answer's ratio error is about 0.12 sd, docs/fidelity.md)."""
STEP = 2
"""Answers added per round: two keep the vote's count odd (1, 3, 5, ...)."""


@dataclass(frozen=True)
class Margins:
    """How close to its thresholds a class's numbers must be to ask for more answers."""

    score: float = SCORE_MARGIN
    ratio: float = RATIO_MARGIN


def close_call(score: float, ratio: float, thresholds: Thresholds, margins: Margins = Margins()) -> bool:
    """True when ``(score, ratio)`` lies within the margins of the edge of the pass region
    (``score >= min_video_score`` and ``ratio >= min_duration_ratio``), on either side: a small
    error in either number could flip the decision."""
    low_score = thresholds.min_video_score - margins.score
    low_ratio = thresholds.min_duration_ratio - margins.ratio
    if score < low_score or ratio < low_ratio:
        return False  # clearly failing on one number
    return (score < thresholds.min_video_score + margins.score
            or ratio < thresholds.min_duration_ratio + margins.ratio)


def undecided(
    answers: Sequence[Optional[ParsedAnswer]],
    exact: Mapping[str, Sequence[Segment]],
    duration: float,
    request: ClassifyRequest,
    calibration: Optional[CalibrationProfile] = None,
    margins: Margins = Margins(),
) -> List[str]:
    """The classes whose decision is a close call on the vote of ``answers`` (None: a failed
    answer). Only classes the model judged count: more answers cannot move a class judged by
    the transcript alone. No usable answer: none (the video is reported as with one answer)."""
    usable = [a for a in answers if a is not None]
    if not usable:
        return []
    out: List[str] = []
    for spec in request.classes:
        numbers, judged_by = voted_numbers(spec, usable, exact, duration)
        if judged_by == 0:
            continue
        score, ratio, thresholds = judged(spec, numbers, request, calibration)
        if close_call(score, ratio, thresholds, margins):
            out.append(spec.name)
    return out


def answer_rounds(most: int, adaptive: bool) -> Tuple[int, ...]:
    """Answer counts after each round of asking one video: ``(k,)`` for ``samples=k`` (all at
    once), :func:`stages` for ``samples="auto:K"``."""
    return stages(most) if adaptive else (most,)


def stages(most: int) -> Tuple[int, ...]:
    """Answer counts after each round, up to ``most``: 5 -> (1, 3, 5); 4 -> (1, 3, 4); 2 -> (1, 2)."""
    counts = list(range(1, most + 1, STEP))
    if counts[-1] != most:
        counts.append(most)
    return tuple(counts)
