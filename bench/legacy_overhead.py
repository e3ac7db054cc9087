"""Our legacy backend vs the real ``twelvelabs==0.3.2``: same sandbox, same calls, interleaved.

The sandbox runs in its own process (noise off, no latency), so the client process's CPU clock
measures client work only. For each call (``videos``, ``index``, ``by_page_token``) both clients
run alternately ``--repetitions`` times; the figure is median(ours) / median(0.3.2), wall and
CPU. Goal: <= 1.0x. A component breakdown (validation, warnings, HTTP, response models) shows
where any difference comes from.

    python bench/legacy_overhead.py [--repetitions 300] [--videos 400] [--only "videos (5,iterate"]

Rows: ``videos`` with 1 / 5 / 50 ids, ``index``, ``by_page_token`` and iterating 10 pages, under
Python's default warning filters and (``user filter`` rows) with ``-W default::DeprecationWarning``
in force, plus ``videos`` with ``TWELVELABS_CLASSIFY_WARNINGS=off``.

Smallest world for every row: ``--videos 200`` (the page rows need more than 100 results; a world
too small for the rows selected is refused before any timing, saying which row and why).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import external_sandbox, interleave, median, parser, print_table, ratio, write_results

CLASSES: List[Dict[str, Any]] = [
    {"name": "DanceTok", "prompts": ["dance tutorial", "dance group", "dance competition"]},
    {"name": "CookTok", "prompts": ["cooking tutorial", "utensils review"]},
    {"name": "Sports", "prompts": ["soccer goal"], "options": ["visual"]},
]
OPTIONS = ["visual", "conversation"]


PAGE_LIMIT_ITER = 10
ITER_PAGES = 10


@dataclass(frozen=True)
class Scenario:
    """One row: which call, and the warnings setting it runs under."""

    name: str
    call: str  # videos1 | videos5 | videos50 | index | page | iterate
    warnings: str = "default filters"  # | "user filter" | "off"


SCENARIOS = [
    Scenario("videos (1 id, clips)", "videos1"),
    Scenario("videos (5 ids, clips)", "videos5"),
    Scenario("videos (50 ids, clips)", "videos50"),
    Scenario("videos (1 id), user filter", "videos1", "user filter"),
    Scenario("videos (5 ids), user filter", "videos5", "user filter"),
    Scenario("videos (50 ids), user filter", "videos50", "user filter"),
    Scenario("index (50/page, clips, detailed)", "index"),
    Scenario("by_page_token (50/page)", "page"),
    Scenario(f"iterate {ITER_PAGES} pages (10/page)", "iterate"),
    Scenario(f"iterate {ITER_PAGES} pages, user filter", "iterate", "user filter"),
    Scenario("videos (5 ids), warnings off", "videos5", "off"),
]
USER_FILTER = ("default", DeprecationWarning)
"""The user filter rows: ``filterwarnings("default", category=DeprecationWarning)`` (= ``-W
default::DeprecationWarning``), which takes the warning out of Python's defaults and into the
registry-based once-per-location path."""


def _calls(client: Any, call: str, index_id: str, video_ids: List[str], token: str) -> Callable[[], Any]:
    """The same call for either client: both make byte-identical requests."""
    if call.startswith("videos"):
        vids = video_ids[: int(call[len("videos"):])]
        return lambda: client.classify.videos(vids, OPTIONS, CLASSES, include_clips=True)
    if call == "index":
        return lambda: client.classify.index(
            index_id, OPTIONS, CLASSES, page_limit=50, include_clips=True, show_detailed_score=True
        )
    if call == "page":
        return lambda: client.classify.by_page_token(token)
    first = client.classify.index(index_id, OPTIONS, CLASSES, page_limit=PAGE_LIMIT_ITER)
    start = first.page_info

    def iterate() -> None:  # page 0 is in hand; fetch the next ITER_PAGES by the result's iterator
        first.page_info = start
        for _ in range(ITER_PAGES):
            next(first)

    iterate()  # fails here, not in the timing loop, if the world has too few results
    return iterate


def _too_small(calls: List[str], videos: int, results: int) -> str:
    """Why this world cannot serve the selected rows (empty when it can): a ``videos`` row must send
    as many ids as its name says, a page row needs the pages it fetches to exist."""
    wanted = max((int(c[len("videos"):]) for c in calls if c.startswith("videos")), default=0)
    if videos < wanted:
        return f"--videos {videos}: the 'videos ({wanted} ids ...)' rows need at least {wanted} videos"
    for call, pages, limit in (("page", 2, 50), ("iterate", ITER_PAGES + 1, PAGE_LIMIT_ITER)):
        if call in calls and results <= (pages - 1) * limit:
            return (f"--videos {videos}: the index result has {results} results, the {call!r} rows need more than "
                    f"{(pages - 1) * limit} ({pages} pages of {limit}); give a larger --videos (the default works) "
                    "or leave those rows out with --only")
    return ""


def _components(body: Dict[str, Any], index_id: str, repetitions: int) -> List[Tuple[str, float, float]]:
    """Per-step medians in microseconds, ours vs 0.3.2's equivalent step, offline and interleaved."""
    import httpx
    import twelvelabs.models as real_models
    from twelvelabs.util import remove_none_values

    from classify_shim._http import _decode
    from classify_shim._models import ClassifyPageResult, page_from_json
    from classify_shim._request import build_index_request, parse_request_options
    from classify_shim._warnings import raise_if_escalated, warn_legacy_call

    def pair(ours: Callable[[], Any], real: Callable[[], Any]) -> Tuple[float, float]:
        s = interleave({"ours": ours, "real": real}, repetitions, warmup=20)
        return median(s["ours"]["wall"]) * 1e6, median(s["real"]["wall"]) * 1e6

    def nothing() -> None:
        return None

    def real_body() -> Any:  # what 0.3.2 does before sending: a dict literal, None values removed
        return remove_none_values({
            "index_id": index_id, "options": OPTIONS, "classes": CLASSES, "conversation_option": "semantic",
            "page_limit": 50, "include_clips": True, "threshold": None, "show_detailed_score": True,
        })

    raw = json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    rows: List[Tuple[str, float, float]] = []
    rows.append(("request validation / body", *pair(
        lambda: (build_index_request(index_id, OPTIONS, CLASSES, page_limit=50, include_clips=True,
                                     show_detailed_score=True), parse_request_options({})),
        real_body,
    )))
    with warnings.catch_warnings(record=True):
        rows.append(("deprecation warning (deduplicated)", *pair(
            lambda: warn_legacy_call("index", "legacy", "v1.2", raise_if_escalated("index", "legacy", "v1.2")),
            nothing,
        )))
    rows.append(("response models (50 videos)", *pair(
        lambda: ClassifyPageResult(None, **body),
        lambda: real_models.ClassifyPageResult(None, **body),  # type: ignore[arg-type]
    )))
    rows.append(("JSON decode of the page", *pair(
        lambda: _decode(httpx.Response(200, content=raw, headers=headers)),
        lambda: httpx.Response(200, content=raw, headers=headers).json(),
    )))
    # What the sync legacy call does with a page now: its bytes validated into the models in one
    # pass (the two rows above are the long way: decode, then validate the dicts).
    rows.append(("page from its bytes (decode + models)", *pair(
        lambda: page_from_json(raw),
        lambda: real_models.ClassifyPageResult(None, **json.loads(raw.decode())),  # type: ignore[arg-type]
    )))
    return rows


def main() -> int:
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--repetitions", type=int, default=300, help="interleaved A/B rounds per call")
    ap.add_argument("--videos", type=int, default=400, help="videos in the synthetic world")
    ap.add_argument("--only", default="", help="comma-separated substrings of row names to run (default: all)")
    args = ap.parse_args()

    import twelvelabs

    from classify_shim import TwelveLabs
    from classify_shim.sandbox import synthetic_world

    world = synthetic_world(args.videos, seed=7)
    index_id = world["indexes"][0]["_id"]
    video_ids = [v["_id"] for v in world["indexes"][0]["videos"]]
    rows = []
    results: Dict[str, Any] = {}
    body: Dict[str, Any] = {}
    only = [x for x in args.only.split(",") if x]
    selected = [sc for sc in SCENARIOS if not only or any(o in sc.name for o in only)]
    if not selected:
        ap.error(f"--only {args.only!r} matches no row; rows: " + "; ".join(sc.name for sc in SCENARIOS))
    calls = [sc.call for sc in selected]
    with tempfile.TemporaryDirectory() as tmp:
        world_file = Path(tmp) / "world.json"
        world_file.write_text(json.dumps(world))
        for sc in selected:
            # A fresh sandbox per row: it keeps every result set for the token's lifetime,
            # and a server slowed by thousands of stored pages would blur the comparison.
            with external_sandbox("--token-ttl-s", "3600", world=str(world_file)) as (base_url, _proc):
                os.environ["TWELVELABS_BASE_URL"] = base_url  # how 0.3.2 is pointed elsewhere
                real = twelvelabs.TwelveLabs(api_key="bench-key")
                ours = TwelveLabs("bench-key", classify_backend="legacy", base_url=base_url, cache=False)
                first = real.classify.index(index_id, OPTIONS, CLASSES, page_limit=50, include_clips=True,
                                            show_detailed_score=True)
                body = json.loads(first.model_dump_json())
                token = first.page_info.next_page_token
                if not rows:  # before the first row is timed: can this world serve every selected row?
                    problem = _too_small(calls, args.videos, first.page_info.total_results)
                    if problem:
                        ap.error(problem)
                if sc.warnings == "off":
                    os.environ["TWELVELABS_CLASSIFY_WARNINGS"] = "off"
                try:
                    with warnings.catch_warnings(record=True) as shown:  # the shim's one-per-site warning
                        if sc.warnings == "user filter":
                            warnings.filterwarnings(USER_FILTER[0], category=USER_FILTER[1])
                        a = _calls(ours, sc.call, index_id, video_ids, token)
                        b = _calls(real, sc.call, index_id, video_ids, token)
                        samples = interleave({"ours": a, "real": b}, args.repetitions)
                finally:
                    os.environ.pop("TWELVELABS_CLASSIFY_WARNINGS", None)
                    os.environ.pop("TWELVELABS_BASE_URL", None)
                    ours.close()
            mo, mr = median(samples["ours"]["wall"]), median(samples["real"]["wall"])
            co, cr = median(samples["ours"]["cpu"]), median(samples["real"]["cpu"])
            rows.append((sc.name, mo * 1e3, mr * 1e3, ratio(mo, mr), co * 1e3, cr * 1e3, ratio(co, cr), len(shown)))
            results[sc.name] = {
                "warnings": sc.warnings, "warnings_shown": len(shown),
                "ours_wall_ms_median": mo * 1e3, "real_wall_ms_median": mr * 1e3, "wall_ratio": ratio(mo, mr),
                "ours_cpu_ms_median": co * 1e3, "real_cpu_ms_median": cr * 1e3, "cpu_ratio": ratio(co, cr),
            }
            print(f"{sc.name}: wall {ratio(mo, mr):.3f}, CPU {ratio(co, cr):.3f}", flush=True)
    print_table(
        ["call", "ours ms", "0.3.2 ms", "wall ratio", "ours CPU ms", "0.3.2 CPU ms", "CPU ratio", "warnings shown"],
        rows,
        title=f"legacy backend vs twelvelabs 0.3.2 (median of {args.repetitions} interleaved rounds; goal <= 1.0x)",
    )
    comp = _components(body, index_id, max(300, args.repetitions))
    print_table(["component", "ours us", "0.3.2 us"], comp, title="where the time goes (offline, medians)")
    worst = max(r["wall_ratio"] for r in results.values())
    write_results("legacy_overhead", {
        "parameters": {"repetitions": args.repetitions, "videos": args.videos, "sandbox": "separate process"},
        "calls": results,
        "components_us": {name: {"ours": o, "real": r} for name, o, r in comp},
        "worst_wall_ratio": worst,
        "goal": "<= 1.0",
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
