"""Malformed calls fail before the network, as the 400 the v1.2 server would have sent.

Each case: the exception is a ``BadRequestError`` (ours is ``ClassifyValidationError``), the message
names the field and what is allowed, and no request was sent (a counting ``MockTransport``).
Sync and async clients share the table.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Tuple

import httpx
import pytest

import classify_shim
from classify_shim import AsyncTwelveLabs, ClassifyValidationError, TwelveLabs
from classify_shim.models import ClassifyClassParams
from legacy_support import API_KEY, valid_page

pytestmark = [pytest.mark.badinput, pytest.mark.filterwarnings("ignore::classify_shim.ClassifyDeprecationWarning")]

OPTIONS = ("visual", "conversation", "text_in_video")
CONV = ("semantic", "exact_match")
CLASS_KEYS = ("name", "prompts", "options", "conversation_option")
THRESHOLD_KEYS = ("min_video_score", "min_clip_score", "min_duration_ratio")
OK_CLASSES: List[Dict[str, Any]] = [{"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group"]}]
_OK: Any = object()  # "use the valid default" for classes


@dataclass(frozen=True)
class Case:
    method: str  # videos | index | by_page_token
    args: Tuple[Any, ...]
    kwargs: Dict[str, Any] = field(default_factory=dict)
    field: str = ""  # the field the message must name (and ``err.field`` must equal)
    allowed: Tuple[str, ...] = ()  # fragments saying what is allowed


def videos(video_ids: Any = ("v1",), options: Any = ("visual",), classes: Any = _OK, *, field: str,
           allowed: Tuple[str, ...], **kwargs: Any) -> Case:
    ids = list(video_ids) if isinstance(video_ids, tuple) else video_ids
    opts = list(options) if isinstance(options, tuple) else options
    return Case("videos", (ids, opts, OK_CLASSES if classes is _OK else classes), kwargs, field, allowed)


def index(index_id: Any = "idx-1", options: Any = ("visual",), classes: Any = _OK, *, field: str,
          allowed: Tuple[str, ...], **kwargs: Any) -> Case:
    opts = list(options) if isinstance(options, tuple) else options
    return Case("index", (index_id, opts, OK_CLASSES if classes is _OK else classes), kwargs, field, allowed)


def token(value: Any, *, field: str = "page_token", allowed: Tuple[str, ...] = ("page token",), **kwargs: Any) -> Case:
    return Case("by_page_token", (value,), kwargs, field, allowed)


def many_prompts(total: int) -> List[Dict[str, Any]]:
    return [{"name": "A", "prompts": [f"a{i}" for i in range(60)]},
            {"name": "B", "prompts": [f"b{i}" for i in range(total - 60)]}]


# Only what the v1.2 API rejected. Not here, because v1.2 accepted them (see
# tests/test_call_shapes.py): repeated options, repeated class names, extra class keys,
# repeated video ids.
CASES: Dict[str, Case] = {
    # options
    "options-empty": videos(options=[], field="options", allowed=OPTIONS),
    "options-unknown": videos(options=["visual", "logo"], field="options[1]", allowed=OPTIONS),
    "options-str-not-list": videos(options="visual", field="options", allowed=("list", *OPTIONS)),
    "options-none": index(options=None, field="options", allowed=OPTIONS),
    # classes
    "classes-empty": videos(classes=[], field="classes", allowed=("empty",)),
    "classes-none": index(classes=None, field="classes", allowed=("required",)),
    "class-missing-name": videos(classes=[{"prompts": ["a"]}], field="classes[0].name", allowed=("required",)),
    "class-missing-prompts": videos(classes=[{"name": "A"}], field="classes[0].prompts", allowed=("required",)),
    "class-empty-prompts": index(classes=[{"name": "A", "prompts": []}], field="classes[0].prompts",
                                 allowed=("empty",)),
    "class-empty-name": videos(classes=[{"name": " ", "prompts": ["a"]}], field="classes[0].name",
                               allowed=("non-empty",)),
    "class-prompt-not-str": videos(classes=[{"name": "A", "prompts": ["a", 3]}], field="classes[0].prompts[1]",
                                   allowed=("string",)),
    "classes-over-100-prompts": index(classes=many_prompts(101), field="classes", allowed=("100",)),
    "class-not-a-dict": videos(classes=["DanceTok"], field="classes[0]", allowed=("dict", "ClassifyClassParams")),
    "class-options-unknown": index(classes=[{"name": "A", "prompts": ["a"], "options": ["audio"]}],
                                   field="classes[0].options[0]", allowed=OPTIONS),
    "class-params-options-unknown": videos(classes=[ClassifyClassParams("A", ["a"], options=["logo"])],
                                           field="classes[0].options[0]", allowed=OPTIONS),
    # conversation_option
    "conversation-option-unknown": videos(field="conversation_option", allowed=CONV, conversation_option="fuzzy"),
    "class-conversation-option-unknown": index(
        classes=[{"name": "A", "prompts": ["a"], "conversation_option": "keyword"}],
        field="classes[0].conversation_option", allowed=CONV),
    # page_limit
    "page-limit-0": videos(field="page_limit", allowed=("1", "50"), page_limit=0),
    "page-limit-51": index(field="page_limit", allowed=("1", "50"), page_limit=51),
    "page-limit-str": videos(field="page_limit", allowed=("integer", "1", "50"), page_limit="10"),
    "page-limit-bool": videos(field="page_limit", allowed=("integer", "1", "50"), page_limit=True),
    "page-limit-float": index(field="page_limit", allowed=("integer", "1", "50"), page_limit=2.5),
    # flags
    "include-clips-str": videos(field="include_clips", allowed=("True", "False"), include_clips="yes"),
    "show-detailed-score-int": index(field="show_detailed_score", allowed=("True", "False"), show_detailed_score=1),
    # threshold
    "threshold-min-video-score-0": videos(field="threshold.min_video_score", allowed=("1", "100"),
                                          threshold={"min_video_score": 0}),
    "threshold-min-video-score-101": index(field="threshold.min_video_score", allowed=("1", "100"),
                                           threshold={"min_video_score": 101}),
    "threshold-min-clip-score-0": videos(field="threshold.min_clip_score", allowed=("1", "100"),
                                         threshold={"min_clip_score": 0}),
    "threshold-min-duration-ratio-0": videos(field="threshold.min_duration_ratio", allowed=("0.01", "1"),
                                             threshold={"min_duration_ratio": 0}),
    "threshold-min-duration-ratio-1.5": index(field="threshold.min_duration_ratio", allowed=("0.01", "1"),
                                              threshold={"min_duration_ratio": 1.5}),
    # An integer threshold is the minimum video score (v1.1.1 and the /bulk spec).
    "threshold-integer-101": videos(field="threshold", allowed=("0", "100"), threshold=101),
    "threshold-integer-negative": index(field="threshold", allowed=("0", "100"), threshold=-1),
    "threshold-non-number-value": videos(field="threshold.min_video_score", allowed=("number", "1", "100"),
                                         threshold={"min_video_score": "high"}),
    "threshold-str": videos(field="threshold", allowed=("dict", *THRESHOLD_KEYS), threshold="high"),
    "threshold-nan": videos(field="threshold.min_clip_score", allowed=("number",),
                            threshold={"min_clip_score": float("nan")}),
    # video_ids
    "video-ids-empty": videos(video_ids=[], field="video_ids", allowed=("empty",)),
    "video-ids-none": videos(video_ids=None, field="video_ids", allowed=("required",)),
    "video-ids-str": videos(video_ids="v1", field="video_ids", allowed=("list",)),
    "video-ids-slash": videos(video_ids=["../v1"], field="video_ids[0]", allowed=("'/'",)),
    "video-ids-not-str": videos(video_ids=[123], field="video_ids[0]", allowed=("string",)),
    # index_id
    "index-id-empty": index(index_id="", field="index_id", allowed=("non-empty",)),
    "index-id-none": index(index_id=None, field="index_id", allowed=("required",)),
    "index-id-with-slash": index(index_id="idx/../x", field="index_id", allowed=("'/'",)),
    # page token
    "page-token-empty": token("", allowed=("non-empty",)),
    "page-token-none": token(None, allowed=("required",)),
    "page-token-space": token("abc def"),
    "page-token-slash": token("abc/../def"),
    "page-token-query": token("abc?x=1"),
    "page-token-not-str": token(12345, allowed=("string",)),
    # unknown kwargs (0.3.2 handed them to httpx and failed with "Failed connection")
    "videos-unknown-kwarg": videos(field="threshhold", allowed=("headers", "params", "timeout"), threshhold=80),
    "index-unknown-kwarg": index(field="video_ids", allowed=("headers", "params", "timeout"), video_ids=["v1"]),
    "by-page-token-unknown-kwarg": token("tok-1", field="page_limit", allowed=("headers", "params", "timeout"),
                                        page_limit=5),
    "headers-not-a-dict": videos(field="headers", allowed=("dict",), headers=["X-A: b"]),
}


class Counter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.count += 1
        return httpx.Response(200, json=valid_page())


def run_sync(case: Case, counter: Counter) -> None:
    client = TwelveLabs(API_KEY, classify_backend="legacy", base_url="http://classify.test", max_retries=0,
                        http_client=httpx.Client(transport=httpx.MockTransport(counter)))
    try:
        getattr(client.classify, case.method)(*case.args, **case.kwargs)
    finally:
        client.close()


def run_async(case: Case, counter: Counter) -> None:
    async def go() -> None:
        client = AsyncTwelveLabs(API_KEY, classify_backend="legacy", base_url="http://classify.test", max_retries=0,
                                 http_client=httpx.AsyncClient(transport=httpx.MockTransport(counter)))
        try:
            await getattr(client.classify, case.method)(*case.args, **case.kwargs)
        finally:
            await client.aclose()

    asyncio.run(go())


RUNNERS: Dict[str, Callable[[Case, Counter], None]] = {"sync": run_sync, "async": run_async}


def test_table_is_big_enough() -> None:
    assert len(CASES) >= 25
    assert {c.method for c in CASES.values()} == {"videos", "index", "by_page_token"}


@pytest.mark.parametrize("runner", list(RUNNERS))
@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_rejected_before_the_network(name: str, runner: str) -> None:
    case = CASES[name]
    counter = Counter()
    with pytest.raises(classify_shim.BadRequestError) as info:
        RUNNERS[runner](case, counter)
    err = info.value
    assert isinstance(err, ClassifyValidationError) and isinstance(err, ValueError)
    assert err.status_code == 400
    assert counter.count == 0, "a request was sent for invalid input"
    message = str(err)
    assert err.field == case.field
    assert message.startswith(f"{case.field}:"), message
    missing = [fragment for fragment in case.allowed if fragment not in message]
    assert not missing, f"message {message!r} does not say {missing}"
    assert isinstance(err.body, dict) and err.body["code"] in (
        "parameter_invalid", "parameter_not_provided", "resource_not_exist"
    )
    assert err.body["message"] == message


def test_the_same_calls_corrected_do_reach_the_network() -> None:
    """The table's baseline arguments are valid: only the injected fault makes a case fail."""
    counter = Counter()
    run_sync(videos(field="", allowed=()), counter)
    run_sync(index(field="", allowed=()), counter)
    run_sync(token("0b3c2f1e-9d8a-4a5b-8c7d-6e5f4a3b2c1d-2"), counter)
    run_sync(index(classes=many_prompts(100), field="", allowed=()), counter)
    run_sync(videos(field="", allowed=(), threshold=75, page_limit=50, headers={"X-A": "b"}), counter)
    assert counter.count == 5


def test_sandbox_sees_nothing_for_rejected_calls(legacy_client: Any, sb: Any) -> None:
    """Same guarantee over real HTTP: the sandbox log stays empty."""
    for name in ("options-unknown", "page-limit-51", "class-empty-prompts", "page-token-slash"):
        case = CASES[name]
        with pytest.raises(ClassifyValidationError):
            getattr(legacy_client.classify, case.method)(*case.args, **case.kwargs)
    assert sb.requests() == []
