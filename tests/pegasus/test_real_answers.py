"""Answer forms real Pegasus produced, end to end: a scripted answer in the sandbox's world, read
by the client over loopback HTTP into v1.2 clips, with one model call (no retry) per video.

The forms come from public reports of real answers (timestamps written as MM:SS:FF when
HH:MM:SS was asked for; prose that quotes a JSON value before the answer).
"""

from __future__ import annotations

import json
import logging
import warnings
from typing import Any, Dict, List, Tuple

import pytest

from classify_shim import TwelveLabs

from .conftest import video_ids

KEY = "tlk_pegasus_real_answers_01"
CLASSES = [{"name": "Goal", "prompts": ["a goal is scored"]}]
LOW = {"min_video_score": 1, "min_clip_score": 1, "min_duration_ratio": 0.01}


def _answer(segment: Dict[str, Any]) -> str:
    return json.dumps({"classes": [{"name": "Goal", "present": True, "confidence": 90,
                                    "segments": [dict(segment, prompt="a goal is scored", source="visual")]}]})


def _world(videos: List[Tuple[float, str]]) -> Dict[str, Any]:
    return {"name": "real-answers", "indexes": [{"_id": "6650aa000000000000000a01", "index_name": "real", "videos": [
        {"_id": f"6650bb0000000000000000{i:02x}", "filename": f"match_{i}.mp4", "duration": duration,
         "content": {"visual": [{"start": 0.0, "end": duration, "text": "a football match"}]},
         "scripted_answers": [{"text": text}]}
        for i, (duration, text) in enumerate(videos)]}]}


def _clips(sb: Any) -> Dict[str, List[Tuple[float, float]]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = TwelveLabs(api_key=KEY, classify_backend="pegasus", base_url=sb.base_url, cache=False, max_retries=0)
        with client:
            result = client.classify.videos(video_ids(sb), ["visual"], CLASSES, include_clips=True, threshold=LOW)
    assert result.errors == []
    return {v.video_id: [(c.start, c.end) for cls in v.classes for c in cls.clips or []] for v in result.data}


def _calls(sb: Any) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for r in sb.requests():
        if r["endpoint"] == "v1.3.analyze":
            counts[r["video"]] = counts.get(r["video"], 0) + 1
    return counts


def test_mm_ss_ff_times_and_json_before_the_answer(sandbox_factory: Any) -> None:
    frames = _answer({"start": "10:38:00", "end": "12:20", "confidence": 85})  # 638 s to 740 s of 12:48
    echoed = 'Schema: {"type": "object", "properties": {}}\n\n' + _answer({"start": 30, "end": 90, "confidence": 85})
    rounded = _answer({"start": "00:00:02", "end": "00:00:07", "confidence": 85})  # end rounded past 6.12 s
    sb = sandbox_factory(_world([(768.0, frames), (120.0, echoed), (6.12, rounded)]))
    ids = video_ids(sb)
    clips = _clips(sb)
    assert clips == {ids[0]: [(638.0, 740.0)], ids[1]: [(30.0, 90.0)], ids[2]: [(2.0, 6.12)]}
    assert _calls(sb) == {vid: 1 for vid in ids}


def test_repairs_and_drops_are_logged_per_video(sandbox_factory: Any, caplog: pytest.LogCaptureFixture) -> None:
    # A placeholder time (":" as real answers had) drops that segment: the log says so, per video.
    answer = json.dumps({"classes": [{"name": "Goal", "present": True, "confidence": 90, "segments": [
        {"start": ":", "end": ":00:00", "prompt": "a goal is scored", "source": "visual", "confidence": 90},
        {"start": 10, "end": 50, "prompt": "a goal is scored", "source": "visual", "confidence": 90}]}]})
    sb = sandbox_factory(_world([(60.0, answer), (60.0, _answer({"start": 5, "end": 20, "confidence": 80}))]))
    ids = video_ids(sb)
    with caplog.at_level(logging.INFO, logger="classify_shim.pegasus"):
        assert _clips(sb) == {ids[0]: [(10.0, 50.0)], ids[1]: [(5.0, 20.0)]}
    repairs = [r.getMessage() for r in caplog.records if "repair" in r.getMessage()]
    assert len(repairs) == 1 and ids[0] in repairs[0]
    assert "dropped segment with unreadable times" in repairs[0]
