"""Issue acceptance, from outside: a real ``classify-shim sandbox --sunset pegasus1.2`` process, users'
scripts in fresh interpreters with the default configuration, every count read from ``/_sandbox/requests``.

* the reference's example scripts run unchanged and their calls reach ``/analyze`` with Pegasus 1.5;
* ``TWELVELABS_CLASSIFY_STRATEGY=batch`` classifies a whole index through batches only, ``segments``
  through tasks only;
* a run killed with SIGKILL mid-way and rerun pays for nothing twice (task / batch creations counted in
  the log), and every creation's ``Idempotency-Key`` comes from the question: the same run on an empty
  cache (another machine) is answered by replays of the same keys, so it creates nothing new.
"""

from __future__ import annotations

import collections
import json
import math
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

import seed
from classify_shim.sandbox import synthetic_world
from legacy_support import API_KEY, child_env, run_python
from processes import stop
from shared_inputs import missing

N_VIDEOS = 24  # a whole index: several task waves, one batch
CREATES = {"batch": "v1.3.batches.create", "segments": "v1.3.tasks.create"}
MODEL_CALLS = ("v1.3.analyze", "v1.3.tasks.create", "v1.3.batches.create")


# --------------------------------------------------------------------------- the sandbox process


def _sandbox_command() -> List[str]:
    """The installed console script next to this interpreter (``python -m classify_shim`` without one)."""
    script = Path(sys.executable).with_name("classify-shim")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "classify_shim"]


class SandboxProcess:
    def __init__(self, url: str, proc: subprocess.Popen[str]) -> None:
        self.url = url
        self.proc = proc

    def get(self, path: str) -> Any:
        request = urllib.request.Request(self.url + path, headers={"x-api-key": API_KEY})
        with urllib.request.urlopen(request, timeout=30) as resp:
            return json.loads(resp.read())

    def requests(self) -> List[Dict[str, Any]]:
        return list(self.get("/_sandbox/requests")["requests"])

    def creates(self, endpoint: str) -> List[Dict[str, Any]]:
        return [e for e in self.requests() if e["endpoint"] == endpoint and 200 <= int(e["status"]) < 300]


@contextmanager
def sandbox_process(*switches: str) -> Iterator[SandboxProcess]:
    cmd = [*_sandbox_command(), "sandbox", "--port", "0", "--sunset", "pegasus1.2", *switches]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stream = proc.stdout
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        try:
            url = lines.get(timeout=60).strip()
        except queue.Empty:
            url = ""
        assert url.startswith("http://127.0.0.1:"), (url, proc.poll())
        yield SandboxProcess(url, proc)
    finally:
        stop(proc)


def default_env(url: str, home: Path, **extra: str) -> Dict[str, str]:
    """A user's environment: only the base URL set (and a home of its own, for the default cache)."""
    home.mkdir(parents=True, exist_ok=True)
    return child_env(TWELVELABS_BASE_URL=url, HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), **extra)


def _counts(entries: List[Dict[str, Any]]) -> collections.Counter[Tuple[str, Any, int]]:
    return collections.Counter((e["endpoint"], e.get("model"), int(e["status"])) for e in entries)


# --------------------------------------------------------------------------- examples


@pytest.mark.skipif(seed.SEED_REFERENCE is None, reason=missing(seed.SEED_FILE))
def test_reference_examples_run_unchanged_and_reach_analyze_with_pegasus15(tmp_path: Path) -> None:
    examples = seed.load_examples()
    with sandbox_process() as sb:
        index = sb.get("/_sandbox/world")["indexes"][0]
        vids = tuple(v["_id"] for v in index["videos"][:3])
        env = default_env(sb.url, tmp_path / "home")
        outputs: Dict[str, str] = {}
        token = ""
        for name in ("videos", "index", "iterative", "by_page_token"):  # the token comes from "index"
            code = seed.prepare(examples[name], import_line="from classify_shim import TwelveLabs", api_key=API_KEY,
                                video_ids=(vids[0], vids[1], vids[2]), index_id=index["_id"], page_token=token)
            script = tmp_path / f"{name}.py"
            script.write_text(code, encoding="utf-8")
            done = run_python([str(script)], cwd=tmp_path, env=env)
            assert done.returncode == 0, (name, done.stderr[-2000:])
            assert "Video ID: " in done.stdout and "Class name: " in done.stdout, (name, done.stdout[-800:])
            outputs[name] = done.stdout
            if name == "index":
                found = re.search(r"^Next page token: (\S+)$", done.stdout, re.M)
                assert found and found.group(1) != "N/A", done.stdout[-800:]
                token = found.group(1)
        log = sb.requests()
    calls = _counts(log)
    analyze = {k: n for k, n in calls.items() if k[0] == "v1.3.analyze"}
    assert analyze, calls
    assert all(model == "pegasus1.5" and status == 200 for _, model, status in analyze), calls
    # Nothing was answered by Pegasus 1.2 or the retired v1.2 endpoint: the scripts' results are 1.5's.
    assert not any(k[0] in MODEL_CALLS and k[1] != "pegasus1.5" for k in calls), calls
    assert not any(k[0].startswith("v1.2") and k[2] < 300 for k in calls), calls
    # The page fetched by token is the second page of the index example's result.
    second = re.findall(r"^Video ID: (.+)$", outputs["by_page_token"], re.M)
    first = re.findall(r"^Video ID: (.+)$", outputs["index"], re.M)
    assert len(second) == 1 and second != first


# --------------------------------------------------------------------------- strategies

_RUN = """
import sys
from classify_shim import TwelveLabs
client = TwelveLabs(api_key=sys.argv[2])
page = client.classify.index(index_id=sys.argv[1], options=["visual", "conversation"],
                             classes=[{"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group"]},
                                      {"name": "CookTok", "prompts": ["Cooking tutorial"]}], page_limit=50)
print("RESULT", page.page_info.total_results, len(page.errors), flush=True)
"""


@pytest.fixture(scope="module")
def world_file(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, str]:
    world = synthetic_world(N_VIDEOS, seed=3)
    path = tmp_path_factory.mktemp("world") / "world.json"
    path.write_text(json.dumps(world), encoding="utf-8")
    return path, str(world["indexes"][0]["_id"])


def _result(stdout: str) -> Tuple[int, int]:
    line = next(x for x in stdout.splitlines() if x.startswith("RESULT "))
    total, errors = line.split()[1:3]
    return int(total), int(errors)


@pytest.mark.parametrize("strategy", ["batch", "segments"])
def test_strategy_env_classifies_a_whole_index_through_its_endpoint_only(
    tmp_path: Path, world_file: Tuple[Path, str], strategy: str
) -> None:
    path, index_id = world_file
    script = tmp_path / "run.py"
    script.write_text(_RUN, encoding="utf-8")
    with sandbox_process("--world", str(path), "--task-latency-ms", "200") as sb:
        env = default_env(sb.url, tmp_path / "home", TWELVELABS_CLASSIFY_STRATEGY=strategy,
                          TWELVELABS_CLASSIFY_WARNINGS="off")
        done = run_python([str(script), index_id, API_KEY], env=env)
        assert done.returncode == 0, done.stderr[-2000:]
        log = sb.requests()
        batches = sb.get("/v1.3/analyze/batches") if strategy == "batch" else None
    total, errors = _result(done.stdout)
    assert errors == 0 and total > 0, done.stdout
    paid = {e["endpoint"] for e in log if e["endpoint"] in MODEL_CALLS}
    assert paid == {CREATES[strategy]}, _counts(log)
    creates = [e for e in log if e["endpoint"] == CREATES[strategy]]
    assert all(e["status"] < 300 and e.get("model") == "pegasus1.5" and e.get("idempotency_key") for e in creates)
    if strategy == "batch":
        assert len(creates) == math.ceil(N_VIDEOS / 1000)
        assert sum(e["items"] for e in creates) == N_VIDEOS
        assert batches is not None and [b["total_items"] for b in batches["data"]] == [N_VIDEOS]
        assert not any(e["endpoint"].startswith("v1.3.tasks") for e in log)
    else:
        assert len(creates) == N_VIDEOS == len({e["idempotency_key"] for e in creates})
        assert not any(e["endpoint"].startswith("v1.3.batches") for e in log)


# --------------------------------------------------------------------------- kill -9 and rerun


def _start_and_kill(script: Path, index_id: str, env: Dict[str, str], sb: SandboxProcess, create: str) -> int:
    """Start the run, SIGKILL it once its first creation is in the log; the creations it made."""
    proc = subprocess.Popen([sys.executable, str(script), index_id, API_KEY], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and not sb.creates(create):
            time.sleep(0.02)
        time.sleep(0.15)  # mid-run: some creations out, none collected (tasks take seconds)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it was killed"
    return len(sb.creates(create))


@pytest.mark.parametrize("strategy", ["segments", "batch"])
def test_kill_9_then_rerun_pays_nothing_twice(tmp_path: Path, world_file: Tuple[Path, str], strategy: str) -> None:
    path, index_id = world_file
    create = CREATES[strategy]
    script = tmp_path / "run.py"
    script.write_text(_RUN, encoding="utf-8")
    with sandbox_process("--world", str(path), "--task-latency-ms", "2500") as sb:
        env = default_env(sb.url, tmp_path / "home", TWELVELABS_CLASSIFY_STRATEGY=strategy,
                          TWELVELABS_CLASSIFY_WARNINGS="off")
        before = _start_and_kill(script, index_id, env, sb, create)
        again = run_python([str(script), index_id, API_KEY], env=env)
        assert again.returncode == 0, again.stderr[-2000:]
        after_rerun = sb.creates(create)
        # The same run on another machine (an empty cache): same questions, same keys, nothing new.
        elsewhere = run_python([str(script), index_id, API_KEY],
                               env=default_env(sb.url, tmp_path / "other-home",
                                               TWELVELABS_CLASSIFY_STRATEGY=strategy,
                                               TWELVELABS_CLASSIFY_WARNINGS="off"))
        assert elsewhere.returncode == 0, elsewhere.stderr[-2000:]
        every = sb.creates(create)
        log = sb.requests()
    assert before >= 1, "the killed run created something"
    assert _result(again.stdout) == _result(elsewhere.stdout) and _result(again.stdout)[1] == 0
    assert not any(e["endpoint"] == "v1.3.analyze" for e in log), _counts(log)
    new = [e for e in every if not e.get("idempotent_replay")]
    keys = [e["idempotency_key"] for e in new]
    assert all(keys) and len(keys) == len(set(keys)), "a question was created (and paid) twice"
    needed = math.ceil(N_VIDEOS / 1000) if strategy == "batch" else N_VIDEOS
    assert len(new) == needed, (len(new), needed)
    # The rerun collected what the killed run had created: it POSTed only what was not yet created
    # (plus at most the creations whose answer the kill cut off, replayed by their key).
    rerun = after_rerun[before:]
    assert sum(1 for e in rerun if not e.get("idempotent_replay")) == needed - sum(
        1 for e in after_rerun[:before] if not e.get("idempotent_replay"))
    # Another cache, same questions: every creation is a replay of a key already paid for.
    assert every[len(after_rerun):] and all(e.get("idempotent_replay") for e in every[len(after_rerun):])
    assert {e["idempotency_key"] for e in every[len(after_rerun):]} <= set(keys)
