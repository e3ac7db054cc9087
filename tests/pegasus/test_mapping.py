"""Parsed answers to v1.2 Classify results: numbers, keys, thresholds, ordering."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Sequence

import pytest

from classify_shim._request import ClassifyRequest, build_videos_request
from classify_shim._rules import softmax_percentages, union_length
from classify_shim.adapters.pegasus._exact import exact_match_segments
from classify_shim.adapters.pegasus._mapping import (
    calibrate,
    class_presence,
    class_score,
    clip_score,
    map_video,
    order_videos,
)
from classify_shim.adapters.pegasus._parse import ParsedAnswer, ParsedClass, Segment

DANCE = {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group"]}
COOK = {"name": "CookTok", "prompts": ["Cooking tutorial"]}


def request(classes: Sequence[Dict[str, Any]] = (DANCE, COOK), **kw: Any) -> ClassifyRequest:
    return build_videos_request(["v1"], kw.pop("options", ["visual", "conversation"]), list(classes), **kw)


def seg(start: float, end: float, conf: float, prompt: str = "Dance tutorial", source: str = "visual") -> Segment:
    return Segment(start=start, end=end, prompt=prompt, source=source, confidence=conf)


def answer(**classes: ParsedClass) -> ParsedAnswer:
    return ParsedAnswer(classes=dict(classes))


def pc(name: str, present: bool, conf: float, segments: Optional[List[Segment]] = None) -> ParsedClass:
    return ParsedClass(name=name, present=present, confidence=conf, segments=segments or [])


def cal(x: float) -> float:
    return 100.0 * float((x / 100.0) ** 0.6)


def test_numbers_of_a_single_passing_class() -> None:
    ans = answer(DanceTok=pc("DanceTok", True, 90, [seg(0, 60, 85)]))
    out = map_video("v1", 100.0, ans, {}, request(include_clips=True, show_detailed_score=True))
    clip_ev = 0.75 * 85 + 0.25 * 90
    class_ev = 0.5 * 90 + 0.3 * clip_ev + 0.2 * 100 * min(1.0, 0.6 / 0.5)
    assert out == {
        "video_id": "v1",
        "classes": [{
            "name": "DanceTok",
            "score": round(cal(class_ev), 2),
            "duration_ratio": 0.6,
            "clips": [{"start": 0.0, "end": 60.0, "score": round(cal(clip_ev), 2), "option": "visual",
                       "prompt": "Dance tutorial", "thumbnail_url": None}],
            "detailed_scores": {"max_score": round(cal(clip_ev), 2), "avg_score": round(cal(clip_ev), 2),
                                "normalized_score": 100.0},
        }],
    }
    assert out["classes"][0]["score"] == 94.42  # pinned: changing the formula must be deliberate


def test_optional_keys_absent_unless_requested() -> None:
    ans = answer(DanceTok=pc("DanceTok", True, 90, [seg(0, 60, 85)]))
    out = map_video("v1", 100.0, ans, {}, request())
    assert out is not None
    assert list(out["classes"][0]) == ["name", "score", "duration_ratio"]
    out = map_video("v1", 100.0, ans, {}, request(show_detailed_score=True))
    assert out is not None
    assert list(out["classes"][0]) == ["name", "score", "duration_ratio", "detailed_scores"]


def test_absent_class_scores_low_and_is_not_returned() -> None:
    assert class_score(class_presence(pc("X", False, 95), False), 0.0, 0.0) < 30
    assert class_score(class_presence(pc("X", False, 10), False), 0.0, 0.0) < 30
    assert class_score(class_presence(None, False), 0.0, 0.0) == 0.0
    ans = answer(DanceTok=pc("DanceTok", False, 95), CookTok=pc("CookTok", False, 0))
    low = request(threshold={"min_video_score": 1, "min_duration_ratio": 0.01})
    assert map_video("v1", 100.0, ans, {}, low) is None


def test_absent_with_stray_segments_stays_below_default_threshold() -> None:
    ans = answer(DanceTok=pc("DanceTok", False, 90, [seg(0, 100, 90)]))
    assert map_video("v1", 100.0, ans, {}, request()) is None


def test_duration_ratio_is_the_union_and_thresholds_apply() -> None:
    segs = [seg(0, 20, 90), seg(10, 30, 90, "Dance group"), seg(25, 30, 90, source="conversation")]
    ans = answer(DanceTok=pc("DanceTok", True, 90, segs))
    assert map_video("v1", 100.0, ans, {}, request()) is None  # ratio 0.3 < 0.5
    out = map_video("v1", 100.0, ans, {}, request(threshold={"min_duration_ratio": 0.3}))
    assert out is not None
    assert out["classes"][0]["duration_ratio"] == 0.3
    assert map_video("v1", 100.0, ans, {}, request(threshold={"min_duration_ratio": 0.31})) is None
    score = out["classes"][0]["score"]
    assert map_video("v1", 100.0, ans, {}, request(threshold={"min_duration_ratio": 0.3,
                                                                 "min_video_score": score})) is not None
    assert map_video("v1", 100.0, ans, {}, request(threshold={"min_duration_ratio": 0.3,
                                                                 "min_video_score": score + 0.01})) is None


def test_min_clip_score_filters_listed_clips_only() -> None:
    segs = [seg(0, 50, 95), seg(50, 100, 40, "Dance group")]
    ans = answer(DanceTok=pc("DanceTok", True, 90, segs))
    base = map_video("v1", 100.0, ans, {}, request(include_clips=True, show_detailed_score=True))
    strict = map_video("v1", 100.0, ans, {}, request(include_clips=True, show_detailed_score=True,
                                                     threshold={"min_clip_score": 90}))
    assert base is not None and strict is not None
    assert len(base["classes"][0]["clips"]) == 2
    assert [c["prompt"] for c in strict["classes"][0]["clips"]] == ["Dance tutorial"]
    for key in ("score", "duration_ratio", "detailed_scores"):
        assert base["classes"][0][key] == strict["classes"][0][key]
    assert base["classes"][0]["duration_ratio"] == 1.0


def test_clips_ordered_and_deduplicated_and_cut_to_the_video() -> None:
    segs = [seg(10, 20, 70), seg(0, 10, 90), seg(30, 40, 70), seg(0, 10, 80), seg(90, 130, 90, "Dance group")]
    ans = answer(DanceTok=pc("DanceTok", True, 90, segs))
    out = map_video("v1", 100.0, ans, {}, request(include_clips=True, threshold={"min_duration_ratio": 0.01}))
    assert out is not None
    clips = out["classes"][0]["clips"]
    assert [(c["start"], c["end"], c["prompt"]) for c in clips] == [
        (0.0, 10.0, "Dance tutorial"), (90.0, 100.0, "Dance group"), (10.0, 20.0, "Dance tutorial"),
        (30.0, 40.0, "Dance tutorial")]
    assert clips[0]["score"] == clips[1]["score"] > clips[2]["score"] == clips[3]["score"]


def test_classes_ordered_with_normalized_scores() -> None:
    ans = answer(
        DanceTok=pc("DanceTok", True, 80, [seg(0, 100, 80)]),
        CookTok=pc("CookTok", True, 95, [seg(0, 100, 95, "Cooking tutorial")]),
    )
    out = map_video("v1", 100.0, ans, {}, request(show_detailed_score=True))
    assert out is not None
    names = [c["name"] for c in out["classes"]]
    scores = [c["score"] for c in out["classes"]]
    assert names == ["CookTok", "DanceTok"] and scores[0] > scores[1]
    norms = [c["detailed_scores"]["normalized_score"] for c in out["classes"]]
    assert norms == softmax_percentages(scores)
    assert abs(sum(norms) - 100) < 1e-9
    assert norms[0] > norms[1]


def test_equal_scores_tie_break_on_name() -> None:
    ans = answer(
        DanceTok=pc("DanceTok", True, 90, [seg(0, 100, 90)]),
        CookTok=pc("CookTok", True, 90, [seg(0, 100, 90, "Cooking tutorial")]),
    )
    out = map_video("v1", 100.0, ans, {}, request(classes=(DANCE, COOK)))
    assert out is not None
    assert [c["name"] for c in out["classes"]] == ["CookTok", "DanceTok"]


def test_exact_match_only_class_needs_no_model() -> None:
    spoken = {"name": "Subscribe", "prompts": ["subscribe"], "options": ["conversation"],
              "conversation_option": "exact_match"}
    req = request(classes=(spoken,), include_clips=True)
    transcript = [{"start": 0.0, "end": 30.0, "value": "Please SUBSCRIBE now"},
                  {"start": 30.0, "end": 60.0, "value": "subscribers are great"},
                  {"start": 60.0, "end": 100.0, "value": "don't forget to subscribe!"}]
    exact = {"Subscribe": exact_match_segments(transcript, req.classes[0])}
    out = map_video("v1", 100.0, None, exact, req)
    assert out is not None
    cls = out["classes"][0]
    assert cls["duration_ratio"] == 0.7
    assert cls["score"] == 100.0
    assert [(c["start"], c["option"], c["score"]) for c in cls["clips"]] == [
        (0.0, "conversation", 100.0), (60.0, "conversation", 100.0)]
    assert map_video("v1", 100.0, None, {}, req) is None


def test_mixed_class_combines_model_and_transcript() -> None:
    mixed = {"name": "DanceTok", "prompts": ["dance"], "options": ["visual", "conversation"],
             "conversation_option": "exact_match"}
    req = request(classes=(mixed,), include_clips=True)
    ans = answer(DanceTok=pc("DanceTok", False, 10))
    exact = {"DanceTok": [Segment(start=40, end=100, prompt="dance", source="conversation", confidence=100)]}
    out = map_video("v1", 100.0, ans, exact, req)
    assert out is not None and out["classes"][0]["duration_ratio"] == 0.6


def test_nothing_passes_with_unknown_duration() -> None:
    ans = answer(DanceTok=pc("DanceTok", True, 100, [seg(0, 60, 100)]))
    assert map_video("v1", 0.0, ans, {}, request()) is None


def test_class_score_is_monotone_and_bounded() -> None:
    grid = [0.0, 10.0, 50.0, 75.0, 100.0]
    for p in grid:
        for b in grid:
            for c in (0.0, 0.2, 0.5, 1.0):
                s = class_score(p, b, c)
                assert 0.0 <= s <= 100.0
                assert class_score(min(100.0, p + 10), b, c) >= s
                assert class_score(p, min(100.0, b + 10), c) >= s
                assert class_score(p, b, min(1.0, c + 0.1)) >= s
    assert class_score(100, 100, 0.5) == 100.0
    assert clip_score(100, 100) == 100.0 and clip_score(0, 0) == 0.0
    assert calibrate(68) > 79  # moderately sure and well covered passes the default 75


def test_order_videos() -> None:
    videos = [
        {"video_id": "b", "classes": [{"name": "x", "score": 80.0, "duration_ratio": 1.0}]},
        {"video_id": "a", "classes": [{"name": "x", "score": 80.0, "duration_ratio": 1.0}]},
        {"video_id": "c", "classes": [{"name": "x", "score": 95.5, "duration_ratio": 1.0},
                                      {"name": "y", "score": 76.0, "duration_ratio": 1.0}]},
    ]
    assert [v["video_id"] for v in order_videos(videos)] == ["c", "a", "b"]


def test_byte_identical_output() -> None:
    ans = answer(
        DanceTok=pc("DanceTok", True, 85, [seg(0, 70, 80), seg(20, 90, 75, "Dance group", "conversation")]),
        CookTok=pc("CookTok", True, 77, [seg(0, 55, 77, "Cooking tutorial")]),
    )
    req = request(include_clips=True, show_detailed_score=True)
    first = json.dumps(map_video("v1", 100.0, ans, {}, req))
    again = json.dumps(map_video("v1", 100.0, ans.model_copy(deep=True), {}, req))
    assert first == again


# ---------------------------------------------------------------------------------------------
# Agreement with the sandbox's v1.2 emulation, with the simulated model's documented behaviour
# (confidence = relevance x 100 rounded to multiples of 5; segments = matching content segments).
# ---------------------------------------------------------------------------------------------

_SEED_CLASSES = [
    {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group", "Dance competition"]},
    {"name": "CookTok", "prompts": ["Cooking tutorial", "Cooking ustensils review"]},
]


def _simulated_answer(match: Any, video: Dict[str, Any], req: ClassifyRequest) -> ParsedAnswer:
    from classify_shim.adapters.pegasus._prompt import model_sources

    def r5(x: float) -> float:
        return float(5 * round(x * 100 / 5))

    out: Dict[str, ParsedClass] = {}
    for spec in req.classes:
        segs: List[Segment] = []
        best = 0.0
        for src in model_sources(spec):
            for part in video["content"].get(src) or []:
                end = min(float(part["end"]), float(video["duration"]))
                for p in spec.prompts:
                    rel = match.relevance(p, part["text"])
                    best = max(best, rel)
                    if rel >= match.RELEVANCE_FLOOR and end > part["start"]:
                        segs.append(seg(float(part["start"]), end, r5(rel), p, src))
        out[spec.name] = pc(spec.name, bool(segs), r5(best), segs)
    return ParsedAnswer(classes=out)


@pytest.mark.parametrize("options", [["visual"], ["visual", "conversation", "text_in_video"], ["conversation"]])
@pytest.mark.parametrize("conv", ["semantic", "exact_match"])
@pytest.mark.parametrize("threshold", [None, {"min_video_score": 80, "min_duration_ratio": 0.5}])
def test_agrees_with_v12_emulation(options: List[str], conv: str, threshold: Any) -> None:
    match = pytest.importorskip("classify_shim.sandbox._match")
    world_mod = pytest.importorskip("classify_shim.sandbox._world")
    world = world_mod.default_world()
    videos = [v for idx in world["indexes"] for v in idx["videos"]]
    req = build_videos_request(["v"], options, _SEED_CLASSES, threshold=threshold, conversation_option=conv)
    t = req.threshold
    agree = total = passes = 0
    for video in videos:
        transcript = [{"start": c["start"], "end": c["end"], "value": c["text"]}
                      for c in video["content"].get("conversation") or []]
        exact = {s.name: exact_match_segments(transcript, s) for s in req.classes
                 if s.conversation_option == "exact_match" and "conversation" in s.options}
        ours = map_video(video["_id"], float(video["duration"]), _simulated_answer(match, video, req), exact, req)
        ours_names = {c["name"] for c in (ours or {"classes": []})["classes"]}
        for spec in req.classes:
            clips = match.find_clips(video, spec.prompts, spec.options, spec.conversation_option)
            ratio = match.duration_ratio(clips, float(video["duration"]))
            legacy = bool(clips) and match.class_score(clips, ratio) >= t.min_video_score \
                and ratio >= t.min_duration_ratio
            passes += legacy
            total += 1
            agree += legacy == (spec.name in ours_names)
    assert passes > 0
    assert agree / total >= 0.95


def test_rules_union_helper_matches_mapping_ratio() -> None:
    assert union_length([(0, 20), (10, 30), (25, 30)]) == 30
