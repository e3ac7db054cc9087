"""The answer parser against realistic raw model outputs, each with its exact expected outcome."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Tuple

import pytest

from classify_shim._request import ClassSpec
from classify_shim.adapters.pegasus._parse import (
    AnswerError,
    ParsedAnswer,
    merge_answers,
    parse_answer,
    parse_confidence_word,
    parse_timestamp,
)

DANCE = ClassSpec("DanceTok", ("Dance tutorial", "Dance group", "Dance competition"), ("visual", "conversation"),
                  "semantic")
COOK = ClassSpec("CookTok", ("Cooking tutorial", "Cooking ustensils review"), ("visual",), "semantic")
CLASSES = (DANCE, COOK)
DURATION = 120.0

Seg = Tuple[float, float, str, str, float]
Summary = Dict[str, Tuple[bool, float, List[Seg]]]


def summary(answer: ParsedAnswer) -> Summary:
    return {
        name: (c.present, c.confidence, [(s.start, s.end, s.prompt, s.source, s.confidence) for s in c.segments])
        for name, c in answer.classes.items()
    }


def canonical(dance: Dict[str, Any], cook: Optional[Dict[str, Any]] = None) -> str:
    classes = [dict(name="DanceTok", **dance)]
    if cook is not None:
        classes.append(dict(name="CookTok", **cook))
    return json.dumps({"classes": classes})


ABSENT_COOK: Tuple[bool, float, List[Seg]] = (False, 0.0, [])
GOOD = (
    '{"classes":[{"name":"DanceTok","present":true,"confidence":90,"segments":[{"start":0.0,"end":12.5,'
    '"prompt":"Dance tutorial","source":"visual","confidence":85}]},{"name":"CookTok","present":false,'
    '"confidence":5,"segments":[]}]}'
)
GOOD_SUMMARY: Summary = {
    "DanceTok": (True, 90.0, [(0.0, 12.5, "Dance tutorial", "visual", 85.0)]),
    "CookTok": (False, 5.0, []),
}

# (id, raw text, finish_reason, expected summary, substrings expected among the notes)
OK_CASES: List[Tuple[str, str, str, Summary, List[str]]] = [
    ("canonical", GOOD, "stop", GOOD_SUMMARY, []),
    ("json-fence-with-prose", "Here is the classification:\n```json\n" + GOOD + "\n```\nLet me know!", "stop",
     GOOD_SUMMARY, []),
    ("bare-fence", "```\n" + GOOD + "\n```", "stop", GOOD_SUMMARY, []),
    ("prose-around-no-fence", "Sure. " + GOOD + " These are my results (confidence is subjective).", "stop",
     GOOD_SUMMARY, []),
    ("prose-with-brackets-before", "Classes [DanceTok, CookTok] analysed {see below}: " + GOOD, "stop",
     GOOD_SUMMARY, []),
    ("mis-escaped-repeated-tail", GOOD + '","confidence":85}]}]}', "stop", GOOD_SUMMARY, []),
    ("echoed-schema-before-the-answer",
     'Using the schema {"type": "object", "properties": {"classes": {"type": "array"}}}, my answer:\n\n' + GOOD,
     "stop", GOOD_SUMMARY, ["skipped JSON before the answer"]),
    ("example-fence-before-the-answer",
     'Format:\n```json\n{"classes": [{"name": "Example", "present": true}]}\n```\nAnswer:\n```json\n' + GOOD + "\n```",
     "stop", GOOD_SUMMARY, ["skipped JSON before the answer"]),
    (
        "strings-for-numbers",
        canonical({"present": "true", "confidence": "90", "segments": [
            {"start": "0", "end": "12.5", "prompt": "Dance tutorial", "source": "visual", "confidence": "85%"}]},
            {"present": "no", "confidence": "5", "segments": []}),
        "stop", GOOD_SUMMARY, [],
    ),
    (
        "unit-scale-0-1",
        canonical({"present": True, "confidence": 0.9, "segments": [
            {"start": 0, "end": 12.5, "prompt": "Dance tutorial", "source": "visual", "confidence": 0.85}]},
            {"present": False, "confidence": 0.05, "segments": []}),
        "stop", GOOD_SUMMARY, ["0-1 scale"],
    ),
    (
        "scale-0-10",
        canonical({"present": True, "confidence": 9, "segments": [
            {"start": 0, "end": 12.5, "prompt": "Dance tutorial", "source": "visual", "confidence": 8.5}]},
            {"present": False, "confidence": 0.5, "segments": []}),
        "stop", GOOD_SUMMARY, ["0-10 scale"],
    ),
    (
        "small-integers-stay-0-100-without-presence-claim",
        canonical({"present": False, "confidence": 8, "segments": []},
                  {"present": False, "confidence": 3, "segments": []}),
        "stop", {"DanceTok": (False, 8.0, []), "CookTok": (False, 3.0, [])}, [],
    ),
    (
        "confidence-words",
        canonical({"present": True, "confidence": "very high", "segments": [
            {"start": 0, "end": 12.5, "prompt": "Dance tutorial", "source": "visual", "confidence": "High"}]},
            {"present": False, "confidence": "none", "segments": []}),
        "stop", {"DanceTok": (True, 95.0, [(0.0, 12.5, "Dance tutorial", "visual", 85.0)]),
                 "CookTok": (False, 0.0, [])}, [],
    ),
    (
        "fractions-and-medium",
        canonical({"present": True, "confidence": "8/10", "segments": [
            {"start": 0, "end": 12.5, "prompt": "Dance tutorial", "source": "visual", "confidence": "medium"}]},
            {"present": False, "confidence": "low", "segments": []}),
        "stop", {"DanceTok": (True, 80.0, [(0.0, 12.5, "Dance tutorial", "visual", 60.0)]),
                 "CookTok": (False, 25.0, [])}, [],
    ),
    (
        "timestamp-formats",
        canonical({"present": True, "confidence": 90, "segments": [
            {"start": "00:05", "end": "0:20", "prompt": "Dance tutorial", "source": "visual", "confidence": 80},
            {"start": "00:00:30", "end": "00:00:45.250", "prompt": "Dance group", "source": "visual",
             "confidence": 80},
            {"start": "50s", "end": "1m5s", "prompt": "Dance competition", "source": "conversation",
             "confidence": 80},
            {"start": "00:01:10,5", "end": 75, "prompt": "Dance tutorial", "source": "visual", "confidence": 80},
        ]}, {"present": False, "confidence": 0, "segments": []}),
        "stop",
        {"DanceTok": (True, 90.0, [(5.0, 20.0, "Dance tutorial", "visual", 80.0),
                                   (30.0, 45.25, "Dance group", "visual", 80.0),
                                   (50.0, 65.0, "Dance competition", "conversation", 80.0),
                                   (70.5, 75.0, "Dance tutorial", "visual", 80.0)]),
         "CookTok": (False, 0.0, [])}, [],
    ),
    (
        "hallucinated-label",
        '{"classes":[{"name":"DanceTok","present":true,"confidence":90,"segments":[]},'
        '{"name":"Sports","present":true,"confidence":99,"segments":[]},'
        '{"name":"CookTok","present":false,"confidence":10,"segments":[]}]}',
        "stop", {"DanceTok": (True, 90.0, []), "CookTok": (False, 10.0, [])}, ["dropped unrequested class 'Sports'"],
    ),
    (
        "casing-and-spacing",
        '{"classes":[{"name":"dance tok","present":true,"confidence":70,"segments":[]},'
        '{"name":"COOK-TOK","present":true,"confidence":60,"segments":[]}]}',
        "stop", {"DanceTok": (True, 70.0, []), "CookTok": (True, 60.0, [])},
        ["'dance tok' read as 'DanceTok'", "'COOK-TOK' read as 'CookTok'"],
    ),
    (
        "out-of-range-clamped-and-dropped",
        canonical({"present": True, "confidence": 90, "segments": [
            {"start": -3, "end": 10, "prompt": "Dance tutorial", "source": "visual", "confidence": 80},
            {"start": 100, "end": 200, "prompt": "Dance tutorial", "source": "visual", "confidence": 80},
            {"start": 150, "end": 160, "prompt": "Dance tutorial", "source": "visual", "confidence": 80},
        ]}, {"present": False, "confidence": 0, "segments": []}),
        "stop",
        {"DanceTok": (True, 90.0, [(0.0, 10.0, "Dance tutorial", "visual", 80.0),
                                   (100.0, 120.0, "Dance tutorial", "visual", 80.0)]),
         "CookTok": (False, 0.0, [])},
        ["-3-10 clamped to 0-10", "100-200 clamped to 100-120", "zero-length segment at 120"],
    ),
    (
        "reversed-and-zero-length",
        canonical({"present": True, "confidence": 90, "segments": [
            {"start": 40, "end": 20, "prompt": "Dance group", "source": "visual", "confidence": 75},
            {"start": 33, "end": 33, "prompt": "Dance group", "source": "visual", "confidence": 75},
        ]}, {"present": False, "confidence": 0, "segments": []}),
        "stop", {"DanceTok": (True, 90.0, [(20.0, 40.0, "Dance group", "visual", 75.0)]), "CookTok": ABSENT_COOK},
        ["swapped reversed segment", "zero-length segment at 33"],
    ),
    (
        "overlaps-kept",
        canonical({"present": True, "confidence": 90, "segments": [
            {"start": 0, "end": 60, "prompt": "Dance tutorial", "source": "visual", "confidence": 90},
            {"start": 30, "end": 90, "prompt": "Dance tutorial", "source": "conversation", "confidence": 70},
        ]}, {"present": False, "confidence": 0, "segments": []}),
        "stop",
        {"DanceTok": (True, 90.0, [(0.0, 60.0, "Dance tutorial", "visual", 90.0),
                                   (30.0, 90.0, "Dance tutorial", "conversation", 70.0)]),
         "CookTok": ABSENT_COOK}, [],
    ),
    (
        "unrequested-sources-dropped",
        canonical({"present": True, "confidence": 90, "segments": [
            {"start": 0, "end": 10, "prompt": "Dance tutorial", "source": "text_in_video", "confidence": 90},
            {"start": 10, "end": 20, "prompt": "Dance tutorial", "source": "Audio", "confidence": 90},
        ]}, {"present": True, "confidence": 80, "segments": [
            {"start": 0, "end": 10, "prompt": "Cooking tutorial", "source": "conversation", "confidence": 80},
            {"start": 10, "end": 30, "prompt": "Cooking tutorial", "source": "Visual", "confidence": 80},
        ]}),
        "stop",
        {"DanceTok": (True, 90.0, [(10.0, 20.0, "Dance tutorial", "conversation", 90.0)]),
         "CookTok": (True, 80.0, [(10.0, 30.0, "Cooking tutorial", "visual", 80.0)])},
        ["source 'text_in_video' (not requested)", "source 'conversation' (not requested)"],
    ),
    (
        "top-level-list",
        '[{"name":"DanceTok","present":true,"confidence":90,"segments":[{"start":0.0,"end":12.5,'
        '"prompt":"Dance tutorial","source":"visual","confidence":85}]},{"name":"CookTok","present":false,'
        '"confidence":5,"segments":[]}]',
        "stop", GOOD_SUMMARY, [],
    ),
    (
        "dict-keyed-by-name",
        '{"DanceTok":{"present":true,"confidence":90,"segments":[{"start":0.0,"end":12.5,'
        '"prompt":"Dance tutorial","source":"visual","confidence":85}]},"CookTok":{"present":false,'
        '"confidence":5,"segments":[]}}',
        "stop", GOOD_SUMMARY, [],
    ),
    (
        "dict-keyed-by-name-bare-values",
        '{"DanceTok": true, "cooktok": 0.2}',
        "stop", {"DanceTok": (True, 70.0, []), "CookTok": (False, 20.0, [])},
        ["no confidence given; using 70", "no 'present' given; read as False"],
    ),
    (
        "null-fields",
        canonical({"present": None, "confidence": None, "segments": [
            {"start": 0, "end": 30, "prompt": None, "source": None, "confidence": None}]},
            {"present": False, "confidence": None, "segments": None}),
        "stop",
        {"DanceTok": (True, 70.0, [(0.0, 30.0, "Dance tutorial", "visual", 70.0)]), "CookTok": ABSENT_COOK},
        ["no 'present' given; read as True", "segment without source read as 'visual'",
         "segment without prompt read as 'Dance tutorial'"],
    ),
    (
        "unknown-prompts",
        canonical({"present": True, "confidence": 80, "segments": [
            {"start": 0, "end": 10, "prompt": "a group of dancers", "source": "visual", "confidence": 80},
            {"start": 10, "end": 20, "prompt": "dance-competition", "source": "visual", "confidence": 80},
            {"start": 20, "end": 30, "prompt": "ballet", "source": "visual", "confidence": 80},
        ]}, {"present": False, "confidence": 0, "segments": []}),
        "stop",
        {"DanceTok": (True, 80.0, [(0.0, 10.0, "Dance group", "visual", 80.0),
                                   (10.0, 20.0, "Dance competition", "visual", 80.0),
                                   (20.0, 30.0, "Dance tutorial", "visual", 80.0)]),
         "CookTok": ABSENT_COOK},
        ["'a group of dancers' read as 'Dance group' (overlap)", "'ballet' read as 'Dance tutorial' (first)"],
    ),
    (
        "class-missing",
        '{"classes":[{"name":"DanceTok","present":true,"confidence":90,"segments":[]}]}',
        "stop", {"DanceTok": (True, 90.0, []), "CookTok": ABSENT_COOK},
        ["'CookTok' missing from the answer; counted as not present"],
    ),
    (
        "duplicate-class-merged",
        '{"classes":[{"name":"DanceTok","present":false,"confidence":40,"segments":[]},'
        '{"name":"DanceTok","present":true,"confidence":85,"segments":[{"start":1,"end":2,"prompt":"Dance group",'
        '"source":"visual","confidence":85}]},{"name":"CookTok","present":false,"confidence":0,"segments":[]}]}',
        "stop", {"DanceTok": (True, 85.0, [(1.0, 2.0, "Dance group", "visual", 85.0)]), "CookTok": ABSENT_COOK},
        ["answered more than once"],
    ),
    (
        "python-literals-single-quotes-trailing-commas",
        "{'classes': [{'name': 'DanceTok', 'present': True, 'confidence': 90, 'segments': [{'start': 0.0, "
        "'end': 12.5, 'prompt': 'Dance tutorial', 'source': 'visual', 'confidence': 85,},],}, {'name': "
        "'CookTok', 'present': False, 'confidence': 5, 'segments': [],},],}",
        "stop", GOOD_SUMMARY, [],
    ),
    ("double-encoded", json.dumps(GOOD), "stop", GOOD_SUMMARY, []),
    (
        "confidence-above-100-clamped",
        canonical({"present": True, "confidence": 150, "segments": []},
                  {"present": False, "confidence": -5, "segments": []}),
        "stop", {"DanceTok": (True, 100.0, []), "CookTok": (False, 0.0, [])},
        ["confidence 150 clamped", "confidence -5 clamped"],
    ),
    ("label-list", '["DanceTok"]', "stop", {"DanceTok": (True, 70.0, []), "CookTok": ABSENT_COOK}, []),
    # ('{"classes": []}' is an invalid answer now: tests/pegasus/test_parse_hostile.py.)
    (
        "results-wrapper-and-alias-keys",
        '{"results":[{"label":"DanceTok","detected":"yes","score":"88","clips":[{"start_time":"00:10",'
        '"end_time":"00:25","matched_prompt":"dance group","option":"visual","score":90}]},'
        '{"class":"CookTok","detected":"no","score":"12"}]}',
        "stop", {"DanceTok": (True, 88.0, [(10.0, 25.0, "Dance group", "visual", 90.0)]),
                 "CookTok": (False, 12.0, [])}, [],
    ),
    (
        "time-range-field",
        canonical({"present": True, "confidence": 90, "segments": [
            {"timestamp": "00:10 - 00:20", "prompt": "Dance tutorial", "source": "visual", "confidence": 90},
            {"range": [30, 40], "prompt": "Dance tutorial", "source": "visual", "confidence": 90},
            {"prompt": "Dance tutorial", "source": "visual", "confidence": 90},
        ]}, {"present": False, "confidence": 0, "segments": []}),
        "stop",
        {"DanceTok": (True, 90.0, [(10.0, 20.0, "Dance tutorial", "visual", 90.0),
                                   (30.0, 40.0, "Dance tutorial", "visual", 90.0)]),
         "CookTok": ABSENT_COOK}, ["dropped segment with no times"],
    ),
    (
        "single-source-class-without-source",
        canonical({"present": False, "confidence": 0, "segments": []},
                  {"present": True, "confidence": 80, "segments": [
                      {"start": 5, "end": 50, "prompt": "Cooking tutorial", "confidence": 80}]}),
        "stop", {"DanceTok": (False, 0.0, []), "CookTok": (True, 80.0, [(5.0, 50.0, "Cooking tutorial", "visual",
                                                                          80.0)])}, [],
    ),
    (
        "nan-and-unreadable-values",
        '{"classes":[{"name":"DanceTok","present":"maybe","confidence":NaN,"segments":[{"start":"soon",'
        '"end":"later","prompt":"Dance group","source":"visual","confidence":80}]},'
        '{"name":"CookTok","present":false,"confidence":"unclear","segments":["10-20"]}]}',
        "stop", {"DanceTok": (True, 80.0, []), "CookTok": ABSENT_COOK},
        ["unreadable present='maybe'", "dropped segment with unreadable times", "unreadable confidence 'unclear'",
         "dropped segment '10-20' (not an object)"],
    ),
]


@pytest.mark.parametrize(("text", "finish", "expected", "notes"), [c[1:] for c in OK_CASES],
                         ids=[c[0] for c in OK_CASES])
def test_parse_table(text: str, finish: str, expected: Summary, notes: List[str]) -> None:
    answer = parse_answer(text, classes=CLASSES, duration=DURATION, finish_reason=finish)
    assert summary(answer) == expected
    joined = "\n".join(answer.notes)
    for fragment in notes:
        assert fragment in joined, (fragment, answer.notes)
    assert list(answer.classes) == ["DanceTok", "CookTok"]
    assert not answer.truncated


def test_table_is_large_enough() -> None:
    assert len(OK_CASES) + len(ERROR_CASES) >= 25


TRUNCATED_TWO = GOOD[: GOOD.index('"confidence":5')]

# (id, raw text, finish_reason, kind, expected partial summary or None)
ERROR_CASES: List[Tuple[str, str, str, str, Optional[Summary]]] = [
    ("empty", "", "stop", "invalid", None),
    ("whitespace", "  \n ", "stop", "invalid", None),
    ("plain-prose", "The video shows people dancing in a studio.", "stop", "invalid", None),
    ("unrelated-json", '{"answer": "The video shows dancing"}', "stop", "invalid", None),
    ("only-unknown-classes", '{"classes":[{"name":"Sports","present":true,"confidence":90}]}', "stop", "invalid",
     None),
    ("number", "42", "stop", "invalid", None),
    ("cut-in-second-class", TRUNCATED_TWO, "length", "truncated",
     {"DanceTok": GOOD_SUMMARY["DanceTok"], "CookTok": ABSENT_COOK}),
    ("unbalanced-with-stop", TRUNCATED_TWO, "stop", "truncated",
     {"DanceTok": GOOD_SUMMARY["DanceTok"], "CookTok": ABSENT_COOK}),
    ("cut-in-first-class", GOOD[:60], "length", "truncated", None),
    ("cut-in-fence", "```json\n" + GOOD[:120], "length", "truncated", None),
    ("length-but-closed", GOOD, "length", "truncated", GOOD_SUMMARY),
    ("length-and-no-json", "I could not", "length", "truncated", None),
]


@pytest.mark.parametrize(("text", "finish", "kind", "partial"), [c[1:] for c in ERROR_CASES],
                         ids=[c[0] for c in ERROR_CASES])
def test_parse_errors(text: str, finish: str, kind: str, partial: Optional[Summary]) -> None:
    with pytest.raises(AnswerError) as info:
        parse_answer(text, classes=CLASSES, duration=DURATION, finish_reason=finish)
    assert info.value.kind == kind
    if partial is None:
        assert info.value.partial is None
    else:
        assert info.value.partial is not None
        assert info.value.partial.truncated
        assert summary(info.value.partial) == partial


def test_truncated_inner_object_is_not_taken_for_the_answer() -> None:
    # A complete class object inside a cut-off answer must not pass for a whole answer.
    with pytest.raises(AnswerError) as info:
        parse_answer(TRUNCATED_TWO, classes=CLASSES, duration=DURATION)
    assert info.value.kind == "truncated"
    assert info.value.partial is not None
    assert "recovered 1 complete class object" in info.value.partial.notes[0]


def test_exact_match_conversation_is_not_a_model_source() -> None:
    exact = ClassSpec("DanceTok", ("Dance tutorial",), ("visual", "conversation"), "exact_match")
    text = canonical({"present": True, "confidence": 90, "segments": [
        {"start": 0, "end": 10, "prompt": "Dance tutorial", "source": "conversation", "confidence": 90},
        {"start": 10, "end": 20, "prompt": "Dance tutorial", "source": "visual", "confidence": 90}]})
    answer = parse_answer(text, classes=(exact,), duration=DURATION)
    assert summary(answer) == {"DanceTok": (True, 90.0, [(10.0, 20.0, "Dance tutorial", "visual", 90.0)])}


def test_reordered_words_name_the_requested_class_when_unambiguous() -> None:
    # Real off-list answer (no enum): "blowing balloon" for the requested "balloon blowing".
    blowing = ClassSpec("balloon blowing", ("blowing up a balloon",), ("visual",), "semantic")
    answer = parse_answer('[{"name":"Blowing Balloon","present":true,"confidence":80}]',
                          classes=(blowing, DANCE), duration=DURATION)
    assert summary(answer)["balloon blowing"] == (True, 80.0, [])
    assert any("'Blowing Balloon' read as 'balloon blowing'" in n for n in answer.notes)
    # Two requested classes with those words: neither is guessed.
    twin = ClassSpec("Balloon, blowing", ("x",), ("visual",), "semantic")
    with pytest.raises(AnswerError):
        parse_answer('[{"name":"blowing balloon","present":true,"confidence":80}]',
                     classes=(blowing, twin), duration=DURATION)


def test_ambiguous_name_key_is_dropped() -> None:
    a = ClassSpec("Dance-Tok", ("x",), ("visual",), "semantic")
    b = ClassSpec("Dance Tok", ("y",), ("visual",), "semantic")
    answer = parse_answer('[{"name":"dance_tok","present":true,"confidence":80},'
                          '{"name":"Dance-Tok","present":true,"confidence":90}]',
                          classes=(a, b), duration=DURATION)
    assert summary(answer) == {"Dance-Tok": (True, 90.0, []), "Dance Tok": (False, 0.0, [])}
    assert any("'dance_tok'" in n for n in answer.notes)


def test_unknown_duration_keeps_segments_unclamped_above() -> None:
    text = canonical({"present": True, "confidence": 90, "segments": [
        {"start": 100, "end": 500, "prompt": "Dance tutorial", "source": "visual", "confidence": 90}]})
    answer = parse_answer(text, classes=(DANCE,), duration=0.0)
    assert summary(answer)["DanceTok"][2] == [(100.0, 500.0, "Dance tutorial", "visual", 90.0)]


def test_clock_far_past_the_end_is_read_as_minutes_seconds_frames() -> None:
    # Real Pegasus, asked for HH:MM:SS: "10:38:00" for 638 s into a 12:48 clip (MM:SS:FF), and
    # "12:20" for the same event in another field.
    text = canonical({"present": True, "confidence": 90, "segments": [
        {"start": "10:38:00", "end": "12:20", "prompt": "Dance tutorial", "source": "visual", "confidence": 85}]})
    answer = parse_answer(text, classes=(DANCE,), duration=768.0)
    assert summary(answer)["DanceTok"][2] == [(638.0, 740.0, "Dance tutorial", "visual", 85.0)]
    assert any("'10:38:00' is past the video's end as hh:mm:ss; read as mm:ss:ff (638 s)" in n for n in answer.notes)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("00:01:30", "00:02:05", (90.0, 120.0)),  # just past the end: a rounded end, clamped
        ("01:10:00", "01:50:00", (70.0, 110.0)),  # far past, and within the video as mm:ss:ff
        ("00:01:00", "03:00:00", (60.0, 120.0)),  # far past, but 180 s as mm:ss:ff: clamped
        ("00:01:00", "01:50:00.5", (60.0, 120.0)),  # a decimal is no frame count: clamped
    ],
)
def test_clock_past_the_end_other_readings(start: str, end: str, expected: Tuple[float, float]) -> None:
    text = canonical({"present": True, "confidence": 90, "segments": [
        {"start": start, "end": end, "prompt": "Dance tutorial", "source": "visual", "confidence": 85}]})
    answer = parse_answer(text, classes=(DANCE,), duration=DURATION)
    assert [(s.start, s.end) for s in answer.classes["DanceTok"].segments] == [expected]


def test_merge_answers_unions_chunks() -> None:
    a = parse_answer(canonical({"present": True, "confidence": 90, "segments": []}), classes=(DANCE,),
                     duration=DURATION)
    b = parse_answer('[{"name":"CookTok","present":false,"confidence":3}]', classes=(COOK,), duration=DURATION)
    merged = merge_answers([a, b])
    assert summary(merged) == {"DanceTok": (True, 90.0, []), "CookTok": (False, 3.0, [])}
    assert not merged.truncated


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [(12, 12.0), (12.5, 12.5), ("12.5", 12.5), ("12.5s", 12.5), ("12.5 sec", 12.5), ("01:30", 90.0),
     ("1:02:03", 3723.0), ("00:00:01.250", 1.25), ("00:00:01,250", 1.25), ("2m", 120.0), ("1h1m1s", 3661.0),
     ("90:00", 5400.0), ("0:75", None), ("1:75:00", None), ("soon", None), (None, None), (True, None)],
)
def test_parse_timestamp(raw: Any, seconds: Optional[float]) -> None:
    assert parse_timestamp(raw) == seconds


@pytest.mark.parametrize(
    ("word", "value"),
    [("high", 85.0), ("Very High", 95.0), ("very_low", 10.0), ("none", 0.0), ("Medium confidence", 60.0),
     ("LOW.", 25.0), ("banana", None)],
)
def test_confidence_words(word: str, value: Optional[float]) -> None:
    assert parse_confidence_word(word) == value


def test_segments_of_a_class_without_model_sources_are_dropped() -> None:
    spoken = ClassSpec("DanceTok", ("Dance tutorial",), ("conversation",), "exact_match")
    text = canonical({"present": True, "confidence": 90, "segments": [
        {"start": 0, "end": 10, "prompt": "Dance tutorial", "source": "conversation", "confidence": 90}]})
    answer = parse_answer(text, classes=(spoken,), duration=DURATION)
    assert summary(answer) == {"DanceTok": (True, 90.0, [])}
