"""The simulated Pegasus model behind ``POST /v1.3/analyze``.

Deterministic for (seed, request, call number): the same request repeated
gets a fresh call number, so a retry after a noisy answer can come back clean,
yet a whole test run replays identically.  Class answers are computed with the
same relevance as the v1.2 emulation, which is what lets the project check
that a Pegasus-backed classify agrees with the legacy one.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import threading
from typing import Any, Dict, List, Optional, Tuple

from ._match import SOURCES, class_score, duration_ratio, find_clips

MARKER = "CLASSES_JSON:"
#: A class is reported present when it has evidence and a class score at least this high.
PRESENT_MIN_SCORE = 50.0
_HALLUCINATED = ("Sports", "Music video", "Unboxing", "Pets", "Gaming")
_PROSE_AFTER = (
    "I hope this helps with your classification.",
    "Let me know if you need more detail about any segment.",
    "These results are based on the visual and audio content of the video.",
)


class ModelState:
    """Per-sandbox counters: call numbers per request and scripted-answer cursors."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: Dict[str, int] = {}
        self._scripted: Dict[str, int] = {}

    def next_call(self, fingerprint: str) -> int:
        """0 for the first time a request is seen, then 1, 2, ..."""
        with self._lock:
            n = self._calls.get(fingerprint, 0)
            self._calls[fingerprint] = n + 1
            return n

    def next_scripted(self, video: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        """The video's next scripted answer, served in order, or None when exhausted."""
        answers = video.get("scripted_answers") or []
        if not answers:
            return None
        with self._lock:
            i = self._scripted.get(video["_id"], 0)
            if i >= len(answers):
                return None
            self._scripted[video["_id"]] = i + 1
        answer: Dict[str, Any] = answers[i]
        return answer

    def restart_scripted(self) -> None:
        """A new world's scripted answers are served from their first (call numbers stay)."""
        with self._lock:
            self._scripted.clear()


def fingerprint(body: Dict[str, Any]) -> str:
    """Stable hash of a request body, ignoring how the answer is delivered."""
    trimmed = {k: v for k, v in body.items() if k != "stream"}
    return hashlib.sha256(json.dumps(trimmed, sort_keys=True, default=str).encode()).hexdigest()


def round5(x: float) -> int:
    """Verbalized confidences come in steps of 5."""
    return int(max(0, min(100, 5 * math.floor(x / 5.0 + 0.5))))


def parse_classes(prompt: str) -> Optional[List[Dict[str, Any]]]:
    """The class list after a ``CLASSES_JSON:`` line, or None when absent/unreadable."""
    lines = prompt.splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped.startswith(MARKER):
            continue
        rest = stripped[len(MARKER):].strip()
        candidates = [rest] if rest else []
        if i + 1 < len(lines):
            candidates.append(lines[i + 1].strip())
        for text in candidates:
            try:
                value = json.loads(text)
            except ValueError:
                continue
            if isinstance(value, list) and all(isinstance(c, dict) and isinstance(c.get("name"), str)
                                               for c in value):
                return value
    return None


def _class_answer(video: Dict[str, Any], cls: Dict[str, Any]) -> Dict[str, Any]:
    prompts = [p for p in cls.get("prompts") or [] if isinstance(p, str) and p.strip()] or [cls["name"]]
    sources = [s for s in cls.get("sources") or [] if s in SOURCES] or list(SOURCES)
    conv = "exact_match" if cls.get("conversation_option") == "exact_match" else "semantic"
    clips = find_clips(video, prompts, sources, conv)
    score = class_score(clips, duration_ratio(clips, float(video["duration"])))
    present = bool(clips) and score >= PRESENT_MIN_SCORE
    segments = [
        {"start": c.start, "end": c.end, "prompt": c.prompt, "source": c.option, "confidence": round5(c.score)}
        for c in sorted(clips, key=lambda c: (c.start, c.end, c.prompt, c.option))
    ] if present else []
    return {
        "name": cls["name"],
        "present": present,
        "confidence": round5(score) if present else round5(min(score, 40.0)),
        "segments": segments,
    }


def _mmss(t: float) -> str:
    t = max(0.0, t)
    return f"{int(t // 60):02d}:{int(t % 60):02d}"


def _word(conf: float) -> str:
    return "high" if conf >= 80 else "medium" if conf >= 50 else "low"


def _apply_noise(answer: Dict[str, Any], video: Dict[str, Any], requested: List[Dict[str, Any]],
                 noise: str, rng: random.Random) -> Tuple[str, bool]:
    """Perturb a class answer the way real model output drifts; returns (text, truncated)."""
    duration = float(video["duration"])
    classes: List[Dict[str, Any]] = answer["classes"]
    hostile = noise == "hostile"
    conf_style = rng.choices(["int", "string", "float"], weights=[6, 2, 2])[0]
    mmss = rng.random() < 0.25
    if hostile:
        if rng.random() < 0.35:
            name = rng.choice(_HALLUCINATED)
            classes.append({"name": name, "present": True, "confidence": 80, "segments": [
                {"start": 0.0, "end": round(duration / 3, 2), "prompt": name, "source": "visual",
                 "confidence": 75}]})
        if rng.random() < 0.35:
            for cls in classes:
                cls["name"] = rng.choice([cls["name"].upper(), cls["name"].lower(), cls["name"].swapcase()])
        all_segments = [s for c in classes for s in c["segments"]]
        if all_segments and rng.random() < 0.35:
            seg = rng.choice(all_segments)
            wanted = {s for c in requested for s in (c.get("sources") or SOURCES)}
            others = [s for s in (*SOURCES, "audio", "logo") if s not in wanted]
            seg["source"] = rng.choice(others)
        if all_segments and rng.random() < 0.35:
            seg = rng.choice(all_segments)
            how = rng.choice(["reverse", "past_end", "negative"])
            if how == "reverse":
                seg["start"], seg["end"] = seg["end"], seg["start"]
            elif how == "past_end":
                seg["end"] = round(duration + rng.uniform(5, 60), 2)
            else:
                seg["start"] = round(-rng.uniform(1, 10), 2)
    for cls in classes:
        for seg in cls["segments"]:
            for key in ("start", "end"):
                if isinstance(seg[key], (int, float)) and 0 <= seg[key] <= duration:
                    seg[key] = round(min(duration, max(0.0, seg[key] + rng.uniform(-0.5, 0.5))), 2)
                if mmss and isinstance(seg[key], float) and seg[key] >= 0:
                    seg[key] = _mmss(seg[key])
        targets: List[Dict[str, Any]] = [cls, *cls["segments"]]
        for t in targets:
            conf = t["confidence"]
            if hostile and rng.random() < 0.2:
                t["confidence"] = _word(conf)
            elif conf_style == "string":
                t["confidence"] = str(conf)
            elif conf_style == "float":
                t["confidence"] = round(conf / 100.0, 2)
    text = json.dumps(answer)
    if rng.random() < 0.3:
        text = "```json\n" + text + "\n```"
    if rng.random() < 0.3:
        text += "\n\n" + rng.choice(_PROSE_AFTER)
    truncated = False
    if hostile and rng.random() < 0.15 and len(text) > 20:
        text = text[: int(len(text) * rng.uniform(0.3, 0.9))]
        truncated = True
    return text, truncated


def _describe(video: Dict[str, Any]) -> str:
    content = video.get("content") or {}
    parts = [f'The video "{video["filename"]}" lasts {float(video["duration"]):.0f} seconds.']
    for seg in content.get("visual") or []:
        parts.append(f"From {_mmss(seg['start'])} to {_mmss(seg['end'])}: {seg['text'].rstrip('.')}.")
    speech = [seg["text"] for seg in content.get("conversation") or []]
    if speech:
        parts.append('Someone says: "' + " ... ".join(speech) + '".')
    screen = [seg["text"] for seg in content.get("text_in_video") or []]
    if screen:
        parts.append("On-screen text reads: " + "; ".join(screen) + ".")
    return " ".join(parts)


def _instance(schema: Any, defs: Dict[str, Any], video: Dict[str, Any], name: str = "", depth: int = 0) -> Any:
    """A plausible value matching a (supported-subset) JSON schema."""
    if not isinstance(schema, dict) or depth > 12:
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _instance(defs.get(ref.split("/")[-1], {}), defs, video, name, depth + 1)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if isinstance(schema.get("anyOf"), list) and schema["anyOf"]:
        return _instance(schema["anyOf"][0], defs, video, name, depth + 1)
    typ = schema.get("type")
    if isinstance(typ, list):
        typ = typ[0] if typ else None
    duration = float(video["duration"])
    if typ == "object" or (typ is None and "properties" in schema):
        props = schema.get("properties") or {}
        return {k: _instance(v, defs, video, k, depth + 1) for k, v in props.items()}
    if typ == "array":
        return [_instance(schema.get("items", {}), defs, video, name, depth + 1)]
    if typ in ("number", "integer", "timestamp"):
        value: float = duration if name == "end_time" else 0.0
        if isinstance(schema.get("minimum"), (int, float)):
            value = max(value, float(schema["minimum"]))
        if isinstance(schema.get("maximum"), (int, float)):
            value = min(value, float(schema["maximum"]))
        return int(value) if typ == "integer" else value
    if typ == "boolean":
        return True
    if typ == "null":
        return None
    fmt = schema.get("format")
    if name in ("start_time", "end_time"):
        return _mmss(duration if name == "end_time" else 0.0)
    samples = {"date-time": "2024-05-01T12:00:00Z", "date": "2024-05-01", "time": "12:00:00",
               "uuid": "00000000-0000-4000-8000-000000000000"}
    if fmt in samples:
        return samples[fmt]
    visual = (video.get("content") or {}).get("visual") or []
    return visual[0]["text"] if visual else video["filename"]


def generate(
    video: Dict[str, Any],
    prompt: str,
    *,
    schema: Optional[Dict[str, Any]],
    noise: str,
    rng: random.Random,
) -> Tuple[str, str]:
    """The model's text for one call and its finish reason (before max_tokens)."""
    requested = parse_classes(prompt)
    if requested is not None:
        answer = {"classes": [_class_answer(video, c) for c in requested]}
        if noise == "none":
            return json.dumps(answer), "stop"
        text, truncated = _apply_noise(answer, video, requested, noise, rng)
        return text, "length" if truncated else "stop"
    if schema is not None:
        return json.dumps(_instance(schema, schema.get("$defs") or {}, video)), "stop"
    return _describe(video), "stop"


def token_count(text: str) -> int:
    """About four characters per token."""
    return math.ceil(len(text) / 4) if text else 0
