"""World loading, validation, the built-in default world and synthetic worlds.

A "world" is the whole server-side state the sandbox serves: indexes, their
videos and what each video contains over time.  It is plain JSON so tests and
users can write their own, and it is validated up front so a typo in a world
file fails loudly instead of producing odd classification results.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import json
import random
import re
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any, Dict, List, Mapping, Set, Tuple, Union

from ._match import SOURCES

WorldInput = Union[None, str, Path, Mapping[str, Any]]

_HEX24 = re.compile(r"^[0-9a-f]{24}$")
_DEFAULT_MODELS: List[Dict[str, Any]] = [
    {"model_name": "marengo2.7", "model_options": ["visual", "audio"]},
    {"model_name": "pegasus1.2", "model_options": ["visual", "audio"]},
]
_FINISH = ("stop", "length")


class WorldError(ValueError):
    """Raised when a world document is malformed."""


def _read_package_json(name: str) -> Any:
    return json.loads(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))


def world_schema() -> Dict[str, Any]:
    """The JSON Schema of the world format (shipped as world.schema.json)."""
    schema: Dict[str, Any] = _read_package_json("world.schema.json")
    return schema


def default_world() -> Dict[str, Any]:
    """A fresh copy of the built-in world (dance, cooking and distractor videos)."""
    return load_world(_read_package_json("default_world.json"))


def _derived_hex(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:24]


def _check(cond: bool, where: str, msg: str) -> None:
    if not cond:
        raise WorldError(f"{where}: {msg}")


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _structural_check(world: Any) -> None:
    """Minimal structural validation used whether or not jsonschema is installed."""
    _check(isinstance(world, dict), "world", "must be a JSON object")
    indexes = world.get("indexes")
    _check(isinstance(indexes, list), "world.indexes", "must be an array")
    for i, idx in enumerate(indexes):
        w = f"indexes[{i}]"
        _check(isinstance(idx, dict), w, "must be an object")
        _check(isinstance(idx.get("_id"), str) and bool(_HEX24.match(idx["_id"])), w + "._id",
               "must be 24 lowercase hex characters")
        _check(isinstance(idx.get("index_name"), str) and bool(idx["index_name"]), w + ".index_name",
               "must be a non-empty string")
        _check(isinstance(idx.get("videos"), list), w + ".videos", "must be an array")
        if "models" in idx:
            _check(isinstance(idx["models"], list), w + ".models", "must be an array")
        for j, vid in enumerate(idx["videos"]):
            vw = f"{w}.videos[{j}]"
            _check(isinstance(vid, dict), vw, "must be an object")
            _check(isinstance(vid.get("_id"), str) and bool(_HEX24.match(vid["_id"])), vw + "._id",
                   "must be 24 lowercase hex characters")
            _check(isinstance(vid.get("filename"), str), vw + ".filename", "must be a string")
            _check(_is_num(vid.get("duration")) and vid["duration"] > 0, vw + ".duration",
                   "must be a positive number")
            for key in ("fps",):
                if key in vid:
                    _check(_is_num(vid[key]) and vid[key] > 0, f"{vw}.{key}", "must be a positive number")
            for key in ("width", "height", "size"):
                if key in vid:
                    _check(isinstance(vid[key], int) and not isinstance(vid[key], bool) and vid[key] > 0,
                           f"{vw}.{key}", "must be a positive integer")
            content = vid.get("content")
            _check(isinstance(content, dict), vw + ".content", "must be an object")
            for src, segs in content.items():
                _check(src in SOURCES, f"{vw}.content", f"unknown source {src!r} (use {', '.join(SOURCES)})")
                _check(isinstance(segs, list), f"{vw}.content.{src}", "must be an array")
                for k, seg in enumerate(segs):
                    sw = f"{vw}.content.{src}[{k}]"
                    _check(isinstance(seg, dict), sw, "must be an object")
                    _check(_is_num(seg.get("start")) and seg["start"] >= 0, sw + ".start",
                           "must be a number >= 0")
                    _check(_is_num(seg.get("end")) and seg["end"] >= seg["start"], sw + ".end",
                           "must be a number >= start")
                    _check(seg["end"] <= vid["duration"] + 1e-6, sw + ".end", "must not exceed the duration")
                    _check(isinstance(seg.get("text"), str), sw + ".text", "must be a string")
            answers = vid.get("scripted_answers", [])
            _check(isinstance(answers, list), vw + ".scripted_answers", "must be an array")
            for k, ans in enumerate(answers):
                aw = f"{vw}.scripted_answers[{k}]"
                _check(isinstance(ans, dict) and isinstance(ans.get("text"), str), aw, "needs a string 'text'")
                _check(ans.get("finish_reason", "stop") in _FINISH, aw + ".finish_reason",
                       "must be 'stop' or 'length'")


def _jsonschema_check(world: Any) -> None:
    try:
        jsonschema = importlib.import_module("jsonschema")
    except ImportError:  # a dev dependency only; the structural check still runs
        return
    validator = jsonschema.Draft202012Validator(world_schema())
    errors = sorted(validator.iter_errors(world), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        where = "world" + "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in err.absolute_path)
        raise WorldError(f"{where}: {err.message}")


def _normalize(world: Dict[str, Any]) -> Dict[str, Any]:
    """Fill optional fields with stable defaults so every consumer sees complete records."""
    seen_v: Dict[str, str] = {}
    seen_i: Set[str] = set()
    seen_a: Set[str] = set()
    for idx in world["indexes"]:
        _check(idx["_id"] not in seen_i, "world", f"duplicate index id {idx['_id']}")
        seen_i.add(idx["_id"])
        idx.setdefault("models", copy.deepcopy(_DEFAULT_MODELS))
        idx.setdefault("created_at", "2024-01-01T00:00:00Z")
        for vid in idx["videos"]:
            _check(vid["_id"] not in seen_v, "world", f"duplicate video id {vid['_id']}")
            seen_v[vid["_id"]] = idx["_id"]
            vid.setdefault("asset_id", _derived_hex("asset", vid["_id"]))
            _check(vid["asset_id"] not in seen_a, "world", f"duplicate asset id {vid['asset_id']}")
            seen_a.add(vid["asset_id"])
            vid.setdefault("fps", 30.0)
            vid.setdefault("width", 1280)
            vid.setdefault("height", 720)
            vid.setdefault("size", int(vid["duration"] * 250_000))
            vid.setdefault("created_at", idx["created_at"])
            for src in SOURCES:
                vid["content"].setdefault(src, [])
    return world


def load_world(world: WorldInput) -> Dict[str, Any]:
    """Load (path or dict; None = default world), validate and normalize a world.

    Returns a new dict; the input is never modified.
    """
    if world is None:
        return default_world()
    if isinstance(world, (str, Path)):
        try:
            data: Any = json.loads(Path(world).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise WorldError(f"cannot read world file {world}: {exc}") from exc
    else:
        data = copy.deepcopy(dict(world))
    _structural_check(data)
    _jsonschema_check(data)
    return _normalize(data)


class World:
    """Indexed, read-only view of a loaded world for fast lookups per request."""

    def __init__(self, data: Dict[str, Any]) -> None:
        self.data = data
        self.indexes: Dict[str, Dict[str, Any]] = {}
        self.videos: Dict[str, Dict[str, Any]] = {}
        self.video_index: Dict[str, str] = {}
        self.assets: Dict[str, Dict[str, Any]] = {}
        self._sorted: Dict[Tuple[str, bool], List[Dict[str, Any]]] = {}
        for idx in data["indexes"]:
            self.indexes[idx["_id"]] = idx
            for vid in idx["videos"]:
                self.videos[vid["_id"]] = vid
                self.video_index[vid["_id"]] = idx["_id"]
                self.assets[vid["asset_id"]] = vid

    def videos_by_created(self, index_id: str, newest_first: bool) -> List[Dict[str, Any]]:
        """An index's videos by creation time (cached: big worlds are listed page by page)."""
        key = (index_id, newest_first)
        cached = self._sorted.get(key)
        if cached is None:
            cached = sorted(self.indexes[index_id]["videos"], key=lambda v: (v["created_at"], v["_id"]),
                            reverse=newest_first)
            self._sorted[key] = cached
        return cached

    def describe(self) -> str:
        """One-line summary for the CLI banner."""
        n_v = len(self.videos)
        hours = sum(float(v["duration"]) for v in self.videos.values()) / 3600.0
        name = self.data.get("name", "custom")
        return f"world {name!r}: {len(self.indexes)} indexes, {n_v} videos, {hours:.1f} h of video"


# --------------------------------------------------------------------------- synthetic worlds

# (topic, visual, conversation, on-screen text); the first three lines match the seed classes.
_TOPICS: List[Tuple[str, str, str, str]] = [
    ("dance_tutorial", "An instructor demonstrates the steps of a hip hop dance tutorial in a studio",
     "Welcome back to this dance tutorial, follow my feet on the count of eight", "DANCE TUTORIAL"),
    ("dance_group", "A group of dancers performs a synchronized routine on a city street",
     "Our dance group rehearsed this routine all week", "CREW NIGHT"),
    ("dance_competition", "Couples compete on stage at a dance competition while judges score them",
     "The judges of the dance competition announce the finalists", "FINALS"),
    ("cooking_tutorial", "A chef walks through a cooking tutorial, chopping onions and stirring a pot",
     "In today's cooking tutorial we make a simple tomato sauce", "RECIPE"),
    ("utensils_review", "A reviewer compares kitchen utensils for cooking and rates each spatula and whisk",
     "My honest review of these cooking utensils after one month", "BEST UTENSILS"),
    ("soccer", "Soccer players sprint down the pitch and the striker scores a goal",
     "What a goal in the final minute of the match", "GOAL"),
    ("news", "A news anchor reads the headlines at a desk in a television studio",
     "Good evening, here are tonight's top stories", "BREAKING"),
    ("travel", "A traveler walks through a busy market and films temples at sunset",
     "This city is amazing, tomorrow we take the train to the coast", "DAY 1"),
    ("gaming", "A streamer plays a racing game with a webcam overlay in the corner",
     "Let me know in the chat which car I should pick", "LIVE"),
]
_FILLER = "A title card fades in over a neutral background"


def synthetic_world(n_videos: int, n_indexes: int = 1, seed: int = 0) -> Dict[str, Any]:
    """A deterministic world of any size for benchmarks (10,000 videos in well under a second).

    Each video is about one topic which covers most of its duration (about 70-95 %),
    preceded by a short neutral intro, so seed-class pass/fail stays clear-cut.
    """
    if n_videos < 0 or n_indexes < 1:
        raise ValueError("n_videos must be >= 0 and n_indexes >= 1")
    rng = random.Random(f"synthetic:{seed}")
    base = datetime(2024, 3, 1, tzinfo=timezone.utc)
    indexes: List[Dict[str, Any]] = []
    for k in range(n_indexes):
        indexes.append({
            "_id": _derived_hex("index", seed, k),
            "index_name": f"synthetic-{seed}-{k}",
            "models": copy.deepcopy(_DEFAULT_MODELS),
            "created_at": (base + timedelta(days=k)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "videos": [],
        })
    for i in range(n_videos):
        topic, visual, speech, ocr = _TOPICS[rng.randrange(len(_TOPICS))]
        duration = float(rng.randrange(60, 601))
        start = round(duration * rng.uniform(0.03, 0.15), 2)
        split = round(start + (duration - start) * rng.uniform(0.4, 0.6), 2)
        end = round(duration - duration * rng.uniform(0.0, 0.08), 2)
        video: Dict[str, Any] = {
            "_id": _derived_hex("video", seed, i),
            "asset_id": _derived_hex("asset", seed, i),
            "filename": f"{topic}_{i:05d}.mp4",
            "duration": duration,
            "fps": rng.choice([24.0, 25.0, 29.97, 30.0, 60.0]),
            "width": 1920,
            "height": 1080,
            "created_at": (base + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "content": {
                "visual": [
                    {"start": 0.0, "end": start, "text": _FILLER},
                    {"start": start, "end": split, "text": visual},
                    {"start": split, "end": end, "text": visual},
                ],
                "conversation": [{"start": start, "end": end, "text": speech}],
                "text_in_video": [{"start": start, "end": min(end, start + 5.0), "text": ocr}],
            },
        }
        indexes[i % n_indexes]["videos"].append(video)
    # Built directly in normalized form: skip re-validation, it would dominate the cost.
    return _normalize({"name": f"synthetic-{n_videos}-{seed}", "indexes": indexes})
