"""Real-world call shapes that 0.3.2 + the v1.2 API accepted: none is rejected on the client.

Each shape runs on BOTH backends against the sandbox over loopback HTTP. The shapes come from
how public apps, notebooks and the SDK's own examples called Classify (duplicate class names
in a moderation app, prompts built with ``split(",")``, threshold objects, httpx keywords
forwarded through ``**kwargs``, every SDK release's ``ClassifyClassParams``, ...).
"""

from __future__ import annotations

import http.cookiejar
import logging
from typing import Any, Callable, Dict, List

import httpx
import pytest

from classify_shim import ClassifyValidationError, TwelveLabs
from classify_shim._request import build_videos_request, log_merged_classes
from classify_shim.models import ClassifyClassParams, ClassifyPageResult, ClassifyResult
from legacy_support import API_KEY

pytestmark = pytest.mark.filterwarnings("ignore::Warning")

BACKENDS = ("legacy", "pegasus")
DANCE: Dict[str, Any] = {"name": "DanceTok", "prompts": ["dance tutorial", "dance group", "dancing"]}
COOK: Dict[str, Any] = {"name": "CookTok", "prompts": ["cooking tutorial", "cooking"]}
MODERATION = ["Violence", "SelfHarm", "Nudity", "Drugs", "Weapons", "Hate", "Gambling", "Alcohol",
              "Smoking", "Profanity", "SelfHarm", "Gore", "Spam", "Scam"]


class Ctx:
    def __init__(self, sb: Any, backend: str) -> None:
        self.sb = sb
        self.backend = backend
        self.index_id = str(sb.world["indexes"][0]["_id"])
        self.ids = [str(v["_id"]) for v in sb.world["indexes"][0]["videos"]][:3]

    def client(self, **kwargs: Any) -> TwelveLabs:
        kwargs.setdefault("cache", False)
        return TwelveLabs(API_KEY, classify_backend=self.backend, base_url=self.sb.base_url, max_retries=0, **kwargs)


def _plain(ctx: Ctx, classes: List[Any], **kw: Any) -> Any:
    with ctx.client() as client:
        return client.classify.videos(ctx.ids, ["visual"], classes, **kw)


class _OldParams:
    """How 0.2.0-0.2.4's ``ClassifyClassParams`` behaved: no constructor, attributes assigned."""

    name: str
    prompts: List[str]
    options = None
    conversation_option = None


def _old_style(ctx: Ctx) -> Any:
    p = _OldParams()
    p.name, p.prompts = "DanceTok", ["dance tutorial"]
    ours = ClassifyClassParams()
    ours.name, ours.prompts = "CookTok", ["cooking"]
    return _plain(ctx, [p, ours])


def _official_params(ctx: Ctx) -> Any:
    import twelvelabs.models as models  # the dev extra pins 0.3.2
    return _plain(ctx, [models.ClassifyClassParams("DanceTok", ["dance tutorial"], options=["visual"]),
                        ClassifyClassParams("CookTok", ["cooking"])])


def _after_with_block(ctx: Ctx) -> Any:
    with ctx.client() as client:
        client.classify.videos(ctx.ids, ["visual"], [DANCE])
    return client.classify.videos(ctx.ids, ["visual"], [DANCE])  # still usable, as in 0.3.2


def _official_loop(ctx: Ctx) -> Any:
    with ctx.client() as client:
        result = client.classify.index(ctx.index_id, ["visual", "conversation"], [DANCE, COOK], page_limit=2)
        pages = [result.data]
        while True:
            try:
                pages.append(next(result))
            except StopIteration:
                break
        return result


def _by_token(ctx: Ctx) -> Any:
    with ctx.client() as client:
        first = client.classify.index(ctx.index_id, ["visual"], [DANCE, COOK], page_limit=1,
                                      threshold={"min_video_score": 1, "min_duration_ratio": 0.01})
        token = first.page_info.next_page_token
        return client.classify.by_page_token(token, timeout=20) if token else first


def _split_prompts(ctx: Ctx) -> Any:
    text = "dance tutorial, dance group ,dancing, dancing"
    return _plain(ctx, [{"name": "DanceTok", "prompts": text.split(",")}])


SHAPES: Dict[str, Callable[[Ctx], Any]] = {
    "visual-only": lambda c: _plain(c, [DANCE]),
    "visual-conversation-clips": lambda c: _plain(c, [DANCE, COOK], include_clips=True),
    "conversation-text": lambda c: c.client().classify.videos(c.ids, ["conversation", "text_in_video"], [DANCE]),
    "threshold-object": lambda c: _plain(c, [DANCE], threshold={"min_video_score": 80, "min_duration_ratio": 0.5}),
    "threshold-integer": lambda c: c.client().classify.index(c.index_id, ["visual"], [DANCE], threshold=80),
    "detailed-scores": lambda c: _plain(c, [DANCE, COOK], show_detailed_score=True, include_clips=True),
    "exact-match": lambda c: _plain(c, [DANCE], conversation_option="exact_match"),
    "per-class-overrides": lambda c: _plain(
        c, [{**DANCE, "options": ["conversation"], "conversation_option": "exact_match"}, COOK]),
    "page-limit-50": lambda c: _plain(c, [DANCE], page_limit=50),
    # The v1.2 spec is OpenAPI 3.1 (JSON Schema 2020-12): 2.0 is an integer (page_limit=n / 2).
    "page-limit-integral-float": lambda c: _plain(c, [DANCE], page_limit=2.0),
    "duplicate-class-names-14x5": lambda c: _plain(
        c, [{"name": n, "prompts": [f"{n.lower()} {k}" for k in range(5)]} for n in MODERATION]),
    "duplicate-video-ids": lambda c: c.client().classify.videos(c.ids + c.ids[:1], ["visual"], [DANCE]),
    "extra-class-keys": lambda c: _plain(c, [{**DANCE, "description": "short dance clips", "color": "#f0f"}]),
    "prompts-with-spaces": lambda c: _plain(c, [{"name": "DanceTok", "prompts": ["  dance tutorial ", "dancing "]}]),
    "repeated-prompts": lambda c: _plain(c, [{"name": "DanceTok", "prompts": ["dancing", "dancing", "dance"]}]),
    "prompt-equals-name": lambda c: _plain(c, [{"name": "Cooking", "prompts": ["Cooking"]}]),
    "split-comma-prompts": _split_prompts,
    # The v1.2 spec's threshold object does not forbid other keys and /bulk's integer form runs
    # from 0; prompts are strings without minLength ("a, b,".split(",") ends with "").
    "threshold-unknown-key": lambda c: _plain(c, [DANCE], threshold={"min_video_score": 80, "max_clips": 3}),
    "threshold-integer-0": lambda c: c.client().classify.index(c.index_id, ["visual"], [DANCE], threshold=0),
    "trailing-comma-prompts": lambda c: _plain(c, [{"name": "DanceTok", "prompts": ["dance tutorial", " dancing", ""]}]),
    "duplicate-options": lambda c: c.client().classify.videos(c.ids, ["visual", "visual"], [DANCE]),
    "nested-none": lambda c: _plain(c, [{**DANCE, "options": None, "conversation_option": None}]),
    "tuples": lambda c: c.client().classify.videos(tuple(c.ids), ("visual",), (DANCE,)),
    "unicode-and-long-names": lambda c: _plain(c, [{"name": "Tänze " + "x" * 300, "prompts": ["tanzen " * 200]}]),
    "kwarg-follow-redirects": lambda c: _plain(c, [DANCE], follow_redirects=True),
    "kwarg-auth": lambda c: _plain(c, [DANCE], auth=("user", "pass")),
    "kwarg-headers-cookies": lambda c: _plain(c, [DANCE], headers={"X-Trace": "1"}, cookies={"a": "b"}),
    "kwarg-timeout-extensions": lambda c: _plain(c, [DANCE], timeout=30.0, extensions={}),
    "kwarg-params": lambda c: _plain(c, [DANCE], params={"trace": "1"}),
    "kwarg-headers-pairs": lambda c: _plain(c, [DANCE], headers=[("X-Trace", "1"), ("X-Trace", "2")]),
    "kwarg-params-query-string": lambda c: _plain(c, [DANCE], params="trace=1&trace=2"),
    "kwarg-cookie-jar": lambda c: _plain(c, [DANCE], cookies=http.cookiejar.CookieJar()),
    "kwarg-httpx-timeout-and-auth": lambda c: _plain(c, [DANCE], timeout=httpx.Timeout(30.0), auth=httpx.BasicAuth("u", "p")),
    "kwarg-stream-false-0.2.5": lambda c: _plain(c, [DANCE], stream=False),
    "classify-class-params-official": _official_params,
    "classify-class-params-no-arg-0.2.0": _old_style,
    "usable-after-with-block": _after_with_block,
    "official-next-loop": _official_loop,
    "by-page-token": _by_token,
}


def test_enough_shapes() -> None:
    assert len(SHAPES) >= 25


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("shape", list(SHAPES))
def test_real_world_call_shape_is_served(shape: str, backend: str, sb: Any) -> None:
    try:
        result = SHAPES[shape](Ctx(sb, backend))
    except ClassifyValidationError as exc:  # pragma: no cover - the failure this test exists for
        pytest.fail(f"{shape} on {backend}: rejected on the client: {exc}")
    assert isinstance(result, ClassifyPageResult) and isinstance(result, ClassifyResult)
    assert sb.requests(), "nothing was sent"
    assert result.errors == [] if hasattr(result, "errors") else True
    for video in result.data:
        names = [c.name for c in video.classes]
        if backend == "pegasus":
            assert len(names) == len(set(names)), "same-named classes are merged for Pegasus"


def test_duplicate_names_legacy_body_is_what_0_3_2_sends() -> None:
    classes = [{"name": n, "prompts": [f"{n} 0"]} for n in MODERATION]
    request = build_videos_request(["v1", "v1"], ["visual"], classes)
    assert request.wire_body["classes"] == classes and request.wire_body["video_ids"] == ["v1", "v1"]
    assert [c.name for c in request.classes].count("SelfHarm") == 1
    merged = next(c for c in request.classes if c.name == "SelfHarm")
    assert merged.prompts == ("SelfHarm 0",)  # both entries had the same prompt: union keeps it once
    assert request.video_ids == ("v1",)


def test_integral_float_page_limit_is_the_integer_and_sent_as_given() -> None:
    request = build_videos_request(["v1"], ["visual"], [DANCE], page_limit=2.0)
    assert request.page_limit == 2 and isinstance(request.page_limit, int)
    assert request.wire_body["page_limit"] == 2.0 and isinstance(request.wire_body["page_limit"], float)


def test_pegasus_view_normalises_prompts_but_the_wire_keeps_them() -> None:
    raw = ["  dance tutorial ", "dance tutorial", "dancing"]
    request = build_videos_request(["v1"], ["visual"], [{"name": "D", "prompts": raw}, {"name": "D", "prompts": ["x"]}])
    assert request.wire_body["classes"][0]["prompts"] == raw
    assert request.classes[0].prompts == ("dance tutorial", "dancing", "x")


def test_merge_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    classes = [{"name": "SelfHarm", "prompts": ["a"]}, {"name": "SelfHarm", "prompts": ["b"]},
               {"name": "SelfHarm", "prompts": ["c"]}]
    with caplog.at_level(logging.INFO, logger="classify_shim.request"):
        request = build_videos_request(["v1"], ["visual"], classes)
        assert not caplog.records  # building (legacy sends the classes as listed) logs nothing
        log_merged_classes(request)  # what the Pegasus backend does once per call
    notices = [r for r in caplog.records if "merged" in r.getMessage()]
    assert len(notices) == 1 and "SelfHarm" in notices[0].getMessage()


def test_unknown_threshold_key_is_sent_and_named_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="classify_shim.request"):
        request = build_videos_request(["v1"], ["visual"], [DANCE], threshold={"min_score": 50, "min_video_score": 80})
    assert request.wire_body["threshold"] == {"min_score": 50, "min_video_score": 80}  # as 0.3.2 sent it
    assert request.threshold.min_video_score == 80 and request.threshold.min_duration_ratio == 0.5
    assert [r.levelno for r in caplog.records] == [logging.WARNING] and "'min_score'" in caplog.records[0].getMessage()


def test_integer_threshold_from_zero_and_empty_prompts_only_on_the_wire() -> None:
    request = build_videos_request(["v1"], ["visual"], [{"name": "D", "prompts": ["dance", ""]}], threshold=0)
    assert request.threshold.min_video_score == 0 and request.wire_body["threshold"] == 0
    assert request.wire_body["classes"][0]["prompts"] == ["dance", ""]
    assert request.classes[0].prompts == ("dance",)
