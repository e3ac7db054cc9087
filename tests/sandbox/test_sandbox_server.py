"""Sandbox plumbing: lifecycle, request log, introspection, faults, worlds and the CLI."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, Iterator, List

import httpx
import pytest

from classify_shim.sandbox import Sandbox, WorldError, default_world, load_world, synthetic_world

KEY = {"x-api-key": "tlk_do_not_log_me_123"}
CLASSES: List[Dict[str, Any]] = [
    {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group", "Dance competition"]},
    {"name": "CookTok", "prompts": ["Cooking tutorial", "Cooking ustensils review"]},
]


@pytest.fixture()
def sb() -> Iterator[Sandbox]:
    with Sandbox() as sandbox:
        yield sandbox


def _first_index(sb: Sandbox) -> str:
    return str(sb.world["indexes"][0]["_id"])


# --------------------------------------------------------------------------- lifecycle

def test_restart_on_same_port_cuts_keepalive_connections(sb: Sandbox) -> None:
    port = sb.port
    url = sb.base_url
    with httpx.Client(base_url=url, headers=KEY) as c:
        assert c.get("/v1.3/indexes").status_code == 200
        sb.stop()
        assert not sb.running
        with pytest.raises(httpx.TransportError):
            c.get("/v1.3/indexes")
        sb.start()
        assert sb.port == port and sb.base_url == url
        assert c.get("/v1.3/indexes").status_code == 200


def test_start_stop_without_with() -> None:
    sandbox = Sandbox(port=0)
    sandbox.start()
    try:
        assert httpx.get(f"{sandbox.base_url}/_sandbox/world").status_code == 200
        assert sandbox.start() is sandbox  # idempotent
    finally:
        sandbox.stop()
        sandbox.stop()
    assert not sandbox.running


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValueError):
        Sandbox(legacy="dead")
    with pytest.raises(ValueError):
        Sandbox(noise="loud")
    with pytest.raises(ValueError):
        Sandbox(fault_rate=2.0)
    with pytest.raises(ValueError):
        Sandbox(rate_limit_rpm=0)


def test_keepalive_connection_is_reused(sb: Sandbox) -> None:
    with httpx.Client(base_url=sb.base_url, headers=KEY) as c:
        r1 = c.get("/v1.3/indexes")
        r2 = c.get("/v1.3/indexes")
        assert r1.http_version == "HTTP/1.1" and r2.status_code == 200
        assert r1.headers.get("connection", "").lower() != "close"


# --------------------------------------------------------------------------- request log and introspection

def test_request_log_records_calls_without_the_key(sb: Sandbox) -> None:
    vid = sb.world["indexes"][0]["videos"][0]["_id"]
    with httpx.Client(base_url=sb.base_url, headers=KEY) as c:
        c.post("/v1.2/classify", json={"video_ids": [vid], "options": ["visual"], "classes": CLASSES})
        c.post("/v1.2/classify/bulk", json={"index_id": _first_index(sb), "options": ["visual"], "classes": CLASSES})
        c.get(f"/v1.3/indexes/{_first_index(sb)}/videos/{vid}", params={"transcription": "true"})
        c.get("/v1.3/indexes", params={"page": 1, "api_key": "secret-in-query"})
        c.post("/v1.3/analyze", json={"video_id": vid, "prompt": "Summarize", "stream": False})
        logged = c.get("/_sandbox/requests").json()["requests"]
    assert logged == sb.requests()
    assert [e["endpoint"] for e in logged] == ["v1.2.classify", "v1.2.classify.bulk", "v1.3.video",
                                               "v1.3.indexes", "v1.3.analyze"]
    for e in logged:
        assert {"method", "path", "query", "status", "time", "duration_ms", "endpoint", "video"} <= set(e)
        assert e["status"] == 200 and e["time"].endswith("Z") and e["duration_ms"] >= 0
    assert logged[0]["video"] == vid and logged[2]["video"] == vid and logged[4]["video"] == vid
    assert logged[2]["query"] == {"transcription": "true"}
    dumped = json.dumps(logged)
    assert "tlk_do_not_log_me_123" not in dumped and "secret-in-query" not in dumped
    assert httpx.delete(f"{sb.base_url}/_sandbox/requests").status_code == 200
    assert sb.requests() == []
    sb.clear_requests()


def test_world_introspection_and_replacement(sb: Sandbox) -> None:
    got = httpx.get(f"{sb.base_url}/_sandbox/world").json()
    assert got == sb.world
    small = synthetic_world(3, seed=7)
    r = httpx.post(f"{sb.base_url}/_sandbox/world", json=small)
    assert r.status_code == 200
    assert [v["_id"] for v in sb.world["indexes"][0]["videos"]] == [v["_id"] for v in small["indexes"][0]["videos"]]
    bad = httpx.post(f"{sb.base_url}/_sandbox/world", json={"indexes": [{"_id": "xyz"}]})
    assert bad.status_code == 400 and bad.json()["code"] == "world_invalid"
    assert sb.world["indexes"][0]["index_name"] == small["indexes"][0]["index_name"]  # unchanged on error
    sb.set_world(None)
    assert sb.world == default_world()


def test_unknown_routes_and_methods(sb: Sandbox) -> None:
    with httpx.Client(base_url=sb.base_url, headers=KEY) as c:
        assert c.get("/v1.2/search").status_code == 404
        r = c.get("/v1.3/analyze")
        assert r.status_code == 405 and r.headers["x-api-version"] == "1.3"


# --------------------------------------------------------------------------- faults

def test_fault_rate_one_always_fails_api_but_not_introspection() -> None:
    with Sandbox(fault_rate=1.0, seed=3) as sb:
        statuses = []
        with httpx.Client(base_url=sb.base_url, headers=KEY) as c:
            for _ in range(24):
                try:
                    r = c.get("/v1.3/indexes")
                    assert r.json()["code"] and r.json()["message"]
                    statuses.append(r.status_code)
                except httpx.TransportError:
                    statuses.append(0)
        assert set(statuses) <= {0, 500, 502, 503}
        assert 0 in statuses and any(s >= 500 for s in statuses)
        assert httpx.get(f"{sb.base_url}/_sandbox/world").status_code == 200
        faults = [e for e in sb.requests() if e["endpoint"] == "v1.3.indexes"]
        assert len(faults) == 24 and all("fault" in e for e in faults)


def test_fault_rate_zero_never_fails(sb: Sandbox) -> None:
    with httpx.Client(base_url=sb.base_url, headers=KEY) as c:
        assert all(c.get("/v1.3/indexes").status_code == 200 for _ in range(20))


# --------------------------------------------------------------------------- worlds

def test_default_world_shape() -> None:
    w = default_world()
    assert len(w["indexes"]) >= 2
    videos = [v for idx in w["indexes"] for v in idx["videos"]]
    assert len(videos) >= 8
    assert sum(v["duration"] for v in w["indexes"][0]["videos"]) < 10 * 3600
    for v in videos:
        assert len(v["_id"]) == 24 and v["asset_id"] and v["created_at"].endswith("Z")
        assert set(v["content"]) == {"visual", "conversation", "text_in_video"}
    assert default_world() == w  # stable


def test_load_world_from_path_and_errors(tmp_path: Path) -> None:
    p = tmp_path / "w.json"
    p.write_text(json.dumps(synthetic_world(2)))
    assert len(load_world(p)["indexes"][0]["videos"]) == 2
    assert load_world(str(p)) == load_world(p)
    broken = copy.deepcopy(default_world())
    broken["indexes"][0]["videos"][0]["content"]["visual"][0]["end"] = 99999.0
    with pytest.raises(WorldError):
        load_world(broken)
    dup = copy.deepcopy(default_world())
    dup["indexes"][1]["videos"].append(copy.deepcopy(dup["indexes"][0]["videos"][0]))
    with pytest.raises(WorldError, match="duplicate"):
        load_world(dup)
    for bad in ({"indexes": "x"}, {"indexes": [{"_id": "ABC", "index_name": "i", "videos": []}]},
                {"indexes": [{"_id": "a" * 24, "index_name": "i",
                              "videos": [{"_id": "b" * 24, "filename": "f", "duration": 1,
                                          "content": {"audio": []}}]}]}):
        with pytest.raises(WorldError):
            load_world(bad)
    with pytest.raises(WorldError):
        load_world(tmp_path / "missing.json")


def test_synthetic_world_is_deterministic_and_classifiable() -> None:
    a = synthetic_world(200, n_indexes=3, seed=5)
    assert a == synthetic_world(200, n_indexes=3, seed=5)
    assert a != synthetic_world(200, n_indexes=3, seed=6)
    assert len(a["indexes"]) == 3
    assert sum(len(i["videos"]) for i in a["indexes"]) == 200
    assert load_world(a) == a  # passes validation
    with Sandbox(world=a) as sb, httpx.Client(base_url=sb.base_url, headers=KEY) as c:
        r = c.post("/v1.2/classify/bulk", json={"index_id": a["indexes"][0]["_id"], "options": ["visual"],
                                                "classes": CLASSES, "page_limit": 50})
        names = {v["_id"]: v["filename"] for v in a["indexes"][0]["videos"]}
        for item in r.json()["data"]:
            topic = names[item["video_id"]]
            expected = "DanceTok" if topic.startswith("dance") else "CookTok"
            assert [cl["name"] for cl in item["classes"]] == [expected]
        n_seed = sum(1 for f in names.values() if f.startswith(("dance", "cooking", "utensils")))
        assert r.json()["page_info"]["total_results"] == n_seed


# --------------------------------------------------------------------------- CLI

def _run_cli(cmd: List[str]) -> None:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        if not first.startswith("http://127.0.0.1:"):
            err = proc.stderr.read() if proc.poll() is not None and proc.stderr else ""
            pytest.fail(f"first line was {first!r}; stderr: {err}")
        second = proc.stdout.readline()
        assert "world" in second
        r = httpx.get(f"{first}/v1.3/indexes", headers=KEY)
        assert r.status_code == 200  # v1.3 is unaffected by --legacy retired
        c = httpx.post(f"{first}/v1.2/classify/bulk", headers=KEY,
                       json={"index_id": "66a0c1d2e3f4a5b6c7d80001", "options": ["visual"], "classes": CLASSES})
        assert c.status_code == 410 and c.json()["code"] == "endpoint_deprecated"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_module_prints_url_first() -> None:
    _run_cli([sys.executable, "-m", "classify_shim.sandbox", "--port", "0", "--legacy", "retired", "--seed", "1"])


def test_cli_register_subcommand() -> None:
    script = textwrap.dedent(
        """
        import argparse, sys
        from classify_shim.sandbox._cli import register
        parser = argparse.ArgumentParser(prog="classify-shim")
        sub = parser.add_subparsers(dest="command", required=True)
        register(sub)
        args = parser.parse_args(sys.argv[1:])
        sys.exit(args.func(args))
        """
    )
    _run_cli([sys.executable, "-c", script, "sandbox", "--port", "0", "--legacy", "retired",
              "--noise", "realistic", "--rate-limit-rpm", "100", "--fault-rate", "0", "--latency-ms", "0"])


def test_cli_rejects_bad_world(tmp_path: Path) -> None:
    p = tmp_path / "bad.json"
    p.write_text("{}")
    proc = subprocess.run([sys.executable, "-m", "classify_shim.sandbox", "--world", str(p)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "error" in proc.stderr
