"""Reading single values in a model answer: numbers, times, confidences, booleans, sources.

Pure functions over one JSON value each, tolerant of what models write ("12.5s", "01:02",
"85%", "high", "yes") and safe on hostile values (huge integers and digit strings give None,
never ``OverflowError``). Key matching is case-, width- and punctuation-insensitive.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from classify_shim._rules import finite_number

__all__ = [
    "SOURCES",
    "WORD_CONFIDENCE",
    "RawConf",
    "infer_multiplier",
    "key",
    "lookup",
    "lookup_all",
    "parse_bool",
    "parse_confidence_word",
    "parse_coverage",
    "parse_timestamp",
    "past_end_clock",
    "raw_confidence",
    "source_of",
    "to_number",
    "tokens",
]

MAX_NUMBER_TEXT = 64
"""Longest string read as a number; longer ones are not numbers a model means."""

WORD_CONFIDENCE: Dict[str, float] = {
    "certain": 100.0, "certainly": 100.0, "definite": 100.0, "definitely": 100.0,
    "very high": 95.0, "veryhigh": 95.0, "extremely high": 95.0,
    "high": 85.0, "likely": 75.0, "fairly high": 75.0, "moderately high": 75.0,
    "medium high": 70.0, "medium": 60.0, "moderate": 60.0, "mid": 60.0, "possible": 50.0,
    "possibly": 50.0, "unsure": 50.0, "uncertain": 50.0, "medium low": 40.0,
    "low": 25.0, "unlikely": 20.0, "very low": 10.0, "verylow": 10.0, "extremely low": 5.0,
    "none": 0.0, "no": 0.0, "zero": 0.0, "absent": 0.0,
}
"""Verbal confidences on the 0-100 scale (centre of the band a person would mean)."""

SOURCES = ("visual", "conversation", "text_in_video")
_SOURCE_SYNONYMS: Dict[str, str] = {
    "visual": "visual", "visuals": "visual", "video": "visual", "image": "visual",
    "images": "visual", "vision": "visual", "scene": "visual", "frames": "visual",
    "conversation": "conversation", "audio": "conversation", "speech": "conversation",
    "spoken": "conversation", "transcript": "conversation", "transcription": "conversation",
    "dialogue": "conversation", "dialog": "conversation", "voice": "conversation",
    "textinvideo": "text_in_video", "text": "text_in_video", "ocr": "text_in_video",
    "onscreentext": "text_in_video", "screentext": "text_in_video", "caption": "text_in_video",
    "captions": "text_in_video", "textonscreen": "text_in_video", "overlaytext": "text_in_video",
}

@functools.lru_cache(maxsize=4096)  # called ~1,500 times per answer on the same few names
def key(text: str) -> str:
    """Comparison key: case-, width-, whitespace- and punctuation-insensitive."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\W_]+", "", folded)


def tokens(text: str) -> set[str]:
    return set(re.findall(r"\w+", unicodedata.normalize("NFKC", text).casefold()))


@functools.lru_cache(maxsize=4096)  # the objects of one answer share a few key shapes
def _resolve(mapping_keys: Tuple[Any, ...], groups: Tuple[Tuple[str, ...], ...]) -> Tuple[Tuple[bool, Any], ...]:
    """Per group of ``keys``: (found?, the mapping's own key) for the first of them that a key
    of the mapping matches by :func:`key`; of two spellings of one key, the first in the
    answer wins."""
    index = {key(str(k)): k for k in reversed(mapping_keys)}
    out = []
    for keys in groups:
        found: Tuple[bool, Any] = (False, None)
        for k in keys:
            normalised = key(k)
            if normalised in index:
                found = (True, index[normalised])
                break
        out.append(found)
    return tuple(out)


def lookup(mapping: Mapping[str, Any], keys: Sequence[str]) -> Tuple[bool, Any]:
    """First of ``keys`` present in ``mapping`` (keys compared by :func:`key`)."""
    ((found, own),) = _resolve(tuple(mapping), (keys if isinstance(keys, tuple) else tuple(keys),))
    return (True, mapping[own]) if found else (False, None)


def lookup_all(mapping: Mapping[str, Any], groups: Tuple[Tuple[str, ...], ...]) -> List[Tuple[bool, Any]]:
    """:func:`lookup` of each group of keys, resolved together (one memoised step per object)."""
    return [(True, mapping[own]) if found else (False, None) for found, own in _resolve(tuple(mapping), groups)]


_NUMBER = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$", re.IGNORECASE)


def to_number(value: Any) -> Optional[float]:
    """A JSON number (:func:`finite_number`), or a short numeric string a model wrote ("12,5")."""
    if isinstance(value, str) and len(value) <= MAX_NUMBER_TEXT:
        text = value.strip().replace(",", ".") if value.count(",") == 1 and "." not in value else value.strip()
        return finite_number(text, text=True) if _NUMBER.match(text) else None
    return finite_number(value)


_CLOCK = re.compile(r"^(?:(\d+):)?(\d+):(\d+(?:[.,]\d+)?)$")
_UNITS = re.compile(
    r"^(?:(\d+(?:\.\d+)?)\s*h(?:ours?|rs?)?)?\s*"
    r"(?:(\d+(?:\.\d+)?)\s*m(?:in(?:utes?|s)?)?)?\s*"
    r"(?:(\d+(?:\.\d+)?)\s*s(?:ec(?:onds?|s)?)?)?$",
    re.IGNORECASE,
)


def parse_timestamp(value: Any) -> Optional[float]:
    """Seconds from a number, ``"12.5"``, ``"12.5s"``, ``"1m30s"``, ``"mm:ss"``, ``"hh:mm:ss"``,
    ``"hh:mm:ss.fff"`` (comma decimals too); None when it is none of these."""
    number = to_number(value)
    if number is not None:
        return number
    if not isinstance(value, str) or len(value) > MAX_NUMBER_TEXT:
        return None
    text = value.strip()
    m = _CLOCK.match(text)
    if m:
        hours = int(m.group(1)) if m.group(1) else 0
        minutes = int(m.group(2))
        seconds = float(m.group(3).replace(",", "."))
        if m.group(1) is not None and minutes >= 60:
            return None
        if seconds >= 60:
            return None
        return hours * 3600 + minutes * 60 + seconds
    m = _UNITS.match(text)
    if m and any(m.groups()):
        h, mi, s = (float(g) if g else 0.0 for g in m.groups())
        return h * 3600 + mi * 60 + s
    return None


_FRAME_CLOCK = re.compile(r"^(\d{1,3}):([0-5]\d):(\d{1,2})$")


def past_end_clock(value: Any, seconds: float, duration: float) -> Optional[float]:
    """The ``mm:ss:ff`` (minutes, seconds, frames) reading of a time a model wrote as ``a:b:c``
    when its ``hh:mm:ss`` reading (``seconds``) lies past twice the video's length: asked for
    ``HH:MM:SS``, Pegasus answered ``"10:38:00"`` for 638 s into a 12:48 clip. None when that
    reading is not within the video either, or the time is no such clock (a time just past the
    end is a rounded end, clamped by the caller)."""
    if not isinstance(value, str) or not (duration > 0 and seconds > 2 * duration):
        return None
    m = _FRAME_CLOCK.match(value.strip())
    if m is None:
        return None
    minutes_reading = int(m.group(1)) * 60 + int(m.group(2))
    return float(minutes_reading) if minutes_reading <= duration else None


def parse_confidence_word(text: str) -> Optional[float]:
    """0-100 value of a verbal confidence ("high", "very low", "none"), else None."""
    words = re.sub(r"[\s_\-]+", " ", text.strip().casefold()).strip(" .!")
    if words.endswith(" confidence"):
        words = words[: -len(" confidence")]
    return WORD_CONFIDENCE.get(words)


# A confidence read from the answer: (value, already on the 0-100 scale?)
RawConf = Tuple[float, bool]


def raw_confidence(value: Any) -> Optional[RawConf]:
    if isinstance(value, bool):
        return (100.0, True) if value else (0.0, True)
    number = to_number(value)
    if number is not None:
        return number, False
    if not isinstance(value, str) or len(value) > MAX_NUMBER_TEXT:
        return None
    text = value.strip()
    m = re.match(r"^([+-]?\d+(?:\.\d+)?)\s*%$", text)
    if m:
        return float(m.group(1)), True
    m = re.match(r"^(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)$", text)
    if m and float(m.group(2)) > 0:
        return 100.0 * float(m.group(1)) / float(m.group(2)), True
    word = parse_confidence_word(text)
    if word is not None:
        return word, True
    return None


def infer_multiplier(values: Sequence[Tuple[float, bool]]) -> float:
    """Scale of the bare numeric confidences in one answer: x100 (0-1), x10 (0-10) or x1.

    One scale per answer: a model that answers 0.9 for one class answers 0.2, not 20, for the
    next. Small integers are only read as 0-1 or 0-10 when the answer also claims presence
    with them (``present: true`` at 1 or at 5+), because "8" could otherwise be a low 0-100
    confidence and scaling it up would invent a positive.
    """
    nums = [v for v, _ in values]
    if not nums or any(v > 10 for v in nums):
        return 1.0
    if all(v <= 1 for v in nums) and (
        any(0 < v < 1 for v in nums) or any(claims and v == 1 for v, claims in values)
    ):
        return 100.0
    if any(v > 1 for v in nums) and any(claims and v >= 5 for v, claims in values):
        return 10.0
    return 1.0


def parse_bool(value: Any) -> Optional[bool]:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return bool(value) if math.isfinite(value) else None
    if isinstance(value, str):
        word = value.strip().casefold()
        if word in ("true", "yes", "y", "present", "1", "detected", "match", "matched"):
            return True
        if word in ("false", "no", "n", "absent", "0", "none", "not present", "not detected"):
            return False
    return None


def source_of(value: Any, allowed: Sequence[str]) -> Optional[str]:
    """The requested source named by ``value`` (a word or a list of words), else None."""
    values = value if isinstance(value, list) else [value]
    for v in values:
        if isinstance(v, str):
            source = _SOURCE_SYNONYMS.get(key(v))
            if source is not None and source in allowed:
                return source
    return None


def parse_coverage(value: Any) -> Optional[float]:
    """A coverage estimate as a share 0-1: "40%" and 40 are 0.40 (the schema asks for an integer
    percentage); a fractional number <= 1 such as 0.4 is already a share."""
    raw = raw_confidence(value)
    if raw is None or isinstance(value, bool):
        return None
    number, percent = raw
    if not percent and number <= 1.0 and not isinstance(value, int) and number != int(number):
        return max(0.0, number)
    return max(0.0, min(1.0, number / 100.0))
