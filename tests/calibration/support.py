"""Saved results made by the sandbox's v1.2 emulation on a lab world, for the calibration tests.

The saved side is the sandbox's own v1.2 emulation (its matcher over the world's content); the
Pegasus side is the lab's label-driven answer simulator, served as scripted answers. Neither
shares code or formulas with the calibration fit or the mapping it calibrates.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Dict, List, Tuple

from classify_shim import TwelveLabs
from classify_shim.lab import LabWorld, SimConfig, make_world, simulate_answers

SOURCES = ["visual", "conversation", "text_in_video"]
PERMISSIVE = {"min_video_score": 1, "min_clip_score": 1, "min_duration_ratio": 0.01}
STRICT = {"min_video_score": 95, "min_duration_ratio": 0.5}
"""A strict user (v1.2 passes sat at 86.6-100): where the scales of two scorers differ, which is
what a monotone calibration can repair."""


def lab_setup(seed: int, n_videos: int) -> Tuple[LabWorld, Dict[str, Any]]:
    world = make_world(seed, n_videos)
    scripted = {k: v * 3 for k, v in simulate_answers(world, SimConfig()).items()}
    return world, world.to_sandbox_world(scripted)


def emulation_saves(base_url: str, world: LabWorld, video_ids: List[str], path: Path,
                    threshold: Dict[str, Any] = STRICT) -> Dict[Tuple[str, str], bool]:
    """Classify on the sandbox's v1.2 emulation, save ``{request, response}``, return its decisions."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TwelveLabs(base_url=base_url, classify_backend="legacy", cache=False) as client:
            res = client.classify.videos(video_ids, SOURCES, world.classes, threshold=threshold, page_limit=50)
    body = {"data": [v.model_dump(mode="json", exclude_none=True) for v in res.data],
            "page_info": res.page_info.model_dump(mode="json")}
    assert not body["page_info"].get("next_page_token")
    request = {"video_ids": video_ids, "options": SOURCES, "classes": world.classes, "threshold": threshold}
    path.write_text(json.dumps({"request": request, "response": body}), encoding="utf-8")
    listed = {(v["video_id"], c["name"]) for v in body["data"] for c in v["classes"]}
    return {(v, c["name"]): (v, c["name"]) in listed for v in video_ids for c in world.classes}


def analyze_calls(sandbox: Any) -> int:
    return sum(1 for r in sandbox.requests() if r["path"].rstrip("/").endswith("/analyze"))
