"""The real ``twelvelabs`` 1.x SDK (Fern-generated, v1.3) works against the sandbox.

The SDK is installed into a temporary directory and run in a subprocess, so
its pinned dependencies never mix with the project's environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

from classify_shim.sandbox import Sandbox, default_world

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from twelvelabs import TwelveLabs
    from twelvelabs.types import VideoContext_AssetId

    url, index_id, video_id, asset_id, prompt = sys.argv[1:6]
    client = TwelveLabs(api_key="tlk_sdk13_key", base_url=url + "/v1.3")
    out = {}
    res = client.analyze(video=VideoContext_AssetId(asset_id=asset_id), model_name="pegasus1.5",
                         prompt=prompt, max_tokens=2048)
    out["data"] = res.data
    out["finish_reason"] = res.finish_reason
    out["output_tokens"] = res.usage.output_tokens if res.usage else None
    parts = []
    for event in client.analyze_stream(video=VideoContext_AssetId(asset_id=asset_id), prompt="Summarize"):
        if event.event_type == "text_generation":
            parts.append(event.text)
        elif event.event_type == "stream_end":
            out["stream_finish"] = event.finish_reason
    out["stream_text"] = "".join(parts)
    out["videos"] = [v.id for v in client.indexes.videos.list(index_id, page_limit=4)]
    video = client.indexes.videos.retrieve(index_id, video_id, transcription=True)
    out["duration"] = video.system_metadata.duration
    out["transcription"] = [t.value for t in (video.transcription or [])]
    try:
        client.analyze(video=VideoContext_AssetId(asset_id="missing"), model_name="pegasus1.5", prompt="x")
    except Exception as exc:
        out["error_status"] = getattr(exc, "status_code", None)
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def sdk_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("twelvelabs1x")
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--target", str(target), "twelvelabs>=1,<2"],
            capture_output=True, text=True, timeout=300,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"cannot install twelvelabs 1.x with pip: {exc}")
    if proc.returncode != 0 or not (target / "twelvelabs").is_dir():
        pytest.skip("pip could not install twelvelabs>=1,<2 (package registry unreachable?): "
                    + proc.stderr.strip()[-300:])
    return target


@pytest.fixture()
def sb() -> Iterator[Sandbox]:
    with Sandbox() as sandbox:
        yield sandbox


def test_sdk13_analyze_stream_and_videos(sdk_dir: Path, sb: Sandbox) -> None:
    world = default_world()
    index = world["indexes"][0]
    video = next(v for v in index["videos"] if v["filename"] == "kitchen_dance_party.mp4")
    classes = [{"name": "CookTok", "prompts": ["Cooking tutorial"], "sources": ["visual"]}]
    prompt = "Classify.\nCLASSES_JSON:\n" + json.dumps(classes)
    env = {k: v for k, v in os.environ.items() if k not in ("TWELVELABS_BASE_URL", "PYTHONPATH")}
    env["PYTHONPATH"] = str(sdk_dir)
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, sb.base_url, index["_id"], video["_id"], video["asset_id"], prompt],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out: Dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    answer = json.loads(out["data"])
    assert answer["classes"][0]["name"] == "CookTok" and answer["classes"][0]["present"] is True
    assert out["finish_reason"] == "stop" and out["output_tokens"] > 0
    assert out["stream_finish"] == "stop"
    assert out["stream_text"].startswith('The video "kitchen_dance_party.mp4"')
    assert out["videos"] == sorted((v["_id"] for v in index["videos"]), reverse=True)  # pager walked 3 pages
    assert out["duration"] == video["duration"]
    assert out["transcription"] == [s["text"] for s in video["content"]["conversation"]]
    assert out["error_status"] == 404
    endpoints = [r["endpoint"] for r in sb.requests()]
    assert endpoints.count("v1.3.analyze") == 3 and endpoints.count("v1.3.videos") >= 3
    assert "v1.3.video" in endpoints
    assert "tlk_sdk13_key" not in json.dumps(sb.requests())
