"""Turn what Pegasus actually returns into a checked :class:`ParsedAnswer` (answer reading).

Finding and repairing the JSON lives in ``_json`` (linear time, hostile-input limits), reading
single values (numbers, times, confidences) in ``_values``; this module decides what the
answer says about each requested class.

Structured output makes well-formed answers the norm, but not a guarantee: fences and prose
around the JSON, truncation at ``max_tokens``, numbers as strings, other confidence scales,
clock-style timestamps, re-cased or invented labels and out-of-range times all occur. Each is
repaired here when the intent is unambiguous, and every repair is recorded in
``ParsedAnswer.notes`` so a surprising score can be traced back to the raw answer. Anything
that cannot be read raises :class:`AnswerError` so the caller can retry once, then report.
"""

from __future__ import annotations

import math
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from pydantic import BaseModel, ConfigDict, Field, model_validator

from classify_shim._request import ClassSpec

from ._json import HostileAnswer, find_json, loads, recover_items, scan_json
from ._prompt import model_sources
from ._values import (
    SOURCES,
    WORD_CONFIDENCE,
    RawConf,
    infer_multiplier,
    key,
    lookup,
    lookup_all,
    parse_bool,
    parse_confidence_word,
    parse_coverage,
    parse_timestamp,
    past_end_clock,
    raw_confidence,
    source_of,
    tokens,
)

__all__ = [
    "DEFAULT_PRESENT_CONFIDENCE",
    "WORD_CONFIDENCE",
    "AnswerError",
    "ParsedAnswer",
    "ParsedClass",
    "Segment",
    "merge_answers",
    "merge_samples",
    "parse_answer",
    "parse_confidence_word",
    "parse_timestamp",
]

DEFAULT_PRESENT_CONFIDENCE = 70.0
"""Confidence assumed when the model says ``present: true`` but gives no number and no segment
confidence: just under the default ``min_video_score`` so a bare "yes" needs evidence to pass."""

_NAME_KEYS = ("name", "class", "class_name", "classname", "label", "category")
_PRESENT_KEYS = ("present", "is_present", "detected", "matched", "match", "matches_class", "exists")
_CONF_KEYS = ("confidence", "score", "probability", "likelihood", "certainty", "confidence_score")
_SEGMENTS_KEYS = ("segments", "clips", "timestamps", "intervals", "evidence", "occurrences",
                  "time_ranges", "moments", "matches")
_START_KEYS = ("start", "start_time", "starttime", "start_sec", "start_seconds", "start_s", "from",
               "begin", "start_timestamp")
_END_KEYS = ("end", "end_time", "endtime", "end_sec", "end_seconds", "end_s", "to", "finish", "stop",
             "end_timestamp")
_RANGE_KEYS = ("time", "timestamp", "range", "time_range", "span", "interval")
_PROMPT_KEYS = ("prompt", "matched_prompt", "prompt_text", "query", "description")
_COVERAGE_KEYS = ("coverage", "coverage_percent", "coverage_pct", "share", "share_of_video",
                  "percent_of_video", "fraction_of_video", "portion")
_SOURCE_KEYS = ("source", "option", "modality", "sources", "channel")
_WRAPPER_KEYS = ("classes", "results", "classifications", "labels", "predictions", "data",
                 "answer", "output", "response", "result")


# --------------------------------------------------------------------------------------------
# Result models
# --------------------------------------------------------------------------------------------


class Segment(BaseModel):
    """A time span where one prompt of a class matched on one source (seconds, 0-100)."""

    model_config = ConfigDict(frozen=True)

    start: float = Field(ge=0)
    end: float = Field(ge=0)
    prompt: str
    source: str
    confidence: float = Field(ge=0, le=100)

    @model_validator(mode="after")
    def _positive_length(self) -> Segment:
        if not self.end > self.start:
            raise ValueError("segment end must be after start")
        if self.source not in SOURCES:
            raise ValueError(f"unknown source {self.source!r}")
        return self


class ParsedClass(BaseModel):
    """The model's verdict on one requested class (``answered`` False when it was missing)."""

    model_config = ConfigDict(frozen=True)

    name: str
    present: bool
    confidence: float = Field(ge=0, le=100)
    segments: List[Segment] = Field(default_factory=list)
    answered: bool = True
    coverage: Optional[float] = Field(default=None, ge=0, le=1)
    """The model's own estimate of the share of the video where the class is present (0-1),
    None when it gave none (prompt template v1 did not ask for it)."""


class ParsedAnswer(BaseModel):
    """Every class sent to the model, keyed by its REQUESTED name, plus repair notes."""

    model_config = ConfigDict(frozen=True)

    classes: Dict[str, ParsedClass]
    notes: List[str] = Field(default_factory=list)
    truncated: bool = False


class AnswerError(ValueError):
    """The answer cannot be used as is. ``kind`` is ``"truncated"`` or ``"invalid"``.

    For truncated answers ``partial`` holds the complete class objects that could still be
    read (classes after the cut count as not present), or None when nothing could be read.
    Callers retry once (with :func:`~._prompt.bigger_budget` for truncation) and only then
    fall back to ``partial`` or report the video.
    """

    def __init__(self, kind: str, message: str, partial: Optional[ParsedAnswer] = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.partial = partial

    def __repr__(self) -> str:
        return f"AnswerError(kind={self.kind!r}, message={self.message!r})"


# --------------------------------------------------------------------------------------------
# From JSON to entries
# --------------------------------------------------------------------------------------------


def _keyed(value: Mapping[Any, Any]) -> List[Tuple[str, Dict[str, Any]]]:
    """Entries of a dict keyed by class name: values are objects, booleans, confidences or
    segment lists."""
    keyed: List[Tuple[str, Dict[str, Any]]] = []
    for k, v in value.items():
        if isinstance(v, dict):
            keyed.append((str(k), dict(v)))
        elif isinstance(v, list):
            keyed.append((str(k), {"segments": v}))
        elif isinstance(v, bool) or v is None:
            keyed.append((str(k), {"present": v}))
        else:
            keyed.append((str(k), {"confidence": v}))
    return keyed


_CLASS_GROUPS = (_PRESENT_KEYS, _CONF_KEYS, _COVERAGE_KEYS, _SEGMENTS_KEYS)
"""The fields of a class object, in the order :func:`_build` reads them."""
_WRAPPER_WORDS = frozenset(key(w) for w in _WRAPPER_KEYS)
_CLASS_FIELDS = _PRESENT_KEYS + _CONF_KEYS + _SEGMENTS_KEYS


def _wraps_classes(inner: Any, names: Sequence[str]) -> bool:
    """Whether the value under a key spelled like a requested class (``Classes``, ``results``)
    is really a list of classes rather than that class's own verdict. By shape: a list of
    class objects / labels, or a dict keyed by requested class names without verdict fields."""
    if isinstance(inner, str):
        return False
    if isinstance(inner, list):
        return any(isinstance(i, dict) and lookup(i, _NAME_KEYS)[0] for i in inner) or (
            bool(inner) and all(isinstance(i, str) and _match_name(i, names) is not None for i in inner)
        )
    if isinstance(inner, dict):
        if lookup(inner, _NAME_KEYS)[0] or any(lookup(inner, (f,))[0] for f in _CLASS_FIELDS):
            return False
        return any(_match_name(str(k), names) is not None for k in inner)
    return False


def _entries(
    value: Any, names: Sequence[str], depth: int = 0
) -> Optional[List[Tuple[str, Dict[str, Any]]]]:
    """``(name as answered, class object)`` pairs from any of the accepted answer shapes:
    ``{"classes": [...]}`` (or another wrapper key), a bare list of class objects, a list of
    label strings, one class object, or a dict keyed by class name.

    A class may be NAMED like a wrapper (``Classes``, ``results``, ``data``): such a key is a
    wrapper only when its value has the shape of a class list (:func:`_wraps_classes`)."""
    if depth > 3:
        return None
    if isinstance(value, str):
        try:
            return _entries(loads(value), names, depth + 1)
        except HostileAnswer:
            raise
        except ValueError:
            return None
    if isinstance(value, list):
        out: List[Tuple[str, Dict[str, Any]]] = []
        for item in value:
            if isinstance(item, str):
                out.append((item, {"present": True}))
                continue
            if not isinstance(item, dict):
                return None
            found, name = lookup(item, _NAME_KEYS)
            if found and isinstance(name, str):
                out.append((name, item))
            else:
                out.extend(_keyed(item))
        return out
    if not isinstance(value, dict):
        return None
    for field in value:
        if key(str(field)) not in _WRAPPER_WORDS:
            continue
        inner = value[field]
        is_class = _match_name(str(field), names) is not None
        if (is_class and _wraps_classes(inner, names)) or (
            not is_class and isinstance(inner, (list, dict, str))
        ):
            return _entries(inner, names, depth + 1)
    found, name = lookup(value, _NAME_KEYS)
    if found and isinstance(name, str):
        return [(name, value)]
    return _keyed(value)


def _match_name(answered: str, names: Sequence[str]) -> Optional[str]:
    if answered in names:
        return answered
    answered_folded = answered.strip().casefold()
    folded = [n for n in names if n.strip().casefold() == answered_folded]
    if len(folded) == 1:
        return folded[0]
    answered_key = key(answered)
    keyed = [n for n in names if key(n) == answered_key]
    if len(keyed) == 1 and answered_key:
        return keyed[0]
    # The same words in another order: a real off-list answer had "blowing balloon" for the
    # requested "balloon blowing" (where no enum constrained the name).
    words = sorted(tokens(answered))
    reordered = [n for n in names if sorted(tokens(n)) == words] if len(words) > 1 else []
    return reordered[0] if len(reordered) == 1 else None


def _nearest_prompt(answered: str, prompts: Sequence[str]) -> Tuple[str, str]:
    """Requested prompt for an answered one and how it was found: exact/case/overlap/first."""
    match = _match_name(answered, prompts)
    if match is not None:
        return match, "exact" if match == answered else "case"
    words = tokens(answered)
    best, best_score = prompts[0], 0.0
    for p in prompts:
        pw = tokens(p)
        union = words | pw
        score = len(words & pw) / len(union) if union else 0.0
        if score > best_score:
            best, best_score = p, score
    return best, ("overlap" if best_score > 0 else "first")


def _seconds(raw: Any, duration: float, where: str, notes: List[str]) -> Optional[float]:
    """A time in seconds; a clock far past the video's end is read as ``mm:ss:ff`` when that
    reading lies within it (:func:`past_end_clock`, noted)."""
    seconds = parse_timestamp(raw)
    if seconds is None:
        return None
    frames = past_end_clock(raw, seconds, duration)
    if frames is None:
        return seconds
    notes.append(f"{where}: time {raw!r} is past the video's end as hh:mm:ss; read as mm:ss:ff ({frames:g} s)")
    return frames


def _times(
    seg: Mapping[str, Any], duration: float, where: str, notes: List[str]
) -> Tuple[Optional[float], Optional[float], bool]:
    """(start, end, had any time field)."""
    has_start, start_raw = lookup(seg, _START_KEYS)
    has_end, end_raw = lookup(seg, _END_KEYS)
    if has_start or has_end:
        return _seconds(start_raw, duration, where, notes), _seconds(end_raw, duration, where, notes), True
    has_range, rng = lookup(seg, _RANGE_KEYS)
    if not has_range:
        return None, None, False
    if isinstance(rng, (list, tuple)) and len(rng) == 2:
        return _seconds(rng[0], duration, where, notes), _seconds(rng[1], duration, where, notes), True
    if isinstance(rng, str):
        parts = re.split(r"\s*(?:-|\u2013|\u2014|\bto\b)\s*", rng.strip())
        if len(parts) == 2:
            return _seconds(parts[0], duration, where, notes), _seconds(parts[1], duration, where, notes), True
    return None, None, True


# --------------------------------------------------------------------------------------------
# Building the parsed answer
# --------------------------------------------------------------------------------------------


class _Draft:
    """A class being assembled from one or more answer entries."""

    def __init__(self, spec: ClassSpec) -> None:
        self.spec = spec
        self.present: Optional[bool] = None
        self.confidence: Optional[RawConf] = None
        self.segments: List[Tuple[Mapping[str, Any], Optional[RawConf]]] = []
        self.coverage: Optional[float] = None
        self.seen = False


def _segment_list(raw: Any) -> List[Any]:
    if raw is None:
        return []
    if isinstance(raw, dict):
        return [raw]
    if isinstance(raw, list):
        return raw
    return []


def _build(
    entries: Sequence[Tuple[str, Dict[str, Any]]],
    classes: Sequence[ClassSpec],
    duration: float,
    notes: List[str],
) -> Dict[str, ParsedClass]:
    names = [c.name for c in classes]
    drafts: Dict[str, _Draft] = {c.name: _Draft(c) for c in classes}
    for answered, obj in entries:
        name = _match_name(answered, names)
        if name is None:
            notes.append(f"dropped unrequested class {answered!r}")
            continue
        draft = drafts[name]
        if name != answered:
            notes.append(f"class {answered!r} read as {name!r}")
        if draft.seen:
            notes.append(f"class {name!r} answered more than once; merged")
        draft.seen = True
        (has_present, present_raw), (has_conf, conf_raw), (has_cov, cov_raw), (_, seg_raw) = lookup_all(
            obj, _CLASS_GROUPS
        )
        present = parse_bool(present_raw) if has_present else None
        if has_present and present is None and present_raw is not None:
            notes.append(f"class {name!r}: unreadable present={present_raw!r}")
        if present is not None:
            draft.present = bool(draft.present) or present
        conf = raw_confidence(conf_raw) if has_conf else None
        if has_conf and conf is None and conf_raw is not None:
            notes.append(f"class {name!r}: unreadable confidence {conf_raw!r}")
        if conf is not None and (draft.confidence is None or conf[0] > draft.confidence[0]):
            draft.confidence = conf
        if has_cov and cov_raw is not None:
            cov = parse_coverage(cov_raw)
            if cov is None:
                notes.append(f"class {name!r}: unreadable coverage {cov_raw!r}")
            elif draft.coverage is None or cov > draft.coverage:
                draft.coverage = cov
        for seg in _segment_list(seg_raw):
            if not isinstance(seg, dict):
                notes.append(f"class {name!r}: dropped segment {seg!r} (not an object)")
                continue
            has_sc, sc_raw = lookup(seg, _CONF_KEYS)
            sc = raw_confidence(sc_raw) if has_sc else None
            draft.segments.append((seg, sc))

    # One confidence scale for the whole answer (see _infer_multiplier).
    bare: List[Tuple[float, bool]] = []
    for d in drafts.values():
        if d.confidence is not None and not d.confidence[1]:
            bare.append((d.confidence[0], bool(d.present)))
        bare.extend((sc[0], True) for _, sc in d.segments if sc is not None and not sc[1])
    multiplier = infer_multiplier(bare)
    if multiplier != 1.0:
        notes.append(f"confidences read on a 0-{100 / multiplier:g} scale")

    def scaled(raw: Optional[RawConf], where: str) -> Optional[float]:
        if raw is None:
            return None
        value = raw[0] if raw[1] else raw[0] * multiplier
        if value < 0 or value > 100:
            notes.append(f"{where}: confidence {value:g} clamped to 0-100")
        return min(100.0, max(0.0, value))

    out: Dict[str, ParsedClass] = {}
    for name, d in drafts.items():
        if not d.seen:
            notes.append(f"class {name!r} missing from the answer; counted as not present")
            out[name] = ParsedClass(name=name, present=False, confidence=0.0, segments=[], answered=False)
            continue
        class_conf = scaled(d.confidence, f"class {name!r}")
        seg_confs = [scaled(sc, f"class {name!r} segment") for _, sc in d.segments]
        present = d.present
        if present is None:
            present = class_conf >= 50 if class_conf is not None else bool(d.segments)
            notes.append(f"class {name!r}: no 'present' given; read as {present}")
        if class_conf is None:
            known = [c for c in seg_confs if c is not None]
            fallback = max(known) if known else DEFAULT_PRESENT_CONFIDENCE
            class_conf = fallback if present else 0.0
            notes.append(f"class {name!r}: no confidence given; using {class_conf:g}")
        segments = _segments(d, seg_confs, class_conf, duration, notes)
        out[name] = ParsedClass(name=name, present=present, confidence=class_conf, segments=segments,
                                coverage=d.coverage)
    return out


def _segments(
    draft: _Draft,
    confs: Sequence[Optional[float]],
    class_conf: float,
    duration: float,
    notes: List[str],
) -> List[Segment]:
    if not draft.segments:
        return []
    spec = draft.spec
    name = spec.name
    allowed = model_sources(spec)
    known_duration = math.isfinite(duration) and duration > 0
    out: List[Segment] = []
    for (seg, _), conf in zip(draft.segments, confs):
        start, end, had_time = _times(seg, duration if known_duration else 0.0, f"class {name!r}", notes)
        if start is None or end is None:
            why = "unreadable times" if had_time else "no times"
            notes.append(f"class {name!r}: dropped segment with {why}")
            continue
        if end < start:
            start, end = end, start
            notes.append(f"class {name!r}: swapped reversed segment {end:g}-{start:g}")
        low, high = start, end
        if start < 0:
            start = 0.0
        if known_duration and end > duration:
            end = duration
        if known_duration and start > duration:
            start = duration
        if (low, high) != (start, end):
            notes.append(f"class {name!r}: segment {low:g}-{high:g} clamped to {start:g}-{end:g}")
        if not end > start:
            notes.append(f"class {name!r}: dropped zero-length segment at {start:g}")
            continue
        if not allowed:
            notes.append(f"class {name!r}: dropped segment (no source of this class is judged by the model)")
            continue
        has_src, src_raw = lookup(seg, _SOURCE_KEYS)
        if has_src and src_raw is not None:
            source = source_of(src_raw, allowed)
            if source is None:
                notes.append(f"class {name!r}: dropped segment with source {src_raw!r} (not requested)")
                continue
        else:
            source = "visual" if "visual" in allowed else allowed[0]
            if len(allowed) > 1:
                notes.append(f"class {name!r}: segment without source read as {source!r}")
        has_prompt, prompt_raw = lookup(seg, _PROMPT_KEYS)
        if has_prompt and isinstance(prompt_raw, str) and prompt_raw.strip():
            prompt, how = _nearest_prompt(prompt_raw, spec.prompts)
            if how in ("overlap", "first"):
                notes.append(f"class {name!r}: prompt {prompt_raw!r} read as {prompt!r} ({how})")
        else:
            prompt = spec.prompts[0]
            if len(spec.prompts) > 1:
                notes.append(f"class {name!r}: segment without prompt read as {prompt!r}")
        out.append(
            Segment(
                start=start, end=end, prompt=prompt, source=source,
                confidence=class_conf if conf is None else conf,
            )
        )
    return out


def parse_answer(
    text: str,
    *,
    classes: Sequence[ClassSpec],
    duration: float,
    finish_reason: str = "stop",
) -> ParsedAnswer:
    """Parse one ``/analyze`` answer for the classes that were sent in that call.

    Raises :class:`AnswerError` ``truncated`` when ``finish_reason`` is ``"length"`` or the JSON
    never closes (``partial`` then holds the class objects that did arrive complete), and
    ``invalid`` when no answer can be read or none of its classes was requested.
    """
    try:
        return _parse(text, classes, duration, finish_reason)
    except HostileAnswer as exc:
        raise AnswerError("invalid", f"answer rejected unread: {exc}") from None
    except (RecursionError, OverflowError) as exc:  # a limit we did not foresee: still just invalid
        raise AnswerError("invalid", f"answer could not be read safely: {type(exc).__name__}") from None


def _parse(text: str, classes: Sequence[ClassSpec], duration: float, finish_reason: str) -> ParsedAnswer:
    notes: List[str] = []
    names = [c.name for c in classes]
    if not isinstance(text, str) or not text.strip():
        raise AnswerError("invalid", "empty answer")
    found = find_json(text)
    if found.ok:
        entries = _entries(found.value, names)
        parsed = _build(entries, classes, duration, notes) if entries else None
        if parsed is None or not any(c.answered for c in parsed.values()):
            later = _later_answer(text, names)
            if later is not None:
                notes = ["skipped JSON before the answer that names no requested class"]
                entries = later
                parsed = _build(entries, classes, duration, notes)
        if entries is None:
            raise AnswerError("invalid", "answer JSON has no class list")
        if not entries or parsed is None:
            # {} / [] / {"classes": []}: the model judged nothing. Invalid (retried, never cached).
            raise AnswerError("invalid", "empty answer: no class was judged")
        if not any(c.answered for c in parsed.values()):
            raise AnswerError("invalid", "answer names none of the requested classes")
        if finish_reason == "length":
            notes.append("finish_reason was 'length'; the JSON closed but may be incomplete")
            partial = ParsedAnswer(classes=parsed, notes=notes, truncated=True)
            raise AnswerError("truncated", "answer hit max_tokens", partial)
        return ParsedAnswer(classes=parsed, notes=notes)
    if found.unbalanced_at is None and finish_reason != "length":
        raise AnswerError("invalid", "no JSON answer found")
    partial_answer: Optional[ParsedAnswer] = None
    if found.unbalanced_at is not None:
        candidate, start = found.unbalanced_at
        items = recover_items(candidate, start)
        entries = _entries(items, names) if items else None
        if entries:
            parsed = _build(entries, classes, duration, notes)
            if any(c.answered for c in parsed.values()):
                notes.insert(0, f"recovered {len(items)} complete class object(s) from a truncated answer")
                partial_answer = ParsedAnswer(classes=parsed, notes=notes, truncated=True)
    raise AnswerError("truncated", "answer JSON is cut off", partial_answer)


def _later_answer(text: str, names: Sequence[str]) -> Optional[List[Tuple[str, Dict[str, Any]]]]:
    """The entries of the first JSON value in ``text`` that names a requested class, when the
    first JSON value names none (prose that quotes the schema or an example before answering)."""

    def names_a_class(value: Any) -> bool:
        entries = _entries(value, names) or []
        return any(_match_name(n, names) is not None for n, _ in entries)

    found = scan_json(text, accept=names_a_class)
    return _entries(found.value, names) if found.ok else None


def merge_samples(parts: Sequence[Sequence[ParsedAnswer]]) -> List[Optional[ParsedAnswer]]:
    """One merged answer per sample from its per-chunk answers (None: nothing readable yet)."""
    return [merge_answers(p) if p else None for p in parts]


def merge_answers(answers: Iterable[ParsedAnswer]) -> ParsedAnswer:
    """One answer from the per-chunk answers of a video (chunks hold disjoint classes)."""
    classes: Dict[str, ParsedClass] = {}
    notes: List[str] = []
    truncated = False
    for a in answers:
        classes.update(a.classes)
        notes.extend(a.notes)
        truncated = truncated or a.truncated
    return ParsedAnswer(classes=classes, notes=notes, truncated=truncated)
