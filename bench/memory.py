"""Peak memory (RSS) of a process classifying a whole index, at several index sizes.

Each measured run is a fresh Python process (``--child``) that imports the shim, notes its RSS,
runs ``classify.index(...)`` over a synthetic index served by a sandbox in yet another process,
walks every result page (keeping only a count, as a report script would) and reports
``resource.getrusage(RUSAGE_SELF).ru_maxrss``. Backends: ``legacy`` (v1.2 pages of 50) and
``pegasus`` with the cache off (results held in memory) and on (results in SQLite).
Goals: peak < 200 MB at 10,000 videos; with the cache on, < 300 MB at 100,000 videos and
linear in N (``--videos 10000,30000,100000`` prints the MB per 10,000 videos between sizes).

    python bench/memory.py [--videos 10000[,30000,...]] [--runs legacy,pegasus,pegasus-cache]
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import external_sandbox, parser, print_table, write_results

OPTIONS = ["visual", "conversation", "text_in_video"]
CLASSES: List[Dict[str, Any]] = [
    {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group", "Dance competition"]},
    {"name": "CookTok", "prompts": ["Cooking tutorial", "Cooking ustensils review"]},
]
RUNS = {
    "legacy": {"backend": "legacy", "cache": False},
    "pegasus": {"backend": "pegasus", "cache": False},
    "pegasus-cache": {"backend": "pegasus", "cache": True},
}


_MAKE_WORLD = """
import json, sys
from classify_shim.sandbox import synthetic_world
world = synthetic_world(int(sys.argv[1]), seed=2)
open(sys.argv[2], "w").write(json.dumps(world))
print(world["indexes"][0]["_id"])
"""


def _hwm_mb() -> float:
    """VmHWM: this address space's own peak (reset by exec, unlike ru_maxrss); -1 if unknown."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return -1.0


def _max_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux (bytes on macOS)
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def child(base_url: str, index_id: str, run: str, tmp: str) -> None:
    import warnings

    from classify_shim import TwelveLabs

    warnings.simplefilter("ignore")
    spec = RUNS[run]
    cache: Any = str(Path(tmp) / f"{run}.sqlite3") if spec["cache"] else False
    baseline = _max_rss_mb()
    t0 = time.perf_counter()
    with TwelveLabs("bench-key", classify_backend=spec["backend"], base_url=base_url, cache=cache,  # type: ignore[arg-type]
                    timeout=600) as client:
        result = client.classify.index(index_id, OPTIONS, CLASSES, page_limit=50)
        returned = len(result.data)
        pages = 1
        for page in result:
            returned += len(page)
            pages += 1
        failed = len(result.errors)
    print(json.dumps({"baseline_mb": baseline, "peak_mb": _max_rss_mb(), "vm_hwm_mb": _hwm_mb(),
                      "returned": returned, "pages": pages,
                      "failed": failed, "wall_s": time.perf_counter() - t0}))


def _measure(videos: int, runs: List[str], tmp: str) -> Dict[str, Any]:
    world_file = str(Path(tmp) / f"world-{videos}.json")
    # Built in another process: Linux carries ru_maxrss across fork+exec, so this process
    # must stay small for the children's figure to be their own.
    index_id = subprocess.run(
        [sys.executable, "-c", _MAKE_WORLD, str(videos), world_file],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    results: Dict[str, Any] = {}
    with external_sandbox("--token-ttl-s", "3600", world=world_file) as (base_url, _proc):
        for run in runs:
            proc = subprocess.run([sys.executable, __file__, "--child", base_url, index_id, run, tmp],
                                  capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise SystemExit(f"{run} failed:\n{proc.stderr[-3000:]}")
            results[run] = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"{videos} videos, {run}: {results[run]}", flush=True)
    Path(world_file).unlink()
    return results


def main() -> int:
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--videos", default="10000", help="comma-separated index sizes")
    ap.add_argument("--runs", default="legacy,pegasus,pegasus-cache", help="comma-separated: " + ", ".join(RUNS))
    ap.add_argument("--child", nargs=4, metavar=("BASE_URL", "INDEX_ID", "RUN", "TMP"), help=argparse_hidden())
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return 0

    sizes = [int(x) for x in str(args.videos).split(",") if x]
    runs = args.runs.split(",")
    by_size: Dict[str, Dict[str, Any]] = {}
    own = _max_rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        for videos in sizes:
            by_size[str(videos)] = _measure(videos, runs, tmp)
    rows = [(videos, run, RUNS[run]["backend"], "on" if RUNS[run]["cache"] else "off", r["baseline_mb"],
             r["peak_mb"], r["vm_hwm_mb"], r["peak_mb"] - r["baseline_mb"], r["returned"], r["pages"], r["failed"],
             r["wall_s"])
            for videos, results in by_size.items() for run, r in results.items()]
    print_table(["videos", "run", "backend", "cache", "after imports MB", "peak RSS MB", "VmHWM MB",
                 "peak - imports MB", "videos returned", "pages", "failed", "wall s"], rows,
                title="peak RSS classifying a whole index (goals: < 200 MB at 10k; cache on < 300 MB at 100k)")
    slopes = []
    for run in runs:
        for small, large in zip(sizes, sizes[1:]):
            a, b = by_size[str(small)][run]["peak_mb"], by_size[str(large)][run]["peak_mb"]
            slopes.append((run, f"{small:,} -> {large:,}", (b - a) / (large - small) * 10_000))
    if slopes:
        print_table(["run", "sizes", "MB per 10,000 more videos"], slopes, title="growth of the peak with N")
    write_results("memory", {"parameters": {"videos": sizes, "page_limit": 50, "classes": CLASSES},
                             "runs": by_size, "growth_mb_per_10k": [list(s) for s in slopes],
                             "goal_mb": {"10000": 200, "100000 (cache on)": 300}, "parent_rss_mb_at_spawn": own})
    return 0


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    sys.exit(main())
