"""Model parity with ``twelvelabs`` 0.3.2: same fields, types and optionality; each side parses the other."""

from __future__ import annotations

import copy
import inspect
import typing
from typing import Any, Dict, List, Optional

import httpx
import pytest
import twelvelabs.models as real_models  # type: ignore[import-untyped]
import twelvelabs.models.classify as real_classify  # type: ignore[import-untyped]

from classify_shim import TwelveLabs, models
from legacy_support import API_KEY, valid_page

pytestmark = pytest.mark.filterwarnings("ignore::classify_shim.ClassifyDeprecationWarning")

PAIRS = [
    ("ClassifyPageResult", real_classify.ClassifyPageResult),
    ("ClassifyVideoData", real_classify.ClassifyVideoData),
    ("ClassifyClass", real_classify.ClassifyClass),
    ("ClassifyClip", real_classify.ClassifyClip),
    ("ClassifyDetailedScore", real_classify.ClassifyDetailedScore),
    ("TokenPageInfo", real_models.TokenPageInfo),
]
# Documented superset: the seed examples read clip.detailed_scores, absent from 0.3.2.
EXTRA_FIELDS = {"ClassifyClip": {"detailed_scores"}}


def _norm(tp: Any) -> str:
    """A type written the same way for both packages (model classes by name, not identity)."""
    if tp is type(None):
        return "None"
    origin = typing.get_origin(tp)
    if origin is not None:
        args = ", ".join(sorted(_norm(a) for a in typing.get_args(tp)))
        name = "Union" if origin is typing.Union else getattr(origin, "__name__", str(origin))
        return f"{name}[{args}]"
    if isinstance(tp, type):
        meta = getattr(tp, "__pydantic_generic_metadata__", None)
        if meta and meta.get("origin") is not None:
            return f"{meta['origin'].__name__}[{', '.join(_norm(a) for a in meta['args'])}]"
        return tp.__name__
    return repr(tp)


def _fields(cls: Any) -> Dict[str, Any]:
    return {
        name: (_norm(info.annotation), info.is_required(), None if info.is_required() else info.default)
        for name, info in cls.model_fields.items()
    }


@pytest.mark.parametrize(("name", "theirs"), PAIRS, ids=[p[0] for p in PAIRS])
def test_fields_types_and_optionality_match(name: str, theirs: Any) -> None:
    mine = _fields(getattr(models, name))
    real = _fields(theirs)
    extra = EXTRA_FIELDS.get(name, set())
    assert set(mine) - set(real) == extra
    assert list(k for k in mine if k not in extra) == list(real)  # same order too
    for field_name, spec in real.items():
        assert mine[field_name] == spec, field_name
    for field_name in extra:
        _, required, default = mine[field_name]
        assert not required and default is None, "a superset field must be optional and default to None"


def test_clip_detailed_scores_is_optional_detailed_score() -> None:
    info = models.ClassifyClip.model_fields["detailed_scores"]
    assert _norm(info.annotation) == "Union[ClassifyDetailedScore, None]"


def test_class_params_is_a_plain_class_with_the_same_constructor() -> None:
    theirs = inspect.signature(real_classify.ClassifyClassParams.__init__)
    mine = inspect.signature(models.ClassifyClassParams.__init__)
    assert [(p.name, p.kind) for p in mine.parameters.values()] == [
        (p.name, p.kind) for p in theirs.parameters.values()
    ]
    # Same defaults, except that name and prompts may be omitted: 0.2.0-0.2.4's class had no
    # constructor, and code built it empty and assigned the attributes.
    relaxed = {"name": None, "prompts": None}
    assert [relaxed.get(p.name, p.default) for p in mine.parameters.values() if p.name != "self"] == [
        relaxed.get(p.name, p.default) for p in theirs.parameters.values() if p.name != "self"
    ]
    assert mine.parameters["name"].default is None and mine.parameters["prompts"].default is None
    assert set(typing.get_type_hints(real_classify.ClassifyClassParams)) == set(
        typing.get_type_hints(models.ClassifyClassParams)
    )
    p = models.ClassifyClassParams("DanceTok", ["Dance tutorial"], options=["visual"])
    assert (p.name, p.prompts, p.options, p.conversation_option) == ("DanceTok", ["Dance tutorial"], ["visual"], None)


def test_root_model_list_iterates_indexes_and_has_len() -> None:
    """What users do with ``video.classes`` / ``cls.clips``: iterate, index, slice, len, root, dump."""
    cls = models.ClassifyClass(
        name="A", score=90, duration_ratio=0.5,
        clips=[{"start": 0, "end": 1, "score": 50, "option": "visual", "prompt": "a"},
               {"start": 2, "end": 3, "score": 60, "option": "conversation", "prompt": "b"}],
    )
    data = cls.clips
    assert data is not None
    assert type(data).__name__.startswith("RootModelList")
    assert len(data) == 2
    assert [c.prompt for c in data] == ["a", "b"]
    assert data[1].option == "conversation" and data[-1].prompt == "b"
    assert [c.prompt for c in data[0:1]] == ["a"]
    assert all(isinstance(c, models.ClassifyClip) for c in data)
    assert [c.prompt for c in data.root] == ["a", "b"]
    theirs = real_classify.ClassifyClass(**cls.model_dump())
    assert theirs.clips is not None and len(theirs.clips) == len(data)
    assert theirs.clips.model_dump() == [{k: v for k, v in c.items() if k != "detailed_scores"}
                                         for c in data.model_dump()]
    assert theirs.model_dump() == _strip_class(cls.model_dump())


def _strip_class(dump: Dict[str, Any]) -> Dict[str, Any]:
    for clip in dump.get("clips") or []:
        clip.pop("detailed_scores", None)
    return dump


def test_page_data_is_a_list_as_the_reference_example_assumes() -> None:
    """The reference's pagination example branches on ``isinstance(data, list)``."""
    page = models.ClassifyPageResult(None, **valid_page("v1"))
    assert isinstance(page.data, list)
    assert isinstance(page.data[0].classes, list)


def _strip_clip_detailed_scores(dump: Dict[str, Any]) -> Dict[str, Any]:
    out = copy.deepcopy(dump)
    for video in out["data"]:
        for cls in video["classes"]:
            for clip in cls.get("clips") or []:
                clip.pop("detailed_scores", None)
    return out


PAGES = {
    "full": valid_page("v1", next_token="tok-2", prev_token=""),
    "tokens-absent": valid_page("v2", next_token=None, prev_token=None),
    "no-clips-no-scores": {
        "data": [{"video_id": "v3", "classes": [{"name": "CookTok", "score": 100, "duration_ratio": 1}]}],
        "page_info": {"limit_per_page": 1, "total_results": 3, "page_expired_at": "2024-06-01T10:05:00Z",
                      "next_page_token": "abc-2", "prev_page_token": "abc-0"},
    },
    "empty": {"data": [], "page_info": {"limit_per_page": 10, "total_results": 0,
                                         "page_expired_at": "2024-06-01T10:05:00Z"}},
}


@pytest.mark.parametrize("payload", list(PAGES.values()), ids=list(PAGES))
def test_each_side_parses_the_others_dump(payload: Dict[str, Any]) -> None:
    ours = models.ClassifyPageResult(None, **payload)
    theirs = real_classify.ClassifyPageResult(None, **ours.model_dump())
    assert theirs.model_dump() == _strip_clip_detailed_scores(ours.model_dump())
    back = models.ClassifyPageResult(None, **theirs.model_dump())
    assert _strip_clip_detailed_scores(back.model_dump()) == theirs.model_dump()
    assert back.model_dump() == ours.model_dump()
    # JSON round trip too (what users persist).
    assert models.ClassifyPageResult(None, **theirs.model_dump(mode="json")).model_dump() == ours.model_dump()


def test_clip_detailed_scores_round_trip_when_present() -> None:
    payload = valid_page("v1")
    payload["data"][0]["classes"][0]["clips"][0]["detailed_scores"] = {
        "max_score": 1, "avg_score": 2, "normalized_score": 3}
    ours = models.ClassifyPageResult(None, **payload)
    clip = ours.data[0].classes[0].clips[0]  # type: ignore[index]
    assert clip.detailed_scores is not None and clip.detailed_scores.normalized_score == 3
    # 0.3.2 ignores the extra key rather than failing.
    real_classify.ClassifyPageResult(None, **ours.model_dump())


def test_missing_required_fields_fail_like_0_3_2() -> None:
    from pydantic import ValidationError

    for drop in ("limit_per_page", "total_results", "page_expired_at"):
        payload = valid_page()
        del payload["page_info"][drop]
        with pytest.raises(ValidationError):
            real_classify.ClassifyPageResult(None, **payload)
        with pytest.raises(ValidationError):
            models.ClassifyPageResult(None, **payload)


# --------------------------------------------------------------------------- next(result)


def _pages_client(pages: Dict[str, Dict[str, Any]], seen: List[str]) -> TwelveLabs:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.method == "POST":
            return httpx.Response(200, json=pages["first"])
        token = request.url.path.rsplit("/", 1)[1]
        return httpx.Response(200, json=pages[token])

    return TwelveLabs(API_KEY, classify_backend="legacy", base_url="http://classify.test",
                      http_client=httpx.Client(transport=httpx.MockTransport(handler)), max_retries=0)


CLASSES: List[Dict[str, Any]] = [{"name": "DanceTok", "prompts": ["Dance tutorial"]}]


@pytest.mark.parametrize("end_token", ["", None], ids=["empty-string", "absent"])
def test_next_fetches_following_pages_and_stops(end_token: Optional[str]) -> None:
    pages = {
        "first": valid_page("v1", next_token="t-2"),
        "t-2": valid_page("v2", next_token="t-3", prev_token="t-1"),
        "t-3": valid_page("v3", next_token=end_token, prev_token="t-2"),
    }
    seen: List[str] = []
    client = _pages_client(pages, seen)
    result = client.classify.videos(["v1", "v2", "v3"], ["visual"], CLASSES, page_limit=1)
    assert result.data[0].video_id == "v1"
    assert iter(result) is result

    second = next(result)
    assert [v.video_id for v in second] == ["v2"]
    assert result.page_info.next_page_token == "t-3" and result.page_info.prev_page_token == "t-1"
    third = next(result)
    assert [v.video_id for v in third] == ["v3"]
    assert result.page_info.next_page_token == end_token
    with pytest.raises(StopIteration):
        next(result)
    assert seen == ["POST /v1.2/classify", "GET /v1.2/classify/t-2", "GET /v1.2/classify/t-3"]
    client.close()


def test_for_loop_matches_0_3_2_iteration() -> None:
    """The same pages iterated by 0.3.2's model (fed by a stub resource) give the same data."""
    pages = {
        "first": valid_page("v1", next_token="t-2"),
        "t-2": valid_page("v2", next_token="t-3"),
        "t-3": valid_page("v3", next_token=""),
    }
    seen: List[str] = []
    client = _pages_client(pages, seen)
    ours = [page.model_dump() for page in client.classify.index("idx-1", ["visual"], CLASSES)]

    class StubResource:
        def by_page_token(self, token: str, **kwargs: Any) -> Any:
            return real_classify.ClassifyPageResult(self, **pages[token])

    theirs = [page.model_dump() for page in real_classify.ClassifyPageResult(StubResource(), **pages["first"])]
    assert [_strip_clip_detailed_scores({"data": d})["data"] for d in ours] == theirs
    assert len(ours) == 2
    client.close()


def test_single_page_result_iterates_nothing() -> None:
    seen: List[str] = []
    client = _pages_client({"first": valid_page("v1", next_token="")}, seen)
    result = client.classify.videos(["v1"], ["visual"], CLASSES)
    assert list(result) == []
    assert seen == ["POST /v1.2/classify"]
    client.close()
