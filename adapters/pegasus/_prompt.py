"""What we ask Pegasus: the prompt, the JSON schema, how requests are chunked and budgeted.

One ``/analyze`` call answers every class of a request for one video. The prompt names the
classes in a machine-readable ``CLASSES_JSON:`` block (one line) so the answer can be checked
against exactly what was asked, and ``response_format`` pins names, prompts and sources with
``enum`` so the model cannot answer with labels we never requested.
"""

from __future__ import annotations

import json
import math
from typing import Any, Dict, List, Sequence, Tuple

from classify_shim._request import ClassSpec

from ._limits import MODEL_TABLE, PEGASUS12, PEGASUS15, model_spec

__all__ = [
    "CLASSES_JSON_MARKER",
    "DEFAULT_PROMPT_LIMIT_LARGE",
    "PEGASUS12_PROMPT_LIMIT",
    "PROMPT_TEMPLATE_VERSION",
    "bigger_budget",
    "build_prompt",
    "build_response_format",
    "estimate_tokens",
    "max_tokens_bounds",
    "max_tokens_for",
    "model_sources",
    "needs_exact_match",
    "plan_chunks",
    "prompt_limit",
]

PROMPT_TEMPLATE_VERSION = "pegasus-classify-v2"
"""Part of the answer-cache key: bump on ANY change to the prompt text or the schema."""

CLASSES_JSON_MARKER = "CLASSES_JSON:"

PEGASUS12_PROMPT_LIMIT = MODEL_TABLE[PEGASUS12].prompt_limit
"""Pegasus 1.2 rejects prompts over 2,000 tokens (documented limit)."""

DEFAULT_PROMPT_LIMIT_LARGE = MODEL_TABLE[PEGASUS15].prompt_limit
"""Pegasus 1.5+: the prompt only counts toward a large context window whose size is not
documented; 32,000 tokens is a deliberately modest share of it."""

_MIN_USEFUL_BUDGET = 256  # below this not even one class with a segment fits

# Answer-size model (tokens), see docs/scoring.md "Cost and budgets".
_ANSWER_OVERHEAD = 16
_CLASS_OVERHEAD = 30
_SEGMENT_OVERHEAD = 28
_SEGMENTS_PER_MINUTE = 0.5
_MAX_SEGMENTS_PER_PROMPT_SOURCE = 8
_BUDGET_SAFETY = 1.25

_TEMPLATE = """\
You are a video classifier. For every class listed in CLASSES_JSON below, decide whether the \
video matches it, how much of the video it fills, and where.

Rules:
1. Answer for EVERY class in CLASSES_JSON, once each, using its "name" exactly as written. \
Never add other classes.
2. A class matches when what happens in the video fits any of its "prompts".
3. Judge a class ONLY from its own "sources": "visual" = what is seen (people, objects, actions, \
scenes); "conversation" = what is spoken; "text_in_video" = text shown on screen. Ignore every \
other source for that class.
4. "present": true if the video matches the class, otherwise false.
5. "confidence": an integer from 0 to 100, how likely it is that the class is present: 90-100 \
clearly and literally shown; 70-89 shown, but loosely or only partly matching a prompt; 50-69 \
unsure; below 50 probably absent; 0 certainly absent. Something that only resembles a prompt \
(a related but different activity or object) is not a match.
6. "coverage": an integer from 0 to 100, the percentage of the video's duration during which \
the class is present on its sources (0 when absent).
7. "segments": every time span where one of the class's prompts matches, as separate spans \
with real boundaries (not evenly spaced guesses). "start" and "end" are numbers of seconds from \
the start of the video (for example 12.5), with start < end. "prompt" is copied exactly from \
that class's prompts, "source" is one of that class's sources, and "confidence" is an integer \
from 0 to 100 for that span, on the same scale. Use [] when the class is absent.
8. Use only the names, prompts and sources given in CLASSES_JSON.
9. Reply with JSON only: no prose, no code fences. The reply must have this form:
{"classes":[{"name":"<name>","present":true,"confidence":90,"coverage":40,"segments":\
[{"start":0.0,"end":12.5,"prompt":"<prompt>","source":"visual","confidence":85}]}]}

"""


def needs_exact_match(spec: ClassSpec) -> bool:
    """True when the class's conversation is matched on the transcript, not by the model."""
    return "conversation" in spec.options and spec.conversation_option == "exact_match"


def model_sources(spec: ClassSpec) -> Tuple[str, ...]:
    """The sources the model must judge for this class (exact-match conversation excluded)."""
    if needs_exact_match(spec):
        return tuple(o for o in spec.options if o != "conversation")
    return tuple(spec.options)


def _model_classes(classes: Sequence[ClassSpec]) -> List[ClassSpec]:
    return [c for c in classes if model_sources(c)]


def _classes_json(classes: Sequence[ClassSpec]) -> str:
    items = [
        {"name": c.name, "prompts": list(c.prompts), "sources": list(model_sources(c))}
        for c in classes
    ]
    # ensure_ascii=False: the model should read names and prompts as written, not as \u escapes.
    return json.dumps(items, ensure_ascii=False, separators=(", ", ": "))


def build_prompt(classes: Sequence[ClassSpec]) -> str:
    """The ``/analyze`` prompt for these classes (those without model sources are left out).

    Raises ``ValueError`` when no class needs the model: the caller must not call it then.
    """
    sent = _model_classes(classes)
    if not sent:
        raise ValueError("no class needs the model (all are exact_match-only)")
    return _TEMPLATE + CLASSES_JSON_MARKER + "\n" + _classes_json(sent) + "\n"


def _unique(values: Sequence[str]) -> List[str]:
    seen: Dict[str, None] = {}
    for v in values:
        seen.setdefault(v, None)
    return list(seen)


def build_response_format(classes: Sequence[ClassSpec], level: str = "full") -> Dict[str, Any]:
    """``response_format`` for ``/analyze``: the answer schema inside the supported subset.

    ``full`` uses only object/array/string/number/integer/boolean, ``enum``, ``required``,
    integer ``minimum``/``maximum`` and ``minItems`` 1; property order is the answer order, the
    first property is required, and the reserved ``start_time``/``end_time`` names are avoided.
    ``plain`` is the documented fallback (``_schema``): the same shape with types, ``properties``
    and ``required`` only.
    Segment times stay ``number``: Pegasus 1.5's ``timestamp`` pseudo-type needs a ``format`` and
    is accepted only at the top level or one array deep, and segments sit two arrays deep
    (``classes[].segments[]``); 1.5's own time segmentation is the ``segments`` strategy.
    """
    sent = _model_classes(classes)
    if not sent:
        raise ValueError("no class needs the model (all are exact_match-only)")
    plain = level == "plain"
    names = [c.name for c in sent]
    prompts = _unique([p for c in sent for p in c.prompts])
    sources = _unique([s for c in sent for s in model_sources(c)])

    def text(values: List[str]) -> Dict[str, Any]:
        return {"type": "string"} if plain else {"type": "string", "enum": values}

    def confidence() -> Dict[str, Any]:
        return {"type": "integer"} if plain else {"type": "integer", "minimum": 0, "maximum": 100}

    segment = {
        "type": "object",
        "properties": {
            "start": {"type": "number"},
            "end": {"type": "number"},
            "prompt": text(prompts),
            "source": text(sources),
            "confidence": confidence(),
        },
        "required": ["start", "end", "prompt", "source", "confidence"],
    }
    klass = {
        "type": "object",
        "properties": {
            "name": text(names),
            "present": {"type": "boolean"},
            "confidence": confidence(),
            "coverage": confidence(),
            "segments": {"type": "array", "items": segment},
        },
        "required": ["name", "present", "confidence", "coverage", "segments"],
    }
    classes_schema: Dict[str, Any] = {"type": "array", "items": klass}
    if not plain:
        classes_schema["minItems"] = 1
    schema = {
        "type": "object",
        "properties": {"classes": classes_schema},
        "required": ["classes"],
    }
    return {"type": "json_schema", "json_schema": schema}


def prompt_limit(model_name: str) -> int:
    """Largest prompt (estimated tokens) we send to ``model_name`` in one call (``_limits``)."""
    return model_spec(model_name).prompt_limit


def max_tokens_bounds(model_name: str) -> Tuple[int, int]:
    """Documented ``max_tokens`` range of the model (``_limits``)."""
    return model_spec(model_name).max_tokens


def estimate_tokens(text: str) -> int:
    """Conservative token estimate: ``ceil(ascii_chars / 4)`` plus one per non-ASCII char.

    Tokenisers average about four characters per token on English; other scripts (CJK, emoji)
    often take a token or more per character, so they are counted one each.
    """
    if text.isascii():  # the usual case, without a Python-level pass over every character
        return math.ceil(len(text) / 4)
    non_ascii = sum(1 for ch in text if ord(ch) > 127)
    return math.ceil((len(text) - non_ascii) / 4) + non_ascii


def plan_chunks(classes: Sequence[ClassSpec], model_name: str) -> List[Tuple[ClassSpec, ...]]:
    """Split the model classes into as few prompts as fit the model's prompt limit.

    Classes keep their request order and are never split; a class too large on its own gets a
    chunk of its own (the model may reject it; the caller reports that video). Classes without
    model sources are not planned at all. One chunk (= one call per video) in the usual case.
    """
    sent = _model_classes(classes)
    if not sent:
        return []
    limit = prompt_limit(model_name)
    if estimate_tokens(build_prompt(sent)) <= limit:
        return [tuple(sent)]
    chunks: List[Tuple[ClassSpec, ...]] = []
    current: List[ClassSpec] = []
    for spec in sent:
        candidate = [*current, spec]
        if current and estimate_tokens(build_prompt(candidate)) > limit:
            chunks.append(tuple(current))
            current = [spec]
        else:
            current = candidate
    if current:
        chunks.append(tuple(current))
    return chunks


def _expected_segments(duration_s: float) -> int:
    minutes = max(0.0, duration_s if math.isfinite(duration_s) else 0.0) / 60.0
    return min(_MAX_SEGMENTS_PER_PROMPT_SOURCE, 1 + math.ceil(minutes * _SEGMENTS_PER_MINUTE))


def max_tokens_for(classes: Sequence[ClassSpec], model_name: str, duration_s: float) -> int:
    """``max_tokens`` for one call: the estimated answer size with a safety margin, within the
    model's bounds. Longer videos and more prompts/sources mean more segments to list."""
    sent = _model_classes(classes)
    low, high = max_tokens_bounds(model_name)
    per_pair = _expected_segments(duration_s)
    total = _ANSWER_OVERHEAD
    for spec in sent:
        total += _CLASS_OVERHEAD + estimate_tokens(spec.name)
        n_sources = len(model_sources(spec))
        for p in spec.prompts:
            total += n_sources * per_pair * (_SEGMENT_OVERHEAD + estimate_tokens(p))
    budget = math.ceil(total * _BUDGET_SAFETY)
    return int(min(high, max(low, _MIN_USEFUL_BUDGET, budget)))


def bigger_budget(max_tokens: int, model_name: str) -> int:
    """Budget for the single retry after ``finish_reason: "length"``: double, capped at the
    model maximum (equal to ``max_tokens`` when it is already the maximum)."""
    low, high = max_tokens_bounds(model_name)
    return int(min(high, max(low, max_tokens * 2)))
