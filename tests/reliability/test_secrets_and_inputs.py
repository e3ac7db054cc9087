"""Secrets and inputs: the key checked at first use and never shown, malformed 200s, unsafe page
tokens, and ONE retry layer with robust, capped server hints."""

from __future__ import annotations

import asyncio
import traceback
from typing import Any, Callable, Dict, List, Optional

import httpx
import pytest

import classify_shim
from classify_shim import APIError, AuthenticationError, ClassifyValidationError, TwelveLabs
from classify_shim._http import MAX_SERVER_DELAY, Pacing, RetryPolicy
from classify_shim._types import Secret
from legacy_support import paced_client

pytestmark = [pytest.mark.security, pytest.mark.filterwarnings("ignore::Warning")]

KEY = "tlk_SECRET_4f7a9c2e81b34d06"
CLASSES = [{"name": "A", "prompts": ["a"]}]
PAGE = {"data": [], "page_info": {"limit_per_page": 10, "total_results": 0, "page_expired_at": "2030-01-01T00:00:00Z",
                                  "next_page_token": "", "prev_page_token": ""}}


NO_WAITS = Pacing(rate_limit_max_wait=0.0, adjust=lambda wait: 0.0)
"""Retries and rate-gate pauses of zero seconds, for figures that count sends, not waits."""


def _client(
    handler: Callable[[httpx.Request], httpx.Response], key: Any = KEY, pacing: Optional[Pacing] = None, **kw: Any
) -> TwelveLabs:
    kw.setdefault("max_retries", 0)
    transport = httpx.Client(transport=httpx.MockTransport(handler))
    if pacing is not None:
        client: TwelveLabs = paced_client(pacing, key, classify_backend="legacy", base_url="http://classify.test",
                                          cache=False, http_client=transport, **kw)
        return client
    return TwelveLabs(key, classify_backend="legacy", base_url="http://classify.test", cache=False,
                      http_client=transport, **kw)


class Counter:
    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = list(responses)
        self.sent: List[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return self.responses[min(len(self.sent), len(self.responses)) - 1]


@pytest.mark.parametrize("bad", ["tlk key with space", "tlk_\nnewline", "tlk_é", "tlk_\x00"])
def test_malformed_key_fails_at_first_call_without_showing_it(bad: str) -> None:
    counter = Counter(httpx.Response(200, json=PAGE))
    client = _client(counter, key=bad)  # building the client never fails on the key
    with pytest.raises(AuthenticationError) as info:
        client.classify.videos(["v1"], ["visual"], CLASSES)
    text = "".join(traceback.format_exception(info.value)) + repr(info.value.body)
    assert bad.strip() not in text and counter.sent == []
    assert "visible ASCII" in str(info.value)


def test_key_is_masked_in_tracebacks_with_locals() -> None:
    counter = Counter(httpx.Response(401, json={"code": "api_key_invalid", "message": "bad"}))
    client = _client(counter)
    try:
        client.classify.videos(["v1"], ["visual"], CLASSES)
    except AuthenticationError as exc:
        text = "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())
    else:  # pragma: no cover
        pytest.fail("no error")
    assert counter.sent and counter.sent[0].headers["x-api-key"] == KEY  # the real key was sent
    assert KEY not in text
    assert isinstance(client.config.api_key, Secret) and repr(client.config.api_key) == "Secret('***')"
    assert client.api_key == KEY  # the public attribute is the plain key, as in 0.3.2
    client.close()


def test_repr_of_a_half_built_client_is_safe() -> None:
    with pytest.raises(classify_shim.TwelveLabsError):
        TwelveLabs(KEY, classify_backend="nope")
    half = TwelveLabs.__new__(TwelveLabs)
    assert "not initialised" in repr(half)


def test_malformed_json_200_is_an_api_error_with_the_cause() -> None:
    counter = Counter(httpx.Response(200, content=b'{"data": [', headers={"content-type": "application/json"}))
    client = _client(counter)
    with pytest.raises(APIError) as info:
        client.classify.videos(["v1"], ["visual"], CLASSES)
    assert type(info.value).__name__ == "APIResponseValidationError"
    assert isinstance(info.value.__cause__, ValueError)
    assert not isinstance(info.value, ValueError)


@pytest.mark.parametrize("token", [".", "..", "a/b", "../x", "./"])
def test_path_like_page_tokens_are_rejected_before_any_request(token: str) -> None:
    counter = Counter(httpx.Response(200, json=PAGE))
    with pytest.raises(ClassifyValidationError):
        _client(counter).classify.by_page_token(token)
    assert counter.sent == []


@pytest.mark.parametrize("hint", ["soon", "", "Wed, 99 Foo 2026 99:99:99 GMT", "nan", "inf", "1e400", "-"])
def test_unparsable_retry_after_means_backoff(hint: str) -> None:
    policy = RetryPolicy(max_retries=2)
    assert policy.server_delay({"retry-after": hint}) is None
    assert 0 < policy.delay(0, {"retry-after": hint}) <= policy.initial_delay


def test_server_hints_are_capped() -> None:
    policy = RetryPolicy()
    assert policy.delay(0, {"retry-after": "86400"}) == MAX_SERVER_DELAY
    assert policy.delay(0, {"retry-after-ms": "9000000"}) == MAX_SERVER_DELAY


def test_a_clients_pacing_sees_the_decided_wait_and_sets_the_one_taken() -> None:
    """``Pacing.adjust`` receives what the policy decided (the server's hint, capped) and its
    answer is the wait; other clients keep the shim's waits."""
    seen: List[float] = []
    pacing = Pacing(max_server_delay=30.0, adjust=lambda wait: seen.append(wait) or 0.25)
    policy = RetryPolicy.paced(2, pacing)
    assert policy.delay(0, {"retry-after": "7"}) == 0.25
    assert policy.delay(1, {"retry-after": "3600"}) == 0.25
    assert seen == [7.0, 30.0]
    paced = _client(Counter(), pacing=pacing)
    plain = _client(Counter())
    assert paced.config.pacing is pacing and plain.config.pacing == Pacing()
    assert plain._backend._http.policy.delay(0, {"retry-after": "7"}) == 7.0  # type: ignore[attr-defined]
    assert paced._backend._http.policy.delay(0, {"retry-after": "7"}) == 0.25  # type: ignore[attr-defined]
    paced.close()
    plain.close()


@pytest.mark.parametrize("max_retries", [0, 1, 2, 5])
def test_sends_per_call_are_bounded_by_max_retries(max_retries: int) -> None:
    counter = Counter(httpx.Response(429, headers={"retry-after": "0"}))
    with pytest.raises(classify_shim.RateLimitError):
        _client(counter, max_retries=max_retries, pacing=NO_WAITS).classify.videos(["v1"], ["visual"], CLASSES)
    assert len(counter.sent) == 1 + max_retries


def test_pegasus_analyze_429_is_sent_at_most_1_plus_max_retries(sb: Any) -> None:
    """Through the engine, the rate gate and the HTTP layer: one retry layer (was up to 21 sends)."""
    analyze: Dict[str, int] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/analyze"):
            analyze["n"] = analyze.get("n", 0) + 1
            return httpx.Response(429, headers={"retry-after": "0"})
        # everything else from the sandbox
        with httpx.Client() as real:
            upstream = real.request(request.method, str(request.url).replace("http://classify.test", sb.base_url),
                                    headers=request.headers)
            return httpx.Response(upstream.status_code, content=upstream.content, headers=upstream.headers)

    vid = str(sb.world["indexes"][0]["videos"][0]["_id"])
    client = paced_client(NO_WAITS, KEY, classify_backend="pegasus", base_url="http://classify.test", cache=False,
                          max_retries=2, http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    result = client.classify.videos([vid], ["visual"], CLASSES)
    assert [e.video_id for e in result.errors] == [vid]
    assert analyze["n"] == 3
    client.close()


def test_async_twin_checks_the_key_too() -> None:
    async def go() -> None:
        client = classify_shim.AsyncTwelveLabs("", classify_backend="legacy", base_url="http://classify.test")
        with pytest.raises(AuthenticationError):
            await client.classify.index("idx", ["visual"], CLASSES)
        await client.aclose()

    asyncio.run(go())
