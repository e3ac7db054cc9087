"""``analysis_mode: time_based_metadata``: segment definitions answered from the world's content.

The simulated model reads each definition the way a person would: the
values of an ``enum`` field are the things to look for (else the quoted
phrases of the description, else the description itself); an ``enum`` made
of source names limits where it looks.  Every matching stretch of the
video's visual, conversation or on-screen text becomes a segment
``{start_time, end_time, metadata}`` with each declared field filled from the
match.  The answer is ``{"<definition id>": [segments...]}`` as the spec shows.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any, Dict, List, Optional, Sequence

from ._common import invalid, is_number, not_provided
from ._match import SOURCES, Clip, find_clips

FIELD_TYPES = ("string", "boolean", "number", "integer", "array", "timestamp")
TIME_FORMATS = ("seconds", "hh:mm:ss", "hh:mm:ss.fff")
MAX_DEFINITIONS = 20
MAX_ENUM = 100
_RESERVED = ("start_time", "end_time", "metadata")
_QUOTED = re.compile(r'"([^"]{2,})"')


def check_format(rf: Any, model: str, body: Dict[str, Any]) -> Dict[str, Any]:
    """Validate a ``segment_definitions`` response format (400 parameter_invalid naming the field)."""
    base = "response_format"
    if model != "pegasus1.5":
        raise invalid("analysis_mode", "time_based_metadata requires model_name pegasus1.5")
    if rf is None:
        raise not_provided(base)
    if not isinstance(rf, dict) or rf.get("type") != "segment_definitions":
        raise invalid(f"{base}.type", "time_based_metadata requires segment_definitions")
    defs = rf.get("segment_definitions")
    if not isinstance(defs, list) or not defs:
        raise invalid(f"{base}.segment_definitions", "must be a non-empty array")
    if len(defs) > MAX_DEFINITIONS:
        raise invalid(f"{base}.segment_definitions", f"at most {MAX_DEFINITIONS} definitions")
    fmt = rf.get("segment_time_format", "seconds")
    if fmt not in TIME_FORMATS:
        raise invalid(f"{base}.segment_time_format", "must be seconds, hh:mm:ss or hh:mm:ss.fff")
    ids: set[str] = set()
    for i, d in enumerate(defs):
        where = f"{base}.segment_definitions[{i}]"
        if not isinstance(d, dict):
            raise invalid(where, "must be an object")
        if not isinstance(d.get("id"), str) or not d["id"] or d["id"] in ids:
            raise invalid(f"{where}.id", "must be a non-empty string, unique")
        ids.add(d["id"])
        if not isinstance(d.get("description"), str) or not d["description"].strip():
            raise invalid(f"{where}.description", "must be a non-empty string")
        for j, f in enumerate(d.get("fields") or []):
            fw = f"{base}.segment_definitions.fields"
            if not isinstance(f, dict) or not isinstance(f.get("name"), str) or not f["name"]:
                raise invalid(f"{where}.fields[{j}].name", "must be a non-empty string")
            if f.get("type") not in FIELD_TYPES:
                raise invalid(f"{fw}.type", f"must be one of {', '.join(FIELD_TYPES)}")
            if not isinstance(f.get("description"), str):
                raise not_provided(f"{where}.fields[{j}].description")
            if f["type"] == "timestamp":
                if f.get("format") not in TIME_FORMATS:
                    raise invalid(f"{fw}.format", "timestamp fields need format seconds, hh:mm:ss or hh:mm:ss.fff")
                if f["name"] in _RESERVED:
                    raise invalid(f"{fw}.name", f"{f['name']} is reserved")
                if "enum" in f or "items" in f:
                    raise invalid(f"{fw}.enum", "enum and items are not supported for timestamp fields")
            elif "format" in f:
                raise invalid(f"{fw}.format", "format is only allowed for timestamp fields")
            if "enum" in f and (not isinstance(f["enum"], list) or len(f["enum"]) > MAX_ENUM
                                or not all(isinstance(v, str) for v in f["enum"])):
                raise invalid(f"{fw}.enum", f"must be at most {MAX_ENUM} strings")
            if f["type"] == "array" and not isinstance(f.get("items"), dict):
                raise not_provided(f"{fw}.items")
        if d.get("time_ranges") is not None and any(body.get(k) is not None for k in (
                "start_time", "end_time", "min_segment_duration", "max_segment_duration")):
            raise invalid(f"{where}.time_ranges",
                          "time_ranges excludes start_time/end_time and min/max_segment_duration")
    for key in ("min_segment_duration", "max_segment_duration"):
        v = body.get(key)
        if v is not None and (not is_number(v) or float(v) < 2):
            raise invalid(key, "must be a number of seconds >= 2")
    return rf


def _fmt_time(t: float, fmt: str) -> Any:
    t = max(0.0, t)
    if fmt == "seconds":
        return round(t, 3)
    if fmt == "hh:mm:ss":
        whole = round(t)
        return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    h, rem = divmod(t, 3600)
    m, s = divmod(rem, 60)
    return f"{int(h):02d}:{int(m):02d}:{s:06.3f}"


def _looks_for(d: Dict[str, Any]) -> List[str]:
    for f in d.get("fields") or []:
        values = f.get("enum") or []
        if values and not set(values) <= set(SOURCES):
            return [str(v) for v in values]
    quoted = _QUOTED.findall(d["description"])
    return quoted or [d["description"]]


def _sources(d: Dict[str, Any]) -> Sequence[str]:
    for f in d.get("fields") or []:
        values = f.get("enum") or []
        if values and set(values) <= set(SOURCES):
            return [str(v) for v in values]
    return SOURCES


def _field_value(f: Dict[str, Any], clip: Clip) -> Any:
    typ = f["type"]
    values = f.get("enum") or []
    if typ == "timestamp":
        return _fmt_time(clip.start, str(f["format"]))
    if typ == "integer":
        return round(clip.score)
    if typ == "number":
        return round(clip.score, 2)
    if typ == "boolean":
        return True
    if typ == "array":
        return [clip.prompt]
    if values:
        if clip.option in values:
            return clip.option
        return clip.prompt if clip.prompt in values else values[0]
    return clip.prompt


def answer(video: Dict[str, Any], rf: Dict[str, Any], body: Dict[str, Any], noise: str,
           rng: random.Random) -> str:
    """The model's JSON text for one video and a validated ``segment_definitions`` format."""
    fmt = str(rf.get("segment_time_format") or "seconds")
    duration = float(video["duration"])
    lo = float(body["start_time"]) if body.get("start_time") is not None else 0.0
    hi = float(body["end_time"]) if body.get("end_time") is not None else duration
    min_len: Optional[float] = body.get("min_segment_duration")
    max_len: Optional[float] = body.get("max_segment_duration")
    out: Dict[str, List[Dict[str, Any]]] = {}
    for d in rf["segment_definitions"]:
        prompts = _looks_for(d)
        clips = sorted(find_clips(video, prompts, _sources(d)), key=lambda c: (c.start, c.end, c.prompt))
        ranges = [(float(r["start_time"]), float(r["end_time"])) for r in d.get("time_ranges") or []
                  if isinstance(r, dict) and is_number(r.get("start_time")) and is_number(r.get("end_time"))]
        segments: List[Dict[str, Any]] = []
        for clip in clips:
            start, end = max(lo, clip.start), min(hi, clip.end)
            if ranges:
                hit = [(max(start, a), min(end, b)) for a, b in ranges if min(end, b) > max(start, a)]
                if not hit:
                    continue
                start, end = hit[0][0], hit[-1][1]
            if end <= start:
                continue
            if min_len is not None and end - start < float(min_len):
                continue
            if max_len is not None and end - start > float(max_len):
                end = start + float(max_len)
            if noise != "none":
                start = max(0.0, start + rng.uniform(-0.5, 0.5))
                end = min(duration, max(start, end + rng.uniform(-0.5, 0.5)))
            metadata = {f["name"]: _field_value(f, clip) for f in d.get("fields") or []}
            segments.append({"start_time": _fmt_time(start, fmt), "end_time": _fmt_time(end, fmt),
                             "metadata": metadata})
        out[str(d["id"])] = segments
    return json.dumps(out)

