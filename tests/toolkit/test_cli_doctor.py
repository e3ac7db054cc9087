"""``classify-shim doctor``: SDK, backend and why, warnings, cache, reachability."""

from __future__ import annotations

import json
import socket
from importlib import metadata
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import pytest
from toolkit_support import CLASSES, CLI_KEY, World, as_json, cli_env, run_cli

from classify_shim.cli._doctor import sdk_status


def doctor(env: Dict[str, str], *args: str) -> Tuple[int, Dict[str, Any]]:
    proc = run_cli(["doctor", "--json", *args], env, timeout=60)
    assert CLI_KEY not in proc.stdout + proc.stderr, "the API key must never be printed"
    return proc.returncode, as_json(proc)


def test_help(tmp_path: Path) -> None:
    proc = run_cli(["doctor", "--help"], cli_env(None, tmp_path))
    assert proc.returncode == 0
    assert "--json" in proc.stdout and "--no-network" in proc.stdout


def test_everything_reported(toolkit_live: World, tmp_path: Path) -> None:
    code, report = doctor(cli_env(toolkit_live, tmp_path))
    assert code == 0, report["problems"]
    installed: Optional[str]
    try:
        installed = metadata.version("twelvelabs")
    except metadata.PackageNotFoundError:
        installed = None
    assert report["sdk"]["version"] == installed
    assert report["api_key"] == {"set": True, "source": "env"}
    assert report["backend"]["value"] == "auto" and report["backend"]["source"] == "default"
    assert report["backend"]["decision"] is None
    assert report["warnings"]["mode"] == "default"
    assert report["cache"]["enabled"] is True
    assert report["cache"]["path"] == str(tmp_path / "cache.sqlite3")
    assert report["base_url"]["host"] == toolkit_live.base_url
    reach = report["base_url"]["reachability"]
    assert reach["reachable"] is True and reach["status"] == 200 and reach["api_key"] == "accepted"
    assert report["environment"]["TWELVELABS_API_KEY"] == "<set>"
    assert report["problems"] == []


def test_backend_sources(toolkit_live: World, tmp_path: Path) -> None:
    _, report = doctor(cli_env(toolkit_live, tmp_path), "--no-network", "--backend", "pegasus")
    assert (report["backend"]["value"], report["backend"]["source"]) == ("pegasus", "argument")
    _, report = doctor(cli_env(toolkit_live, tmp_path, TWELVELABS_CLASSIFY_BACKEND="Shadow"), "--no-network")
    assert (report["backend"]["value"], report["backend"]["source"]) == ("shadow", "env")
    code, report = doctor(
        cli_env(toolkit_live, tmp_path, TWELVELABS_CLASSIFY_BACKEND="bogus"), "--no-network"
    )
    assert code == 1
    assert report["backend"]["value"] is None
    assert any("TWELVELABS_CLASSIFY_BACKEND" in p for p in report["problems"])


def test_invalid_and_missing_settings_are_problems(toolkit_live: World, tmp_path: Path) -> None:
    code, report = doctor(
        cli_env(
            toolkit_live,
            tmp_path,
            TWELVELABS_CLASSIFY_WARNINGS="loud",
            TWELVELABS_CLASSIFY_CONCURRENCY="zero",
        ),
        "--no-network",
    )
    assert code == 1
    text = " ".join(report["problems"])
    assert "TWELVELABS_CLASSIFY_WARNINGS" in text and "TWELVELABS_CLASSIFY_CONCURRENCY" in text
    code, report = doctor(cli_env(toolkit_live, tmp_path, TWELVELABS_API_KEY=None))
    assert code == 1
    assert report["api_key"]["set"] is False
    assert report["base_url"]["reachability"]["reachable"] is True  # still checked, without the key


def test_unreachable_host_is_reported_not_fatal(tmp_path: Path) -> None:
    with socket.socket() as sock:  # bound, never listening: refused, and no other process can take it
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        env = cli_env(None, tmp_path, TWELVELABS_BASE_URL=f"http://127.0.0.1:{port}")
        code, report = doctor(env, "--timeout", "1")
    assert code == 0
    reach = report["base_url"]["reachability"]
    assert reach["reachable"] is False and reach["error"]


def test_cache_off_and_size(toolkit_live: World, tmp_path: Path) -> None:
    _, report = doctor(cli_env(toolkit_live, tmp_path, TWELVELABS_CLASSIFY_CACHE="off"), "--no-network")
    assert report["cache"]["enabled"] is False
    env = cli_env(toolkit_live, tmp_path)
    _, before = doctor(env, "--no-network")
    assert before["cache"]["exists"] is False
    run = run_cli(
        [
            "classify",
            "--classes",
            json.dumps(CLASSES),
            "--video-ids",
            ",".join(toolkit_live.video_ids[:2]),
            "--backend",
            "pegasus",
            "--json",
        ],
        env,
    )
    assert run.returncode == 0, run.stderr
    _, after = doctor(env, "--no-network")
    assert after["cache"]["exists"] is True and after["cache"]["size_bytes"] > 0


def test_remembered_auto_decision(toolkit_retired: World, tmp_path: Path) -> None:
    env = cli_env(toolkit_retired, tmp_path)
    _, before = doctor(env, "--no-network")
    assert before["backend"]["decision"] is None
    run = run_cli(
        ["classify", "--classes", json.dumps(CLASSES), "--video-ids", toolkit_retired.video_ids[0], "--json"],
        env,
    )
    assert run.returncode == 0, run.stderr
    _, after = doctor(env, "--no-network")
    assert after["backend"]["value"] == "auto"
    assert after["backend"]["decision"] == "pegasus"
    assert "retired" in after["backend"]["why"]


def test_text_output(toolkit_live: World, tmp_path: Path) -> None:
    proc = run_cli(["doctor", "--no-network"], cli_env(toolkit_live, tmp_path), timeout=60)
    assert proc.returncode == 0
    labels = [line.split("  ")[0].strip() for line in proc.stdout.splitlines()]
    for label in (
        "classify-shim",
        "twelvelabs SDK",
        "API key",
        "backend",
        "warnings",
        "cache",
        "pegasus",
        "base URL",
        "environment",
        "problems",
    ):
        assert label in labels, proc.stdout
    assert CLI_KEY not in proc.stdout


@pytest.mark.parametrize(
    ("version", "has_classify", "api"),
    [
        ("0.1.20", False, "v1.1/v1.2"),
        ("0.1.25", True, "v1.2"),
        ("0.2.10", True, "v1.2"),
        ("0.3.2", True, "v1.2"),
        ("0.4.0", False, "v1.3"),
        ("0.4.11", False, "v1.3"),
        ("1.0.0a0", False, "v1.3"),
        ("1.3.6", False, "v1.3"),
        ("not-a-version", None, None),
    ],
)
def test_sdk_status(version: str, has_classify: Optional[bool], api: Optional[str]) -> None:
    status = sdk_status(version)
    assert status["installed"] is True
    assert status["has_classify"] is has_classify
    assert status["api"] == api
    if version.startswith("1."):
        assert "attach" in status["meaning"]
    if has_classify:
        assert "classify_shim" in status["meaning"]


def test_cli_lists_the_toolkit_commands(tmp_path: Path) -> None:
    proc = run_cli(["--help"], cli_env(None, tmp_path))
    assert proc.returncode == 0
    for command in ("scan", "doctor", "classify", "compare"):
        assert command in proc.stdout


def test_calibration_profile_key(tmp_path: Path) -> None:
    """The profile TWELVELABS_CLASSIFY_CALIBRATION names: its key, samples and saved thresholds."""
    profile = {
        "format": "classify-shim-calibration", "version": 1,
        "key": {"model": "pegasus1.5", "prompt_template": "pegasus-classify-v0", "classes": ["Dance", "Cooking"]},
        "classes": {"Dance": {"score": [[0, 0], [100, 90]], "pooled": False},
                    "Cooking": {"score": [], "pooled": True}},
        "pooled": {"score": []},
        "fitted": {"samples": 3, "saved_thresholds": {"min_video_score": 90, "min_duration_ratio": 0.5}},
    }
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(profile), encoding="utf-8")
    env = cli_env(None, tmp_path, TWELVELABS_CLASSIFY_CALIBRATION=str(path))
    code, report = doctor(env, "--no-network")
    cal = report["calibration"]
    assert cal["key"] == {"model": "pegasus1.5", "prompt_template": "pegasus-classify-v0",
                          "classes": ["Dance", "Cooking"]}
    assert cal["samples"] == 3 and cal["classes_own_map"] == 1
    assert cal["saved_thresholds"] == {"min_video_score": 90, "min_duration_ratio": 0.5}
    assert cal["current_template"] != "pegasus-classify-v0"
    proc = run_cli(["doctor", "--no-network"], env, timeout=60)
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("calibration"))
    assert "model pegasus1.5, template pegasus-classify-v0 (this version asks with" in line
    assert "2 class(es) (Dance, Cooking), samples=3, saved at 90 / 0.5" in line
    (tmp_path / "bad.json").write_text("{}", encoding="utf-8")
    code, report = doctor(cli_env(None, tmp_path, TWELVELABS_CLASSIFY_CALIBRATION=str(tmp_path / "bad.json")),
                          "--no-network")
    assert code == 1 and any("not a calibration profile" in p for p in report["problems"])
    _, report = doctor(cli_env(None, tmp_path), "--no-network")
    assert report["calibration"] == {"enabled": False, "source": "default"}
