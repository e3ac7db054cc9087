"""The v1.2 wire rules the gateway keeps, free of any web framework (so they are unit-testable).

Request bodies go through :mod:`classify_shim._request` (the same checks as Python callers);
errors become ``{code, message}`` bodies with v1.2's status codes; every v1.2 answer carries
``Deprecation`` (RFC 9745), ``Sunset`` (RFC 8594) and ``Link`` headers pointing at the migration
notes; classify POSTs carry ``X-Ratelimit-*`` counted per caller.
"""

from __future__ import annotations

import collections
import json
import math
import re
import threading
import time
from typing import Any, Deque, Dict, List, Mapping, Optional, Tuple

from .._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ClassifyValidationError,
    TwelveLabsError,
)
from .._request import ClassifyRequest, build_index_request, build_videos_request
from .._tokens import key_fingerprint
from ._settings import GatewaySettings

__all__ = [
    "DEPRECATED_SINCE",
    "GatewayError",
    "RateWindow",
    "build_request",
    "caller_fingerprint",
    "check_api_key",
    "deprecation_headers",
    "dump_json",
    "error_for",
    "parse_json_body",
    "v12_page",
]

#: 2025-02-28T00:00:00Z, when Classify was switched off (RFC 9745 ``Deprecation: @<epoch>``).
DEPRECATED_SINCE = 1_740_700_800
#: ``X-Ratelimit-Limit`` reported when no cap is configured.
UNCAPPED = 1_000_000
_KEY = re.compile(r"^[\x21-\x7e]{1,512}$")  # visible ASCII: what an HTTP header can carry
_FIELDS = (
    "options",
    "classes",
    "conversation_option",
    "page_limit",
    "include_clips",
    "threshold",
    "show_detailed_score",
)
_TARGET = {"videos": "video_ids", "index": "index_id"}


class GatewayError(Exception):
    """An answer the gateway gives itself: status, v1.2 ``code``, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def check_api_key(value: Optional[str]) -> str:
    """The caller's ``x-api-key``; 401 ``api_key_invalid`` when missing or not header-safe."""
    key = (value or "").strip()
    if not key or not _KEY.match(key):
        raise GatewayError(
            401, "api_key_invalid", "The API key is missing or invalid. Provide it in the x-api-key header."
        )
    return key


def caller_fingerprint(key: str) -> str:
    """Who is calling, for logs and rate counting: 12 hex digits of a keyed hash, never the key."""
    return key_fingerprint(key)[:12]


def parse_json_body(raw: bytes) -> Dict[str, Any]:
    if not raw.strip():
        raise ClassifyValidationError("body", "is empty; send the classify parameters as a JSON object")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ClassifyValidationError("body", f"is not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise ClassifyValidationError("body", f"must be a JSON object, got {type(body).__name__}")
    return body


def build_request(kind: str, body: Mapping[str, Any]) -> Tuple[ClassifyRequest, List[str]]:
    """The checked request (same rules as ``client.classify``) and the top-level keys ignored."""
    target = _TARGET[kind]
    known = {target, *_FIELDS}
    ignored = sorted(k for k in body if k not in known)
    args = {name: body.get(name) for name in _FIELDS[2:]}
    if "conversation_option" not in body:
        args["conversation_option"] = "semantic"
    builder = build_videos_request if kind == "videos" else build_index_request
    request = builder(body.get(target), body.get("options"), body.get("classes"), **args)
    return request, ignored


_DEFAULT_CODES = {
    400: "parameter_invalid",
    401: "api_key_invalid",
    403: "api_not_allowed",
    404: "resource_not_exist",
    429: "too_many_requests",
}


def error_for(exc: BaseException) -> Tuple[int, Dict[str, Any]]:
    """Status and ``{code, message}`` body for anything a backend or the gateway raised."""
    if isinstance(exc, GatewayError):
        return exc.status, {"code": exc.code, "message": exc.message}
    if isinstance(exc, APIStatusError):
        status = exc.status_code
        body = exc.body
        if isinstance(body, Mapping) and isinstance(body.get("code"), str):
            out: Dict[str, Any] = {"code": body["code"], "message": str(body.get("message") or exc.message)}
            if isinstance(body.get("docs_url"), str):
                out["docs_url"] = body["docs_url"]
            return status, out
        code = _DEFAULT_CODES.get(status, "internal_error" if status >= 500 else "request_failed")
        text = body if isinstance(body, str) and body else exc.message
        return status, {"code": code, "message": str(text)}
    if isinstance(exc, APITimeoutError):
        return 504, {"code": "upstream_timeout", "message": "The upstream API did not answer in time."}
    if isinstance(exc, APIConnectionError):
        return 502, {"code": "upstream_unavailable", "message": f"The upstream API could not be reached: {exc}"}
    if isinstance(exc, TwelveLabsError):
        return 500, {"code": "internal_error", "message": str(exc)}
    return 500, {"code": "internal_error", "message": "The gateway failed to serve this request."}


def deprecation_headers(settings: GatewaySettings) -> Dict[str, str]:
    link = settings.docs_url
    return {
        "Deprecation": f"@{DEPRECATED_SINCE}",
        "Sunset": settings.sunset,
        "Link": f'<{link}>; rel="deprecation"; type="text/markdown", <{link}>; rel="sunset"; type="text/markdown"',
    }


def v12_page(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """The page as v1.2 sent it: optional clip fields without a value are absent, never ``null``
    (the shim's models read both the same way; the spec types them as strings). Copies only what
    changes, so a page held by the store is never altered."""

    def clean_clips(cls: Mapping[str, Any]) -> Mapping[str, Any]:
        clips = cls.get("clips")
        if not clips or not any(isinstance(c, dict) and None in c.values() for c in clips):
            return cls
        out = dict(cls)
        out["clips"] = [
            {k: v for k, v in c.items() if v is not None} if isinstance(c, dict) else c for c in clips
        ]
        return out

    data = body.get("data") or []
    new_data = []
    changed = False
    for video in data:
        classes = video.get("classes") or []
        cleaned = [clean_clips(c) for c in classes]
        if any(a is not b for a, b in zip(cleaned, classes)):
            video = dict(video, classes=cleaned)
            changed = True
        new_data.append(video)
    return dict(body, data=new_data) if changed else body


def dump_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")


class RateWindow:
    """Sliding window of classify POSTs per caller fingerprint (per process)."""

    def __init__(self, limit: int, window_s: int, *, clock: Any = time.time) -> None:
        self.limit = limit
        self.window_s = float(window_s)
        self._clock = clock
        self._hits: Dict[str, Deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, caller: str) -> Tuple[bool, Dict[str, str]]:
        now = float(self._clock())
        cap = self.limit if self.limit > 0 else UNCAPPED
        with self._lock:
            hits = self._hits.setdefault(caller, collections.deque())
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            allowed = self.limit <= 0 or len(hits) < self.limit
            if allowed:
                hits.append(now)
            used = len(hits)
            oldest = hits[0] if hits else now
        reset = math.ceil(oldest + self.window_s)
        headers = {
            "X-Ratelimit-Limit": str(cap),
            "X-Ratelimit-Remaining": str(max(0, cap - used)),
            "X-Ratelimit-Used": str(used),
            "X-Ratelimit-Reset": str(reset),
        }
        if not allowed:
            headers["Retry-After"] = str(max(1, reset - math.floor(now)))
        return allowed, headers
