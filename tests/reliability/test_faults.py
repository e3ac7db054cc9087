"""Fault injection over loopback: what the client does when the API misbehaves.

Every test states the figure it checks, taken from the sandbox's request log (``Sandbox.requests()``)
and the result: requests made, retries (bounded by ``max_retries`` + the rate gate's attempts), and
for each requested video whether it was classified, or reported in ``result.errors`` — never
silently lost, never an unhandled exception. The classes used cover every topic of the synthetic
world, so any analyzed video passes: "lost" is exactly "requested - returned - reported".

Waits the figure is not about (5xx backoff) are shortened through the client's own ``Pacing``
(the delay asked for is recorded first); rate-limit tests keep real waits with a 1-second sandbox
window (``Sandbox(rate_limit_window_s=1.0)``). Nothing is patched for the whole process.

    pytest -m faults
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import httpx
import pytest

from classify_shim import (
    APIConnectionError,
    APIError,
    APIStatusError,
    BackendSwitchWarning,
    BadRequestError,
    ClassifyValidationError,
    PartialResultWarning,
    RateLimitError,
    TwelveLabs,
)
from classify_shim._backend import VideoFailure
from classify_shim._http import Pacing
from classify_shim.sandbox import Sandbox, synthetic_world
from legacy_support import API_KEY, paced_client
from reliability._support import (
    CuttingProxy,
    StripRateLimitHints,
    count,
    reset_log,
    settled_requests,
    statuses,
)

pytestmark = [
    pytest.mark.faults,
    pytest.mark.filterwarnings("ignore::classify_shim.ClassifyDeprecationWarning"),
]

OPTIONS = ["visual", "conversation", "text_in_video"]
# One class per topic of synthetic_world: every video that is analyzed passes.
CLASSES: List[Dict[str, Any]] = [
    {"name": "Dance", "prompts": ["dance tutorial", "dance group", "dance competition"]},
    {"name": "Cook", "prompts": ["cooking tutorial", "kitchen utensils review"]},
    {"name": "Soccer", "prompts": ["soccer players score a goal"]},
    {"name": "News", "prompts": ["news anchor reads the headlines"]},
    {"name": "Travel", "prompts": ["traveler walks through a market"]},
    {"name": "Gaming", "prompts": ["streamer plays a racing game"]},
]
ANALYZE = "v1.3.analyze"
CLASSIFY = "v1.2.classify"


def world(n: int, seed: int = 11) -> Dict[str, Any]:
    return synthetic_world(n, seed=seed)


def video_ids(w: Dict[str, Any]) -> List[str]:
    return [v["_id"] for ix in w["indexes"] for v in ix["videos"]]


@dataclass
class Outcome:
    """Everything a classify call returned, all pages walked."""

    returned: List[str]
    failures: List[VideoFailure]
    caught: List[warnings.WarningMessage] = field(default_factory=list)

    @property
    def failed(self) -> List[str]:
        return [f.video_id for f in self.failures]

    def partial_warnings(self) -> int:
        return sum(1 for w in self.caught if issubclass(w.category, PartialResultWarning))


def run(client: TwelveLabs, method: str, *args: Any, **kwargs: Any) -> Outcome:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = getattr(client.classify, method)(*args, **kwargs)
        returned = [d.video_id for d in result.data]
        for page in result:
            returned += [d.video_id for d in page]
    return Outcome(returned, list(result.errors), list(caught))


def figure(name: str, **values: Any) -> None:
    """The measured figure, shown by ``pytest -m faults -rP`` (docs/reliability.md quotes it)."""
    print(f"FIGURE {name}: " + ", ".join(f"{k}={v}" for k, v in values.items()))


def assert_accounted(requested: List[str], out: Outcome) -> None:
    """Every requested video is in the results or in result.errors; none twice in the results."""
    lost = set(requested) - set(out.returned) - set(out.failed)
    assert not lost, f"{len(lost)} of {len(requested)} video(s) silently lost: {sorted(lost)[:5]}"
    assert len(out.returned) == len(set(out.returned)), "a video appears twice in the results"
    assert set(out.returned) | set(out.failed) <= set(requested), "results name videos that were not asked for"
    if out.failures:
        assert out.partial_warnings() == 1, f"{len(out.failures)} failure(s) but {out.partial_warnings()} warnings"
    else:
        assert out.partial_warnings() == 0


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """Dedicated sandboxes (a fresh fault RNG, rate-limit window and log per test)."""
    made: List[Sandbox] = []

    def make(**kwargs: Any) -> Sandbox:
        sb = Sandbox(**kwargs).start()
        made.append(sb)
        return sb

    yield make
    for sb in made:
        sb.stop()


@pytest.fixture
def pacing() -> Dict[str, Pacing]:
    """The waits this test's clients get (``make_client`` reads it; the fixtures below set it)."""
    return {}


@pytest.fixture
def make_client(pacing: Dict[str, Pacing]) -> Iterator[Callable[..., TwelveLabs]]:
    made: List[TwelveLabs] = []

    def make(base_url: str, backend: str, **kwargs: Any) -> TwelveLabs:
        kwargs.setdefault("cache", False)
        chosen = pacing.get("pacing")
        if chosen is None:
            client = TwelveLabs(API_KEY, classify_backend=backend, base_url=base_url, **kwargs)  # type: ignore[arg-type]
        else:
            client = paced_client(chosen, API_KEY, classify_backend=backend, base_url=base_url, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def retry_waits(pacing: Dict[str, Pacing]) -> List[float]:
    """Delays the HTTP layer asked for (honouring Retry-After etc.), each then shortened to 5 ms."""
    asked: List[float] = []

    def shorten(wait: float) -> float:
        asked.append(wait)
        return 0.005

    pacing["pacing"] = Pacing(adjust=shorten)
    return asked


@pytest.fixture
def recorded_waits(pacing: Dict[str, Pacing]) -> List[float]:
    """Delays the HTTP layer asked for, kept as they are (the figure is about waiting)."""
    asked: List[float] = []

    def record(wait: float) -> float:
        asked.append(wait)
        return wait

    pacing["pacing"] = Pacing(adjust=record)
    return asked


ONE_SECOND_WINDOW = 1.0
"""The sandbox's rate-limit window in these tests (60 s by default): Retry-After: 1, its minimum."""


# ----------------------------------------------------------------------------------- 429 storms


def test_429_storm_with_retry_after_every_video_analyzed_once(
    make_sandbox: Callable[..., Sandbox], make_client: Callable[..., TwelveLabs], recorded_waits: List[float]
) -> None:
    """Figure: 8 videos at 3 analyze calls per window -> exactly 8 successful analyze calls (no
    duplicate work), >= 1 429 received and retried, 0 failed, and every retry waited at least the
    1 s the sandbox's Retry-After asked for.

    Why no video can fail, whatever the machine's speed: Retry-After is a whole number of seconds,
    at least the 1-s window, so one video's tries fall in disjoint windows; a try is refused only
    when 3 *other* calls succeeded in its window, and each video succeeds once. A video refused k
    times therefore saw 3k of the 7 other videos succeed: k <= 2, so 3 tries (max_retries=2)
    always suffice. (With 2 tries a retry could lose the race for the window to calls the rate
    gate released at the same moment: that was timing, not behaviour.)"""
    w = world(8)
    sb = make_sandbox(world=w, rate_limit_rpm=3, rate_limit_window_s=ONE_SECOND_WINDOW)
    client = make_client(sb.base_url, "pegasus", max_retries=2, max_concurrency=4)
    out = run(client, "videos", video_ids(w), OPTIONS, CLASSES, page_limit=50)
    log = settled_requests(sb, until=lambda e: statuses(e, ANALYZE)[200] >= 8)
    codes = statuses(log, ANALYZE)
    figure("429 storm with Retry-After", videos=8, analyze_200=codes[200], analyze_429=codes[429],
           failed=len(out.failures), min_wait_s=min(recorded_waits, default=None))
    assert codes[200] == 8, f"{codes[200]} successful analyze calls for 8 videos: {dict(codes)}"
    assert codes[429] >= 1, f"the storm did not happen: {dict(codes)}"
    assert set(codes) == {200, 429}
    assert out.failures == [], f"videos failed under a storm the client should absorb: {out.failures}"
    assert sorted(out.returned) == sorted(video_ids(w))
    assert_accounted(video_ids(w), out)
    assert recorded_waits and min(recorded_waits) >= 1.0, f"a retry did not honour Retry-After: {recorded_waits}"
    # bounded: at most 2 refusals per video (see above)
    assert codes[429] <= 8 * 2


def test_429_storm_without_any_hint_falls_back_to_bounded_backoff(
    make_sandbox: Callable[..., Sandbox], make_client: Callable[..., TwelveLabs]
) -> None:
    """Figure: the sandbox's 429s reach the client with Retry-After and X-Ratelimit-* removed;
    4 videos at 2 calls per window still end as 4 successful analyze calls, 0 failed."""
    w = world(4, seed=12)
    sb = make_sandbox(world=w, rate_limit_rpm=2, rate_limit_window_s=ONE_SECOND_WINDOW)
    strip = StripRateLimitHints()
    client = make_client(sb.base_url, "pegasus", max_retries=2, max_concurrency=4,
                         http_client=httpx.Client(transport=strip))
    out = run(client, "videos", video_ids(w), OPTIONS, CLASSES)
    log = settled_requests(sb, until=lambda e: statuses(e, ANALYZE)[200] >= 4)
    codes = statuses(log, ANALYZE)
    figure("429 storm without hints", videos=4, analyze_200=codes[200], analyze_429=codes[429],
           stripped=strip.stripped, failed=len(out.failures))
    assert codes[429] >= 1 and strip.stripped >= codes[429], f"no hint-less 429 reached the client: {dict(codes)}"
    assert codes[200] == 4, dict(codes)
    assert out.failures == []
    assert_accounted(video_ids(w), out)


def test_429_on_the_legacy_endpoint_is_retried_until_the_window_resets(
    make_sandbox: Callable[..., Sandbox], make_client: Callable[..., TwelveLabs], recorded_waits: List[float]
) -> None:
    """Figure: v1.2 answers 429 with an empty body and X-Ratelimit-Reset (no Retry-After). 4 calls
    at 2 per window: 4 results, requests = 4 + the 429s, each call <= max_retries + 1 attempts."""
    sb = make_sandbox(rate_limit_rpm=2, rate_limit_window_s=ONE_SECOND_WINDOW)
    client = make_client(sb.base_url, "legacy", max_retries=3)
    vids = [v["_id"] for v in sb.world["indexes"][0]["videos"]][:4]
    results = [run(client, "videos", [vid], OPTIONS, CLASSES) for vid in vids]
    log = settled_requests(sb, until=lambda e: statuses(e, CLASSIFY)[200] >= 4)
    codes = statuses(log, CLASSIFY)
    figure("v1.2 429s", calls=4, classify_200=codes[200], classify_429=codes[429],
           max_wait_s=round(max(recorded_waits, default=0), 2))
    assert codes[200] == 4 and codes[429] >= 1, dict(codes)
    assert count(log, CLASSIFY) == 4 + codes[429]
    assert codes[429] <= 4 * 3
    assert all(r.returned == [vid] for r, vid in zip(results, vids))
    assert recorded_waits and all(0 < w <= 2.5 for w in recorded_waits), recorded_waits


def test_429_retries_are_bounded_by_max_retries(
    make_sandbox: Callable[..., Sandbox], make_client: Callable[..., TwelveLabs]
) -> None:
    """Figure: with max_retries=0 a second call inside the window makes exactly 1 request and
    raises RateLimitError (the legacy type), not an endless retry."""
    sb = make_sandbox(rate_limit_rpm=1)
    client = make_client(sb.base_url, "legacy", max_retries=0)
    vid = sb.world["indexes"][0]["videos"][0]["_id"]
    run(client, "videos", [vid], OPTIONS, CLASSES)
    with pytest.raises(RateLimitError):
        client.classify.videos([vid], OPTIONS, CLASSES)
    log = settled_requests(sb, at_least=2)
    assert [e["status"] for e in log if e["endpoint"] == CLASSIFY] == [200, 429]


# ------------------------------------------------------------------------------------ 5xx bursts


def test_5xx_burst_longer_than_the_retry_budget_raises_after_exactly_max_retries_plus_one(
    make_sandbox: Callable[..., Sandbox], make_client: Callable[..., TwelveLabs], retry_waits: List[float]
) -> None:
    """Figure: every request fails (500/502/503 or dropped); max_retries=2 -> exactly 3 requests,
    then a legacy exception (InternalServerError or APIConnectionError) with the cause chained."""
    sb = make_sandbox(fault_rate=1.0, seed=4)
    client = make_client(sb.base_url, "legacy", max_retries=2)
    vid = sb.world["indexes"][0]["videos"][0]["_id"]
    with pytest.raises(APIError) as info:
        client.classify.videos([vid], OPTIONS, CLASSES)
    log = settled_requests(sb, at_least=3)
    assert count(log, CLASSIFY) == 3, f"{count(log, CLASSIFY)} requests for max_retries=2"
    assert all(e.get("fault") in ("status", "dropped") for e in log)
    assert len(retry_waits) == 2
    err = info.value
    assert isinstance(err, (APIStatusError, APIConnectionError))
    if isinstance(err, APIStatusError):
        assert err.status_code >= 500
    else:
        assert err.__cause__ is not None, "the transport error is not chained"


def test_5xx_bursts_pegasus_every_video_accounted_and_rerun_only_asks_for_the_failed(
    make_sandbox: Callable[..., Sandbox], make_client: Callable[..., TwelveLabs], retry_waits: List[float],
    tmp_path: Path,
) -> None:
    """Figure: 12 videos, 35 % of requests fail (seeded 5xx + drops), max_retries=1. Every video is
    classified or in result.errors; requests = successes + injected faults; at most 2 attempts per
    call. Rerun with faults off and the cache on: analyze calls = videos that failed, 0 more."""
    w = world(12, seed=13)
    ids = video_ids(w)
    sb = make_sandbox(world=w, fault_rate=0.35, seed=5)
    cache = tmp_path / "cache.sqlite3"
    client = make_client(sb.base_url, "pegasus", max_retries=1, max_concurrency=3, cache=cache)
    try:
        out = run(client, "videos", ids, OPTIONS, CLASSES, page_limit=5)
    except APIError as exc:
        # Only a failure to place the videos at all (listing the indexes) may fail the whole call;
        # with this seed that first request succeeds, so any exception here is a per-video fault
        # escaping instead of landing in result.errors.
        pytest.fail(f"a per-video fault escaped as an exception instead of result.errors: {exc!r}")
    log = settled_requests(sb)
    faults = [e for e in log if e.get("fault")]
    figure("5xx bursts pegasus", videos=len(ids), requests=len(log), injected_faults=len(faults),
           analyze_requests=count(log, ANALYZE), returned=len(out.returned), failed=len(out.failures))
    assert faults, "no fault was injected; the test proves nothing"
    assert len(log) == sum(1 for e in log if e["status"] == 200) + len(faults) + sum(
        1 for e in log if e["status"] not in (0, 200) and not e.get("fault"))
    assert count(log, ANALYZE) <= 2 * len(ids), "more than max_retries + 1 attempts per analyze call"
    assert_accounted(ids, out)
    assert all(f.stage in ("metadata", "analyze") for f in out.failures), out.failures
    assert all(f.attempts >= 1 and f.message for f in out.failures)

    sb.fault_rate = 0.0
    reset_log(sb)
    again = run(client, "videos", ids, OPTIONS, CLASSES, page_limit=5)
    log2 = settled_requests(sb)
    analyzed_before = {f.video_id for f in out.failures}
    figure("5xx bursts rerun with cache", analyze_calls=count(log2, ANALYZE), failed_before=len(analyzed_before))
    assert count(log2, ANALYZE) == len(analyzed_before), (
        f"rerun made {count(log2, ANALYZE)} analyze calls; {len(analyzed_before)} videos had failed")
    assert again.failures == [] and sorted(again.returned) == sorted(ids)


# -------------------------------------------------------------------------------------- timeouts


def test_timeouts_every_video_reported_with_bounded_attempts(
    make_sandbox: Callable[..., Sandbox], make_client: Callable[..., TwelveLabs], retry_waits: List[float]
) -> None:
    """Figure: the model takes 1.5 s, the client waits 0.5 s, max_retries=1 -> 3 videos x 2 = 6
    analyze requests, 3 videos in result.errors (APITimeoutError), 0 results, 1 warning.
    (Metadata GETs have no simulated latency, so only analyze calls time out.)"""
    w = world(3, seed=14)
    sb = make_sandbox(world=w, latency_ms=1500)
    client = make_client(sb.base_url, "pegasus", max_retries=1, max_concurrency=3, timeout=0.5)
    out = run(client, "videos", video_ids(w), OPTIONS, CLASSES)
    log = settled_requests(sb, until=lambda e: count(e, ANALYZE) >= 6)
    assert count(log, ANALYZE) == 6, f"{count(log, ANALYZE)} analyze requests for 3 videos x 2 attempts"
    assert sorted(out.failed) == sorted(video_ids(w))
    assert out.returned == []
    assert all("Timeout" in f.message and f.stage == "analyze" for f in out.failures), out.failures
    assert_accounted(video_ids(w), out)


# --------------------------------------------------------------------------- mid-response drops


def test_connection_dropped_mid_response_legacy_is_retried(
    sandbox: Any, make_client: Callable[..., TwelveLabs], retry_waits: List[float]
) -> None:
    """Figure: the first classify response is cut after half its body -> 2 requests reach the
    server, the call returns the complete result (same as without the proxy)."""
    vids = [v["_id"] for v in sandbox.world["indexes"][0]["videos"]][:3]
    direct = run(make_client(sandbox.base_url, "legacy"), "videos", vids, OPTIONS, CLASSES)
    proxy = CuttingProxy(sandbox.base_url)
    try:
        proxy.cut(b"POST /v1.2/classify", 1)
        reset_log(sandbox)
        out = run(make_client(proxy.base_url, "legacy", max_retries=2), "videos", vids, OPTIONS, CLASSES)
        log = settled_requests(sandbox, at_least=2)
    finally:
        proxy.close()
    assert len(proxy.cuts) == 1
    assert count(log, CLASSIFY) == 2, f"{count(log, CLASSIFY)} requests for 1 cut response"
    assert out.returned == direct.returned


def test_connection_dropped_mid_response_without_retries_raises_connection_error(
    sandbox: Any, make_client: Callable[..., TwelveLabs]
) -> None:
    """Figure: max_retries=0 -> 1 request, APIConnectionError with the httpx cause chained."""
    proxy = CuttingProxy(sandbox.base_url)
    try:
        proxy.cut(b"POST /v1.2/classify", 1)
        reset_log(sandbox)
        client = make_client(proxy.base_url, "legacy", max_retries=0)
        with pytest.raises(APIConnectionError) as info:
            client.classify.videos([sandbox.world["indexes"][0]["videos"][0]["_id"]], OPTIONS, CLASSES)
        log = settled_requests(sandbox, at_least=1)
    finally:
        proxy.close()
    assert count(log, CLASSIFY) == 1
    assert isinstance(info.value.__cause__, httpx.TransportError), repr(info.value.__cause__)


def test_connection_dropped_mid_response_pegasus_analyze(
    make_sandbox: Callable[..., Sandbox], make_client: Callable[..., TwelveLabs], retry_waits: List[float]
) -> None:
    """Figure: 3 of 6 analyze responses cut mid-body -> 6 + 3 = 9 analyze requests, 6 classified, 0 failed."""
    w = world(6, seed=15)
    sb = make_sandbox(world=w)
    proxy = CuttingProxy(sb.base_url)
    try:
        proxy.cut(b"POST /v1.3/analyze", 3)
        out = run(make_client(proxy.base_url, "pegasus", max_retries=2, max_concurrency=3),
                  "videos", video_ids(w), OPTIONS, CLASSES)
        log = settled_requests(sb, until=lambda e: count(e, ANALYZE) >= 9)
    finally:
        proxy.close()
    figure("mid-response drops pegasus", cuts=len(proxy.cuts), analyze_requests=count(log, ANALYZE),
           returned=len(out.returned), failed=len(out.failures))
    assert len(proxy.cuts) == 3
    assert count(log, ANALYZE) == 9, f"{count(log, ANALYZE)} analyze requests, expected 6 + 3 cut"
    assert out.failures == [] and sorted(out.returned) == sorted(video_ids(w))


# ---------------------------------------------------------------- truncated / malformed answers


def _scripted_world() -> Dict[str, Any]:
    w = world(4, seed=16)
    v = w["indexes"][0]["videos"]
    cut = '{"classes": [{"name": "Dance", "present": true, "confidence": 90, "segments": [{"start": 1'
    v[0]["scripted_answers"] = [{"text": cut, "finish_reason": "length"}]  # then a normal answer
    v[1]["scripted_answers"] = [{"text": "Sorry, I cannot classify this video."},
                                {"text": "```json\n{\"classes\": [oops]}\n```"}]
    v[2]["scripted_answers"] = [{"text": cut, "finish_reason": "length"}, {"text": cut, "finish_reason": "length"}]
    return w


@pytest.mark.parametrize(
    ("classes", "calls"),
    [
        # 6 classes: the first budget is already pegasus1.2's maximum, so the retry is two halves
        pytest.param(CLASSES, (3, 2, 3, 1), id="budget-at-maximum-retry-as-halves"),
        # 1 class: the retry doubles max_tokens
        pytest.param(CLASSES[:1], (2, 2, 2, 1), id="retry-with-bigger-budget"),
    ],
)
def test_truncated_and_malformed_answers_are_retried_once_then_reported(
    classes: List[Dict[str, Any]], calls: Any, make_sandbox: Callable[..., Sandbox],
    make_client: Callable[..., TwelveLabs]
) -> None:
    """Figure: analyze calls per video = (truncated then fine, malformed twice, truncated twice,
    clean) as given; result.errors = exactly the two that stayed broken (stage "parse"); one
    retry round at most; the truncated-then-fine video is not reported."""
    w = _scripted_world()
    ids = video_ids(w)
    sb = make_sandbox(world=w)
    # The figures are pegasus1.2's (its 4,096-token maximum budget): the model is pinned explicitly.
    client = make_client(sb.base_url, "pegasus", max_retries=0, max_concurrency=2, pegasus_model="pegasus1.2")
    out = run(client, "videos", ids, OPTIONS, classes)
    log = settled_requests(sb, until=lambda e: count(e, ANALYZE) >= sum(calls))
    per_video = tuple(sum(1 for e in log if e["endpoint"] == ANALYZE and e.get("video") == vid) for vid in ids)
    assert per_video == calls, f"analyze calls per video {per_video}, expected {calls}"
    assert sorted(out.failed) == sorted([ids[1], ids[2]]), out.failures
    assert all(f.stage == "parse" for f in out.failures)
    assert ids[1] not in out.returned
    if classes is CLASSES:  # every topic covered: whatever was answered passes
        assert ids[0] in out.returned and ids[3] in out.returned
        assert_accounted(ids, out)
    else:
        assert out.partial_warnings() == 1


# -------------------------------------------------------------------------------------- retired


def test_retired_legacy_endpoint_raises_once_on_legacy_and_switches_on_auto(
    make_sandbox: Callable[..., Sandbox], make_client: Callable[..., TwelveLabs]
) -> None:
    """Figure: legacy backend -> 1 request (410 is not retried, max_retries=3), APIStatusError 410.
    auto backend -> 1 v1.2 request, one BackendSwitchWarning, every video classified by Pegasus;
    a second call makes 0 v1.2 requests."""
    w = world(3, seed=17)
    ids = video_ids(w)
    sb = make_sandbox(world=w, legacy="retired")
    with pytest.raises(APIStatusError) as info:
        make_client(sb.base_url, "legacy", max_retries=3).classify.videos(ids, OPTIONS, CLASSES)
    assert info.value.status_code == 410 and "retired" in str(info.value)
    assert count(settled_requests(sb, at_least=1), CLASSIFY) == 1

    reset_log(sb)
    auto = make_client(sb.base_url, "auto", max_retries=3)
    out = run(auto, "videos", ids, OPTIONS, CLASSES)
    log = settled_requests(sb, until=lambda e: count(e, ANALYZE) >= 3)
    assert count(log, CLASSIFY) == 1 and count(log, ANALYZE) == 3
    assert sum(1 for c in out.caught if issubclass(c.category, BackendSwitchWarning)) == 1
    assert sorted(out.returned) == sorted(ids)
    reset_log(sb)
    run(auto, "videos", ids, OPTIONS, CLASSES)
    assert count(settled_requests(sb), CLASSIFY) == 0


# ----------------------------------------------------------------------------------- page tokens


def test_expired_page_tokens(make_sandbox: Callable[..., Sandbox], make_client: Callable[..., TwelveLabs]) -> None:
    """Figure: an expired v1.2 token -> 1 request, BadRequestError code page_token_expired, no
    retry (max_retries=3); an expired shim token -> 0 requests, same type and code."""
    sb = make_sandbox(token_ttl_s=0)
    legacy = make_client(sb.base_url, "legacy", max_retries=3)
    first = legacy.classify.index(sb.world["indexes"][0]["_id"], OPTIONS, CLASSES, page_limit=1)
    reset_log(sb)
    with pytest.raises(BadRequestError) as info:
        legacy.classify.by_page_token(next_token(first))
    assert isinstance(info.value.body, dict) and info.value.body.get("code") == "page_token_expired"
    assert len(settled_requests(sb, at_least=1)) == 1

    pegasus = make_client(sb.base_url, "pegasus", page_ttl_s=0)
    first = pegasus.classify.index(sb.world["indexes"][0]["_id"], OPTIONS, CLASSES, page_limit=1)
    reset_log(sb)
    with pytest.raises(ClassifyValidationError) as shim_info:
        pegasus.classify.by_page_token(next_token(first))
    assert shim_info.value.body == {"code": "page_token_expired", "message": str(shim_info.value)}
    assert settled_requests(sb) == []


def next_token(result: Any) -> str:
    token = result.page_info.next_page_token
    assert token, "the first page has no next_page_token"
    return str(token)


def _flip(token: str, at: int) -> str:
    ch = token[at]
    return token[:at] + ("B" if ch != "B" else "C") + token[at + 1:]


def test_tampered_page_tokens(sandbox: Any, make_client: Callable[..., TwelveLabs]) -> None:
    """Figure: a shim token with one changed character (payload or signature) or cut short -> 0
    requests, BadRequestError; a v1.2 token pointing at a page that does not exist -> exactly 1
    request (the server decides), BadRequestError, no retry."""
    index_id = sandbox.world["indexes"][0]["_id"]
    pegasus = make_client(sandbox.base_url, "pegasus", max_retries=3)
    token = next_token(pegasus.classify.index(index_id, OPTIONS, CLASSES, page_limit=1))
    assert token.startswith("tlcs1.")
    payload_at, signature_at = len("tlcs1.") + 3, len(token) - 3
    reset_log(sandbox)
    for bad in (_flip(token, payload_at), _flip(token, signature_at), token[:-10], token + "A"):
        with pytest.raises(BadRequestError, match="page_token"):
            pegasus.classify.by_page_token(bad)
    assert settled_requests(sandbox) == []

    legacy = make_client(sandbox.base_url, "legacy", max_retries=3)
    real = next_token(legacy.classify.index(index_id, OPTIONS, CLASSES, page_limit=1))
    reset_log(sandbox)
    with pytest.raises(BadRequestError):
        legacy.classify.by_page_token(real.rsplit("-", 1)[0] + "-99")
    assert count(settled_requests(sandbox, at_least=1), "v1.2.classify.page") == 1


# ------------------------------------------------------------------------------------- restarts


def test_sandbox_restarted_mid_run_pegasus_recovers(
    make_sandbox: Callable[..., Sandbox], make_client: Callable[..., TwelveLabs]
) -> None:
    """Figure: the server goes down for 0.3 s once analyze calls have started (open connections
    cut); with max_retries=4 (real backoff) all 6 videos are classified, 0 failed, and requests
    reached the server both before and after the restart."""
    w = world(6, seed=18)
    sb = make_sandbox(world=w, latency_ms=150)
    client = make_client(sb.base_url, "pegasus", max_retries=4, max_concurrency=2)
    box: Dict[str, Any] = {}

    def go() -> None:
        try:
            box["out"] = run(client, "videos", video_ids(w), OPTIONS, CLASSES)
        except BaseException as exc:  # reported by the assertions below
            box["error"] = exc

    worker = threading.Thread(target=go)
    worker.start()
    deadline = time.monotonic() + 10
    while count(sb.requests(), ANALYZE) < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    sb.stop()
    before = len(sb.requests())
    time.sleep(0.3)
    sb.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "the classify call hung after the restart"
    assert "error" not in box, f"the restart escaped as an exception: {box.get('error')!r}"
    out: Outcome = box["out"]
    log = settled_requests(sb)
    figure("restart mid-run pegasus", requests_before_stop=before, requests_total=len(log),
           analyze_requests=count(log, ANALYZE), returned=len(out.returned), failed=len(out.failures))
    assert before >= 1 and len(log) > before, "no request after the restart"
    assert out.failures == [], out.failures
    assert sorted(out.returned) == sorted(video_ids(w))


def test_sandbox_restarted_during_a_legacy_call(
    make_sandbox: Callable[..., Sandbox], make_client: Callable[..., TwelveLabs]
) -> None:
    """Figure: the server is down when the call starts and back 0.3 s later; max_retries=3 ->
    the call succeeds and exactly 1 request reached the server (refused connects never do)."""
    sb = make_sandbox()
    client = make_client(sb.base_url, "legacy", max_retries=3)
    vid = sb.world["indexes"][0]["videos"][0]["_id"]
    sb.stop()
    timer = threading.Timer(0.3, sb.start)
    timer.start()
    try:
        out = run(client, "videos", [vid], OPTIONS, CLASSES)
    finally:
        timer.join()
    assert out.returned == [vid]
    assert count(settled_requests(sb, at_least=1), CLASSIFY) == 1


# -------------------------------------------------------------------------------- clean exit


_SCRIPT = textwrap.dedent(
    """
    import json, warnings
    from classify_shim import TwelveLabs
    from classify_shim._config import ClientConfig
    from classify_shim._http import Pacing
    from classify_shim._types import NOT_GIVEN
    from classify_shim.sandbox import Sandbox, synthetic_world

    FAST = Pacing(adjust=lambda wait: 0.005)  # the figure is the exit, not the waits
    CLASSES = json.loads(%r)
    OPTIONS = ["visual", "conversation", "text_in_video"]
    w = synthetic_world(10, seed=19)
    ids = [v["_id"] for v in w["indexes"][0]["videos"]]
    summary = {}
    with Sandbox(world=w, fault_rate=0.3, seed=9) as sb:
        sb.world["indexes"][0]["videos"][2]["scripted_answers"] = [{"text": "not json"}, {"text": "still not"}]
        for backend in ("legacy", "pegasus"):
            config = ClientConfig.build("sk-subprocess", "v1.2", classify_backend=backend, base_url=sb.base_url,
                                        timeout=NOT_GIVEN, cache=False, max_retries=3)
            config.pacing = FAST
            with TwelveLabs._from_config(config) as client:
                returned, failed, raised = [], [], None
                try:
                    result = client.classify.videos(ids, OPTIONS, CLASSES, page_limit=4)
                    returned = [d.video_id for d in result.data]
                    for page in result:
                        returned += [d.video_id for d in page]
                    failed = [f.video_id for f in result.errors]
                except Exception as exc:  # the legacy backend may exhaust its retries: a legacy error
                    raised = type(exc).__name__
                summary[backend] = {"returned": returned, "failed": failed, "raised": raised}
        summary["requests"] = len(sb.requests())
        summary["faults"] = sum(1 for e in sb.requests() if e.get("fault"))
    summary["ids"] = ids
    print(json.dumps(summary))
    """
)


def test_a_faulty_run_in_a_fresh_process_exits_cleanly(tmp_path: Path) -> None:
    """Figure: a subprocess classifying 10 videos on both backends under 30 % injected faults exits
    with status 0, prints no traceback (nor 'Exception ignored' / unretrieved task errors) and
    accounts for every video on the Pegasus backend."""
    script = tmp_path / "faulty_run.py"
    script.write_text(_SCRIPT % json.dumps(CLASSES))
    proc = subprocess.run([sys.executable, "-W", "ignore::DeprecationWarning", str(script)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for marker in ("Traceback", "Exception ignored", "Task exception was never retrieved", "Unhandled"):
        assert marker not in proc.stderr, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    figure("subprocess under faults", exit_code=proc.returncode, requests=summary["requests"],
           faults=summary["faults"], pegasus_returned=len(summary["pegasus"]["returned"]),
           pegasus_failed=len(summary["pegasus"]["failed"]), legacy_raised=summary["legacy"]["raised"])
    assert summary["faults"] >= 1
    ids = summary["ids"]
    peg = summary["pegasus"]
    assert peg["raised"] is None
    lost = set(ids) - set(peg["returned"]) - set(peg["failed"])
    assert not lost, f"pegasus lost {sorted(lost)}"
    assert ids[2] in peg["failed"], "the video with two unreadable answers is not reported"
    leg = summary["legacy"]
    assert leg["raised"] in (None, "InternalServerError", "APIConnectionError", "APITimeoutError")
    if leg["raised"] is None:
        assert sorted(leg["returned"]) == sorted(ids)

