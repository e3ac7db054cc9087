"""``compare --legacy-results`` and ``shadow`` with ``shadow_legacy_results``: recordings as the
legacy side give the same report as the live v1.2 endpoint did."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Dict, List

from classify_shim import TwelveLabs
from classify_shim.adapters.shadow import shadow_report
from classify_shim.cli import main

CLASSES = [
    {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group"]},
    {"name": "CookTok", "prompts": ["Cooking tutorial"]},
]
OPTIONS = ["visual", "conversation"]
THRESHOLD = {"min_video_score": 60, "min_duration_ratio": 0.3}


def _ids(sandbox: Any) -> List[str]:
    return [v["_id"] for v in sandbox.world["indexes"][0]["videos"]]


def _save_live_legacy(sandbox: Any, path: Path, **kw: Any) -> Dict[str, Any]:
    ids = _ids(sandbox)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TwelveLabs(classify_backend="legacy") as client:
            res = client.classify.videos(ids, OPTIONS, CLASSES, threshold=THRESHOLD, page_limit=50, **kw)
    body = {"data": [v.model_dump(mode="json", exclude_none=True) for v in res.data],
            "page_info": res.page_info.model_dump(mode="json")}
    request = {"video_ids": ids, "options": OPTIONS, "classes": CLASSES, "threshold": THRESHOLD}
    path.write_text(json.dumps({"request": request, "response": body}) + "\n", encoding="utf-8")
    return body


def _verdicts(report: Dict[str, Any]) -> Dict[Any, Any]:
    return {(c["video_id"], c["class"]): (c["legacy_pass"], c["pegasus_pass"], c["legacy_score"],
                                          c["pegasus_score"], c["clip_iou"], tuple(c["reasons"]))
            for c in report["comparisons"]}


def test_compare_against_saved_results_reports_what_the_live_endpoint_did(
    classify_sandbox: Any, tmp_path: Path, capsys: Any
) -> None:
    saved = tmp_path / "saved.jsonl"
    _save_live_legacy(classify_sandbox, saved, include_clips=True)
    ids = ",".join(_ids(classify_sandbox))
    live_args = ["compare", "--classes", json.dumps(CLASSES), "--video-ids", ids, "--options", ",".join(OPTIONS),
                 "--threshold", json.dumps(THRESHOLD), "--json"]
    assert main(live_args) == 0
    live = json.loads(capsys.readouterr().out)
    classify_sandbox.legacy = "retired"  # the endpoint is gone; the recordings stand in for it
    classify_sandbox.clear_requests()
    assert main(["compare", "--legacy-results", str(saved), "--json"]) == 0
    recorded = json.loads(capsys.readouterr().out)
    assert not [r for r in classify_sandbox.requests() if "/v1.2/" in r["path"]]
    assert recorded["report"]["pairs"] == live["report"]["pairs"] == len(_ids(classify_sandbox)) * len(CLASSES)
    assert _verdicts(recorded["report"]) == _verdicts(live["report"])
    assert recorded["disagreements"] == live["disagreements"]
    # The text report too, and a stricter threshold re-checks the saved passes.
    assert main(["compare", "--legacy-results", str(saved), "--threshold", '{"min_video_score": 99}', "--json"]) == 0
    strict = json.loads(capsys.readouterr().out)
    assert sum(c["legacy_pass"] for c in strict["report"]["comparisons"]) < \
        sum(c["legacy_pass"] for c in live["report"]["comparisons"])


def _save_two_requests(sandbox: Any, path: Path) -> List[str]:
    """Saved results of two requests (other classes on other videos), as a directory of recordings
    holds them: DanceTok on the first three videos, CookTok on the next three."""
    ids = _ids(sandbox)
    lines = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TwelveLabs(classify_backend="legacy") as client:
            for videos, classes in ((ids[:3], [CLASSES[0]]), (ids[3:6], [CLASSES[1]])):
                res = client.classify.videos(videos, OPTIONS, classes, threshold=THRESHOLD, page_limit=50)
                body = {"data": [v.model_dump(mode="json", exclude_none=True) for v in res.data],
                        "page_info": res.page_info.model_dump(mode="json")}
                request = {"video_ids": videos, "options": OPTIONS, "classes": classes, "threshold": THRESHOLD}
                lines.append(json.dumps({"request": request, "response": body}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ids


def test_compare_with_classes_uses_only_videos_saved_for_those_classes(
    classify_sandbox: Any, tmp_path: Path, capsys: Any
) -> None:
    # --classes picks one of the saved requests: the other's videos were never asked these classes.
    saved = tmp_path / "saved.jsonl"
    ids = _save_two_requests(classify_sandbox, saved)
    cook = [CLASSES[1]]
    classify_sandbox.legacy = "retired"
    classify_sandbox.clear_requests()
    assert main(["compare", "--legacy-results", str(saved), "--classes", json.dumps(cook), "--options",
                 ",".join(OPTIONS), "--threshold", json.dumps(THRESHOLD), "--json"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)["report"]
    assert sorted({c["video_id"] for c in report["comparisons"]}) == sorted(ids[3:6])
    assert {c["class"] for c in report["comparisons"]} == {"CookTok"}
    asked = {r["video"] for r in classify_sandbox.requests() if r["endpoint"] == "v1.3.analyze"}
    assert asked <= set(ids[3:6])  # the other request's videos are not paid for
    assert "3 saved video(s) have no saved decision" in captured.err


def test_shadow_with_saved_results_compares_only_videos_saved_for_the_call_classes(
    classify_sandbox: Any, tmp_path: Path
) -> None:
    saved = tmp_path / "saved.jsonl"
    ids = _save_two_requests(classify_sandbox, saved)
    classify_sandbox.legacy = "retired"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TwelveLabs(classify_backend="shadow", shadow_legacy_results=[saved]) as client:
            client.classify.videos(ids[:6], OPTIONS, [CLASSES[1]], threshold=THRESHOLD, page_limit=50)
            client._backend.wait()
            report = shadow_report(client).to_dict()
    assert report["pairs"] == 3  # CookTok on the three videos saved with it, not on the DanceTok ones


def test_compare_needs_a_request_or_saved_results(capsys: Any, tmp_path: Path) -> None:
    assert main(["compare", "--video-ids", "a"]) == 2
    assert "--legacy-results" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"data": [{"video_id": 3}]}', encoding="utf-8")
    assert main(["compare", "--legacy-results", str(bad)]) == 2
    assert f"{bad}:1: data[0].video_id" in capsys.readouterr().err


def test_shadow_with_saved_results_serves_pegasus_and_reports_as_live_shadow_did(
    classify_sandbox: Any, tmp_path: Path
) -> None:
    ids = _ids(classify_sandbox)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TwelveLabs(classify_backend="shadow") as client:
            page = client.classify.videos(ids, OPTIONS, CLASSES, threshold=THRESHOLD, page_limit=50)
            client._backend.wait()
            live = shadow_report(client).to_dict()
    saved = tmp_path / "saved.json"
    body = _save_live_legacy(classify_sandbox, saved)
    assert [v.video_id for v in page.data] == [v["video_id"] for v in body["data"]]
    classify_sandbox.legacy = "retired"
    classify_sandbox.clear_requests()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TwelveLabs(classify_backend="shadow", shadow_legacy_results=[saved]) as client:
            served = client.classify.videos(ids, OPTIONS, CLASSES, threshold=THRESHOLD, page_limit=50)
            assert [v.video_id for v in served.data]  # Pegasus served the caller
            client._backend.wait()
            recorded = shadow_report(client).to_dict()
    paths = [r["path"] for r in classify_sandbox.requests()]
    assert not [p for p in paths if "/v1.2/" in p] and [p for p in paths if p.endswith("/analyze")]
    for key in ("compared", "pairs", "agreements", "mismatches", "mean_abs_score_delta", "per_class"):
        assert recorded[key] == live[key], key
    assert recorded["pairs"] == len(ids) * len(CLASSES)
