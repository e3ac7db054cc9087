"""Pegasus client runtime: CPU per video vs an earlier commit, wall time at the bound, cached calls.

Three measurements, each against a sandbox in its own process (noise off):

* ``cpu`` — client CPU (``time.process_time`` of the client process) per video classifying a
  whole index (``--cpu-videos``, default 1,000) with 2 and with 50 classes, cache off, no model
  latency: this checkout vs a **baseline** checkout (``--baseline-ref``, default ``756588a``, built
  once into ``bench/.baseline-<ref>/`` from ``git archive`` with its own fresh venv, or any
  interpreter given with ``--baseline-python``). Each repetition runs both sides in fresh
  processes, A B / B A, and the ratio is of the medians. Goal: <= 0.5x.
* ``wall`` — wall time of one ``classify.index`` over 1,000 and 10,000 videos with 300 ms model
  latency, ÷ the bound N x latency ÷ max in flight (32). Goal: <= 1.10x. Alternated (A B / B A,
  ``--wall-repetitions``) with a trivial client (plain httpx, 32 workers, no engine) against a
  fresh sandbox each: the floor that sandbox and machine allow. Also reported: client and sandbox
  CPU, when the first ``/analyze`` arrived and the mean number in flight (sandbox request log).
* ``cached`` — a sync Pegasus ``classify.videos`` (5 ids) whose every answer is in the cache, vs
  the same call on the legacy backend, same sandbox, interleaved in one process. Goal: <= 1.5x.

    python bench/pegasus_runtime.py [--only cpu,wall,cached] [--repetitions 5] [--wall-videos 1000,10000]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO_ROOT, external_sandbox, interleave, median, parser, print_table, ratio, write_results

LATENCY_MS = 300
MAX_IN_FLIGHT = 32

# Runs under either checkout's interpreter: public API only.
_CHILD = r"""
import json, sys, time, warnings
from classify_shim import TwelveLabs
base_url, index_id, n_classes = sys.argv[1], sys.argv[2], int(sys.argv[3])
words = ["dance", "cooking", "soccer", "piano", "painting", "travel", "cars", "cats", "gaming", "yoga"]
classes = [{"name": f"Class{i}", "prompts": [f"{words[i % 10]} tutorial {i}", f"{words[(i + 3) % 10]} review {i}"]}
           for i in range(n_classes)]
warnings.simplefilter("ignore")
c0, w0, t0 = time.process_time(), time.perf_counter(), time.time()
with TwelveLabs("bench-key", classify_backend="pegasus", base_url=base_url, cache=False, timeout=900) as client:
    result = client.classify.index(index_id, ["visual", "conversation"], classes, page_limit=50)
    errors = len(result.errors)
c1, w1 = time.process_time(), time.perf_counter()
print(json.dumps({"cpu_s": c1 - c0, "wall_s": w1 - w0, "failed": errors, "started_at": t0}))
"""

_MAKE_WORLD = """
import json, sys
from classify_shim.sandbox import synthetic_world
world = synthetic_world(int(sys.argv[1]), seed=int(sys.argv[3]))
open(sys.argv[2], "w").write(json.dumps(world))
print(world["indexes"][0]["_id"])
"""


def _world(n: int, path: str, seed: int = 11) -> str:
    return subprocess.run([sys.executable, "-c", _MAKE_WORLD, str(n), path, str(seed)],
                          capture_output=True, text=True, check=True).stdout.strip()


def baseline_python(ref: str) -> str:
    """An interpreter with the shim at ``ref`` installed (built once, from the registries only)."""
    home = REPO_ROOT / "bench" / f".baseline-{ref}"
    python = home / "venv" / "bin" / "python"
    if python.exists():
        return str(python)
    src = home / "src"
    src.mkdir(parents=True, exist_ok=True)
    print(f"building the baseline {ref} in {home.relative_to(REPO_ROOT)} (once) ...", flush=True)
    archive = subprocess.run(["git", "-C", str(REPO_ROOT), "archive", ref], capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    subprocess.run([sys.executable, "-m", "venv", str(home / "venv")], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(src)], check=True)
    return str(python)


def _child_env(python: str) -> Dict[str, str]:
    """The environment of a ``cpu`` child: one /analyze call per video on both sides (the baseline
    knows no other strategy), and each side importing its own code — this checkout first on the
    path of our side, no ``PYTHONPATH`` at all for the baseline (a caller's would shadow it, and
    both sides would then run the same code)."""
    env = {**os.environ, "TWELVELABS_CLASSIFY_STRATEGY": "sync"}
    if python == sys.executable:
        env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "src"), str(REPO_ROOT)])
    else:
        env.pop("PYTHONPATH", None)
    return env


def _child(python: str, base_url: str, index_id: str, n_classes: int) -> Dict[str, Any]:
    env = _child_env(python)
    proc = subprocess.run([python, "-c", _CHILD, base_url, index_id, str(n_classes)],
                          capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"child failed ({python}):\n{proc.stderr[-3000:]}")
    out: Dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def bench_cpu(args: Any, tmp: str) -> Dict[str, Any]:
    base_py = args.baseline_python or baseline_python(args.baseline_ref)
    world = str(Path(tmp) / "cpu-world.json")
    index_id = _world(args.cpu_videos, world)
    sides = {"ours": sys.executable, "baseline": base_py}
    out: Dict[str, Any] = {"baseline": args.baseline_python or args.baseline_ref, "videos": args.cpu_videos, "rows": {}}
    rows = []
    with external_sandbox(world=world) as (base_url, _proc):
        for n_classes in (2, 50):
            samples: Dict[str, List[Dict[str, Any]]] = {"ours": [], "baseline": []}
            for rep in range(args.repetitions):
                order = ["ours", "baseline"] if rep % 2 == 0 else ["baseline", "ours"]
                for side in order:
                    samples[side].append(_child(sides[side], base_url, index_id, n_classes))
            ours_ms = median([s["cpu_s"] for s in samples["ours"]]) / args.cpu_videos * 1000
            base_ms = median([s["cpu_s"] for s in samples["baseline"]]) / args.cpu_videos * 1000
            failed = max(s["failed"] for side in samples.values() for s in side)
            out["rows"][str(n_classes)] = {"samples": samples, "ours_cpu_ms_per_video": ours_ms,
                                           "baseline_cpu_ms_per_video": base_ms, "ratio": ratio(ours_ms, base_ms)}
            rows.append((n_classes, args.cpu_videos, ours_ms, base_ms, ratio(ours_ms, base_ms), failed))
            print(f"cpu {n_classes} classes: ours {ours_ms:.2f} ms/video, baseline {base_ms:.2f}", flush=True)
    print_table(["classes", "videos", "ours CPU ms/video", "baseline CPU ms/video", "ratio", "failed"], rows,
                title=f"Pegasus client CPU per video vs {out['baseline']} (median of {args.repetitions}, goal <= 0.5)")
    return out


# The floor the sandbox itself allows: no engine, no store, no mapping — list the index page by
# page (feeding a queue) while 32 plain httpx workers post one /analyze each, with the body our
# client sends for the same 2 classes (prompt and schema from the shim's builders, so the sandbox
# does the same work per call). Whatever this takes above the bound is the sandbox's and the
# machine's, not the client's.
_TRIVIAL = r"""
import asyncio, json, sys, time
import httpx
from classify_shim._request import ClassSpec
from classify_shim.adapters.pegasus._prompt import build_prompt, build_response_format
base_url, index_id, in_flight = sys.argv[1], sys.argv[2], int(sys.argv[3])
specs = (ClassSpec("Class0", ("dance tutorial 0", "piano review 0"), ("visual", "conversation"), "semantic"),
         ClassSpec("Class1", ("cooking tutorial 1", "painting review 1"), ("visual", "conversation"), "semantic"))
prompt, schema = build_prompt(specs), build_response_format(specs)
headers = {"x-api-key": "bench-key"}

async def main():
    queue = asyncio.Queue()
    limits = httpx.Limits(max_connections=in_flight + 1, max_keepalive_connections=in_flight + 1)
    async with httpx.AsyncClient(base_url=base_url + "/v1.3/", headers=headers, limits=limits, timeout=900) as http:
        async def lister():
            page = 1
            while True:
                r = await http.get(f"indexes/{index_id}/videos", params={"page": page, "page_limit": 50})
                body = r.json()
                for item in body["data"]:
                    queue.put_nowait(item["_id"])
                if page >= body["page_info"]["total_page"]:
                    break
                page += 1
            for _ in range(in_flight):
                queue.put_nowait(None)

        async def worker():
            done = 0
            while (vid := await queue.get()) is not None:
                r = await http.post("analyze", json={"model_name": "pegasus1.2", "video_id": vid, "prompt": prompt,
                                                     "temperature": 0.0, "stream": False,
                                                     "response_format": schema, "max_tokens": 1024})
                r.raise_for_status()
                json.loads(r.json()["data"])
                done += 1
            return done

        results = await asyncio.gather(lister(), *[worker() for _ in range(in_flight)])
        return sum(results[1:])

c0, w0, t0 = time.process_time(), time.perf_counter(), time.time()
n = asyncio.run(main())
c1, w1 = time.process_time(), time.perf_counter()
print(json.dumps({"cpu_s": c1 - c0, "wall_s": w1 - w0, "failed": 0, "analyzed": n, "started_at": t0}))
"""


def _proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a running process (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _in_flight(base_url: str, started_at: float) -> Dict[str, float]:
    """From the sandbox's request log: when the first /analyze arrived, the mean and max number
    of /analyze calls the sandbox was serving at once between the first and the last."""
    from datetime import datetime

    from _common import fetch_requests

    spans = []
    for e in fetch_requests(base_url):
        if e.get("endpoint") != "v1.3.analyze":
            continue
        t = datetime.strptime(e["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=__import__("datetime").timezone.utc)
        start = t.timestamp()
        spans.append((start, start + float(e["duration_ms"]) / 1000))
    if not spans:
        return {"first_analyze_s": float("nan"), "mean_in_flight": float("nan"), "max_in_flight": 0.0}
    first = min(s for s, _ in spans)
    last = max(e for _, e in spans)
    busy = sum(e - s for s, e in spans)
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return {"first_analyze_s": first - started_at, "mean_in_flight": busy / max(1e-9, last - first),
            "max_in_flight": float(peak), "analyze_calls": float(len(spans))}


def _wall_side(code: str, python: str, base_url: str, index_id: str, proc: subprocess.Popen[str],
               arg: str) -> Dict[str, Any]:
    from _common import clear_requests

    clear_requests(base_url)
    sb0 = _proc_cpu_s(proc.pid)
    load0 = os.getloadavg()[0]
    env = {**os.environ, "TWELVELABS_CLASSIFY_STRATEGY": "sync"}
    child = subprocess.run([python, "-c", code, base_url, index_id, arg],
                           capture_output=True, text=True, check=False, env=env)
    if child.returncode != 0:
        raise SystemExit(f"child failed:\n{child.stderr[-3000:]}")
    got: Dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
    got["sandbox_cpu_s"] = _proc_cpu_s(proc.pid) - sb0
    got["load_1min"] = (load0 + os.getloadavg()[0]) / 2
    got.update(_in_flight(base_url, float(got["started_at"])))
    return got


def bench_wall(args: Any, tmp: str) -> Dict[str, Any]:
    """Ours and the trivial client against the same sandbox, alternately (A B / B A)."""
    out: Dict[str, Any] = {"latency_ms": LATENCY_MS, "max_in_flight": MAX_IN_FLIGHT, "rows": {}}
    rows = []
    for n in [int(x) for x in args.wall_videos.split(",") if x]:
        world = str(Path(tmp) / f"wall-{n}.json")
        index_id = _world(n, world)
        bound = n * LATENCY_MS / 1000 / MAX_IN_FLIGHT
        samples: Dict[str, List[Dict[str, Any]]] = {"ours": [], "trivial": []}
        sides = {"ours": (_CHILD, "2"), "trivial": (_TRIVIAL, str(MAX_IN_FLIGHT))}
        for rep in range(args.wall_repetitions):
            order = ["ours", "trivial"] if rep % 2 == 0 else ["trivial", "ours"]
            for side in order:
                if side == "trivial" and args.no_trivial:
                    continue
                # A fresh sandbox per run: its request log and model state start empty.
                with external_sandbox("--latency-ms", str(LATENCY_MS), world=world) as (base_url, proc):
                    code, arg = sides[side]
                    got = _wall_side(code, sys.executable, base_url, index_id, proc, arg)
                samples[side].append(got)
                print(f"wall {n} {side}: {got['wall_s']:.1f} s (bound {bound:.1f} s, ratio {got['wall_s'] / bound:.3f}),"
                      f" client CPU {got['cpu_s']:.1f} s, sandbox CPU {got['sandbox_cpu_s']:.1f} s,"
                      f" first analyze {got['first_analyze_s']:.2f} s, mean in flight {got['mean_in_flight']:.1f},"
                      f" load {got['load_1min']:.1f}", flush=True)
        row: Dict[str, Any] = {"bound_s": bound, "samples": samples}
        for side, got_list in samples.items():
            if not got_list:
                continue
            med = {k: median([g[k] for g in got_list]) for k in ("wall_s", "cpu_s", "sandbox_cpu_s",
                                                                  "first_analyze_s", "mean_in_flight", "load_1min")}
            row[side] = {**med, "ratio": med["wall_s"] / bound, "failed": max(g["failed"] for g in got_list)}
            rows.append((n, side, med["wall_s"], bound, med["wall_s"] / bound, med["cpu_s"], med["sandbox_cpu_s"],
                         med["first_analyze_s"], med["mean_in_flight"], row[side]["failed"], med["load_1min"]))
        if "ours" in row and "trivial" in row:
            row["ours_vs_trivial"] = row["ours"]["wall_s"] / row["trivial"]["wall_s"]
        out["rows"][str(n)] = row
    print_table(["videos", "client", "wall s", "bound s (N x 300 ms / 32)", "wall / bound", "client CPU s",
                 "sandbox CPU s", "first analyze s", "mean in flight", "failed", "load"], rows,
                title=f"Pegasus wall time at 300 ms model latency, median of {args.wall_repetitions} (goal <= 1.10)")
    return out


def bench_cached(args: Any, tmp: str) -> Dict[str, Any]:
    import warnings

    from classify_shim import TwelveLabs

    world = str(Path(tmp) / "cached-world.json")
    index_id = _world(50, world)
    doc = json.loads(Path(world).read_text())
    vids = [v["_id"] for v in doc["indexes"][0]["videos"]][:5]
    del index_id
    classes = [{"name": "DanceTok", "prompts": ["dance tutorial", "dance group"]},
               {"name": "CookTok", "prompts": ["cooking tutorial", "utensils review"]}]
    warnings.simplefilter("ignore")
    with external_sandbox(world=world) as (base_url, _proc):
        cache = str(Path(tmp) / "cached.sqlite3")
        pegasus = TwelveLabs("bench-key", classify_backend="pegasus", base_url=base_url, cache=cache)
        legacy = TwelveLabs("bench-key", classify_backend="legacy", base_url=base_url, cache=False)
        first0 = time.perf_counter()
        pegasus.classify.videos(vids, ["visual", "conversation"], classes)  # fills the cache
        first = time.perf_counter() - first0
        with pegasus, legacy:
            s = interleave({
                "pegasus": lambda: pegasus.classify.videos(vids, ["visual", "conversation"], classes),
                "legacy": lambda: legacy.classify.videos(vids, ["visual", "conversation"], classes),
            }, args.cached_repetitions, warmup=5)
    p, leg = median(s["pegasus"]["wall"]) * 1000, median(s["legacy"]["wall"]) * 1000
    pc, lc = median(s["pegasus"]["cpu"]) * 1000, median(s["legacy"]["cpu"]) * 1000
    print_table(["call", "pegasus (all cached) ms", "legacy ms", "wall ratio", "pegasus CPU ms", "legacy CPU ms",
                 "CPU ratio", "first (uncached) pegasus call ms"],
                [("videos, 5 ids, 2 classes", p, leg, ratio(p, leg), pc, lc, ratio(pc, lc), first * 1000)],
                title=f"sync Pegasus call, every answer cached, vs legacy (median of {args.cached_repetitions}, goal <= 1.5)")
    return {"pegasus_ms": p, "legacy_ms": leg, "ratio": ratio(p, leg), "pegasus_cpu_ms": pc, "legacy_cpu_ms": lc,
            "cpu_ratio": ratio(pc, lc), "first_call_ms": first * 1000, "repetitions": args.cached_repetitions}


def main() -> int:
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--only", default="cpu,wall,cached", help="comma-separated: cpu, wall, cached")
    ap.add_argument("--repetitions", type=int, default=5, help="fresh-process runs per side for cpu")
    ap.add_argument("--cpu-videos", type=int, default=1000)
    ap.add_argument("--wall-videos", default="1000,10000")
    ap.add_argument("--wall-repetitions", type=int, default=1, help="runs per client and size for wall")
    ap.add_argument("--no-trivial", action="store_true", help="wall: skip the trivial-client floor")
    ap.add_argument("--cached-repetitions", type=int, default=200)
    ap.add_argument("--baseline-ref", default="756588a", help="git commit to compare CPU against")
    ap.add_argument("--baseline-python", default=None, help="an interpreter with the baseline installed instead")
    args = ap.parse_args()
    parts = set(args.only.split(","))
    results: Dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("TWELVELABS_CLASSIFY_WARNINGS", "default")
        os.environ["TWELVELABS_CLASSIFY_STRATEGY"] = "sync"  # the /analyze path these rows are about
        if "cpu" in parts:
            results["cpu"] = bench_cpu(args, tmp)
        if "wall" in parts:
            results["wall"] = bench_wall(args, tmp)
        if "cached" in parts:
            results["cached"] = bench_cached(args, tmp)
    for part, payload in results.items():  # one file per part, so parts can be re-run alone
        write_results(f"pegasus_runtime_{part}", {"parameters": vars(args), part: payload}, script="pegasus_runtime")
    return 0


if __name__ == "__main__":
    sys.exit(main())
