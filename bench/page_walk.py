"""Walking every page of a stored Pegasus result: the time per page must not grow with N.

A result of N videos (``page_limit`` 50) is stored in a client's SQLite cache, as a classify
call would leave it, and every following page is fetched through the public iterator
(``for data in result`` -> ``by_page_token`` -> store -> models), timing each page. The sizes
are walked **page by page in step** — one page of the small result, then one of the large, B A
on the next step — so both sides of every pair see the same machine: a shared machine's load
drifts over seconds, and walking one whole result, then the other, measured the drift (two runs
gave 1.57 and 0.86). The small result is walked again from page 0 whenever it runs out, until the
large one has been walked ``--rounds`` times; one untimed walk of each comes first (page cache,
imports, first-call memos). Reported: the median per-page time of each size, and the median of
the per-step ratios large ÷ small (the figure the goal is about). Both stores: the client's
SQLite file and a Redis server (``redis-server`` on a free loopback port, when installed).
Goal: per-page time at 100,000 videos <= 1.5x that at 10,000. Rows with ``--failures`` failed
videos in the result check that carrying the error list does not make a page O(E²).

    python bench/page_walk.py [--sizes 10000,100000] [--failures 0,2000] [--rounds 3] [--stores sqlite,redis]
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import parser, print_table, ratio, write_results

PAGE_LIMIT = 50


def _item(i: int) -> Dict[str, Any]:
    return {"video_id": f"{i:024x}", "classes": [
        {"name": "DanceTok", "score": 91.5, "duration_ratio": 0.8,
         "clips": [{"start": 1.0, "end": 9.5, "score": 90.0, "option": "visual", "prompt": "Dance tutorial"}]}
    ]}


def _store_result(client: Any, n: int, failures: int) -> Tuple[Any, str]:
    """A stored n-video result and the token of its page 0 (internal parts: a bench only)."""
    from classify_shim._backend import VideoFailure
    from classify_shim._store import ResultHeader
    from classify_shim._tokens import make_token

    core = client._open_backend()._core
    data = [_item(i) for i in range(n)]
    pages = [data[s:s + PAGE_LIMIT] for s in range(0, n, PAGE_LIMIT)]
    errors = [asdict(VideoFailure(f"f{i:023x}", "analyze", "model answer unreadable", 2)) for i in range(failures)]
    rid = f"{n:016x}{failures:016x}"
    expires = int(time.time() + 3600)
    core.store.put_result(rid, ResultHeader(scope=core.scope, page_limit=PAGE_LIMIT, total_results=n,
                                            pages=len(pages), expires_at=expires, errors=errors,
                                            total_videos=n + failures, model="pegasus1.2"), pages)
    return core, make_token(core.config.api_key, rid, 0, expires)


def _pages(client: Any, token: str) -> Iterator[float]:
    """Seconds per following page of one walk of the result (the public iterator)."""
    result = client.classify.by_page_token(token)
    while True:
        t0 = time.perf_counter()
        try:
            next(result)
        except StopIteration:
            return
        yield time.perf_counter() - t0


def _in_step(client: Any, small: str, large: str, rounds: int) -> Tuple[List[float], List[float]]:
    """(small, large) per-page seconds, taken in pairs: A B on even steps, B A on odd ones."""
    for token in (small, large):  # warm-up walks, untimed
        for _ in _pages(client, token):
            pass
    a_times: List[float] = []
    b_times: List[float] = []
    a = _pages(client, small)

    def next_small() -> float:
        nonlocal a
        got = next(a, None)
        if got is None:  # the small result ran out: walk it again
            a = _pages(client, small)
            got = next(a)
        return got

    step = 0
    for _ in range(rounds):
        b = _pages(client, large)
        while True:
            if step % 2 == 0:
                a_time, b_time = next_small(), next(b, None)
            else:
                b_time = next(b, None)
                a_time = next_small() if b_time is not None else 0.0
            if b_time is None:
                break
            a_times.append(a_time)
            b_times.append(b_time)
            step += 1
    return a_times, b_times


def _redis_server(workdir: str) -> Optional[Tuple[subprocess.Popen[bytes], str]]:
    binary = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server")
                                              else None)
    if binary is None:
        return None
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", workdir, "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    for _ in range(100):
        try:
            if redis.Redis(host="127.0.0.1", port=port).ping():
                return proc, f"redis://127.0.0.1:{port}/0"
        except redis.RedisError:
            time.sleep(0.05)
    proc.kill()
    return None


def main() -> int:
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--failures", default="0,2000")
    ap.add_argument("--rounds", type=int, default=3, help="walks of the large result (the small one in step)")
    ap.add_argument("--stores", default="sqlite,redis")
    args = ap.parse_args()
    from classify_shim import TwelveLabs

    warnings.simplefilter("ignore")
    small_n, large_n = [int(x) for x in args.sizes.split(",")][:2]
    rows, out = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        server = _redis_server(tmp) if "redis" in args.stores else None
        try:
            for store in args.stores.split(","):
                if store == "redis" and server is None:
                    print("redis-server not installed: the Redis rows are skipped", flush=True)
                    continue
                cache = server[1] if store == "redis" and server is not None else str(Path(tmp) / "walk.sqlite3")
                client = TwelveLabs("bench-key", classify_backend="pegasus", base_url="http://127.0.0.1:9",
                                    cache=cache)
                for failures in [int(x) for x in args.failures.split(",")]:
                    small = _store_result(client, small_n, failures)[1]
                    large = _store_result(client, large_n, failures)[1]
                    a, b = _in_step(client, small, large, args.rounds)
                    med_a, med_b = statistics.median(a) * 1e6, statistics.median(b) * 1e6
                    step_ratio = statistics.median(y / x for x, y in zip(a, b) if x > 0)
                    load = os.getloadavg()[0]
                    rows.append((store, failures, len(b), med_a, med_b, ratio(med_b, med_a), step_ratio, load))
                    out[f"{store}/{failures}"] = {"us_per_page": {str(small_n): med_a, str(large_n): med_b},
                                                  "pairs": len(b), "ratio_of_medians": ratio(med_b, med_a),
                                                  "median_step_ratio": step_ratio, "load_1min": load}
                    print(f"{store}, {failures} failures: {med_a:.0f} / {med_b:.0f} µs per page, "
                          f"step ratio {step_ratio:.3f} ({len(b)} pairs, load {load:.1f})", flush=True)
                client.close()
        finally:
            if server is not None:
                server[0].terminate()
                server[0].wait()
    print_table(["store", "failed videos in the result", "pairs", f"µs/page ({small_n:,})", f"µs/page ({large_n:,})",
                 "ratio of medians", "median step ratio", "load"], rows,
                title=f"walking every page (page_limit {PAGE_LIMIT}) in step, goal ratio <= 1.5")
    write_results("page_walk", {"parameters": vars(args), "results": out, "goal": "<= 1.5"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
