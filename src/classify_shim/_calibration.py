"""Calibration profiles: per-class monotone maps fitted to a user's saved v1.2 results.

A profile (written by ``classify-shim calibrate``, read with ``calibration=PROFILE`` or
``TWELVELABS_CLASSIFY_CALIBRATION``) moves the Pegasus backend's class ``score`` and
``duration_ratio`` through monotone maps and shifts the request's thresholds by per-class
offsets, so that decisions reproduce what Classify decided for that user. It is keyed by the
model, the prompt template version and the class names it was fitted on: used on anything else
it still applies (pooled map for unknown classes), with one :class:`CalibrationWarning`.

The file is versioned JSON (``format``/``version``); this module is its one reader and writer.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

from ._exceptions import TwelveLabsError
from ._request import Thresholds
from ._stats import isotonic_predict

__all__ = [
    "PROFILE_FORMAT",
    "PROFILE_VERSION",
    "CalibrationProfile",
    "ClassCalibration",
    "MonotoneMap",
    "load_profile",
]

PROFILE_FORMAT = "classify-shim-calibration"
PROFILE_VERSION = 1

Knots = Tuple[Tuple[float, float], ...]


@dataclass(frozen=True)
class MonotoneMap:
    """A non-decreasing piecewise-linear map through ``knots`` (flat beyond the ends)."""

    knots: Knots = ()

    def __call__(self, x: float) -> float:
        return isotonic_predict(self.knots, x) if self.knots else x

    def to_list(self) -> list:  # type: ignore[type-arg]
        return [[round(a, 6), round(b, 6)] for a, b in self.knots]

    @classmethod
    def from_list(cls, where: str, value: Any) -> MonotoneMap:
        if not isinstance(value, list):
            raise TwelveLabsError(f"{where} must be a list of [x, y] pairs")
        knots = []
        for item in value:
            if (not isinstance(item, list) or len(item) != 2
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                               for v in item)):
                raise TwelveLabsError(f"{where}: {item!r} is not an [x, y] pair of numbers")
            knots.append((float(item[0]), float(item[1])))
        for (x0, y0), (x1, y1) in zip(knots, knots[1:]):
            if x1 < x0 or y1 < y0:
                raise TwelveLabsError(f"{where} is not non-decreasing at x={x1:g}")
        return cls(tuple(knots))


@dataclass(frozen=True)
class ClassCalibration:
    """What the profile does to one class: map score and ratio, shift its thresholds."""

    score: MonotoneMap = field(default_factory=MonotoneMap)
    duration_ratio: MonotoneMap = field(default_factory=MonotoneMap)
    score_offset: float = 0.0
    ratio_offset: float = 0.0
    pooled: bool = False
    """Fitted on every class together (this class had too little data of its own)."""

    def adjust(self, score: float, ratio: float) -> Tuple[float, float]:
        """Calibrated (score, duration_ratio), rounded as v1.2 rounded (2 decimals)."""
        s = min(100.0, max(0.0, self.score(score)))
        r = min(1.0, max(0.0, self.duration_ratio(ratio)))
        return round(s, 2), round(r, 2)

    def thresholds(self, t: Thresholds) -> Thresholds:
        """The request's thresholds with this class's offsets (what reproduces saved decisions)."""
        return replace(t, min_video_score=t.min_video_score + self.score_offset,
                       min_duration_ratio=t.min_duration_ratio + self.ratio_offset)

    def passes(self, score: float, ratio: float, t: Thresholds) -> bool:
        s, r = self.adjust(score, ratio)
        return self.thresholds(t).passes_class(s, r)

    def to_dict(self) -> Dict[str, Any]:
        return {"score": self.score.to_list(), "duration_ratio": self.duration_ratio.to_list(),
                "score_offset": round(self.score_offset, 4), "ratio_offset": round(self.ratio_offset, 4),
                "pooled": self.pooled}

    @classmethod
    def from_dict(cls, where: str, value: Any) -> ClassCalibration:
        if not isinstance(value, Mapping):
            raise TwelveLabsError(f"{where} must be an object")
        offsets = []
        for key in ("score_offset", "ratio_offset"):
            v = value.get(key, 0.0)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise TwelveLabsError(f"{where}.{key} must be a number")
            offsets.append(float(v))
        return cls(MonotoneMap.from_list(f"{where}.score", value.get("score", [])),
                   MonotoneMap.from_list(f"{where}.duration_ratio", value.get("duration_ratio", [])),
                   offsets[0], offsets[1], bool(value.get("pooled", False)))


@dataclass(frozen=True)
class CalibrationProfile:
    """A fitted profile; :meth:`for_class` is what the mapping applies."""

    model: str
    prompt_template: str
    classes: Mapping[str, ClassCalibration]
    pooled: ClassCalibration
    fitted: Mapping[str, Any] = field(default_factory=dict)
    """Provenance and the cross-validated figures (videos, pairs, kappa before/after)."""
    source: str = ""

    @property
    def class_names(self) -> Tuple[str, ...]:
        return tuple(self.classes)

    def for_class(self, name: str) -> ClassCalibration:
        return self.classes.get(name, self.pooled)

    @property
    def saved_thresholds(self) -> Optional[Tuple[float, float]]:
        """The loosest ``(min_video_score, min_duration_ratio)`` the saved results were made
        with (None in profiles that did not record them)."""
        value = self.fitted.get("saved_thresholds")
        if not isinstance(value, Mapping):
            return None
        got = []
        for v in (value.get("min_video_score"), value.get("min_duration_ratio")):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                return None
            got.append(float(v))
        return got[0], got[1]

    @property
    def samples(self) -> Union[int, str]:
        """``samples`` of the re-run the profile was fitted on: a count, or ``"auto:K"`` (1 in
        profiles without it)."""
        value = self.fitted.get("samples", 1)
        if isinstance(value, str) and value.startswith("auto:"):
            return value
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else 1

    def mismatch(self, models: Sequence[str], template: str, class_names: Sequence[str],
                 thresholds: Optional[Thresholds] = None, samples: Union[int, str] = 1) -> Optional[str]:
        """Why this profile does not fit a request, or None when it does."""
        problems = []
        used = [m for m in models if m]
        if used and any(m not in self.model.split(",") for m in used):
            problems.append(f"it was fitted on model {self.model}, the request used {', '.join(sorted(set(used)))}")
        if template != self.prompt_template:
            problems.append(f"it was fitted on prompt template {self.prompt_template}, this version uses {template}")
        unknown = [n for n in class_names if n not in self.classes]
        if unknown:
            shown = ", ".join(repr(n) for n in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
            problems.append(f"it has no map of its own for {shown} (the pooled map is used)")
        saved = self.saved_thresholds
        if thresholds is not None and saved is not None and (
                thresholds.min_video_score < saved[0] or thresholds.min_duration_ratio < saved[1]):
            problems.append(
                f"the request's thresholds (min_video_score {thresholds.min_video_score:g}, min_duration_ratio "
                f"{thresholds.min_duration_ratio:g}) are looser than the saved results' ({saved[0]:g}, {saved[1]:g}): "
                "saved results list only what passed, so the profile cannot know what passed below them")
        if samples != self.samples:
            problems.append(f"it was fitted on samples={self.samples}, the request uses samples={samples}")
        return "; ".join(problems) or None

    def to_dict(self) -> Dict[str, Any]:
        return {
            "format": PROFILE_FORMAT,
            "version": PROFILE_VERSION,
            "key": {"model": self.model, "prompt_template": self.prompt_template,
                    "classes": list(self.classes)},
            "classes": {name: c.to_dict() for name, c in self.classes.items()},
            "pooled": self.pooled.to_dict(),
            "fitted": dict(self.fitted),
        }

    def save(self, path: Union[str, Path]) -> None:
        target = Path(path).expanduser()
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(target)

    @classmethod
    def from_dict(cls, value: Any, source: str = "profile") -> CalibrationProfile:
        if not isinstance(value, Mapping) or value.get("format") != PROFILE_FORMAT:
            raise TwelveLabsError(f"{source}: not a calibration profile (no \"format\": \"{PROFILE_FORMAT}\")")
        if value.get("version") != PROFILE_VERSION:
            raise TwelveLabsError(
                f"{source}: calibration profile version {value.get('version')!r} is not supported "
                f"(this release reads version {PROFILE_VERSION}); fit it again with classify-shim calibrate"
            )
        key = value.get("key")
        if not isinstance(key, Mapping) or not isinstance(key.get("model"), str) \
                or not isinstance(key.get("prompt_template"), str):
            raise TwelveLabsError(f"{source}: key must name the model and the prompt_template")
        raw_classes = value.get("classes")
        if not isinstance(raw_classes, Mapping):
            raise TwelveLabsError(f"{source}: classes must be an object")
        classes = {str(n): ClassCalibration.from_dict(f"{source}: classes[{n!r}]", c) for n, c in raw_classes.items()}
        fitted = value.get("fitted")
        return cls(str(key["model"]), str(key["prompt_template"]), classes,
                   ClassCalibration.from_dict(f"{source}: pooled", value.get("pooled")),
                   dict(fitted) if isinstance(fitted, Mapping) else {}, source)


def load_profile(path: Union[str, Path]) -> CalibrationProfile:
    """Read a profile file; a missing or malformed one raises :class:`TwelveLabsError` naming it."""
    p = Path(path).expanduser()
    try:
        value = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TwelveLabsError(f"calibration profile {p}: no such file") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise TwelveLabsError(f"calibration profile {p}: cannot read it ({exc})") from None
    return CalibrationProfile.from_dict(value, str(p))
