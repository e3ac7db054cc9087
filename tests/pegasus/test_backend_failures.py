"""Bad answers, failing calls and rate limits: retried once (or backed off), then reported.

Every requested video ends in the result pages, among the videos with no passing class, or in
``result.errors`` with one ``PartialResultWarning`` per call; never silently dropped.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Set

import httpx
import pytest

from classify_shim import PartialResultWarning, TwelveLabs
from classify_shim._http import Pacing
from classify_shim.adapters.pegasus import _v13
from classify_shim.sandbox import Sandbox, default_world
from legacy_support import paced_client

from .conftest import video_ids

KEY = "tlk_pegasus_failures_01"
CLASSES = [
    {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group", "Dance competition"]},
    {"name": "CookTok", "prompts": ["Cooking tutorial", "Cooking ustensils review"]},
]
TRUNCATED = '{"classes":[{"name":"DanceTok","present":true,"confidence":90,"segments":[]},{"name":"CookTok","pre'


def _world(scripted: Optional[List[Dict[str, Any]]] = None, **changes: Any) -> Dict[str, Any]:
    world = copy.deepcopy(default_world())
    world["indexes"] = [world["indexes"][0]]
    world["indexes"][0]["videos"] = world["indexes"][0]["videos"][:4]
    if scripted is not None:
        world["indexes"][0]["videos"][0]["scripted_answers"] = scripted
    world.update(changes)
    return world


def _analyze(sb: Sandbox, video: Optional[str] = None) -> List[Dict[str, Any]]:
    return [r for r in sb.requests() if r["endpoint"] == "v1.3.analyze" and (video is None or r.get("video") == video)]


def _client(sb: Sandbox, tmp_path: Path, pacing: Optional[Pacing] = None, **kwargs: Any) -> TwelveLabs:
    kwargs.setdefault("cache", tmp_path / "c.sqlite3")
    kwargs.setdefault("max_retries", 0)
    # These figures are pegasus1.2's (its 4,096-token maximum, video_id bodies): pinned explicitly.
    kwargs.setdefault("pegasus_model", "pegasus1.2")
    if pacing is not None:
        client: TwelveLabs = paced_client(pacing, api_key=KEY, classify_backend="pegasus", base_url=sb.base_url, **kwargs)
        return client
    return TwelveLabs(api_key=KEY, classify_backend="pegasus", base_url=sb.base_url, **kwargs)


def _classify(client: TwelveLabs, ids: List[str], **kwargs: Any) -> Any:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = client.classify.videos(ids, ["visual", "conversation"], CLASSES, page_limit=50, **kwargs)
    partial = [w for w in caught if issubclass(w.category, PartialResultWarning)]
    return result, partial


def _accounted(result: Any, ids: List[str], sb: Sandbox) -> None:
    """Every requested video is in data, among the no-pass videos (answered), or in errors."""
    in_data = {d.video_id for d in result.data}
    failed = {e.video_id for e in result.errors}
    answered = {r["video"] for r in _analyze(sb) if r["status"] == 200}
    assert set(ids) <= in_data | failed | answered


def _max_tokens_seen(bodies: List[Dict[str, Any]], video: str) -> List[int]:
    return [b["max_tokens"] for b in bodies if b.get("video_id") == video]


def _capture(bodies: List[Dict[str, Any]]) -> httpx.Client:
    def hook(request: httpx.Request) -> None:
        if request.url.path.endswith("/analyze"):
            bodies.append(json.loads(request.content))

    return httpx.Client(event_hooks={"request": [hook]})


def test_truncated_twice_is_retried_with_a_bigger_budget_then_reported(sandbox_factory: Any, tmp_path: Path) -> None:
    scripted = [{"text": TRUNCATED, "finish_reason": "length"}] * 2
    sb = sandbox_factory(_world(scripted))
    ids = video_ids(sb)
    bodies: List[Dict[str, Any]] = []
    with _capture(bodies) as http, _client(sb, tmp_path, http_client=http) as client:
        result, partial = _classify(client, ids)
    bad = ids[0]
    assert len(_analyze(sb, bad)) == 2
    budgets = _max_tokens_seen(bodies, bad)
    assert len(budgets) == 2 and budgets[1] > budgets[0]
    assert [e.video_id for e in result.errors] == [bad]
    failure = result.errors[0]
    assert failure.stage == "parse" and failure.attempts == 2
    assert "truncated" in failure.message and "CookTok" in failure.message
    assert len(partial) == 1 and bad in str(partial[0].message)
    # The other videos are unaffected: one call each, classified.
    assert all(len(_analyze(sb, v)) == 1 for v in ids[1:])
    _accounted(result, ids, sb)


def test_truncated_answers_are_not_cached(sandbox_factory: Any, tmp_path: Path) -> None:
    scripted = [{"text": TRUNCATED, "finish_reason": "length"}] * 2
    sb = sandbox_factory(_world(scripted))
    ids = video_ids(sb)
    with _client(sb, tmp_path) as client:
        first, _ = _classify(client, ids)
        assert len(first.errors) == 1
        sb.clear_requests()
        second, partial = _classify(client, ids)
    # Only the failed video is asked again (the model now answers in full); the rest come from the cache.
    assert [r["video"] for r in _analyze(sb)] == [ids[0]]
    assert second.errors == [] and partial == []


def test_truncated_once_then_complete(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory(_world([{"text": TRUNCATED, "finish_reason": "length"}]))
    ids = video_ids(sb)
    with _client(sb, tmp_path) as client:
        result, partial = _classify(client, ids)
    assert result.errors == [] and partial == []
    assert len(_analyze(sb, ids[0])) == 2
    assert ids[0] in {d.video_id for d in result.data}  # the dance tutorial passes DanceTok


def test_truncated_at_the_maximum_budget_is_split_in_two(sandbox_factory: Any, tmp_path: Path) -> None:
    """At the model's max_tokens a bigger budget is impossible: the retry asks for half the classes each.

    A 20-minute video and seven prompts put the first budget at pegasus1.2's 4,096 tokens (each
    half's is below it): real inputs, no patched budget rule."""
    world = _world([{"text": TRUNCATED, "finish_reason": "length"}])
    world["indexes"][0]["videos"][0]["duration"] = 1200.0
    sb = sandbox_factory(world)
    ids = video_ids(sb)[:1]
    classes = [
        {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group", "Dance competition", "Dance battle"]},
        {"name": "CookTok", "prompts": ["Cooking tutorial", "Cooking ustensils review", "Kitchen tour"]},
    ]
    bodies: List[Dict[str, Any]] = []
    with _capture(bodies) as http, _client(sb, tmp_path, http_client=http) as client, \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = client.classify.videos(ids, ["visual", "conversation"], classes, page_limit=50)
    partial = [w for w in caught if issubclass(w.category, PartialResultWarning)]
    assert [b["max_tokens"] for b in bodies[:1]] == [4096], "the first call was not at the model's maximum"
    assert len(bodies) == 3
    prompts = [b["prompt"] for b in bodies[1:]]
    assert "DanceTok" in prompts[0] and "CookTok" not in prompts[0].split("CLASSES_JSON:")[1]
    assert "CookTok" in prompts[1] and "DanceTok" not in prompts[1].split("CLASSES_JSON:")[1]
    assert all(b["max_tokens"] < 4096 for b in bodies[1:])
    assert result.errors == [] and partial == []


def test_invalid_answer_is_retried_once(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory(_world([{"text": "I'm sorry, I cannot classify this video."}]))
    ids = video_ids(sb)
    with _client(sb, tmp_path) as client:
        result, partial = _classify(client, ids)
    assert result.errors == [] and partial == []
    assert len(_analyze(sb, ids[0])) == 2


def test_invalid_twice_is_reported_and_the_rest_survive(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory(_world([{"text": "no idea"}, {"text": "[1, 2, 3]"}]))
    ids = video_ids(sb)
    with _client(sb, tmp_path) as client:
        result, partial = _classify(client, ids)
    assert [(e.video_id, e.stage, e.attempts) for e in result.errors] == [(ids[0], "parse", 2)]
    assert "left out of the result" in result.errors[0].message
    assert ids[0] not in {d.video_id for d in result.data}
    assert len(partial) == 1
    assert {d.video_id for d in result.data} & set(ids[1:])
    _accounted(result, ids, sb)


def test_a_video_the_api_refuses_is_reported(sandbox_factory: Any, tmp_path: Path) -> None:
    """An index without Pegasus makes /analyze answer 400 for its videos only."""
    world = _world()
    extra = copy.deepcopy(default_world()["indexes"][1])
    extra["models"] = [{"model_name": "marengo2.7", "model_options": ["visual", "audio"]}]
    extra["videos"] = extra["videos"][:1]
    world["indexes"].append(extra)
    sb = sandbox_factory(world)
    ids = video_ids(sb)
    with _client(sb, tmp_path) as client:
        result, partial = _classify(client, ids)
    refused = extra["videos"][0]["_id"]
    assert [(e.video_id, e.stage) for e in result.errors] == [(refused, "analyze")]
    assert "index_not_supported_for_generate" in result.errors[0].message
    assert len(partial) == 1
    _accounted(result, ids, sb)


def test_errors_follow_the_result_across_pages(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory(_world([{"text": "no"}, {"text": "still no"}]))
    ids = video_ids(sb)
    with _client(sb, tmp_path) as client, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = client.classify.videos(ids, ["visual", "conversation"], CLASSES, page_limit=1)
        page = client.classify.by_page_token(result.page_info.next_page_token)
    assert [e.video_id for e in page.errors] == [ids[0]]


def test_429_storm_loses_no_video(sandbox_factory: Any, tmp_path: Path) -> None:
    world = copy.deepcopy(default_world())
    sb = sandbox_factory(world, rate_limit_rpm=3, rate_limit_window_s=1.0)  # a 1-second window keeps it short
    ids = video_ids(sb)[:8]
    with _client(sb, tmp_path, max_retries=2) as client:
        result, partial = _classify(client, ids)
    statuses = [r["status"] for r in _analyze(sb)]
    assert 429 in statuses, "the storm did not happen"
    assert result.errors == [] and partial == []
    assert sorted(r["video"] for r in _analyze(sb) if r["status"] == 200) == sorted(ids)
    _accounted(result, ids, sb)


@pytest.mark.parametrize("max_retries", [0, 2])
def test_endless_429_ends_in_video_failures(sandbox_factory: Any, tmp_path: Path, max_retries: int) -> None:
    """ONE retry layer: each video's /analyze call is sent at most 1 + max_retries times."""
    sb = sandbox_factory(_world(), rate_limit_rpm=1, rate_limit_window_s=3600.0)  # the quota never comes back
    ids = video_ids(sb)
    # 10-ms waits: the retries' and the rate gate's (the figure is the number of sends, not the waits)
    pacing = Pacing(rate_limit_max_wait=0.01, adjust=lambda wait: 0.01)
    with _client(sb, tmp_path, max_retries=max_retries, pacing=pacing) as client:
        result, partial = _classify(client, ids)
    ok = {r["video"] for r in _analyze(sb) if r["status"] == 200}
    assert len(ok) == 1
    failed = {e.video_id for e in result.errors}
    assert failed == set(ids) - ok
    assert all(e.stage == "analyze" and "RateLimitError" in e.message for e in result.errors)
    assert len(partial) == 1
    sent_429 = [r for r in _analyze(sb) if r["status"] == 429]
    assert len(sent_429) == len(failed) * (1 + max_retries)  # was up to 21 per video (two layers)


def test_progress_callback_sees_every_video(sandbox_factory: Any, tmp_path: Path) -> None:
    from classify_shim.adapters.pegasus import Progress

    sb = sandbox_factory(_world([{"text": "x"}, {"text": "y"}]))
    ids = video_ids(sb)
    seen: List[Progress] = []
    with _client(sb, tmp_path, on_progress=seen.append) as client:
        _classify(client, ids)
        _classify(client, ids)
    first, second = seen[: len(ids)], seen[len(ids):]
    assert [p.done for p in first] == list(range(1, len(ids) + 1))
    assert {p.total for p in seen} == {len(ids)}
    assert {p.video_id for p in first} == set(ids)
    status = {p.video_id: p.status for p in first}
    assert status[ids[0]] == "failed" and {status[v] for v in ids[1:]} == {"analyzed"}
    assert {p.status for p in second if p.video_id != ids[0]} == {"cached"}
    with pytest.raises(dataclasses.FrozenInstanceError):
        first[0].done = 99  # type: ignore[misc]


def test_failing_progress_callback_does_not_break_the_call(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory(_world())

    def broken(progress: Any) -> None:
        raise RuntimeError("user bug")

    with _client(sb, tmp_path, on_progress=broken) as client:
        result, partial = _classify(client, video_ids(sb))
    assert result.errors == [] and partial == []
    assert result.data


def test_logging_reports_progress(sandbox_factory: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sb = sandbox_factory(_world())
    ids = video_ids(sb)
    with caplog.at_level("INFO", logger="classify_shim.pegasus"), _client(sb, tmp_path) as client:
        _classify(client, ids)
    lines = [r.getMessage() for r in caplog.records if r.name == "classify_shim.pegasus"]
    assert any(f"({len(ids)}/{len(ids)})" in line for line in lines)
    assert any(line.startswith("classified ") for line in lines)
    assert KEY not in caplog.text


def _threads() -> Set[str]:
    import threading

    return {t.name for t in threading.enumerate()}


def test_sync_client_inside_a_running_event_loop_leaks_nothing(sandbox_factory: Any, tmp_path: Path) -> None:
    import asyncio

    sb = sandbox_factory(_world())
    ids = video_ids(sb)
    before = _threads()

    async def handler() -> Any:
        with _client(sb, tmp_path) as client:  # a sync client used from async code (Jupyter-like)
            return _classify(client, ids)

    result, _partial = asyncio.run(handler())
    assert result.errors == [] and result.data
    assert not any(name.startswith("classify-shim-pegasus") for name in _threads() - before)


def test_async_client(sandbox_factory: Any, tmp_path: Path) -> None:
    import asyncio

    from classify_shim import AsyncTwelveLabs

    sb = sandbox_factory(_world([{"text": "x"}, {"text": "y"}]))
    ids = video_ids(sb)

    async def main() -> Any:
        async with AsyncTwelveLabs(
            api_key=KEY, classify_backend="pegasus", base_url=sb.base_url, cache=tmp_path / "c.sqlite3"
        ) as client:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = await client.classify.videos(ids, ["visual"], CLASSES, page_limit=1)
                pages = [result.data]
                async for data in result:
                    pages.append(data)
            return result, pages, caught

    result, pages, caught = asyncio.run(main())
    assert [e.video_id for e in result.errors] == [ids[0]]
    assert sum(1 for w in caught if issubclass(w.category, PartialResultWarning)) == 1
    assert len(_analyze(sb)) == len(ids) + 1  # one retry for the scripted bad answer
    assert sum(len(p) for p in pages[1:]) == result.page_info.total_results


def test_rate_gate_paces_but_never_resends(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit: the gate makes each call once, halves on 429, grows on success, honours headers."""
    import asyncio

    from classify_shim._exceptions import RateLimitError

    slept: List[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    def limited(retry_after: Optional[str]) -> RateLimitError:
        headers = {"retry-after": retry_after} if retry_after is not None else {}
        request = httpx.Request("POST", "http://x/v1.3/analyze")
        return RateLimitError("429", response=httpx.Response(429, headers=headers, request=request), body=None)

    gate = _v13.RateGate(8, base_delay=0.5, max_delay=2.0, sleep=fake_sleep)
    assert gate.limit == 8 and gate.cap == 8
    calls = 0

    async def always_429() -> int:
        nonlocal calls
        calls += 1
        exc = limited("0.25")
        gate.observe_answer(429, exc.response.headers)  # what the HTTP layer reports
        raise exc

    with pytest.raises(RateLimitError):
        asyncio.run(gate.run(always_429))
    assert calls == 1 and gate.limit == 4 and gate.rate_limited == 1
    with pytest.raises(RateLimitError):
        asyncio.run(gate.run(always_429))
    assert calls == 2 and gate.limit == 2
    assert slept and all(0 < s <= 0.25 for s in slept)  # the second call waited for the pause

    async def ok() -> int:
        return 7

    for _ in range(3):
        assert asyncio.run(gate.run(ok)) == 7
    assert gate.limit >= 3  # grows back after a run of successes

    gate.observe({"X-Ratelimit-Limit": "3"})
    assert gate.cap == 3 and gate.limit <= 3
    default = _v13.RateGate(None)
    assert default.limit == _v13.DEFAULT_CONCURRENCY


def test_partial_warning_can_be_silenced_by_the_owner(sandbox_factory: Any, tmp_path: Path) -> None:
    """Shadow mode never shows Pegasus results to the caller, so it turns the warning off."""
    sb = sandbox_factory(_world([{"text": "x"}, {"text": "y"}]))
    with _client(sb, tmp_path) as client:
        client._backend.warn_partial_results = False  # type: ignore[attr-defined]
        result, partial = _classify(client, video_ids(sb))
    assert partial == [] and [e.video_id for e in result.errors] == [video_ids(sb)[0]]
