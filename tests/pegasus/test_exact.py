"""Exact-match conversation classes served from the transcript."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from classify_shim._request import ClassSpec
from classify_shim.adapters.pegasus._exact import EXACT_MATCH_CONFIDENCE, exact_match_segments, prompt_pattern

TRANSCRIPT: List[Dict[str, Any]] = [
    {"start": 0.0, "end": 10.5, "value": "Welcome back to my Dance Tutorial channel!"},
    {"start": 10.5, "end": 15.2, "value": "This dance\ttutorial is about   dance tutorials."},
    {"start": 15.2, "end": 20.0, "value": "tutorial dance, not a dancetutorial"},
    {"start": 20.0, "end": 25.0, "value": "I love C++ and #ad reads"},
    {"start": 30.0, "end": 25.0, "value": "dance tutorial said backwards in time"},
    {"start": "x", "end": 40.0, "value": "dance tutorial"},
    {"start": 40.0, "end": 41.0, "value": None},
]


def spec(*prompts: str) -> ClassSpec:
    return ClassSpec("C", tuple(prompts), ("conversation",), "exact_match")


def spans(transcript: Any, *prompts: str) -> List[tuple[float, float, str]]:
    segs = exact_match_segments(transcript, spec(*prompts))
    assert all(s.source == "conversation" and s.confidence == EXACT_MATCH_CONFIDENCE for s in segs)
    return [(s.start, s.end, s.prompt) for s in segs]


def test_case_insensitive_word_bounded_with_entry_times() -> None:
    assert spans(TRANSCRIPT, "dance tutorial") == [
        (0.0, 10.5, "dance tutorial"),
        (10.5, 15.2, "dance tutorial"),  # whitespace runs match; "tutorials" alone would not
        (25.0, 30.0, "dance tutorial"),  # reversed entry times are put in order
    ]


def test_partial_words_do_not_match() -> None:
    assert spans(TRANSCRIPT, "tutorials") == [(10.5, 15.2, "tutorials")]
    assert spans(TRANSCRIPT, "utorial") == []
    assert spans(TRANSCRIPT, "dancetutorial") == [(15.2, 20.0, "dancetutorial")]


def test_punctuation_prompts() -> None:
    assert spans(TRANSCRIPT, "C++") == [(20.0, 25.0, "C++")]
    assert spans(TRANSCRIPT, "#AD") == [(20.0, 25.0, "#AD")]


def test_several_prompts_in_transcript_then_prompt_order() -> None:
    assert spans(TRANSCRIPT, "channel", "welcome") == [(0.0, 10.5, "channel"), (0.0, 10.5, "welcome")]


@pytest.mark.parametrize("transcript", [None, []])
def test_no_transcript_no_segments(transcript: Any) -> None:
    assert spans(transcript, "dance") == []


def test_regex_characters_are_literal() -> None:
    assert spans([{"start": 0, "end": 1, "value": "price is $5 (approx.)"}], "$5 (approx.)") == [
        (0.0, 1.0, "$5 (approx.)")]
    assert spans([{"start": 0, "end": 1, "value": "a.b"}], "a*b") == []


def test_empty_prompt_pattern() -> None:
    assert prompt_pattern("   ") is None


def test_deterministic() -> None:
    assert exact_match_segments(TRANSCRIPT, spec("dance", "tutorial")) == exact_match_segments(
        TRANSCRIPT, spec("dance", "tutorial"))
