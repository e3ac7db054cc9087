"""Error mapping and retries of the legacy backend (``httpx.MockTransport``; sleeps are recorded, not slept).

Statuses map to 0.3.2's classes with 0.3.2's message format; unlike 0.3.2 the real cause is
chained, and 408/409/429/5xx plus connection errors are retried (``max_retries``, default 2)
honouring ``Retry-After`` and the v1.2 ``X-Ratelimit-Reset`` epoch.
"""

from __future__ import annotations

import json
import socket
from typing import Any, Callable, Dict, List, Optional

import httpx
import pytest
import twelvelabs  # type: ignore[import-untyped]
from twelvelabs.base_client import APIClient  # type: ignore[import-untyped]

import classify_shim
from classify_shim import TwelveLabs
from classify_shim._exceptions import shim_class
from classify_shim.adapters.legacy import LegacyBackend
from legacy_support import API_KEY, valid_page

pytestmark = pytest.mark.filterwarnings("ignore::classify_shim.ClassifyDeprecationWarning")

CLASSES: List[Dict[str, Any]] = [{"name": "DanceTok", "prompts": ["Dance tutorial"]}]

STATUS_CLASSES = {
    400: "BadRequestError",
    401: "AuthenticationError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    409: "ConflictError",
    422: "UnprocessableEntityError",
    429: "RateLimitError",
    500: "InternalServerError",
    502: "InternalServerError",
    503: "InternalServerError",
    418: "APIStatusError",
    410: "APIStatusError",
}


class Recorder:
    """A MockTransport handler that answers a script of responses and counts requests."""

    def __init__(self, script: List[Callable[[httpx.Request], httpx.Response]]) -> None:
        self.script = script
        self.requests: List[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.script[min(len(self.requests), len(self.script)) - 1]
        return step(request)


def respond(status: int, payload: Any = None, *, raw: Optional[bytes] = None,
            headers: Optional[Dict[str, str]] = None) -> Callable[[httpx.Request], httpx.Response]:
    def make(request: httpx.Request) -> httpx.Response:
        if raw is not None:
            return httpx.Response(status, content=raw, headers=headers)
        if payload is None:
            return httpx.Response(status, headers=headers)
        return httpx.Response(status, json=payload, headers=headers)

    return make


def raise_(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def make(request: httpx.Request) -> httpx.Response:
        raise exc

    return make


_WAITS: List[List[float]] = [[]]
"""The current test's recorded waits (the ``sleeps`` fixture starts a fresh list)."""


@pytest.fixture
def sleeps() -> List[float]:
    """Every delay the HTTP layer asks for, recorded instead of slept (its injected sleep)."""
    _WAITS[0] = []
    return _WAITS[0]


def make_client(recorder: Recorder, clock: Optional[Callable[[], float]] = None, **kwargs: Any) -> TwelveLabs:
    client = TwelveLabs(API_KEY, classify_backend="legacy", base_url="http://classify.test",
                        http_client=httpx.Client(transport=httpx.MockTransport(recorder)), **kwargs)
    # the backend's HTTP layer with an injected sleep (and clock): nothing process-wide is patched
    client._backend = LegacyBackend(client.config, sleep=lambda s: _WAITS[0].append(s), clock=clock)
    return client


CALLS: Dict[str, Callable[[TwelveLabs], Any]] = {
    "videos": lambda c: c.classify.videos(["v1"], ["visual"], CLASSES),
    "index": lambda c: c.classify.index("idx-1", ["visual"], CLASSES),
    "by_page_token": lambda c: c.classify.by_page_token("tok-1"),
}


def _real_error(response: httpx.Response) -> Any:
    """What 0.3.2 builds from the same response (its own mapping code, run directly)."""
    return APIClient._make_status_error(None, response)


@pytest.mark.parametrize("status", list(STATUS_CLASSES))
@pytest.mark.parametrize("method", list(CALLS))
def test_status_maps_to_0_3_2_exception(status: int, method: str, sleeps: List[float]) -> None:
    payload = {"code": "some_code", "message": f"status {status}"}
    recorder = Recorder([respond(status, payload)])
    client = make_client(recorder, max_retries=0)
    with pytest.raises(classify_shim.APIStatusError) as info:
        CALLS[method](client)
    err = info.value
    assert type(err).__name__ == STATUS_CLASSES[status]
    assert shim_class(err) is getattr(classify_shim, STATUS_CLASSES[status])
    assert err.status_code == status
    assert err.body == payload
    assert err.response.status_code == status and err.response is not None
    assert err.request is not None and err.request.url.host == "classify.test"
    assert str(err) == err.message == f"Error code: {status} - {payload}"
    real = _real_error(httpx.Response(status, json=payload, request=err.request))
    assert (type(real).__name__, str(real), real.body, real.status_code) == (
        type(err).__name__, str(err), err.body, err.status_code)
    assert len(recorder.requests) == 1 and sleeps == []


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [(b"upstream exploded", "text/plain"), (b"<html>Bad gateway</html>", "text/html"), (b"", None)],
    ids=["text", "html", "empty"],
)
def test_non_json_bodies_match_0_3_2(raw: bytes, content_type: Optional[str], sleeps: List[float]) -> None:
    headers = {"content-type": content_type} if content_type else None
    recorder = Recorder([respond(502, raw=raw, headers=headers)])
    with pytest.raises(classify_shim.InternalServerError) as info:
        CALLS["videos"](make_client(recorder, max_retries=0))
    real = _real_error(httpx.Response(502, content=raw, headers=headers, request=info.value.request))
    assert str(info.value) == str(real)
    assert info.value.body == real.body


def test_empty_429_body(sleeps: List[float]) -> None:
    """v1.2 documents 429 with an empty body."""
    recorder = Recorder([respond(429)])
    with pytest.raises(classify_shim.RateLimitError) as info:
        CALLS["videos"](make_client(recorder, max_retries=0))
    assert info.value.status_code == 429
    assert str(info.value) == "Error code: 429"
    real = _real_error(httpx.Response(429, request=info.value.request))
    assert (str(real), real.body) == (str(info.value), info.value.body) == ("Error code: 429", "")


def test_exceptions_are_the_0_3_2_hierarchy() -> None:
    for name in ["APIError", "APIStatusError", "APIConnectionError", "APITimeoutError", *set(STATUS_CLASSES.values())]:
        ours, theirs = getattr(classify_shim, name), getattr(twelvelabs, name)
        our_bases = [b.__name__ for b in ours.__mro__ if b.__module__.startswith("classify_shim")]
        their_bases = [b.__name__ for b in theirs.__mro__ if b.__module__.startswith("twelvelabs")]
        assert our_bases == their_bases, name
    assert issubclass(classify_shim.ClassifyValidationError, classify_shim.BadRequestError)


# --------------------------------------------------------------------------- transport failures


def test_connection_error_is_chained_not_swallowed(sleeps: List[float]) -> None:
    cause = httpx.ConnectError("connection refused by peer")
    recorder = Recorder([raise_(cause)])
    with pytest.raises(classify_shim.APIConnectionError) as info:
        CALLS["videos"](make_client(recorder, max_retries=0))
    assert not isinstance(info.value, classify_shim.APITimeoutError)
    assert info.value.__cause__ is cause
    assert "connection refused by peer" in str(info.value)
    assert info.value.request is not None


def test_connection_error_against_a_closed_port() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = TwelveLabs(API_KEY, classify_backend="legacy", base_url=f"http://127.0.0.1:{port}", max_retries=0)
    with pytest.raises(classify_shim.APIConnectionError) as info:
        client.classify.by_page_token("tok-1")
    assert isinstance(info.value.__cause__, httpx.ConnectError)


@pytest.mark.parametrize("exc", [httpx.ReadTimeout("read timed out"), httpx.ConnectTimeout("connect timed out"),
                                 httpx.PoolTimeout("pool")], ids=["read", "connect", "pool"])
def test_timeout_maps_to_api_timeout_error(exc: Exception, sleeps: List[float]) -> None:
    recorder = Recorder([raise_(exc)])
    with pytest.raises(classify_shim.APITimeoutError) as info:
        CALLS["index"](make_client(recorder, max_retries=0))
    assert str(info.value) == "Request timed out"
    assert info.value.__cause__ is exc
    assert isinstance(info.value, classify_shim.APIConnectionError)


def test_connection_errors_are_retried(sleeps: List[float]) -> None:
    recorder = Recorder([raise_(httpx.ConnectError("down")), raise_(httpx.ReadError("reset")),
                         respond(200, valid_page())])
    result = CALLS["videos"](make_client(recorder))
    assert result.data[0].video_id == "vid-1"
    assert len(recorder.requests) == 3 and len(sleeps) == 2


def test_undecodable_success_body_is_not_a_silent_empty_result(sleeps: List[float]) -> None:
    recorder = Recorder([respond(200, {"unexpected": True})])
    with pytest.raises(classify_shim.TwelveLabsError) as info:
        CALLS["videos"](make_client(recorder, max_retries=0))
    assert "result page" in str(info.value)


# --------------------------------------------------------------------------- retries


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_retryable_statuses_are_retried_up_to_max_retries(status: int, sleeps: List[float]) -> None:
    recorder = Recorder([respond(status, {"code": "x", "message": "y"})])
    with pytest.raises(classify_shim.APIStatusError) as info:
        CALLS["videos"](make_client(recorder))
    assert info.value.status_code == status
    assert len(recorder.requests) == 3  # default max_retries=2
    assert len(sleeps) == 2
    # Exponential backoff with jitter when the server names no delay.
    assert 0.375 <= sleeps[0] <= 0.5 and 0.75 <= sleeps[1] <= 1.0


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_never_retried(status: int, sleeps: List[float]) -> None:
    recorder = Recorder([respond(status, {"code": "x", "message": "y"})])
    with pytest.raises(classify_shim.APIStatusError):
        CALLS["index"](make_client(recorder, max_retries=5))
    assert len(recorder.requests) == 1 and sleeps == []


def test_retry_then_success_returns_the_result(sleeps: List[float]) -> None:
    recorder = Recorder([respond(503, {"code": "busy", "message": "busy"}), respond(200, valid_page("v9"))])
    result = CALLS["by_page_token"](make_client(recorder))
    assert result.data[0].video_id == "v9"
    assert len(recorder.requests) == 2 and len(sleeps) == 1
    # The retried request is the same request.
    first, second = recorder.requests
    assert (first.method, first.url, first.content) == (second.method, second.url, second.content)


def test_max_retries_zero_sends_one_request(sleeps: List[float]) -> None:
    recorder = Recorder([respond(503, {"code": "busy", "message": "busy"})])
    with pytest.raises(classify_shim.InternalServerError):
        CALLS["videos"](make_client(recorder, max_retries=0))
    assert len(recorder.requests) == 1 and sleeps == []


def test_max_retries_is_configurable(sleeps: List[float]) -> None:
    recorder = Recorder([respond(500, {"code": "x", "message": "y"})])
    with pytest.raises(classify_shim.InternalServerError):
        CALLS["videos"](make_client(recorder, max_retries=4))
    assert len(recorder.requests) == 5 and len(sleeps) == 4


def test_retry_after_seconds_is_honoured(sleeps: List[float]) -> None:
    recorder = Recorder([respond(429, headers={"Retry-After": "3"})])
    with pytest.raises(classify_shim.RateLimitError):
        CALLS["videos"](make_client(recorder))
    assert sleeps == [3.0, 3.0]


def test_retry_after_ms_is_honoured(sleeps: List[float]) -> None:
    recorder = Recorder([respond(503, headers={"retry-after-ms": "250"}), respond(200, valid_page())])
    CALLS["videos"](make_client(recorder))
    assert sleeps == [0.25]


def test_x_ratelimit_reset_epoch_is_honoured(sleeps: List[float]) -> None:
    now = 1_760_000_000.0  # the HTTP layer's injected clock: the wait is exact, not a time window
    headers = {"X-Ratelimit-Limit": "20", "X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": str(int(now) + 30)}
    recorder = Recorder([respond(429, headers=headers), respond(200, valid_page())])
    CALLS["index"](make_client(recorder, clock=lambda: now))
    assert sleeps == [30.0]


def test_retry_after_http_date_is_measured_on_the_clock(sleeps: List[float]) -> None:
    import email.utils

    now = 1_760_000_000.0
    headers = {"Retry-After": email.utils.formatdate(now + 12, usegmt=True)}
    recorder = Recorder([respond(503, headers=headers), respond(200, valid_page())])
    CALLS["videos"](make_client(recorder, clock=lambda: now))
    assert sleeps == [12.0]


def test_overlong_server_delay_is_capped(sleeps: List[float]) -> None:
    """An hour-long Retry-After would hang the caller; the wait is capped (documented)."""
    from classify_shim._http import MAX_SERVER_DELAY

    recorder = Recorder([respond(429, headers={"Retry-After": "3600"}), respond(200, valid_page())])
    CALLS["videos"](make_client(recorder))
    assert sleeps == [MAX_SERVER_DELAY] and MAX_SERVER_DELAY == 60.0


def test_final_error_after_retries_carries_the_last_response(sleeps: List[float]) -> None:
    recorder = Recorder([respond(503, {"code": "a", "message": "first"}), respond(503, {"code": "b", "message": "second"}),
                         respond(500, {"code": "c", "message": "last"})])
    with pytest.raises(classify_shim.InternalServerError) as info:
        CALLS["videos"](make_client(recorder))
    assert info.value.status_code == 500
    assert info.value.body == {"code": "c", "message": "last"}


def test_api_key_is_sent_and_never_in_error_text(sleeps: List[float]) -> None:
    recorder = Recorder([respond(401, {"code": "api_key_invalid", "message": "bad key"})])
    with pytest.raises(classify_shim.AuthenticationError) as info:
        CALLS["videos"](make_client(recorder))
    assert recorder.requests[0].headers["x-api-key"] == API_KEY
    assert API_KEY not in str(info.value) and API_KEY not in repr(info.value)
    assert json.loads(recorder.requests[0].content)["video_ids"] == ["v1"]
