"""Loopback load on the gateway: requests per second and latency of a cached page fetch.

A sandbox and a ``classify-shim gateway`` (pegasus backend, SQLite store) run in their own
processes. One ``POST /v1.2/classify/bulk`` (page_limit=1) stores a result; then ``--clients``
concurrent keep-alive callers send ``--requests`` ``GET /v1.2/classify/{page_token}`` in total,
cycling over every page's token (no model call: pages come from the store). Bounded: a fixed
number of requests, each with a timeout. Reported: requests/s, p50 / p95 / p99 latency, errors;
once per ``--workers`` value, with the gateway processes' CPU time per request (from ``/proc``).

    python bench/gateway_load.py [--requests 3000] [--clients 16] [--workers 1,2]
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import external_sandbox, parser, print_table, stop_process, write_results

KEY = "tlk_bench_gateway"
CLASSES: List[Dict[str, Any]] = [
    {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group", "Dance competition"]},
    {"name": "CookTok", "prompts": ["Cooking tutorial", "Cooking ustensils review"]},
]


def start_gateway(sandbox_url: str, workers: int, store: Path) -> Tuple[str, subprocess.Popen[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWELVELABS_")}
    env.update(TWELVELABS_BASE_URL=sandbox_url, TWELVELABS_CLASSIFY_CACHE=str(store))
    proc = subprocess.Popen(
        [sys.executable, "-m", "classify_shim.cli", "gateway", "--port", "0", "--backend", "pegasus",
         "--workers", str(workers)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http"):
        proc.kill()
        raise RuntimeError(f"gateway did not start: {url!r}")
    for _ in range(300):
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    return url, proc


def process_tree_cpu_s(root: int) -> float:
    """User+system CPU seconds of ``root`` and its descendants (Linux ``/proc``), so the server's
    cost per request can be read apart from the machine's other load."""
    ticks = os.sysconf("SC_CLK_TCK")
    stats: Dict[int, Tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _) in stats.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return sum(stats[pid][1] for pid in tree if pid in stats)


def tokens(url: str, index_id: str) -> List[str]:
    body = {"index_id": index_id, "options": ["visual", "conversation"], "classes": CLASSES, "page_limit": 1}
    first = httpx.post(url + "/v1.2/classify/bulk", json=body, headers={"x-api-key": KEY}, timeout=120).json()
    out: List[str] = []
    token = first["page_info"]["next_page_token"]
    while token:
        out.append(token)
        page = httpx.get(f"{url}/v1.2/classify/{token}", headers={"x-api-key": KEY}, timeout=30).json()
        token = page["page_info"]["next_page_token"]
    if not out:
        raise RuntimeError("the result has a single page; nothing to fetch")
    return out


async def load(url: str, page_tokens: List[str], requests: int, clients: int) -> Dict[str, Any]:
    latencies: List[float] = []
    errors = 0
    counter = iter(range(min(requests, clients * 5)))  # warm-up share
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def caller(client: httpx.AsyncClient) -> None:
        nonlocal errors
        for i in counter:
            token = page_tokens[i % len(page_tokens)]
            started = time.perf_counter()
            try:
                r = await client.get(f"/v1.2/classify/{token}")
                ok = r.status_code == 200 and b'"page_info"' in r.content
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - started)
            errors += 0 if ok else 1

    async with httpx.AsyncClient(base_url=url, headers={"x-api-key": KEY}, limits=limits, timeout=30) as client:
        await asyncio.gather(*(caller(client) for _ in range(clients)))  # warm-up: open the connections
        latencies.clear()
        errors = 0
        counter = iter(range(requests))
        started = time.perf_counter()
        await asyncio.gather(*(caller(client) for _ in range(clients)))
        wall = time.perf_counter() - started
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    return {
        "requests": len(latencies), "errors": errors, "wall_s": round(wall, 3),
        "rps": round(len(latencies) / wall, 1), "p50_ms": round(pct(0.50), 2),
        "p95_ms": round(pct(0.95), 2), "p99_ms": round(pct(0.99), 2),
    }


def main() -> None:
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--workers", default="1,2")
    args = ap.parse_args()
    results: Dict[str, Any] = {"requests": args.requests, "clients": args.clients, "runs": {}}
    rows = []
    with external_sandbox() as (sandbox_url, _), tempfile.TemporaryDirectory() as tmp:
        index_id = httpx.get(sandbox_url + "/_sandbox/world", timeout=10).json()["indexes"][0]["_id"]
        for workers in [int(w) for w in args.workers.split(",")]:
            url, proc = start_gateway(sandbox_url, workers, Path(tmp) / f"store-{workers}.sqlite3")
            try:
                page_tokens = tokens(url, index_id)
                cpu_before = process_tree_cpu_s(proc.pid)
                run = asyncio.run(load(url, page_tokens, args.requests, args.clients))
                server_cpu = process_tree_cpu_s(proc.pid) - cpu_before
            finally:
                stop_process(proc, timeout=15)
            run["tokens"] = len(page_tokens)
            # includes the warm-up requests (clients * 5), so it slightly overstates the cost
            run["server_cpu_ms_per_request"] = round(server_cpu * 1000 / (args.requests + args.clients * 5), 2)
            results["runs"][f"workers={workers}"] = run
            rows.append([workers, run["requests"], run["errors"], run["rps"], run["p50_ms"], run["p95_ms"],
                         run["p99_ms"], run["server_cpu_ms_per_request"]])
    print_table(["workers", "requests", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms", "server CPU ms/req"], rows,
                title=f"cached page fetch through the gateway, {args.clients} concurrent clients, loopback")
    write_results("gateway_load", results)


if __name__ == "__main__":
    main()
