"""``classify-shim compare``: legacy vs pegasus on one request, as a subprocess against the sandbox."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from toolkit_support import CLASSES, World, as_json, cli_env, run_cli

CLASSES_JSON = json.dumps(CLASSES)
SEE_ALL = json.dumps({"min_video_score": 1, "min_duration_ratio": 0.01})


def compare(world: World, tmp_path: Path, *extra: str) -> Any:
    proc = run_cli(
        ["compare", "--classes", CLASSES_JSON, "--video-ids", ",".join(world.video_ids), *extra],
        cli_env(world, tmp_path),
    )
    return proc


def classify_pairs(
    world: World, tmp_path: Path, backend: str, threshold: str
) -> Dict[Tuple[str, str], float]:
    """What ``classify`` lists on one backend: the independent side of the check."""
    proc = run_cli(
        [
            "classify",
            "--classes",
            CLASSES_JSON,
            "--video-ids",
            ",".join(world.video_ids),
            "--backend",
            backend,
            "--all-pages",
            "--json",
            "--threshold",
            threshold,
        ],
        cli_env(world, tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    return {(v["video_id"], c["name"]): c["score"] for v in as_json(proc)["data"] for c in v["classes"]}


def test_help(tmp_path: Path) -> None:
    proc = run_cli(["compare", "--help"], cli_env(None, tmp_path))
    assert proc.returncode == 0
    for flag in ("--check", "--json", "--score-tolerance", "--min-iou", "--mismatches-only"):
        assert flag in proc.stdout


def test_report_covers_every_pair_and_agrees_with_classify(toolkit_live: World, tmp_path: Path) -> None:
    proc = compare(toolkit_live, tmp_path, "--json")
    assert proc.returncode == 0, proc.stderr
    doc = as_json(proc)
    report = doc["report"]
    assert report["pairs"] == len(toolkit_live.video_ids) * len(CLASSES)
    assert report["videos"] == toolkit_live.video_ids
    assert report["classes"] == [c["name"] for c in CLASSES]
    legacy = classify_pairs(toolkit_live, tmp_path, "legacy", "75")
    pegasus = classify_pairs(toolkit_live, tmp_path, "pegasus", "75")
    assert legacy and pegasus
    for pair in report["comparisons"]:
        key = (pair["video_id"], pair["class"])
        assert pair["legacy_pass"] == (key in legacy)
        assert pair["pegasus_pass"] == (key in pegasus)
        if key in legacy and key in pegasus:
            assert pair["score_delta"] == pytest.approx(pegasus[key] - legacy[key])
            assert pair["clip_iou"] is not None and 0 <= pair["clip_iou"] <= 1
    disagreements = sum(1 for p in report["comparisons"] if p["legacy_pass"] != p["pegasus_pass"])
    assert doc["disagreements"] == disagreements
    assert doc["legacy"]["backend"] == "legacy" and doc["pegasus"]["backend"] == "pegasus"


def _split_pair(toolkit_live: World, tmp_path: Path) -> Tuple[Dict[str, Any], float]:
    """A pair both backends list with different scores, and a cut-off between the two."""
    doc = as_json(compare(toolkit_live, tmp_path, "--json", "--threshold", SEE_ALL))
    candidates: List[Dict[str, Any]] = [
        p
        for p in doc["report"]["comparisons"]
        if p["legacy_score"] is not None
        and p["pegasus_score"] is not None
        and abs(p["pegasus_score"] - p["legacy_score"]) >= 0.1
        and min(p["legacy_score"], p["pegasus_score"]) >= 1
    ]
    assert candidates, "the sandbox gave identical scores on both backends: no disagreement can be built"
    pair = candidates[0]
    return pair, round((pair["legacy_score"] + pair["pegasus_score"]) / 2, 3)


def test_check_fails_on_a_pass_fail_disagreement(toolkit_live: World, tmp_path: Path) -> None:
    pair, cutoff = _split_pair(toolkit_live, tmp_path)
    threshold = json.dumps({"min_video_score": cutoff, "min_duration_ratio": 0.01})
    checked = compare(toolkit_live, tmp_path, "--check", "--json", "--threshold", threshold)
    assert checked.returncode == 1, checked.stderr
    found = [
        p
        for p in as_json(checked)["report"]["comparisons"]
        if (p["video_id"], p["class"]) == (pair["video_id"], pair["class"])
    ]
    assert found and "pass_fail" in found[0]["reasons"]
    assert found[0]["legacy_pass"] == (pair["legacy_score"] >= cutoff)
    assert found[0]["pegasus_pass"] == (pair["pegasus_score"] >= cutoff)
    text = compare(toolkit_live, tmp_path, "--check", "--mismatches-only", "--threshold", threshold)
    assert text.returncode == 1
    rows = [line for line in text.stdout.splitlines() if line.startswith(tuple(toolkit_live.video_ids))]
    assert rows and all("MISMATCH" in row for row in rows)
    assert any(pair["video_id"] in row and "pass_fail" in row for row in rows)


def test_check_ignores_score_drift_without_disagreement(toolkit_live: World, tmp_path: Path) -> None:
    """--check is about pass/fail; a zero score tolerance makes drift visible but not fatal."""
    doc = as_json(compare(toolkit_live, tmp_path, "--json", "--threshold", SEE_ALL))
    if doc["disagreements"]:
        pytest.fail("expected no pass/fail disagreement with every class visible on both sides")
    strict = compare(
        toolkit_live, tmp_path, "--check", "--json", "--threshold", SEE_ALL, "--score-tolerance", "0"
    )
    assert strict.returncode == 0, strict.stderr
    reasons = {r for p in as_json(strict)["report"]["comparisons"] for r in p["reasons"]}
    assert reasons == {"score"} or (
        reasons == set()
        and all(p["score_delta"] in (None, 0) for p in as_json(strict)["report"]["comparisons"])
    )


def test_table_output(toolkit_live: World, tmp_path: Path) -> None:
    proc = compare(toolkit_live, tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == [
        "video_id",
        "class",
        "legacy",
        "pegasus",
        "d_score",
        "d_ratio",
        "clip_iou",
        "verdict",
    ]
    assert (
        f"{len(toolkit_live.video_ids) * len(CLASSES)} pair(s) over {len(toolkit_live.video_ids)} video(s)"
        in proc.stdout
    )
    assert "tolerances: score 15" in proc.stdout


def test_index_request(toolkit_live: World, tmp_path: Path) -> None:
    proc = run_cli(
        ["compare", "--classes", CLASSES_JSON, "--index-id", toolkit_live.index_id, "--json"],
        cli_env(toolkit_live, tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    report = as_json(proc)["report"]
    assert report["pairs"] >= 1
    assert set(report["videos"]) <= set(toolkit_live.video_ids)


def test_retired_legacy_is_an_error(toolkit_retired: World, tmp_path: Path) -> None:
    proc = compare(toolkit_retired, tmp_path, "--check")
    assert proc.returncode == 3
    assert "classify-shim compare:" in proc.stderr and "Traceback" not in proc.stderr


def test_usage_errors(toolkit_live: World, tmp_path: Path) -> None:
    assert compare(toolkit_live, tmp_path, "--min-iou", "2").returncode == 2
    bad = run_cli(["compare", "--classes", "[]", "--video-ids", "x"], cli_env(toolkit_live, tmp_path))
    assert bad.returncode == 2
