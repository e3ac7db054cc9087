"""``legacy`` (v1.2 emulation) and ``pegasus`` agree on which (video, class) pairs pass.

Default world, noise off, seed classes plus distractors, every source combination and both
conversation modes: at least 95 % of the pairs must get the same pass/fail decision.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Dict, Iterator, List, Set, Tuple

import pytest

from classify_shim import TwelveLabs

KEY = "tlk_pegasus_agreement_1"
CLASSES: List[Dict[str, Any]] = [
    {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group", "Dance competition"]},
    {"name": "CookTok", "prompts": ["Cooking tutorial", "Cooking ustensils review"]},
    # distractors: near the seed topics, and unrelated ones
    {"name": "Sports", "prompts": ["Soccer match", "Running a marathon"]},
    {"name": "News", "prompts": ["News anchor reading headlines", "City council meeting"]},
    {"name": "Travel", "prompts": ["Travel vlog in a city"]},
    {"name": "Gaming", "prompts": ["Video game livestream"]},
    {"name": "Barbecue", "prompts": ["Smoking meat on a grill"]},
]
OPTION_SETS = [
    ["visual"],
    ["conversation"],
    ["text_in_video"],
    ["visual", "conversation"],
    ["visual", "text_in_video"],
    ["conversation", "text_in_video"],
    ["visual", "conversation", "text_in_video"],
]
Pair = Tuple[str, str]


@pytest.fixture(autouse=True)
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _passing(sb: Any, tmp_path: Path, backend: str, options: List[str], **kwargs: Any) -> Set[Pair]:
    vids = [v["_id"] for ix in sb.world["indexes"] for v in ix["videos"]]
    with TwelveLabs(
        api_key=KEY, classify_backend=backend, base_url=sb.base_url, cache=tmp_path / "c.sqlite3"
    ) as client:
        result = client.classify.videos(vids, options, CLASSES, page_limit=50, **kwargs)
        assert result.errors == []
        pages = [result.data, *list(result)]
    return {(video.video_id, cls.name) for page in pages for video in page for cls in video.classes}


def test_backends_agree_on_pass_fail(sb: Any, tmp_path: Path) -> None:
    assert sb.noise == "none"
    vids = [v["_id"] for ix in sb.world["indexes"] for v in ix["videos"]]
    total = agree = 0
    legacy_passes = 0
    disagreements: List[str] = []
    runs = [(opts, conv) for opts in OPTION_SETS for conv in ("semantic", "exact_match")]
    for options, conversation_option in runs:
        legacy = _passing(sb, tmp_path, "legacy", options, conversation_option=conversation_option)
        pegasus = _passing(sb, tmp_path, "pegasus", options, conversation_option=conversation_option)
        legacy_passes += len(legacy)
        for vid in vids:
            for cls in CLASSES:
                pair = (vid, cls["name"])
                total += 1
                if (pair in legacy) == (pair in pegasus):
                    agree += 1
                else:
                    disagreements.append(f"{options}/{conversation_option}: {pair} legacy={pair in legacy}")
    # The comparison must be able to fail: some pairs pass, most do not.
    assert 0 < legacy_passes < total / 2
    assert agree / total >= 0.95, f"{agree}/{total} agree; first disagreements: {disagreements[:10]}"


@pytest.mark.parametrize(
    "threshold",
    [{"min_video_score": 90}, {"min_duration_ratio": 0.8}, {"min_video_score": 60, "min_duration_ratio": 0.2}],
)
def test_backends_agree_with_custom_thresholds(sb: Any, tmp_path: Path, threshold: Dict[str, float]) -> None:
    options = ["visual", "conversation", "text_in_video"]
    legacy = _passing(sb, tmp_path, "legacy", options, threshold=threshold)
    pegasus = _passing(sb, tmp_path, "pegasus", options, threshold=threshold)
    vids = [v["_id"] for ix in sb.world["indexes"] for v in ix["videos"]]
    pairs = [(v, c["name"]) for v in vids for c in CLASSES]
    agree = sum((p in legacy) == (p in pegasus) for p in pairs)
    assert legacy, "no pair passes: the threshold makes the comparison vacuous"
    assert agree / len(pairs) >= 0.95, (sorted(legacy - pegasus), sorted(pegasus - legacy))
