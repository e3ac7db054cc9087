"""The fast paths of answer reading and mapping give exactly what the general paths give.

Each fast path is compared with its general path on varied inputs, hostile and malformed ones
included, and shown to be taken where it should be (so the comparison is not vacuous):
``find_json``'s whole-object read against the span scan (``scan_json``), the memoised numbers of
a class without segments against their computation, and ``lookup_all`` against a plain
first-match reading of the keys.
"""

from __future__ import annotations

import itertools
import json
import math
import random
from typing import Any, List, Optional, Sequence, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classify_shim.adapters.pegasus import _json, _mapping
from classify_shim.adapters.pegasus._json import HostileAnswer, find_json, scan_json
from classify_shim.adapters.pegasus._mapping import MappingOptions, mapping_options
from classify_shim.adapters.pegasus._parse import ParsedClass, Segment
from classify_shim.adapters.pegasus._values import key, lookup, lookup_all

# ------------------------------------------------------------------ find_json: whole object vs span scan


def _outcome(find: Any, text: str) -> Tuple[Any, ...]:
    """What a reading gives, comparable across paths (``repr`` so that NaN equals NaN)."""
    try:
        found = find(text)
    except HostileAnswer as exc:
        return ("hostile", str(exc))
    except (RecursionError, OverflowError) as exc:
        return ("crash", type(exc).__name__)
    return ("found", found.ok, repr(found.value), found.unbalanced_at)


def _answer(n_classes: int, seed: int = 0) -> str:
    rnd = random.Random(seed)
    classes = []
    for i in range(n_classes):
        present = rnd.random() < 0.2
        segments = [{"start": round(rnd.uniform(0, 60), 2), "end": round(rnd.uniform(60, 120), 2),
                     "prompt": f"prompt {i}", "source": rnd.choice(["visual", "conversation"]),
                     "confidence": rnd.randint(50, 95)} for _ in range(rnd.randint(1, 3) if present else 0)]
        classes.append({"name": f"Class{i}", "present": present, "confidence": rnd.randint(0, 100),
                        "segments": segments})
    return json.dumps({"classes": classes})


def _nested(levels: int) -> str:
    """An object whose containers nest ``levels`` deep (the object itself is level 1)."""
    return '{"a": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}"


PLAIN = [
    _answer(2),
    _answer(50, seed=3),
    "  \n" + _answer(5) + "\n\t ",
    json.dumps({"classes": [{"name": "A", "present": True}]}, indent=2),
    "{}",
    '{"a": "{[(not brackets that count)]}", "b": "it\'s"}',
    '{"a": "' + "9" * 80 + '"}',  # long digit runs inside strings are text
    '{"a": ' + "7" * 40 + "}",  # at the limit
    '{"a": 1.' + "5" * 40 + "}",
    '{"a": NaN, "b": Infinity, "c": -Infinity}',
    '{"a": 1, "a": 2}',
    '{"A": {"present": true}, "B": [1, 2]}',
    _nested(64),
    '{"a": "line\nbreak and \\"escaped\\" quote \\\\"}',
    '\u2003{"a": 1}\u2003',
]

DECLINED = [
    _nested(65),
    _nested(70),
    "[" + _answer(2) + "]",
    "Here it is: " + _answer(2),
    _answer(2) + " Hope this helps!",
    _answer(2) + " {x}",
    _answer(2) + " [",
    _answer(2) + " " + _nested(66),
    '{"a": ' + "7" * 41 + "}",
    '{"a": -' + "7" * 41 + "}",
    '{"a": 1.' + "5" * 41 + "}",
    '{"a": 1e' + "0" * 41 + "1}",
    '{"a": 0.' + "1" * 45 + "e5}",
    '{"a": "```json\\n{\\"classes\\": []}\\n```"}',
    "```json\n" + _answer(2) + "\n```",
    "{'classes': [{'name': 'A', 'present': True}]}",
    '{"classes": [{"name": "A", "present": true},]}',
    '{"classes": [{"name": "A", "present": True}]}',
    '{"classes": [{"name": "A"',
    "{x}",
    "",
    "   ",
    json.dumps(_answer(2)),  # the answer JSON-encoded as a string
    '{"a": 1} {"b": 2}',
    "{\u201ca\u201d: 1}",
]


@pytest.mark.parametrize("text", PLAIN, ids=range(len(PLAIN)))
def test_a_plain_object_is_read_whole_and_as_the_scan_reads_it(text: str) -> None:
    assert _json._whole_object(text) is not None
    assert _outcome(find_json, text) == _outcome(scan_json, text)
    assert _outcome(find_json, text)[1] is True


@pytest.mark.parametrize("text", DECLINED, ids=range(len(DECLINED)))
def test_anything_else_is_left_to_the_scan(text: str) -> None:
    assert _json._whole_object(text) is None
    assert _outcome(find_json, text) == _outcome(scan_json, text)


def test_the_limits_still_reject_what_the_whole_object_read_declines() -> None:
    # The declined hostile texts are rejected by the scan, with its own message.
    for text in (_nested(65), '{"a": 1.' + "5" * 41 + "}", '{"a": ' + "7" * 41 + "}"):
        assert _outcome(find_json, text)[0] == "hostile"


_SCALARS = (st.none() | st.booleans() | st.integers(-(10**45), 10**45)
            | st.floats(allow_nan=True, allow_infinity=True) | st.text(alphabet="ab{}[]'\"\\`9 \n", max_size=8))
_JSON = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(alphabet="abc'\"{[", max_size=4), inner, max_size=4), max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(value=st.dictionaries(st.text(max_size=5), _JSON, max_size=5), indent=st.sampled_from([None, 0, 2]),
       pad=st.sampled_from(["", " ", "\n", " x", "x ", " ]", " {", " '"]))
def test_generated_documents_read_the_same_either_way(value: Any, indent: Optional[int], pad: str) -> None:
    text = json.dumps(value, indent=indent)
    for candidate in (text, pad + text, text + pad):
        assert _outcome(find_json, candidate) == _outcome(scan_json, candidate)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_mutated_answers_read_the_same_either_way(data: Any) -> None:
    text = _answer(3, seed=data.draw(st.integers(0, 5)))
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 3))
        piece = data.draw(st.sampled_from(["{", "}", "[", "]", '"', "'", "\\", ",", "```", "7" * 41, " ", "True",
                                           "NaN", "1e5", "", "\u201c"]))
        text = text[:at] + piece + text[at + cut:]
    assert _outcome(find_json, text) == _outcome(scan_json, text)


# ------------------------------------------------------------------ numbers of a class without segments


_VERDICTS: List[Optional[Tuple[bool, float, Optional[float]]]] = [None] + [
    (present, confidence, coverage)
    for present in (True, False)
    for confidence in (0.0, 0.5, 19.99, 20.0, 50.0, 72.0, 87.5, 100.0)
    for coverage in (None, 0.0, 0.3, 1.0)
]
_DURATIONS = (565.0, 1.0, 3600.0, 0.0, -5.0, math.inf, math.nan)
_ALL_OPTIONS = [MappingOptions(*flags) for flags in itertools.product((True, False), repeat=3)]


def _parsed(verdict: Optional[Tuple[bool, float, Optional[float]]], name: str = "X") -> Optional[ParsedClass]:
    if verdict is None:
        return None
    present, confidence, coverage = verdict
    return ParsedClass(name=name, present=present, confidence=confidence, coverage=coverage, answered=True)


def _same(a: _mapping._Numbers, b: _mapping._Numbers) -> bool:
    return repr(a) == repr(b)


@pytest.mark.parametrize("options", _ALL_OPTIONS, ids=repr)
def test_memoised_numbers_without_segments_are_the_computed_ones(options: MappingOptions) -> None:
    with mapping_options(options):
        for verdict, duration in itertools.product(_VERDICTS, _DURATIONS):
            parsed = _parsed(verdict)
            assert _same(_mapping._numbers(parsed, (), duration), _mapping._computed_numbers(parsed, (), duration))


def test_memoised_numbers_follow_the_options_in_force() -> None:
    parsed = _parsed((True, 87.5, 0.3))
    seen = set()
    for options in _ALL_OPTIONS + _ALL_OPTIONS[::-1]:  # each set of options after the others were cached
        with mapping_options(options):
            got = _mapping._numbers(parsed, (), 565.0)
            assert _same(got, _mapping._computed_numbers(parsed, (), 565.0))
            seen.add(repr(got))
    assert len(seen) > 1  # the options do change these numbers, so a shared entry would have shown


def test_classes_with_segments_are_computed() -> None:
    seg = Segment(start=1.0, end=30.0, prompt="p", source="visual", confidence=80.0)
    parsed = ParsedClass(name="X", present=True, confidence=90.0, segments=[seg])
    for duration in _DURATIONS:
        assert _same(_mapping._numbers(parsed, (), duration), _mapping._computed_numbers(parsed, (), duration))
        bare = _parsed((True, 90.0, None))
        assert _same(_mapping._numbers(bare, [seg], duration), _mapping._computed_numbers(bare, [seg], duration))
    with_clips = _mapping._numbers(parsed, (), 565.0)
    assert with_clips.clips and not _mapping._numbers(_parsed((True, 90.0, None)), (), 565.0).clips


# ------------------------------------------------------------------ keys of an answer object


def _first_match(mapping: Sequence[Tuple[Any, Any]], keys: Sequence[str]) -> Tuple[bool, Any]:
    """The rule spelled out: the first of ``keys`` that any key of the object matches by
    ``key()``; of several matching spellings, the first in the object."""
    for k in keys:
        for own, value in mapping:
            if key(str(own)) == key(k):
                return True, value
    return False, None


_GROUPS = (("present", "is_present"), ("confidence", "score"), ("coverage",), ("segments", "clips"),
           ("start", "start_time"), ("nothing",))
_SPELLINGS = ["present", "Present", "IS_PRESENT", "is-present", "confidence", "Confidence ", "score", "SCORE",
              "coverage", "segments", "Segments", "clips", "start", "Start_Time", "name", "extra", "\uff50resent"]


@settings(max_examples=300, deadline=None)
@given(keys=st.lists(st.sampled_from(_SPELLINGS), unique=True, max_size=8),
       groups=st.lists(st.sampled_from(_GROUPS), min_size=1, max_size=5))
def test_lookup_all_reads_every_group_as_the_rule_says(keys: List[str], groups: List[Tuple[str, ...]]) -> None:
    obj = {k: i for i, k in enumerate(keys)}
    pairs = list(obj.items())
    expected = [_first_match(pairs, g) for g in groups]
    assert lookup_all(obj, tuple(groups)) == expected
    assert [lookup(obj, g) for g in groups] == expected
    assert [lookup(obj, list(g)) for g in groups] == expected
