"""Schema negotiation: when the API rejects a feature of our answer schema, fall back once and remember.

We ask with the ``full`` schema (``enum`` for names, prompts and sources, integer
``minimum``/``maximum``, ``minItems``; see ``_prompt.build_response_format``). Servers and model
versions differ in the subset they accept (the 2026-02 and 2026-07 specs already disagree), so a
400/422 whose message names a schema feature (``enum``, ``minimum``, ``maximum``, ``minItems``,
``required``, a reserved name such as ``start_time``, "schema", "response_format") is answered by
asking again, once, with the documented ``plain`` fallback: the same shape with only types,
``properties`` and ``required``. The decision is stored per (host, model), so later calls go
straight to ``plain``. Answers read the same either way: the parser checks names, prompts and
sources against the request and clamps confidences itself, so nothing the enum guaranteed is lost.
"""

from __future__ import annotations

import logging
import re
from typing import Optional

from classify_shim._exceptions import APIStatusError
from classify_shim._store import DecisionRecord, Store

from ._select import FOR_GOOD_S, error_text, evidence

__all__ = ["FULL", "PLAIN", "SchemaBook", "schema_rejection"]

log = logging.getLogger("classify_shim.pegasus")

FULL = "full"
PLAIN = "plain"

_KEYWORDS = re.compile(
    r"\b(enum|const|minimum|maximum|exclusiveminimum|exclusivemaximum|minitems|maxitems|"
    r"additionalproperties|uniqueitems|minlength|maxlength|reserved)\b",
    re.IGNORECASE,
)
"""Schema keywords: named in a 400/422, they are about our schema."""
_CONTEXT = re.compile(r"response_format|json_schema|\bschema\b|segment_definitions", re.IGNORECASE)
_WEAK = re.compile(r"\b(required|start_time|end_time|fields|timestamp|format)\b", re.IGNORECASE)
"""Words that are about the schema only when the message also says it is about the schema."""


def schema_rejection(exc: BaseException) -> Optional[str]:
    """The schema feature a 400/422 answer names, or None when it is not about our schema."""
    if not isinstance(exc, APIStatusError) or exc.status_code not in (400, 422):
        return None
    text = error_text(exc)
    strong = _KEYWORDS.search(text)
    if strong:
        return strong.group(1)
    if _CONTEXT.search(text):
        weak = _WEAK.search(text)
        return weak.group(1) if weak else "schema"
    return None


class SchemaBook:
    """Which schema level each (host, model) takes; shared through the store."""

    def __init__(self, store: Store, host: str) -> None:
        self._store = store
        self._host = host

    @staticmethod
    def topic(model: str, mode: str) -> str:
        return f"v1.3/schema/{model}/{mode}"

    def level(self, model: str, mode: str = "general") -> str:
        found = self._store.get_decision(self._host, self.topic(model, mode))
        return PLAIN if found is not None and found.backend == PLAIN else FULL

    def fall_back(self, model: str, exc: BaseException, mode: str = "general") -> bool:
        """Record the fallback after a rejection of the full schema; False when ``exc`` is not one
        (or the plain schema was already in use: then the error stands)."""
        feature = schema_rejection(exc)
        if feature is None or self.level(model, mode) == PLAIN:
            return False
        said = f"HTTP {getattr(exc, 'status_code', '?')}: {error_text(exc)}" if isinstance(
            exc, APIStatusError) else str(exc)
        self._store.put_decision(DecisionRecord.new(
            self._host, self.topic(model, mode), PLAIN, evidence(exc), revalidate_after_s=FOR_GOOD_S))
        log.warning("%s (%s) rejected the %s answer schema at %r (%s); using the plain schema from now on",
                    self._host, model, mode, feature, said)
        return True
