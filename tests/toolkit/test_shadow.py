"""Shadow mode: legacy results unchanged, Pegasus compared on the side, and the comparison rule.

Integration tests talk to the sandbox (``sb`` fixture) over loopback with the real legacy and
Pegasus backends; fakes stand in for Pegasus only where a test must control its timing or
make it fail.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import math
import re
import threading
import warnings
from typing import Any, Dict, List, Optional, Tuple

import httpx
import pytest

from classify_shim import AsyncTwelveLabs, TwelveLabs, TwelveLabsError, attach
from classify_shim._backend import BACKENDS, BackendPage
from classify_shim._compare import (
    ClassComparison,
    ComparisonSummary,
    Tolerances,
    clip_iou,
    compare_results,
)
from classify_shim._exceptions import APIStatusError, BadRequestError
from classify_shim._models import ClassifyPageResult
from classify_shim._request import Thresholds
from classify_shim._warnings import PartialResultWarning
from classify_shim.adapters.shadow import (
    AsyncShadowBackend,
    Sampler,
    ShadowBackend,
    shadow_backend,
    shadow_report,
)
from legacy_support import API_KEY

CLASSES: List[Dict[str, Any]] = [
    {"name": "DanceTok", "prompts": ["dance tutorial", "dance group", "dancing"]},
    {"name": "CookTok", "prompts": ["cooking tutorial", "cooking"]},
]
OPTIONS = ["visual", "conversation"]


@pytest.fixture(autouse=True)
def quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWELVELABS_CLASSIFY_WARNINGS", "off")


def _index(sb: Any, n: int = 0) -> str:
    return str(sb.world["indexes"][n]["_id"])


def _videos(sb: Any, n: int = 0) -> List[str]:
    return [str(v["_id"]) for v in sb.world["indexes"][n]["videos"]]


def _client(sb: Any, backend: str = "shadow", **kwargs: Any) -> TwelveLabs:
    return TwelveLabs(API_KEY, classify_backend=backend, base_url=sb.base_url, max_retries=0, cache=False, **kwargs)  # type: ignore[arg-type]


_TOKEN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _masked(dump: Dict[str, Any]) -> str:
    """Page tokens and expiry differ between two calls by design; everything else must not."""
    info = dict(dump["page_info"])
    for key in ("next_page_token", "prev_page_token"):
        if info.get(key):
            info[key] = _TOKEN.sub("<uuid>", info[key])
    info["page_expired_at"] = "<time>"
    return json.dumps({**dump, "page_info": info})


def _v13_calls(sb: Any) -> List[Dict[str, Any]]:
    return [r for r in sb.requests() if r["path"].startswith("/v1.3")]


# --------------------------------------------------------------------------- fakes


class FakePegasus:
    """Stands in for the Pegasus backend where a test must hold it back or make it fail."""

    name = "pegasus"

    def __init__(self, body: Optional[Dict[str, Any]] = None, *, gate: Optional[threading.Event] = None,
                 error: Optional[Exception] = None) -> None:
        self.body = body if body is not None else {"data": [], "page_info": {}}
        self.gate = gate
        self.error = error
        self.started = threading.Event()
        self.calls = 0
        self.closed = False

    def classify(self, request: Any, options: Any) -> BackendPage:
        self.calls += 1
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(30), "test never released the fake Pegasus backend"
        if self.error is not None:
            raise self.error
        return BackendPage(body=copy.deepcopy(self.body), backend="pegasus")

    def page(self, token: str, options: Any) -> BackendPage:
        raise AssertionError("the fake answers everything on one page")

    def close(self) -> None:
        self.closed = True


class AsyncFakePegasus:
    name = "pegasus"

    def __init__(self, body: Optional[Dict[str, Any]] = None, *, gate: Optional[asyncio.Event] = None,
                 error: Optional[Exception] = None) -> None:
        self.body = body if body is not None else {"data": [], "page_info": {}}
        self.gate = gate
        self.error = error
        self.calls = 0
        self.closed = False

    async def classify(self, request: Any, options: Any) -> BackendPage:
        self.calls += 1
        if self.gate is not None:
            await asyncio.wait_for(self.gate.wait(), 30)
        if self.error is not None:
            raise self.error
        return BackendPage(body=copy.deepcopy(self.body), backend="pegasus")

    async def page(self, token: str, options: Any) -> BackendPage:
        raise AssertionError("the fake answers everything on one page")

    async def aclose(self) -> None:
        self.closed = True


def _use(client: TwelveLabs, pegasus: Any) -> ShadowBackend:
    client._backend.close()
    backend = ShadowBackend(client.config, pegasus=pegasus)
    client._backend = backend
    return backend


def _body(*videos: Dict[str, Any], next_token: str = "", prev_token: str = "") -> Dict[str, Any]:
    return {
        "data": list(videos),
        "page_info": {"limit_per_page": 10, "total_results": len(videos), "page_expired_at": "2024-01-01T00:00:00Z",
                      "next_page_token": next_token, "prev_page_token": prev_token},
    }


def _video(video_id: str, *classes: Dict[str, Any]) -> Dict[str, Any]:
    return {"video_id": video_id, "classes": list(classes)}


def _cls(name: str, score: float, ratio: float, clips: Optional[List[tuple[float, float]]] = None) -> Dict[str, Any]:
    out: Dict[str, Any] = {"name": name, "score": score, "duration_ratio": ratio}
    if clips is not None:
        out["clips"] = [{"start": s, "end": e, "score": 80.0, "option": "visual", "prompt": "p"} for s, e in clips]
    return out


# =========================================================================== the comparison rule


def test_clip_iou_of_interval_unions() -> None:
    assert clip_iou([(0, 10)], [(5, 15)]) == pytest.approx(5 / 15)
    # overlapping clips on one side are merged before measuring
    assert clip_iou([(0, 5), (3, 10)], [(0, 10)]) == pytest.approx(1.0)
    assert clip_iou([(0, 2), (8, 10)], [(0, 10)]) == pytest.approx(4 / 10)
    assert clip_iou([(0, 4)], [(6, 10)]) == 0.0
    assert clip_iou([], [(1, 2)]) == 0.0
    assert clip_iou([], []) is None
    assert clip_iou([(3, 3)], []) is None  # zero-length clips cover no time


def test_identical_bodies_agree_everywhere() -> None:
    body = _body(_video("v1", _cls("A", 90, 0.8, [(0, 10)]), _cls("B", 80, 0.6, [(20, 30)])), _video("v2", _cls("B", 77, 0.5, [])))
    report = compare_results(body, copy.deepcopy(body))
    assert report.video_ids == ("v1", "v2")
    assert report.class_names == ("A", "B")
    assert len(report.comparisons) == 4
    assert report.mismatches == ()
    assert report.agreement_rate == 1.0
    assert report.mean_abs_score_delta == 0.0
    by_pair = {(c.video_id, c.class_name): c for c in report.comparisons}
    assert by_pair["v1", "A"].clip_iou == pytest.approx(1.0)
    assert by_pair["v2", "B"].clip_iou is None  # both sides list no clips
    assert by_pair["v2", "A"].legacy_pass is False and by_pair["v2", "A"].pegasus_pass is False
    assert by_pair["v2", "A"].agree and not by_pair["v2", "A"].mismatch


def test_pass_fail_disagreement_is_a_mismatch() -> None:
    legacy = _body(_video("v1", _cls("A", 91, 0.9)))
    pegasus = _body(_video("v1"))
    (pair,) = compare_results(legacy, pegasus).comparisons
    assert (pair.legacy_pass, pair.pegasus_pass) == (True, False)
    assert pair.reasons == ("pass_fail",)
    assert pair.legacy_score == 91 and pair.pegasus_score is None and pair.score_delta is None
    # and the other way round
    (pair,) = compare_results(pegasus, legacy, class_names=["A"]).comparisons
    assert (pair.legacy_pass, pair.pegasus_pass, pair.reasons) == (False, True, ("pass_fail",))


def test_deltas_within_and_beyond_tolerances() -> None:
    legacy = _body(_video("v1", _cls("A", 90, 0.80, [(0, 10)])))
    close = _body(_video("v1", _cls("A", 84, 0.70, [(1, 10)])))
    (pair,) = compare_results(legacy, close).comparisons
    assert pair.score_delta == pytest.approx(-6) and pair.duration_ratio_delta == pytest.approx(-0.1)
    assert pair.clip_iou == pytest.approx(0.9)
    assert not pair.mismatch

    far = _body(_video("v1", _cls("A", 70, 0.45, [(50, 60)])))
    (pair,) = compare_results(legacy, far).comparisons
    assert pair.agree
    assert pair.reasons == ("score", "duration_ratio", "clips")
    assert pair.score_delta == pytest.approx(-20)

    strict = Tolerances(score=1.0, duration_ratio=0.01, clip_iou=0.95)
    (pair,) = compare_results(legacy, close, tolerances=strict).comparisons
    assert pair.reasons == ("score", "duration_ratio", "clips")


def test_clips_compared_only_when_both_sides_carry_them() -> None:
    legacy = _body(_video("v1", _cls("A", 90, 0.8, [(0, 10)])))
    pegasus = _body(_video("v1", _cls("A", 90, 0.8)))
    (pair,) = compare_results(legacy, pegasus).comparisons
    assert pair.clip_iou is None and not pair.mismatch


def test_video_scope_follows_the_legacy_page() -> None:
    pegasus = _body(_video("v1", _cls("A", 90, 0.8)), _video("v9", _cls("A", 95, 0.9)))
    # a first page of several: videos beyond it are not judged
    partial = _body(_video("v1", _cls("A", 90, 0.8)), next_token="t-1")
    report = compare_results(partial, pegasus)
    assert report.video_ids == ("v1",) and report.mismatches == ()
    # a middle/last page is not complete either
    assert compare_results(_body(_video("v1", _cls("A", 90, 0.8)), prev_token="t-0"), pegasus).video_ids == ("v1",)
    # a complete legacy result: absence means no class passed, so v9 disagrees
    complete = _body(_video("v1", _cls("A", 90, 0.8)))
    report = compare_results(complete, pegasus)
    assert report.video_ids == ("v1", "v9")
    assert [(m.video_id, m.reasons) for m in report.mismatches] == [("v9", ("pass_fail",))]
    # no page_info at all (e.g. all pages merged) counts as complete
    assert compare_results({"data": complete["data"]}, pegasus).video_ids == ("v1", "v9")
    # explicit scope wins
    assert compare_results(partial, pegasus, video_ids=["v9", "v3"]).video_ids == ("v9", "v3")


def test_requested_classes_both_sides_leave_out_count_as_agreement() -> None:
    legacy = _body(_video("v1", _cls("A", 90, 0.8)))
    report = compare_results(legacy, copy.deepcopy(legacy), class_names=["A", "B", "C"])
    assert len(report.comparisons) == 3 and report.agreements == 3
    assert [c.class_name for c in report.comparisons] == ["A", "B", "C"]


def test_thresholds_turn_listed_but_weak_classes_into_fails() -> None:
    legacy = _body(_video("v1", _cls("A", 90, 0.8)))
    pegasus = _body(_video("v1", _cls("A", 60, 0.8)))
    (pair,) = compare_results(legacy, pegasus).comparisons
    assert pair.agree  # both listed
    (pair,) = compare_results(legacy, pegasus, thresholds=Thresholds()).comparisons
    assert (pair.legacy_pass, pair.pegasus_pass) == (True, False)
    assert "pass_fail" in pair.reasons
    assert pair.score_delta == pytest.approx(-30)  # still measured: both listed a score


def test_skipped_videos_are_reported_not_compared() -> None:
    legacy = _body(_video("v1", _cls("A", 90, 0.8)), _video("v2", _cls("A", 90, 0.8)))
    pegasus = _body(_video("v1", _cls("A", 90, 0.8)))
    report = compare_results(legacy, pegasus, skip_videos=["v2", "elsewhere"])
    assert report.video_ids == ("v1",)
    assert report.skipped_videos == ("v2",)
    assert report.mismatches == ()


def test_compare_never_mutates_and_reports_serialise() -> None:
    legacy = _body(_video("v1", _cls("A", 90, 0.8, [(0, 10)])))
    pegasus = _body(_video("v1", _cls("A", 40, 0.1, [(30, 40)])), _video("v2", _cls("B", 99, 1.0)))
    before = json.dumps([legacy, pegasus], sort_keys=True)
    report = compare_results(legacy, pegasus)
    assert json.dumps([legacy, pegasus], sort_keys=True) == before
    as_dict = json.loads(json.dumps(report.to_dict()))
    assert as_dict["pairs"] == len(report.comparisons) == 4
    assert as_dict["mismatches"] == len(report.mismatches) == 2
    assert {tuple(c["reasons"]) for c in as_dict["comparisons"] if c["mismatch"]} == {
        ("score", "duration_ratio", "clips"), ("pass_fail",),
    }


def test_bad_bodies_are_type_errors() -> None:
    good = _body()
    with pytest.raises(TypeError, match="legacy_body"):
        compare_results([], good)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"pegasus_body\['data'\]"):
        compare_results(good, {"data": None})
    with pytest.raises(TypeError, match="video_id"):
        compare_results(good, {"data": [{"classes": []}]})


def test_summary_aggregates_per_class() -> None:
    summary = ComparisonSummary()
    legacy = _body(_video("v1", _cls("A", 90, 0.8), _cls("B", 80, 0.6)))
    summary.add(compare_results(legacy, _body(_video("v1", _cls("A", 80, 0.8)))))
    summary.add(compare_results(legacy, copy.deepcopy(legacy)))
    data = summary.to_dict()
    assert data["reports"] == 2 and data["pairs"] == 4
    assert data["agreements"] == 3 and data["mismatches"] == 1
    assert data["agreement_rate"] == pytest.approx(0.75)
    assert data["mean_abs_score_delta"] == pytest.approx(10 / 3)
    assert data["per_class"]["A"] == {
        "pairs": 2, "agreements": 2, "agreement_rate": 1.0, "mismatches": 0, "legacy_pass": 2, "pegasus_pass": 2,
        "both_pass": 2, "mean_abs_score_delta": pytest.approx(5.0), "mean_abs_duration_ratio_delta": 0.0,
        "mean_clip_iou": None,
    }
    assert data["per_class"]["B"]["mismatches"] == 1 and data["per_class"]["B"]["pegasus_pass"] == 1
    json.dumps(data)


# =========================================================================== sampling


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.25, 1 / 3, 0.5, 0.7, 0.99, 1.0])
def test_sampler_is_exact_and_deterministic(rate: float) -> None:
    first = Sampler(rate)
    picks = [first() for _ in range(300)]
    again = Sampler(rate)
    assert [again() for _ in range(300)] == picks
    for n in (1, 7, 10, 100, 300):
        expected = math.ceil(n * rate - 1e-9)
        assert sum(picks[:n]) == expected, (rate, n)
    assert picks[0] is (rate > 0)


def test_sampler_spreads_evenly() -> None:
    sampler = Sampler(0.25)
    assert [i for i in range(12) if sampler()] == [0, 4, 8]
    with pytest.raises(ValueError):
        Sampler(1.5)


# =========================================================================== sync shadow backend


class _Recorder(httpx.BaseTransport):
    """Keeps every v1.2 response body exactly as the server sent it."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.bodies: List[Any] = []
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if "/v1.2/" in request.url.path:
            content = response.read()
            with self.lock:
                self.bodies.append(json.loads(content))
        return response

    def close(self) -> None:
        self.inner.close()


CALLS = [
    ("videos", dict(page_limit=1, include_clips=True, show_detailed_score=True)),
    ("videos", dict(threshold={"min_video_score": 50, "min_duration_ratio": 0.1})),
    ("index", dict(page_limit=2, include_clips=True)),
]


@pytest.mark.parametrize(("method", "kwargs"), CALLS)
def test_shadow_results_are_byte_identical_to_legacy(sb: Any, method: str, kwargs: Dict[str, Any]) -> None:
    target: Any = _videos(sb)[:5] if method == "videos" else _index(sb)
    recorder = _Recorder()
    with httpx.Client(transport=recorder) as http, _client(sb, "legacy") as legacy, \
            _client(sb, "shadow", http_client=http) as shadow:
        expected = getattr(legacy.classify, method)(target, OPTIONS, CLASSES, **kwargs)
        got = getattr(shadow.classify, method)(target, OPTIONS, CLASSES, **kwargs)
        assert got.backend == "legacy"
        got_json = json.dumps(got.model_dump())
        # exactly what the v1.2 endpoint sent, parsed the way the legacy client parses it
        assert got_json == json.dumps(ClassifyPageResult(None, **recorder.bodies[0]).model_dump())
        assert _masked(got.model_dump()) == _masked(expected.model_dump())
        # following pages too (served by legacy only)
        legacy_pages = [json.dumps(p.model_dump()) for p in expected]
        shadow_pages = [json.dumps(p.model_dump()) for p in got]
        assert shadow_pages == legacy_pages
        shadow_backend(shadow).wait()
        assert shadow_report(shadow).compared == 1
        # the comparison did not touch the result the caller holds
        assert json.dumps(got.data.model_dump()) == json.dumps(json.loads(got_json)["data"])


def test_pegasus_runs_and_compares_the_legacy_page(sb: Any) -> None:
    with _client(sb) as client:
        result = client.classify.index(_index(sb), OPTIONS, CLASSES, page_limit=3)
        backend = shadow_backend(client)
        assert isinstance(backend, ShadowBackend)
        assert backend.wait(timeout=60)
        report = shadow_report(client)
        assert report is backend.report
        assert (report.calls, report.sampled, report.compared, report.pegasus_errors) == (1, 1, 1, 0)
        (last,) = report.recent
        assert list(last.video_ids) == [d.video_id for d in result.data]  # the legacy page's videos
        assert list(last.class_names) == ["DanceTok", "CookTok"]
        assert report.pairs == 3 * 2
        data = json.loads(json.dumps(report.to_dict()))
        assert set(data["per_class"]) == {"DanceTok", "CookTok"}
        assert data["pairs"] == 6 and data["calls"] == 1
        assert 0.0 <= data["agreement_rate"] <= 1.0
    endpoints = {r["endpoint"] for r in sb.requests()}
    assert "v1.2.classify.bulk" in endpoints and "v1.3.analyze" in endpoints


def test_single_page_videos_call_compares_every_requested_video(sb: Any) -> None:
    ids = _videos(sb)[:2] + _videos(sb)[-4:]  # dance videos plus distractors (sports, news, travel)
    with _client(sb) as client:
        result = client.classify.videos(ids, OPTIONS, CLASSES)
        assert not result.page_info.next_page_token
        shadow_backend(client).wait()
        (last,) = shadow_report(client).recent
    assert set(last.video_ids) == set(ids)
    assert len(result.data) < len(ids)  # some videos pass no class, yet they are compared too


@pytest.fixture
def fresh(classify_sandbox: Any) -> Any:
    """A sandbox of its own: scripted answers are served once per video per sandbox."""
    return classify_sandbox


def _scripted_world(sb: Any, answers: Dict[int, List[Dict[str, Any]]]) -> Dict[str, Any]:
    world = copy.deepcopy(sb.world)
    videos = world["indexes"][0]["videos"]
    for i, scripted in answers.items():
        videos[i]["scripted_answers"] = scripted
    return world


_ABSENT = {"text": json.dumps({"classes": [
    {"name": c["name"], "present": False, "confidence": 0, "segments": []} for c in CLASSES
]})}


def test_mismatch_reaches_log_callback_and_report(fresh: Any, caplog: pytest.LogCaptureFixture) -> None:
    fresh.set_world(_scripted_world(fresh, {0: [_ABSENT]}))  # Pegasus denies everything on the dance video
    dance = _videos(fresh)[0]
    seen: List[ClassComparison] = []
    caplog.set_level(logging.INFO, logger="classify_shim.shadow")
    with _client(fresh, on_mismatch=seen.append) as client:
        result = client.classify.videos([dance], OPTIONS, CLASSES)
        assert [c.name for c in result.data[0].classes] == ["DanceTok"]  # the legacy answer, untouched
        shadow_backend(client).wait()
        report = shadow_report(client)
    assert [(m.video_id, m.class_name, m.reasons) for m in seen] == [(dance, "DanceTok", ("pass_fail",))]
    assert seen[0].legacy_pass and not seen[0].pegasus_pass
    assert report.mismatches == 1 and report.pairs == 2 and report.agreement_rate == 0.5
    assert report.per_class()["DanceTok"]["mismatches"] == 1
    warnings_logged = [r for r in caplog.records if r.name == "classify_shim.shadow" and r.levelno == logging.WARNING]
    assert any(dance in r.getMessage() and "DanceTok" in r.getMessage() for r in warnings_logged)
    assert any(r.levelno == logging.INFO and "1 mismatches" in r.getMessage() for r in caplog.records)


def test_failing_callback_breaks_nothing(fresh: Any) -> None:
    fresh.set_world(_scripted_world(fresh, {0: [_ABSENT]}))

    def explode(pair: Any) -> None:
        raise RuntimeError("user hook bug")

    with _client(fresh, on_mismatch=explode) as client:
        result = client.classify.videos([_videos(fresh)[0]], OPTIONS, CLASSES)
        assert shadow_backend(client).wait(timeout=60)
        report = shadow_report(client)
    assert result.data[0].classes[0].name == "DanceTok"
    assert report.callback_errors == 1 and report.compared == 1 and report.internal_errors == 0
    assert "user hook bug" in (report.last_error or "")


def test_videos_pegasus_fails_on_are_skipped(fresh: Any) -> None:
    garbage = [{"text": "I am sorry, I cannot help with that."}] * 6
    fresh.set_world(_scripted_world(fresh, {3: garbage}))
    ids = _videos(fresh)[:4]
    with _client(fresh) as client:
        client.classify.videos(ids, OPTIONS, CLASSES)
        shadow_backend(client).wait()
        (last,) = shadow_report(client).recent
    assert last.skipped_videos == (ids[3],)
    assert ids[3] not in last.video_ids and len(last.video_ids) == 3


def test_pegasus_warnings_do_not_reach_the_caller(fresh: Any) -> None:
    """The caller never sees Pegasus results, so Pegasus's partial-result warning is not theirs."""
    fresh.set_world(_scripted_world(fresh, {1: [{"text": "no idea"}] * 6}))
    with warnings.catch_warnings(record=True) as caught, _client(fresh) as client:
        warnings.simplefilter("always")
        client.classify.videos(_videos(fresh)[:2], OPTIONS, CLASSES)
        shadow_backend(client).wait()
        assert shadow_report(client).recent[0].skipped_videos  # Pegasus did fail on one video
    assert [w for w in caught if issubclass(w.category, PartialResultWarning)] == []


def test_legacy_result_is_not_delayed_by_pegasus(sb: Any) -> None:
    gate = threading.Event()
    fake = FakePegasus(gate=gate)
    with _client(sb) as client:
        backend = _use(client, fake)
        result = client.classify.videos(_videos(sb)[:3], OPTIONS, CLASSES)
        # the caller has its result while Pegasus is still held back
        assert fake.started.wait(30)
        assert backend.pending == 1 and backend.report.compared == 0
        assert result.backend == "legacy" and len(result.data) > 0
        assert backend.wait(timeout=0.01) is False
        gate.set()
        assert backend.wait(timeout=60) is True
        assert backend.report.compared == 1 and backend.pending == 0
    assert fake.closed


def test_pegasus_errors_never_propagate(sb: Any, caplog: pytest.LogCaptureFixture) -> None:
    fake = FakePegasus(error=RuntimeError("analyze exploded"))
    caplog.set_level(logging.WARNING, logger="classify_shim.shadow")
    with _client(sb) as client, _client(sb, "legacy") as legacy:
        backend = _use(client, fake)
        got = client.classify.videos(_videos(sb)[:3], OPTIONS, CLASSES)
        expected = legacy.classify.videos(_videos(sb)[:3], OPTIONS, CLASSES)
        backend.wait()
        assert _masked(got.model_dump()) == _masked(expected.model_dump())
        assert backend.report.pegasus_errors == 1 and backend.report.compared == 0
        assert "analyze exploded" in (backend.report.last_error or "")
    assert any("analyze exploded" in r.getMessage() for r in caplog.records if r.name == "classify_shim.shadow")


def test_missing_pegasus_backend_is_counted_not_raised(sb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(BACKENDS, "pegasus", ("classify_shim.adapters.no_such_module", "X", "Y"))
    with _client(sb) as client:
        for _ in range(2):
            result = client.classify.videos(_videos(sb)[:2], OPTIONS, CLASSES)
            assert result.backend == "legacy"
        shadow_backend(client).wait()
        report = shadow_report(client)
    assert report.pegasus_errors == 2 and report.compared == 0
    assert "not available" in (report.last_error or "")


def test_legacy_errors_reach_the_caller_as_with_legacy(sb: Any) -> None:
    with _client(sb) as client, _client(sb, "legacy") as legacy:
        with pytest.raises(APIStatusError) as shadow_err:
            client.classify.videos(["ffffffffffffffffffffffff"], OPTIONS, CLASSES)
        with pytest.raises(APIStatusError) as legacy_err:
            legacy.classify.videos(["ffffffffffffffffffffffff"], OPTIONS, CLASSES)
        assert type(shadow_err.value) is type(legacy_err.value)
        assert str(shadow_err.value) == str(legacy_err.value)
        shadow_backend(client).wait()
        report = shadow_report(client)
        assert report.sampled == 1 and report.compared == 0
        # both sides fail on an unknown video; each failure is counted on its own side
        assert (report.legacy_errors, report.pegasus_errors, report.internal_errors) == (1, 1, 0)


def test_retired_legacy_endpoint_is_not_hidden_by_shadow(sb: Any) -> None:
    sb.legacy = "retired"
    with _client(sb) as client, _client(sb, "legacy") as legacy:
        with pytest.raises(APIStatusError) as shadow_err:
            client.classify.index(_index(sb), OPTIONS, CLASSES)
        with pytest.raises(APIStatusError) as legacy_err:
            legacy.classify.index(_index(sb), OPTIONS, CLASSES)
        assert (type(shadow_err.value), shadow_err.value.status_code) == (type(legacy_err.value), 410)
        shadow_backend(client).wait()
        assert shadow_report(client).legacy_errors == 1


def test_validation_errors_happen_before_any_backend(sb: Any) -> None:
    with _client(sb) as client:
        with pytest.raises(BadRequestError, match="page_limit"):
            client.classify.videos(_videos(sb)[:1], OPTIONS, CLASSES, page_limit=0)
        assert shadow_report(client).calls == 0
    assert sb.requests() == []


def test_by_page_token_goes_to_legacy_only(sb: Any) -> None:
    with _client(sb) as client:
        first = client.classify.index(_index(sb), OPTIONS, CLASSES, page_limit=1)
        shadow_backend(client).wait()
        sb.clear_requests()
        token = first.page_info.next_page_token
        assert token
        second = client.classify.by_page_token(token)
        pages = list(first)
        shadow_backend(client).wait()
        assert shadow_report(client).calls == 1
    assert second.backend == "legacy" and pages[0].model_dump() == second.data.model_dump()
    assert {r["endpoint"] for r in sb.requests()} == {"v1.2.classify.page"}


@pytest.mark.parametrize(("rate", "calls", "sampled"), [(0.5, 4, 2), (0.25, 5, 2), (0.0, 3, 0)])
def test_sample_rate_limits_pegasus_runs(sb: Any, rate: float, calls: int, sampled: int) -> None:
    with _client(sb, shadow_sample_rate=rate) as client:
        for _ in range(calls):
            client.classify.videos(_videos(sb)[:2], OPTIONS, CLASSES)
        shadow_backend(client).wait()
        report = shadow_report(client)
        assert (report.calls, report.sampled, report.compared) == (calls, sampled, sampled)
    if sampled == 0:
        assert _v13_calls(sb) == []


def test_backlog_is_dropped_not_queued_forever(sb: Any) -> None:
    gate = threading.Event()
    fake = FakePegasus(gate=gate)
    with _client(sb) as client:
        backend = _use(client, fake)
        backend.max_pending = 1  # this client's bound (MAX_PENDING by default), no module patched
        client.classify.videos(_videos(sb)[:1], OPTIONS, CLASSES)
        client.classify.videos(_videos(sb)[:1], OPTIONS, CLASSES)
        assert backend.report.dropped == 1 and backend.report.sampled == 1
        gate.set()
    assert fake.calls == 1


def test_close_waits_for_pending_comparisons_and_is_idempotent(sb: Any) -> None:
    gate = threading.Event()
    fake = FakePegasus(gate=gate)
    client = _client(sb)
    backend = _use(client, fake)
    client.classify.videos(_videos(sb)[:2], OPTIONS, CLASSES)
    threading.Timer(0.05, gate.set).start()
    client.close()
    assert backend.report.compared == 1 and fake.closed
    client.close()
    assert backend.wait(timeout=0) is True


def test_env_var_selects_shadow_and_helpers_reject_other_backends(sb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWELVELABS_CLASSIFY_BACKEND", "shadow")
    with TwelveLabs(API_KEY, base_url=sb.base_url, max_retries=0, cache=False) as client:
        assert client.classify_backend == "shadow"
        assert isinstance(shadow_backend(client), ShadowBackend)
    with _client(sb, "legacy") as legacy, pytest.raises(TwelveLabsError, match="shadow mode"):
        shadow_report(legacy)


def test_shadow_through_attach(sb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import twelvelabs

    monkeypatch.setenv("TWELVELABS_BASE_URL", sb.base_url)
    official = twelvelabs.TwelveLabs(API_KEY)
    attach(official, classify_backend="shadow", cache=False, max_retries=0)
    official.classify.videos(_videos(sb)[:2], OPTIONS, CLASSES)
    report = shadow_report(official)
    shadow_backend(official).wait()  # type: ignore[union-attr]
    assert report.compared == 1
    official._classify_shim.close()


# =========================================================================== async shadow backend


def _aclient(sb: Any, backend: str = "shadow", **kwargs: Any) -> AsyncTwelveLabs:
    return AsyncTwelveLabs(API_KEY, classify_backend=backend, base_url=sb.base_url, max_retries=0, cache=False, **kwargs)  # type: ignore[arg-type]


def test_async_shadow_results_match_legacy_and_compare(sb: Any) -> None:
    async def main() -> None:
        async with _aclient(sb) as client, _aclient(sb, "legacy") as legacy:
            for method, kwargs in CALLS:
                target: Any = _videos(sb)[:5] if method == "videos" else _index(sb)
                got = await getattr(client.classify, method)(target, OPTIONS, CLASSES, **kwargs)
                expected = await getattr(legacy.classify, method)(target, OPTIONS, CLASSES, **kwargs)
                assert got.backend == "legacy"
                assert _masked(got.model_dump()) == _masked(expected.model_dump())
                got_pages = [json.dumps(d.model_dump()) async for d in got]
                expected_pages = [json.dumps(d.model_dump()) async for d in expected]
                assert got_pages == expected_pages
            backend = shadow_backend(client)
            assert isinstance(backend, AsyncShadowBackend)
            assert await backend.wait(timeout=60)
            report = backend.report
            assert (report.calls, report.sampled, report.compared, report.pegasus_errors) == (3, 3, 3, 0)
            assert report.pairs > 0

    asyncio.run(main())
    assert any(r["endpoint"] == "v1.3.analyze" for r in sb.requests())


def test_async_legacy_result_is_not_delayed_and_errors_are_contained(sb: Any) -> None:
    async def main() -> None:
        gate = asyncio.Event()
        client = _aclient(sb)
        await client._backend.aclose()
        fake = AsyncFakePegasus(gate=gate, error=RuntimeError("async analyze exploded"))
        backend = AsyncShadowBackend(client.config, pegasus=fake)
        client._backend = backend
        result = await client.classify.videos(_videos(sb)[:2], OPTIONS, CLASSES)
        assert result.backend == "legacy"
        await asyncio.sleep(0)
        assert backend.pending == 1 and fake.calls == 1
        assert await backend.wait(timeout=0.01) is False
        gate.set()
        assert await backend.wait(timeout=60)
        assert backend.report.pegasus_errors == 1 and backend.report.compared == 0
        assert "async analyze exploded" in (backend.report.last_error or "")
        await client.aclose()
        assert fake.closed
        await client.aclose()

    asyncio.run(main())


def test_async_mismatch_callback_and_legacy_error(fresh: Any) -> None:
    """Async twin: on_mismatch gets the one disagreeing pair (a ClassComparison, from the event
    loop's comparison task), and a legacy error reaches the caller unchanged and is counted as
    a legacy error (its Pegasus run fails too, counted apart), never compared."""
    fresh.set_world(_scripted_world(fresh, {0: [_ABSENT]}))
    seen: List[ClassComparison] = []
    missing = "ffffffffffffffffffffffff"

    async def main() -> Tuple[Any, BaseException, BaseException]:
        async with _aclient(fresh, on_mismatch=seen.append) as client:
            await client.classify.videos([_videos(fresh)[0]], OPTIONS, CLASSES)
            with pytest.raises(APIStatusError) as shadow_err:
                await client.classify.videos([missing], OPTIONS, CLASSES)
            backend = shadow_backend(client)
            await backend.wait()  # type: ignore[misc]
            report = backend.report
        async with _aclient(fresh, "legacy") as legacy:
            with pytest.raises(APIStatusError) as legacy_err:
                await legacy.classify.videos([missing], OPTIONS, CLASSES)
        return report, shadow_err.value, legacy_err.value

    report, shadow_exc, legacy_exc = asyncio.run(main())
    assert (type(shadow_exc), shadow_exc.status_code, str(shadow_exc)) == (  # type: ignore[attr-defined]
        type(legacy_exc), legacy_exc.status_code, str(legacy_exc))  # type: ignore[attr-defined]
    assert (report.calls, report.sampled, report.compared) == (2, 2, 1)
    assert (report.legacy_errors, report.pegasus_errors, report.callback_errors, report.internal_errors) == (
        1, 1, 0, 0)
    assert report.mismatches == len(seen) == 1
    assert all(isinstance(m, ClassComparison) for m in seen)
    mismatch = seen[0]
    assert (mismatch.video_id, mismatch.class_name, mismatch.reasons) == (
        _videos(fresh)[0], "DanceTok", ("pass_fail",))
    assert mismatch.legacy_pass != mismatch.pegasus_pass
