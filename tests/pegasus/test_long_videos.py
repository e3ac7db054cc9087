"""Videos over sync ``/analyze``'s 1 hour: asked through ``/analyze/tasks``, never left to fail.

v1.2 Classify took such videos; the 2026-07 v1.3 spec sends them to the async tasks endpoint.
The sandbox refuses them on ``/analyze`` (400 ``video_duration_too_long``), so a run that sent
one there would report the video failed.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from classify_shim import TwelveLabs
from classify_shim.adapters.pegasus import _engine
from classify_shim.sandbox import Sandbox, default_world

from .conftest import video_ids

KEY = "tlk_pegasus_long_videos_01"
CLASSES = [{"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group"]},
           {"name": "CookTok", "prompts": ["Cooking tutorial"]}]


def _world() -> Dict[str, Any]:
    """Four videos of the default world; the first (a 180 s dance tutorial) stretched to 2 hours,
    its content with it."""
    world = copy.deepcopy(default_world())
    world["indexes"] = [world["indexes"][0]]
    world["indexes"][0]["videos"] = world["indexes"][0]["videos"][:4]
    video = world["indexes"][0]["videos"][0]
    stretch = 7200.0 / float(video["duration"])
    video["duration"] = 7200.0
    for segments in video["content"].values():
        for seg in segments:
            seg["start"], seg["end"] = seg["start"] * stretch, seg["end"] * stretch
    return world


def _classify(sb: Sandbox, tmp_path: Path, strategy: str) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TwelveLabs(api_key=KEY, classify_backend="pegasus", base_url=sb.base_url, max_retries=0,
                        cache=tmp_path / "c.sqlite3", strategy=strategy) as client:
            return client.classify.videos(video_ids(sb), ["visual", "conversation"], CLASSES, page_limit=50)


def _calls(sb: Sandbox) -> List[Tuple[str, int, str]]:
    """(endpoint, status, video) of every model call, task create and task poll."""
    return [(e["endpoint"], e["status"], e.get("video") or "") for e in sb.requests()
            if e["endpoint"] in ("v1.3.analyze", "v1.3.tasks.create", "v1.3.tasks.get")]


@pytest.mark.parametrize("strategy", ["auto", "sync"])
def test_a_two_hour_video_is_asked_through_tasks(sandbox_factory: Any, tmp_path: Path, strategy: str) -> None:
    sb = sandbox_factory(_world(), task_latency_ms=0)
    long_id, *short_ids = video_ids(sb)
    result = _classify(sb, tmp_path, strategy)
    assert result.errors == []
    calls = _calls(sb)
    assert [c for c in calls if c[2] == long_id and c[0] == "v1.3.analyze"] == []
    assert [c[:2] for c in calls if c[2] == long_id and c[0] == "v1.3.tasks.create"] == [("v1.3.tasks.create", 202)]
    assert sorted(c[2] for c in calls if c[0] == "v1.3.analyze") == sorted(short_ids)
    assert all(c[1] < 400 for c in calls)
    assert long_id in {d.video_id for d in result.data}  # the dance tutorial passes DanceTok
    # The task's answer is cached like any other: a second call asks nothing.
    sb.clear_requests()
    again = _classify(sb, tmp_path, strategy)
    assert _calls(sb) == []
    assert [(d.video_id, [c.name for c in d.classes]) for d in again.data] == \
        [(d.video_id, [c.name for c in d.classes]) for d in result.data]


def test_a_length_refusal_is_asked_again_once_through_tasks(
    sandbox_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shim's own length rule made to miss the video (as for a duration it could not know):
    the sandbox's 400 sends the video to tasks, not to Pegasus 1.2 and not to the failures."""
    monkeypatch.setattr(_engine, "SYNC_MAX_DURATION_S", 10 * 3600.0)
    sb = sandbox_factory(_world(), task_latency_ms=0)
    long_id = video_ids(sb)[0]
    result = _classify(sb, tmp_path, "auto")
    assert result.errors == []
    calls = _calls(sb)
    refused = [c for c in calls if c[0] == "v1.3.analyze" and c[1] == 400]
    assert len(refused) == 1
    assert [c[:2] for c in calls if c[2] == long_id and c[0] == "v1.3.tasks.create"] == [("v1.3.tasks.create", 202)]
    assert {e.get("model") for e in sb.requests() if e["endpoint"] == "v1.3.analyze"} == {"pegasus1.5", None}
    assert long_id in {d.video_id for d in result.data}
