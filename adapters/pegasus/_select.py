"""Which Pegasus model answers a video, and switching for good when the API says a model is gone.

``pegasus_model="auto"`` (the default): Pegasus 1.5 addressed by the video's asset id when its
record has one, Pegasus 1.2 by ``video_id`` only when it has none. The API's own answers move
that choice, once, and it is remembered in the store per host:

* an answer to a 1.2 / ``video_id`` call saying the model or ``video_id`` is sunset, retired or
  unsupported retires 1.2 on that host: every later video goes to 1.5 by asset id (one
  ``BackendSwitchWarning`` naming the answer);
* an answer to a 1.5 call saying 1.5 itself is unavailable retires 1.5 on that host (back to 1.2);
  one saying 1.5 cannot take *this* video (its asset is unsupported, not ready, missing) sends
  that video to 1.2 by ``video_id`` from then on.

An explicit model name (``pegasus_model="pegasus1.5"``) is honoured as given: no switching.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import warnings
from typing import Any, List, Mapping, Optional

from classify_shim._exceptions import APIStatusError
from classify_shim._store import DecisionRecord, Evidence, Store

from ._limits import AUTO_MODEL, PEGASUS12, PEGASUS15, model_spec
from ._v13 import VideoRecord

__all__ = [
    "FOR_GOOD_S",
    "ModelPicker",
    "error_text",
    "evidence",
    "is_sunset_answer",
    "is_too_long",
    "is_video_refused",
    "model_topic",
    "warn_model_switches",
]

log = logging.getLogger("classify_shim.pegasus")

FOR_GOOD_S = 10 * 365 * 24 * 3600.0
"""A model's sunset is not revalidated: the decision lasts until ``classify-shim cache clear``."""
RETIRED = "retired"


def model_topic(model: str) -> str:
    """The decision key (the store's ``api_version`` slot) for "``model`` is retired on this host"."""
    return f"v1.3/model/{model}"


def _video_topic(video_id: str) -> str:
    return f"v1.3/model-for-video/{video_id}"


def evidence(exc: BaseException) -> Evidence:
    """What the API answered, as stored with a decision (never the API key)."""
    if isinstance(exc, APIStatusError):
        return Evidence(status=exc.status_code, code=_code(exc), message=error_text(exc)[:300], at=time.time())
    return Evidence(status=None, code=None, message=str(exc)[:300], at=time.time())

_SUNSET_WORDS = re.compile(
    r"sunset|retired|deprecat|discontinu|no longer|not supported|unsupported|removed|end[- ]of[- ]life|"
    r"not available|unavailable|not allowed|invalid model|unknown model",
    re.IGNORECASE,
)
_SUNSET_CODES = {
    "model_sunset", "model_retired", "model_deprecated", "model_not_supported", "model_unavailable",
    "model_not_available", "video_id_deprecated", "video_id_not_supported", "endpoint_deprecated",
    "parameter_deprecated", "gone",
}
TOO_LONG_CODE = "video_duration_too_long"
"""Not a reason to move a video to 1.2: its sync ``/analyze`` has the same 1-hour limit, so the
switch would only store a wrong decision for good. The engine asks such a video through tasks."""
_VIDEO_REFUSAL_CODES = {
    "asset_not_ready", "asset_unavailable", "asset_not_supported", "video_not_supported", "video_not_ready",
}


def error_text(exc: APIStatusError) -> str:
    """``code`` and ``message`` of an error body, flat or in the ``{"error": {...}}`` envelope."""
    body: Any = exc.body
    parts: List[str] = []
    if isinstance(body, Mapping):
        inner = body.get("error")
        if isinstance(inner, Mapping):
            body = inner
        for key in ("code", "message", "detail", "details"):
            value = body.get(key)
            if value:
                parts.append(str(value))
    elif body:
        parts.append(str(body))
    text = " ".join(parts) or (getattr(exc, "message", "") or "")
    return text[:500]


def _code(exc: APIStatusError) -> Optional[str]:
    body: Any = exc.body
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        body = body["error"]
    code = body.get("code") if isinstance(body, Mapping) else None
    return code if isinstance(code, str) else None


def is_sunset_answer(exc: BaseException, model: str) -> bool:
    """True when a call to ``model`` was answered "this model / this way of addressing videos is
    gone": 410 always; a retirement code; or a 400/403/404/422 whose text names the model (or
    ``video_id`` for 1.2) together with a retirement word."""
    if not isinstance(exc, APIStatusError):
        return False
    if exc.status_code == 410 or (_code(exc) or "") in _SUNSET_CODES:
        return True
    if exc.status_code not in (400, 403, 404, 422):
        return False
    text = error_text(exc)
    lowered = text.lower().replace(" ", "")
    names = [model.lower().replace(" ", "")]
    if model_spec(model).video_ref == "video_id":
        names.append("video_id")
    return any(n in lowered for n in names) and _SUNSET_WORDS.search(text) is not None


def is_too_long(exc: BaseException) -> bool:
    """True when sync ``/analyze`` refused the video for its length (over 1 hour): the engine asks
    it again through ``/analyze/tasks``, before any model switch is considered."""
    return isinstance(exc, APIStatusError) and exc.status_code in (400, 413, 422) and _code(exc) == TOO_LONG_CODE


def is_video_refused(exc: BaseException) -> bool:
    """True when a 1.5 call was refused for this one video (its asset), not for the model."""
    if not isinstance(exc, APIStatusError):
        return False
    code = _code(exc) or ""
    if code == TOO_LONG_CODE:
        return False
    if code in _VIDEO_REFUSAL_CODES:
        return True
    if exc.status_code not in (400, 404, 409, 422):
        return False
    text = error_text(exc).lower()
    if exc.status_code in (404, 409) and "asset" in text:
        return True
    return ("asset" in text or "video" in text) and _SUNSET_WORDS.search(text) is not None


class ModelPicker:
    """Per-run view of the model choice; decisions are shared through the store."""

    def __init__(self, configured: str, store: Store, host: str) -> None:
        self.configured = configured
        self.auto = configured.strip().lower() == AUTO_MODEL
        self._store = store
        self._host = host
        self._lock = threading.Lock()
        self.switches: List[str] = []  # warnings of switches decided during this run, for the caller's thread

    # ------------------------------------------------------------------ reading

    def _retired(self) -> List[str]:
        out = []
        for model in (PEGASUS12, PEGASUS15):
            found = self._store.get_decision(self._host, model_topic(model))
            if found is not None and found.backend == RETIRED:
                out.append(model)
        return out

    def model_for(self, record: VideoRecord) -> str:
        """The model that answers this video (for ``auto``, see the module docstring)."""
        if not self.auto:
            return self.configured
        retired = self._retired()
        per_video = self._store.get_decision(self._host, _video_topic(record.video_id))
        if per_video is not None and PEGASUS12 not in retired:
            return PEGASUS12
        if record.asset_id and PEGASUS15 not in retired:
            return PEGASUS15
        if PEGASUS12 not in retired:
            return PEGASUS12
        return PEGASUS15  # 1.2 is gone: 1.5 is the only way; a video without asset id then fails clearly

    def describe(self) -> str:
        if not self.auto:
            return self.configured
        retired = sorted(self._retired())
        return "auto" + (f" (retired here: {', '.join(retired)})" if retired else "")

    # ------------------------------------------------------------------ switching

    def after_error(self, model: str, record: VideoRecord, exc: BaseException) -> Optional[str]:
        """The model to ask again with after ``exc``, or None (the error stands). Decisions are
        written to the store; the first one of each kind warns once."""
        if not self.auto or not isinstance(exc, APIStatusError):
            return None
        said = f"HTTP {exc.status_code}: {error_text(exc)}"
        if model == PEGASUS12 and is_sunset_answer(exc, PEGASUS12):
            self._retire(PEGASUS12, exc)
            return PEGASUS15 if record.asset_id else None
        if model == PEGASUS15 and is_sunset_answer(exc, PEGASUS15):
            self._retire(PEGASUS15, exc)
            return PEGASUS12
        if model == PEGASUS15 and is_video_refused(exc) and PEGASUS12 not in self._retired():
            self._store.put_decision(DecisionRecord.new(
                self._host, _video_topic(record.video_id), PEGASUS12, evidence(exc), revalidate_after_s=FOR_GOOD_S))
            log.info("video %s: pegasus1.5 refused it (%s); using pegasus1.2 by video_id for it", record.video_id,
                     said)
            return PEGASUS12
        return None

    def _retire(self, model: str, exc: APIStatusError) -> None:
        said = f"HTTP {exc.status_code}: {error_text(exc)}"
        with self._lock:
            if model in self._retired():
                return
            self._store.put_decision(DecisionRecord.new(
                self._host, model_topic(model), RETIRED, evidence(exc), revalidate_after_s=FOR_GOOD_S))
        other = PEGASUS15 if model == PEGASUS12 else PEGASUS12
        how = "by asset id" if other == PEGASUS15 else "by video_id"
        log.warning("%s retired on %s (%s); switching to %s", model, self._host, said, other)
        self.switches.append(
            f"{self._host} answered a {model} call with {said!r}: {model} is treated as retired there "
            f"for good (remembered in the cache). Videos are now analyzed by {other} {how}. "
            f"Pass pegasus_model='{other}' to choose it explicitly."
        )


def warn_model_switches(messages: List[str]) -> None:
    """One ``BackendSwitchWarning`` per switch, on the caller's line (called in the caller's thread)."""
    if not messages:
        return
    from classify_shim._warnings import BackendSwitchWarning, user_stacklevel

    for message in messages:
        warnings.warn(message, BackendSwitchWarning, stacklevel=user_stacklevel())
