"""``samples=k``: k answers per video, each its own model call and cache entry, voted per class.

The vote's expected results are worked out here by hand from the hand-built answers: the
ratios from the documented coverage rule (mean of the spans' union and the model's coverage),
the majority intervals by counting, and the scores from what ``samples=1`` (the mapping the
other tests pin) gives each answer alone, so the vote is never checked against itself.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import pytest

from classify_shim import TwelveLabs, TwelveLabsError
from classify_shim.adapters.pegasus._engine import answer_key
from classify_shim.adapters.pegasus._mapping import majority_intervals
from classify_shim.adapters.pegasus._prompt import PROMPT_TEMPLATE_VERSION
from classify_shim.sandbox import Sandbox

from .conftest import scripted_world, video_ids

KEY = "tlk_pegasus_samples_0001"
CLASSES = [
    {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group"]},
    {"name": "CookTok", "prompts": ["Cooking tutorial"]},
]
SOURCES = ["visual", "conversation"]
PERMISSIVE = {"min_video_score": 1, "min_clip_score": 1, "min_duration_ratio": 0.01}


def _segment(start: float, end: float, confidence: int) -> Dict[str, Any]:
    return {"start": start, "end": end, "prompt": "Dance tutorial", "source": "visual", "confidence": confidence}


def _answer(dance: Tuple[bool, int, int, List[Dict[str, Any]]], cook_present: bool = False) -> Dict[str, Any]:
    present, confidence, coverage, segments = dance
    cook: Dict[str, Any] = {"name": "CookTok", "present": cook_present, "confidence": 85 if cook_present else 5,
                            "coverage": 60 if cook_present else 0,
                            "segments": [{"start": 0.0, "end": 60.0, "prompt": "Cooking tutorial", "source": "visual",
                                          "confidence": 85}] if cook_present else []}
    body = {"classes": [{"name": "DanceTok", "present": present, "confidence": confidence, "coverage": coverage,
                         "segments": segments}, cook]}
    return {"text": json.dumps(body), "finish_reason": "stop"}


# Three answers about one 100 s video. DanceTok: A and B overlap on 20-50 s; 70-85 s is
# covered by two or three of them; CookTok is present in C only.
A = _answer((True, 90, 50, [_segment(10, 50, 90), _segment(70, 80, 80)]))
B = _answer((True, 70, 53, [_segment(20, 60, 70), _segment(72, 85, 75)]))
C = _answer((True, 80, 20, [_segment(70, 90, 95)]), cook_present=True)
D = _answer((True, 85, 45, [_segment(15, 55, 85)]))
E = _answer((False, 10, 0, []))


pytestmark = pytest.mark.usefixtures("quiet")


@pytest.fixture
def make_sandbox(sandbox_factory: Callable[..., Sandbox]) -> Callable[[List[List[Dict[str, Any]]]], Sandbox]:
    """A sandbox whose videos answer with the scripted lists, one video per list."""
    return lambda scripted: sandbox_factory(scripted_world(scripted))


def _analyze(sb: Sandbox) -> List[Dict[str, Any]]:
    return [r for r in sb.requests() if r["endpoint"] == "v1.3.analyze"]


def _client(sb: Sandbox, tmp_path: Path, **kwargs: Any) -> TwelveLabs:
    kwargs.setdefault("cache", tmp_path / "c.sqlite3")
    kwargs.setdefault("strategy", "sync")
    return TwelveLabs(api_key=KEY, classify_backend="pegasus", base_url=sb.base_url, max_retries=0, **kwargs)


def _classes(result: Any) -> Dict[Tuple[str, str], Any]:
    return {(v.video_id, c.name): c for v in result.data for c in v.classes}


def test_setting_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in (0, 10, 2.5, True, "3"):
        with pytest.raises(TwelveLabsError, match="samples"):
            TwelveLabs(api_key=KEY, classify_backend="pegasus", samples=bad)  # type: ignore[arg-type]
    monkeypatch.setenv("TWELVELABS_CLASSIFY_SAMPLES", "3")
    with TwelveLabs(api_key=KEY, classify_backend="pegasus", cache=False) as client:
        assert client.config.samples == 3
    monkeypatch.setenv("TWELVELABS_CLASSIFY_SAMPLES", "three")
    with pytest.raises(TwelveLabsError, match="TWELVELABS_CLASSIFY_SAMPLES"):
        TwelveLabs(api_key=KEY, classify_backend="pegasus", cache=False)


def test_majority_intervals_by_hand() -> None:
    # covered by >= 2 of 3: 20-50 (a, b) and 70-85 (a+c, a+b+c, b+c)
    a = [(10.0, 50.0), (70.0, 80.0)]
    b = [(20.0, 60.0), (72.0, 85.0)]
    c = [(70.0, 90.0)]
    assert majority_intervals([a, b, c]) == [(20.0, 50.0), (70.0, 85.0)]
    # one sample's overlapping spans count once; touching spans of two samples do not overlap
    assert majority_intervals([[(0.0, 10.0), (5.0, 20.0)], [(30.0, 40.0)]]) == []
    assert majority_intervals([[(0.0, 10.0)], [(10.0, 20.0)], [(0.0, 20.0)]]) == [(0.0, 20.0)]
    # an even number of samples needs more than half: 3 of 4
    assert majority_intervals([[(0.0, 10.0)], [(0.0, 10.0)], [(20.0, 30.0)], [(20.0, 30.0)]]) == []
    assert majority_intervals([[(0.0, 10.0)], [(2.0, 10.0)], [(0.0, 8.0)], []]) == [(2.0, 8.0)]


def test_three_answers_are_voted_per_class(make_sandbox: Any, tmp_path: Path) -> None:
    """Video 4 gets answers A, B, C (samples=3); videos 1-3 get one each (samples=1), which
    gives the numbers of each answer alone."""
    sb = make_sandbox([[A], [B], [C], [A, B, C]])
    v1, v2, v3, v4 = video_ids(sb)
    with _client(sb, tmp_path / "one") as client:
        singles = _classes(client.classify.videos([v1, v2, v3], SOURCES, CLASSES, threshold=PERMISSIVE,
                                                  include_clips=True, show_detailed_score=True))
    sb.clear_requests()
    with _client(sb, tmp_path / "three", samples=3) as client:
        voted_result = client.classify.videos([v4], SOURCES, CLASSES, threshold=PERMISSIVE, include_clips=True,
                                              show_detailed_score=True)
        stats = client._backend.last_run  # type: ignore[attr-defined]
    assert voted_result.errors == []
    calls = _analyze(sb)
    assert len(calls) == 3 and {c["video"] for c in calls} == {v4}
    assert stats.analyze_calls == 3 and stats.samples == 3
    voted = _classes(voted_result)
    dance = voted[(v4, "DanceTok")]
    alone = [singles[(v, "DanceTok")] for v in (v1, v2, v3)]
    # ratios by hand: A (40 + 10) s of 100 and coverage 50 -> 0.5; B 53 s and 53 -> 0.53; C 20 and 20 -> 0.2
    assert [c.duration_ratio for c in alone] == [0.5, 0.53, 0.2]
    assert dance.duration_ratio == 0.5
    assert dance.score == sorted(c.score for c in alone)[1]
    # clips: the majority stretches 20-50 s (A's 10-50 and B's 20-60 overlap it) and 70-85 s
    # (A's 70-80, B's 72-85 and C's 70-90); each scored with the median of those clips' scores.
    clip = {(v, (c.start, c.end)): c.score for v, cls in zip((v1, v2, v3), alone) for c in cls.clips}
    first = round(statistics.median([clip[(v1, (10.0, 50.0))], clip[(v2, (20.0, 60.0))]]), 2)
    second = statistics.median([clip[(v1, (70.0, 80.0))], clip[(v2, (72.0, 85.0))], clip[(v3, (70.0, 90.0))]])
    got = {(c.start, c.end): c.score for c in dance.clips}
    assert got == {(20.0, 50.0): first, (70.0, 85.0): second}
    assert all(c.option == "visual" and c.prompt == "Dance tutorial" for c in dance.clips)
    assert dance.detailed_scores.max_score == max(first, second)
    assert dance.detailed_scores.avg_score == round((first + second) / 2, 2)
    assert dance.detailed_scores.avg_score < dance.detailed_scores.max_score
    # CookTok: present in C only; its vote is the median of three scores, two of them "absent"
    cook_alone = sorted(singles[(v, "CookTok")].score for v in (v1, v2, v3) if (v, "CookTok") in singles)
    cook = voted.get((v4, "CookTok"))
    if len(cook_alone) == 3:
        assert cook is not None and cook.score == cook_alone[1]
    # at the default thresholds, one answer in three does not make it pass
    sb.clear_requests()
    with _client(sb, tmp_path / "three", samples=3) as client:
        default = _classes(client.classify.videos([v4], SOURCES, CLASSES))
    assert _analyze(sb) == []  # all three answers come from the cache
    assert (v4, "CookTok") not in default
    assert singles[(v3, "CookTok")].score >= 75 and singles[(v3, "CookTok")].duration_ratio >= 0.5


def test_k_calls_then_none_then_only_the_new_samples(make_sandbox: Any, tmp_path: Path) -> None:
    sb = make_sandbox([[A, B, C, D, E], [B, C, D, E, A]])
    ids = video_ids(sb)
    with _client(sb, tmp_path) as client:  # samples=1 first: one call per video
        one = client.classify.videos(ids, SOURCES, CLASSES, threshold=PERMISSIVE)
    assert len(_analyze(sb)) == 2
    sb.clear_requests()
    with _client(sb, tmp_path, samples=3) as client:  # the first answer is samples=1's, cached
        client.classify.videos(ids, SOURCES, CLASSES, threshold=PERMISSIVE)
    assert len(_analyze(sb)) == 2 * 2
    sb.clear_requests()
    with _client(sb, tmp_path, samples=3) as client:  # a rerun pays nothing
        three = client.classify.videos(ids, SOURCES, CLASSES, threshold=PERMISSIVE)
    assert _analyze(sb) == []
    sb.clear_requests()
    with _client(sb, tmp_path, samples=5) as client:  # 3 -> 5: two new answers per video
        client.classify.videos(ids, SOURCES, CLASSES, threshold=PERMISSIVE)
        stats = client._backend.last_run  # type: ignore[attr-defined]
    assert len(_analyze(sb)) == 2 * 2
    assert stats.analyze_calls == 4 and stats.cached_chunks == 2 * 3
    sb.clear_requests()
    with _client(sb, tmp_path, samples=1) as client:  # back to one answer: today's result, no call
        again = client.classify.videos(ids, SOURCES, CLASSES, threshold=PERMISSIVE)
    assert _analyze(sb) == []
    assert again.data == one.data
    assert three.data != one.data  # the vote did change something


def test_bodies_and_keys(make_sandbox: Any, tmp_path: Path) -> None:
    """Sample 1 is asked exactly as samples=1 asks; the others at temperature 0.7, with no
    field the v1.3 spec lacks (there is no seed), told apart only by their cache keys."""
    import httpx

    bodies: List[Dict[str, Any]] = []

    def hook(request: httpx.Request) -> None:
        if request.url.path.endswith("/analyze"):
            bodies.append(json.loads(request.content))

    sb = make_sandbox([[A, B, C]])
    with httpx.Client(event_hooks={"request": [hook]}) as http, \
            _client(sb, tmp_path, samples=3, http_client=http) as client:
        client.classify.videos(video_ids(sb), SOURCES, CLASSES)
    assert sorted(b["temperature"] for b in bodies) == [0.0, 0.7, 0.7]
    base = next(b for b in bodies if b["temperature"] == 0.0)
    for b in bodies:
        assert set(b) == set(base)
        assert {k: v for k, v in b.items() if k != "temperature"} == {k: v for k, v in base.items()
                                                                         if k != "temperature"}
    # The first answer's key is the one samples=1 has always written: no "sample" in it.
    schema, prompt, video = base["response_format"], base["prompt"], base["video"]
    material = {"host": "h", "model": base["model_name"], "prompt": prompt, "schema": schema, "temperature": 0.0,
                "template": PROMPT_TEMPLATE_VERSION, "video": video}
    text = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert answer_key("h", base["model_name"], schema, video, 0.0, prompt) == hashlib.sha256(text.encode()).hexdigest()
    others = {answer_key("h", base["model_name"], schema, video, 0.7, prompt, s) for s in (1, 2)}
    assert len(others) == 2 and answer_key("h", base["model_name"], schema, video, 0.0, prompt) not in others


def test_batch_carries_k_items_per_video(make_sandbox: Any, tmp_path: Path) -> None:
    sb = make_sandbox([[A, B, C], [B, C, A]])
    with _client(sb, tmp_path, samples=3, strategy="batch") as client:
        result = client.classify.videos(video_ids(sb), SOURCES, CLASSES, threshold=PERMISSIVE)
        stats = client._backend.last_run  # type: ignore[attr-defined]
    assert result.errors == []
    creates = [r for r in sb.requests() if r["endpoint"] == "v1.3.batches.create"]
    assert [c["items"] for c in creates] == [6]  # one batch: 2 videos x 3 answers
    assert _analyze(sb) == [] and stats.batch_items == 6
    assert {(v.video_id, c.name) for v in result.data for c in v.classes} >= {(i, "DanceTok") for i in video_ids(sb)}


def test_segments_ask_k_tasks_per_video(make_sandbox: Any, tmp_path: Path) -> None:
    sb = make_sandbox([[], []])  # the sandbox's own time-based answers
    with _client(sb, tmp_path, samples=2, strategy="segments") as client:
        client.classify.videos(video_ids(sb), SOURCES, CLASSES)
        stats = client._backend.last_run  # type: ignore[attr-defined]
    assert stats.task_creates == 2 * 2 and stats.samples == 2
    with _client(sb, tmp_path, samples=2, strategy="segments") as client:
        client.classify.videos(video_ids(sb), SOURCES, CLASSES)
        assert client._backend.last_run.task_creates == 0  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# The fidelity lab's k answers (what bench/fidelity.py's samples table runs on)


def test_lab_writes_k_answers_the_first_being_samples_1s() -> None:
    from classify_shim.lab import SimConfig, make_world, simulate_answers

    world = make_world(3, 6)
    one = simulate_answers(world, SimConfig(), 0)
    three = simulate_answers(world, SimConfig(), 0, samples=3)
    for vid, answers in three.items():
        assert len(answers) == 3 and answers[0] == one[vid][0]
    assert any(len({a["text"] for a in answers}) == 3 for answers in three.values())  # independent draws
    same = simulate_answers(world, SimConfig().with_(sample_correlation=1.0), 0, samples=3)
    assert all(len({a["text"] for a in answers}) == 1 for answers in same.values())  # all draws shared
    half = simulate_answers(world, SimConfig().with_(sample_correlation=0.5), 0, samples=3)
    assert all(len(a) == 3 for a in half.values())
    assert repr(SimConfig().with_(sample_correlation=0.5)) == repr(SimConfig())  # seeds of other configs kept


def test_lab_vote_of_identical_answers_decides_as_one_answer() -> None:
    """Three copies of one answer through the whole client path: the same score and ratio as
    the single answer (the median of three equal numbers), k calls per video."""
    from classify_shim.lab import SimConfig, make_world, run_backend, simulate_answers

    world = make_world(4, 8)
    cfg = SimConfig().with_(sample_correlation=1.0)
    single = run_backend(world, {v: a[:1] for v, a in simulate_answers(world, cfg, 0, 3).items()}, "pegasus")
    voted = run_backend(world, simulate_answers(world, cfg, 0, 3), "pegasus", samples=3)
    assert single and set(voted) == set(single)
    for pair, obs in single.items():
        assert (voted[pair].score, voted[pair].ratio) == (obs.score, obs.ratio), pair


# ---------------------------------------------------------------------------------------------
# Properties of the vote (hypothesis)

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from classify_shim.adapters.pegasus._mapping import map_video, map_video_samples  # noqa: E402
from classify_shim.adapters.pegasus._parse import ParsedAnswer, ParsedClass, Segment  # noqa: E402

from .test_properties import SETTINGS, check_item, scenario  # noqa: E402

FEWER = settings(SETTINGS, max_examples=60)

spans = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)).map(lambda t: (float(min(t)), float(max(t)))),
                 max_size=4)


@SETTINGS
@given(st.lists(spans, min_size=1, max_size=5))
def test_majority_intervals_match_counting_on_a_grid(samples: List[List[Tuple[float, float]]]) -> None:
    """At every half-second midpoint, inside the result exactly when more than half of the
    samples have a span covering it (counted directly here)."""
    got = majority_intervals(samples)
    for i in range(80):
        t = i / 2 + 0.25
        covering = sum(1 for s in samples if any(a < t < b for a, b in s))
        inside = any(a < t < b for a, b in got)
        assert inside == (2 * covering > len(samples)), (t, samples, got)
    assert all(a < b for a, b in got) and all(b1 < a2 for (_, b1), (a2, _) in zip(got, got[1:]))


@st.composite
def three_answers(draw: Any) -> Tuple[Any, float, List[ParsedAnswer], Dict[str, List[Segment]]]:
    req, duration, first, exact, _ = draw(scenario())
    answers = [first]
    for _ in range(2):
        classes = {}
        for name, c in first.classes.items():
            shift = draw(st.floats(-0.1, 0.1)) * duration
            segs = []
            for s in c.segments:
                start = max(0.0, s.start + shift)
                end = start + (s.end - s.start)
                if end > start:
                    segs.append(Segment(start=start, end=end, prompt=s.prompt, source=s.source,
                                        confidence=draw(st.floats(0, 100))))
            classes[name] = ParsedClass(name=name, present=draw(st.booleans()), confidence=draw(st.floats(0, 100)),
                                        segments=segs, coverage=draw(st.none() | st.floats(0, 1)))
        answers.append(ParsedAnswer(classes=classes))
    return req, duration, answers, exact


@FEWER
@given(three_answers(), st.permutations([0, 1, 2]))
def test_vote_is_a_valid_item_whatever_the_order_of_the_answers(case: Any, order: List[int]) -> None:
    req, duration, answers, exact = case
    out = map_video_samples("v", duration, answers, exact, req)
    assert map_video_samples("v", duration, [answers[i] for i in order], exact, req) == out
    if out is not None:
        check_item(out, req, duration)


@FEWER
@given(scenario())
def test_vote_of_copies_keeps_the_answers_score_and_ratio(case: Any) -> None:
    req, duration, answer, exact, _ = case
    one = map_video("v", duration, answer, exact, req)
    three = map_video_samples("v", duration, [answer] * 3, exact, req)
    def numbers(item: Any) -> Any:
        return None if item is None else [(c["name"], c["score"], c["duration_ratio"]) for c in item["classes"]]

    assert numbers(three) == numbers(one)
    assert map_video_samples("v", duration, [answer], exact, req) == one  # one answer: map_video itself
