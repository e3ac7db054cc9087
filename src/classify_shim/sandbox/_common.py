"""Small pieces shared by the sandbox's route handlers (errors, responses, time)."""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, Optional


class ApiError(Exception):
    """An HTTP error answer with the API's ``{code, message}`` body."""

    def __init__(self, status: int, code: str, message: str, headers: Optional[Dict[str, str]] = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


class Response:
    """What a handler returns; the server turns it into bytes on the wire.

    ``stream`` (an iterable of byte chunks) is sent with chunked transfer
    encoding; otherwise ``body`` (or ``payload`` as JSON) with a Content-Length.
    """

    def __init__(
        self,
        status: int = 200,
        payload: Any = None,
        *,
        body: Optional[bytes] = None,
        content_type: str = "application/json",
        headers: Optional[Dict[str, str]] = None,
        stream: Optional[Iterable[bytes]] = None,
        video: Optional[str] = None,
        extra_log: Optional[Dict[str, Any]] = None,
    ) -> None:
        self.status = status
        if body is None and payload is not None:
            body = json.dumps(payload).encode("utf-8")
        self.body = body if body is not None else b""
        self.content_type = content_type
        self.headers = dict(headers or {})
        self.stream = stream
        self.video = video
        self.extra_log = dict(extra_log or {})


def bad_request(code: str, message: str) -> ApiError:
    """400 with the given code."""
    return ApiError(400, code, message)


def not_provided(name: str) -> ApiError:
    """400 parameter_not_provided for a missing required field."""
    return ApiError(400, "parameter_not_provided", f"The {name} parameter is required but was not provided.")


def invalid(name: str, why: str) -> ApiError:
    """400 parameter_invalid naming the field."""
    return ApiError(400, "parameter_invalid", f"The {name} parameter is invalid: {why}.")


def not_exist(resource_id: str, collection: str, status: int = 400) -> ApiError:
    """The API's resource_not_exist error (400 in v1.2 classify, 404 in v1.3)."""
    return ApiError(status, "resource_not_exist", f"Resource with id {resource_id} does not exist in {collection}.")


def is_int(v: Any) -> bool:
    """JSON integer (bools excluded; 3.0 accepted as 3)."""
    if isinstance(v, bool):
        return False
    return isinstance(v, int) or (isinstance(v, float) and v.is_integer())


def is_number(v: Any) -> bool:
    """JSON number, bools excluded."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))


def rfc3339(ts: float) -> str:
    """UTC ``YYYY-MM-DDTHH:MM:SSZ``."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ms(ts: float) -> str:
    """UTC ISO 8601 with milliseconds (request log)."""
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
