"""``classify-shim classify``, run as a subprocess against the sandbox."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Dict, List

import pytest
from toolkit_support import CLASSES, CLI_KEY, World, as_json, cli_env, run_cli

CLASSES_JSON = json.dumps(CLASSES)


def library_result(world: World, backend: str, ids: List[str], **kwargs: Any) -> List[Dict[str, Any]]:
    """The same request through the library, every page, for cross-checking the command."""
    from classify_shim import TwelveLabs

    client = TwelveLabs(api_key=CLI_KEY, base_url=world.base_url, classify_backend=backend, cache=False)  # type: ignore[arg-type]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = client.classify.videos(ids, ["visual", "conversation"], CLASSES, **kwargs)
            videos = [v.model_dump(mode="json", exclude_none=True) for v in result.data]
            for data in result:
                videos.extend(v.model_dump(mode="json", exclude_none=True) for v in data)
        return videos
    finally:
        client.close()


def test_help(tmp_path: Path) -> None:
    proc = run_cli(["classify", "--help"], cli_env(None, tmp_path))
    assert proc.returncode == 0
    for flag in (
        "--classes",
        "--video-ids",
        "--index-id",
        "--backend",
        "--all-pages",
        "--threshold",
        "--json",
    ):
        assert flag in proc.stdout


@pytest.mark.parametrize("backend", ["legacy", "pegasus"])
def test_json_matches_the_library(toolkit_live: World, tmp_path: Path, backend: str) -> None:
    ids = ",".join(toolkit_live.video_ids)
    proc = run_cli(
        [
            "classify",
            "--classes",
            CLASSES_JSON,
            "--video-ids",
            ids,
            "--backend",
            backend,
            "--include-clips",
            "--all-pages",
            "--page-limit",
            "3",
            "--json",
        ],
        cli_env(toolkit_live, tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    doc = as_json(proc)
    assert doc["backend"] == backend
    assert doc["errors"] == []
    expected = library_result(toolkit_live, backend, toolkit_live.video_ids, include_clips=True, page_limit=3)
    assert doc["data"] == expected
    assert doc["pages"] == -(-len(expected) // 3)
    assert doc["page_info"]["total_results"] == len(expected)
    assert all("clips" in c for v in doc["data"] for c in v["classes"])
    assert "ClassifyDeprecationWarning" not in proc.stderr and "UnsupportedWarning" not in proc.stderr


def test_first_page_only_without_all_pages(toolkit_live: World, tmp_path: Path) -> None:
    env = cli_env(toolkit_live, tmp_path)
    args = [
        "classify",
        "--classes",
        CLASSES_JSON,
        "--video-ids",
        ",".join(toolkit_live.video_ids),
        "--backend",
        "legacy",
        "--page-limit",
        "1",
    ]
    doc = as_json(run_cli([*args, "--json"], env))
    assert doc["pages"] == 1 and len(doc["data"]) == 1
    assert doc["page_info"]["total_results"] > 1
    assert doc["page_info"]["next_page_token"]
    text = run_cli(args, env)
    assert text.returncode == 0
    assert "more results: --all-pages" in text.stdout


def test_table_output(toolkit_live: World, tmp_path: Path) -> None:
    proc = run_cli(
        [
            "classify",
            "--classes",
            CLASSES_JSON,
            "--video-ids",
            ",".join(toolkit_live.video_ids[:6]),
            "--backend",
            "pegasus",
            "--include-clips",
            "--detailed",
        ],
        cli_env(toolkit_live, tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == [
        "video_id",
        "class",
        "score",
        "duration_ratio",
        "clips",
        "max_score",
        "avg_score",
        "normalized",
    ]
    rows = [line.split() for line in lines[1:] if line.strip() and line.split()[0] in toolkit_live.video_ids]
    assert rows and all(len(row) == 8 for row in rows)
    assert {row[1] for row in rows} <= {"DanceTok", "CookTok"}
    assert "served by pegasus" in proc.stdout


def test_index_request(toolkit_live: World, tmp_path: Path) -> None:
    proc = run_cli(
        [
            "classify",
            "--classes",
            CLASSES_JSON,
            "--index-id",
            toolkit_live.index_id,
            "--backend",
            "legacy",
            "--all-pages",
            "--json",
            "--threshold",
            "80",
        ],
        cli_env(toolkit_live, tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    doc = as_json(proc)
    assert doc["data"]
    assert {v["video_id"] for v in doc["data"]} <= set(toolkit_live.video_ids)
    assert all(c["score"] >= 80 for v in doc["data"] for c in v["classes"])


def test_classes_from_file_object_and_stdin(toolkit_live: World, tmp_path: Path) -> None:
    env = cli_env(toolkit_live, tmp_path)
    path = tmp_path / "classes.json"
    path.write_text(json.dumps({"classes": CLASSES}), encoding="utf-8")
    base = ["classify", "--video-ids", ",".join(toolkit_live.video_ids[:4]), "--backend", "legacy", "--json"]
    from_file = as_json(run_cli([*base, "--classes", str(path)], env))
    from_stdin = as_json(run_cli([*base, "--classes", "-"], env, stdin=CLASSES_JSON))
    inline = as_json(run_cli([*base, "--classes", CLASSES_JSON], env))
    assert from_file["data"] == from_stdin["data"] == inline["data"]
    assert from_file["data"]


def test_progress_bar(toolkit_live: World, tmp_path: Path) -> None:
    env = cli_env(toolkit_live, tmp_path)
    base = ["classify", "--classes", CLASSES_JSON, "--backend", "pegasus", "--json"]
    many = run_cli([*base, "--video-ids", ",".join(toolkit_live.video_ids), "--progress"], env)
    assert many.returncode == 0, many.stderr
    total = len(toolkit_live.video_ids)
    assert f"{total}/{total} videos" in many.stderr
    assert "1/" in many.stderr
    json.loads(many.stdout)  # the bar never goes to stdout
    quiet = run_cli([*base, "--video-ids", ",".join(toolkit_live.video_ids), "--no-progress"], env)
    assert "videos (" not in quiet.stderr
    single = run_cli([*base, "--video-ids", toolkit_live.video_ids[0], "--progress"], env)
    assert "videos (" not in single.stderr
    piped = run_cli([*base, "--video-ids", ",".join(toolkit_live.video_ids)], env)  # not a terminal: no bar
    assert "videos (" not in piped.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--classes", '[{"name": "A", '], "not valid JSON"),
        (["--classes", "/no/such/classes.json"], "no such file"),
        (["--classes", "[]"], "non-empty JSON list"),
        (["--classes", '[{"name": "A", "prompts": []}]'], "invalid request"),
        (["--classes", CLASSES_JSON, "--threshold", '{"min_video_score": 500}'], "invalid request"),
        (["--classes", CLASSES_JSON, "--threshold", '"high"'], "--threshold"),
        (["--classes", CLASSES_JSON, "--options", "smell"], "invalid request"),
        (["--classes", CLASSES_JSON, "--page-limit", "99"], "page_limit"),
    ],
)
def test_usage_errors_exit_2(toolkit_live: World, tmp_path: Path, args: List[str], message: str) -> None:
    proc = run_cli(
        ["classify", "--video-ids", toolkit_live.video_ids[0], "--backend", "legacy", *args],
        cli_env(toolkit_live, tmp_path),
    )
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_argparse_errors_exit_2(toolkit_live: World, tmp_path: Path) -> None:
    env = cli_env(toolkit_live, tmp_path)
    both = run_cli(["classify", "--classes", CLASSES_JSON, "--video-ids", "a", "--index-id", "b"], env)
    neither = run_cli(["classify", "--classes", CLASSES_JSON], env)
    assert both.returncode == 2 and neither.returncode == 2


def test_api_errors_exit_3(toolkit_live: World, tmp_path: Path) -> None:
    unknown = run_cli(
        [
            "classify",
            "--classes",
            CLASSES_JSON,
            "--video-ids",
            "000000000000000000000000",
            "--backend",
            "legacy",
        ],
        cli_env(toolkit_live, tmp_path),
    )
    assert unknown.returncode == 3, unknown.stderr
    assert "BadRequestError" in unknown.stderr or "NotFoundError" in unknown.stderr
    no_key = run_cli(
        ["classify", "--classes", CLASSES_JSON, "--video-ids", toolkit_live.video_ids[0]],
        cli_env(toolkit_live, tmp_path, TWELVELABS_API_KEY=None),
    )
    assert no_key.returncode == 3
    assert "TWELVELABS_API_KEY" in no_key.stderr
    assert "Traceback" not in unknown.stderr + no_key.stderr


def test_auto_switch_is_reported_on_stderr(toolkit_retired: World, tmp_path: Path) -> None:
    proc = run_cli(
        [
            "classify",
            "--classes",
            CLASSES_JSON,
            "--video-ids",
            ",".join(toolkit_retired.video_ids[:3]),
            "--json",
        ],
        cli_env(toolkit_retired, tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    assert as_json(proc)["backend"] == "pegasus"
    assert "warning: BackendSwitchWarning" in proc.stderr
