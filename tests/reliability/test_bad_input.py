"""Bad input: every malformed call fails fast, with the legacy exception type, naming the field.

Figure checked per case: the exception type (``BadRequestError``/``ClassifyValidationError`` for
call input, ``TwelveLabsError`` for the constructor), the field named in the message, and
**0 requests** in the sandbox log (the check happens before the network, on every backend).
The cases complement ``tests/legacy/test_legacy_bad_input.py`` (a different table): container
types, ids and names at and past their limits, case/whitespace duplicates, non-finite numbers,
typos of real parameter names, and the constructor.

    pytest -m badinput
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

from classify_shim import (
    AsyncTwelveLabs,
    BadRequestError,
    ClassifyValidationError,
    TwelveLabs,
    TwelveLabsError,
)
from classify_shim.models import ClassifyClassParams
from legacy_support import API_KEY
from reliability._support import settled_requests

pytestmark = [
    pytest.mark.badinput,
    pytest.mark.filterwarnings("ignore::classify_shim.ClassifyDeprecationWarning"),
    pytest.mark.filterwarnings("ignore::classify_shim.PartialResultWarning"),
]

INDEX_ID = "66a0c1d2e3f4a5b6c7d80001"  # the default sandbox world's first index
VIDEO_ID = "66a0c1d2e3f4a5b6c7d90001"
OK_CLASSES: List[Dict[str, Any]] = [{"name": "DanceTok", "prompts": ["dance tutorial"]}]
OK_OPTIONS = ["visual", "conversation"]
BACKENDS = ("legacy", "pegasus")

Call = Tuple[str, Tuple[Any, ...], Dict[str, Any]]


def v(video_ids: Any = None, options: Any = None, classes: Any = None, **kw: Any) -> Call:
    return ("videos", ([VIDEO_ID] if video_ids is None else video_ids, OK_OPTIONS if options is None else options,
                       OK_CLASSES if classes is None else classes), kw)


def ix(index_id: Any = INDEX_ID, options: Any = None, classes: Any = None, **kw: Any) -> Call:
    return ("index", (index_id, OK_OPTIONS if options is None else options,
                      OK_CLASSES if classes is None else classes), kw)


def tok(value: Any, **kw: Any) -> Call:
    return ("by_page_token", (value,), kw)


def spread_prompts(total: int, classes: int) -> List[Dict[str, Any]]:
    """``total`` prompts spread over ``classes`` classes (each class alone is under 100)."""
    out: List[Dict[str, Any]] = []
    for c in range(classes):
        out.append({"name": f"C{c}", "prompts": [f"prompt {c}-{i}" for i in range(c, total, classes)]})
    return out


_NONE = object()  # marker: pass Python's None explicitly

# name -> (call, field named by err.field (prefix match), fragment the message must contain)
CALL_CASES: Dict[str, Tuple[Call, str, str]] = {
    # containers of the wrong type where a list is expected
    "video-ids-set": (v(video_ids={VIDEO_ID}), "video_ids", "list"),
    "video-ids-dict": (v(video_ids={VIDEO_ID: 1}), "video_ids", "list"),
    "video-ids-generator": (v(video_ids=(x for x in [VIDEO_ID])), "video_ids", "list"),
    "video-ids-item-none": (v(video_ids=[VIDEO_ID, None]), "video_ids[1]", "string"),
    "options-none-item": (ix(options=[None]), "options[0]", "visual"),
    "options-wrong-case": (v(options=["Visual"]), "options[0]", "visual"),
    "classes-single-dict": (v(classes={"name": "A", "prompts": ["a"]}), "classes", "list"),
    "classes-str": (ix(classes="DanceTok"), "classes", "list"),
    "prompts-str-not-list": (v(classes=[{"name": "A", "prompts": "dance"}]), "classes[0].prompts", "list"),
    "prompts-none": (ix(classes=[{"name": "A", "prompts": None}]), "classes[0].prompts", "required"),
    "name-none": (v(classes=[{"name": None, "prompts": ["a"]}]), "classes[0].name", "required"),
    # ids
    "video-id-with-space": (v(video_ids=["abc def"]), "video_ids[0]", "valid id"),
    "video-id-too-long": (v(video_ids=["a" * 129]), "video_ids[0]", "128"),
    "video-id-newline": (v(video_ids=["abc\ndef"]), "video_ids[0]", "control"),
    "index-id-int": (ix(index_id=123), "index_id", "string"),
    "index-id-list": (ix(index_id=[INDEX_ID]), "index_id", "string"),
    "index-id-non-ascii": (ix(index_id="índice"), "index_id", "valid id"),
    # (No length, control-character or uniqueness limits on names and prompts: v1.2 had none;
    # those calls are accepted, see tests/test_call_shapes.py.)
    "prompt-not-a-string": (ix(classes=[{"name": "A", "prompts": ["a", None]}]), "classes[0].prompts[1]", "string"),
    "over-100-prompts-across-3-classes": (ix(classes=spread_prompts(102, 3)), "classes", "100"),
    "params-empty-prompts": (v(classes=[ClassifyClassParams("A", [])]), "classes[0].prompts", "empty"),
    "params-bad-conversation-option": (
        ix(classes=[ClassifyClassParams("A", ["a"], conversation_option="fuzzy")]),
        "classes[0].conversation_option", "semantic"),
    "conversation-option-int": (v(conversation_option=1), "conversation_option", "semantic"),
    # numbers
    "page-limit-negative": (v(page_limit=-1), "page_limit", "50"),
    "page-limit-str-word": (ix(page_limit="ten"), "page_limit", "integer"),
    "page-limit-1e3": (v(page_limit=1e3), "page_limit", "integer"),
    "threshold-bool": (v(threshold={"min_video_score": True}), "threshold.min_video_score", "number"),
    "threshold-inf": (ix(threshold={"min_clip_score": float("inf")}), "threshold.min_clip_score", "number"),
    "threshold-list": (v(threshold=[75]), "threshold", "dict"),
    "threshold-clip-100.5": (v(threshold={"min_clip_score": 100.5}), "threshold.min_clip_score", "100"),
    "threshold-ratio-negative": (ix(threshold={"min_duration_ratio": -0.1}), "threshold.min_duration_ratio", "0.01"),
    "include-clips-int": (ix(include_clips=0), "include_clips", "True"),
    "show-detailed-score-str": (v(show_detailed_score="false"), "show_detailed_score", "True"),
    # page tokens
    "token-bytes": (tok(b"abc-1"), "page_token", "string"),
    "token-hash": (tok("abc#1"), "page_token", "page token"),
    "token-4097-chars": (tok("t" * 4097), "page_token", "4096"),
    "token-tab": (tok("\t"), "page_token", "non-empty"),
    "token-non-ascii": (tok("tök-1"), "page_token", "page token"),
    "token-list": (tok(["abc-1"]), "page_token", "string"),
    "token-path-traversal": (tok("../../etc/passwd"), "page_token", "page token"),
    "token-forged-shim-prefix": (tok("tlcs1.Zm9v.YmFy"), "page_token", "page token"),
    # typos of real parameter names and bad request options
    "index-kwarg-typo-pagelimit": (ix(pagelimit=5), "pagelimit", "request option"),
    "videos-kwarg-typo-include-clip": (v(include_clip=True), "include_clip", "request option"),
    "by-page-token-kwarg-token": (tok("abc-1", token="abc-2"), "token", "request option"),
    # httpx refuses a number for params (a query string is fine: 0.3.2 sent it as given).
    "params-not-a-dict": (v(params=5), "params", "dict"),
}


@pytest.fixture
def client_for(sb: Any, tmp_path: Any) -> Iterator[Callable[[str], TwelveLabs]]:
    made: List[TwelveLabs] = []

    def make(backend: str) -> TwelveLabs:
        c = TwelveLabs(API_KEY, classify_backend=backend, base_url=sb.base_url, max_retries=0,  # type: ignore[arg-type]
                       cache=False)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def _check(err: BaseException, field: str, fragment: str) -> None:
    assert isinstance(err, BadRequestError), f"expected BadRequestError, got {type(err).__name__}: {err}"
    assert isinstance(err, ClassifyValidationError)
    assert err.status_code == 400
    assert err.field.startswith(field), f"error names field {err.field!r}, expected {field!r}"
    assert field in str(err), f"message does not name {field!r}: {err}"
    assert fragment.lower() in str(err).lower(), f"message lacks {fragment!r}: {err}"


def test_the_table_is_big_and_covers_every_method() -> None:
    assert len(CALL_CASES) + len(CONSTRUCTOR_CASES) >= 30
    assert {call[0] for call, _, _ in CALL_CASES.values()} == {"videos", "index", "by_page_token"}


# A shim-made token is checked locally only where the shim made it (the legacy backend hands any
# well-formed token to the v1.2 server, which answers for itself).
PEGASUS_ONLY = {"token-forged-shim-prefix"}
CALL_PARAMS = [
    pytest.param(name, backend, id=f"{name}-{backend}")
    for name in CALL_CASES
    for backend in BACKENDS
    if not (backend == "legacy" and name in PEGASUS_ONLY)
]


@pytest.mark.parametrize(("name", "backend"), CALL_PARAMS)
def test_malformed_call_is_rejected_before_any_request(
    name: str, backend: str, sb: Any, client_for: Callable[[str], TwelveLabs]
) -> None:
    (method, args, kwargs), field, fragment = CALL_CASES[name]
    client = client_for(backend)
    with pytest.raises(BadRequestError) as info:
        getattr(client.classify, method)(*args, **kwargs)
    _check(info.value, field, fragment)
    assert sb.requests() == [], f"{name}: {len(sb.requests())} request(s) sent before rejecting the input"


@pytest.mark.parametrize("name", ["video-ids-set", "threshold-inf", "token-hash", "index-kwarg-typo-pagelimit"])
def test_async_client_rejects_the_same_input(name: str, sb: Any) -> None:
    (method, args, kwargs), field, fragment = CALL_CASES[name]

    async def go() -> None:
        async with AsyncTwelveLabs(API_KEY, classify_backend="pegasus", base_url=sb.base_url, max_retries=0,
                                   cache=False) as client:
            await getattr(client.classify, method)(*args, **kwargs)

    with pytest.raises(BadRequestError) as info:
        asyncio.run(go())
    _check(info.value, field, fragment)
    assert sb.requests() == []


# ------------------------------------------------------------------- valid edge cases are accepted


@pytest.mark.parametrize("backend", BACKENDS)
def test_unicode_class_names_are_accepted_and_returned_intact(
    backend: str, sb: Any, client_for: Callable[[str], TwelveLabs]
) -> None:
    """Non-ASCII names are valid v1.2 input: sent, classified and echoed unchanged."""
    names = ["Tänze 💃", "料理チュートリアル", "N" * 256]  # the last one sits exactly at the limit
    classes = [
        {"name": names[0], "prompts": ["dance tutorial", "dance group"]},
        {"name": names[1], "prompts": ["cooking tutorial"]},
        {"name": names[2], "prompts": ["soccer goal"]},
    ]
    result = client_for(backend).classify.index(INDEX_ID, OK_OPTIONS, classes, page_limit=50)
    returned = {c.name for item in result.data for c in item.classes}
    assert names[0] in returned and names[1] in returned, f"unicode names lost or altered: {sorted(returned)}"
    assert len(settled_requests(sb, at_least=1)) >= 1
    assert result.errors == []


def test_exactly_100_prompts_is_accepted(sb: Any, client_for: Callable[[str], TwelveLabs]) -> None:
    result = client_for("legacy").classify.index(INDEX_ID, OK_OPTIONS, spread_prompts(100, 3))
    assert result.page_info.limit_per_page == 10
    assert len(settled_requests(sb, at_least=1)) == 1


# ------------------------------------------------------------------------------ the constructor

# name -> (kwargs, env, fragment naming the field)
CONSTRUCTOR_CASES: Dict[str, Tuple[Dict[str, Any], Dict[str, str], str]] = {
    # (An empty key is not a constructor error: it fails at the first call, as in 0.3.2.)
    "api-key-int": ({"api_key": 123}, {}, "api_key"),
    "backend-typo": ({"classify_backend": "pegasu"}, {}, "classify_backend"),
    "backend-int": ({"classify_backend": 1}, {}, "classify_backend"),
    "env-backend-typo": ({"classify_backend": _NONE}, {"TWELVELABS_CLASSIFY_BACKEND": "legcy"},
                         "TWELVELABS_CLASSIFY_BACKEND"),
    "max-retries-negative": ({"max_retries": -1}, {}, "max_retries"),
    "max-retries-str": ({"max_retries": "3"}, {}, "max_retries"),
    "max-retries-bool": ({"max_retries": True}, {}, "max_retries"),
    "max-retries-float": ({"max_retries": 2.0}, {}, "max_retries"),
    "timeout-str": ({"timeout": "fast"}, {}, "timeout"),
    "timeout-negative": ({"timeout": -1}, {}, "timeout"),
    "timeout-nan": ({"timeout": float("nan")}, {}, "timeout"),
    "version-no-v": ({"version": "1.2"}, {}, "version"),
    "max-concurrency-zero": ({"max_concurrency": 0}, {}, "max_concurrency"),
    "max-concurrency-str": ({"max_concurrency": "4"}, {}, "max_concurrency"),
    "env-concurrency-word": ({}, {"TWELVELABS_CLASSIFY_CONCURRENCY": "lots"}, "TWELVELABS_CLASSIFY_CONCURRENCY"),
    "page-ttl-negative": ({"page_ttl_s": -5}, {}, "page_ttl_s"),
    "shadow-rate-2": ({"shadow_sample_rate": 2}, {}, "shadow_sample_rate"),
    "shadow-rate-str": ({"shadow_sample_rate": "a"}, {}, "shadow_sample_rate"),
    "on-progress-not-callable": ({"on_progress": 5}, {}, "on_progress"),
    "base-url-ftp": ({"base_url": "ftp://example.invalid"}, {}, "base_url"),
    "base-url-int": ({"base_url": 5}, {}, "base_url"),
    "cache-int": ({"cache": 5}, {}, "cache"),
    "http-client-wrong-type": ({"http_client": "client"}, {}, "http_client"),
    "pegasus-model-int": ({"classify_backend": "pegasus", "pegasus_model": 5}, {}, "pegasus_model"),
}


@pytest.mark.parametrize("name", list(CONSTRUCTOR_CASES))
def test_bad_constructor_argument_raises_twelvelabs_error(
    name: str, sb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    kwargs, env, fragment = CONSTRUCTOR_CASES[name]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    args: Dict[str, Any] = {"api_key": API_KEY, "classify_backend": "legacy", "base_url": sb.base_url,
                            "cache": False}
    args.update(kwargs)
    args = {k: val for k, val in args.items() if val is not _NONE}
    client: Optional[TwelveLabs] = None
    try:
        with pytest.raises(TwelveLabsError) as info:
            client = TwelveLabs(**args)
    finally:
        if client is not None:
            client.close()
    assert not isinstance(info.value, BadRequestError), "constructor errors are not HTTP errors"
    assert fragment in str(info.value), f"message does not name {fragment!r}: {info.value}"
    assert sb.requests() == [], "the constructor must not send anything"


def test_unknown_constructor_keyword_is_a_type_error_as_in_0_3_2(sb: Any) -> None:
    """0.3.2's constructor raised Python's TypeError for unknown keywords; so do we (not hidden)."""
    with pytest.raises(TypeError, match="classify_backnd"):
        TwelveLabs(API_KEY, classify_backnd="pegasus")  # type: ignore[call-arg]
    assert sb.requests() == []
