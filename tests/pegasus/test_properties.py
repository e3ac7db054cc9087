"""Properties of the Pegasus mapping that must hold for every input."""

from __future__ import annotations

import json
import random
from typing import Any, Dict, List, Optional, Tuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from classify_shim._bodies import VideoBody
from classify_shim._request import ClassifyRequest, build_videos_request
from classify_shim._rules import merge_intervals, softmax_percentages, union_length
from classify_shim.adapters.pegasus._mapping import map_video, order_videos
from classify_shim.adapters.pegasus._parse import ParsedAnswer, ParsedClass, Segment, parse_answer
from classify_shim.adapters.pegasus._prompt import model_sources

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAMES = ["DanceTok", "CookTok", "Sports", "News", "Travel"]
SOURCES = ["visual", "conversation", "text_in_video"]


def fl(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


@st.composite
def class_params(draw: Any) -> List[Dict[str, Any]]:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True))
    out = []
    for name in names:
        prompts = [f"{name} prompt {i}" for i in range(draw(st.integers(1, 3)))]
        options = draw(st.lists(st.sampled_from(SOURCES), min_size=1, max_size=3, unique=True))
        out.append({"name": name, "prompts": prompts, "options": options,
                    "conversation_option": draw(st.sampled_from(["semantic", "exact_match"]))})
    return out


@st.composite
def thresholds(draw: Any) -> Dict[str, float]:
    return {
        "min_video_score": draw(fl(1, 100)),
        "min_clip_score": draw(fl(1, 100)),
        "min_duration_ratio": draw(fl(0.01, 1)),
    }


@st.composite
def scenario(
    draw: Any, strong: bool = False
) -> Tuple[ClassifyRequest, float, ParsedAnswer, Dict[str, List[Segment]], Dict[str, float]]:
    """A request, a video length, a model answer, exact-match hits and the thresholds drawn.

    ``strong``: the first class is one the model clearly sees (present, confidence >= 60, one
    segment of at least 30 % of the video at confidence >= 60), so the lowest thresholds the API
    accepts keep it and every example has a result to check.
    """
    params = draw(class_params())
    if strong:
        params[0]["options"] = sorted({*params[0]["options"], "visual"})
    thr = draw(thresholds())
    req = build_videos_request(["v"], ["visual"], params, threshold=thr,
                               include_clips=draw(st.booleans()), show_detailed_score=draw(st.booleans()))
    duration = draw(fl(1, 3600))
    classes: Dict[str, ParsedClass] = {}
    exact: Dict[str, List[Segment]] = {}
    for spec in req.classes:
        sources = model_sources(spec)
        sure = strong and spec.name == params[0]["name"]
        if sources and (sure or draw(st.booleans())):
            segs = []
            for _ in range(draw(st.integers(0, 5))):
                a = draw(fl(0, duration))
                b = draw(fl(0, duration))
                if a == b:
                    continue
                segs.append(Segment(start=min(a, b), end=max(a, b), prompt=draw(st.sampled_from(spec.prompts)),
                                    source=draw(st.sampled_from(sources)),
                                    confidence=draw(fl(0, 100))))
            if sure:
                length = duration * draw(fl(0.3, 0.5))
                start = draw(fl(0, duration - length))
                segs.insert(draw(st.integers(0, len(segs))), Segment(
                    start=start, end=start + length, prompt=spec.prompts[0], source="visual",
                    confidence=draw(fl(60, 100))))
            classes[spec.name] = ParsedClass(name=spec.name, present=sure or draw(st.booleans()),
                                             confidence=draw(fl(60, 100)) if sure else draw(fl(0, 100)),
                                             segments=segs)
        if "conversation" in spec.options and spec.conversation_option == "exact_match" and draw(st.booleans()):
            a = draw(fl(0, duration * 0.9))
            exact[spec.name] = [Segment(start=a, end=min(duration, a + duration * 0.1 + 0.01),
                                        prompt=spec.prompts[0], source="conversation", confidence=100)]
    return req, duration, ParsedAnswer(classes=classes), exact, thr


LOWEST = {"min_video_score": 1.0, "min_clip_score": 1.0, "min_duration_ratio": 0.01}
"""The lowest thresholds the strategy draws (the v1.2 API refuses 0)."""


def run(req: ClassifyRequest, duration: float, ans: ParsedAnswer, exact: Dict[str, List[Segment]],
        vid: str = "v") -> Optional[Dict[str, Any]]:
    out: Optional[Dict[str, Any]] = map_video(vid, duration, ans, exact, req)
    return out


def with_threshold(req: ClassifyRequest, thr: Dict[str, float]) -> ClassifyRequest:
    return build_videos_request(["v"], ["visual"], [dict(c) for c in req.wire_body["classes"]], threshold=thr,
                                include_clips=req.include_clips, show_detailed_score=req.show_detailed_score)


def check_item(out: Dict[str, Any], req: ClassifyRequest, duration: float) -> None:
    """Ranges, keys, order and shape of one data[] item under ``req``'s options and thresholds."""
    assert TypeAdapter(VideoBody).validate_python(out) == out  # the typed shape, nothing more
    assert out["classes"]
    scores = [c["score"] for c in out["classes"]]
    assert all(0.0 <= s <= 100.0 for s in scores)
    keys = [(-c["score"], c["name"]) for c in out["classes"]]
    assert keys == sorted(keys)
    for c in out["classes"]:
        assert 0.0 <= c["duration_ratio"] <= 1.0
        assert req.threshold.passes_class(c["score"], c["duration_ratio"])
        assert ("clips" in c) == req.include_clips
        assert ("detailed_scores" in c) == req.show_detailed_score
        for clip in c.get("clips", []):
            assert 0.0 <= clip["score"] <= 100.0 and req.threshold.passes_clip(clip["score"])
            assert 0.0 <= clip["start"] < clip["end"] <= duration + 0.0005
            assert clip["thumbnail_url"] is None
        clip_keys = [(-x["score"], x["start"], x["end"], x["option"], x["prompt"]) for x in c.get("clips", [])]
        assert clip_keys == sorted(clip_keys)
        if req.show_detailed_score:
            d = c["detailed_scores"]
            assert 0.0 <= d["avg_score"] <= d["max_score"] <= 100.0
    if req.show_detailed_score:
        total = sum(c["detailed_scores"]["normalized_score"] for c in out["classes"])
        assert abs(total - 100.0) <= 0.01


@SETTINGS
@given(scenario(strong=True))
def test_ranges_keys_and_order(case: Any) -> None:
    """Every example is checked: at the lowest thresholds (the confident class always passes),
    and at the drawn ones, which must keep exactly the classes and clips that clear them."""
    req, duration, ans, exact, _ = case
    relaxed_req = with_threshold(req, LOWEST)
    relaxed = run(relaxed_req, duration, ans, exact)
    assert relaxed is not None, "a class the model clearly sees must pass the lowest thresholds"
    check_item(relaxed, relaxed_req, duration)
    out = run(req, duration, ans, exact)
    kept = [c for c in relaxed["classes"] if req.threshold.passes_class(c["score"], c["duration_ratio"])]
    if out is None:
        assert kept == []
        return
    check_item(out, req, duration)
    assert [(c["name"], c["score"], c["duration_ratio"]) for c in out["classes"]] == [
        (c["name"], c["score"], c["duration_ratio"]) for c in kept]
    for strict, loose in zip(out["classes"], kept):
        assert strict.get("clips") == (
            None if "clips" not in loose else [x for x in loose["clips"] if req.threshold.passes_clip(x["score"])])


@SETTINGS
@given(scenario(), st.sampled_from(["min_video_score", "min_clip_score", "min_duration_ratio"]),
       fl(0, 1))
def test_raising_a_threshold_never_adds_classes(case: Any, key: str, frac: float) -> None:
    req, duration, ans, exact, thr = case
    high = 1.0 if key == "min_duration_ratio" else 100.0
    raised = dict(thr)
    raised[key] = thr[key] + (high - thr[key]) * frac
    before = run(req, duration, ans, exact)
    after = run(with_threshold(req, raised), duration, ans, exact)
    names_before = {c["name"] for c in (before or {"classes": []})["classes"]}
    names_after = {c["name"] for c in (after or {"classes": []})["classes"]}
    assert names_after <= names_before


@SETTINGS
@given(scenario(), st.randoms(use_true_random=False))
def test_deterministic_and_independent_of_segment_order(case: Any, rnd: random.Random) -> None:
    req, duration, ans, exact, _ = case
    first = json.dumps(run(req, duration, ans, exact))
    assert json.dumps(run(req, duration, ans.model_copy(deep=True), exact)) == first
    shuffled = {}
    for name, c in ans.classes.items():
        segs = list(c.segments)
        rnd.shuffle(segs)
        shuffled[name] = c.model_copy(update={"segments": segs})
    assert json.dumps(run(req, duration, ParsedAnswer(classes=shuffled), exact)) == first


@SETTINGS
@given(st.lists(scenario(), min_size=1, max_size=5))
def test_video_order(cases: List[Any]) -> None:
    videos = []
    for i, (req, duration, ans, exact, _) in enumerate(cases):
        out = run(req, duration, ans, exact, vid=f"video-{i % 3}-{i}")
        if out is not None:
            videos.append(out)
    ordered = order_videos(videos)
    # Best class score descending; an equal top score is broken by evidence (the top class's
    # duration ratio, descending) before the id (docs/scoring.md, "Order").
    for a, b in zip(ordered, ordered[1:]):
        top_a, top_b = (max(v["classes"], key=lambda c: (c["score"], c["duration_ratio"])) for v in (a, b))
        assert top_a["score"] >= top_b["score"]
        if top_a["score"] == top_b["score"]:
            assert top_a["duration_ratio"] >= top_b["duration_ratio"]
    assert sorted(map(json.dumps, ordered)) == sorted(map(json.dumps, videos))


@SETTINGS
@given(st.lists(fl(0, 100), min_size=1, max_size=100))
def test_softmax_percentages_sum_to_100(scores: List[float]) -> None:
    shares = softmax_percentages(scores)
    assert round(sum(shares) * 100) == 10_000
    assert abs(sum(shares) - 100.0) <= 0.01
    assert all(0.0 <= s <= 100.0 for s in shares)
    for a, b in zip(scores, shares):
        for c, d in zip(scores, shares):
            if a > c:
                assert b >= d


@SETTINGS
@given(st.lists(st.tuples(fl(0, 1000), fl(0, 1000)), max_size=20))
def test_interval_union(pairs: List[Tuple[float, float]]) -> None:
    intervals = [(min(a, b), max(a, b)) for a, b in pairs]
    total = union_length(intervals)
    lengths = [e - s for s, e in intervals]
    assert max(lengths, default=0.0) - 1e-9 <= total <= sum(lengths) + 1e-9
    merged = merge_intervals(intervals)
    assert all(a[1] < b[0] for a, b in zip(merged, merged[1:]))


@SETTINGS
@given(scenario(strong=True))
def test_parser_round_trips_well_formed_answers(case: Any) -> None:
    """The confident class (confidence >= 60) makes the answer's 0-100 scale unambiguous (answers
    whose every number is <= 10 may be on a 0-1 or 0-10 scale, see _parse._infer_multiplier) and
    puts at least one class in the prompt, so every example round-trips."""
    req, duration, ans, _, _ = case
    sent = [s for s in req.classes if model_sources(s)]
    assert sent and any(c.confidence > 10 for c in ans.classes.values())
    body = {"classes": [
        {"name": name, "present": c.present, "confidence": round(c.confidence),
         "segments": [{"start": s.start, "end": s.end, "prompt": s.prompt, "source": s.source,
                       "confidence": round(s.confidence)} for s in c.segments]}
        for name, c in ans.classes.items()
    ]}
    parsed = parse_answer(json.dumps(body), classes=sent, duration=duration)
    for name, c in ans.classes.items():
        got = parsed.classes[name]
        assert got.present == c.present and got.confidence == round(c.confidence)
        assert [(s.start, s.end, s.prompt, s.source) for s in got.segments] == [
            (s.start, s.end, s.prompt, s.source) for s in c.segments]
    for spec in sent:
        if spec.name not in ans.classes:
            assert not parsed.classes[spec.name].answered
