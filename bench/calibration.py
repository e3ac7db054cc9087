"""Calibration from saved results: held-out kappa before/after ``classify-shim calibrate``.

Two kinds of saved results, each re-run on the sandbox's Pegasus (answers from the fidelity lab's
label-driven simulator, realistic knobs) through ``classify-shim calibrate --yes``:

* emulation saves: the sandbox's v1.2 emulation classified a lab world at a user's thresholds
  (80/0.5 as in the recordings, and a strict 95/0.5); 60 videos x 8 classes per world;
* the recorded traffic (``shared/reference/v12-recorded``): 8 real v1.2 answers over 30 videos,
  on a world built for those ids from the recorded decisions (``classify_shim.lab.saved_world``).

Figures are 5-fold cross-validated over videos, with 90 % cluster-bootstrap intervals. This
measures the calibration machinery under a modelled Pegasus, not Pegasus itself.

    python bench/calibration.py        # about a minute on 2 cores

The recorded traffic is looked up in the folder named by ``CLASSIFY_SHIM_SHARED``, else in a
``shared/`` folder beside the checkout or above it (as the tests do); without it those rows are
left out and the table says so.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional

from _common import REPO_ROOT, parser, print_table, write_results

from classify_shim import TwelveLabs
from classify_shim._saved import load_saved
from classify_shim.cli import main
from classify_shim.lab import SimConfig, make_world, saved_world, simulate_answers
from classify_shim.sandbox import Sandbox

KEY = "tlk_calibration_bench_00000000000"
SOURCES = ["visual", "conversation", "text_in_video"]


SHARED_ENV = "CLASSIFY_SHIM_SHARED"
RECORDED = Path("reference") / "v12-recorded"


def _recorded() -> Optional[Path]:
    override = os.environ.get(SHARED_ENV, "").strip()
    if override:
        candidate = Path(override).expanduser() / RECORDED
        return candidate if candidate.is_dir() else None
    for parent in REPO_ROOT.parents:
        candidate = parent / "shared" / "reference" / "v12-recorded"
        if candidate.is_dir():
            return candidate
    return None


def _calibrate(base_url: str, saved: List[str], tmp: Path) -> Dict[str, Any]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["calibrate", "--saved", *saved, "--out", str(tmp / "profile.json"), "--yes", "--json",
                     "--base-url", base_url])
    text = out.getvalue()
    doc = json.loads(text[text.index("{"):])
    cv = doc["cross_validation"]
    return {"exit": code, "written": code == 0, "videos": cv["videos"], "pairs": cv["pairs"],
            "passes": doc["passes"], "before": cv["kappa_before"], "after": cv["kappa_after"],
            "gain": cv["gain"], "gain_interval": cv["interval_gain"],
            "before_interval": cv["interval_before"], "after_interval": cv["interval_after"],
            "changed": cv["changed_decisions"]}


def emulation_case(seed: int, mvs: float, tmp: Path) -> Dict[str, Any]:
    world = make_world(seed, 60)
    scripted = {k: v * 3 for k, v in simulate_answers(world, SimConfig()).items()}
    threshold = {"min_video_score": mvs, "min_duration_ratio": 0.5}
    with Sandbox(world.to_sandbox_world(scripted)) as sb:
        ids = [v.video_id for v in world.videos]
        with TwelveLabs(api_key=KEY, base_url=sb.base_url, classify_backend="legacy", cache=False) as client:
            res = client.classify.videos(ids, SOURCES, world.classes, threshold=threshold, page_limit=50)
        body = {"data": [v.model_dump(mode="json", exclude_none=True) for v in res.data],
                "page_info": res.page_info.model_dump(mode="json")}
        path = tmp / f"emulation_{seed}_{mvs:g}.json"
        path.write_text(json.dumps({"request": {"video_ids": ids, "options": SOURCES, "classes": world.classes,
                                                "threshold": threshold}, "response": body}), encoding="utf-8")
        return _calibrate(sb.base_url, [str(path)], tmp)


def recorded_case(folder: Path, seed: int, tmp: Path) -> Dict[str, Any]:
    world = saved_world(load_saved([folder]), seed)
    scripted = {k: v * 4 for k, v in simulate_answers(world, SimConfig()).items()}
    with Sandbox(world.to_sandbox_world(scripted)) as sb:
        return _calibrate(sb.base_url, [str(folder)], tmp)


def _ci(v: List[Optional[float]]) -> str:
    return "[" + ", ".join("n/a" if x is None else f"{x:+.3f}" for x in v) + "]"


def main_bench(argv: Optional[List[str]] = None) -> int:
    parser((__doc__ or "").strip().splitlines()[0]).parse_args(argv)
    warnings.simplefilter("ignore")
    os.environ["TWELVELABS_API_KEY"] = KEY
    os.environ["TWELVELABS_CLASSIFY_CACHE"] = "off"
    os.environ.pop("TWELVELABS_CLASSIFY_CALIBRATION", None)
    rows: List[List[Any]] = []
    results: Dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for mvs in (80.0, 95.0):
            for seed in (1, 2, 3):
                r = emulation_case(seed, mvs, tmp)
                results[f"emulation mvs={mvs:g} seed={seed}"] = r
                rows.append([f"emulation, {mvs:g}/0.5, world {seed}", r["pairs"], r["passes"], f"{r['before']:.3f}",
                             f"{r['after']:.3f}", f"{r['gain']:+.3f} {_ci(r['gain_interval'])}", r["changed"],
                             "written" if r["written"] else "refused"])
        folder = _recorded()
        if folder is not None:
            for seed in range(5):
                r = recorded_case(folder, seed, tmp)
                results[f"recorded seed={seed}"] = r
                rows.append([f"recorded traffic, 80/0.5, world {seed}", r["pairs"], r["passes"], f"{r['before']:.3f}",
                             f"{r['after']:.3f}", f"{r['gain']:+.3f} {_ci(r['gain_interval'])}", r["changed"],
                             "written" if r["written"] else "refused"])
    print_table(["saved results", "pairs", "passes", "κ before", "κ after", "gain [90 % interval]",
                 "decisions changed", "profile"], rows)
    if folder is None:
        print(f"recorded traffic rows left out: {RECORDED} not found (set {SHARED_ENV} to the folder that "
              "holds reference/, or place it beside the checkout as 'shared/')")
    write_results("calibration", results)
    return 0


if __name__ == "__main__":
    sys.exit(main_bench())
