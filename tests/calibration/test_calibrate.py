"""``classify-shim calibrate`` end to end on the sandbox, and the profile applied by the client.

The oracle of every decision is the sandbox's v1.2 emulation (or the recorded traffic), never
the fit or the mapping.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any, List, Tuple

import pytest

from classify_shim import CalibrationWarning, TwelveLabs
from classify_shim._calibration import load_profile
from classify_shim._saved import load_saved
from classify_shim._stats import cohen_kappa
from classify_shim.cli import main
from classify_shim.exceptions import TwelveLabsError
from classify_shim.lab import SimConfig, saved_world, simulate_answers
from shared_inputs import require

from .support import PERMISSIVE, SOURCES, STRICT, analyze_calls, emulation_saves, lab_setup

KAPPA = re.compile(r"kappa before (-?[\d.]+) \[.*?\], after (-?[\d.]+) \[.*?\], gain ([-+][\d.]+) \[(-?[\d.]+), (-?[\d.]+)\]")


def _figures(text: str) -> Tuple[float, float]:
    m = KAPPA.search(text)
    assert m, text
    return float(m.group(1)), float(m.group(2))


def test_without_yes_it_prints_the_cost_and_spends_nothing_and_cached_answers_cost_zero(
    classify_sandbox: Any, tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    world, sandbox_world = lab_setup(seed=1, n_videos=12)
    classify_sandbox.set_world(sandbox_world)
    saved = tmp_path / "saved.json"
    emulation_saves(classify_sandbox.base_url, world, [v.video_id for v in world.videos], saved)
    monkeypatch.setenv("TWELVELABS_CLASSIFY_CACHE", str(tmp_path / "cache.sqlite3"))
    out = tmp_path / "profile.json"
    assert main(["calibrate", "--saved", str(saved), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "12 /analyze call(s): 0 cached (cost 0), 12 to pay for" in text
    assert "nothing spent" in text and not out.exists()
    assert analyze_calls(classify_sandbox) == 0
    # Pay for four of them through the normal client: the estimate then counts them as free.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TwelveLabs(classify_backend="pegasus") as client:
            client.classify.videos([v.video_id for v in world.videos[:4]], SOURCES, world.classes, threshold=PERMISSIVE)
    paid = analyze_calls(classify_sandbox)
    assert paid == 4
    assert main(["calibrate", "--saved", str(saved), "--out", str(out)]) == 0
    assert "12 /analyze call(s): 4 cached (cost 0), 8 to pay for" in capsys.readouterr().out
    assert analyze_calls(classify_sandbox) == paid


@pytest.mark.parametrize("shape", ["wrapped", "bare"])
def test_emulation_saves_give_a_profile_that_beats_the_mapping_on_held_out_videos(
    classify_sandbox: Any, tmp_path: Path, capsys: Any, shape: str
) -> None:
    world, sandbox_world = lab_setup(seed=1, n_videos=60)
    classify_sandbox.set_world(sandbox_world)
    saved = tmp_path / "saved.json"
    emulation_saves(classify_sandbox.base_url, world, [v.video_id for v in world.videos], saved)
    args = ["calibrate", "--saved", str(saved), "--out", str(tmp_path / "profile.json"), "--yes"]
    if shape == "bare":  # the response body alone, as an app would have logged it
        record = json.loads(saved.read_text(encoding="utf-8"))
        saved.write_text(json.dumps(record["response"]) + "\n", encoding="utf-8")
        (tmp_path / "classes.json").write_text(json.dumps(world.classes), encoding="utf-8")
        args += ["--classes", str(tmp_path / "classes.json"), "--options", ",".join(SOURCES),
                 "--threshold", json.dumps(STRICT)]
    code = main(args)
    text = capsys.readouterr().out
    print(text)
    before, after = _figures(text)
    assert code == 0, text
    assert after > before  # held-out folds (5-fold over videos)
    profile = load_profile(tmp_path / "profile.json")
    fitted = profile.fitted["cross_validation"]
    assert fitted["kappa_after"] > fitted["kappa_before"] and fitted["changed_decisions"] > 0
    assert set(profile.class_names) == {c["name"] for c in world.classes}
    assert profile.model == "pegasus1.5" and profile.prompt_template


def test_the_profile_changes_decisions_on_videos_it_never_saw(
    classify_sandbox: Any, tmp_path: Path, capsys: Any
) -> None:
    world, sandbox_world = lab_setup(seed=1, n_videos=100)
    classify_sandbox.set_world(sandbox_world)
    ids = [v.video_id for v in world.videos]
    fit_ids, held_ids = ids[:60], ids[60:]
    saved = tmp_path / "saved.json"
    emulation_saves(classify_sandbox.base_url, world, fit_ids, saved)
    held = emulation_saves(classify_sandbox.base_url, world, held_ids, tmp_path / "held.json")
    out = tmp_path / "profile.json"
    assert main(["calibrate", "--saved", str(saved), "--out", str(out), "--yes"]) == 0, capsys.readouterr()

    def decisions(**kw: Any) -> List[bool]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with TwelveLabs(classify_backend="pegasus", **kw) as client:
                res = client.classify.videos(held_ids, SOURCES, world.classes, threshold=STRICT, page_limit=50)
                listed = {(v.video_id, c.name) for page in [res.data, *list(res)] for v in page for c in v.classes}
        return [pair in listed for pair in held]

    truth = list(held.values())
    plain, calibrated = decisions(), decisions(calibration=str(out))
    k_plain, k_cal = cohen_kappa(plain, truth), cohen_kappa(calibrated, truth)
    print(f"held-out videos: kappa vs the v1.2 emulation {k_plain:.3f} uncalibrated, {k_cal:.3f} calibrated; "
          f"{sum(a != b for a, b in zip(plain, calibrated))} of {len(truth)} decisions changed")
    assert plain != calibrated
    assert k_cal > k_plain


def test_recorded_traffic_calibrates_end_to_end_on_a_world_built_for_its_videos(
    classify_sandbox: Any, tmp_path: Path, capsys: Any
) -> None:
    folder = require("reference/v12-recorded")
    saved = load_saved([folder])
    world = saved_world(saved, seed=0)
    assert sorted(v.video_id for v in world.videos) == sorted(saved.video_ids)
    scripted = {k: v * 4 for k, v in simulate_answers(world, SimConfig()).items()}
    classify_sandbox.set_world(world.to_sandbox_world(scripted))
    out = tmp_path / "recorded.json"
    code = main(["calibrate", "--saved", str(folder), "--out", str(out), "--yes"])
    text = capsys.readouterr()
    print(text.out, text.err)
    before, after = _figures(text.out)
    assert "HTTP 429" in text.out  # the error recording is skipped, and said so
    # The refusal rule, whichever way the held-out figures fall.
    if after > before:
        assert code == 0 and out.exists()
        assert set(load_profile(out).class_names) == set(saved.class_names)
    else:
        assert code == 1 and not out.exists() and "does not beat" in text.err


def test_refuses_when_the_mapping_already_reproduces_the_saves(
    classify_sandbox: Any, tmp_path: Path, capsys: Any
) -> None:
    world, sandbox_world = lab_setup(seed=2, n_videos=30)
    classify_sandbox.set_world(sandbox_world)
    ids = [v.video_id for v in world.videos]
    with warnings.catch_warnings():  # "saved" results that are the Pegasus backend's own
        warnings.simplefilter("ignore")
        with TwelveLabs(classify_backend="pegasus") as client:
            res = client.classify.videos(ids, SOURCES, world.classes, threshold=STRICT, page_limit=50)
            body = {"data": [v.model_dump(mode="json", exclude_none=True) for v in res.data],
                    "page_info": {"next_page_token": "", "prev_page_token": ""}}
    saved = tmp_path / "own.json"
    saved.write_text(json.dumps({"request": {"video_ids": ids, "options": SOURCES, "classes": world.classes,
                                             "threshold": STRICT}, "response": body}), encoding="utf-8")
    out = tmp_path / "profile.json"
    code = main(["calibrate", "--saved", str(saved), "--out", str(out), "--yes"])
    captured = capsys.readouterr()
    assert code == 1, captured.out
    assert "does not beat the uncalibrated mapping on held-out data" in captured.err
    assert not out.exists()
    before, after = _figures(captured.out)
    assert before == 1.0 and after <= before


def test_profile_setting_env_and_mismatch_warning(
    classify_sandbox: Any, tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    world, sandbox_world = lab_setup(seed=1, n_videos=60)
    classify_sandbox.set_world(sandbox_world)
    ids = [v.video_id for v in world.videos]
    saved = tmp_path / "saved.json"
    emulation_saves(classify_sandbox.base_url, world, ids, saved)
    out = tmp_path / "profile.json"
    assert main(["calibrate", "--saved", str(saved), "--out", str(out), "--yes"]) == 0, capsys.readouterr()
    monkeypatch.setenv("TWELVELABS_CLASSIFY_CALIBRATION", str(out))
    other = [{"name": "Unseen class", "prompts": ["a dog"]}, *world.classes[:1]]
    with TwelveLabs(classify_backend="pegasus") as client:
        assert client.config.calibration is not None
        with pytest.warns(CalibrationWarning, match="no map of its own for 'Unseen class'"):
            client.classify.videos(ids[:3], SOURCES, other)
        with warnings.catch_warnings():
            warnings.simplefilter("error", CalibrationWarning)
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            # fitted on these classes, at these thresholds: no warning
            client.classify.videos(ids[:3], SOURCES, world.classes, threshold=STRICT)
        # The saves were made at 95 / 0.5: at v1.2's defaults (75 / 0.5) the profile guesses.
        with pytest.warns(CalibrationWarning, match=r"min_video_score 75, min_duration_ratio 0.5\) are looser "
                          r"than the saved results' \(95, 0.5\)"):
            client.classify.videos(ids[:3], SOURCES, world.classes)
    profile = json.loads(out.read_text(encoding="utf-8"))
    assert profile["fitted"]["saved_thresholds"] == {"min_video_score": 95, "min_duration_ratio": 0.5}
    assert profile["fitted"]["samples"] == 1
    with TwelveLabs(classify_backend="pegasus", samples=2) as client, \
            pytest.warns(CalibrationWarning, match="fitted on samples=1, the request uses samples=2"):
        client.classify.videos(ids[:2], SOURCES, world.classes, threshold=STRICT)
    with TwelveLabs(classify_backend="pegasus", calibration=False) as client:
        assert client.config.calibration is None  # the argument wins over the variable
    monkeypatch.setenv("TWELVELABS_CLASSIFY_CALIBRATION", str(tmp_path / "missing.json"))
    with pytest.raises(TwelveLabsError, match=r"missing\.json: no such file"):
        TwelveLabs(classify_backend="pegasus")
    (tmp_path / "bad.json").write_text('{"format": "classify-shim-calibration", "version": 99}', encoding="utf-8")
    with pytest.raises(TwelveLabsError, match="version 99 is not supported"):
        TwelveLabs(classify_backend="pegasus", calibration=str(tmp_path / "bad.json"))


def test_the_gateway_serves_callers_with_the_configured_profile(tmp_path: Path, monkeypatch: Any) -> None:
    import asyncio

    from classify_shim._calibration import CalibrationProfile, ClassCalibration
    from classify_shim.gateway._callers import Callers
    from classify_shim.gateway._settings import GatewaySettings

    path = tmp_path / "profile.json"
    CalibrationProfile("pegasus1.5", "pegasus-classify-v2", {"A": ClassCalibration(score_offset=3.0)},
                       ClassCalibration()).save(path)
    monkeypatch.setenv("TWELVELABS_CLASSIFY_CALIBRATION", str(path))
    monkeypatch.setenv("TWELVELABS_CLASSIFY_CACHE", "off")

    async def caller_config() -> Any:
        callers = Callers(GatewaySettings(backend="pegasus", base_url="http://127.0.0.1:9"))
        try:
            _, backend = await callers.backend_for("tlk_gateway_caller_0000000000", path="/v1.2/classify",
                                                   user_agent=None)
            return backend.config.calibration
        finally:
            await callers.aclose()

    profile = asyncio.run(caller_config())
    assert profile is not None and profile.for_class("A").score_offset == 3.0
