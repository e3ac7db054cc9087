"""Loading saved v1.2 results: both record shapes, the recorded traffic, and errors that name file and line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import pytest

from classify_shim._saved import SavedResultsError, load_saved
from shared_inputs import require

VID = ["6650bb0000000000000000a1", "6650bb0000000000000000a2", "6650bb0000000000000000a3"]


def _body(*items: Dict[str, Any], token: str = "") -> Dict[str, Any]:
    return {"data": list(items), "page_info": {"next_page_token": token, "prev_page_token": "", "total_results": len(items)}}


def _item(vid: str, *classes: Any) -> Dict[str, Any]:
    return {"video_id": vid, "classes": [{"name": n, "score": s, "duration_ratio": r} for n, s, r in classes]}


def test_recorded_traffic_loads_and_every_recorded_pass_is_read() -> None:
    folder = require("reference/v12-recorded")
    saved = load_saved([folder])
    # The oracle: walk the JSON files directly, without the loader's rules.
    expected_passes = 0
    expected_files = 0
    for path in sorted(folder.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("status") != 200:
            continue
        expected_files += 1
        expected_passes += sum(len(v["classes"]) for v in doc["response"]["data"])
    assert len(saved.records) == expected_files == 8
    assert any("HTTP 429" in note for note in saved.skipped)
    pairs = saved.pairs()
    # The same class asked with the same prompts in two notebooks' cells is one question; a
    # video passing it in both counts once (with the first record's numbers).
    assert sum(p.passed for p in pairs) <= expected_passes
    recorded = {}
    for r in saved.records:
        for v in r.videos:
            for c in v.classes:
                recorded.setdefault((r.request.shape(), v.video_id, c.name), c.score)
    assert len(recorded) == sum(p.passed for p in pairs)
    for p in pairs:
        if p.passed:
            assert p.score == recorded[(p.question, p.video_id, p.class_name)]
            assert p.thresholds is not None and p.thresholds.min_video_score == 80.0
            assert p.thresholds.min_duration_ratio == 0.5
        else:
            assert p.score is None and p.duration_ratio is None  # censored: only "did not pass" is known
    # integers in the recordings (score 100, ratio 1) are numbers like any other
    assert any(p.score == 100.0 for p in pairs if p.passed)


def test_printed_output_is_not_json_and_the_error_says_where(tmp_path: Path) -> None:
    text = require("reference/v12-recorded/Hrishikesh332__Olympics_tutorial_outputs.txt")
    with pytest.raises(SavedResultsError, match=r"Olympics_tutorial_outputs\.txt:1: not JSON"):
        load_saved([text])


def test_jsonl_of_bare_bodies_and_wrapped_records(tmp_path: Path) -> None:
    path = tmp_path / "saved.jsonl"
    lines = [
        _body(_item(VID[0], ("Dance", 91.5, 0.8))),
        {"request": {"video_ids": VID, "options": ["visual"],
                     "classes": [{"name": "Dance", "prompts": ["dance"]}, {"name": "Cooking", "prompts": ["cook"]}],
                     "threshold": {"min_video_score": 85}},
         "response": _body(_item(VID[1], ("Cooking", 88, 1)))},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    saved = load_saved([path])
    assert [r.where for r in saved.records] == [f"{path}:1", f"{path}:2"]
    bare, wrapped = saved.records
    assert bare.request is None and bare.class_names == ("Dance",)
    assert wrapped.request is not None and wrapped.request.thresholds.min_video_score == 85.0
    # A complete classify.videos answer decides on every requested video, listed or not.
    asked = {(p.video_id, p.class_name): p.passed for p in saved.pairs() if p.question}
    assert asked == {(VID[0], "Dance"): False, (VID[0], "Cooking"): False, (VID[1], "Dance"): False,
                     (VID[1], "Cooking"): True, (VID[2], "Dance"): False, (VID[2], "Cooking"): False}
    # The bare body is another question (its prompts are unknown): it decides on what it lists.
    assert [(p.video_id, p.class_name, p.passed) for p in saved.pairs() if not p.question] == [(VID[0], "Dance", True)]


def test_an_incomplete_page_decides_only_on_what_it_lists(tmp_path: Path) -> None:
    path = tmp_path / "page.json"
    record = {"request": {"video_ids": VID, "classes": [{"name": "Dance", "prompts": ["dance"]}]},
              "response": _body(_item(VID[0], ("Dance", 90, 0.9)), token="abc-1")}
    path.write_text(json.dumps(record), encoding="utf-8")
    saved = load_saved([path])
    assert [(p.video_id, p.passed) for p in saved.pairs()] == [(VID[0], True)]


def test_a_list_of_records_reports_the_line_of_the_broken_one(tmp_path: Path) -> None:
    good = _body(_item(VID[0], ("Dance", 90, 0.9)))
    bad = _body(_item(VID[1], ("Dance", "ninety", 0.9)))
    path = tmp_path / "list.json"
    path.write_text("[\n" + json.dumps(good) + ",\n" + json.dumps(bad) + "\n]\n", encoding="utf-8")
    with pytest.raises(SavedResultsError) as info:
        load_saved([path])
    message = str(info.value)
    assert f"{path}:3:" in message and "data[0].classes[0].score must be a number" in message


@pytest.mark.parametrize(
    ("record", "needle"),
    [
        ({"results": []}, "neither a v1.2 response body"),
        ({"data": [{"classes": []}]}, "data[0].video_id must be a non-empty string"),
        ({"data": [{"video_id": "x", "classes": [{"name": "A", "score": 120, "duration_ratio": 0.5}]}]},
         "data[0].classes[0].score must be from 0 to 100"),
        ({"data": [{"video_id": "x", "classes": [{"name": "A", "score": 90, "duration_ratio": 1.5}]}]},
         "duration_ratio must be from 0 to 1"),
        ({"request": {"classes": [{"name": "A", "prompts": ["a"]}], "threshold": {"min_video_score": 0}},
          "response": {"data": []}}, "request.threshold.min_video_score"),
        ({"request": {"classes": []}, "response": {"data": []}}, "request.classes is empty"),
    ],
)
def test_broken_records_name_file_line_and_field(tmp_path: Path, record: Dict[str, Any], needle: str) -> None:
    path = tmp_path / "broken.jsonl"
    ok = json.dumps(_body(_item(VID[0], ("A", 90, 0.9))))
    path.write_text(ok + "\n\n" + json.dumps(record) + "\n", encoding="utf-8")
    with pytest.raises(SavedResultsError) as info:
        load_saved([path])
    assert f"{path}:3:" in str(info.value)
    assert needle in str(info.value)


def test_bad_json_line_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl"
    path.write_text(json.dumps(_body()) + '\n{"data": [\n', encoding="utf-8")
    with pytest.raises(SavedResultsError, match=r"cut\.jsonl:2: not JSON"):
        load_saved([path])
    with pytest.raises(SavedResultsError, match="no such file"):
        load_saved([tmp_path / "absent.json"])


def test_legacy_body_merges_saved_passes(tmp_path: Path) -> None:
    path = tmp_path / "two.jsonl"
    rows: List[Dict[str, Any]] = [_body(_item(VID[0], ("A", 90, 0.9))), _body(_item(VID[0], ("B", 80, 0.6)), _item(VID[1], ("A", 99, 1)))]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    body = load_saved([path]).legacy_body(class_names=["A"])
    assert {(v["video_id"], c["name"]) for v in body["data"] for c in v["classes"]} == {(VID[0], "A"), (VID[1], "A")}
    assert body["page_info"]["next_page_token"] == ""


def test_requests_the_v1_2_api_served_load(tmp_path: Path) -> None:
    """Threshold keys the v1.2 schema does not forbid and empty prompts were served: they load."""
    path = tmp_path / "served.json"
    record = {"request": {"classes": [{"name": "A", "prompts": ["a", ""]}],
                          "threshold": {"min_video_score": 80, "min_score": 3}},
              "response": _body(_item(VID[0], ("A", 90, 0.9)))}
    path.write_text(json.dumps(record), encoding="utf-8")
    (rec,) = load_saved([path]).records
    assert rec.request is not None and rec.request.thresholds.min_video_score == 80
    assert rec.request.classes[0].prompts == ("a", "")
