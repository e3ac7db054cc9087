"""The real ``twelvelabs`` 1.3.6 async-analysis clients (``analyze_async.tasks`` and ``.batches``) against
the sandbox: create (with and without ``Idempotency-Key``), poll, list, delete; batch create, progress,
list, JSONL results, cancel; and the async client's task create / retrieve.

The SDK is installed into a directory of its own under the session's tmp (``--no-deps``, plus only the
requirements the test venv lacks, the one install rule of ``test_attach``) and run in a child
interpreter with that directory first on ``PYTHONPATH``, so it shadows the venv's 0.3.2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

from classify_shim.sandbox import Sandbox, default_world

pytestmark = pytest.mark.slow

RELEASE = "1.3.6"

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from importlib import metadata
    from twelvelabs import AsyncTwelveLabs, TwelveLabs
    from twelvelabs.types import (AsyncResponseFormat, BatchDefaults, BatchItemRequest, BatchPrompt,
                                  BatchVideoContext, SegmentDefinition, SegmentField, VideoContext_AssetId)

    url, cook_asset, other_asset = sys.argv[1:4]
    client = TwelveLabs(api_key="tlk_sdk136_key", base_url=url + "/v1.3")
    tasks, batches = client.analyze_async.tasks, client.analyze_async.batches
    out = {"sdk": metadata.version("twelvelabs")}
    idem = {"additional_headers": {"Idempotency-Key": "sdk-task-1"}}

    def wait_task(task_id):
        got = None
        for _ in range(1000):
            got = tasks.retrieve(task_id)
            if got.status in ("ready", "failed", "canceled"):
                break
            time.sleep(0.02)
        return got

    general = tasks.create(model_name="pegasus1.5", video=VideoContext_AssetId(asset_id=cook_asset),
                           prompt="Summarize the video", max_tokens=1024, request_options=idem)
    again = tasks.create(model_name="pegasus1.5", video=VideoContext_AssetId(asset_id=cook_asset),
                         prompt="Summarize the video", max_tokens=1024, request_options=idem)
    out["same_task"] = general.task_id == again.task_id
    done = wait_task(general.task_id)
    out["general"] = [done.status, bool(done.result and done.result.data), done.completed_at is not None]

    fmt = AsyncResponseFormat(type="segment_definitions", segment_time_format="seconds", segment_definitions=[
        SegmentDefinition(id="cook", description="Every time span where someone is cooking", fields=[
            SegmentField(name="prompt", type="string", description="the matched prompt",
                         enum=["Cooking tutorial", "Cooking ustensils review"]),
            SegmentField(name="confidence", type="integer", description="0 to 100"),
        ])])
    seg = tasks.create(model_name="pegasus1.5", video=VideoContext_AssetId(asset_id=cook_asset),
                       analysis_mode="time_based_metadata", response_format=fmt)
    seg_done = wait_task(seg.task_id)
    out["segments_status"] = seg_done.status
    out["segments"] = json.loads(seg_done.result.data) if seg_done.result and seg_done.result.data else None

    listed = tasks.list(page_limit=10)
    out["listed"] = sorted(t.task_id for t in listed.data) == sorted([general.task_id, seg.task_id])
    out["listed_segments"] = [t.task_id for t in tasks.list(analysis_mode="time_based_metadata").data] == [seg.task_id]
    tasks.delete(general.task_id)
    try:
        tasks.retrieve(general.task_id)
        out["after_delete"] = None
    except Exception as exc:
        out["after_delete"] = [type(exc).__name__, getattr(exc, "status_code", None)]

    created = batches.create(
        model_name="pegasus1.5", analysis_mode="general",
        defaults=BatchDefaults(prompt=BatchPrompt(input_text="Is there cooking? Answer yes or no."), max_tokens=1024),
        requests=[BatchItemRequest(video=BatchVideoContext(type="asset_id", asset_id=a), custom_id=f"item-{i}")
                  for i, a in enumerate((cook_asset, other_asset))],
        request_options={"additional_headers": {"Idempotency-Key": "sdk-batch-1"}})
    replay = batches.create(
        model_name="pegasus1.5", analysis_mode="general",
        defaults=BatchDefaults(prompt=BatchPrompt(input_text="Is there cooking? Answer yes or no."), max_tokens=1024),
        requests=[BatchItemRequest(video=BatchVideoContext(type="asset_id", asset_id=a), custom_id=f"item-{i}")
                  for i, a in enumerate((cook_asset, other_asset))],
        request_options={"additional_headers": {"Idempotency-Key": "sdk-batch-1"}})
    out["same_batch"] = created.batch_id == replay.batch_id
    out["batch_created"] = [created.total_items, len(created.items)]
    status = None
    for _ in range(1000):
        status = batches.retrieve(created.batch_id)
        if status.status in ("completed", "canceled", "expired"):
            break
        time.sleep(0.02)
    out["batch"] = [status.status, status.total_items, status.ready_items, status.failed_items]
    out["batch_listed"] = [b.batch_id for b in batches.list(page_limit=1)] == [created.batch_id]
    results = list(batches.results(created.batch_id))
    out["results"] = sorted([r.custom_id, r.status, bool(r.data and r.data.data), bool(r.task_id)] for r in results)
    other = batches.create(model_name="pegasus1.5", analysis_mode="general",
                           requests=[BatchItemRequest(video=BatchVideoContext(type="asset_id", asset_id=other_asset),
                                                      prompt=BatchPrompt(input_text="Describe the video"))])
    out["cancel"] = batches.cancel(other.batch_id).status

    async def async_task():
        aclient = AsyncTwelveLabs(api_key="tlk_sdk136_key", base_url=url + "/v1.3")
        made = await aclient.analyze_async.tasks.create(
            model_name="pegasus1.5", video=VideoContext_AssetId(asset_id=other_asset), prompt="Describe it")
        for _ in range(1000):
            got = await aclient.analyze_async.tasks.retrieve(made.task_id)
            if got.status in ("ready", "failed", "canceled"):
                return got.status
            await asyncio.sleep(0.02)
        return got.status

    out["async_task"] = asyncio.run(async_task())
    print("RESULT " + json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def sdk136(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from test_attach import _pip, _unsatisfied_requirements  # one install rule for official SDKs

    target = tmp_path_factory.mktemp(f"twelvelabs-{RELEASE}-jobs")
    _pip(target, f"twelvelabs=={RELEASE}")
    extra = [r for d in target.glob("twelvelabs-*.dist-info") for r in _unsatisfied_requirements(d)]
    if extra:
        _pip(target, *extra)
    return target


@pytest.fixture()
def sb() -> Iterator[Sandbox]:
    with Sandbox(task_latency_ms=150) as sandbox:
        yield sandbox


def test_sdk136_task_and_batch_clients_work_against_the_sandbox(sdk136: Path, sb: Sandbox) -> None:
    videos = {v["filename"]: v for v in default_world()["indexes"][0]["videos"]}
    cook, other = videos["pasta_from_scratch.mp4"], videos["derby_highlights.mp4"]
    env: Dict[str, Any] = {k: v for k, v in os.environ.items() if not k.startswith("TWELVELABS_") and k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(sdk136)  # first on sys.path: shadows the venv's 0.3.2
    proc = subprocess.run([sys.executable, "-c", SCRIPT, sb.base_url, cook["asset_id"], other["asset_id"]],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out: Dict[str, Any] = json.loads(next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))[7:])
    assert out["sdk"] == RELEASE
    assert out["same_task"] is True and out["same_batch"] is True  # Idempotency-Key honoured
    assert out["general"] == ["ready", True, True]
    assert out["segments_status"] == "ready"
    segments = out["segments"]["cook"]
    assert segments, out["segments"]  # the world's pasta video is about cooking
    for s in segments:
        assert 0 <= s["start_time"] < s["end_time"] <= cook["duration"]
        assert s["metadata"]["prompt"] in ("Cooking tutorial", "Cooking ustensils review")
        assert isinstance(s["metadata"]["confidence"], int)
    assert out["listed"] is True and out["listed_segments"] is True
    assert out["after_delete"][1] == 404
    assert out["batch_created"] == [2, 2]
    assert out["batch"] == ["completed", 2, 2, 0]
    assert out["batch_listed"] is True
    assert out["results"] == [["item-0", "ready", True, True], ["item-1", "ready", True, True]]
    assert out["cancel"] == "canceled"
    assert out["async_task"] == "ready"
    log = sb.requests()
    creates = [e for e in log if e["endpoint"] in ("v1.3.tasks.create", "v1.3.batches.create")]
    assert [e.get("idempotent_replay") is True for e in creates if e.get("idempotency_key")] == [False, True,
                                                                                                False, True]
    assert "tlk_sdk136_key" not in json.dumps(log)
