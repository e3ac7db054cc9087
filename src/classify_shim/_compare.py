"""Compare a legacy (v1.2) classify result with a Pegasus-served one, without any I/O.

One comparison rule for everything that compares: shadow mode (``classify_backend="shadow"``)
and the ``classify-shim compare`` command. Both sides are v1.2-shaped bodies
(``{"data": [{"video_id", "classes": [...]}], "page_info": {...}}``; ``page_info`` optional).

Per (video, class) it reports:

* pass/fail: a class "passes" for a video when the body lists it for that video (v1.2 lists
  only passing classes); with ``thresholds`` given, a listed class must also clear them;
* ``score_delta`` and ``duration_ratio_delta`` (Pegasus minus legacy, when both sides list
  the class);
* ``clip_iou``: temporal intersection-over-union of the union of each side's clip intervals
  (when both sides carry ``clips``).

A pair is a *mismatch* when pass/fail disagrees, or a delta or the clip overlap is outside
:class:`Tolerances`. Which videos are compared: those the legacy body lists, plus — when the
legacy body is complete (no next/previous page token) — those only Pegasus lists, since
absence from a complete legacy result means "no class passed".

:class:`ShadowReport` keeps shadow mode's running totals of these comparisons (it lives here, with
the rule it counts, so ``classify_shim.types`` can export it without importing the adapter).
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass, field, replace
from typing import Any, Deque, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ._request import Thresholds
from ._rules import finite_number, merge_intervals

__all__ = [
    "DEFAULT_TOLERANCES",
    "ClassComparison",
    "ComparisonSummary",
    "MismatchReport",
    "ShadowReport",
    "Tolerances",
    "clip_iou",
    "compare_results",
]


@dataclass(frozen=True)
class Tolerances:
    """How far the two backends may drift on a pair that both pass before it is a mismatch."""

    score: float = 15.0  # |score delta| on the 0-100 scale
    duration_ratio: float = 0.2  # |duration_ratio delta|
    clip_iou: float = 0.3  # minimum temporal IoU of the clip unions

    def to_dict(self) -> Dict[str, float]:
        return {"score": self.score, "duration_ratio": self.duration_ratio, "clip_iou": self.clip_iou}


DEFAULT_TOLERANCES = Tolerances()

# Reasons a pair is a mismatch, in report order.
REASON_PASS_FAIL = "pass_fail"
REASON_SCORE = "score"
REASON_DURATION_RATIO = "duration_ratio"
REASON_CLIPS = "clips"


@dataclass(frozen=True)
class ClassComparison:
    """One (video, class) pair as the two backends saw it."""

    video_id: str
    class_name: str
    legacy_pass: bool
    pegasus_pass: bool
    legacy_score: Optional[float] = None
    pegasus_score: Optional[float] = None
    legacy_duration_ratio: Optional[float] = None
    pegasus_duration_ratio: Optional[float] = None
    clip_iou: Optional[float] = None
    reasons: Tuple[str, ...] = ()

    @property
    def agree(self) -> bool:
        """Both backends reached the same pass/fail verdict."""
        return self.legacy_pass == self.pegasus_pass

    @property
    def mismatch(self) -> bool:
        return bool(self.reasons)

    @property
    def score_delta(self) -> Optional[float]:
        """Pegasus minus legacy score, when both sides list the class."""
        if self.legacy_score is None or self.pegasus_score is None:
            return None
        return self.pegasus_score - self.legacy_score

    @property
    def duration_ratio_delta(self) -> Optional[float]:
        if self.legacy_duration_ratio is None or self.pegasus_duration_ratio is None:
            return None
        return self.pegasus_duration_ratio - self.legacy_duration_ratio

    def to_dict(self) -> Dict[str, Any]:
        return {
            "video_id": self.video_id,
            "class": self.class_name,
            "legacy_pass": self.legacy_pass,
            "pegasus_pass": self.pegasus_pass,
            "legacy_score": self.legacy_score,
            "pegasus_score": self.pegasus_score,
            "score_delta": self.score_delta,
            "legacy_duration_ratio": self.legacy_duration_ratio,
            "pegasus_duration_ratio": self.pegasus_duration_ratio,
            "duration_ratio_delta": self.duration_ratio_delta,
            "clip_iou": self.clip_iou,
            "mismatch": self.mismatch,
            "reasons": list(self.reasons),
        }


def _mean(values: Sequence[float]) -> Optional[float]:
    return sum(values) / len(values) if values else None


@dataclass(frozen=True)
class MismatchReport:
    """The outcome of one comparison: every compared pair, and what was left out."""

    comparisons: Tuple[ClassComparison, ...]
    video_ids: Tuple[str, ...]
    class_names: Tuple[str, ...]
    skipped_videos: Tuple[str, ...] = ()  # e.g. videos Pegasus failed on
    tolerances: Tolerances = DEFAULT_TOLERANCES

    @property
    def mismatches(self) -> Tuple[ClassComparison, ...]:
        return tuple(c for c in self.comparisons if c.mismatch)

    @property
    def agreements(self) -> int:
        return sum(1 for c in self.comparisons if c.agree)

    @property
    def agreement_rate(self) -> Optional[float]:
        """Share of pairs with the same pass/fail verdict; None when nothing was compared."""
        return self.agreements / len(self.comparisons) if self.comparisons else None

    @property
    def mean_abs_score_delta(self) -> Optional[float]:
        return _mean([abs(d) for d in (c.score_delta for c in self.comparisons) if d is not None])

    def to_dict(self) -> Dict[str, Any]:
        return {
            "videos": list(self.video_ids),
            "classes": list(self.class_names),
            "skipped_videos": list(self.skipped_videos),
            "pairs": len(self.comparisons),
            "agreements": self.agreements,
            "agreement_rate": self.agreement_rate,
            "mismatches": len(self.mismatches),
            "mean_abs_score_delta": self.mean_abs_score_delta,
            "tolerances": self.tolerances.to_dict(),
            "comparisons": [c.to_dict() for c in self.comparisons],
        }


# --------------------------------------------------------------------------- intervals


def clip_iou(a: Iterable[Tuple[float, float]], b: Iterable[Tuple[float, float]]) -> Optional[float]:
    """Temporal IoU of the union of ``a``'s intervals and the union of ``b``'s.

    None when both are empty (nothing to compare); 0.0 when only one side has time covered.
    """
    ma, mb = merge_intervals(a), merge_intervals(b)
    len_a = sum(e - s for s, e in ma)
    len_b = sum(e - s for s, e in mb)
    inter = 0.0
    i = j = 0
    while i < len(ma) and j < len(mb):
        lo = max(ma[i][0], mb[j][0])
        hi = min(ma[i][1], mb[j][1])
        if hi > lo:
            inter += hi - lo
        if ma[i][1] <= mb[j][1]:
            i += 1
        else:
            j += 1
    union = len_a + len_b - inter
    if union <= 0:
        return None
    return inter / union


# --------------------------------------------------------------------------- body reading


@dataclass
class _Entry:
    score: Optional[float]
    duration_ratio: Optional[float]
    clips: Optional[List[Tuple[float, float]]]


@dataclass
class _Side:
    videos: Dict[str, Dict[str, _Entry]] = field(default_factory=dict)
    order: List[str] = field(default_factory=list)  # class names, first seen first
    complete: bool = True




def _clips(value: Any) -> Optional[List[Tuple[float, float]]]:
    if value is None:
        return None
    out: List[Tuple[float, float]] = []
    if isinstance(value, list):
        for clip in value:
            if isinstance(clip, Mapping):
                start, end = finite_number(clip.get("start")), finite_number(clip.get("end"))
                if start is not None and end is not None:
                    out.append((start, end))
    return out


def _read(body: Mapping[str, Any], name: str) -> _Side:
    if not isinstance(body, Mapping):
        raise TypeError(f"{name} must be a classify result body (a dict with 'data'), got {type(body).__name__}")
    data = body.get("data")
    if not isinstance(data, list):
        raise TypeError(f"{name}['data'] must be a list of videos, got {type(data).__name__}")
    side = _Side()
    info = body.get("page_info")
    if isinstance(info, Mapping):
        side.complete = not info.get("next_page_token") and not info.get("prev_page_token")
    for video in data:
        if not isinstance(video, Mapping) or not isinstance(video.get("video_id"), str):
            raise TypeError(f"{name}['data'] holds an item without a string 'video_id'")
        classes = side.videos.setdefault(video["video_id"], {})
        for item in video.get("classes") or []:
            if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
                continue
            cname = item["name"]
            classes[cname] = _Entry(
                finite_number(item.get("score")), finite_number(item.get("duration_ratio")), _clips(item.get("clips"))
            )
            if cname not in side.order:
                side.order.append(cname)
    return side


def _passes(entry: Optional[_Entry], thresholds: Optional[Thresholds]) -> bool:
    if entry is None:
        return False
    if thresholds is None:
        return True
    if entry.score is None or entry.duration_ratio is None:
        return False
    return thresholds.passes_class(entry.score, entry.duration_ratio)


def _pair(
    video_id: str, cname: str, legacy: Optional[_Entry], pegasus: Optional[_Entry],
    thresholds: Optional[Thresholds], tol: Tolerances,
) -> ClassComparison:
    lp, pp = _passes(legacy, thresholds), _passes(pegasus, thresholds)
    iou: Optional[float] = None
    if legacy is not None and pegasus is not None and legacy.clips is not None and pegasus.clips is not None:
        iou = clip_iou(legacy.clips, pegasus.clips)
    result = ClassComparison(
        video_id=video_id,
        class_name=cname,
        legacy_pass=lp,
        pegasus_pass=pp,
        legacy_score=legacy.score if legacy else None,
        pegasus_score=pegasus.score if pegasus else None,
        legacy_duration_ratio=legacy.duration_ratio if legacy else None,
        pegasus_duration_ratio=pegasus.duration_ratio if pegasus else None,
        clip_iou=iou,
    )
    reasons: List[str] = []
    if lp != pp:
        reasons.append(REASON_PASS_FAIL)
    score_delta, ratio_delta = result.score_delta, result.duration_ratio_delta
    if score_delta is not None and abs(score_delta) > tol.score:
        reasons.append(REASON_SCORE)
    if ratio_delta is not None and abs(ratio_delta) > tol.duration_ratio:
        reasons.append(REASON_DURATION_RATIO)
    if iou is not None and iou < tol.clip_iou:
        reasons.append(REASON_CLIPS)
    if not reasons:
        return result
    return replace(result, reasons=tuple(reasons))


def compare_results(
    legacy_body: Mapping[str, Any],
    pegasus_body: Mapping[str, Any],
    *,
    thresholds: Optional[Thresholds] = None,
    tolerances: Tolerances = DEFAULT_TOLERANCES,
    class_names: Optional[Iterable[str]] = None,
    video_ids: Optional[Iterable[str]] = None,
    skip_videos: Iterable[str] = (),
) -> MismatchReport:
    """Compare two v1.2-shaped result bodies pair by pair; never mutates its inputs.

    ``class_names`` — the requested classes (pairs both sides leave out count as agreeing
    fails); default: every class name either body lists. ``video_ids`` — the videos to compare;
    default: see the module docstring. ``skip_videos`` — videos to leave out (listed in the
    report as skipped), e.g. those the Pegasus backend failed on. ``thresholds`` — when given,
    a listed class must also clear them to count as passing.
    """
    legacy, pegasus = _read(legacy_body, "legacy_body"), _read(pegasus_body, "pegasus_body")
    skip = list(dict.fromkeys(skip_videos))
    if video_ids is None:
        scope = list(legacy.videos)
        if legacy.complete:
            scope += [v for v in pegasus.videos if v not in legacy.videos]
    else:
        scope = list(dict.fromkeys(video_ids))
    names = (
        list(dict.fromkeys(class_names))
        if class_names is not None
        else list(dict.fromkeys(legacy.order + pegasus.order))
    )
    compared = [v for v in scope if v not in skip]
    pairs = tuple(
        _pair(vid, cname, legacy.videos.get(vid, {}).get(cname), pegasus.videos.get(vid, {}).get(cname),
              thresholds, tolerances)
        for vid in compared
        for cname in names
    )
    return MismatchReport(
        comparisons=pairs,
        video_ids=tuple(compared),
        class_names=tuple(names),
        skipped_videos=tuple(v for v in skip if v in scope),
        tolerances=tolerances,
    )


# --------------------------------------------------------------------------- aggregation


@dataclass
class _ClassStats:
    pairs: int = 0
    agreements: int = 0
    mismatches: int = 0
    legacy_pass: int = 0
    pegasus_pass: int = 0
    both_pass: int = 0
    score_deltas: List[float] = field(default_factory=list)
    ratio_deltas: List[float] = field(default_factory=list)
    ious: List[float] = field(default_factory=list)

    def add(self, c: ClassComparison) -> None:
        self.pairs += 1
        self.agreements += c.agree
        self.mismatches += c.mismatch
        self.legacy_pass += c.legacy_pass
        self.pegasus_pass += c.pegasus_pass
        self.both_pass += c.legacy_pass and c.pegasus_pass
        if c.score_delta is not None:
            self.score_deltas.append(abs(c.score_delta))
        if c.duration_ratio_delta is not None:
            self.ratio_deltas.append(abs(c.duration_ratio_delta))
        if c.clip_iou is not None:
            self.ious.append(c.clip_iou)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "pairs": self.pairs,
            "agreements": self.agreements,
            "agreement_rate": self.agreements / self.pairs if self.pairs else None,
            "mismatches": self.mismatches,
            "legacy_pass": self.legacy_pass,
            "pegasus_pass": self.pegasus_pass,
            "both_pass": self.both_pass,
            "mean_abs_score_delta": _mean(self.score_deltas),
            "mean_abs_duration_ratio_delta": _mean(self.ratio_deltas),
            "mean_clip_iou": _mean(self.ious),
        }


class ComparisonSummary:
    """Running totals over many :class:`MismatchReport` s, with a per-class table.

    Not thread-safe by itself; shadow mode guards it with its own lock.
    """

    def __init__(self) -> None:
        self.reports = 0
        self._total = _ClassStats()
        self._per_class: Dict[str, _ClassStats] = {}
        self.skipped_videos = 0

    def add(self, report: MismatchReport) -> None:
        self.reports += 1
        self.skipped_videos += len(report.skipped_videos)
        for c in report.comparisons:
            self._total.add(c)
            self._per_class.setdefault(c.class_name, _ClassStats()).add(c)

    @property
    def pairs(self) -> int:
        return self._total.pairs

    @property
    def agreements(self) -> int:
        return self._total.agreements

    @property
    def mismatches(self) -> int:
        return self._total.mismatches

    @property
    def agreement_rate(self) -> Optional[float]:
        return self._total.agreements / self._total.pairs if self._total.pairs else None

    @property
    def mean_abs_score_delta(self) -> Optional[float]:
        return _mean(self._total.score_deltas)

    def per_class(self) -> Dict[str, Dict[str, Any]]:
        return {name: stats.to_dict() for name, stats in self._per_class.items()}

    def to_dict(self) -> Dict[str, Any]:
        total = self._total.to_dict()
        return {
            "reports": self.reports,
            "pairs": total["pairs"],
            "agreements": total["agreements"],
            "agreement_rate": total["agreement_rate"],
            "mismatches": total["mismatches"],
            "mean_abs_score_delta": total["mean_abs_score_delta"],
            "mean_abs_duration_ratio_delta": total["mean_abs_duration_ratio_delta"],
            "mean_clip_iou": total["mean_clip_iou"],
            "skipped_videos": self.skipped_videos,
            "per_class": self.per_class(),
        }


# --------------------------------------------------------------------------- shadow's running totals

#: Recent per-call reports kept on the aggregate report.
RECENT_REPORTS = 20


class ShadowReport:
    """Aggregate of every comparison a shadow backend made; thread-safe, live.

    Counters: ``calls`` (shadowable calls seen), ``sampled``, ``compared``,
    ``pegasus_errors`` (Pegasus runs that raised), ``legacy_errors`` (sampled calls whose
    legacy call raised, so nothing to compare), ``dropped`` (sampled while ``MAX_PENDING``
    comparisons were waiting), ``callback_errors`` (``on_mismatch`` raised),
    ``internal_errors`` (a comparison itself failed — a bug; logged with traceback).
    """

    def __init__(self, tolerances: Tolerances = DEFAULT_TOLERANCES) -> None:
        self.tolerances = tolerances
        self.calls = 0
        self.sampled = 0
        self.compared = 0
        self.pegasus_errors = 0
        self.legacy_errors = 0
        self.dropped = 0
        self.callback_errors = 0
        self.internal_errors = 0
        self.last_error: Optional[str] = None
        self._summary = ComparisonSummary()
        self._recent: Deque[MismatchReport] = collections.deque(maxlen=RECENT_REPORTS)
        self._lock = threading.Lock()

    def _bump(self, counter: str, error: Optional[BaseException] = None) -> None:
        with self._lock:
            setattr(self, counter, getattr(self, counter) + 1)
            if error is not None:
                self.last_error = f"{type(error).__name__}: {error}"[:500]

    def _add(self, report: MismatchReport) -> None:
        with self._lock:
            self.compared += 1
            self._summary.add(report)
            self._recent.append(report)

    @property
    def pairs(self) -> int:
        return self._summary.pairs

    @property
    def agreements(self) -> int:
        return self._summary.agreements

    @property
    def mismatches(self) -> int:
        return self._summary.mismatches

    @property
    def agreement_rate(self) -> Optional[float]:
        """Share of compared (video, class) pairs with the same pass/fail verdict."""
        return self._summary.agreement_rate

    @property
    def mean_abs_score_delta(self) -> Optional[float]:
        return self._summary.mean_abs_score_delta

    @property
    def recent(self) -> List[MismatchReport]:
        """The last few per-call reports, oldest first."""
        with self._lock:
            return list(self._recent)

    def per_class(self) -> Dict[str, Dict[str, Any]]:
        with self._lock:
            return self._summary.per_class()

    def to_dict(self) -> Dict[str, Any]:
        with self._lock:
            summary = self._summary.to_dict()
            return {
                "calls": self.calls,
                "sampled": self.sampled,
                "compared": self.compared,
                "pegasus_errors": self.pegasus_errors,
                "legacy_errors": self.legacy_errors,
                "dropped": self.dropped,
                "callback_errors": self.callback_errors,
                "internal_errors": self.internal_errors,
                "last_error": self.last_error,
                "pairs": summary["pairs"],
                "agreements": summary["agreements"],
                "agreement_rate": summary["agreement_rate"],
                "mismatches": summary["mismatches"],
                "mean_abs_score_delta": summary["mean_abs_score_delta"],
                "mean_abs_duration_ratio_delta": summary["mean_abs_duration_ratio_delta"],
                "mean_clip_iou": summary["mean_clip_iou"],
                "skipped_videos": summary["skipped_videos"],
                "per_class": summary["per_class"],
                "tolerances": self.tolerances.to_dict(),
            }

    def __repr__(self) -> str:
        return (
            f"ShadowReport(calls={self.calls}, sampled={self.sampled}, compared={self.compared}, "
            f"pairs={self.pairs}, mismatches={self.mismatches}, agreement_rate={self.agreement_rate!r}, "
            f"pegasus_errors={self.pegasus_errors})"
        )
