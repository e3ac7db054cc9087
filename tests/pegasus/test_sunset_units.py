"""Model table, model choice, schema negotiation, task and batch runners (httpx.MockTransport).

The fake server here is written from the 2026-07 spec's shapes (``CreateAnalyzeTaskResponse``,
``AnalyzeTaskResponse``, ``CreateAnalyzeBatchResponse``, ``AnalyzeBatchStatusResponse``, JSONL
``BatchResultItem`` lines), not from the shim's code.
"""

from __future__ import annotations

import asyncio
import json
import warnings
from typing import Any, Dict, List, Mapping, Tuple

import httpx
import pytest

from classify_shim import TwelveLabs, TwelveLabsError
from classify_shim._config import ClientConfig
from classify_shim._exceptions import APIStatusError
from classify_shim._http import AsyncHTTP
from classify_shim._request import build_videos_request
from classify_shim._store import MemoryStore
from classify_shim.adapters.pegasus._batch import BatchRunner
from classify_shim.adapters.pegasus._engine import AUTO_BATCH_MIN_VIDEOS, choose_strategy
from classify_shim.adapters.pegasus._limits import MODEL_TABLE, model_spec
from classify_shim.adapters.pegasus._prompt import build_response_format, max_tokens_bounds, prompt_limit
from classify_shim.adapters.pegasus._schema import PLAIN, SchemaBook, schema_rejection
from classify_shim.adapters.pegasus._select import ModelPicker, is_sunset_answer, is_video_refused
from classify_shim.adapters.pegasus._tasks import JobFailed, TaskRunner, item_key
from classify_shim.adapters.pegasus._v13 import RateGate, V13Client, VideoRecord

HOST = "https://api.example.test"


def _error(status: int, code: str, message: str) -> APIStatusError:
    from classify_shim._exceptions import make_status_error

    request = httpx.Request("POST", f"{HOST}/v1.3/analyze")
    response = httpx.Response(status, json={"code": code, "message": message}, request=request)
    return make_status_error(response)


# ----------------------------------------------------------------------------- the table


def test_one_table_drives_every_per_model_limit() -> None:
    assert model_spec("pegasus1.2").max_tokens == (2, 4096) == max_tokens_bounds("pegasus1.2")
    assert model_spec("pegasus1.5").max_tokens == (512, 98_304) == max_tokens_bounds("pegasus1.5")
    assert model_spec("pegasus1.5").segment_max_tokens == (2_048, 98_304)
    assert prompt_limit("pegasus1.2") == 2_000 == MODEL_TABLE["pegasus1.2"].prompt_limit
    assert not model_spec("pegasus1.2").batches and model_spec("pegasus1.5").batches
    assert not model_spec("pegasus1.2").segments and model_spec("pegasus1.5").segments
    assert model_spec("pegasus1.2").video_ref == "video_id" and model_spec("pegasus1.5").video_ref == "asset_id"
    # Unknown names by version: newer reads as 1.5, anything else as the most restrictive 1.2.
    assert model_spec("pegasus2.0").batches and model_spec("pegasus2.0").name == "pegasus2.0"
    assert model_spec("mystery").max_tokens == (2, 4096)


def test_defaults_are_auto_model_and_auto_strategy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TWELVELABS_PEGASUS_MODEL", raising=False)
    monkeypatch.delenv("TWELVELABS_CLASSIFY_STRATEGY", raising=False)
    config = ClientConfig.build("k", "v1.2", classify_backend="pegasus", base_url=None, timeout=None, max_retries=0,
                                cache=False)
    assert config.pegasus_model == "auto" and config.strategy == "auto"
    monkeypatch.setenv("TWELVELABS_CLASSIFY_STRATEGY", "Batch")
    assert ClientConfig.build("k", "v1.2", classify_backend="pegasus", base_url=None, timeout=None,
                              max_retries=0, cache=False).strategy == "batch"
    monkeypatch.setenv("TWELVELABS_CLASSIFY_STRATEGY", "fast")
    with pytest.raises(TwelveLabsError, match=r"TWELVELABS_CLASSIFY_STRATEGY=.fast.*sync, segments, batch, auto"):
        TwelveLabs(api_key="k", classify_backend="pegasus", cache=False)
    with pytest.raises(TwelveLabsError, match="strategy=5"):
        TwelveLabs(api_key="k", classify_backend="pegasus", cache=False, strategy=5)  # type: ignore[arg-type]


def test_auto_strategy_is_sync_for_small_runs_and_batch_for_large_ones() -> None:
    assert choose_strategy("auto", "auto", AUTO_BATCH_MIN_VIDEOS - 1) == "sync"
    assert choose_strategy("auto", "auto", AUTO_BATCH_MIN_VIDEOS) == "batch"
    assert choose_strategy("auto", "pegasus1.2", 10_000) == "sync"  # 1.2 takes no batches
    assert choose_strategy("segments", "pegasus1.2", 1) == "segments"  # explicit is honoured


# ----------------------------------------------------------------------------- model choice


def _record(asset: bool = True) -> VideoRecord:
    return VideoRecord(video_id="vid1", index_id="idx", duration=30.0, asset_id="asset1" if asset else None)


def test_auto_picks_15_by_asset_id_and_12_only_without_one() -> None:
    picker = ModelPicker("auto", MemoryStore(), HOST)
    assert picker.model_for(_record(asset=True)) == "pegasus1.5"
    assert picker.model_for(_record(asset=False)) == "pegasus1.2"
    explicit = ModelPicker("pegasus1.2", MemoryStore(), HOST)
    assert explicit.model_for(_record(asset=True)) == "pegasus1.2"
    assert explicit.after_error("pegasus1.2", _record(), _error(410, "model_sunset", "gone")) is None


def test_a_sunset_answer_switches_for_good_with_one_warning_naming_it() -> None:
    store = MemoryStore()
    picker = ModelPicker("auto", store, HOST)
    sunset = _error(400, "parameter_invalid", "pegasus1.2 has been sunset; use pegasus1.5 with video.asset_id")
    assert picker.after_error("pegasus1.2", _record(), sunset) == "pegasus1.5"
    assert picker.after_error("pegasus1.2", _record(), sunset) == "pegasus1.5"  # decided once
    assert len(picker.switches) == 1 and "pegasus1.2 has been sunset" in picker.switches[0]
    # Remembered: another run (another process on the same store) goes to 1.5 without asking 1.2.
    later = ModelPicker("auto", store, HOST)
    assert later.model_for(_record(asset=False)) == "pegasus1.5"
    assert later.switches == []
    assert ModelPicker("auto", store, "https://other.host").model_for(_record(asset=False)) == "pegasus1.2"
    from classify_shim.adapters.pegasus._select import warn_model_switches

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_model_switches(picker.switches)
    assert [type(w.message).__name__ for w in caught] == ["BackendSwitchWarning"]
    assert __file__ == caught[0].filename  # blamed on the caller's line


def test_15_refusing_one_video_sends_that_video_to_12() -> None:
    store = MemoryStore()
    picker = ModelPicker("auto", store, HOST)
    refused = _error(409, "asset_not_ready", "The asset asset1 is not ready")
    assert is_video_refused(refused)
    assert picker.after_error("pegasus1.5", _record(), refused) == "pegasus1.2"
    assert picker.model_for(_record()) == "pegasus1.2"
    other = VideoRecord(video_id="vid2", index_id="idx", duration=5.0, asset_id="a2")
    assert picker.model_for(other) == "pegasus1.5"
    assert picker.switches == []  # a per-video fallback is not a host-wide switch


@pytest.mark.parametrize(
    ("status", "code", "message", "model", "expected"),
    [
        (410, "gone", "", "pegasus1.2", True),
        (400, "parameter_invalid", "video_id is deprecated and no longer supported", "pegasus1.2", True),
        (404, "model_not_found", "model pegasus1.2 is retired", "pegasus1.2", True),
        (400, "parameter_invalid", "max_tokens must be at most 4096", "pegasus1.2", False),
        (429, "too_many_requests", "pegasus1.2 unavailable", "pegasus1.2", False),
        (400, "index_not_supported_for_generate", "index has no Pegasus", "pegasus1.2", False),
    ],
)
def test_what_counts_as_a_sunset_answer(status: int, code: str, message: str, model: str, expected: bool) -> None:
    assert is_sunset_answer(_error(status, code, message), model) is expected


# ----------------------------------------------------------------------------- schema negotiation


def test_schema_rejection_falls_back_once_and_is_remembered_per_host_and_model() -> None:
    store = MemoryStore()
    book = SchemaBook(store, HOST)
    rejected = _error(422, "schema_invalid", "The enum keyword is not supported in response_format")
    assert schema_rejection(rejected) == "enum"
    assert schema_rejection(_error(400, "parameter_invalid", "video_id is required")) is None
    assert book.level("pegasus1.5") == "full"
    assert book.fall_back("pegasus1.5", rejected) is True
    assert book.level("pegasus1.5") == PLAIN
    assert book.fall_back("pegasus1.5", rejected) is False  # plain rejected too: the error stands
    assert SchemaBook(store, HOST).level("pegasus1.2") == "full"
    assert SchemaBook(store, "https://other").level("pegasus1.5") == "full"


def test_plain_schema_keeps_the_shape_without_the_optional_features() -> None:
    request = build_videos_request(["v1"], ["visual"], [{"name": "A", "prompts": ["x", "y"]}])
    full = json.dumps(build_response_format(request.classes, "full"))
    plain_format = build_response_format(request.classes, "plain")
    plain = json.dumps(plain_format)
    assert '"enum"' in full and '"minimum"' in full and '"minItems"' in full
    for keyword in ('"enum"', '"minimum"', '"maximum"', '"minItems"'):
        assert keyword not in plain
    klass = plain_format["json_schema"]["properties"]["classes"]["items"]
    assert klass["required"] == ["name", "present", "confidence", "coverage", "segments"]


# ----------------------------------------------------------------------------- tasks


class FakeV13:
    """A scripted v1.3 task/batch server, from the spec's response shapes."""

    def __init__(self, *, polls_before_ready: int = 1, batch_429s: int = 0, fail_first: Tuple[str, ...] = (),
                 fail_always: Tuple[str, ...] = ()) -> None:
        self.log: List[Tuple[str, str, Dict[str, str], Any]] = []
        self.tasks: Dict[str, Dict[str, Any]] = {}
        self.by_key: Dict[str, str] = {}
        self.batches: Dict[str, Dict[str, Any]] = {}
        self.polls_before_ready = polls_before_ready
        self.batch_429s = batch_429s
        self.fail_first = set(fail_first)
        self.fail_always = set(fail_always)
        self.failed_once: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.log.append((request.method, request.url.path, dict(request.headers), body))
        path = request.url.path
        if request.method == "POST" and path.endswith("/analyze/tasks"):
            key = request.headers.get("idempotency-key", "")
            if key in self.by_key:
                tid = self.by_key[key]
            else:
                tid = f"task{len(self.tasks)}"
                self.by_key[key] = tid
                self.tasks[tid] = {"polls": 0, "body": body}
            return httpx.Response(202, json={"task_id": tid, "status": "queued"})
        if request.method == "GET" and "/analyze/tasks/" in path:
            tid = path.rsplit("/", 1)[1]
            task = self.tasks.get(tid)
            if task is None:
                return httpx.Response(404, json={"error": {"code": "not_found", "message": "no task"}})
            task["polls"] += 1
            if task["polls"] <= self.polls_before_ready:
                return httpx.Response(200, headers={"retry-after": "0"},
                                      json={"task_id": tid, "custom_id": None, "status": "processing",
                                            "created_at": "2026-01-01T00:00:00Z"})
            return httpx.Response(200, json={
                "task_id": tid, "custom_id": None, "status": "ready", "created_at": "2026-01-01T00:00:00Z",
                "result": {"generation_id": "g", "data": '{"ok": 1}', "finish_reason": "stop",
                           "usage": {"output_tokens": 5}}})
        if request.method == "POST" and path.endswith("/analyze/batches"):
            if self.batch_429s > 0:
                self.batch_429s -= 1
                return httpx.Response(429, headers={"retry-after": "0"},
                                      json={"error": {"code": "too_many_requests", "message": "5 active batches"}})
            bid = f"batch{len(self.batches)}"
            items = body["requests"]
            self.batches[bid] = {"items": items, "polls": 0, "defaults": body.get("defaults")}
            return httpx.Response(201, json={
                "batch_id": bid, "status": "pending", "total_items": len(items),
                "created_at": "2026-01-01T00:00:00Z", "expires_at": "2026-01-02T00:00:00Z",
                "items": [{"task_id": f"{bid}-{i}", "custom_id": it.get("custom_id")} for i, it in enumerate(items)]})
        if request.method == "GET" and path.endswith("/results"):
            bid = path.split("/")[-2]
            lines = []
            for i, item in enumerate(self.batches[bid]["items"]):
                cid = item["custom_id"]
                if (cid in self.fail_first or cid in self.fail_always) and cid not in self.failed_once:
                    self.failed_once.add(cid)
                    lines.append({"task_id": f"{bid}-{i}", "custom_id": cid, "status": "failed",
                                  "error": {"message": "asset could not be read"}})
                elif cid in self.fail_always:
                    lines.append({"task_id": f"{bid}-{i}", "custom_id": cid, "status": "failed",
                                  "error": {"message": "still unreadable"}})
                else:
                    lines.append({"task_id": f"{bid}-{i}", "custom_id": cid, "status": "ready",
                                  "data": {"generation_id": "g", "data": json.dumps({"id": cid}),
                                           "finish_reason": "stop", "usage": {"output_tokens": 3}}})
            text = "\n".join(json.dumps(line) for line in lines) + "\n"
            return httpx.Response(200, text=text, headers={"content-type": "application/jsonl"})
        if request.method == "GET" and "/analyze/batches/" in path:
            bid = path.rsplit("/", 1)[1]
            batch = self.batches[bid]
            batch["polls"] += 1
            n = len(batch["items"])
            done = batch["polls"] > 1
            return httpx.Response(200, json={
                "batch_id": bid, "analysis_mode": "general", "model_name": "pegasus1.5",
                "status": "completed" if done else "processing", "total_items": n,
                "created_at": "2026-01-01T00:00:00Z", "expires_at": "2026-01-02T00:00:00Z",
                "queued_items": 0, "processing_items": 0 if done else n, "ready_items": n if done else 0,
                "failed_items": 0, "canceled_items": 0})
        return httpx.Response(404, json={"code": "not_found", "message": path})

    def count(self, method: str, suffix: str) -> int:
        return sum(1 for m, p, _, _ in self.log if m == method and p.endswith(suffix))


def _client(server: FakeV13) -> V13Client:
    transport = httpx.MockTransport(server)
    http = AsyncHTTP(f"{HOST}/v1.3/", "key", timeout=httpx.Timeout(5.0), max_retries=0,
                     client=httpx.AsyncClient(transport=transport))
    return V13Client(http)


async def _no_sleep(_: float) -> None:
    await asyncio.sleep(0)


def test_task_is_created_once_with_a_derived_key_stored_at_once_and_resumed() -> None:
    server = FakeV13(polls_before_ready=2)
    store = MemoryStore()
    body = {"model_name": "pegasus1.5", "video": {"type": "asset_id", "asset_id": "a"},
            "analysis_mode": "time_based_metadata"}
    key = item_key("answer-key", 4096)

    async def go() -> Any:
        runner = TaskRunner(_client(server), RateGate(2), store, "scope", None, sleep=_no_sleep)
        answer = await runner.run(body, key, "video v")
        return runner, answer

    runner, answer = asyncio.run(go())
    assert answer.data == '{"ok": 1}' and answer.finish_reason == "stop"
    assert runner.created == 1 and server.count("POST", "/analyze/tasks") == 1
    posts = [h for m, p, h, _ in server.log if m == "POST"]
    assert posts[0]["idempotency-key"].startswith("tlcs-task-") and key[:16] in posts[0]["idempotency-key"]
    assert server.count("GET", "/analyze/tasks/task0") == 3  # two "processing" (Retry-After 0), then ready
    job = store.get_job("scope", f"task:{key}")
    assert job is not None and job.job_id == "task0"
    # A second run (after a crash) with the same store collects the same task: no new create.
    again, _ = asyncio.run(go())
    assert again.created == 0 and again.resumed == 1 and server.count("POST", "/analyze/tasks") == 1


def test_a_failed_task_is_reported_and_forgotten() -> None:
    server = FakeV13()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"task_id": "t", "custom_id": None, "status": "failed",
                                             "created_at": "x", "error": {"message": "video too long"}})
        return server(request)

    store = MemoryStore()
    transport = httpx.MockTransport(handler)
    http = AsyncHTTP(f"{HOST}/v1.3/", "key", timeout=httpx.Timeout(5.0), max_retries=0,
                     client=httpx.AsyncClient(transport=transport))
    runner = TaskRunner(V13Client(http), RateGate(2), store, "s", None, sleep=_no_sleep)
    with pytest.raises(JobFailed, match="video too long"):
        asyncio.run(runner.run({"model_name": "pegasus1.5"}, "k" * 64, "v"))
    assert store.get_job("s", "task:" + "k" * 64) is None


# ----------------------------------------------------------------------------- batches


def _ask_all(server: FakeV13, store: Any, n: int, **kwargs: Any) -> Tuple[BatchRunner, List[Any]]:
    async def go() -> Tuple[BatchRunner, List[Any]]:
        runner = BatchRunner(_client(server), store, "scope", "pegasus1.5", None, sleep=_no_sleep,
                             poll_initial=0.0, **kwargs)
        runner.add_workers(n)

        async def one(i: int) -> Any:
            key = f"{i:064x}"
            request = {"video": {"type": "asset_id", "asset_id": f"a{i}"}, "custom_id": key,
                       "prompt": {"input_text": "same prompt"}, "max_tokens": 1000 + i % 3}
            try:
                return await runner.ask(key, request, 60.0)
            except Exception as exc:  # collected for the assertions
                return exc
            finally:
                runner.worker_done()

        out = await asyncio.gather(*(one(i) for i in range(n)))
        await runner.close()
        return runner, list(out)

    return asyncio.run(go())


def test_batches_hold_at_most_1000_requests_and_429_is_waited_out() -> None:
    server = FakeV13(batch_429s=2)
    runner, answers = _ask_all(server, MemoryStore(), 2_500)
    sizes = sorted(len(b["items"]) for b in server.batches.values())
    assert sizes == [500, 1000, 1000]
    assert runner.created == 3 and runner.waited_429 == 2
    assert all(not isinstance(a, Exception) for a in answers)
    assert json.loads(answers[7].data) == {"id": f"{7:064x}"}
    # The shared prompt travels once, in ``defaults``.
    first = next(iter(server.batches.values()))
    assert first["defaults"] == {"prompt": {"input_text": "same prompt"}}
    posts = [h for m, p, h, _ in server.log if m == "POST"]
    assert all(h["idempotency-key"].startswith("tlcs-batch-") for h in posts)


def test_failed_items_are_resubmitted_once_then_reported() -> None:
    flaky, broken = f"{1:064x}", f"{2:064x}"
    server = FakeV13(fail_first=(flaky,), fail_always=(broken,))
    runner, answers = _ask_all(server, MemoryStore(), 5)
    assert not isinstance(answers[1], Exception)  # failed once, fine when resubmitted
    assert isinstance(answers[2], JobFailed) and "after one resubmission" in str(answers[2])
    assert runner.resubmitted == 2 and runner.created == 2
    assert sorted(len(b["items"]) for b in server.batches.values()) == [2, 5]


def test_batch_items_are_recorded_and_a_rerun_collects_them() -> None:
    server = FakeV13()
    store = MemoryStore()

    class Crash(Exception):
        pass

    # First run: the batch is created, then the process "dies" before collecting it.
    async def crash_after_create() -> None:
        runner = BatchRunner(_client(server), store, "scope", "pegasus1.5", None, sleep=_no_sleep)
        runner.add_workers(3)
        tasks = [asyncio.ensure_future(runner.ask(f"{i:064x}", {"video": {"type": "asset_id", "asset_id": "a"},
                                                                "custom_id": f"{i:064x}"}, 1.0)) for i in range(3)]
        while runner.created == 0:
            await asyncio.sleep(0)
        for t in tasks:
            t.cancel()
        await runner.close()

    asyncio.run(crash_after_create())
    assert server.count("POST", "/analyze/batches") == 1
    jobs: List[Mapping[str, Any]] = [j.to_json() for j in store.list_jobs("scope")]
    assert sum(1 for j in jobs if j["key"].startswith("batch-item:")) == 3
    runner, answers = _ask_all(server, store, 3)
    assert server.count("POST", "/analyze/batches") == 1  # no second batch: collected the first
    assert runner.created == 0 and runner.resumed == 3
    assert all(not isinstance(a, Exception) for a in answers)
