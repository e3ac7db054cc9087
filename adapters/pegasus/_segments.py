"""The ``segments`` strategy's question and answer: Pegasus 1.5 native time segmentation.

One ``/analyze/tasks`` call per video with ``analysis_mode: time_based_metadata`` and one segment
definition per class (at most 20 per task, ``_limits``). Each definition's description is built
from the class's prompts and sources; each segment carries ``prompt`` (an enum of the class's
prompts), ``source`` (an enum of its sources, only when it has more than one) and an integer
``confidence``. ``segment_time_format: seconds`` makes the automatic ``start_time``/``end_time``
numbers of seconds.

The answer (``{"<definition id>": [{"start_time", "end_time", "metadata"}]}``) is rewritten into
the general answer shape and read by the same parser, so names, prompts, sources, times and
confidences are checked exactly as for ``sync`` answers. Class presence and confidence come from
the segments themselves (no companion call): present when the class has at least one segment,
its confidence the highest segment confidence. See docs/scoring.md "Strategies" for the cost.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from classify_shim._request import ClassSpec

from ._limits import ModelSpec
from ._parse import AnswerError, ParsedAnswer, parse_answer
from ._prompt import model_sources, needs_exact_match

__all__ = ["SEGMENTS_TEMPLATE_VERSION", "build_segment_format", "definition_id", "parse_segments", "plan_segment_chunks"]

SEGMENTS_TEMPLATE_VERSION = "pegasus-segments-v1"
"""Part of the answer-cache key of segment answers: bump on any change to the definitions."""

_SOURCE_WORDS = {
    "visual": "what is seen (people, objects, actions, scenes)",
    "conversation": "what is spoken",
    "text_in_video": "text shown on screen",
}


def definition_id(index: int) -> str:
    """Definition ids are positional (``class_0``…): class names may hold any characters."""
    return f"class_{index}"


def _model_classes(classes: Sequence[ClassSpec]) -> List[ClassSpec]:
    return [c for c in classes if model_sources(c)]


def plan_segment_chunks(classes: Sequence[ClassSpec], spec: ModelSpec) -> List[Tuple[ClassSpec, ...]]:
    """Classes in request order, at most ``spec.max_segment_definitions`` per task."""
    sent = _model_classes(classes)
    size = max(1, spec.max_segment_definitions)
    return [tuple(sent[i:i + size]) for i in range(0, len(sent), size)]


def _description(spec: ClassSpec) -> str:
    sources = model_sources(spec)
    where = "; ".join(f"{s} = {_SOURCE_WORDS.get(s, s)}" for s in sources)
    prompts = "; ".join(json.dumps(p, ensure_ascii=False) for p in spec.prompts)
    return (
        f"Class {json.dumps(spec.name, ensure_ascii=False)}: every time span where the video matches any of "
        f"these descriptions: {prompts}. Judge only from {where}. Return no segment when it never matches."
    )


def build_segment_format(classes: Sequence[ClassSpec], level: str = "full") -> Dict[str, Any]:
    """``response_format`` of a ``time_based_metadata`` task (``plain``: no ``enum``, see ``_schema``)."""
    sent = _model_classes(classes)
    if not sent:
        raise ValueError("no class needs the model (all are exact_match-only)")
    definitions: List[Dict[str, Any]] = []
    for i, spec in enumerate(sent):
        prompt_field: Dict[str, Any] = {
            "name": "prompt",
            "type": "string",
            "description": "The description this segment matches, copied exactly.",
        }
        fields: List[Dict[str, Any]] = [prompt_field]
        if level != "plain":
            prompt_field["enum"] = list(dict.fromkeys(spec.prompts))[:100]
        sources = model_sources(spec)
        if len(sources) > 1:
            source_field: Dict[str, Any] = {
                "name": "source",
                "type": "string",
                "description": "Where it matches: " + "; ".join(f"{s} = {_SOURCE_WORDS.get(s, s)}" for s in sources),
            }
            if level != "plain":
                source_field["enum"] = list(sources)
            fields.append(source_field)
        fields.append({
            "name": "confidence",
            "type": "integer",
            "description": "How sure you are that this span matches, from 0 (not at all) to 100 (certain).",
        })
        definitions.append({"id": definition_id(i), "description": _description(spec), "fields": fields})
    return {
        "type": "segment_definitions",
        "segment_definitions": definitions,
        "segment_time_format": "seconds",
    }


def _rewrite(value: Mapping[str, Any], sent: Sequence[ClassSpec]) -> Dict[str, Any]:
    """The segments answer in the general answer shape (see the module docstring)."""
    out: List[Dict[str, Any]] = []
    for i, spec in enumerate(sent):
        raw = value.get(definition_id(i))
        if raw is None:
            raw = value.get(spec.name)  # a server that keys by name
        items = raw if isinstance(raw, list) else []
        sources = model_sources(spec)
        segments: List[Dict[str, Any]] = []
        best: Optional[float] = None
        for item in items:
            if not isinstance(item, Mapping):
                continue
            raw_meta = item.get("metadata")
            meta: Mapping[str, Any] = raw_meta if isinstance(raw_meta, Mapping) else {}
            segment: Dict[str, Any] = {
                "start": item.get("start_time", item.get("start")),
                "end": item.get("end_time", item.get("end")),
                "prompt": meta.get("prompt") if meta.get("prompt") is not None else spec.prompts[0],
                "source": meta.get("source") if meta.get("source") is not None else sources[0],
            }
            confidence = meta.get("confidence")
            if confidence is not None:
                segment["confidence"] = confidence
                if isinstance(confidence, (int, float)) and not isinstance(confidence, bool):
                    best = confidence if best is None else max(best, confidence)
            segments.append(segment)
        present = bool(segments)
        klass: Dict[str, Any] = {"name": spec.name, "present": present,
                                 "confidence": (best if best is not None else 70) if present else 0,
                                 "segments": segments}
        out.append(klass)
    return {"classes": out}


def parse_segments(
    text: str, *, classes: Sequence[ClassSpec], duration: float, finish_reason: str = "stop"
) -> ParsedAnswer:
    """Read a ``time_based_metadata`` result; raises :class:`AnswerError` like ``parse_answer``."""
    sent = _model_classes(classes)
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        kind = "truncated" if finish_reason == "length" else "invalid"
        raise AnswerError(kind, "the segments answer is not JSON") from None
    if not isinstance(value, Mapping):
        raise AnswerError("invalid", "the segments answer is not an object keyed by segment definition")
    rewritten = json.dumps(_rewrite(value, sent), ensure_ascii=False)
    return parse_answer(rewritten, classes=sent, duration=duration, finish_reason=finish_reason)


def exact_only(spec: ClassSpec) -> bool:
    return needs_exact_match(spec) and not model_sources(spec)
