"""Hostile model answers: wrapper-word class names, empty answers, nesting bombs, huge numbers,
and parsing work that stays linear in the answer's size (counted, not timed)."""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest

from classify_shim._request import ClassSpec
from classify_shim.adapters.pegasus._json import MAX_DEPTH, HostileAnswer, find_json, loads, measure
from classify_shim.adapters.pegasus._parse import AnswerError, parse_answer

DANCE = ClassSpec("DanceTok", ("dance",), ("visual",), "semantic")


def _spec(name: str) -> ClassSpec:
    return ClassSpec(name, (name.lower(),), ("visual",), "semantic")


def parse(text: str, *names: str) -> Any:
    classes = tuple(_spec(n) for n in names) if names else (DANCE,)
    return parse_answer(text, classes=classes, duration=60.0)


# ------------------------------------------------------------------ wrapper words are classes


@pytest.mark.parametrize("word", ["Classes", "classes", "results", "Data", "labels", "output", "answer"])
def test_class_named_like_a_wrapper_inside_the_real_wrapper(word: str) -> None:
    text = f'{{"classes": [{{"name": "{word}", "present": true, "confidence": 91}}, ' \
           '{"name": "DanceTok", "present": false, "confidence": 3}]}'
    got = parse(text, word, "DanceTok")
    assert got.classes[word].present and got.classes[word].confidence == 91
    assert not got.classes["DanceTok"].present


@pytest.mark.parametrize("word", ["Classes", "results", "data"])
def test_class_named_like_a_wrapper_keyed_by_name(word: str) -> None:
    got = parse(f'{{"{word}": {{"present": true, "confidence": 80}}, "DanceTok": {{"present": false}}}}',
                word, "DanceTok")
    assert got.classes[word].present and got.classes[word].confidence == 80
    assert got.classes["DanceTok"].answered and not got.classes["DanceTok"].present


def test_class_named_results_with_segment_list_is_a_class() -> None:
    got = parse('{"results": [{"start": 1, "end": 5, "confidence": 90}]}', "results")
    assert got.classes["results"].present and len(got.classes["results"].segments) == 1


def test_wrapper_word_that_is_not_a_class_still_unwraps() -> None:
    got = parse('{"results": [{"name": "DanceTok", "present": true, "confidence": 88}]}')
    assert got.classes["DanceTok"].present and got.classes["DanceTok"].confidence == 88


# ------------------------------------------------------------------ empty answers are invalid


@pytest.mark.parametrize("text", ['{"classes": []}', "{}", "[]", "```json\n{}\n```", '{"results": {}}', '""'])
def test_empty_answers_are_invalid(text: str) -> None:
    with pytest.raises(AnswerError) as info:
        parse(text)
    assert info.value.kind == "invalid"


# ------------------------------------------------------------------ bombs


@pytest.mark.parametrize(
    "text",
    [
        "[" * 16_000,
        "[" * 16_000 + "]" * 16_000,
        '{"classes": ' + "[" * 5_000 + "]" * 5_000 + "}",
        '```json\n{"a": ' + "{" * 2_000 + "\n```",
        "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
        '{"classes": [{"name": "DanceTok", "present": true, "confidence": 1' + "0" * 400 + "}]}",
        '{"classes": [{"name": "DanceTok", "present": true, "confidence": 1' + "0" * 400 + ".5}]}",
        '"' + "[" * 3_000 + "]" * 3_000 + '"',
    ],
    ids=["open-16k", "balanced-16k", "deep-classes", "fenced-deep", "just-too-deep", "400-digit-int",
         "400-digit-float", "json-encoded-bomb"],
)
def test_bombs_are_invalid_answers_not_crashes(text: str) -> None:
    with pytest.raises(AnswerError) as info:
        parse(text)
    assert info.value.kind in ("invalid", "truncated")
    assert not isinstance(info.value.__cause__, (RecursionError, OverflowError))


def test_bomb_inside_a_string_value_is_just_an_unreadable_value() -> None:
    got = parse('{"DanceTok": "' + "[" * 3_000 + "]" * 3_000 + '"}')
    assert not got.classes["DanceTok"].present or got.classes["DanceTok"].confidence >= 0


def test_huge_numbers_inside_strings_are_unreadable_values_not_crashes() -> None:
    got = parse('{"classes": [{"name": "DanceTok", "present": true, "confidence": "9' + "9" * 400 + '", '
                '"segments": [{"start": "1' + "0" * 400 + '", "end": 5}]}]}')
    cls = got.classes["DanceTok"]
    assert cls.present and cls.segments == []
    assert any("unreadable confidence" in n for n in got.notes)


@pytest.mark.parametrize("where", ["bare", "after-short-numbers", "in-a-list"])
def test_a_bare_number_one_digit_past_the_limit_is_hostile_and_one_at_the_limit_is_read(where: str) -> None:
    # 40 digits is the documented limit (MAX_NUMBER_DIGITS); written out here, not imported.
    def doc(digits: int) -> str:
        number = "7" * digits
        if where == "bare":
            return '{"a": ' + number + "}"
        if where == "after-short-numbers":
            return '{"a": [1, 22, 333.5], "b": ' + number + "}"
        return '{"a": [1, ' + number + ", 3]}"

    assert loads(doc(40)) is not None
    with pytest.raises(HostileAnswer):
        loads(doc(41))
    # Outside any bracket a long digit run is prose, not a number of the answer.
    assert find_json("order " + "5" * 80 + ' then {"a": 1}').value == {"a": 1}


def test_nesting_at_the_limit_is_still_read() -> None:
    inner = '{"name": "DanceTok", "present": true, "confidence": 77, "x": ' + "[" * 50 + "]" * 50 + "}"
    got = parse('{"classes": [' + inner + "]}")
    assert got.classes["DanceTok"].confidence == 77


# ------------------------------------------------------------------ linear work


def _families() -> Dict[str, Callable[[int], str]]:
    return {
        "open-brackets": lambda n: "[" * n,
        "open-braces-with-keys": lambda n: '{"a": ' * n,
        "many-small-non-json-spans": lambda n: "{x} " * (n // 4),
        "many-small-lists": lambda n: "[1] " * (n // 4),
        "deep-then-prose": lambda n: ("[" * 60 + "]" * 60 + " so ") * (n // 124),
        "quotes-and-brackets": lambda n: "{'a': [\"b\", " * (n // 12),
        "fences": lambda n: "```json\n{x}\n``` " * (n // 16),
        "trailing-commas": lambda n: "[" + "1, " * (n // 3),
        "python-literals": lambda n: "{" + "'k': True, " * (n // 11) + "}",
    }


def _work(text: str) -> int:
    with measure() as meter:
        try:
            parse(text)
        except AnswerError:
            pass
    return meter.work


@pytest.mark.parametrize("family", list(_families()))
def test_parsing_work_is_linear_in_answer_size(family: str) -> None:
    make = _families()[family]
    small, big = make(16_000), make(64_000)
    w_small, w_big = _work(small), _work(big)
    assert w_small <= 12 * len(small), (w_small, len(small))
    assert w_big <= 12 * len(big), (w_big, len(big))
    # 4x the text, about 4x the work (a quadratic parser would do 16x).
    assert w_big / w_small <= 1.25 * len(big) / len(small), (w_small, w_big)


# ------------------------------------------------------------------ the engine: retried once, never cached


@pytest.fixture
def sandbox_factory() -> Iterator[Any]:
    from classify_shim.sandbox import Sandbox

    started: List[Any] = []

    def make(world: Dict[str, Any]) -> Any:
        sb = Sandbox(world=world).start()
        started.append(sb)
        return sb

    yield make
    for sb in started:
        sb.stop()


@pytest.mark.parametrize("empty", ['{"classes": []}', "{}", "[]"])
def test_empty_answer_is_retried_once_never_cached_then_reported(
    sandbox_factory: Any, tmp_path: Path, empty: str
) -> None:
    from classify_shim import TwelveLabs
    from classify_shim.sandbox import default_world

    world = copy.deepcopy(default_world())
    world["indexes"] = [world["indexes"][0]]
    video = world["indexes"][0]["videos"][0]
    world["indexes"][0]["videos"] = [video]
    video["scripted_answers"] = [{"text": empty}] * 4
    sb = sandbox_factory(world)
    classes = [{"name": "DanceTok", "prompts": ["dance"]}]

    def run() -> Any:
        with TwelveLabs("tlk_hostile", classify_backend="pegasus", base_url=sb.base_url, max_retries=0,
                        cache=tmp_path / "c.sqlite3") as client, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return client.classify.videos([video["_id"]], ["visual"], classes)

    first = run()
    assert [(e.video_id, e.stage) for e in first.errors] == [(video["_id"], "parse")]
    analyze = [r for r in sb.requests() if r["endpoint"] == "v1.3.analyze"]
    assert len(analyze) == 2  # asked, then retried once
    second = run()
    assert second.errors and len([r for r in sb.requests() if r["endpoint"] == "v1.3.analyze"]) == 4  # not cached
