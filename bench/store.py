"""Store benchmarks: page reads stay O(1) per page, writes are cheap, a fleet pays once.

1. **Page walk** — a stored result of N videos (``page_limit`` 10); every page read once.
   Goal: the time per page does not grow with N (ratio 10,000 / 1,000 videos ≈ 1; before the
   store layer it was O(N) per page, O(N²) per walk).
2. **Answer write** — ``put_answer`` on SQLite (WAL, ``synchronous=NORMAL``); before: 1.75 ms.
3. **Fleet** — 4 processes x 60 videos, one sandbox (40 ms model latency), one store (SQLite
   file / Redis): /analyze calls (goal: 60; before claims: 104) and wall seconds.

Redis parts start a private ``redis-server`` on a free loopback port when one is installed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, parser, print_table, write_results

from classify_shim._store import RedisStore, ResultHeader, SQLiteStore, Store


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[Optional[str]]:
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir),
                             "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    client.close()
    try:
        yield f"redis://127.0.0.1:{port}/0?prefix=bench:"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _item(i: int) -> Dict[str, Any]:
    return {"video_id": f"{i:024x}", "classes": [
        {"name": "DanceTok", "score": 91.5, "duration_ratio": 0.8,
         "clips": [{"start": 1.0, "end": 9.5, "score": 90.0, "option": "visual", "prompt": "Dance tutorial"}]}
    ]}


def page_walk(store: Store, n: int, limit: int = 10) -> float:
    """Microseconds per page read, walking every page of an n-video result."""
    data = [_item(i) for i in range(n)]
    pages = [data[s:s + limit] for s in range(0, n, limit)]
    rid = f"{n:032x}"
    store.put_result(rid, ResultHeader(scope="s", page_limit=limit, total_results=n, pages=len(pages),
                                       expires_at=int(time.time() + 600)), pages)
    started = time.perf_counter()
    for p in range(len(pages)):
        found = store.get_page(rid, "s", p)
        assert found is not None and len(found[1]) == len(pages[p])
    return (time.perf_counter() - started) / len(pages) * 1e6


def answer_writes(store: Store, n: int = 2000) -> float:
    value = {"data": json.dumps({"classes": [{"name": "DanceTok", "segments": [[1, 9, 0.9]]}]}), "finish_reason": "stop"}
    times = []
    for i in range(n):
        t = time.perf_counter()
        store.put_answer(f"k{i}", value)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


_WORKER = r"""
import json, os, warnings
warnings.simplefilter("ignore")
from classify_shim import TwelveLabs
job = json.loads(os.environ["JOB"])
with TwelveLabs("tlk_bench_fleet", classify_backend="pegasus", base_url=job["url"], cache=job["cache"]) as c:
    c.classify.videos(job["ids"], ["visual"], [{"name": "Cooking", "prompts": ["cooking"]},
                                             {"name": "Sports", "prompts": ["sports"]}])
"""


def fleet(cache: str, workers: int = 4, videos: int = 60) -> Dict[str, Any]:
    from classify_shim.sandbox import Sandbox, synthetic_world

    with Sandbox(world=synthetic_world(videos, seed=5), latency_ms=40) as sb, tempfile.TemporaryDirectory() as home:
        ids = [v["_id"] for ix in sb.world["indexes"] for v in ix["videos"]]
        env = {k: v for k, v in os.environ.items() if not k.startswith("TWELVELABS_")}
        env.update(HOME=home, JOB=json.dumps({"url": sb.base_url, "cache": cache, "ids": ids}))
        started = time.monotonic()
        procs = [subprocess.Popen([sys.executable, "-c", _WORKER], env=env) for _ in range(workers)]
        codes = [p.wait() for p in procs]
        wall = time.monotonic() - started
        calls = sum(1 for r in sb.requests() if r.get("endpoint") == "v1.3.analyze")
    return {"workers": workers, "videos": videos, "analyze_calls": calls, "wall_s": round(wall, 2),
            "exit_codes": codes}


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    del args
    out: Dict[str, Any] = {}
    rows: List[List[Any]] = []
    with tempfile.TemporaryDirectory() as tmp, redis_server(Path(tmp)) as url:
        stores: Dict[str, Any] = {"sqlite": lambda: SQLiteStore(Path(tmp) / f"walk{time.monotonic_ns()}.sqlite3")}
        if url:
            stores["redis"] = lambda: RedisStore.from_url(url)
        for kind, make in stores.items():
            store = make()
            smalls, bigs = [], []
            for _ in range(3):  # interleaved, medians compared
                smalls.append(page_walk(store, 1000))
                bigs.append(page_walk(store, 10_000))
            small, big = statistics.median(smalls), statistics.median(bigs)
            write_ms = answer_writes(store)
            store.close()
            out[kind] = {"us_per_page_1k": round(small, 1), "us_per_page_10k": round(big, 1),
                         "ratio_10k_over_1k": round(big / small, 2), "put_answer_ms": round(write_ms, 3)}
            rows.append([kind, round(small, 1), round(big, 1), round(big / small, 2), round(write_ms, 3)])
        print_table(["store", "µs/page (1k)", "µs/page (10k)", "ratio", "put_answer ms"], rows, "page walk and writes")
        sqlite_path = Path(tmp) / "fleet.sqlite3"
        out["fleet_sqlite"] = fleet(str(sqlite_path))
        out["fleet_sqlite"]["file_bytes"] = sum(p.stat().st_size for p in Path(tmp).glob("fleet.sqlite3*"))
        if url:
            out["fleet_redis"] = fleet(url.replace("prefix=bench:", "prefix=fleet:"))
        print_table(["fleet", "workers", "videos", "analyze calls", "wall s"],
                    [[k, v["workers"], v["videos"], v["analyze_calls"], v["wall_s"]]
                     for k, v in out.items() if k.startswith("fleet")], "4 processes, one store")
    out["machine"] = machine()
    write_results("store", out)


if __name__ == "__main__":
    main()
