"""Strategy cost: a whole index classified with ``sync`` vs ``batch`` under a request-rate limit,
and a batch run killed with SIGKILL mid-way and started again.

The sandbox runs in its own process with ``--rate-limit-rpm`` (120) on the v1.3 analyze family,
``--latency-ms`` (300) per sync model call and ``--task-latency-ms`` for async work. Every count
is read from the sandbox's request log:

* API calls — every v1.3 request (listings, video records, analyze, task/batch calls);
* model calls — analyses the account pays for: ``/analyze`` answers 200, plus the items of every
  batch created (not replays of an ``Idempotency-Key``);
* failures — videos in ``result.errors``.

``sync`` at 120 RPM needs N/120 minutes (10,000 videos: 83 min), more than a benchmark run can
spend, so it is *measured* on ``--sync-videos`` (default 360, three minutes) and the 10,000-video
figure is *extrapolated* linearly (rate-bound: wall grows as N / rate; the extrapolation is
labelled as such in the output). ``batch`` is measured on the full ``--videos``.

Kill and resume: the batch run is started in a child process, killed with SIGKILL as soon as the
sandbox log shows its first batch creation, then run again to completion on the same cache; the
figure is batches created (paid) over batches needed, which must be 1.0.

    python bench/strategies.py [--videos 10000] [--sync-videos 360] [--rpm 120] [--only sync|batch|kill]
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any, Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import external_sandbox, fetch_requests, parser, print_table, write_results

OPTIONS = ["visual", "conversation", "text_in_video"]
CLASSES: List[Dict[str, Any]] = [
    {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group", "Dance competition"]},
    {"name": "CookTok", "prompts": ["Cooking tutorial", "Cooking ustensils review"]},
]
BATCH_CREATE = "v1.3.batches.create"
TASK_CREATE = "v1.3.tasks.create"


def _paid(entries: List[Dict[str, Any]], endpoint: str) -> List[Dict[str, Any]]:
    return [e for e in entries if e["endpoint"] == endpoint and 200 <= int(e["status"]) < 300 and not e.get("idempotent_replay")]


def _counts(entries: List[Dict[str, Any]], batch_sizes: List[int]) -> Dict[str, Any]:
    api = [e for e in entries if str(e.get("endpoint", "")).startswith("v1.3")]
    codes = Counter((e["endpoint"], e["status"]) for e in api)
    analyze_ok = codes[("v1.3.analyze", 200)]
    return {
        "api_calls": len(api),
        "api_calls_by_endpoint": dict(Counter(e["endpoint"] for e in api)),
        "rate_limited_429": sum(v for (_, status), v in codes.items() if status == 429),
        "model_calls": analyze_ok + sum(batch_sizes) + len(_paid(api, TASK_CREATE)),
        "analyze_200": analyze_ok,
        "batches_created": len(_paid(api, BATCH_CREATE)),
        "tasks_created": len(_paid(api, TASK_CREATE)),
    }


def _classify(base_url: str, index_id: str, strategy: str, cache: Any, concurrency: int) -> Dict[str, Any]:
    from classify_shim import TwelveLabs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TwelveLabs("bench-key", classify_backend="pegasus", base_url=base_url, cache=cache,
                        strategy=strategy, max_concurrency=concurrency, timeout=300) as client:
            t0 = time.perf_counter()
            result = client.classify.index(index_id, OPTIONS, CLASSES, page_limit=50)
            wall = time.perf_counter() - t0
            stats = client._backend.last_run  # type: ignore[attr-defined]
    return {"wall_s": wall, "failed_videos": len(result.errors), "total_results": result.page_info.total_results,
            "batch_items": getattr(stats, "batch_items", None), "strategy_used": getattr(stats, "strategy", None)}


def _batch_sizes(entries: List[Dict[str, Any]], base_url: str) -> List[int]:
    """Items per created batch, from the sandbox's own batch objects."""
    import httpx

    sizes: List[int] = []
    page = 1
    while True:
        body = httpx.get(f"{base_url}/v1.3/analyze/batches", params={"page": page, "page_limit": 50},
                         headers={"x-api-key": "bench-key"}, timeout=30).json()
        data = body.get("data") or []
        sizes.extend(int(b.get("total_items") or 0) for b in data)
        info = body.get("page_info") or {}
        if not data or page >= int(info.get("total_page") or 1):
            break
        page += 1
    return sizes


def run_scenario(world_file: str, index_id: str, n: int, strategy: str, args: Any) -> Dict[str, Any]:
    extra = ["--latency-ms", str(args.latency_ms), "--rate-limit-rpm", str(args.rpm),
             "--task-latency-ms", str(args.task_latency_ms)]
    with external_sandbox(*extra, world=world_file) as (base_url, _proc):
        out = _classify(base_url, index_id, strategy, False, args.concurrency)
        log = fetch_requests(base_url)
        sizes = _batch_sizes(log, base_url) if strategy == "batch" else []
    out.update(_counts(log, sizes))
    out.update({"videos": n, "strategy": strategy, "rpm": args.rpm})
    return out


_CHILD = """
import sys, warnings
warnings.simplefilter("ignore")
from classify_shim import TwelveLabs
c = TwelveLabs("bench-key", classify_backend="pegasus", base_url=sys.argv[1], cache=sys.argv[2], strategy="batch",
               timeout=300)
r = c.classify.index(sys.argv[3], {options}, {classes}, page_limit=50)
print("DONE", len(r.errors), r.page_info.total_results)
"""


def run_kill(world_file: str, index_id: str, n: int, args: Any) -> Dict[str, Any]:
    extra = ["--latency-ms", str(args.latency_ms), "--rate-limit-rpm", str(args.rpm),
             "--task-latency-ms", str(max(args.task_latency_ms, 3000.0))]
    with tempfile.TemporaryDirectory() as tmp, external_sandbox(*extra, world=world_file) as (base_url, _proc):
        script = Path(tmp) / "child.py"
        script.write_text(_CHILD.format(options=json.dumps(OPTIONS), classes=json.dumps(CLASSES)))
        cache = str(Path(tmp) / "cache.sqlite3")
        cmd = [sys.executable, str(script), base_url, cache, index_id]
        t0 = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        killed_at: Optional[float] = None
        try:
            while time.perf_counter() - t0 < 3600:
                if _paid(fetch_requests(base_url), BATCH_CREATE):
                    time.sleep(0.5)  # mid-run: created, not yet collected
                    os.kill(child.pid, signal.SIGKILL)
                    killed_at = time.perf_counter() - t0
                    break
                if child.poll() is not None:
                    break
                time.sleep(0.2)
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
        before = _paid(fetch_requests(base_url), BATCH_CREATE)
        t1 = time.perf_counter()
        rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=7200, check=False)
        rerun_wall = time.perf_counter() - t1
        log = fetch_requests(base_url)
        after = _paid(log, BATCH_CREATE)
        replays = [e for e in log if e["endpoint"] == BATCH_CREATE and e.get("idempotent_replay")]
    needed = math.ceil(n / 1000)
    return {
        "videos": n,
        "killed_after_s": killed_at,
        "killed_with": "SIGKILL",
        "child_returncode": child.returncode,
        "batches_created_before_kill": len(before),
        "batches_created_in_total": len(after),
        "batches_needed": needed,
        "duplicate_creations": len(after) - needed,
        "idempotent_replays": len(replays),
        "rerun_returncode": rerun.returncode,
        "rerun_output": rerun.stdout.strip()[-200:],
        "rerun_wall_s": rerun_wall,
        "analyze_calls": sum(1 for e in log if e["endpoint"] == "v1.3.analyze"),
    }


def main() -> int:
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=10_000)
    ap.add_argument("--sync-videos", type=int, default=360)
    ap.add_argument("--kill-videos", type=int, default=None, help="index size of the kill run (default --videos)")
    ap.add_argument("--rpm", type=int, default=120)
    ap.add_argument("--latency-ms", type=float, default=300.0)
    ap.add_argument("--task-latency-ms", type=float, default=2000.0)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--only", choices=("sync", "batch", "kill"), default=None)
    args = ap.parse_args()

    from classify_shim.sandbox import synthetic_world

    runs: Dict[str, Dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:

        def world_of(n: int) -> tuple[str, str]:
            world = synthetic_world(n, seed=1)
            path = Path(tmp) / f"world-{n}.json"
            path.write_text(json.dumps(world))
            return str(path), str(world["indexes"][0]["_id"])

        if args.only in (None, "sync"):
            path, index_id = world_of(args.sync_videos)
            measured = run_scenario(path, index_id, args.sync_videos, "sync", args)
            runs[f"sync, {args.sync_videos} videos (measured)"] = measured
            scale = args.videos / args.sync_videos
            runs[f"sync, {args.videos} videos (extrapolated x{scale:g})"] = {
                "videos": args.videos, "strategy": "sync", "extrapolated": True,
                "wall_s": measured["wall_s"] * scale, "api_calls": round(measured["api_calls"] * scale),
                "model_calls": round(measured["model_calls"] * scale),
                "failed_videos": None, "rate_limited_429": None,
            }
        if args.only in (None, "batch"):
            path, index_id = world_of(args.videos)
            runs[f"batch, {args.videos} videos (measured)"] = run_scenario(path, index_id, args.videos, "batch", args)
        if args.only in (None, "kill"):
            n = args.kill_videos or args.videos
            path, index_id = world_of(n)
            runs[f"batch, {n} videos, SIGKILL then rerun"] = run_kill(path, index_id, n, args)
    rows = []
    for name, r in runs.items():
        rows.append((name, r.get("wall_s", r.get("rerun_wall_s")), r.get("api_calls"), r.get("model_calls"),
                     r.get("failed_videos"), r.get("rate_limited_429"), r.get("batches_created",
                                                                              r.get("batches_created_in_total"))))
    print_table(["scenario", "wall s", "API calls", "model calls", "failed", "429s", "batches"], rows,
                title=f"strategies at {args.rpm} RPM, {args.latency_ms:g} ms model latency")
    name = "strategies" if args.only is None else f"strategies_{args.only}"
    write_results(name, {"parameters": vars(args), "runs": runs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
