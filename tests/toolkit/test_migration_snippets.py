"""Every ```` ```python test ```` block of MIGRATION.md runs, as its own process, against the sandbox.

Fence info string: ``python test`` plus optional words:

* ``name=NAME`` — this block can be reused by later blocks;
* ``requires=NAME[,NAME]`` — the named blocks are prepended before running (a helper defined once
  in the guide, e.g. the native v1.3 recipe of step 7);
* ``legacy=retired`` — run against a sandbox whose v1.2 endpoints answer "retired".

Blocks read ``SANDBOX_VIDEO_IDS`` (comma-separated ids of the default world's first index) and
``SANDBOX_INDEX_ID``; ``TWELVELABS_BASE_URL`` points at the sandbox and the key is ``test-key``.
Plain ``python`` blocks are shown, not run; there must be very few of them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

ROOT = Path(__file__).resolve().parents[2]
MIGRATION = ROOT / "MIGRATION.md"

STEP_ANCHORS = [f"step-{i}" for i in range(1, 9)]
ENTRY_ANCHORS = [
    "classify-videos",
    "classify-index",
    "by-page-token",
    "iteration",
    "threshold",
    "options",
    "conversation-option",
    "include-clips",
    "show-detailed-score",
    "classifyclassparams",
]
MAX_PLAIN_PYTHON_BLOCKS = 3
_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_ANCHOR = re.compile(r'<a id="([a-z0-9-]+)"></a>')


@dataclass
class Block:
    line: int
    info: List[str]
    code: str
    anchor: str

    @property
    def options(self) -> Dict[str, str]:
        return dict(word.split("=", 1) for word in self.info[2:] if "=" in word)

    @property
    def runnable(self) -> bool:
        return self.info[:2] == ["python", "test"]

    @property
    def ident(self) -> str:
        return f"{self.anchor}-L{self.line}"


def _blocks(text: str) -> Iterator[Block]:
    lines = text.splitlines()
    anchor = "top"
    i = 0
    while i < len(lines):
        found = _ANCHOR.search(lines[i])
        if found:
            anchor = found.group(1)
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, indent = m.group("fence"), len(m.group("indent"))
        start = i + 1
        body: List[str] = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        yield Block(start, m.group("info").split(), "\n".join(body) + "\n", anchor)
        i += 1


def _all_blocks() -> List[Block]:
    if not MIGRATION.exists():
        return []
    return list(_blocks(MIGRATION.read_text(encoding="utf-8")))


BLOCKS = _all_blocks()
RUNNABLE = [b for b in BLOCKS if b.runnable]
NAMED = {b.options["name"]: b for b in RUNNABLE if "name" in b.options}


# ---- the document's shape ------------------------------------------------------------------


def test_migration_md_exists_and_has_runnable_snippets() -> None:
    assert MIGRATION.exists(), "MIGRATION.md is missing"
    assert len(RUNNABLE) >= 20


def test_anchors_are_all_there_once() -> None:
    text = MIGRATION.read_text(encoding="utf-8")
    anchors = _ANCHOR.findall(text)
    for name in STEP_ANCHORS + ENTRY_ANCHORS:
        assert anchors.count(name) == 1, f'<a id="{name}"></a> must appear exactly once'
    assert len(anchors) == len(set(anchors)), "duplicate anchors"


def test_steps_are_numbered_in_order() -> None:
    text = MIGRATION.read_text(encoding="utf-8")
    positions = [text.index(f'<a id="{a}"></a>') for a in STEP_ANCHORS]
    assert positions == sorted(positions)
    for i, anchor in enumerate(STEP_ANCHORS, start=1):
        after = text[text.index(f'<a id="{anchor}"></a>') :].split("\n", 2)[1]
        assert after.startswith("#") and f"Step {i}" in after, after


def _section(text: str, anchor: str) -> str:
    start = text.index(f'<a id="{anchor}"></a>')
    following = [m.start() for m in _ANCHOR.finditer(text) if m.start() > start]
    return text[start : following[0] if following else len(text)]


@pytest.mark.parametrize("anchor", ENTRY_ANCHORS)
def test_reference_entries_have_synopsis_migration_discussion(anchor: str) -> None:
    section = _section(MIGRATION.read_text(encoding="utf-8"), anchor)
    found = [re.search(rf"\*\*{part}\.?\*\*", section) for part in ("Synopsis", "Migration", "Discussion")]
    assert all(found), f"{anchor}: needs **Synopsis**, **Migration**, **Discussion**"
    positions = [m.start() for m in found if m]
    assert positions == sorted(positions), f"{anchor}: parts out of order"
    runnable = [b for b in RUNNABLE if b.anchor == anchor]
    assert len(runnable) >= 2, f"{anchor}: needs a runnable before and after"
    assert any("classify_shim" in b.code for b in runnable), f"{anchor}: no 'before' (legacy) code"
    assert any("native" in b.options.get("requires", "") or "/v1.3/" in b.code for b in runnable), (
        f"{anchor}: no 'after' (v1.3) code"
    )


def test_plain_python_blocks_are_few() -> None:
    plain = [b for b in BLOCKS if b.info[:1] == ["python"] and not b.runnable]
    assert len(plain) <= MAX_PLAIN_PYTHON_BLOCKS, [b.ident for b in plain]


def test_required_names_exist() -> None:
    for block in RUNNABLE:
        for name in filter(None, block.options.get("requires", "").split(",")):
            assert name in NAMED, f"{block.ident} requires unknown block {name!r}"


# ---- running the snippets ------------------------------------------------------------------


@dataclass
class Env:
    base_url: str
    video_ids: List[str]
    index_id: str


def _world_ids(base_url: str) -> Env:
    with urllib.request.urlopen(f"{base_url}/_sandbox/world", timeout=10) as response:
        world = json.load(response)
    first = world["indexes"][0]
    return Env(base_url, [v["_id"] for v in first["videos"]], first["_id"])


@pytest.fixture(scope="module")
def sandboxes() -> Iterator[Dict[str, Env]]:
    from classify_shim.sandbox import Sandbox

    live = Sandbox().start()
    retired = Sandbox(legacy="retired").start()
    try:
        yield {"live": _world_ids(live.base_url), "retired": _world_ids(retired.base_url)}
    finally:
        live.stop()
        retired.stop()


def _source(block: Block) -> str:
    parts: List[str] = []
    for name in filter(None, block.options.get("requires", "").split(",")):
        parts.append(f"# ---- from the block named {name!r} ----\n{NAMED[name].code}")
    parts.append(f"# ---- MIGRATION.md line {block.line} ----\n{block.code}")
    return "\n".join(parts)


def _run(block: Block, env: Env, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "snippet.py"
    script.write_text(_source(block), encoding="utf-8")
    child_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TWELVELABS_")
        and k not in ("PYTHONWARNINGS", "SANDBOX_VIDEO_IDS", "SANDBOX_INDEX_ID")
    }
    child_env.update(
        TWELVELABS_BASE_URL=env.base_url,
        TWELVELABS_API_KEY="test-key",
        TWELVELABS_CLASSIFY_CACHE=str(tmp_path / "cache.sqlite3"),
        SANDBOX_VIDEO_IDS=",".join(env.video_ids),
        SANDBOX_INDEX_ID=env.index_id,
        PYTHONIOENCODING="utf-8",
    )
    return subprocess.run(
        [sys.executable, str(script)],
        cwd=str(tmp_path),
        env=child_env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=240,
    )


@pytest.mark.parametrize("block", RUNNABLE, ids=[b.ident for b in RUNNABLE])
def test_snippet_runs(block: Block, sandboxes: Dict[str, Env], tmp_path: Path) -> None:
    """Each block runs twice with the same cache, as a reader who runs it again would: a snippet
    that passes only on its first run (a remembered ``auto`` decision, a cached answer) fails here."""
    mode = block.options.get("legacy", "live")
    for attempt in ("first", "second"):
        proc = _run(block, sandboxes[mode], tmp_path)
        assert proc.returncode == 0, (
            f"MIGRATION.md line {block.line} ({block.anchor}) failed on its {attempt} run with exit code "
            f"{proc.returncode}\n--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}"
        )


def test_a_failing_snippet_is_caught(sandboxes: Dict[str, Env], tmp_path: Path) -> None:
    """The harness must be able to fail: a snippet that raises is reported."""
    bad = Block(
        0, ["python", "test"], "import os\nraise SystemExit(os.environ['SANDBOX_INDEX_ID'][:0] or 3)\n", "x"
    )
    assert _run(bad, sandboxes["live"], tmp_path).returncode == 3
