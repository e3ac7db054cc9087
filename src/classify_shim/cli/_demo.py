"""``classify-shim demo``: the documented Classify example on the embedded sandbox, both backends.

Runs a legacy-style program (``classify_shim.examples.legacy_videos``) through ``legacy`` and
``pegasus``, with the deprecation warning a user would see, then a side-by-side table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Tuple

from .._config import ENV_BACKEND

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the documented Classify example on the embedded sandbox (no network)",
        description=__doc__,
    )
    parser.add_argument(
        "--backend", choices=("legacy", "pegasus", "both"), default=None,
        help="which backend(s) to run the example through (default: TWELVELABS_CLASSIFY_BACKEND when it "
        "is legacy or pegasus, else both, then a side-by-side table)",
    )
    parser.add_argument("--json", action="store_true", help="print the side-by-side comparison as JSON")
    parser.set_defaults(func=run)


Row = Tuple[str, str]


def _flatten(pages: List[List[Any]]) -> Dict[Row, Tuple[float, float]]:
    return {
        (video.video_id, cls.name): (cls.score, cls.duration_ratio)
        for page in pages
        for video in page
        for cls in video.classes
    }


def _table(results: Dict[str, Dict[Row, Tuple[float, float]]]) -> List[Dict[str, Any]]:
    keys = sorted({key for flat in results.values() for key in flat})
    rows = []
    for video_id, name in keys:
        row: Dict[str, Any] = {"video_id": video_id, "class": name}
        for backend, flat in results.items():
            score, ratio = flat.get((video_id, name), (None, None))
            row[backend] = {"score": score, "duration_ratio": ratio, "passed": score is not None}
        rows.append(row)
    return rows


def _print_table(rows: List[Dict[str, Any]], backends: List[str]) -> None:
    print("\nSide by side (classes that passed the default thresholds 75 / 30 / 0.5):")
    header = f"{'video':<26} {'class':<10}" + "".join(f" {b + ' score':>14} {b + ' ratio':>14}" for b in backends)
    print(header)
    print("-" * len(header))
    for row in rows:
        cells = ""
        for backend in backends:
            cell = row[backend]
            score = "-" if cell["score"] is None else f"{cell['score']:.2f}"
            ratio = "-" if cell["duration_ratio"] is None else f"{cell['duration_ratio']:.2f}"
            cells += f" {score:>14} {ratio:>14}"
        print(f"{row['video_id']:<26} {row['class']:<10}{cells}")
    if len(backends) == 2:
        agree = sum(1 for r in rows if r[backends[0]]["passed"] == r[backends[1]]["passed"])
        print(f"\nPass/fail agreement on listed pairs: {agree}/{len(rows)}")


def run(args: argparse.Namespace) -> int:
    from .. import TwelveLabs
    from .._warnings import reset_call_sites
    from ..examples import legacy_videos
    from ..sandbox import Sandbox

    choice = args.backend or os.environ.get(ENV_BACKEND, "").strip().lower()
    backends = [choice] if choice in ("legacy", "pegasus") else ["legacy", "pegasus"]
    out = sys.stdout
    results: Dict[str, Dict[Row, Tuple[float, float]]] = {}
    with Sandbox() as sandbox, tempfile.TemporaryDirectory() as tmp:
        video_ids = [v["_id"] for v in sandbox.world["indexes"][0]["videos"]]
        if args.json:
            sys.stdout = sys.stderr  # keep stdout for the JSON document
        try:
            for backend in backends:
                print(f"\n=== backend: {backend} (sandbox {sandbox.base_url}) ===")
                reset_call_sites()  # each backend's run shows the warning its user would get
                client = TwelveLabs(
                    "demo-key", classify_backend=backend, base_url=sandbox.base_url,
                    cache=Path(tmp) / "cache.sqlite3", max_retries=2,
                )
                with client:
                    pages = legacy_videos.run(client, video_ids)
                sys.stdout.flush()
                sys.stderr.flush()
                results[backend] = _flatten(pages)
        finally:
            sys.stdout = out
    rows = _table(results)
    if args.json:
        json.dump({"backends": backends, "rows": rows}, sys.stdout, indent=2)
        print()
    else:
        _print_table(rows, backends)
    return 0
