"""Walking every page of a stored Pegasus result: the time per page must not grow with N.

A result of N videos (``page_limit`` 50) is stored in a client's SQLite cache, as a classify
call would leave it, and every following page is fetched through the public iterator
(``for data in result`` -> ``by_page_token`` -> store -> models), timing each page. The sizes
are walked alternately (``--rounds``, A B / B A) and the medians of the per-page times compared.
Goal: per-page time at 100,000 videos <= 1.5x that at 10,000. Rows with ``--failures`` failed
videos in the result check that carrying the error list does not make a page O(E²).

    python bench/page_walk.py [--sizes 10000,100000] [--failures 0,2000] [--rounds 3]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any, Dict, List, Tuple

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


def _walk(client: Any, token: str) -> List[float]:
    result = client.classify.by_page_token(token)
    times: List[float] = []
    while True:
        t0 = time.perf_counter()
        try:
            next(result)
        except StopIteration:
            return times
        times.append(time.perf_counter() - t0)


def main() -> int:
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--failures", default="0,2000")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    from classify_shim import TwelveLabs

    warnings.simplefilter("ignore")
    sizes = [int(x) for x in args.sizes.split(",")]
    rows, out = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        client = TwelveLabs("bench-key", classify_backend="pegasus", base_url="http://127.0.0.1:9",
                            cache=str(Path(tmp) / "walk.sqlite3"))
        for failures in [int(x) for x in args.failures.split(",")]:
            tokens = {n: _store_result(client, n, failures)[1] for n in sizes}
            per_page: Dict[int, List[float]] = {n: [] for n in sizes}
            for r in range(args.rounds):
                for n in (sizes if r % 2 == 0 else list(reversed(sizes))):
                    per_page[n].append(statistics.median(_walk(client, tokens[n])) * 1e6)
            med = {n: statistics.median(v) for n, v in per_page.items()}
            small, large = sizes[0], sizes[-1]
            rows.append((failures, med[small], med[large], ratio(med[large], med[small])))
            out[str(failures)] = {"us_per_page": {str(n): med[n] for n in sizes}, "rounds": per_page,
                                  "ratio": ratio(med[large], med[small])}
            print(f"{failures} failures: {med}", flush=True)
        client.close()
    print_table(["failed videos in the result", f"µs/page ({sizes[0]:,})", f"µs/page ({sizes[-1]:,})", "ratio"], rows,
                title=f"walking every page (page_limit {PAGE_LIMIT}), median per page, goal ratio <= 1.5")
    write_results("page_walk", {"parameters": vars(args), "results": out, "goal": "<= 1.5"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
