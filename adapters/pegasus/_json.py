"""Finding (and repairing) the JSON inside a model answer, in time linear in its size.

A model answer is untrusted text: prose, markdown fences, near-JSON (single quotes, Python
literals, trailing commas), cut-off documents — or something built to hurt (thousands of
nested brackets, 400-digit numbers). One scan per candidate text maps its top-level bracketed
spans, skipping strings, so each character is looked at a bounded number of times however
the brackets are arranged; each span is decoded at most twice (as is, then repaired). Nesting
deeper than :data:`MAX_DEPTH` or a number longer than :data:`MAX_NUMBER_DIGITS` makes the
answer :class:`HostileAnswer` (reported as an invalid answer, never ``RecursionError`` or
``OverflowError``).

Work is counted (:func:`measure`) so tests can prove linearity without a clock.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import re
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

__all__ = [
    "MAX_DEPTH",
    "MAX_NUMBER_DIGITS",
    "Found",
    "HostileAnswer",
    "Meter",
    "decode_at",
    "find_json",
    "loads",
    "measure",
    "recover_items",
    "repair",
    "scan_json",
]

MAX_DEPTH = 64
"""Deepest bracket nesting read; real answers nest 4-5 levels (classes → class → segments)."""
MAX_NUMBER_DIGITS = 40
"""Longest run of digits in one number; confidences and times need a handful."""


class HostileAnswer(ValueError):
    """The answer is shaped to exhaust the parser (too deep, numbers too long)."""


class Meter:
    """Units of parsing work: characters scanned, decoded or repaired."""

    def __init__(self) -> None:
        self.work = 0


_METER: contextvars.ContextVar[Optional[Meter]] = contextvars.ContextVar("classify_shim_parse_meter", default=None)


@contextlib.contextmanager
def measure() -> Iterator[Meter]:
    """Count the work of every parse inside the block (for tests and benchmarks)."""
    meter = Meter()
    token = _METER.set(meter)
    try:
        yield meter
    finally:
        _METER.reset(token)


def _count(units: int) -> None:
    meter = _METER.get()
    if meter is not None:
        meter.work += units


def _big_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise HostileAnswer(f"a number with {len(text)} digits")
    return int(text)


def _big_float(text: str) -> float:
    if len(text) > MAX_NUMBER_DIGITS + 8:
        raise HostileAnswer(f"a number {len(text)} characters long")
    return float(text)


_DECODER = json.JSONDecoder(strict=False, parse_int=_big_int, parse_float=_big_float)
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[ \t]*\r?\n?(.*?)(?:```|$)", re.DOTALL)
_LITERAL = re.compile(r"(True|False|None)\b")
_OPENERS = "{["
_CLOSERS = "}]"


# One search finds the next thing that matters: a whole double-quoted string (to its closing
# quote or the end of the text), a bracket, a single quote, or a digit run past the limit
# (shorter runs are skipped by the search itself).
_TOKEN = re.compile(r""""[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}']|\d{""" + str(MAX_NUMBER_DIGITS + 1) + ",}", re.DOTALL)
_SQ_STRING = re.compile(r"'[^'\\]*(?:\\.[^'\\]*)*'?", re.DOTALL)


def _spans(text: str) -> List[Tuple[int, Optional[int]]]:
    """Top-level bracketed spans ``(start, end)``; ``end`` is None for one that never closes
    (always the last: everything after its opener lies inside it). One left-to-right pass that
    jumps from one bracket, quote or digit run to the next (each character is read once).

    Double quotes open strings everywhere; single quotes only inside brackets (near-JSON), so
    apostrophes in surrounding prose do not. Raises :class:`HostileAnswer` past the limits.
    """
    spans: List[Tuple[int, Optional[int]]] = []
    depth = 0
    start = 0
    pos = 0
    _count(len(text))
    search = _TOKEN.search
    while True:
        m = search(text, pos)
        if m is None:
            break
        at, pos = m.span()
        ch = text[at]
        if ch == '"':
            continue  # the match is the whole string
        if ch == "'":
            if depth > 0:
                pos = _SQ_STRING.match(text, at).end()  # type: ignore[union-attr]
        elif ch in _OPENERS:
            if depth == 0:
                start = at
            depth += 1
            if depth > MAX_DEPTH:
                raise HostileAnswer(f"brackets nested deeper than {MAX_DEPTH} levels")
        elif ch in _CLOSERS:
            if depth > 0:
                depth -= 1
                if depth == 0:
                    spans.append((start, at + 1))
        elif ch.isdigit() and depth > 0:
            raise HostileAnswer(f"a number with {pos - at} digits")
    if depth > 0:
        spans.append((start, None))
    return spans


def repair(text: str) -> str:
    """Common near-JSON into JSON: single quotes, Python literals, trailing commas, smart
    quotes. One pass."""
    _count(len(text))
    out: List[str] = []
    i = 0
    text = text.replace("\u201c", '"').replace("\u201d", '"')
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in "\"'":
            quote = ch
            j = i + 1
            buf: List[str] = []
            while j < n and text[j] != quote:
                if text[j] == "\\" and j + 1 < n:
                    nxt = text[j + 1]
                    buf.append(nxt if (quote == "'" and nxt == "'") else text[j : j + 2])
                    j += 2
                    continue
                buf.append('\\"' if (quote == "'" and text[j] == '"') else text[j])
                j += 1
            out.append('"' + "".join(buf) + '"')
            i = j + 1
            continue
        if ch == ",":
            k = i + 1
            while k < n and text[k].isspace():
                k += 1
            if k < n and text[k] in _CLOSERS:
                out.append(text[i + 1 : k])  # keep the whitespace, drop the comma
                i = k
                continue
        if ch in "TFN" and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = _LITERAL.match(text, i)
            if m:
                out.append({"True": "true", "False": "false", "None": "null"}[m.group(1)])
                i = m.end()
                continue
        out.append(ch)
        i += 1
    return "".join(out)


_OBJECT_START = re.compile(r"\{\s*([\"'}\u201c])")


def _decode_span(text: str) -> Tuple[bool, Any]:
    """Decode one closed span (nesting already checked): as is, then repaired."""
    _count(len(text))
    if text[0] == "{" and not _OBJECT_START.match(text):
        return False, None  # "{x}" in prose: not even near-JSON, skip two failing decodes
    try:
        return True, _DECODER.decode(text)
    except HostileAnswer:
        raise
    except ValueError:
        pass
    try:
        return True, _DECODER.decode(repair(text))
    except HostileAnswer:
        raise
    except ValueError:
        return False, None


def decode_at(text: str, start: int) -> Tuple[bool, Any, Optional[int]]:
    """(decoded?, value, end of the span opened at ``start`` or None when it never closes)."""
    spans = _spans(text[start:])
    if not spans or spans[0][0] != 0:
        return False, None, None
    _, end = spans[0]
    if end is None:
        return False, None, None
    ok, value = _decode_span(text[start : start + end])
    return ok, value, start + end


def loads(text: str) -> Any:
    """``json.loads`` for untrusted text: same limits as :func:`find_json`; ValueError if not JSON."""
    _spans(text)  # depth and number limits
    _count(len(text))
    return _DECODER.decode(text)


def _looks_like_answer(value: Any) -> bool:
    if isinstance(value, dict):
        return True
    return isinstance(value, list) and (
        all(isinstance(v, dict) for v in value) or all(isinstance(v, str) for v in value)
    )


def _candidates(text: str) -> List[str]:
    """Texts to search: fenced blocks first (``json`` ones before others), then the whole text."""
    _count(len(text))
    blocks = [(m.group(1).casefold(), m.group(2)) for m in _FENCE.finditer(text)]
    ordered = [b for lang, b in blocks if lang == "json"] + [b for lang, b in blocks if lang != "json"]
    return [*ordered, text]


class Found:
    """The JSON value that can be an answer (``ok``), else where a cut-off one opens."""

    def __init__(
        self, value: Any = None, ok: bool = False, unbalanced_at: Optional[Tuple[str, int]] = None
    ) -> None:
        self.value = value
        self.ok = ok
        self.unbalanced_at = unbalanced_at


def _checked_float(text: str) -> float:
    """:func:`_big_float`, and no digit run past the limit in it (what the span scan checks)."""
    if len(text) > MAX_NUMBER_DIGITS and _DIGIT_RUN.search(text):
        raise HostileAnswer(f"a number {len(text)} characters long")
    return _big_float(text)


_DIGIT_RUN = re.compile(r"\d{" + str(MAX_NUMBER_DIGITS + 1) + "}")
# Outside strings a valid JSON document has digits only in its numbers; integers past the limit
# already fail _big_int, so with _checked_float no digit run past the limit gets through.
_WHOLE_DECODER = json.JSONDecoder(strict=False, parse_int=_big_int, parse_float=_checked_float)


def _nested_deeper(value: Any, limit: int) -> bool:
    """Whether containers nest more than ``limit`` levels in a decoded value (itself level 1)."""
    level = [value]
    for _ in range(limit):
        level = [child for item in level for child in (item.values() if isinstance(item, dict) else item)
                 if isinstance(child, (dict, list))]
        if not level:
            return False
    return True


def _whole_object(text: str) -> Optional[Dict[str, Any]]:
    """The answer when ``text`` is one JSON object and nothing else (the usual structured-output
    answer), decoded once without the span scan; None whenever the scan might see it otherwise.

    For such a text the scan finds one span, the object, and decodes it with the same decoder;
    so this takes only texts where that is provably so: nothing but whitespace around the
    object, no fence (the scan would read a fenced block first, even one inside a string),
    nesting within :data:`MAX_DEPTH` and no digit run past :data:`MAX_NUMBER_DIGITS`. Anything
    else, including every text the limits reject, goes to the scan, which alone decides it.
    """
    start = len(text) - len(text.lstrip())
    if not text.startswith("{", start) or "```" in text:
        return None
    _count(len(text))
    try:
        value, end = _WHOLE_DECODER.raw_decode(text, start)
    except (ValueError, RecursionError):  # not JSON, or past a limit: the scan decides
        return None
    if not isinstance(value, dict) or text[end:].strip():
        return None
    if text.count("{") + text.count("[") > MAX_DEPTH and _nested_deeper(value, MAX_DEPTH):
        return None
    return value


def find_json(text: str, depth: int = 0) -> Found:
    """The first top-level JSON value in ``text`` that can be an answer.

    Scanning stops at the first opener that never closes: everything after it lies inside that
    truncated value, and a complete inner object must not pass for the whole answer. A text
    that is one JSON object and nothing else is read without the scan (:func:`_whole_object`).
    """
    whole = _whole_object(text)
    if whole is not None:
        return Found(whole, True)
    return scan_json(text, depth)


def scan_json(text: str, depth: int = 0, accept: Optional[Callable[[Any], bool]] = None) -> Found:
    """:func:`find_json` by the span scan alone, for any text (the general path). ``accept``
    narrows "can be an answer" (e.g. to values naming a requested class), so a JSON value in
    the prose before the answer (an echoed schema, an example) is passed over."""
    unbalanced: Optional[Tuple[str, int]] = None
    for candidate in _candidates(text):
        for start, end in _spans(candidate):
            if end is None:
                if unbalanced is None:
                    unbalanced = (candidate, start)
                break
            ok, value = _decode_span(candidate[start:end])
            if ok and _looks_like_answer(value) and (accept is None or accept(value)):
                return Found(value, True)
    stripped = text.strip()
    if depth == 0 and stripped.startswith('"'):
        try:
            inner = _DECODER.decode(stripped)
        except HostileAnswer:
            raise
        except ValueError:
            inner = None
        if isinstance(inner, str):  # the JSON came back JSON-encoded as a string
            return find_json(inner, depth + 1) if accept is None else scan_json(inner, depth + 1, accept)
    return Found(unbalanced_at=unbalanced)


def recover_items(text: str, start: int) -> List[Dict[str, Any]]:
    """Complete class objects at the head of a truncated answer that opens at ``start``."""
    window = text[start:]
    m = re.search(r"""["']?classes["']?\s*:\s*\[""", window, re.IGNORECASE)
    if m:
        pos = m.end()
    elif window.startswith("["):
        pos = 1
    else:
        return []
    items: List[Dict[str, Any]] = []
    while True:
        while pos < len(window) and window[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(window) or window[pos] != "{":
            return items
        ok, value, end = decode_at(window, pos)
        if not ok or end is None or not isinstance(value, dict):
            return items
        items.append(value)
        pos = end
