"""Many workers, one store: each answer is paid for once (issue "pay once per answer").

Real processes (``subprocess``) against one loopback sandbox, sharing either one SQLite file or
one real Redis server with no shared disk. Calls are counted in the sandbox's request log;
nothing here depends on timing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import httpx
import pytest

from classify_shim import TwelveLabs
from classify_shim.sandbox import Sandbox, synthetic_world

KEY = "tlk_fleet_test_key"
CLASSES = [
    {"name": "Cooking", "prompts": ["cooking tutorial", "kitchen"]},
    {"name": "Sports", "prompts": ["football match", "running"]},
]
N_VIDEOS = 60
WORKERS = 4

_SCRIPT = r"""
import json, os, sys, warnings
warnings.simplefilter("ignore")
from classify_shim import TwelveLabs
job = json.loads(os.environ["FLEET_JOB"])
client = TwelveLabs(job["key"], classify_backend="pegasus", base_url=job["base_url"], cache=job["cache"],
                    max_retries=2)
result = client.classify.videos(job["ids"], ["visual"], job["classes"], page_limit=job.get("page_limit", 50))
out = {"first": [v.video_id for v in result.data], "token": result.page_info.next_page_token,
       "stats": vars(getattr(client._backend, "last_run", None) or object.__new__(type("S", (), {})))}
if job.get("token"):
    page = client.classify.by_page_token(job["token"])
    out["page"] = [v.model_dump() for v in page.data]
print(json.dumps(out, default=str))
"""


@pytest.fixture(scope="module")
def fleet_sb() -> Iterator[Sandbox]:
    with Sandbox(world=synthetic_world(N_VIDEOS, seed=11), latency_ms=40) as sb:
        yield sb


@pytest.fixture
def sb60(fleet_sb: Sandbox) -> Sandbox:
    fleet_sb.clear_requests()
    return fleet_sb


def _ids(sb: Sandbox) -> List[str]:
    return [v["_id"] for ix in sb.world["indexes"] for v in ix["videos"]]


def _analyze_calls(sb: Sandbox, since: str = "") -> List[Dict[str, Any]]:
    """/analyze calls in the log that STARTED at ``since`` or later (the log is written when a
    response ends, so a killed worker's last calls may land after a clear)."""
    return [r for r in sb.requests() if r.get("endpoint") == "v1.3.analyze" and r.get("time", "") >= since]


def _settle(sb: Sandbox) -> None:
    """Every request a killed worker had sent is handled and logged, so none of them is taken for
    a later process's: one request of our own is accepted after every connection queued before it
    (the listen backlog is first in, first out), then the sandbox is idle with no connection open."""
    httpx.get(sb.base_url + "/_sandbox/world", timeout=30).raise_for_status()
    sb.wait_idle(connections=True)


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _spawn(
    sb: Sandbox, cache: str, home: Path, env_extra: Optional[Dict[str, str]] = None, **job: Any
) -> subprocess.Popen[str]:
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWELVELABS_")}
    # Each worker its own HOME / cache dir: nothing on disk is shared unless ``cache`` is a file.
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), **(env_extra or {}))
    env["FLEET_JOB"] = json.dumps(
        {"key": KEY, "base_url": sb.base_url, "cache": cache, "ids": _ids(sb), "classes": CLASSES, **job}
    )
    return subprocess.Popen([sys.executable, "-c", _SCRIPT], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen[str]) -> Dict[str, Any]:
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _cache_for(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "redis":
        return str(request.getfixturevalue("redis_prefix_url"))
    return str(tmp_path / "shared.sqlite3")


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_four_processes_pay_once_per_video(
    sb60: Sandbox, tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    """Figure: 4 processes x 60 videos, one store -> exactly 60 /analyze calls (was 104)."""
    cache = _cache_for(kind, tmp_path, request)
    procs = [_spawn(sb60, cache, tmp_path / f"w{i}") for i in range(WORKERS)]
    results = [_finish(p) for p in procs]
    calls = _analyze_calls(sb60)
    assert len(calls) == N_VIDEOS, f"{len(calls)} /analyze calls for {N_VIDEOS} videos"
    assert len({c.get("video") for c in calls}) == N_VIDEOS  # one per video, none twice
    assert all(r["first"] == results[0]["first"] for r in results)  # every worker got the same result


def test_threads_with_their_own_clients_pay_once(
    sb60: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Figure: 4 threads, 4 clients, one SQLite file -> 60 calls, and no store trouble at all
    (four clients creating one new file at once must not find it "locked")."""
    caplog.set_level("WARNING", logger="classify_shim.store")
    monkeypatch.setenv("TWELVELABS_CLASSIFY_WARNINGS", "off")
    cache = tmp_path / "threads.sqlite3"
    errors: List[BaseException] = []

    def work() -> None:
        try:
            with TwelveLabs(KEY, classify_backend="pegasus", base_url=sb60.base_url, cache=cache) as c:
                c.classify.videos(_ids(sb60), ["visual"], CLASSES)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(_analyze_calls(sb60)) == N_VIDEOS
    assert [r.getMessage() for r in caplog.records if r.name == "classify_shim.store"] == []


def test_second_process_on_redis_pays_nothing_and_serves_the_first_tokens(
    sb60: Sandbox, tmp_path: Path, redis_prefix_url: str
) -> None:
    """Figure: two processes, no shared disk, one Redis: the second makes 0 /analyze calls and
    serves page 2 from the first one's token."""
    first = _finish(_spawn(sb60, redis_prefix_url, tmp_path / "a", page_limit=10))
    assert len(_analyze_calls(sb60)) == N_VIDEOS
    assert first["token"]
    sb60.clear_requests()
    second = _finish(_spawn(sb60, redis_prefix_url, tmp_path / "b", page_limit=10, token=first["token"]))
    assert _analyze_calls(sb60) == []
    assert second["first"] == first["first"]
    assert second["page"] and len(second["page"]) <= 10
    assert not {v["video_id"] for v in second["page"]} & set(first["first"])  # really page 2


@pytest.mark.parametrize("kind", ["sqlite", "redis"])
def test_killed_process_rerun_pays_only_for_what_is_missing(
    sb60: Sandbox, tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    """A worker killed mid-run leaves claims behind; the rerun is not blocked by them and pays
    exactly for the answers the store does not hold.

    The kill comes once the STORE holds an answer (the sandbox's log says only that answers were
    sent: under load the worker had stored none yet), and the worker runs 4 calls at a time at
    150 ms each, so the other 56 take seconds more: killed in the middle whatever the load."""
    from classify_shim._config import ClientConfig
    from classify_shim._store import open_store

    cache = _cache_for(kind, tmp_path, request)
    config = ClientConfig.build(KEY, "v1.2", classify_backend="pegasus", base_url=sb60.base_url,
                                timeout=5.0, max_retries=0, cache=cache)
    store = open_store(config)
    sb60.latency_ms = 150
    try:
        victim = _spawn(sb60, cache, tmp_path / "victim", env_extra={"TWELVELABS_CLASSIFY_CONCURRENCY": "4"})
        for _ in range(3000):  # until an answer is stored (bounded: a broken run must not hang)
            if store.stats()["answers"].entries > 0 or victim.poll() is not None:
                break
            threading.Event().wait(0.02)
        victim.send_signal(signal.SIGKILL)
        victim.communicate(timeout=30)
        _settle(sb60)
    finally:
        sb60.latency_ms = 40
    held = store.stats()["answers"].entries
    store.close()
    assert 0 < held < N_VIDEOS, f"the kill came too late or too early to test anything ({held} answers)"
    started = _now()
    _finish(_spawn(sb60, cache, tmp_path / "rerun"))
    assert len(_analyze_calls(sb60, since=started)) == N_VIDEOS - held
