"""``classify-shim docs``: the sections warnings name are printable from the installed package."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from classify_shim.cli import main
from classify_shim.cli._docs import find, topics

ROOT = Path(__file__).resolve().parents[2]


def test_every_anchor_in_migration_is_a_topic() -> None:
    anchors = re.findall(r'^<a id="([^"]+)"></a>', (ROOT / "MIGRATION.md").read_text("utf-8"), re.M)
    assert anchors and {a for a in anchors} <= {s.topic for s in topics()}


@pytest.mark.parametrize("topic", ["classify-videos", "MIGRATION.md#classify-index", "by-page-token"])
def test_warning_topics_print_their_entry(topic: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["docs", topic]) == 0
    out = capsys.readouterr().out
    assert "**Synopsis.**" in out and "**Migration.**" in out
    assert '<a id="' not in out  # one entry, not the next one


def test_page_and_unknown_topic(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["docs", "scoring"]) == 0
    assert capsys.readouterr().out == (ROOT / "docs" / "scoring.md").read_text("utf-8")
    assert main(["docs", "no-such-topic"]) == 2
    assert "classify-videos" in capsys.readouterr().err
    assert find("step-4") is not None and find("step-4").title.startswith("Step 4")  # type: ignore[union-attr]
