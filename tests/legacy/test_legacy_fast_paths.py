"""The legacy call path's shortcuts say exactly what the long way says.

- A validation memo hit serves a snapshot of the body: it shares no object with any caller, so
  objects an earlier caller changed afterwards are never what a later call sends.
- Our own httpx client carries our headers as its defaults: the headers of a request, in order
  and spelling, are those httpx builds when they are merged per request on a plain client.
- A warning's text is rendered once per instance, and again when a part of it is changed.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Tuple

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
