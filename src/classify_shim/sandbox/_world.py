"""World loading, validation, the built-in default world and synthetic worlds.

A "world" is the whole server-side state the sandbox serves: indexes, their
videos and what each video contains over time.  It is plain JSON so tests and
users can write their own, and it is validated up front so a typo in a world
file fails loudly instead of producing odd classification results.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import re
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Dict, List, Literal, Mapping, Optional, Set, Tuple, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ._match import SOURCES

WorldInput = Union[None, str, Path, Mapping[str, Any]]

_HEX24 = re.compile(r"^[0-9a-f]{24}$")
_DEFAULT_MODELS: List[Dict[str, Any]] = [
    {"model_name": "marengo2.7", "model_options": ["visual", "audio"]},
    {"model_name": "pegasus1.2", "model_options": ["visual", "audio"]},
]


class WorldError(ValueError):
    """Raised when a world document is malformed."""


def _read_package_json(name: str) -> Any:
    return json.loads(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))


def default_world() -> Dict[str, Any]:
    """A fresh copy of the built-in world (dance, cooking and distractor videos)."""
    return load_world(_read_package_json("default_world.json"))


def _derived_hex(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:24]


# --------------------------------------------------------------------------- the world format
# The models are the one definition of a valid world: load_world validates with them (so users of
# the pytest fixture get exactly the suite's checks) and world.schema.json is generated from them.
# They validate only; consumers keep reading plain dicts, so unknown keys pass through untouched.

_Hex24 = Annotated[str, Field(pattern=_HEX24.pattern)]
_Positive = Annotated[float, Field(gt=0)]
_PositiveInt = Annotated[int, Field(ge=1)]


class _Strict(BaseModel):
    # strict: a JSON world is already typed, so "12" for a duration is a typo, not a number
    model_config = ConfigDict(strict=True, extra="allow", populate_by_name=True)


class Segment(_Strict):
    """What one source (visual, speech, on-screen text) shows between two times, in seconds."""

    start: Annotated[float, Field(ge=0)]
    end: Annotated[float, Field(ge=0)]
    text: str

    @model_validator(mode="after")
    def _ordered(self) -> Segment:
        if self.end < self.start:
            raise ValueError("end must be a number >= start")
        return self


class Content(_Strict):
    """A video's time-coded content per source; any other source name is a typo."""

    model_config = ConfigDict(extra="forbid")

    visual: List[Segment] = []
    conversation: List[Segment] = []
    text_in_video: List[Segment] = []


class ScriptedAnswer(_Strict):
    """A Pegasus answer the sandbox returns verbatim instead of simulating one."""

    text: str
    finish_reason: Literal["stop", "length"] = "stop"


class Video(_Strict):
    """One indexed video."""

    id: _Hex24 = Field(alias="_id")
    asset_id: Optional[Annotated[str, Field(min_length=1)]] = None
    filename: str
    duration: _Positive
    fps: Optional[_Positive] = None
    width: Optional[_PositiveInt] = None
    height: Optional[_PositiveInt] = None
    size: Optional[_PositiveInt] = None
    created_at: Optional[str] = None
    user_metadata: Optional[Dict[str, Any]] = None
    content: Content
    scripted_answers: List[ScriptedAnswer] = []

    @model_validator(mode="after")
    def _within_duration(self) -> Video:
        for src in SOURCES:
            for k, seg in enumerate(getattr(self.content, src)):
                if seg.end > self.duration + 1e-6:
                    raise ValueError(f"content.{src}[{k}].end must not exceed the duration")
        return self


class IndexModel(_Strict):
    """An engine/model an index was created with, as v1.2 and v1.3 list it."""

    model_name: Annotated[str, Field(min_length=1)]
    model_options: List[str] = []
    addons: List[str] = []


class Index(_Strict):
    """One index and its videos."""

    id: _Hex24 = Field(alias="_id")
    index_name: Annotated[str, Field(min_length=1)]
    created_at: Optional[str] = None
    models: Optional[List[IndexModel]] = None
    videos: List[Video]


class WorldModel(_Strict):
    """The whole server-side state the sandbox serves."""

    model_config = ConfigDict(title="classify_shim sandbox world")

    name: Optional[str] = None
    description: Optional[str] = None
    indexes: List[Index]

    @model_validator(mode="after")
    def _unique_ids(self) -> WorldModel:
        # Ids are looked up world-wide (a video id names one video in any index), so a repeat
        # anywhere is an error. An omitted asset id is derived from the video id: unique too.
        seen: Set[str] = set()
        for idx in self.indexes:
            if idx.id in seen:
                raise ValueError(f"duplicate index id {idx.id}")
            seen.add(idx.id)
        videos: Set[str] = set()
        assets: Set[str] = set()
        for idx in self.indexes:
            for vid in idx.videos:
                if vid.id in videos:
                    raise ValueError(f"duplicate video id {vid.id}")
                videos.add(vid.id)
                asset = vid.asset_id if vid.asset_id is not None else _derived_hex("asset", vid.id)
                if asset in assets:
                    raise ValueError(f"duplicate asset id {asset}")
                assets.add(asset)
        return self


assert tuple(Content.model_fields) == SOURCES, "Content must list exactly the sandbox's sources"


def generated_world_schema() -> Dict[str, Any]:
    """The JSON Schema of the world format, generated from the models."""
    schema = WorldModel.model_json_schema(by_alias=True)
    schema["description"] = ("Server-side state served by the classify_shim sandbox: indexes, videos and "
                             "their time-coded content.")
    return schema


def world_schema() -> Dict[str, Any]:
    """The JSON Schema of the world format (shipped as world.schema.json, for editors)."""
    schema: Dict[str, Any] = _read_package_json("world.schema.json")
    return schema


def _where(loc: Tuple[Union[int, str], ...]) -> str:
    return "world" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)


def _validate(world: Any) -> None:
    if not isinstance(world, dict):
        raise WorldError("world: must be a JSON object")
    try:
        WorldModel.model_validate(world)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden" and len(loc) >= 2 and loc[-2] == "content":
            msg = f"unknown source {loc[-1]!r} (use {', '.join(SOURCES)})"
        raise WorldError(f"{_where(loc)}: {msg}") from None


def _normalize(world: Dict[str, Any]) -> Dict[str, Any]:
    """Fill optional fields with stable defaults so every consumer sees complete records
    (``world`` already satisfies :class:`WorldModel`)."""
    for idx in world["indexes"]:
        idx.setdefault("models", copy.deepcopy(_DEFAULT_MODELS))
        idx.setdefault("created_at", "2024-01-01T00:00:00Z")
        for vid in idx["videos"]:
            vid.setdefault("asset_id", _derived_hex("asset", vid["_id"]))
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
    _validate(data)
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

