"""The world format: one definition (the pydantic models), the shipped JSON Schema generated from it."""

from __future__ import annotations

import copy
import json
from importlib.resources import files
from pathlib import Path
from typing import Any, Callable, Dict

import jsonschema
import pytest

from classify_shim.sandbox import WorldError, default_world, load_world, synthetic_world, world_schema
from classify_shim.sandbox import schema as schema_cli
from classify_shim.sandbox._world import Video, WorldModel

SCHEMA_FILE = files("classify_shim.sandbox").joinpath("world.schema.json")


def test_shipped_schema_is_generated_from_the_models() -> None:
    shipped = SCHEMA_FILE.read_text(encoding="utf-8")
    assert shipped == schema_cli.render_world_schema(), (
        "world.schema.json is stale: regenerate it with python -m classify_shim.sandbox.schema")
    assert world_schema() == json.loads(shipped)
    # generated from the models, not a copy of the file: every model field is in it
    for model in (Video, WorldModel):
        properties = world_schema()["$defs"][model.__name__]["properties"] if model is Video \
            else world_schema()["properties"]
        assert set(properties) == {f.alias or name for name, f in model.model_fields.items()}


def test_schema_command_writes_and_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "world.schema.json"
    assert schema_cli.main(["--check", "--output", str(target)]) == 1  # missing counts as stale
    target.write_text("{}\n", encoding="utf-8")
    assert schema_cli.main(["--check", "--output", str(target)]) == 1
    assert "stale" in capsys.readouterr().err
    assert schema_cli.main(["--output", str(target)]) == 0
    assert json.loads(target.read_text(encoding="utf-8")) == world_schema()
    assert schema_cli.main(["--check", "--output", str(target)]) == 0


def test_shipped_worlds_satisfy_models_and_schema() -> None:
    validator = jsonschema.Draft202012Validator(world_schema())
    validator.check_schema(world_schema())
    for world in (default_world(), synthetic_world(30, n_indexes=2, seed=3)):
        validator.validate(world)
        assert load_world(world) == world


def _video(world: Dict[str, Any]) -> Dict[str, Any]:
    video: Dict[str, Any] = world["indexes"][0]["videos"][0]
    return video


def _seg(world: Dict[str, Any]) -> Dict[str, Any]:
    seg: Dict[str, Any] = _video(world)["content"]["visual"][0]
    return seg


V = "world.indexes[0].videos[0]"
# (change, where the error must point, words it must say, does the JSON Schema also catch it)
BAD: Dict[str, Any] = {
    "unknown source": (lambda w: _video(w)["content"].__setitem__("audio", []),
                       V + ".content.audio", "unknown source 'audio'", True),
    "string duration": (lambda w: _video(w).__setitem__("duration", "12"), V + ".duration", "number", True),
    "zero duration": (lambda w: _video(w).__setitem__("duration", 0), V + ".duration", "greater than 0", True),
    "bool width": (lambda w: _video(w).__setitem__("width", True), V + ".width", "integer", True),
    "upper-case id": (lambda w: w["indexes"][0].__setitem__("_id", "A" * 24), "world.indexes[0]._id",
                      "pattern", True),
    "empty index name": (lambda w: w["indexes"][0].__setitem__("index_name", ""),
                         "world.indexes[0].index_name", "at least 1", True),
    "missing filename": (lambda w: _video(w).pop("filename"), V + ".filename", "required", True),
    "negative start": (lambda w: _seg(w).__setitem__("start", -1.0), V + ".content.visual[0].start",
                       "greater than or equal to 0", True),
    "text not a string": (lambda w: _seg(w).__setitem__("text", 3), V + ".content.visual[0].text", "string",
                          True),
    "finish reason": (lambda w: _video(w).__setitem__("scripted_answers", [{"text": "x", "finish_reason": "max"}]),
                      V + ".scripted_answers[0].finish_reason", "'stop' or 'length'", True),
    "indexes not a list": (lambda w: w.__setitem__("indexes", {}), "world.indexes", "list", True),
    # rules across fields, which JSON Schema cannot state
    "end before start": (lambda w: _seg(w).update(start=5.0, end=2.0), V + ".content.visual[0]",
                         "end must be a number >= start", False),
    "past the end": (lambda w: _seg(w).__setitem__("end", _video(w)["duration"] + 1), V,
                     "must not exceed the duration", False),
    "duplicate index id": (lambda w: w["indexes"].append(copy.deepcopy(w["indexes"][0])), "world",
                           "duplicate index id", False),
    "duplicate video id": (lambda w: w["indexes"][0]["videos"].append(copy.deepcopy(_video(w))), "world",
                           "duplicate video id " + _video(default_world())["_id"], False),
    "duplicate asset id": (lambda w: w["indexes"][0]["videos"][1].__setitem__("asset_id", _video(w)["asset_id"]),
                           "world", "duplicate asset id", False),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_worlds_name_the_field(name: str) -> None:
    change: Callable[[Dict[str, Any]], Any]
    change, where, words, schema_catches = BAD[name]
    world = default_world()
    change(world)
    with pytest.raises(WorldError) as err:
        load_world(world)
    assert str(err.value).startswith(where + ": "), str(err.value)
    assert words in str(err.value)
    assert jsonschema.Draft202012Validator(world_schema()).is_valid(world) is not schema_catches


def test_unknown_keys_pass_through_and_input_is_not_modified() -> None:
    world = default_world()
    _video(world)["extra_field"] = {"kept": True}
    world["indexes"][0]["tier"] = "gold"
    before = copy.deepcopy(world)
    loaded = load_world(world)
    assert world == before
    assert _video(loaded)["extra_field"] == {"kept": True}
    assert loaded["indexes"][0]["tier"] == "gold"


def test_int_numbers_stay_ints_and_defaults_are_filled() -> None:
    world = {"indexes": [{"_id": "a" * 24, "index_name": "i", "videos": [
        {"_id": "b" * 24, "filename": "f.mp4", "duration": 10, "content": {"visual": [
            {"start": 0, "end": 10, "text": "a dog"}]}}]}]}
    video = load_world(world)["indexes"][0]["videos"][0]
    assert video["duration"] == 10 and isinstance(video["duration"], int)
    assert video["content"]["conversation"] == [] and video["fps"] == 30.0
