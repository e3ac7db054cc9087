"""Emulation of the v1.3 endpoints a Pegasus-backed classify needs.

``GET /indexes``, ``GET /indexes/{id}``, ``GET /indexes/{id}/videos``,
``GET /indexes/{id}/videos/{vid}`` and ``POST /analyze`` (streamed NDJSON or
a single JSON answer), with the request validation and JSON-schema subset
checks the real service documents.
"""

from __future__ import annotations

import json
import math
import random
import time
import uuid
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

from ._common import ApiError, Response, invalid, is_int, is_number, not_exist, not_provided
from ._model import ModelState, fingerprint, generate, token_count
from ._world import World

MODELS = ("pegasus1.2", "pegasus1.5", "pegasus1.6")
DEFAULT_MODEL = "pegasus1.2"
MAX_TOKENS_RANGE = {"pegasus1.2": (2, 4096), "pegasus1.5": (512, 98304), "pegasus1.6": (512, 98304)}
DEFAULT_MAX_TOKENS = 4096
#: Pegasus 1.2's 2,000-token prompt limit, at about four characters per token.
PEGASUS12_PROMPT_CHARS = 8000
#: Longest video sync ``POST /analyze`` takes (2026-07 spec: "Maximum duration: 1 hour"); longer
#: ones are for ``/analyze/tasks`` (up to 2 hours), which does not pass this limit.
SYNC_MAX_DURATION_S = 3600.0
DURATION_TOO_LONG = "video_duration_too_long"
_SCHEMA_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string", "timestamp")
_STRING_FORMATS = ("uuid", "date-time", "date", "time")
_TIMESTAMP_FORMATS = ("seconds", "hh:mm:ss", "hh:mm:ss.fff")
_REJECTED = {
    "minLength": "String length constraints (minLength) are not supported.",
    "maxLength": "String length constraints (maxLength) are not supported.",
    "additionalProperties": "The additionalProperties keyword is not supported.",
    "uniqueItems": "The uniqueItems keyword is not supported.",
    "maxItems": "Array length constraints (maxItems) are not supported.",
    "allOf": "Schema composition with allOf is not supported; only anyOf is.",
    "oneOf": "Schema composition with oneOf is not supported; only anyOf is.",
    "not": "Schema composition with not is not supported; only anyOf is.",
}


# --------------------------------------------------------------------------- indexes and videos

def _page_args(query: Mapping[str, str]) -> Tuple[int, int]:
    def num(name: str, default: int, lo: int, hi: Optional[int]) -> int:
        raw = query.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise invalid(name, "must be an integer") from None
        if value < lo or (hi is not None and value > hi):
            raise invalid(name, f"must be between {lo} and {hi}" if hi else f"must be at least {lo}")
        return value

    return num("page", 1, 1, None), num("page_limit", 10, 1, 50)


def _paged(items: List[Dict[str, Any]], page: int, limit: int) -> Dict[str, Any]:
    total = len(items)
    return {
        "data": items[(page - 1) * limit: page * limit],
        "page_info": {
            "limit_per_page": limit,
            "page": page,
            "total_page": max(1, math.ceil(total / limit)),
            "total_results": total,
        },
    }


def _index_json(idx: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "_id": idx["_id"],
        "index_name": idx["index_name"],
        "models": idx["models"],
        "created_at": idx["created_at"],
        "updated_at": idx["created_at"],
        "video_count": len(idx["videos"]),
        "total_duration": round(sum(float(v["duration"]) for v in idx["videos"]), 3),
    }


def list_indexes(world: World, query: Mapping[str, str]) -> Response:
    """``GET /v1.3/indexes`` (oldest first, like the real service)."""
    page, limit = _page_args(query)
    items = [_index_json(i) for i in world.indexes.values()]
    if query.get("index_name"):
        items = [i for i in items if i["index_name"] == query["index_name"]]
    items.sort(key=lambda i: (i["created_at"], i["_id"]))
    return Response(200, _paged(items, page, limit))


def get_index(world: World, index_id: str) -> Response:
    """``GET /v1.3/indexes/{id}``."""
    idx = world.indexes.get(index_id)
    if idx is None:
        raise not_exist(index_id, "indexes", status=404)
    return Response(200, _index_json(idx), extra_log={"index": index_id})


def _video_json(video: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "_id": video["_id"],
        "asset_id": video["asset_id"],
        "created_at": video["created_at"],
        "updated_at": video["created_at"],
        "indexed_at": video["created_at"],
        "system_metadata": {
            "filename": video["filename"],
            "duration": video["duration"],
            "fps": video["fps"],
            "width": video["width"],
            "height": video["height"],
            "size": video["size"],
        },
    }


def list_videos(world: World, index_id: str, query: Mapping[str, str]) -> Response:
    """``GET /v1.3/indexes/{id}/videos`` (newest first by default)."""
    idx = world.indexes.get(index_id)
    if idx is None:
        raise not_exist(index_id, "indexes", status=404)
    page, limit = _page_args(query)
    sort_by = query.get("sort_by") or "created_at"
    sort_option = query.get("sort_option") or "desc"
    if sort_by not in ("created_at", "updated_at"):
        raise invalid("sort_by", "must be created_at or updated_at")
    if sort_option not in ("asc", "desc"):
        raise invalid("sort_option", "must be asc or desc")
    videos = world.videos_by_created(index_id, newest_first=sort_option == "desc")
    if query.get("filename"):
        videos = [v for v in videos if v["filename"] == query["filename"]]
    payload = _paged(videos, page, limit)
    payload["data"] = [_video_json(v) for v in payload["data"]]
    return Response(200, payload, extra_log={"index": index_id})


def get_video(world: World, index_id: str, video_id: str, query: Mapping[str, str]) -> Response:
    """``GET /v1.3/indexes/{id}/videos/{vid}`` (+ ``transcription=true``)."""
    if index_id not in world.indexes:
        raise not_exist(index_id, "indexes", status=404)
    video = world.videos.get(video_id)
    if video is None or world.video_index[video_id] != index_id:
        raise not_exist(video_id, "videos", status=404)
    out = _video_json(video)
    out["user_metadata"] = video.get("user_metadata") or {}
    if (query.get("transcription") or "").lower() == "true":
        speech = video["content"].get("conversation") or []
        out["transcription"] = [{"start": s["start"], "end": s["end"], "value": s["text"]} for s in speech] or None
    return Response(200, out, video=video_id, extra_log={"index": index_id})


# --------------------------------------------------------------------------- response_format checks

def _schema_error(message: str) -> ApiError:
    return ApiError(422, "parameter_invalid", message)


def check_schema(schema: Any, path: str = "json_schema") -> None:
    """Reject what the service's structured-output subset does not support (422 / 400)."""
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        raise invalid(f"response_format.{path}", "must be an object")
    for key, message in _REJECTED.items():
        if key in schema:
            raise _schema_error(message)
    if "minItems" in schema and schema["minItems"] not in (0, 1):
        raise _schema_error("Array length constraints (minItems) other than 0 or 1 are not supported.")
    ref = schema.get("$ref")
    if ref is not None and not (isinstance(ref, str) and ref.startswith("#/$defs/")):
        raise _schema_error("Only local references into $defs are supported.")
    typ = schema.get("type")
    for t in typ if isinstance(typ, list) else [typ] if typ is not None else []:
        if t not in _SCHEMA_TYPES:
            raise _schema_error(f"The type {t!r} is not supported.")
    if typ == "timestamp" and schema.get("format", "seconds") not in _TIMESTAMP_FORMATS:
        raise invalid(f"response_format.{path}.format", "timestamp format must be seconds, hh:mm:ss or hh:mm:ss.fff")
    if typ == "string" and "format" in schema and schema["format"] not in _STRING_FORMATS:
        raise _schema_error(f"The string format {schema['format']!r} is not supported.")
    props = schema.get("properties")
    if isinstance(props, dict):
        for name, sub in props.items():
            if name in ("start_time", "end_time") and isinstance(sub, dict):
                sub_type = sub.get("type")
                ok = sub_type in ("number", "integer", "timestamp") or (sub_type == "string" and "format" not in sub)
                if not ok:
                    raise invalid(f"response_format.{path}.properties.{name}",
                                  f"{name} is reserved; declare it as number, integer or string without format")
            check_schema(sub, f"{path}.properties.{name}")
    for key in ("items",):
        if key in schema:
            check_schema(schema[key], f"{path}.{key}")
    for key in ("anyOf",):
        if key in schema:
            if not isinstance(schema[key], list):
                raise invalid(f"response_format.{path}.{key}", "must be an array")
            for i, sub in enumerate(schema[key]):
                check_schema(sub, f"{path}.{key}[{i}]")
    defs = schema.get("$defs")
    if isinstance(defs, dict):
        for name, sub in defs.items():
            check_schema(sub, f"{path}.$defs.{name}")


def _response_format(value: Any) -> Optional[Dict[str, Any]]:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise invalid("response_format", "must be an object")
    if value.get("type") != "json_schema":
        raise invalid("response_format.type", "must be 'json_schema'")
    schema = value.get("json_schema")
    if schema is None:
        raise not_provided("response_format.json_schema")
    if not isinstance(schema, dict):
        raise invalid("response_format.json_schema", "must be an object")
    check_schema(schema)
    return schema


# --------------------------------------------------------------------------- analyze

def _resolve_video(world: World, body: Dict[str, Any], model: str) -> Dict[str, Any]:
    video_id = body.get("video_id")
    video_obj = body.get("video")
    if video_id is not None and video_obj is not None:
        raise invalid("video", "provide either video_id or video, not both")
    if video_id is not None:
        if model != "pegasus1.2":
            raise invalid("video_id", f"video_id is not supported with {model}; use video {{type: asset_id}}")
        if not isinstance(video_id, str) or not video_id:
            raise invalid("video_id", "must be a non-empty string")
        video = world.videos.get(video_id)
        if video is None:
            raise not_exist(video_id, "videos", status=404)
        idx = world.indexes[world.video_index[video_id]]
        if not any(str(m.get("model_name", "")).startswith("pegasus") for m in idx.get("models") or []):
            raise ApiError(400, "index_not_supported_for_generate",
                           "You can only analyze videos uploaded to an index with a Pegasus model enabled.")
        return video
    if video_obj is None:
        raise not_provided("video_id" if model == "pegasus1.2" else "video")
    if not isinstance(video_obj, dict):
        raise invalid("video", "must be an object")
    kind = video_obj.get("type")
    if kind not in ("asset_id", "url", "base64_string"):
        raise invalid("video.type", "must be one of asset_id, url, base64_string")
    if kind != "asset_id":
        raise invalid("video.type", f"the sandbox only serves videos of its world; use asset_id, not {kind}")
    asset_id = video_obj.get("asset_id")
    if not isinstance(asset_id, str) or not asset_id:
        raise not_provided("video.asset_id")
    video = world.assets.get(asset_id)
    if video is None:
        raise not_exist(asset_id, "assets", status=404)
    return video


def _validate_analyze(world: World, body: Any) -> Dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("body", "must be a JSON object")
    model = body.get("model_name")
    if model is None:
        model = DEFAULT_MODEL
    if model not in MODELS:
        raise invalid("model_name", f"must be one of {', '.join(MODELS)}")
    prompt = body.get("prompt")
    if prompt is None:
        raise not_provided("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise invalid("prompt", "must be a non-empty string")
    if model == "pegasus1.2" and len(prompt) > PEGASUS12_PROMPT_CHARS:
        raise ApiError(400, "token_limit_exceeded",
                       "The prompt exceeds the limit of 2,000 tokens for pegasus1.2. Shorten the prompt.")
    temperature = body.get("temperature")
    if temperature is not None and (not is_number(temperature) or not 0 <= float(temperature) <= 1):
        raise invalid("temperature", "must be a number between 0 and 1")
    lo, hi = MAX_TOKENS_RANGE[model]
    max_tokens = body.get("max_tokens")
    if max_tokens is None:
        max_tokens = DEFAULT_MAX_TOKENS
    if not is_int(max_tokens) or not lo <= int(max_tokens) <= hi:
        raise invalid("max_tokens", f"must be an integer between {lo} and {hi} for {model}")
    stream = body.get("stream")
    if stream is None:
        stream = True
    if not isinstance(stream, bool):
        raise invalid("stream", "must be a boolean")
    for key in ("start_time", "end_time"):
        if body.get(key) is not None and (not is_number(body[key]) or float(body[key]) < 0):
            raise invalid(key, "must be a number of seconds >= 0")
    schema = _response_format(body.get("response_format"))
    video = _resolve_video(world, body, model)
    return {"model": model, "prompt": prompt, "max_tokens": int(max_tokens), "stream": stream,
            "schema": schema, "video": video}


def _fragments(text: str, rng: random.Random) -> Iterator[str]:
    i = 0
    while i < len(text):
        n = rng.randint(3, 24)  # fragment edges fall anywhere, often mid-word
        yield text[i: i + n]
        i += n


def analyze(world: World, body: Any, state: ModelState, *, noise: str, seed: int, latency_ms: float,
            max_duration_s: Optional[float] = None) -> Response:
    """``POST /v1.3/analyze``: validate, run the simulated model, answer streamed or not.
    ``max_duration_s`` is the sync endpoint's video length limit (tasks and batches pass none)."""
    req = _validate_analyze(world, body)
    video: Dict[str, Any] = req["video"]
    if max_duration_s is not None and float(video["duration"]) > max_duration_s:
        raise ApiError(400, DURATION_TOO_LONG,
                       f"The video is {float(video['duration']):.0f} seconds long; POST /analyze takes videos "
                       f"up to 1 hour ({max_duration_s:.0f} seconds). Use POST /analyze/tasks for longer videos.")
    fp = fingerprint(body)
    scripted = state.next_scripted(video)
    call_no = state.next_call(fp)
    rng = random.Random(f"{seed}|{fp}|{call_no}")
    if scripted is not None:
        text, finish = str(scripted["text"]), str(scripted.get("finish_reason") or "stop")
    else:
        text, finish = generate(video, req["prompt"], schema=req["schema"], noise=noise, rng=rng)
        if token_count(text) > req["max_tokens"]:
            text, finish = text[: req["max_tokens"] * 4], "length"
    usage = {"output_tokens": token_count(text), "input_tokens": token_count(req["prompt"])}
    gen_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    warning = {"message": "output truncated: the generation reached the configured max_tokens limit"}
    if latency_ms > 0:
        time.sleep(latency_ms / 1000.0)
    log = {"model": req["model"], "stream": req["stream"]}
    if not req["stream"]:
        payload: Dict[str, Any] = {"id": gen_id, "data": text, "finish_reason": finish, "usage": usage}
        if finish == "length":
            payload["error"] = warning
        return Response(200, payload, video=video["_id"], extra_log=log)

    def events() -> Iterator[bytes]:
        yield _line({"event_type": "stream_start", "metadata": {"generation_id": gen_id}})
        for frag in _fragments(text, rng):
            yield _line({"event_type": "text_generation", "text": frag})
        end: Dict[str, Any] = {"event_type": "stream_end", "finish_reason": finish,
                               "metadata": {"generation_id": gen_id, "usage": usage}}
        if finish == "length":
            end["error"] = warning
        yield _line(end)

    return Response(200, stream=events(), content_type="application/x-ndjson", video=video["_id"], extra_log=log)


def _line(obj: Dict[str, Any]) -> bytes:
    return (json.dumps(obj) + "\n").encode("utf-8")
