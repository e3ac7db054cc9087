"""Wire parity: for the same call, our legacy backend sends what ``twelvelabs`` 0.3.2 sends.

Both clients talk to one capturing loopback server; we compare method, path, query, ``x-api-key``,
``content-type`` (POST only) and the JSON body byte for byte. Where we deliberately differ
(``ClassifyClassParams`` objects, nested ``None``), the 0.3.2 behaviour is asserted too.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Dict, List, Tuple

import httpx
import pytest
import twelvelabs  # type: ignore[import-untyped]

from classify_shim import TwelveLabs
from classify_shim.models import ClassifyClassParams
from legacy_support import API_KEY, Captured, CaptureServer

pytestmark = pytest.mark.filterwarnings("ignore::classify_shim.ClassifyDeprecationWarning")

CLASSES: List[Dict[str, Any]] = [
    {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group", "Dance competition"]},
    {"name": "CookTok", "prompts": ["Cooking tutorial", "Cooking ustensils review"],
     "options": ["visual"], "conversation_option": "exact_match"},
]

MODERATION = ["Violence", "SelfHarm", "Nudity", "Drugs", "Weapons", "Hate", "Gambling", "Alcohol",
              "Smoking", "Profanity", "SelfHarm", "Gore", "Spam", "Scam"]

Call = Callable[[Any], Any]

CALLS: Dict[str, Call] = {
    "videos-minimal": lambda c: c.classify.videos(["v1", "v2"], ["visual"], CLASSES[:1]),
    "videos-keywords": lambda c: c.classify.videos(
        video_ids=["v1"], options=["visual", "conversation"], classes=CLASSES),
    "videos-all-options": lambda c: c.classify.videos(
        ["v1", "v2", "v3"], ["visual", "conversation", "text_in_video"], CLASSES,
        conversation_option="exact_match", page_limit=5, include_clips=True,
        threshold={"min_video_score": 80, "min_clip_score": 40, "min_duration_ratio": 0.5},
        show_detailed_score=True),
    "videos-false-flags": lambda c: c.classify.videos(
        ["v1"], ["visual"], CLASSES, include_clips=False, show_detailed_score=False, page_limit=50),
    "videos-conversation-none": lambda c: c.classify.videos(
        ["v1"], ["conversation"], CLASSES, conversation_option=None),
    "videos-headers-kwarg": lambda c: c.classify.videos(
        ["v1"], ["visual"], CLASSES, headers={"X-Request-Id": "abc-123"}),
    "videos-params-kwarg": lambda c: c.classify.videos(["v1"], ["visual"], CLASSES, params={"trace": "1"}),
    "videos-timeout-kwarg": lambda c: c.classify.videos(["v1"], ["visual"], CLASSES, timeout=30.0),
    "index-minimal": lambda c: c.classify.index("idx-1", ["visual"], CLASSES),
    "index-all-options": lambda c: c.classify.index(
        index_id="idx-1", options=["visual", "text_in_video"], classes=CLASSES,
        conversation_option="semantic", page_limit=1, include_clips=True,
        threshold={"min_video_score": 75}, show_detailed_score=True),
    "index-integer-threshold": lambda c: c.classify.index("idx-1", ["visual"], CLASSES, threshold=80),
    "index-headers-kwarg": lambda c: c.classify.index("idx-1", ["visual"], CLASSES, headers={"X-A": "b"}),
    # The real-world call shapes of tests/test_call_shapes.py that 0.3.2 itself could send.
    "shape-duplicate-class-names-14x5": lambda c: c.classify.videos(
        ["v1"], ["visual"], [{"name": n, "prompts": [f"{n.lower()} {k}" for k in range(5)]} for n in MODERATION]),
    "shape-duplicate-video-ids": lambda c: c.classify.videos(["v1", "v2", "v1"], ["visual"], CLASSES[:1]),
    "shape-extra-class-keys": lambda c: c.classify.videos(
        ["v1"], ["visual"], [{**CLASSES[0], "description": "short dance clips", "color": "#f0f"}]),
    "shape-prompts-with-spaces": lambda c: c.classify.videos(
        ["v1"], ["visual"], [{"name": "DanceTok", "prompts": ["  dance tutorial ", "dancing "]}]),
    "shape-repeated-prompts": lambda c: c.classify.videos(
        ["v1"], ["visual"], [{"name": "DanceTok", "prompts": ["dancing", "dancing", "dance"]}]),
    "shape-split-comma-prompts": lambda c: c.classify.videos(
        ["v1"], ["visual"], [{"name": "DanceTok", "prompts": ["dance tutorial", " dance group ", "dancing"]}]),
    "shape-duplicate-options": lambda c: c.classify.videos(["v1"], ["visual", "visual"], CLASSES[:1]),
    "shape-tuples": lambda c: c.classify.videos(("v1", "v2"), ("visual",), (CLASSES[0],)),
    "shape-unicode-long": lambda c: c.classify.videos(
        ["v1"], ["visual"], [{"name": "Tänze " + "x" * 300, "prompts": ["tanzen " * 200]}]),
    "shape-prompt-equals-name": lambda c: c.classify.videos(["v1"], ["visual"], [{"name": "Cooking", "prompts": ["Cooking"]}]),
    "shape-kwarg-follow-redirects": lambda c: c.classify.videos(["v1"], ["visual"], CLASSES, follow_redirects=True),
    "shape-kwarg-auth": lambda c: c.classify.videos(["v1"], ["visual"], CLASSES, auth=("user", "pass")),
    "shape-kwarg-httpx-auth": lambda c: c.classify.index("idx-1", ["visual"], CLASSES, auth=httpx.BasicAuth("u", "p"),
                                                         timeout=httpx.Timeout(30.0)),
    "shape-kwarg-cookies": lambda c: c.classify.videos(["v1"], ["visual"], CLASSES, cookies={"a": "b"}),
    "shape-kwarg-header-pairs": lambda c: c.classify.videos(
        ["v1"], ["visual"], CLASSES, headers=[("X-Trace", "1"), ("X-Trace", "2")]),
    "shape-kwarg-params-query-string": lambda c: c.classify.videos(["v1"], ["visual"], CLASSES, params="trace=1&trace=2"),
    "shape-kwarg-stream-false": lambda c: c.classify.videos(["v1"], ["visual"], CLASSES, stream=False),
    "shape-kwarg-extensions": lambda c: c.classify.videos(["v1"], ["visual"], CLASSES, extensions={}),
    "by-page-token": lambda c: c.classify.by_page_token("0b3c2f1e-9d8a-4a5b-8c7d-6e5f4a3b2c1d-2"),
    "by-page-token-keyword": lambda c: c.classify.by_page_token(page_token="tok-1"),
    "by-page-token-headers": lambda c: c.classify.by_page_token("tok-1", headers={"X-Trace": "t"}),
    "by-page-token-params": lambda c: c.classify.by_page_token("tok-1", params={"a": "1"}),
}


def _essentials(req: Captured) -> Tuple[Any, ...]:
    headers = req.headers
    extra = [(k, v) for k, v in req.header_lines
             if (k.startswith("x-") and k != "x-api-key") or k in ("authorization", "cookie")]
    return (req.method, req.path, req.query, headers.get("x-api-key"), headers.get("content-type"), extra, req.body)


def _real_request(capture: CaptureServer, monkeypatch: pytest.MonkeyPatch, call: Call) -> Captured:
    monkeypatch.setenv("TWELVELABS_BASE_URL", capture.url)
    call(twelvelabs.TwelveLabs(API_KEY))
    monkeypatch.delenv("TWELVELABS_BASE_URL")
    assert len(capture.requests) == 1
    return capture.requests.pop()


def _our_request(capture: CaptureServer, call: Call, **client_kwargs: Any) -> Captured:
    with TwelveLabs(API_KEY, classify_backend="legacy", max_retries=0, **client_kwargs) as client:
        call(client)
    assert len(capture.requests) == 1
    return capture.requests.pop()


@pytest.mark.parametrize("name", list(CALLS))
def test_same_request_as_0_3_2(name: str, capture: CaptureServer, monkeypatch: pytest.MonkeyPatch) -> None:
    call = CALLS[name]
    theirs = _real_request(capture, monkeypatch, call)
    ours = _our_request(capture, call, base_url=capture.url)
    assert _essentials(ours) == _essentials(theirs)
    # What the contract says, independently of 0.3.2.
    assert ours.path.startswith("/v1.2/classify")
    assert ours.headers["x-api-key"] == API_KEY
    if ours.method == "POST":
        assert ours.headers["content-type"] == "application/json"
        assert ours.json() == theirs.json()
    else:
        assert "content-type" not in ours.headers and ours.body == b""


@pytest.mark.parametrize("name", ["videos-all-options", "videos-headers-kwarg", "index-all-options",
                                  "by-page-token-params"])
def test_async_client_sends_the_same(name: str, capture: CaptureServer, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from classify_shim import AsyncTwelveLabs

    call = CALLS[name]
    theirs = _real_request(capture, monkeypatch, call)

    async def go() -> None:
        async with AsyncTwelveLabs(API_KEY, classify_backend="legacy", base_url=capture.url, max_retries=0) as client:
            await call(client)

    asyncio.run(go())
    assert len(capture.requests) == 1
    assert _essentials(capture.requests[0]) == _essentials(theirs)


@pytest.mark.parametrize("name", ["videos-all-options", "index-minimal", "by-page-token"])
def test_base_url_from_env_like_0_3_2(name: str, capture: CaptureServer, monkeypatch: pytest.MonkeyPatch) -> None:
    call = CALLS[name]
    theirs = _real_request(capture, monkeypatch, call)
    monkeypatch.setenv("TWELVELABS_BASE_URL", capture.url)
    ours = _our_request(capture, call)
    assert _essentials(ours) == _essentials(theirs)


def test_api_version_in_path_follows_version_argument(capture: CaptureServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWELVELABS_BASE_URL", capture.url)
    twelvelabs.TwelveLabs(API_KEY, "v1.1").classify.by_page_token("t")
    with TwelveLabs(API_KEY, "v1.1", classify_backend="legacy") as client:
        client.classify.by_page_token("t")
    assert [r.path for r in capture.requests] == ["/v1.1/classify/t", "/v1.1/classify/t"]


def test_body_key_order_is_0_3_2s(capture: CaptureServer) -> None:
    CALLS["videos-all-options"](TwelveLabs(API_KEY, classify_backend="legacy", base_url=capture.url))
    body = json.loads(capture.requests[0].body)
    assert list(body) == ["video_ids", "options", "classes", "conversation_option", "page_limit",
                          "include_clips", "threshold", "show_detailed_score"]


# --------------------------------------------------------------------------- deliberate differences


def test_class_params_objects_are_serialised(capture: CaptureServer, monkeypatch: pytest.MonkeyPatch) -> None:
    params: List[Any] = [
        ClassifyClassParams("DanceTok", ["Dance tutorial", "Dance group"]),
        ClassifyClassParams("CookTok", ["Cooking tutorial"], options=["conversation"], conversation_option="exact_match"),
    ]
    with TwelveLabs(API_KEY, classify_backend="legacy", base_url=capture.url) as client:
        client.classify.videos(["v1"], ["visual"], params)
    assert capture.requests[0].json()["classes"] == [
        {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group"]},
        {"name": "CookTok", "prompts": ["Cooking tutorial"], "options": ["conversation"],
         "conversation_option": "exact_match"},
    ]
    # ... and they send exactly what 0.3.2 sends for the equivalent dicts.
    capture.reset()
    as_dicts = [p.to_dict() for p in params]
    ours_from_dicts = _our_request(capture, lambda c: c.classify.videos(["v1"], ["visual"], as_dicts),
                                   base_url=capture.url)
    theirs = _real_request(capture, monkeypatch, lambda c: c.classify.videos(["v1"], ["visual"], as_dicts))
    assert ours_from_dicts.body == theirs.body


def test_0_3_2_cannot_send_class_params_objects(capture: CaptureServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Why we differ: 0.3.2 hides the TypeError behind a generic connection error, sends nothing."""
    monkeypatch.setenv("TWELVELABS_BASE_URL", capture.url)
    real = twelvelabs.TwelveLabs(API_KEY)
    with pytest.raises(twelvelabs.APIConnectionError, match="Failed connection"):
        real.classify.videos(["v1"], ["visual"], [twelvelabs.models.ClassifyClassParams("A", ["a"])])
    assert capture.requests == []


def test_nested_none_is_treated_as_absent(capture: CaptureServer, monkeypatch: pytest.MonkeyPatch) -> None:
    classes = [{"name": "DanceTok", "prompts": ["Dance tutorial"], "options": None, "conversation_option": None}]
    threshold = {"min_video_score": 80, "min_clip_score": None}
    ours = _our_request(capture, lambda c: c.classify.videos(["v1"], ["visual"], classes, threshold=threshold),
                        base_url=capture.url)
    body = ours.json()
    assert body["classes"] == [{"name": "DanceTok", "prompts": ["Dance tutorial"]}]
    assert body["threshold"] == {"min_video_score": 80}
    # 0.3.2 only stripped None at the top level and sent JSON nulls.
    theirs = _real_request(capture, monkeypatch,
                           lambda c: c.classify.videos(["v1"], ["visual"], classes, threshold=threshold))
    assert theirs.json()["classes"][0]["options"] is None
    assert theirs.json()["threshold"] == {"min_video_score": 80, "min_clip_score": None}


def test_inputs_are_not_mutated(capture: CaptureServer) -> None:
    classes = [{"name": "DanceTok", "prompts": ["Dance tutorial"], "options": None}]
    snapshot = json.dumps(classes)
    ids = ["v1"]
    with TwelveLabs(API_KEY, classify_backend="legacy", base_url=capture.url) as client:
        client.classify.videos(ids, ["visual"], classes)
    assert json.dumps(classes) == snapshot and ids == ["v1"]


POSTS = [name for name in CALLS if not name.startswith("by-page-token")]


@pytest.mark.parametrize("name", POSTS)
def test_a_repeated_call_sends_what_the_long_way_sends(name: str, capture: CaptureServer,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A call repeated with the same arguments is a validation memo hit, whose body bytes are
    encoded once (``ClassifyRequest.wire_json``) and sent by our own client's short path: every
    header line and byte as a client given its own ``httpx.Client`` sends (headers merged and the
    body encoded by httpx per request)."""
    call = CALLS[name]
    theirs = _real_request(capture, monkeypatch, call)
    with httpx.Client() as plain:
        long_way = _our_request(capture, call, base_url=capture.url, http_client=plain)
    with TwelveLabs(API_KEY, classify_backend="legacy", max_retries=0, base_url=capture.url) as client:
        call(client)
        call(client)
    for sent in capture.requests:
        assert (sent.method, sent.path, sent.query, sent.header_lines, sent.body) == (
            long_way.method, long_way.path, long_way.query, long_way.header_lines, long_way.body)
    assert len(capture.requests) == 2 and _essentials(long_way) == _essentials(theirs)
    capture.requests.clear()
