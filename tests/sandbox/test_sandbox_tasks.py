"""``/v1.3/analyze/tasks``, Idempotency-Key and ``--sunset pegasus1.2``, checked against the 2026-07 spec.

Requests we send and every answer the sandbox gives are validated with the
spec's own schemas (loaded from the shared specs, not from sandbox code).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any, Dict, Iterator, Tuple

import httpx
import jsonschema
import pytest

from classify_shim.sandbox import Sandbox, default_world
from shared_inputs import require

SPEC: Dict[str, Any] = json.loads(
    require("specs/twelvelabs-v1.3-openapi-2026-07.json", module=True).read_text(encoding="utf-8")
)


def _deref(node: Any, seen: Tuple[str, ...] = ()) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            if ref in seen:
                return {}
            target: Any = SPEC
            for part in ref[2:].split("/"):
                target = target[part]
            return _deref(target, (*seen, ref))
        return {k: _deref(v, seen) for k, v in node.items()}
    if isinstance(node, list):
        return [_deref(v, seen) for v in node]
    return node


def _resp_schema(path: str, method: str, status: str) -> Dict[str, Any]:
    op = _deref(SPEC["paths"][path][method])
    return op["responses"][status]["content"]["application/json"]["schema"]  # type: ignore[no-any-return]


def _req_schema(path: str) -> Dict[str, Any]:
    op = _deref(SPEC["paths"][path]["post"])
    return op["requestBody"]["content"]["application/json"]["schema"]  # type: ignore[no-any-return]


def _check(instance: Any, schema: Dict[str, Any]) -> None:
    jsonschema.Draft7Validator(schema).validate(instance)


WORLD = default_world()
VIDEO = WORLD["indexes"][0]["videos"][0]


@pytest.fixture()
def sb() -> Iterator[Sandbox]:
    with Sandbox(task_latency_ms=150) as s:
        yield s


def _client(sb: Sandbox) -> httpx.Client:
    return httpx.Client(base_url=sb.base_url + "/v1.3", headers={"x-api-key": "k"})


def _asset(sb: Sandbox) -> str:
    return str(sb.world["indexes"][0]["videos"][0]["asset_id"])


def test_task_lifecycle_matches_spec(sb: Sandbox) -> None:
    body = {"model_name": "pegasus1.5", "video": {"type": "asset_id", "asset_id": _asset(sb)},
            "prompt": "Is there dancing? Answer yes or no.", "custom_id": "c1", "max_tokens": 1024}
    _check(body, _req_schema("/analyze/tasks"))
    with _client(sb) as c:
        r = c.post("/analyze/tasks", json=body)
        assert r.status_code == 202, r.text
        _check(r.json(), _resp_schema("/analyze/tasks", "post", "202"))
        task_id = r.json()["task_id"]
        early = c.get(f"/analyze/tasks/{task_id}")
        assert early.status_code == 200 and early.json()["status"] in ("queued", "processing")
        assert c.delete(f"/analyze/tasks/{task_id}").status_code == 409
        got = early.json()
        import time
        for _ in range(200):
            got = c.get(f"/analyze/tasks/{task_id}").json()
            if got["status"] == "ready":
                break
            time.sleep(0.02)
        assert got["status"] == "ready"
        _check(got, _resp_schema("/analyze/tasks/{task_id}", "get", "200"))
        assert got["custom_id"] == "c1" and got["result"]["data"]
        listed = c.get("/analyze/tasks", params={"asset_id": _asset(sb), "status": "ready"})
        _check(listed.json(), _resp_schema("/analyze/tasks", "get", "200"))
        assert [t["task_id"] for t in listed.json()["data"]] == [task_id]
        assert c.get("/analyze/tasks", params={"asset_id": "nope"}).json()["data"] == []
        assert c.delete(f"/analyze/tasks/{task_id}").status_code == 200
        missing = c.get(f"/analyze/tasks/{task_id}")
        assert missing.status_code == 404
        _check(missing.json(), _resp_schema("/analyze/tasks/{task_id}", "get", "404"))
    log = [e for e in sb.requests() if e["endpoint"] == "v1.3.tasks.create"]
    assert log and log[0]["model"] == "pegasus1.5" and log[0]["status"] == 202


def test_idempotency_key_creates_one_task(sb: Sandbox) -> None:
    body = {"model_name": "pegasus1.5", "video": {"type": "asset_id", "asset_id": _asset(sb)}, "prompt": "p"}
    with _client(sb) as c:
        ids = {c.post("/analyze/tasks", json=body, headers={"Idempotency-Key": "k-1"}).json()["task_id"]
               for _ in range(3)}
        other = c.post("/analyze/tasks", json=body, headers={"Idempotency-Key": "k-2"}).json()["task_id"]
        assert len(c.get("/analyze/tasks").json()["data"]) == 2
    assert len(ids) == 1 and other not in ids
    creates = [e for e in sb.requests() if e["endpoint"] == "v1.3.tasks.create"]
    assert sum(1 for e in creates if e.get("idempotent_replay")) == 2


def test_task_rules_for_models(sb: Sandbox) -> None:
    with _client(sb) as c:
        tbm = c.post("/analyze/tasks", json={"model_name": "pegasus1.2", "video_id": VIDEO["_id"], "prompt": "p",
                                              "analysis_mode": "time_based_metadata",
                                              "response_format": _SEGMENTS_FORMAT})
        assert tbm.status_code == 400 and "analysis_mode" in tbm.json()["error"]["message"]
        vid15 = c.post("/analyze/tasks", json={"model_name": "pegasus1.5", "video_id": VIDEO["_id"], "prompt": "p"})
        assert vid15.status_code == 400 and "video_id" in vid15.json()["error"]["message"]
        _check(vid15.json(), _resp_schema("/analyze/tasks", "post", "400"))


def test_sunset_pegasus12_answers_410() -> None:
    with Sandbox(sunset="pegasus1.2") as sb, _client(sb) as c:
        for path, body in [
            ("/analyze", {"video_id": VIDEO["_id"], "prompt": "p", "stream": False}),
            ("/analyze", {"model_name": "pegasus1.2", "video": {"type": "asset_id", "asset_id": _asset(sb)},
                          "prompt": "p"}),
            ("/analyze/tasks", {"model_name": "pegasus1.2", "video_id": VIDEO["_id"], "prompt": "p"}),
        ]:
            r = c.post(path, json=body)
            err = r.json().get("error", r.json())
            assert r.status_code == 410 and err["code"] == "model_sunset", (path, r.text)
        ok = c.post("/analyze", json={"model_name": "pegasus1.5", "stream": False, "prompt": "p",
                                      "video": {"type": "asset_id", "asset_id": _asset(sb)}})
        assert ok.status_code == 200, ok.text
    with Sandbox() as live, _client(live) as c:
        assert c.post("/analyze", json={"video_id": VIDEO["_id"], "prompt": "p", "stream": False}).status_code == 200


def test_sunset_pegasus12_retires_the_v12_endpoint_unless_told_otherwise() -> None:
    """After the next sunset the v1.2 Classify endpoint (retired 2025) is gone too, by default."""
    assert Sandbox(sunset="pegasus1.2").legacy == "retired"
    assert Sandbox(sunset="pegasus1.2", legacy="live").legacy == "live"
    assert Sandbox().legacy == "live"


def test_cli_accepts_sunset_and_task_latency() -> None:
    out = subprocess.run([sys.executable, "-m", "classify_shim.sandbox", "--help"], capture_output=True, text=True,
                         check=True).stdout
    for flag in ("--port", "--world", "--legacy", "--latency-ms", "--rate-limit-rpm", "--fault-rate", "--noise",
                 "--sunset", "--task-latency-ms"):
        assert flag in out


# --------------------------------------------------------------------------- batches

def _batch_body(sb: Sandbox, n: int, prompt: str = "Is there dancing? Answer yes or no.") -> Dict[str, Any]:
    videos = [v for idx in sb.world["indexes"] for v in idx["videos"]][:n]
    return {"model_name": "pegasus1.5", "analysis_mode": "general",
            "defaults": {"prompt": {"input_text": prompt}, "max_tokens": 1024},
            "requests": [{"video": {"type": "asset_id", "asset_id": v["asset_id"]}, "custom_id": f"c{i}"}
                         for i, v in enumerate(videos)]}


def _wait_batch(c: httpx.Client, batch_id: str) -> Dict[str, Any]:
    import time
    got: Dict[str, Any] = {}
    for _ in range(300):
        got = c.get(f"/analyze/batches/{batch_id}").json()
        if got["status"] in ("completed", "canceled", "expired"):
            return got
        time.sleep(0.02)
    return got


def test_batch_lifecycle_matches_spec(sb: Sandbox) -> None:
    body = _batch_body(sb, 3)
    _check(body, _req_schema("/analyze/batches"))
    with _client(sb) as c:
        r = c.post("/analyze/batches", json=body)
        assert r.status_code == 201, r.text
        created = r.json()
        _check(created, _resp_schema("/analyze/batches", "post", "201"))
        assert created["total_items"] == 3 and [i["custom_id"] for i in created["items"]] == ["c0", "c1", "c2"]
        assert c.delete(f"/analyze/batches/{created['batch_id']}").status_code == 409
        done = _wait_batch(c, created["batch_id"])
        _check(done, _resp_schema("/analyze/batches/{batch_id}", "get", "200"))
        assert done["status"] == "completed" and done["ready_items"] == 3
        res = c.get(f"/analyze/batches/{created['batch_id']}/results")
        assert res.headers["content-type"].startswith("application/jsonl")
        entries = [json.loads(line) for line in res.text.splitlines()]
        assert [e["custom_id"] for e in entries] == ["c0", "c1", "c2"]
        assert all(e["status"] == "ready" and e["data"]["data"] for e in entries)
        task = c.get(f"/analyze/tasks/{entries[0]['task_id']}").json()
        assert task["result"] == entries[0]["data"]
        listed = c.get("/analyze/batches")
        _check(listed.json(), _resp_schema("/analyze/batches", "get", "200"))
        again = c.post(f"/analyze/batches/{created['batch_id']}/cancel")
        assert again.status_code == 409 and again.json()["error"]["code"] == "batch_completed"
        assert c.delete(f"/analyze/batches/{created['batch_id']}").status_code == 200
        assert c.get(f"/analyze/batches/{created['batch_id']}").status_code == 404
    log = [e for e in sb.requests() if e["endpoint"] == "v1.3.batches.create"]
    assert log[0]["model"] == "pegasus1.5" and log[0]["items"] == 3


def test_batch_rules() -> None:
    with Sandbox(task_latency_ms=60_000) as sb, _client(sb) as c:
        body = _batch_body(sb, 1)
        bad = c.post("/analyze/batches", json=dict(body, model_name="pegasus1.2"))
        assert bad.status_code == 400 and "pegasus1.5" in bad.json()["error"]["message"]
        _check(bad.json(), _resp_schema("/analyze/batches", "post", "400"))
        dup = dict(body, requests=body["requests"] * 2)
        assert c.post("/analyze/batches", json=dup).status_code == 400
        many = dict(body, requests=body["requests"][:1] * 1001)
        for i, req in enumerate(many["requests"]):
            many["requests"][i] = dict(req, custom_id=f"x{i}")
        assert c.post("/analyze/batches", json=many).status_code == 400
        missing = dict(body, requests=[{"video": {"type": "asset_id", "asset_id": "0" * 24}}])
        assert c.post("/analyze/batches", json=missing).status_code == 404
        ids = [c.post("/analyze/batches", json=body).json()["batch_id"] for _ in range(5)]
        sixth = c.post("/analyze/batches", json=body)
        assert sixth.status_code == 429 and sixth.json()["error"]["code"] == "too_many_active_batches"
        _check(sixth.json(), _resp_schema("/analyze/batches", "post", "429"))
        cancel = c.post(f"/analyze/batches/{ids[0]}/cancel")
        assert cancel.status_code == 202, cancel.text
        _check(cancel.json(), _resp_schema("/analyze/batches/{batch_id}/cancel", "post", "202"))
        assert c.get(f"/analyze/batches/{ids[0]}").json()["status"] == "canceled"
        assert c.post("/analyze/batches", json=body).status_code == 201  # a slot freed up
        one = c.post("/analyze/batches", json=body, headers={"Idempotency-Key": "b-1"})
        assert one.status_code == 429  # five active again
        c.post(f"/analyze/batches/{ids[1]}/cancel")
        first = c.post("/analyze/batches", json=body, headers={"Idempotency-Key": "b-1"}).json()["batch_id"]
        replay = c.post("/analyze/batches", json=body, headers={"Idempotency-Key": "b-1"})
        assert replay.status_code == 201 and replay.json()["batch_id"] == first


# --------------------------------------------------------------------------- time_based_metadata

_SEGMENTS_FORMAT: Dict[str, Any] = {
    "type": "segment_definitions",
    "segment_time_format": "seconds",
    "segment_definitions": [
        {"id": "dance", "description": 'Every span showing or talking about a "dance tutorial".',
         "fields": [
             {"name": "prompt", "type": "string", "description": "what matched", "enum": ["dance tutorial"]},
             {"name": "source", "type": "string", "description": "where", "enum": ["visual", "conversation"]},
             {"name": "confidence", "type": "integer", "description": "0-100"},
             {"name": "seen_at", "type": "timestamp", "format": "hh:mm:ss", "description": "first frame"},
         ]},
        {"id": "cook", "description": "Someone cooking",
         "fields": [{"name": "prompt", "type": "string", "description": "what matched",
                     "enum": ["whisking eggs in a copper bowl"]}]},
    ],
}


def _tbm_body(sb: Sandbox) -> Dict[str, Any]:
    return {"model_name": "pegasus1.5", "analysis_mode": "time_based_metadata",
            "video": {"type": "asset_id", "asset_id": _asset(sb)}, "response_format": _SEGMENTS_FORMAT}


def test_time_based_metadata_answers_from_world_content() -> None:
    with Sandbox() as sb, _client(sb) as c:
        body = _tbm_body(sb)
        _check(body, _req_schema("/analyze/tasks"))
        task_id = c.post("/analyze/tasks", json=body).json()["task_id"]
        got = c.get(f"/analyze/tasks/{task_id}").json()
        assert got["status"] == "ready"
        _check(got, _resp_schema("/analyze/tasks/{task_id}", "get", "200"))
        data = json.loads(got["result"]["data"])
    assert set(data) == {"dance", "cook"} and data["cook"] == []
    assert data["dance"], data
    content = VIDEO["content"]
    for seg in data["dance"]:
        meta = seg["metadata"]
        assert meta["prompt"] == "dance tutorial" and meta["source"] in ("visual", "conversation")
        assert isinstance(meta["confidence"], int) and 0 <= meta["confidence"] <= 100
        assert len(meta["seen_at"]) == 8 and meta["seen_at"].count(":") == 2
        spans = [(x["start"], x["end"]) for x in content[meta["source"]] if "dance tutorial" in x["text"]]
        assert any(a <= seg["start_time"] < seg["end_time"] <= b for a, b in spans), (seg, spans)
    sources = {seg["metadata"]["source"] for seg in data["dance"]}
    assert sources == {"visual", "conversation"}


def test_time_based_metadata_rules() -> None:
    with Sandbox() as sb, _client(sb) as c:
        body = _tbm_body(sb)
        bad_ts = json.loads(json.dumps(body))
        del bad_ts["response_format"]["segment_definitions"][0]["fields"][3]["format"]
        r = c.post("/analyze/tasks", json=bad_ts)
        assert r.status_code == 400 and "format" in r.json()["error"]["message"]
        json_fmt = dict(body, response_format={"type": "json_schema", "json_schema": {"type": "object"}})
        assert c.post("/analyze/tasks", json=json_fmt).status_code == 400
        short = dict(body, min_segment_duration=1)
        assert c.post("/analyze/tasks", json=short).status_code == 400
        general_seg = dict(body, analysis_mode="general")
        assert c.post("/analyze/tasks", json=general_seg).status_code == 400


def test_batch_of_segment_tasks() -> None:
    with Sandbox() as sb, _client(sb) as c:
        body = _batch_body(sb, 2)
        body["analysis_mode"] = "time_based_metadata"
        body["defaults"] = {"response_format": _SEGMENTS_FORMAT}
        _check(body, _req_schema("/analyze/batches"))
        created = c.post("/analyze/batches", json=body)
        assert created.status_code == 201, created.text
        done = _wait_batch(c, created.json()["batch_id"])
        assert done["analysis_mode"] == "time_based_metadata" and done["ready_items"] == 2
        lines = c.get(f"/analyze/batches/{done['batch_id']}/results").text.splitlines()
        first = json.loads(json.loads(lines[0])["data"]["data"])
        assert first["dance"] and first["cook"] == []


def test_scripted_answers_drive_tasks_and_batches() -> None:
    world = default_world()
    video = world["indexes"][0]["videos"][0]
    video["scripted_answers"] = [{"text": '{"dance": []}'}, {"text": "second"}]
    with Sandbox(world=world) as sb, _client(sb) as c:
        task_id = c.post("/analyze/tasks", json=_tbm_body(sb)).json()["task_id"]
        assert c.get(f"/analyze/tasks/{task_id}").json()["result"]["data"] == '{"dance": []}'
        created = c.post("/analyze/batches", json=_batch_body(sb, 1)).json()
        lines = c.get(f"/analyze/batches/{created['batch_id']}/results").text.splitlines()
        assert json.loads(lines[0])["data"]["data"] == "second"


def _two_hour_world() -> Dict[str, Any]:
    """The default world with its first video stretched to 2 hours (its content kept)."""
    world = default_world()
    world["indexes"][0]["videos"][0]["duration"] = 7200.0
    return world


def test_sync_analyze_refuses_videos_over_one_hour_and_tasks_take_them() -> None:
    with Sandbox(world=_two_hour_world(), task_latency_ms=0) as s, _client(s) as c:
        long_asset = _asset(s)
        short_asset = str(s.world["indexes"][0]["videos"][1]["asset_id"])
        body = {"model_name": "pegasus1.5", "prompt": "Is there dancing? Answer yes or no.", "stream": False}
        refused = c.post("/analyze", json={**body, "video": {"type": "asset_id", "asset_id": long_asset}})
        assert refused.status_code == 400, refused.text
        assert refused.json()["code"] == "video_duration_too_long"
        assert "/analyze/tasks" in refused.json()["message"]
        short = c.post("/analyze", json={**body, "video": {"type": "asset_id", "asset_id": short_asset}})
        assert short.status_code == 200, short.text
        task = {k: v for k, v in body.items() if k != "stream"}
        created = c.post("/analyze/tasks", json={**task, "video": {"type": "asset_id", "asset_id": long_asset}})
        assert created.status_code == 202, created.text
        assert c.get(f"/analyze/tasks/{created.json()['task_id']}").json()["status"] == "ready"
