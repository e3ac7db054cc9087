"""Peak memory (RSS) of a process classifying a whole 10,000-video index.

Each measured run is a fresh Python process (``--child``) that imports the shim, notes its RSS,
runs ``classify.index(...)`` over a synthetic index served by a sandbox in yet another process,
walks every result page (keeping only a count, as a report script would) and reports
``resource.getrusage(RUSAGE_SELF).ru_maxrss``. Backends: ``legacy`` (v1.2 pages of 50) and
``pegasus`` with the cache off (results held in memory) and on (results in SQLite).
Goal: peak < 200 MB.

    python bench/memory.py [--videos 10000] [--runs legacy,pegasus,pegasus-cache]
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


def main() -> int:
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=10_000)
    ap.add_argument("--runs", default="legacy,pegasus,pegasus-cache", help="comma-separated: " + ", ".join(RUNS))
    ap.add_argument("--child", nargs=4, metavar=("BASE_URL", "INDEX_ID", "RUN", "TMP"), help=argparse_hidden())
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return 0

    results: Dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        world_file = str(Path(tmp) / "world.json")
        # Built in another process: Linux carries ru_maxrss across fork+exec, so this process
        # must stay small for the children's figure to be their own.
        index_id = subprocess.run(
            [sys.executable, "-c", _MAKE_WORLD, str(args.videos), world_file],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        own = _max_rss_mb()
        with external_sandbox("--token-ttl-s", "3600", world=world_file) as (base_url, _proc):
            for run in args.runs.split(","):
                proc = subprocess.run([sys.executable, __file__, "--child", base_url, index_id, run, tmp],
                                      capture_output=True, text=True, check=False)
                if proc.returncode != 0:
                    raise SystemExit(f"{run} failed:\n{proc.stderr[-3000:]}")
                results[run] = json.loads(proc.stdout.strip().splitlines()[-1])
                print(f"{run}: {results[run]}", flush=True)
    rows = [(run, RUNS[run]["backend"], "on" if RUNS[run]["cache"] else "off", r["baseline_mb"], r["peak_mb"],
             r["vm_hwm_mb"], r["peak_mb"] - r["baseline_mb"], r["returned"], r["pages"], r["failed"], r["wall_s"])
            for run, r in results.items()]
    print_table(["run", "backend", "cache", "after imports MB", "peak RSS MB", "VmHWM MB", "peak - imports MB",
                 "videos returned", "pages", "failed", "wall s"], rows,
                title=f"peak RSS classifying a {args.videos:,}-video index (goal < 200 MB)")
    write_results("memory", {"parameters": {"videos": args.videos, "page_limit": 50, "classes": CLASSES},
                             "runs": results, "goal_mb": 200, "parent_rss_mb_at_spawn": own})
    return 0


def argparse_hidden() -> str:
    import argparse

    return argparse.SUPPRESS


if __name__ == "__main__":
    sys.exit(main())
