"""The prompt, the answer schema, chunking and token budgets sent to ``/analyze``."""

from __future__ import annotations

import json
import math
from typing import Any, Dict, Iterator, List, Tuple

import jsonschema  # type: ignore[import-untyped,unused-ignore]
import pytest

from classify_shim._request import ClassSpec
from classify_shim.adapters.pegasus._prompt import (
    CLASSES_JSON_MARKER,
    PEGASUS12_PROMPT_LIMIT,
    PROMPT_TEMPLATE_VERSION,
    bigger_budget,
    build_prompt,
    build_response_format,
    estimate_tokens,
    max_tokens_bounds,
    max_tokens_for,
    model_sources,
    needs_exact_match,
    plan_chunks,
    prompt_limit,
)

DANCE = ClassSpec("DanceTok", ("Dance tutorial", "Dance group"), ("visual", "conversation"), "semantic")
COOK = ClassSpec("CookTok", ("Cooking tutorial",), ("visual", "conversation", "text_in_video"), "exact_match")
SPOKEN = ClassSpec("Spoken", ("subscribe",), ("conversation",), "exact_match")


def classes_json(prompt: str) -> Any:
    lines = prompt.splitlines()
    i = lines.index(CLASSES_JSON_MARKER)
    return json.loads(lines[i + 1])


def test_model_sources_drop_exact_match_conversation() -> None:
    assert model_sources(DANCE) == ("visual", "conversation")
    assert model_sources(COOK) == ("visual", "text_in_video")
    assert model_sources(SPOKEN) == ()
    assert needs_exact_match(COOK) and needs_exact_match(SPOKEN) and not needs_exact_match(DANCE)
    no_conv = ClassSpec("V", ("x",), ("visual",), "exact_match")
    assert not needs_exact_match(no_conv) and model_sources(no_conv) == ("visual",)


def test_prompt_carries_the_classes_json_line() -> None:
    prompt = build_prompt([DANCE, SPOKEN, COOK])
    assert classes_json(prompt) == [
        {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group"], "sources": ["visual", "conversation"]},
        {"name": "CookTok", "prompts": ["Cooking tutorial"], "sources": ["visual", "text_in_video"]},
    ]
    assert prompt.count(CLASSES_JSON_MARKER + "\n") == 1


@pytest.mark.parametrize(
    "fragment",
    ["EVERY class", "ONLY from its own \"sources\"", "seconds from the start of the video",
     "integer from 0 to 100", "Use only the names, prompts and sources", "JSON only",
     '{"classes":[{"name":"<name>","present":true,"confidence":90,"coverage":40,"segments":', "coverage",
     '[{"start":0.0,"end":12.5,"prompt":'],
)
def test_prompt_instructions(fragment: str) -> None:
    assert fragment in build_prompt([DANCE])


def test_prompt_keeps_unicode_and_quotes_readable() -> None:
    odd = ClassSpec('Tänze "Gruppe"', ("舞蹈 教程",), ("visual",), "semantic")
    prompt = build_prompt([odd])
    assert "舞蹈 教程" in prompt
    assert classes_json(prompt)[0]["name"] == 'Tänze "Gruppe"'


def test_nothing_for_the_model_raises() -> None:
    with pytest.raises(ValueError):
        build_prompt([SPOKEN])
    with pytest.raises(ValueError):
        build_response_format([SPOKEN])
    assert plan_chunks([SPOKEN], "pegasus1.2") == []


ALLOWED_KEYWORDS = {"type", "properties", "required", "items", "enum", "minimum", "maximum", "minItems"}
ALLOWED_TYPES = {"object", "array", "string", "number", "integer", "boolean"}


def walk(schema: Any, path: str = "$") -> Iterator[Tuple[str, Any]]:
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from walk(sub, f"{path}.{name}")
    if "items" in schema:
        yield from walk(schema["items"], f"{path}[]")


def test_response_format_stays_in_the_supported_subset() -> None:
    fmt = build_response_format([DANCE, COOK, SPOKEN])
    assert fmt["type"] == "json_schema"
    schema = fmt["json_schema"]
    jsonschema.Draft202012Validator.check_schema(schema)
    for path, node in walk(schema):
        assert set(node) <= ALLOWED_KEYWORDS, path
        assert node["type"] in ALLOWED_TYPES, path
        if node["type"] == "object":
            props = list(node["properties"])
            assert props[0] in node["required"], path
            assert "start_time" not in props and "end_time" not in props
        if "minItems" in node:
            assert node["minItems"] in (0, 1)
        if "minimum" in node or "maximum" in node:
            assert node["type"] == "integer"
    item = schema["properties"]["classes"]["items"]
    assert list(item["properties"]) == ["name", "present", "confidence", "coverage", "segments"]
    assert item["properties"]["name"]["enum"] == ["DanceTok", "CookTok"]
    seg = item["properties"]["segments"]["items"]
    assert list(seg["properties"]) == ["start", "end", "prompt", "source", "confidence"]
    assert seg["properties"]["prompt"]["enum"] == ["Dance tutorial", "Dance group", "Cooking tutorial"]
    assert seg["properties"]["source"]["enum"] == ["visual", "conversation", "text_in_video"]


def test_schema_accepts_the_expected_answer_and_rejects_others() -> None:
    schema = build_response_format([DANCE, COOK])["json_schema"]
    good = {"classes": [{"name": "DanceTok", "present": True, "confidence": 90, "coverage": 40, "segments": [
        {"start": 0.0, "end": 12.5, "prompt": "Dance tutorial", "source": "visual", "confidence": 85}]}]}
    jsonschema.validate(good, schema)
    bad_answers: List[Dict[str, Any]] = [
        {"classes": [{"name": "Sports", "present": True, "confidence": 90, "segments": []}]},
        {"classes": [{"name": "DanceTok", "present": True, "confidence": 101, "segments": []}]},
        {"classes": [{"name": "DanceTok", "present": True, "confidence": 0.9, "segments": []}]},
        {"classes": []},
    ]
    for bad in bad_answers:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_template_version_is_a_cache_key_part() -> None:
    assert isinstance(PROMPT_TEMPLATE_VERSION, str) and PROMPT_TEMPLATE_VERSION


def test_estimate_tokens() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2
    assert estimate_tokens("舞蹈") == 2
    assert estimate_tokens("ab舞") == 2


def many_classes(n: int, prompt_len: int) -> List[ClassSpec]:
    return [
        ClassSpec(f"Class{i}", tuple(f"prompt {i}-{j} " + "x" * prompt_len for j in range(2)), ("visual",), "semantic")
        for i in range(n)
    ]


def test_small_request_is_one_chunk() -> None:
    assert plan_chunks([DANCE, COOK, SPOKEN], "pegasus1.2") == [(DANCE, COOK)]


def test_chunks_fit_the_pegasus12_limit_and_keep_order() -> None:
    specs = many_classes(50, 300)
    chunks = plan_chunks(specs, "pegasus1.2")
    assert len(chunks) > 1
    assert [c for chunk in chunks for c in chunk] == specs
    for chunk in chunks:
        assert estimate_tokens(build_prompt(chunk)) <= PEGASUS12_PROMPT_LIMIT
    # greedy: no chunk could have taken the next class
    for chunk, nxt in zip(chunks, chunks[1:]):
        assert estimate_tokens(build_prompt([*chunk, nxt[0]])) > PEGASUS12_PROMPT_LIMIT


def test_large_models_take_it_in_one_call() -> None:
    specs = many_classes(50, 300)
    for model in ("pegasus1.5", "pegasus1.6", "Pegasus 2.0"):
        assert plan_chunks(specs, model) == [tuple(specs)]
    assert prompt_limit("pegasus1.5") > prompt_limit("pegasus1.2") == prompt_limit("something-new")


def test_an_oversized_class_gets_its_own_chunk() -> None:
    huge = ClassSpec("Huge", tuple("y" * 1000 for _ in range(10)), ("visual",), "semantic")
    chunks = plan_chunks([DANCE, huge, COOK], "pegasus1.2")
    assert chunks == [(DANCE,), (huge,), (COOK,)]


@pytest.mark.parametrize("model", ["pegasus1.2", "pegasus1.5", "pegasus1.6"])
def test_max_tokens_within_bounds_and_sized(model: str) -> None:
    low, high = max_tokens_bounds(model)
    small = max_tokens_for([COOK], model, 30.0)
    longer = max_tokens_for([COOK], model, 1800.0)
    bigger = max_tokens_for(many_classes(10, 40), model, 1800.0)
    huge = max_tokens_for(many_classes(50, 300), model, 3600.0)
    for value in (small, longer, bigger, huge):
        assert low <= value <= high
    assert small <= longer <= bigger <= huge
    assert small < bigger


def test_max_tokens_bounds() -> None:
    assert max_tokens_bounds("pegasus1.2") == (2, 4096)
    assert max_tokens_bounds("pegasus1.5") == (512, 98_304)
    assert max_tokens_for(many_classes(50, 300), "pegasus1.2", 3600.0) == 4096
    assert max_tokens_for([COOK], "pegasus1.5", 0.0) >= 512
    assert max_tokens_for([COOK], "pegasus1.5", math.nan) >= 512


def test_bigger_budget() -> None:
    assert bigger_budget(1000, "pegasus1.2") == 2000
    assert bigger_budget(3000, "pegasus1.2") == 4096
    assert bigger_budget(4096, "pegasus1.2") == 4096
    assert bigger_budget(4096, "pegasus1.5") == 8192
    assert bigger_budget(90_000, "pegasus1.6") == 98_304
