"""The legacy call path's shortcuts say exactly what the long way says.

- A validation memo hit serves a snapshot of the body: it shares no object with any caller, so
  objects an earlier caller changed afterwards are never what a later call sends.
- Our own httpx client carries our headers as its defaults: the headers of a request, in order
  and spelling, are those httpx builds when they are merged per request on a plain client.
- A warning's text is rendered once per instance, and again when a part of it is changed.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Dict, Iterator, List, Tuple

import httpx
import pytest

from classify_shim._http import USER_AGENT, SyncHTTP
from classify_shim._request import build_videos_request, parse_request_options
from classify_shim._warnings import build_warning


def _classes() -> List[Dict[str, Any]]:
    return [{"name": "DanceTok", "prompts": ["dance tutorial"]}, {"name": "CookTok", "prompts": ["cooking"]}]


def test_a_memo_hit_sends_what_its_own_arguments_say() -> None:
    first_classes = _classes()
    first = build_videos_request(["m1"], ["visual"], first_classes)
    sent_first = json.dumps(dict(first.wire_body))
    first_classes[0]["prompts"][0] = "changed after the call"  # the first caller's objects change
    later = build_videos_request(["m1"], ["visual"], _classes())  # same arguments as the first call had
    assert json.dumps(dict(later.wire_body)) == sent_first
    assert later.wire_body["classes"][0]["prompts"] == ["dance tutorial"]
    mine = _classes()
    again = build_videos_request(["m1"], ["visual"], mine)
    mine[1]["prompts"].append("a prompt added after the call")
    assert build_videos_request(["m1"], ["visual"], _classes()).wire_body["classes"][1]["prompts"] == ["cooking"]
    assert again.classes == first.classes == later.classes


EXTRAS: List[Tuple[str, List[Tuple[str, str]]]] = [
    ("none", []),
    ("one of ours, other case", [("X-Api-Key", "their-key")]),
    ("repeated", [("X-Trace", "1"), ("X-Trace", "2")]),
    ("ours and others", [("Accept", "text/plain"), ("X-Other", "o"), ("user-agent", "theirs")]),
]


@pytest.mark.parametrize(("label", "extra"), EXTRAS, ids=[e[0] for e in EXTRAS])
def test_request_headers_are_those_httpx_merges_per_request(label: str, extra: List[Tuple[str, str]]) -> None:
    key = "tlk_headers_order_0001"
    http = SyncHTTP("http://127.0.0.1:9/v1.2/", key, timeout=httpx.Timeout(5.0), max_retries=0)
    try:
        options = parse_request_options({"headers": extra} if extra else {})
        ours = http._build(http._client, "POST", "classify", {"video_ids": ["v"]}, None, options)
        ours_plain = http._build(http._client, "POST", "classify", {"video_ids": ["v"]}, None, None)
    finally:
        http.close()
    mine = [("x-api-key", key), ("user-agent", USER_AGENT), ("accept", "application/json")]
    extra = list(options.headers or []) if extra else []  # as the options carry them (names normalised)
    given = {name for name, _ in extra}
    with httpx.Client() as plain:  # the per-request merge onto httpx's own defaults
        expected = plain.build_request(
            "POST", "http://127.0.0.1:9/v1.2/classify", json={"video_ids": ["v"]},
            headers=[p for p in mine if p[0] not in given] + extra,
        )
        expected_plain = plain.build_request("POST", "http://127.0.0.1:9/v1.2/classify", json={"video_ids": ["v"]},
                                             headers=mine)
    assert ours.headers.raw == expected.headers.raw
    assert ours_plain.headers.raw == expected_plain.headers.raw
    assert ours.read() == expected.read()


def test_warning_text_follows_its_parts() -> None:
    for unsupported in (True, False):
        warning = build_warning("videos", "legacy", "v1.2", unsupported=unsupported)
        text = str(warning)
        assert str(warning) == text and text.startswith("client.classify.videos() is ")
        warning.details = "other details"
        assert str(warning).endswith(" other details") and str(warning) != text
        warning.function = "f()"
        assert str(warning).startswith("f() is ")


def test_parsed_urls_are_reused_per_text_and_stay_right() -> None:
    http = SyncHTTP("http://127.0.0.1:9/v1.2/", "tlk_urls_0001", timeout=httpx.Timeout(5.0), max_retries=0)
    try:
        paths = ["classify", "classify/bulk", *[f"classify/token-{i}" for i in range(100)], "classify", "/classify/bulk"]
        for path in paths:
            request = http._build(http._client, "GET", path, None, {"a": "1"} if path.endswith("-7") else None, None)
            expected = "http://127.0.0.1:9/v1.2/" + path.lstrip("/") + ("?a=1" if path.endswith("-7") else "")
            assert str(request.url) == expected
    finally:
        http.close()


# --- our own httpx client: the short send says what httpx.Client.send says -------------------

_BODY = b'{"data": [], "page_info": {}}'
ANSWERS: List[Tuple[str, int, List[Tuple[str, str]]]] = [
    ("json", 200, [("content-type", "application/json")]),
    ("sets a cookie", 200, [("content-type", "application/json"), ("set-cookie", "session=abc; Path=/")]),
    ("redirect", 302, [("location", "/v1.2/elsewhere")]),
    ("server error", 500, [("content-type", "application/json")]),
]


class _Streamed(httpx.SyncByteStream):
    """A body read from the wire (not in hand at once), as a real transport answers."""

    def __iter__(self) -> Iterator[bytes]:
        yield _BODY[:10]
        yield _BODY[10:]


def _answering(status: int, headers: List[Tuple[str, str]], seen: List[httpx.Request]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "GET":  # the tests' first send: a plain answer, so the short sends meet the others
            return httpx.Response(200, stream=_Streamed())
        return httpx.Response(status, headers=headers, stream=_Streamed())

    return httpx.MockTransport(handler)


def _no_long_way(client: httpx.Client) -> None:
    """Fail if ``send`` goes the long way (``httpx.Client.send``'s auth and redirect handling)."""
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("took httpx.Client.send's long way")

    client._send_handling_auth = refuse  # type: ignore[method-assign]


def _described(response: httpx.Response, client: httpx.Client) -> Dict[str, Any]:
    nxt = response.next_request
    return {
        "status": response.status_code, "headers": response.headers.raw, "content": response.content,
        "request headers": response.request.headers.raw, "history": response.history,
        "next": None if nxt is None else (nxt.method, str(nxt.url), nxt.headers.raw),
        "encoding": response.default_encoding, "closed": response.is_closed,
        "elapsed": response.elapsed.total_seconds() >= 0,
        "jar": sorted((c.name, c.value, c.domain, c.path) for c in client.cookies.jar),
    }


@pytest.mark.parametrize(("label", "status", "headers"), ANSWERS, ids=[a[0] for a in ANSWERS])
def test_own_client_answers_as_httpx_send_does(label: str, status: int, headers: List[Tuple[str, str]]) -> None:
    from classify_shim._own_client import OwnClient

    url = "http://127.0.0.1:9/v1.2/classify"
    seen_own: List[httpx.Request] = []
    seen_plain: List[httpx.Request] = []
    own = OwnClient(transport=_answering(status, headers, seen_own), headers=[("x-api-key", "k")])
    plain = httpx.Client(transport=_answering(status, headers, seen_plain), headers=[("x-api-key", "k")])
    with own, plain:
        own.send(own.build_request("GET", url))  # the first send is httpx's own (it opens the client)
        plain.send(plain.build_request("GET", url))
        _no_long_way(own)
        for _ in range(2):  # the second round sends the cookie the first stored, if any
            mine = own.send(own.build_request("POST", url, json={"video_ids": ["v"]}))
            theirs = plain.send(plain.build_request("POST", url, json={"video_ids": ["v"]}))
            assert _described(mine, own) == _described(theirs, plain)
            assert mine.request is seen_own[-1]
    assert [r.headers.raw for r in seen_own] == [r.headers.raw for r in seen_plain]


def test_own_client_transport_errors_name_their_request() -> None:
    from classify_shim._own_client import OwnClient

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")  # raised without a request, as a transport does

    own = OwnClient(transport=httpx.MockTransport(refuse))
    plain = httpx.Client(transport=httpx.MockTransport(refuse))
    with own, plain:
        for client in (own, plain):
            with pytest.raises(httpx.ConnectError):
                client.send(client.build_request("GET", "http://127.0.0.1:9/"))
        _no_long_way(own)
        errors = []
        for client in (own, plain):
            request = client.build_request("GET", "http://127.0.0.1:9/")
            with pytest.raises(httpx.ConnectError) as caught:
                client.send(request)
            assert caught.value.request is request
            errors.append(str(caught.value))
    assert errors[0] == errors[1]


def test_own_client_takes_the_long_way_when_send_has_work(caplog: pytest.LogCaptureFixture) -> None:
    """A per-call ``auth``, credentials in the URL, a hook or httpx's INFO log: ``send`` itself."""
    from classify_shim._own_client import OwnClient

    seen: List[httpx.Request] = []
    own = OwnClient(transport=_answering(200, [("content-type", "application/json")], seen))
    with own:
        own.send(own.build_request("GET", "http://127.0.0.1:9/"))
        long_way: List[str] = []
        original = own._send_handling_auth

        def spy(*args: Any, **kwargs: Any) -> httpx.Response:
            long_way.append("x")
            return original(*args, **kwargs)

        own._send_handling_auth = spy  # type: ignore[method-assign]
        own.send(own.build_request("GET", "http://127.0.0.1:9/"))
        assert long_way == []
        own.send(own.build_request("GET", "http://127.0.0.1:9/"), auth=("u", "p"))
        assert seen[-1].headers["authorization"].startswith("Basic ")
        own.send(own.build_request("GET", "http://u:p@127.0.0.1:9/"))
        assert seen[-1].headers["authorization"].startswith("Basic ")
        own.event_hooks = {"request": [lambda request: None], "response": []}
        own.send(own.build_request("GET", "http://127.0.0.1:9/"))
        own.event_hooks = {"request": [], "response": []}
        with caplog.at_level(logging.INFO, logger="httpx"):
            own.send(own.build_request("GET", "http://127.0.0.1:9/"))
        assert [r.getMessage() for r in caplog.records if r.name == "httpx"] == [
            'HTTP Request: GET http://127.0.0.1:9/ "HTTP/1.1 200 OK"']
        assert long_way == ["x"] * 4
        own.send(own.build_request("GET", "http://127.0.0.1:9/"))
        assert long_way == ["x"] * 4


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_request_without_options_is_what_build_request_makes(method: str) -> None:
    http = SyncHTTP("http://127.0.0.1:9/v1.2/", "tlk_build_0001", timeout=httpx.Timeout(7.0), max_retries=0)
    body = {"video_ids": ["v"], "note": "é"} if method == "POST" else None
    try:
        for options in (None, parse_request_options({})):
            ours = http._build(http._client, method, "classify", body, None, options)
            theirs = http._client.build_request(method, "http://127.0.0.1:9/v1.2/classify", json=body)
            assert (ours.method, ours.url, ours.headers.raw, ours.read(), ours.extensions) == (
                theirs.method, theirs.url, theirs.headers.raw, theirs.read(), theirs.extensions)
        http._client.cookies.set("session", "abc", domain="127.0.0.1")  # a stored cookie: merged as httpx merges
        ours = http._build(http._client, method, "classify", body, None, None)
        assert ours.headers["cookie"] == "session=abc"
    finally:
        http.close()


def test_a_memoised_request_sends_the_bytes_httpx_encodes() -> None:
    ids = ["memo-bytes-1", "memo-bytes-2"]
    classes = [{"name": "Tänze", "prompts": ["tanzen ✓"], "options": ["visual"]}, *_classes()]
    kwargs: Dict[str, Any] = {"include_clips": True, "threshold": {"min_video_score": 80.5, "min_clip_score": 40},
                              "page_limit": 5}
    first = build_videos_request(ids, ["visual", "conversation"], classes, **kwargs)
    assert first.wire_json is None  # a miss: built from the caller's own objects, encoded per send
    sent_first = httpx.Request("POST", "http://127.0.0.1:9/", json=dict(first.wire_body)).read()
    classes[0]["prompts"].append("changed after the first call")  # the first caller's objects change
    hit = build_videos_request(ids, ["visual", "conversation"], json.loads(json.dumps(classes[:1])) + _classes(),
                               **kwargs)
    assert hit.wire_json is None  # other arguments: another miss
    hit = build_videos_request(ids, ["visual", "conversation"],
                               [{"name": "Tänze", "prompts": ["tanzen ✓"], "options": ["visual"]}, *_classes()], **kwargs)
    assert hit.wire_json is not None
    http = SyncHTTP("http://127.0.0.1:9/v1.2/", "tlk_memo_bytes_0001", timeout=httpx.Timeout(5.0), max_retries=0)
    try:
        ours = http._build(http._client, "POST", "classify", dict(hit.wire_body), None, None, hit.wire_json)
        theirs = http._client.build_request("POST", "http://127.0.0.1:9/v1.2/classify", json=dict(hit.wire_body))
        assert (ours.method, ours.url, ours.headers.raw, ours.read(), ours.extensions) == (
            theirs.method, theirs.url, theirs.headers.raw, theirs.read(), theirs.extensions)
        assert ours.read() == sent_first  # what the first call's arguments said when it was made
        with_options = http._build(http._client, "POST", "classify", dict(hit.wire_body), None,
                                   parse_request_options({"headers": {"X-Trace": "t"}}), hit.wire_json)
        assert with_options.read() == sent_first and with_options.headers["x-trace"] == "t"
    finally:
        http.close()


# --- a page validated from its bytes as they arrive is the page the long way builds ----------

_CLIP = {"start": 1, "end": 2.5, "score": "71.5", "option": "visual", "prompt": "dance ✓", "thumbnail_url": None}
PAGES: Dict[str, Any] = {
    "clips and detailed scores": {
        "data": [{"video_id": "v1", "classes": [
            {"name": "DanceTok", "score": 80, "duration_ratio": 0.5, "clips": [_CLIP, {**_CLIP, "extra": [1]}],
             "detailed_scores": {"max_score": 90, "avg_score": 70.5, "normalized_score": 0.7}}]},
            {"video_id": "v2", "classes": []}],
        "page_info": {"limit_per_page": 10, "total_results": 2, "page_expired_at": "2026-12-03T07:00:00Z",
                      "next_page_token": "tok-1", "prev_page_token": ""},
    },
    "no clips, no tokens, extra keys": {
        "data": [{"video_id": "v3", "classes": [{"name": "Cook", "score": 75.0, "duration_ratio": 1, "clips": None,
                                                   "unknown": {"a": None}}], "more": True}],
        "page_info": {"limit_per_page": "10", "total_results": 1.0, "page_expired_at": "x"}, "top": "level",
    },
    "empty": {"data": [], "page_info": {"limit_per_page": 10, "total_results": 0, "page_expired_at": ""}},
}
REFUSED: Dict[str, bytes] = {
    "malformed JSON": b'{"data": [', "a list": b"[1, 2]", "no page_info": b'{"data": []}',
    "a score that is no number": json.dumps({**PAGES["empty"], "data": [{"video_id": "v", "classes": [
        {"name": "n", "score": "high", "duration_ratio": 1}]}]}).encode(),
    "null data": json.dumps({**PAGES["empty"], "data": None}).encode(),
}


def _shape(value: Any) -> Any:
    """Everything a caller can see of a result: types, values and which fields were set."""
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        return (type(value).__name__, sorted(value.model_fields_set),
                {name: _shape(getattr(value, name)) for name in type(value).model_fields})
    if isinstance(value, list):
        return (type(value).__name__, [_shape(item) for item in value])
    return (type(value).__name__, value)


def _legacy_client(raw: bytes) -> Any:
    from classify_shim import TwelveLabs

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "application/json"}, content=raw)

    return TwelveLabs("tlk_pages_0001", classify_backend="legacy", max_retries=0, cache=False,
                      http_client=httpx.Client(transport=httpx.MockTransport(answer)))


@pytest.mark.parametrize("name", list(PAGES))
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_page_validated_from_its_bytes_is_the_page_the_long_way_builds(name: str) -> None:
    from pydantic_core import from_json

    from classify_shim._backend import ValidatedPage
    from classify_shim._models import ClassifyPageResult, page_from_json

    raw = json.dumps(PAGES[name], ensure_ascii=False).encode()
    long_way = ClassifyPageResult.from_body(None, from_json(raw))
    short = page_from_json(raw)
    assert short is not None and _shape(short) == _shape(long_way)
    with _legacy_client(raw) as client:
        served = client._open_backend().page("tok", parse_request_options({}))
        assert isinstance(served, ValidatedPage) and served.body == from_json(raw)  # decoded when read
        result = client.classify.by_page_token("tok")
    assert _shape(result) == _shape(long_way) and result.model_dump() == long_way.model_dump()
    assert (result.errors, result.backend, result._resource) == ([], "legacy", client.classify)


@pytest.mark.parametrize("name", list(REFUSED))
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_page_its_bytes_do_not_make_is_refused_the_long_way(name: str) -> None:
    from classify_shim._http import HTTPResponse, _decode
    from classify_shim._models import ClassifyPageResult, page_from_json
    from classify_shim.adapters.legacy import _page

    raw = REFUSED[name]
    assert page_from_json(raw) is None
    answer = httpx.Response(200, headers={"content-type": "application/json"}, content=raw,
                            request=httpx.Request("GET", "http://127.0.0.1:9/v1.2/classify/tok"))
    with pytest.raises(Exception) as expected:  # the long way: decoded, checked, then validated
        ClassifyPageResult.from_page(None, _page(HTTPResponse(200, _decode(answer), answer.headers, 0)))
    with _legacy_client(raw) as client, pytest.raises(type(expected.value)) as caught:
        client.classify.by_page_token("tok")
    assert str(caught.value).replace("127.0.0.1:9", "") == str(expected.value).replace("127.0.0.1:9", "")
