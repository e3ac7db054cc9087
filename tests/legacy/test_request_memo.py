"""Validation is memoised on the arguments' structure: a repeat call is served from the memo,
but never with a stale body and never accepting what validation rejects."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from classify_shim import ClassifyValidationError
from classify_shim._request import build_index_request, build_videos_request


def _classes() -> List[Dict[str, Any]]:
    return [{"name": "DanceTok", "prompts": ["dance tutorial"]}, {"name": "CookTok", "prompts": ["cooking"]}]


def test_a_repeat_is_equal_and_its_body_follows_the_callers_objects() -> None:
    classes = _classes()
    first = build_videos_request(["v1", "v2"], ["visual"], classes)
    again = build_videos_request(["v1", "v2"], ["visual"], _classes())
    assert again == first and again.wire_body == first.wire_body
    classes[0]["prompts"].append("dance group")  # mutated after the first call
    third = build_videos_request(["v1", "v2"], ["visual"], classes)
    assert third.wire_body["classes"][0]["prompts"] == ["dance tutorial", "dance group"]
    assert third.classes[0].prompts == ("dance tutorial", "dance group")
    assert first.wire_body["classes"][0]["prompts"] == ["dance tutorial", "dance group"]  # the caller's list
    classes[0]["prompts"].pop()
    fourth = build_videos_request(["v1", "v2"], ["visual"], classes)
    assert fourth.classes[0].prompts == ("dance tutorial",)
    assert fourth.wire_body["classes"][0] is not first.wire_body["classes"][0]


@pytest.mark.parametrize(
    ("good", "bad", "field"),
    [({"page_limit": 1}, {"page_limit": True}, "page_limit"),
     ({"include_clips": True}, {"include_clips": 1}, "include_clips"),
     ({"threshold": 80}, {"threshold": "80"}, "threshold")],
)
def test_values_equal_in_python_but_not_valid_are_still_rejected(good: Dict[str, Any], bad: Dict[str, Any],
                                                                 field: str) -> None:
    build_index_request("idx-1", ["visual"], _classes(), **good)
    build_index_request("idx-1", ["visual"], _classes(), **good)
    with pytest.raises(ClassifyValidationError) as info:
        build_index_request("idx-1", ["visual"], _classes(), **bad)
    assert field in str(info.value)


def test_invalid_ids_fail_every_time() -> None:
    for _ in range(2):
        with pytest.raises(ClassifyValidationError):
            build_videos_request(["ok", "not/an id"], ["visual"], _classes())
    assert build_videos_request(("v1",), ["visual"], _classes()).video_ids == ("v1",)
