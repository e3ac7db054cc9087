"""``samples="auto"``: one answer per video, more only where a decision is a close call.

The close calls are worked out by hand from the documented rule (a class's voted score within
10 points, or its ``duration_ratio`` within 0.05, of the edge of the pass region) and from
hand-built answers whose ratios follow the documented coverage rule (mean of the spans' union
and the model's coverage); the number of model calls is counted by the sandbox.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest

from classify_shim import TwelveLabs, TwelveLabsError
from classify_shim._config import MAX_SAMPLES, ClientConfig
from classify_shim._request import Thresholds, build_videos_request
from classify_shim._types import RequestOptions
from classify_shim.adapters.pegasus._adaptive import Margins, close_call, stages, undecided
from classify_shim.adapters.pegasus._parse import parse_answer
from classify_shim.sandbox import Sandbox

from .conftest import scripted_world, video_ids

KEY = "tlk_pegasus_adaptive_0001"
CLASSES = [
    {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group"]},
    {"name": "CookTok", "prompts": ["Cooking tutorial"]},
]
SOURCES = ["visual", "conversation"]
DEFAULT = Thresholds()  # 75 / 30 / 0.5

pytestmark = pytest.mark.usefixtures("quiet")


def _answer(confidence: int, seconds: float, coverage: int) -> Dict[str, Any]:
    """DanceTok present on 0..``seconds`` of a 100 s video with the model's ``coverage`` (%);
    CookTok absent."""
    dance = {"name": "DanceTok", "present": True, "confidence": confidence, "coverage": coverage,
             "segments": [{"start": 0.0, "end": seconds, "prompt": "Dance tutorial", "source": "visual",
                           "confidence": confidence}]}
    cook = {"name": "CookTok", "present": False, "confidence": 5, "coverage": 0, "segments": []}
    return {"text": json.dumps({"classes": [dance, cook]}), "finish_reason": "stop"}


CLOSE = _answer(85, 50.0, 50)  # ratio (0.5 + 0.5) / 2 = 0.5: on the ratio threshold itself
CLEAR = _answer(95, 90.0, 90)  # ratio 0.9, a confident 95: far above both thresholds


# ------------------------------------------------------------------ the rule


def test_close_call_by_hand() -> None:
    # within 0.05 of the ratio threshold, with a score that passes
    assert close_call(90.0, 0.52, DEFAULT) and close_call(90.0, 0.47, DEFAULT)
    # within 10 points of the score threshold, with a ratio that passes
    assert close_call(70.0, 0.9, DEFAULT) and close_call(84.0, 0.9, DEFAULT)
    # clear passes: both numbers beyond their margins
    assert not close_call(85.0, 0.55, DEFAULT) and not close_call(97.0, 0.9, DEFAULT)
    # clear fails: one number far below its threshold, whatever the other
    assert not close_call(64.0, 0.5, DEFAULT) and not close_call(90.0, 0.44, DEFAULT)
    assert not close_call(10.0, 0.0, DEFAULT)
    # the margins follow the request's thresholds
    strict = Thresholds(min_video_score=90.0, min_duration_ratio=0.7)
    assert close_call(85.0, 0.9, strict) and not close_call(79.0, 0.9, strict)
    assert close_call(100.0, 0.72, strict) and not close_call(100.0, 0.9, strict)
    assert not close_call(100.0, 0.64, strict)
    assert not close_call(90.0, 0.52, DEFAULT, Margins(score=0.0, ratio=0.0))


def test_rounds_add_two_answers_up_to_the_most() -> None:
    assert stages(5) == (1, 3, 5)
    assert stages(4) == (1, 3, 4)
    assert stages(2) == (1, 2)
    assert stages(9) == (1, 3, 5, 7, 9)


def _parsed(answer: Dict[str, Any]) -> Any:
    request = build_videos_request(["a" * 24], SOURCES, CLASSES)
    return parse_answer(answer["text"], classes=request.classes, duration=100.0)


def test_undecided_names_the_close_class() -> None:
    request = build_videos_request(["a" * 24], SOURCES, CLASSES)
    close, clear = _parsed(CLOSE), _parsed(CLEAR)
    assert undecided([close], {}, 100.0, request) == ["DanceTok"]  # ratio 0.5: resample
    assert undecided([clear], {}, 100.0, request) == []  # ratio 0.9, confident: do not
    assert undecided([None], {}, 100.0, request) == []  # nothing readable: nothing to vote on
    # the vote decides: two clear answers of three move the median ratio to 0.9
    assert undecided([close, clear, clear], {}, 100.0, request) == []
    assert undecided([close, close, clear], {}, 100.0, request) == ["DanceTok"]
    # at a threshold far from 0.5 the same answer is no close call
    loose = build_videos_request(["a" * 24], SOURCES, CLASSES, threshold={"min_duration_ratio": 0.25})
    assert undecided([close], {}, 100.0, loose) == []


# ------------------------------------------------------------------ the setting


@pytest.mark.parametrize(("value", "expected"), [
    ("auto", (5, True)), ("AUTO", (5, True)), ("auto:3", (3, True)), (" auto:9 ", (9, True)),
    ("auto:2", (2, True)), (1, (1, False)), (4, (4, False)),
])
def test_setting_values(value: Any, expected: Any) -> None:
    config = ClientConfig.build(KEY, "v1.2", classify_backend="pegasus", base_url=None, timeout=None,
                                max_retries=0, samples=value, cache=False)
    assert (config.samples, config.adaptive_samples) == expected


@pytest.mark.parametrize("bad", ["auto:1", "auto:0", f"auto:{MAX_SAMPLES + 1}", "auto:", "auto:x", "adaptive",
                                 "3", "", 0, 2.5, True, ["auto"]])
def test_bad_setting_values_raise_the_legacy_error(bad: Any) -> None:
    with pytest.raises(TwelveLabsError, match="samples"):
        TwelveLabs(api_key=KEY, classify_backend="pegasus", samples=bad, cache=False)


def test_setting_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWELVELABS_CLASSIFY_SAMPLES", "auto:3")
    with TwelveLabs(api_key=KEY, classify_backend="pegasus", cache=False) as client:
        assert (client.config.samples, client.config.adaptive_samples) == (3, True)
        assert client.config.samples_setting == "auto:3"
    monkeypatch.setenv("TWELVELABS_CLASSIFY_SAMPLES", "5")
    with TwelveLabs(api_key=KEY, classify_backend="pegasus", cache=False) as client:
        assert (client.config.samples_setting, client.config.adaptive_samples) == (5, False)
    for bad in ("auto:1", "auto:99", "some"):
        monkeypatch.setenv("TWELVELABS_CLASSIFY_SAMPLES", bad)
        with pytest.raises(TwelveLabsError, match="TWELVELABS_CLASSIFY_SAMPLES"):
            TwelveLabs(api_key=KEY, classify_backend="pegasus", cache=False)


# ------------------------------------------------------------------ through the sandbox


def _analyze(sb: Sandbox) -> List[Dict[str, Any]]:
    return [r for r in sb.requests() if r["endpoint"] == "v1.3.analyze"]


def _client(sb: Sandbox, cache: Path, **kwargs: Any) -> TwelveLabs:
    kwargs.setdefault("strategy", "sync")
    return TwelveLabs(api_key=KEY, classify_backend="pegasus", base_url=sb.base_url, max_retries=0,
                      cache=cache, **kwargs)


def _per_video(calls: List[Dict[str, Any]]) -> Dict[str, int]:
    out: Dict[str, int] = {}
    for c in calls:
        out[c["video"]] = out.get(c["video"], 0) + 1
    return out


def test_calls_per_video_and_reuse(sandbox_factory: Callable[..., Sandbox], tmp_path: Path) -> None:
    """Video ``sure``: one clear answer, one call. Video ``settles``: a close first answer, then
    two clear ones: three calls. Video ``stays``: close three times: five calls (the most)."""
    sb = sandbox_factory(scripted_world([
        [CLEAR, CLEAR, CLEAR, CLEAR, CLEAR],
        [CLOSE, CLEAR, CLEAR, CLOSE, CLOSE],
        [CLOSE, CLOSE, CLOSE, CLEAR, CLEAR],
    ]))
    sure, settles, stays = video_ids(sb)
    cache = tmp_path / "c.sqlite3"
    request = build_videos_request([sure, settles, stays], SOURCES, CLASSES)
    with _client(sb, cache, samples="auto") as client:
        before = client._backend.estimate(request, RequestOptions())  # type: ignore[attr-defined]
        assert _analyze(sb) == []
        assert (before.questions, before.cached, before.at_most) == (3, 0, 3 * 4)
        adaptive = client.classify.videos([sure, settles, stays], SOURCES, CLASSES)
        stats = client._backend.last_run  # type: ignore[attr-defined]
    assert adaptive.errors == []
    # CLOSE passes at ratio 0.5 (75 / 0.5) and CLEAR passes: every video has DanceTok
    assert {v.video_id for v in adaptive.data} == {sure, settles, stays}
    assert _per_video(_analyze(sb)) == {sure: 1, settles: 3, stays: 5}
    assert stats.analyze_calls == 9 and stats.resampled == 2 and stats.adaptive
    sb.clear_requests()

    with _client(sb, cache, samples="auto") as client:  # a rerun costs nothing
        after = client._backend.estimate(request, RequestOptions())  # type: ignore[attr-defined]
        again = client.classify.videos([sure, settles, stays], SOURCES, CLASSES)
        stats = client._backend.last_run  # type: ignore[attr-defined]
    assert _analyze(sb) == []
    assert (after.questions, after.cached, after.at_most) == (9, 9, 0)
    assert again.data == adaptive.data and stats.resampled == 2 and stats.analyze_calls == 0

    # each video is answered as samples=n answers it, n its number of answers (no call)
    by_video = {v.video_id: v for v in adaptive.data}
    for vid, n in ((sure, 1), (settles, 3), (stays, 5)):
        with _client(sb, cache, samples=n) as client:
            alone = client.classify.videos([vid], SOURCES, CLASSES)
        assert alone.data == [by_video[vid]]
    assert _analyze(sb) == []

    # adaptive -> samples=5 pays only the answers not yet asked: 4 + 2 + 0
    with _client(sb, cache, samples=5) as client:
        client.classify.videos([sure, settles, stays], SOURCES, CLASSES)
    assert _per_video(_analyze(sb)) == {sure: 4, settles: 2}


def test_samples_three_then_adaptive_reuses_them(sandbox_factory: Callable[..., Sandbox], tmp_path: Path) -> None:
    sb = sandbox_factory(scripted_world([[CLOSE, CLOSE, CLOSE, CLEAR, CLEAR], [CLEAR, CLEAR, CLEAR, CLEAR, CLEAR]]))
    stays, sure = video_ids(sb)
    cache = tmp_path / "c.sqlite3"
    with _client(sb, cache, samples=3) as client:
        client.classify.videos([stays, sure], SOURCES, CLASSES)
    assert len(_analyze(sb)) == 6
    sb.clear_requests()
    with _client(sb, cache, samples="auto:5") as client:  # the first three answers are paid for
        client.classify.videos([stays, sure], SOURCES, CLASSES)
    assert _per_video(_analyze(sb)) == {stays: 2}


def test_lab_identical_answers_never_settle_a_close_call() -> None:
    """The lab's client path with five identical answers per video: a close call stays
    one after every round (the vote of copies is the copy), so each video is asked once or five
    times, never three; and the decisions are the single answer's."""
    from classify_shim.lab import SimConfig, make_world, run_backend, run_backend_counted, simulate_answers

    world = make_world(5, 12)
    copies = simulate_answers(world, SimConfig().with_(sample_correlation=1.0), 0, 5)
    at = (75.0, 0.5)
    single, one_call_each = run_backend_counted(world, {v: a[:1] for v, a in copies.items()}, "pegasus",
                                                threshold=at)
    adaptive, calls = run_backend_counted(world, copies, "pegasus", samples="auto", threshold=at)
    assert one_call_each == len(world.videos)
    assert set(adaptive) == set(single)
    resampled = (calls - len(world.videos)) / 4
    assert resampled == int(resampled) and 0 < resampled < len(world.videos)
    assert run_backend(world, copies, "pegasus", samples=5, threshold=at).keys() == single.keys()


def test_batch_rounds(sandbox_factory: Callable[..., Sandbox], tmp_path: Path) -> None:
    """With ``strategy="batch"`` each round is a batch: the first answers of both videos, then
    the two more the close call needs, then the last two."""
    sb = sandbox_factory(scripted_world([[CLEAR, CLEAR, CLEAR], [CLOSE, CLOSE, CLOSE, CLEAR, CLEAR]]))
    with _client(sb, tmp_path / "c.sqlite3", samples="auto", strategy="batch") as client:
        result = client.classify.videos(video_ids(sb), SOURCES, CLASSES)
        stats = client._backend.last_run  # type: ignore[attr-defined]
    assert result.errors == []
    creates = [r for r in sb.requests() if r["endpoint"] == "v1.3.batches.create"]
    assert [c["items"] for c in creates] == [2, 2, 2]
    assert _analyze(sb) == [] and stats.batch_items == 6 and stats.resampled == 1
