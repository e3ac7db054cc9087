"""The client's strategies against the sandbox over loopback, counted through ``/_sandbox/requests``.

* on a sandbox where Pegasus 1.2 and the v1.2 endpoints are gone, the reference's example scripts run
  unchanged with the default configuration and reach ``/analyze`` with Pegasus 1.5;
* ``strategy=batch`` pays through batches only, ``segments`` through tasks only;
* a run killed with SIGKILL mid-way and rerun creates no task or batch twice.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Counter, Dict, List, Tuple

import pytest

import seed
from classify_shim import TwelveLabs
from classify_shim.sandbox import Sandbox, default_world
from legacy_support import API_KEY, child_env, run_python
from shared_inputs import missing

pytestmark = pytest.mark.filterwarnings("ignore::classify_shim.ClassifyDeprecationWarning")

CLASSES: List[Dict[str, Any]] = [
    {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group", "Dance competition"]},
    {"name": "CookTok", "prompts": ["Cooking tutorial", "Cooking ustensils review"]},
]
_MODEL_CALLS = ("v1.3.analyze", "v1.3.tasks.create", "v1.3.batches.create")


def _calls(sb: Sandbox) -> Counter[Tuple[str, Any, int]]:
    return collections.Counter((e["endpoint"], e.get("model"), e["status"]) for e in sb.requests())


def _classify_index(sb: Sandbox, tmp: Path, strategy: str) -> List[Any]:
    client = TwelveLabs(api_key=API_KEY, base_url=sb.base_url, classify_backend="pegasus", strategy=strategy,
                        cache=str(tmp / "cache.sqlite3"))
    page = client.classify.index(index_id=sb.world["indexes"][0]["_id"], options=["visual", "conversation"],
                                 classes=CLASSES, page_limit=50)
    return list(page.data)


@pytest.mark.skipif(seed.SEED_REFERENCE is None, reason=missing(seed.SEED_FILE))
def test_examples_run_unchanged_after_the_sunset(tmp_path: Path) -> None:
    examples = seed.load_examples()
    with Sandbox(sunset="pegasus1.2", legacy="retired") as sb:
        index = sb.world["indexes"][0]
        vids = tuple(v["_id"] for v in index["videos"][:3])
        env = child_env(TWELVELABS_BASE_URL=sb.base_url, TWELVELABS_CLASSIFY_CACHE=str(tmp_path / "c.sqlite3"))
        for name, example in examples.items():
            if name == "by_page_token":
                continue  # needs a token from a previous page; covered by the paging example
            code = seed.prepare(example, import_line="from classify_shim import TwelveLabs", api_key=API_KEY,
                                video_ids=vids, index_id=index["_id"])
            script = tmp_path / f"{name}.py"
            script.write_text(code, encoding="utf-8")
            done = run_python([str(script)], cwd=tmp_path, env=env)
            assert done.returncode == 0, (name, done.stderr[-2000:])
            assert "Class name" in done.stdout or "Video ID" in done.stdout, (name, done.stdout[-500:])
        calls = _calls(sb)
    analyze = {k: n for k, n in calls.items() if k[0] == "v1.3.analyze"}
    assert analyze and all(model == "pegasus1.5" and status == 200 for _, model, status in analyze), calls
    assert not any(k[0].startswith("v1.2") and k[2] == 200 for k in calls), calls


@pytest.mark.parametrize("strategy, only", [("batch", "v1.3.batches.create"), ("segments", "v1.3.tasks.create")])
def test_strategy_pays_through_its_endpoint_only(tmp_path: Path, strategy: str, only: str) -> None:
    with Sandbox() as sb:
        videos = _classify_index(sb, tmp_path, strategy)
        calls = _calls(sb)
        creates = [e for e in sb.requests() if e["endpoint"] == only]
    assert videos, "the index has matching videos"
    paid = {k[0] for k in calls if k[0] in _MODEL_CALLS}
    assert paid == {only}, calls
    assert all(e.get("idempotency_key") for e in creates), creates
    if strategy == "batch":
        assert len(creates) == 1 and creates[0]["items"] == len(default_world()["indexes"][0]["videos"])
    else:
        assert len(creates) == len(default_world()["indexes"][0]["videos"])
        assert len({e["idempotency_key"] for e in creates}) == len(creates)


_RUNNER = """
import sys
from classify_shim import TwelveLabs
base, strategy, cache, index_id = sys.argv[1:5]
client = TwelveLabs(api_key="k", base_url=base, classify_backend="pegasus", strategy=strategy, cache=cache)
page = client.classify.index(index_id=index_id, options=["visual", "conversation"],
                             classes=[{"name": "DanceTok", "prompts": ["Dance tutorial"]}], page_limit=50)
print("done", len(page.data), flush=True)
"""


@pytest.mark.parametrize("strategy, create", [("segments", "v1.3.tasks.create"), ("batch", "v1.3.batches.create")])
def test_kill_9_then_rerun_pays_nothing_twice(tmp_path: Path, strategy: str, create: str) -> None:
    script = tmp_path / "run.py"
    script.write_text(_RUNNER, encoding="utf-8")
    cache = str(tmp_path / "cache.sqlite3")
    with Sandbox(task_latency_ms=1500) as sb:
        args = [sys.executable, str(script), sb.base_url, strategy, cache, sb.world["indexes"][0]["_id"]]
        env = child_env(TWELVELABS_CLASSIFY_WARNINGS="off")
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(e["endpoint"] == create and e["status"] < 300 for e in sb.requests()):
                break
            time.sleep(0.02)
        time.sleep(0.2)  # let the other creations of the run go out too
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL, "the run finished before it was killed"
        first = [e for e in sb.requests() if e["endpoint"] == create and e["status"] < 300]
        again = run_python([str(script), *args[2:]], env=env)
        assert again.returncode == 0 and "done" in again.stdout, again.stderr[-2000:]
        every = [e for e in sb.requests() if e["endpoint"] == create and e["status"] < 300]
    assert first, "the killed run created something"
    new = [e for e in every if not e.get("idempotent_replay")]
    keys = [e["idempotency_key"] for e in new]
    assert len(keys) == len(set(keys)), "a question was created (and paid) twice"
    ids = [e.get("task") or e.get("batch") for e in new]
    assert len(ids) == len(set(ids))
    if strategy == "batch":
        assert len(new) == 1, new
    else:
        assert len(new) == len(default_world()["indexes"][0]["videos"]), new
