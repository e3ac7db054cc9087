"""Model cost: analyze calls and tokens per video, ours vs the naive one-call-per-class migration.

For requests of 1, 10 and 100 prompts (2 prompts per class), the Pegasus backend and a naive
client (one ``POST /v1.3/analyze`` per (video, class), written here with plain httpx) classify
the same videos against the same sandbox. Calls are counted in ``Sandbox.requests()``; tokens are
the ``usage`` the sandbox reports (input = prompt, about 4 characters a token) plus the size of
the ``response_format`` schema sent, shown apart since whether a schema is billed is not
documented. Then: the same request again (new client, same cache file) and every page fetched
by token. Goal for those two: 0 calls.

    python bench/model_cost.py [--videos 10]
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Any, Dict, List, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from _common import parser, print_table, write_results

OPTIONS = ["visual", "conversation", "text_in_video"]
_WORDS = ["dance tutorial", "dance group", "cooking tutorial", "kitchen utensils review", "soccer goal",
          "news anchor", "travel market", "racing game", "street crew", "judges score"]


def make_classes(n_prompts: int) -> List[Dict[str, Any]]:
    """``n_prompts`` prompts, two per class (one class of one prompt for n=1)."""
    if n_prompts == 1:
        return [{"name": "Class 1", "prompts": [_WORDS[0]]}]
    out = []
    for c in range(n_prompts // 2):
        out.append({"name": f"Class {c + 1}", "prompts": [f"{_WORDS[(2 * c) % 10]} {c}", f"{_WORDS[(2 * c + 1) % 10]} {c}"]})
    return out


def tokens(text: str) -> int:
    """The sandbox's count: about four characters per token."""
    return math.ceil(len(text) / 4) if text else 0


class Meter:
    """Counts what a client sends to and gets from ``/analyze`` (event hooks; thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.prompt_tokens = 0
        self.schema_tokens = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.calls = 0

    def on_request(self, request: httpx.Request) -> None:
        if not request.url.path.endswith("/analyze"):
            return
        body = json.loads(request.content or b"{}")
        with self.lock:
            self.calls += 1
            self.prompt_tokens += tokens(body.get("prompt", ""))
            self.schema_tokens += tokens(json.dumps(body.get("response_format") or {}, separators=(",", ":")))

    def on_response(self, response: httpx.Response) -> None:
        if not response.request.url.path.endswith("/analyze") or response.status_code != 200:
            return
        response.read()
        usage = (response.json() or {}).get("usage") or {}
        with self.lock:
            self.input_tokens += int(usage.get("input_tokens") or 0)
            self.output_tokens += int(usage.get("output_tokens") or 0)

    def client(self) -> httpx.Client:
        return httpx.Client(timeout=60, event_hooks={"request": [self.on_request], "response": [self.on_response]})


NAIVE_PROMPT = (
    "Does this video show \"{name}\"? It does if any of these describes part of it: {prompts}. "
    "Consider {sources}. Reply with JSON: present (true/false), confidence (0-100), and segments "
    "(start and end in seconds) where it is shown."
)
NAIVE_SCHEMA = {
    "type": "object",
    "properties": {
        "present": {"type": "boolean"},
        "confidence": {"type": "integer"},
        "segments": {"type": "array", "items": {"type": "object", "properties": {
            "start": {"type": "number"}, "end": {"type": "number"}}}},
    },
    "required": ["present", "confidence", "segments"],
}


def naive_run(base_url: str, video_ids: List[str], classes: List[Dict[str, Any]], meter: Meter) -> None:
    """The migration many people write first: one analyze call per (video, class)."""
    with meter.client() as http:
        for vid in video_ids:
            for cls in classes:
                prompt = NAIVE_PROMPT.format(name=cls["name"], prompts="; ".join(cls["prompts"]),
                                             sources=", ".join(OPTIONS))
                body = {"video_id": vid, "model_name": "pegasus1.2", "prompt": prompt, "temperature": 0,
                        "stream": False, "response_format": {"type": "json_schema", "json_schema": NAIVE_SCHEMA}}
                r = http.post(f"{base_url}/v1.3/analyze", json=body, headers={"x-api-key": "bench-key"})
                r.raise_for_status()


def endpoint_counts(entries: List[Dict[str, Any]]) -> Tuple[int, int]:
    analyze = sum(1 for e in entries if e.get("endpoint") == "v1.3.analyze")
    return analyze, len(entries)


def main() -> int:
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=10, help="videos classified per scenario")
    args = ap.parse_args()

    from classify_shim import TwelveLabs
    from classify_shim.sandbox import Sandbox, synthetic_world

    world = synthetic_world(args.videos, seed=3)
    video_ids = [v["_id"] for v in world["indexes"][0]["videos"]]
    n = len(video_ids)
    rows: List[Tuple[Any, ...]] = []
    repeat_rows: List[Tuple[Any, ...]] = []
    results: Dict[str, Any] = {}
    warnings.simplefilter("ignore")
    with Sandbox(world=world) as sb, tempfile.TemporaryDirectory() as tmp:
        for n_prompts in (1, 10, 100):
            classes = make_classes(n_prompts)
            cache = Path(tmp) / f"cache-{n_prompts}.sqlite3"
            ours = Meter()
            sb.clear_requests()
            with TwelveLabs("bench-key", classify_backend="pegasus", base_url=sb.base_url, cache=cache,
                            http_client=ours.client()) as client:
                first = client.classify.videos(video_ids, OPTIONS, classes, page_limit=3)
                assert not first.errors, first.errors
            ours_analyze, ours_all = endpoint_counts(sb.requests())

            sb.clear_requests()
            with TwelveLabs("bench-key", classify_backend="pegasus", base_url=sb.base_url, cache=cache) as client:
                again = client.classify.videos(video_ids, OPTIONS, classes, page_limit=3)
                repeat_analyze, repeat_all = endpoint_counts(sb.requests())
                sb.clear_requests()
                pages = 0
                for _ in again:
                    pages += 1
                page_analyze, page_all = endpoint_counts(sb.requests())

            naive = Meter()
            sb.clear_requests()
            naive_run(sb.base_url, video_ids, classes, naive)
            naive_analyze, _ = endpoint_counts(sb.requests())

            rows.append((
                n_prompts, len(classes),
                ours_analyze / n, naive_analyze / n, naive_analyze / max(1, ours_analyze),
                ours.input_tokens / n, naive.input_tokens / n, naive.input_tokens / max(1, ours.input_tokens),
                ours.schema_tokens / n, naive.schema_tokens / n,
                ours.output_tokens / n, naive.output_tokens / n,
            ))
            repeat_rows.append((n_prompts, repeat_analyze, repeat_all, pages, page_analyze, page_all))
            results[f"{n_prompts} prompts"] = {
                "classes": len(classes),
                "videos": n,
                "ours": {"analyze_calls": ours_analyze, "all_calls": ours_all,
                         "input_tokens": ours.input_tokens, "prompt_tokens_sent": ours.prompt_tokens,
                         "schema_tokens": ours.schema_tokens, "output_tokens": ours.output_tokens},
                "naive": {"analyze_calls": naive_analyze, "input_tokens": naive.input_tokens,
                          "schema_tokens": naive.schema_tokens, "output_tokens": naive.output_tokens},
                "repeated_request": {"analyze_calls": repeat_analyze, "all_calls": repeat_all},
                "page_fetches": {"pages": pages, "analyze_calls": page_analyze, "all_calls": page_all},
            }
    print_table(
        ["prompts", "classes", "ours calls/video", "naive calls/video", "naive/ours calls",
         "ours input tok/video", "naive input tok/video", "naive/ours input",
         "ours schema tok/video", "naive schema tok/video", "ours output tok/video", "naive output tok/video"],
        rows, title=f"analyze calls and tokens per video ({n} videos, 3 sources, 2 prompts per class)",
    )
    print_table(
        ["prompts", "repeat: analyze calls", "repeat: all calls", "pages fetched", "pages: analyze calls",
         "pages: all calls"],
        repeat_rows, title="same request again (new client, same cache file) and every page by token (goal: 0)",
    )
    write_results("model_cost", {"parameters": {"videos": n, "options": OPTIONS}, "scenarios": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
