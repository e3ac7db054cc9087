"""Sans-IO rules of the gateway, and the core working without the ``gateway`` extra."""

from __future__ import annotations

import subprocess
import sys
from typing import Any, Dict, List

import httpx
import pytest

from classify_shim._exceptions import (
    APIConnectionError,
    APITimeoutError,
    ClassifyValidationError,
    InternalServerError,
    NotFoundError,
    RateLimitError,
)
from classify_shim._request import build_videos_request
from classify_shim.gateway._wire import (
    GatewayError,
    RateWindow,
    build_request,
    caller_fingerprint,
    check_api_key,
    error_for,
    v12_page,
)


def _response(status: int, body: Any = None, text: str = "") -> httpx.Response:
    request = httpx.Request("POST", "http://upstream.invalid/v1.3/analyze")
    if body is not None:
        return httpx.Response(status, json=body, request=request)
    return httpx.Response(status, text=text, request=request)


def test_rate_window_slides_per_caller() -> None:
    now = [1000.0]
    window = RateWindow(2, 60, clock=lambda: now[0])
    assert window.hit("a")[0] and window.hit("a")[0]
    allowed, headers = window.hit("a")
    assert not allowed
    assert headers["X-Ratelimit-Used"] == "2" and headers["X-Ratelimit-Reset"] == "1060"
    assert headers["Retry-After"] == "60"
    assert window.hit("b")[0]  # another caller has its own window
    now[0] = 1060.5
    allowed, headers = window.hit("a")
    assert allowed and headers["X-Ratelimit-Remaining"] == "1"


def test_uncapped_window_still_reports_headers() -> None:
    window = RateWindow(0, 86_400, clock=lambda: 0.0)
    for _ in range(5):
        allowed, headers = window.hit("a")
        assert allowed
    assert headers["X-Ratelimit-Used"] == "5" and int(headers["X-Ratelimit-Limit"]) > 5


@pytest.mark.parametrize(("exc", "status", "code"), [
    (ClassifyValidationError("page_limit", "too big"), 400, "parameter_invalid"),
    (NotFoundError("x", response=_response(404, {"code": "resource_not_exist", "message": "no video"}), body={"code": "resource_not_exist", "message": "no video"}), 404, "resource_not_exist"),
    (RateLimitError("x", response=_response(429, text=""), body=""), 429, "too_many_requests"),
    (InternalServerError("boom", response=_response(503, text="down"), body="down"), 503, "internal_error"),
    (APITimeoutError(request=None), 504, "upstream_timeout"),
    (APIConnectionError(request=None), 502, "upstream_unavailable"),
    (GatewayError(405, "method_not_allowed", "no"), 405, "method_not_allowed"),
    (RuntimeError("secret detail"), 500, "internal_error"),
])
def test_errors_map_to_v12_status_and_body(exc: BaseException, status: int, code: str) -> None:
    got_status, body = error_for(exc)
    assert (got_status, body["code"]) == (status, code)
    assert isinstance(body["message"], str) and body["message"]
    assert set(body) <= {"code", "message", "docs_url"}
    if isinstance(exc, RuntimeError):
        assert "secret detail" not in body["message"]  # internals are logged, not sent


def test_body_rules_are_the_python_callers_rules() -> None:
    body = {"video_ids": ["v1"], "options": ["visual"], "classes": [{"name": "a", "prompts": ["b"]}],
            "include_clips": True, "extra_field": 1}
    request, ignored = build_request("videos", body)
    assert ignored == ["extra_field"]
    assert request == build_videos_request(["v1"], ["visual"], [{"name": "a", "prompts": ["b"]}], include_clips=True)
    with pytest.raises(ClassifyValidationError) as gateway_error:
        build_request("videos", dict(body, page_limit=0))
    with pytest.raises(ClassifyValidationError) as python_error:
        build_videos_request(["v1"], ["visual"], [{"name": "a", "prompts": ["b"]}], page_limit=0)
    assert gateway_error.value.body == python_error.value.body


@pytest.mark.parametrize("value", [None, "", "   ", "tlk key with spaces", "tlk_\u00e9", "x" * 600])
def test_unusable_keys_are_401(value: Any) -> None:
    with pytest.raises(GatewayError) as info:
        check_api_key(value)
    assert info.value.status == 401 and info.value.code == "api_key_invalid"


def test_fingerprint_is_stable_and_does_not_contain_the_key() -> None:
    key = "tlk_abcdef0123456789"
    assert caller_fingerprint(key) == caller_fingerprint(key) != caller_fingerprint(key + "x")
    assert len(caller_fingerprint(key)) == 12 and "abcdef" not in caller_fingerprint(key)


def test_null_clip_fields_are_absent_and_the_stored_page_is_untouched() -> None:
    clip: Dict[str, Any] = {"start": 0.0, "end": 1.0, "score": 90.0, "option": "visual", "prompt": "p", "thumbnail_url": None}
    body: Dict[str, Any] = {"data": [{"video_id": "v", "classes": [{"name": "a", "score": 90, "duration_ratio": 1, "clips": [clip]}]}],
                            "page_info": {"limit_per_page": 1, "total_results": 1, "page_expired_at": "x"}}
    out = v12_page(body)
    assert "thumbnail_url" not in out["data"][0]["classes"][0]["clips"][0]
    assert clip["thumbnail_url"] is None  # the original (maybe a stored page) is not mutated
    plain: Dict[str, Any] = {"data": [{"video_id": "v", "classes": [{"name": "a", "score": 9, "duration_ratio": 1}]}], "page_info": {}}
    assert v12_page(plain) is plain


def test_core_and_cli_work_without_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['starlette'] = None\n"
        "sys.modules['uvicorn'] = None\n"
        "import classify_shim, classify_shim.gateway\n"
        "from classify_shim.cli import main\n"
        "assert 'starlette' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
        "sys.exit(main(['gateway', '--port', '0']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert 'pip install "twelvelabs-classify-shim[gateway]"' in proc.stderr


def test_help_lists_the_documented_flags() -> None:
    proc = subprocess.run([sys.executable, "-m", "classify_shim.cli", "gateway", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    flags: List[str] = ["--host", "--port", "--backend", "--workers", "pegasus,legacy,auto"]
    for flag in flags:
        assert flag in proc.stdout, flag


def test_listening_socket_is_tcp_with_nagle_off() -> None:
    """asyncio sets TCP_NODELAY on accepted sockets only when proto is TCP; without it every
    keep-alive answer waited ~40 ms for a delayed ACK (found by bench/gateway_load.py)."""
    import socket

    from classify_shim.gateway._server import bind, url_of

    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        assert url_of(sock).startswith("http://127.0.0.1:")
    finally:
        sock.close()
