"""``conversation_option: exact_match`` served from the transcript, without the model.

v1.2's exact match meant "these words were spoken"; the v1.3 transcript (``{start, end,
value}`` entries) answers that deterministically, so it costs no ``/analyze`` call and cannot
be hallucinated.
"""

from __future__ import annotations

import re
from typing import Any, List, Mapping, Optional, Pattern, Sequence

from classify_shim._request import ClassSpec
from classify_shim._rules import finite_number

from ._parse import Segment

__all__ = ["EXACT_MATCH_CONFIDENCE", "exact_match_segments", "prompt_pattern"]

EXACT_MATCH_CONFIDENCE = 100.0
"""A verbatim hit is certain evidence that the words were spoken."""


def prompt_pattern(prompt: str) -> Optional[Pattern[str]]:
    """Case-insensitive, word-bounded pattern for ``prompt``; any run of whitespace in the
    prompt matches any run in the transcript. None for a prompt with no characters to match.

    Boundaries are only required where the prompt starts/ends with a word character, so a
    prompt like ``"C++"`` or ``"#ad"`` still matches.
    """
    words = prompt.split()
    if not words:
        return None
    body = r"\s+".join(re.escape(w) for w in words)
    head = r"(?<!\w)" if re.match(r"\w", words[0]) else ""
    tail = r"(?!\w)" if re.search(r"\w$", words[-1]) else ""
    return re.compile(head + body + tail, re.IGNORECASE)




def exact_match_segments(
    transcript: Optional[Sequence[Mapping[str, Any]]], spec: ClassSpec
) -> List[Segment]:
    """One segment per (transcript entry, prompt) that contains the prompt verbatim.

    The segment has the entry's times, source ``conversation``, the prompt and
    :data:`EXACT_MATCH_CONFIDENCE`. Entries without usable times or text are skipped; a phrase
    split across two entries is not found (v1.3 gives no word-level times). A ``None``
    transcript (no speech) yields no segments. Order: transcript order, then prompt order.
    """
    if not transcript:
        return []
    patterns = [(p, prompt_pattern(p)) for p in spec.prompts]
    out: List[Segment] = []
    for entry in transcript:
        if not isinstance(entry, Mapping):
            continue
        start, end, text = finite_number(entry.get("start")), finite_number(entry.get("end")), entry.get("value")
        if start is None or end is None or not isinstance(text, str):
            continue
        start, end = max(0.0, min(start, end)), max(start, end)
        if not end > start:
            continue
        for prompt, pattern in patterns:
            if pattern is not None and pattern.search(text):
                out.append(
                    Segment(start=start, end=end, prompt=prompt, source="conversation",
                            confidence=EXACT_MATCH_CONFIDENCE)
                )
    return out
