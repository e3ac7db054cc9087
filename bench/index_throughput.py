"""Index throughput on the Pegasus backend: wall time against the best any client could do.

A synthetic index (default 1,000 videos) is classified through a sandbox in its own process
whose model takes ``--latency-ms`` (300) per ``/analyze`` call, (a) under a ``--rpm`` (120)
requests-per-minute limit on analyze, and (b) with no limit. The figure is wall time / bound:

* (a) bound = N / rate (the brief's bound). A 60-second *sliding* window admits a first burst of
  ``rate`` calls at once, so the true floor is lower: ``floor((N-1)/rate) * 60 s + latency``;
  both ratios are printed.
* (b) bound = N x latency / concurrency (``--concurrency``, default 8, is also the client's
  ``max_concurrency``).

Goal: <= 1.1x with 0 failed videos; the 429s received are counted in the sandbox log.
At 120 RPM the full 1,000 videos take about 8 minutes; ``--videos`` runs a smaller index and
``--only a|b`` one scenario.

    python bench/index_throughput.py [--videos 1000] [--rpm 120] [--latency-ms 300] [--concurrency 8]
"""

from __future__ import annotations

import json
import math
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


def run_once(world_file: str, index_id: str, n: int, *, rpm: Optional[int], latency_ms: float,
             concurrency: int) -> Dict[str, Any]:
    from classify_shim import TwelveLabs

    extra = ["--latency-ms", str(latency_ms)]
    if rpm is not None:
        extra += ["--rate-limit-rpm", str(rpm)]
    with external_sandbox(*extra, world=world_file) as (base_url, _proc):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # strategy "sync": the /analyze path these rows are about (the default, "auto", sends
            # an index of 200+ videos as batches, which the analyze rate limit does not meter).
            with TwelveLabs("bench-key", classify_backend="pegasus", base_url=base_url, cache=False,
                            max_concurrency=concurrency, timeout=120, strategy="sync") as client:
                t0 = time.perf_counter()
                result = client.classify.index(index_id, OPTIONS, CLASSES, page_limit=50)
                wall = time.perf_counter() - t0
                stats = client._backend.last_run  # type: ignore[attr-defined]
                returned = len(result.data)
                for page in result:
                    returned += len(page)
                failed = len(result.errors)
        log = fetch_requests(base_url)
    codes = Counter((e["endpoint"], e["status"]) for e in log)
    analyze_ok = codes[("v1.3.analyze", 200)]
    lat = latency_ms / 1000.0
    if rpm is not None:
        bound = n / rpm * 60.0
        floor = math.floor((n - 1) / rpm) * 60.0 + lat
    else:
        bound = n * lat / concurrency
        floor = bound
    return {
        "videos": n,
        "rpm": rpm,
        "latency_ms": latency_ms,
        "concurrency": concurrency,
        "wall_s": wall,
        "bound_s": bound,
        "ratio": wall / bound,
        "window_floor_s": floor,
        "ratio_to_window_floor": wall / floor,
        "failed_videos": failed,
        "videos_with_passing_class": returned,
        "analyze_200": analyze_ok,
        "analyze_429": codes[("v1.3.analyze", 429)],
        "metadata_calls": sum(v for (ep, _), v in codes.items() if ep != "v1.3.analyze"),
        "gate_rate_limited": getattr(stats, "rate_limited", None),
    }


def main() -> int:
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=1000)
    ap.add_argument("--rpm", type=int, default=120, help="analyze rate limit in scenario (a)")
    ap.add_argument("--latency-ms", type=float, default=300.0)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--only", choices=("a", "b"), default=None)
    args = ap.parse_args()

    from classify_shim.sandbox import synthetic_world

    world = synthetic_world(args.videos, seed=1)
    index_id = world["indexes"][0]["_id"]
    runs: Dict[str, Dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        world_file = str(Path(tmp) / "world.json")
        Path(world_file).write_text(json.dumps(world))
        if args.only in (None, "b"):
            runs["b: no rate limit"] = run_once(world_file, index_id, args.videos, rpm=None,
                                                latency_ms=args.latency_ms, concurrency=args.concurrency)
        if args.only in (None, "a"):
            runs[f"a: {args.rpm} RPM"] = run_once(world_file, index_id, args.videos, rpm=args.rpm,
                                                  latency_ms=args.latency_ms, concurrency=args.concurrency)
    rows = [(name, r["videos"], r["wall_s"], r["bound_s"], r["ratio"], r["window_floor_s"],
             r["ratio_to_window_floor"], r["failed_videos"], r["analyze_200"], r["analyze_429"])
            for name, r in runs.items()]
    print_table(["scenario", "videos", "wall s", "bound s", "wall/bound", "window floor s", "wall/floor",
                 "failed", "analyze 200", "429s"], rows,
                title=f"index throughput, {args.latency_ms:g} ms model latency (goal <= 1.1x, 0 failed)")
    name = "index_throughput" if args.only is None else f"index_throughput_{args.only}"
    write_results(name, {"parameters": vars(args), "runs": runs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
