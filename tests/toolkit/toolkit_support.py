"""Helpers for the toolkit tests (CLI and scan): run ``classify-shim`` against a sandbox.

The CLI runs as a subprocess (``python -m classify_shim.cli``), as a user runs it, with an
environment built from scratch: no ``TWELVELABS_*`` variable of the developer leaks in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

CLI_KEY = "tlk_toolkit_test_key_5b1e9c"
CLASSES = [
    {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group"]},
    {"name": "CookTok", "prompts": ["Cooking tutorial"]},
]


@dataclass
class World:
    base_url: str
    index_id: str
    video_ids: List[str]


def world_of(base_url: str) -> World:
    with urllib.request.urlopen(f"{base_url}/_sandbox/world", timeout=10) as response:
        world = json.load(response)
    first = world["indexes"][0]
    return World(base_url, first["_id"], [v["_id"] for v in first["videos"]])


def cli_env(world: Optional[World], tmp_path: Path, **extra: Optional[str]) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWELVELABS_") and k != "PYTHONWARNINGS"}
    env["PYTHONIOENCODING"] = "utf-8"
    if world is not None:
        env["TWELVELABS_BASE_URL"] = world.base_url
    env["TWELVELABS_API_KEY"] = CLI_KEY
    env["TWELVELABS_CLASSIFY_CACHE"] = str(tmp_path / "cache.sqlite3")
    for name, value in extra.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run_cli(
    args: List[str], env: Dict[str, str], *, stdin: Optional[str] = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "classify_shim.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
    )


def as_json(proc: subprocess.CompletedProcess[str]) -> Any:
    assert proc.stdout.strip(), f"no output; stderr:\n{proc.stderr}"
    return json.loads(proc.stdout)
