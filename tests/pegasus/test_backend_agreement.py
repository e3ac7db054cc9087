"""The whole Pegasus client path against an independent, label-driven oracle.

Lab worlds carry ground-truth intervals per (video, class, source); the truth is what a correct
v1.2 would decide from them. The lab's simulator answers from those labels (not from the
sandbox's matcher), the sandbox serves the answers as scripted model replies, and the client
classifies over HTTP. The sandbox's v1.2 emulation is not the oracle here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from classify_shim._stats import cohen_kappa
from classify_shim.lab import SimConfig, make_world, passes, run_backend, simulate_answers, truth_passes

ROOT = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("quiet")


def _kappa(config: SimConfig, seed: int, mvs: float = 75.0, mdr: float = 0.5) -> float:
    world = make_world(seed, 24)
    result = run_backend(world, simulate_answers(world, config), "pegasus")
    truth: List[bool] = []
    ours: List[bool] = []
    for video in world.videos:
        for cls in world.classes:
            truth.append(truth_passes(video, cls["name"], cls["options"], mvs, mdr))
            ours.append(passes(result.get((video.video_id, cls["name"])), mvs, mdr))
    assert 0 < sum(truth) < len(truth) / 3
    return cohen_kappa(ours, truth)


def test_ideal_detection_over_http_agrees_with_the_truth() -> None:
    assert _kappa(SimConfig.ideal(), 7) >= 0.9
    assert _kappa(SimConfig.ideal(), 8, 60.0, 0.25) >= 0.9


def test_realistic_detection_beats_the_null_baseline_by_far() -> None:
    # The null baseline (pass nothing) has kappa 0; realistic detection must stay well above it,
    # and below ideal detection (the measurement can tell them apart).
    realistic = _kappa(SimConfig(), 9)
    assert 0.5 <= realistic < 1.0


def test_lab_quick_run_prints_the_tables(tmp_path: Path) -> None:
    out = tmp_path / "fidelity.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "fidelity.py"), "--quick", "--videos", "12", "--json", str(out)],
        capture_output=True, text=True, timeout=240, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    for title in ("Decisions, ideal detection", "Decisions, realistic detection", "null κ",
                  "Sweep of target_miou", "Per class"):
        assert title in proc.stdout
    doc = json.loads(out.read_text())
    row = doc["configs"]["ideal"]["thresholds"]["default 75/0.5"]
    assert row["null_kappa"] == 0.0 and row["kappa"] > row["null_kappa"]


def test_boundary_sigma_is_the_bisection_over_the_drawn_spans() -> None:
    # boundary_sigma takes the draws of _spans_iou once and redoes only the arithmetic that
    # depends on k: its answer must be the plain bisection over _spans_iou, to the last bit,
    # and the spans drawn with it must have about the asked mean IoU.
    from classify_shim.lab import boundary_sigma
    from classify_shim.lab._simulator import _spans_iou

    world = make_world(3, 8)
    spans = [(lab.start, lab.end, v.duration) for v in world.videos for lab in v.labels]
    sample = spans * max(1, 600 // len(spans))
    for target, wild in ((0.5, 0.05), (0.8, 0.0), (0.3, 0.3)):
        lo, hi = 0.0, 20.0
        for _ in range(30):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if _spans_iou(sample, mid, wild) > target else (lo, mid)
        k = boundary_sigma(target, spans, wild)
        assert k == (lo + hi) / 2
        assert boundary_sigma(target, tuple(spans), wild) == k  # memoised on the values
        assert abs(_spans_iou(sample, k, wild) - target) < 0.01
    assert boundary_sigma(1.0, spans, 0.05) == 0.0 and boundary_sigma(0.5, [], 0.05) == 0.0
