"""``classify-shim scan``: every legacy site of the fixture app is found, nothing else is.

The fixture app (``tests/fixtures/legacy_app``) is read, never run. Expected sites are listed
explicitly below with a fragment of their source line, so a drifting fixture fails loudly.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Set, Tuple

import pytest

from classify_shim.scan import KINDS, Finding, iter_python_files, scan_paths, scan_sources

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
APP = FIXTURES / "legacy_app"
MIGRATION = ROOT / "MIGRATION.md"

# (file, line, kind, a fragment of that line)
EXPECTED: List[Tuple[str, int, str, str]] = [
    ("async_jobs.py", 5, "shim-import", "from classify_shim import AsyncTwelveLabs"),
    ("async_jobs.py", 10, "classify-videos", "await client.classify.videos("),
    ("async_jobs.py", 10, "include-clips-arg", "include_clips=False"),
    ("async_jobs.py", 11, "iteration", "async for page in res"),
    ("async_jobs.py", 14, "score-read", "c.score for v in res.data"),
    ("batch.py", 9, "classify-index", "get_client().classify.index("),
    ("batch.py", 13, "threshold-arg", "threshold=80"),
    ("batch.py", 14, "conversation-option-arg", 'conversation_option="exact_match"'),
    ("batch.py", 20, "iteration", "page = next(result)"),
    ("batch.py", 29, "classify-index", "client.classify.index(index_id=index_id"),
    ("batch.py", 31, "iteration", "for page in first"),
    ("pages.py", 11, "classify-videos", "clf.videos(video_ids"),
    ("pages.py", 12, "page-token-read", "res.page_info.next_page_token"),
    ("pages.py", 19, "by-page-token", "clf.by_page_token("),
    ("pages.py", 20, "page-token-read", "page.page_info.next_page_token"),
    ("pages.py", 21, "score-read", "c.score > 50"),
    ("pages.py", 26, "by-page-token", 'fetch(_SAVED["token"])'),
    ("pages.py", 27, "page-token-read", "res.page_info.prev_page_token"),
    ("report.py", 6, "score-read", "key=lambda c: c.score"),
    ("report.py", 7, "duration-ratio-read", "best.duration_ratio"),
    ("report.py", 11, "score-read", "key=lambda c: c.score, reverse=True"),
    ("script.py", 3, "import", "from twelvelabs import TwelveLabs"),
    ("script.py", 10, "score-read", "class_data.score"),
    ("script.py", 11, "duration-ratio-read", "class_data.duration_ratio"),
    ("script.py", 12, "clips-read", "if class_data.clips"),
    ("script.py", 13, "clips-read", "for clip in class_data.clips"),
    ("script.py", 14, "score-read", "clip.score"),
    ("script.py", 26, "classify-videos", "client.classify.videos("),
    ("script.py", 30, "include-clips-arg", "include_clips=True"),
    ("script.py", 36, "iteration", "print_page(next(result))"),
    ("script.py", 39, "iteration", "enumerate(result, start=2)"),
    ("script.py", 41, "by-page-token", 'client.classify.by_page_token("tok-1")'),
    ("script.py", 41, "page-token-read", ".page_info.next_page_token"),
    ("tagger.py", 3, "import", "import twelvelabs as tl"),
    ("tagger.py", 16, "classify-videos", "self.tl.classify.videos("),
    ("tagger.py", 20, "include-clips-arg", "include_clips=True"),
    ("tagger.py", 21, "threshold-arg", "threshold=STRICT"),
    ("tagger.py", 22, "show-detailed-score-arg", "show_detailed_score=True"),
    ("tagger.py", 28, "score-read", "cls.score >= 90"),
    ("tagger.py", 28, "duration-ratio-read", "cls.duration_ratio > 0.7"),
    ("tagger.py", 30, "detailed-scores-read", "elif cls.detailed_scores and"),
    ("tagger.py", 30, "detailed-scores-read", "cls.detailed_scores.max_score > 95"),
    ("tagger.py", 39, "clips-read", "cls.clips or []"),
    ("tagger.py", 40, "score-read", "clip.score"),
    ("tagger.py", 44, "page-token-read", "self.last_result.page_info.next_page_token"),
    ("taxonomy.py", 3, "import", "from twelvelabs import models"),
    ("taxonomy.py", 4, "import", "from twelvelabs.models import ClassifyClassParams as ClassParams"),
    ("taxonomy.py", 11, "class-options", '"options": ["conversation"]'),
    ("taxonomy.py", 12, "class-conversation-option", '"conversation_option": "exact_match"'),
    ("taxonomy.py", 17, "classifyclassparams", 'ClassParams(name="CookTok"'),
    ("taxonomy.py", 18, "classifyclassparams", "models.ClassifyClassParams("),
    ("taxonomy.py", 21, "class-options", 'options=["visual", "text_in_video"]'),
]

CLEAN_FILES = ("__init__.py", "settings.py", "unrelated.py")


def run_cli(*args: str, cwd: Optional[Path] = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run(
        [sys.executable, "-m", "classify_shim.cli", "scan", *args],
        cwd=str(cwd or FIXTURES),
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=120,
    )


def keyed(findings: Sequence[Finding]) -> List[Tuple[str, int, str]]:
    return sorted((Path(f.file).name, f.line, f.kind) for f in findings)


@pytest.fixture(scope="module")
def app_findings() -> List[Finding]:
    report, missing = scan_paths([str(APP)])
    assert missing == []
    assert report.errors == []
    return report.findings


# ---- the fixture app ------------------------------------------------------------------------


def test_fixture_lines_are_what_the_expectations_say() -> None:
    """Guards the expectations themselves: each listed line holds the listed code."""
    for name, line, _kind, fragment in EXPECTED:
        text = (APP / name).read_text(encoding="utf-8").splitlines()[line - 1]
        assert fragment in text, f"{name}:{line} is {text!r}, expected to contain {fragment!r}"


@pytest.mark.parametrize(("name", "line", "kind", "fragment"), EXPECTED, ids=lambda v: str(v))
def test_every_expected_site_is_reported(
    app_findings: List[Finding], name: str, line: int, kind: str, fragment: str
) -> None:
    matches = [f for f in app_findings if Path(f.file).name == name and f.line == line and f.kind == kind]
    assert matches, f"{name}:{line} {kind} not reported"
    assert all(f.migration == f"MIGRATION.md#{KINDS[kind]}" or kind == "import" for f in matches)


def test_nothing_beyond_the_expected_sites(app_findings: List[Finding]) -> None:
    assert keyed(app_findings) == sorted((n, ln, k) for n, ln, k, _ in EXPECTED)


def test_clean_modules_of_the_app_have_no_findings(app_findings: List[Finding]) -> None:
    assert not [f for f in app_findings if Path(f.file).name in CLEAN_FILES]


def test_fixture_covers_many_call_shapes(app_findings: List[Finding]) -> None:
    calls = [f for f in app_findings if f.kind in ("classify-videos", "classify-index", "by-page-token")]
    assert len(calls) >= 9
    assert len({f.file for f in calls}) >= 4
    # every SDK-usage kind; raw HTTP callers have their own cases (test_scan_raw_http.py)
    assert {f.kind for f in app_findings} == set(KINDS) - {"raw-http"}


def test_columns_point_at_the_code(app_findings: List[Finding]) -> None:
    by_key = {(Path(f.file).name, f.line, f.kind): f for f in app_findings}
    score = by_key[("tagger.py", 28, "score-read")]
    line = (APP / "tagger.py").read_text(encoding="utf-8").splitlines()[27]
    assert line[score.col - 1 :].startswith("score >= 90")
    call = by_key[("tagger.py", 16, "classify-videos")]
    line = (APP / "tagger.py").read_text(encoding="utf-8").splitlines()[15]
    assert line[call.col - 1 :].startswith("self.tl.classify.videos(")
    assert call.code == line.strip()


def test_import_anchors_are_specific(app_findings: List[Finding]) -> None:
    by_key = {(Path(f.file).name, f.line): f.migration for f in app_findings if f.kind == "import"}
    assert by_key[("taxonomy.py", 4)] == "MIGRATION.md#classifyclassparams"
    assert by_key[("tagger.py", 3)] == "MIGRATION.md#step-1"


def test_all_imports_adds_the_plain_client_import() -> None:
    report, _ = scan_paths([str(APP)], all_imports=True)
    extra = set(keyed(report.findings)) - {(n, ln, k) for n, ln, k, _ in EXPECTED}
    assert extra == {("settings.py", 5, "import")}


# ---- the command line -----------------------------------------------------------------------


def test_text_output_format() -> None:
    proc = run_cli("legacy_app")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(EXPECTED)
    pattern = re.compile(
        r"^(legacy_app/[a-z_]+\.py):(\d+):(\d+)  ([a-z-]+)  (.+)  \u2192 MIGRATION\.md#([a-z0-9-]+)$"
    )
    for line in lines:
        assert pattern.match(line), line
    assert (
        "legacy_app/tagger.py:16:28  classify-videos  self.last_result = self.tl.classify.videos("
        in proc.stdout
    )
    assert f"{len(EXPECTED)} findings in 7 file(s); 10 file(s) scanned" in proc.stderr


def test_check_exit_codes(tmp_path: Path) -> None:
    assert run_cli("--check", "legacy_app").returncode == 1
    assert run_cli("--check", "legacy_app/unrelated.py", "legacy_app/settings.py").returncode == 0
    (tmp_path / "ok.py").write_text("print('hello')\n", encoding="utf-8")
    proc = run_cli("--check", str(tmp_path))
    assert proc.returncode == 0
    assert proc.stdout == ""


def test_json_document() -> None:
    proc = run_cli("--json", "--check", "legacy_app")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert set(doc) == {"findings", "files_scanned", "errors"}
    assert doc["files_scanned"] == 10
    assert doc["errors"] == []
    assert len(doc["findings"]) == len(EXPECTED)
    for item in doc["findings"]:
        assert set(item) == {"file", "line", "col", "kind", "code", "migration"}
        assert isinstance(item["line"], int) and isinstance(item["col"], int)
        assert item["kind"] in KINDS
        assert item["migration"].startswith("MIGRATION.md#")
    got = sorted((Path(i["file"]).name, i["line"], i["kind"]) for i in doc["findings"])
    assert got == sorted((n, ln, k) for n, ln, k, _ in EXPECTED)


def test_every_anchor_exists_in_migration_md() -> None:
    if not MIGRATION.exists():
        pytest.fail("MIGRATION.md is missing")
    anchors = set(re.findall(r'<a id="([a-z0-9-]+)"></a>', MIGRATION.read_text(encoding="utf-8")))
    targets = set(KINDS.values()) | {"classifyclassparams", "classify-videos", "step-1"}
    assert targets <= anchors, targets - anchors


def test_select_filters_kinds() -> None:
    proc = run_cli("--json", "--select", "iteration,by-page-token", "legacy_app")
    kinds = {i["kind"] for i in json.loads(proc.stdout)["findings"]}
    assert kinds == {"iteration", "by-page-token"}
    bad = run_cli("--select", "nonsense", "legacy_app")
    assert bad.returncode == 2
    assert "unknown kind" in bad.stderr


def test_missing_path_is_a_usage_error() -> None:
    proc = run_cli("--check", "legacy_app", "does/not/exist")
    assert proc.returncode == 2
    assert "does/not/exist" in proc.stderr


def test_help() -> None:
    proc = run_cli("--help")
    assert proc.returncode == 0
    assert "--check" in proc.stdout and "--json" in proc.stdout and "Exit codes" in proc.stdout


def test_default_path_is_current_directory() -> None:
    proc = run_cli("--json", cwd=APP)
    doc = json.loads(proc.stdout)
    assert doc["files_scanned"] == 10
    assert len(doc["findings"]) == len(EXPECTED)


def test_exclude(tmp_path: Path) -> None:
    proc = run_cli("--json", "--exclude", "tagger.py", "--exclude", "script*", "legacy_app")
    names = {Path(i["file"]).name for i in json.loads(proc.stdout)["findings"]}
    assert "tagger.py" not in names and "script.py" not in names and "batch.py" in names


# ---- errors and the directory walk ---------------------------------------------------------

LEGACY_SNIPPET = (
    "from twelvelabs import TwelveLabs\n"
    "client = TwelveLabs(api_key='k')\n"
    "res = client.classify.videos(['v'], ['visual'], [{'name': 'a', 'prompts': ['b']}])\n"
)


def test_unparseable_files_are_reported_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(LEGACY_SNIPPET, encoding="utf-8")
    (tmp_path / "broken.py").write_text("def oops(:\n    pass\n", encoding="utf-8")
    (tmp_path / "py2.py").write_text("print 'hello'\n", encoding="utf-8")
    (tmp_path / "latin.py").write_bytes(b"x = '\xe9\xe8'\n")  # not UTF-8, no coding cookie
    (tmp_path / "nul.py").write_bytes(b"x = 1\x00\n")
    (tmp_path / "cookie.py").write_bytes(
        b"# -*- coding: latin-1 -*-\nname = '\xe9'\n" + LEGACY_SNIPPET.encode()
    )
    proc = run_cli("--json", "--check", str(tmp_path))
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    errors = {Path(e["file"]).name: e["error"] for e in doc["errors"]}
    assert set(errors) == {"broken.py", "py2.py", "latin.py", "nul.py"}
    assert "syntax error" in errors["broken.py"] and "line 1" in errors["broken.py"]
    assert doc["files_scanned"] == 2
    found = {(Path(i["file"]).name, i["kind"]) for i in doc["findings"]}
    assert ("good.py", "classify-videos") in found
    assert ("cookie.py", "classify-videos") in found
    text = run_cli(str(tmp_path))
    assert text.returncode == 0
    assert "broken.py: error: syntax error" in text.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
def test_unreadable_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(LEGACY_SNIPPET, encoding="utf-8")
    os.symlink(str(tmp_path / "missing-target.py"), str(tmp_path / "dangling.py"))
    report, missing = scan_paths([str(tmp_path)])
    assert missing == []
    assert [(Path(e.file).name, e.error.split(":")[0]) for e in report.errors] == [("dangling.py", "cannot read")]
    assert report.files_scanned == 1
    assert any(f.kind == "classify-videos" for f in report.findings)


def test_walk_skips_venvs_vcs_and_caches(tmp_path: Path) -> None:
    for folder in (".git", "node_modules", "__pycache__", ".venv", "venv", "lib/site-packages", "x.egg-info"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "mod.py").write_text(LEGACY_SNIPPET, encoding="utf-8")
    env = tmp_path / "myenv"  # a virtual environment under any name
    (env / "lib").mkdir(parents=True)
    (env / "pyvenv.cfg").write_text("home = /usr/bin\n", encoding="utf-8")
    (env / "lib" / "mod.py").write_text(LEGACY_SNIPPET, encoding="utf-8")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.py").write_text(LEGACY_SNIPPET, encoding="utf-8")
    (tmp_path / "app" / "notes.txt").write_text(LEGACY_SNIPPET, encoding="utf-8")
    files, missing = iter_python_files([str(tmp_path)])
    assert missing == []
    assert [Path(f).relative_to(tmp_path).as_posix() for f in files] == ["app/main.py"]
    # an explicit file is scanned whatever its name
    files, _ = iter_python_files([str(tmp_path / "app" / "notes.txt")])
    assert len(files) == 1


def test_scan_never_runs_user_code(tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    (tmp_path / "evil.py").write_text(
        f"open({str(marker)!r}, 'w').write('x')\nimport sys\nsys.exit(7)\n" + LEGACY_SNIPPET,
        encoding="utf-8",
    )
    (tmp_path / "conftest.py").write_text(f"open({str(marker)!r}, 'w').write('x')\n", encoding="utf-8")
    proc = run_cli("--json", str(tmp_path))
    assert proc.returncode == 0
    assert not marker.exists()
    assert any(i["kind"] == "classify-videos" for i in json.loads(proc.stdout)["findings"])


# ---- heuristics, one source at a time -------------------------------------------------------


def kinds_of(source: str, *, all_imports: bool = False) -> Set[Tuple[int, str]]:
    report = scan_sources([("m.py", source)], all_imports=all_imports)
    assert report.errors == []
    return {(f.line, f.kind) for f in report.findings}


CLEAN_SOURCES: Dict[str, str] = {
    "v1.3 SDK": (
        "from twelvelabs import TwelveLabs\n"
        "client = TwelveLabs(api_key='k')\n"
        "res = client.analyze(video_id='v', prompt='Classify this video')\n"
        "print(res.data, res.finish_reason)\n"
        "for page in client.search.query(index_id='i', query_text='x'):\n"
        "    print(page.score, page.clips)\n"
    ),
    "list.index and ML classifiers": (
        "import numpy as np\n"
        "items = [1, 2, 3]\n"
        "pos = items.index(2)\n"
        "model.classify.index(3)\n"
        "labels = model.classify(frames)\n"
        "print(labels.score, labels.clips)\n"
    ),
    "other paginators": (
        "def walk(paginator):\n"
        "    for page in paginator:\n"
        "        print(page.next_page_token)\n"
        "    first = next(iter(paginator))\n"
        "    return first.score, first.duration_ratio\n"
    ),
    "class-like dict without SDK context": "CLS = {'name': 'a', 'prompts': ['b'], 'options': ['visual']}\n",
    "result data used without legacy reads": (
        "def names(client):\n"
        "    res = client.classify.videos(['v'], ['visual'], CLASSES)\n"
        "    return [v.video_id for v in res.data]\n"
    ),
    "same names in another function": (
        "def summarize(rows):\n    return [r.score for r in rows]\nsummarize(db.fetch())\n"
    ),
}


@pytest.mark.parametrize("source", list(CLEAN_SOURCES.values()), ids=list(CLEAN_SOURCES))
def test_false_positive_guards(source: str) -> None:
    found = kinds_of(source)
    if "client.classify.videos" in source:
        assert found == {(2, "classify-videos")}
    else:
        assert found == set()


def test_stored_resource_and_bound_method() -> None:
    src = (
        "class Job:\n"
        "    def __init__(self, client):\n"
        "        self.clf = client.classify\n"
        "        self.run = client.classify.index\n"
        "    def go(self):\n"
        "        a = self.clf.videos(ids, opts, classes)\n"
        "        b = self.run('idx', ['visual'], classes)\n"
        "        return a, b\n"
    )
    assert kinds_of(src) == {(6, "classify-videos"), (7, "classify-index")}


def test_results_followed_through_returns_and_annotations() -> None:
    src = (
        "from twelvelabs.models import ClassifyClass\n"
        "def fetch(client):\n"
        "    return client.classify.videos(ids, opts, classes)\n"
        "def use(client):\n"
        "    res = fetch(client)\n"
        "    for page in res:\n"
        "        pass\n"
        "def keep(c: 'ClassifyClass') -> bool:\n"
        "    return c.score > 80\n"
        "def keep2(c: ClassifyClass) -> bool:\n"
        "    return c.duration_ratio > 0.5\n"
    )
    assert kinds_of(src) == {
        (1, "import"),
        (3, "classify-videos"),
        (6, "iteration"),
        (9, "score-read"),
        (11, "duration-ratio-read"),
    }


def test_ambiguous_function_names_are_not_followed() -> None:
    """A return is followed only when every definition with that name returns a result."""
    src = (
        "class A:\n"
        "    def get(self, client):\n"
        "        return client.classify.videos(ids, opts, classes)\n"
        "class B:\n"
        "    def get(self):\n"
        "        return Row()\n"
        "row = B().get()\n"
        "print(row.score)\n"
    )
    assert kinds_of(src) == {(3, "classify-videos")}


def test_generators_of_pages_are_not_iteration_sites() -> None:
    src = (
        "def pages(client):\n"
        "    res = client.classify.videos(ids, opts, classes)\n"
        "    yield res.data\n"
        "    for more in res:\n"
        "        yield more\n"
        "for data in pages(c):\n"
        "    for video in data:\n"
        "        print([k.score for k in video.classes])\n"
    )
    assert kinds_of(src) == {(2, "classify-videos"), (4, "iteration"), (8, "score-read")}


def test_index_needs_a_legacy_shape() -> None:
    assert kinds_of("x.classify.index('i', ['visual'], C)\n") == {(1, "classify-index")}
    assert kinds_of("x.classify.index(index_id='i')\n") == {(1, "classify-index")}
    assert kinds_of("x.classify.index(**params)\n") == {(1, "classify-index")}
    assert kinds_of("x.classify.index('i')\n") == set()


def test_walrus_tuple_and_with_bindings() -> None:
    src = (
        "with make() as client:\n"
        "    a, b = client.classify.by_page_token(t), 1\n"
        "    print(a.page_info.next_page_token)\n"
        "    if (r := client.classify.by_page_token(t)):\n"
        "        print(r.data[0].classes[0].score)\n"
    )
    assert kinds_of(src) == {
        (2, "by-page-token"),
        (3, "page-token-read"),
        (4, "by-page-token"),
        (5, "score-read"),
    }


def test_ignore_comments() -> None:
    src = (
        "res = client.classify.videos(ids, opts, C, threshold=T)  # classify-shim: ignore\n"
        "res2 = client.classify.videos(ids, opts, C, threshold=T)  # classify-shim: ignore[threshold-arg]\n"
    )
    assert kinds_of(src) == {(2, "classify-videos")}


def test_shim_imports_always_reported_plain_sdk_imports_only_with_usage() -> None:
    assert kinds_of("from classify_shim import TwelveLabs\n") == {(1, "shim-import")}
    assert kinds_of("import classify_shim\nclassify_shim.attach(c)\n") == {(1, "shim-import")}
    assert kinds_of("from twelvelabs import TwelveLabs\n") == set()
    assert kinds_of("from twelvelabs import TwelveLabs\n", all_imports=True) == {(1, "import")}
    assert kinds_of("from twelvelabs.models.classify import ClassifyPageResult\n") == {(1, "import")}
    assert kinds_of("import twelvelabs.resources.classify\n") == {(1, "import")}


def test_cross_file_parameters() -> None:
    report = scan_sources(
        [
            ("main.py", "from helpers import show\nshow(client.classify.videos(ids, opts, C))\n"),
            (
                "helpers.py",
                "def show(result):\n    for v in result.data:\n        print(v.classes[0].clips)\n",
            ),
        ]
    )
    assert {(f.file, f.line, f.kind) for f in report.findings} == {
        ("main.py", 2, "classify-videos"),
        ("helpers.py", 3, "clips-read"),
    }


def test_sdk_reference_iteration_example() -> None:
    """The documented pagination example, as users copied it."""
    src = (
        "result = client.classify.index(index_id='<ID>', options=['visual'], classes=CLASSES,\n"
        "                               include_clips=True, show_detailed_score=True, page_limit=1)\n"
        "def show(result):\n"
        "    data = getattr(result, 'data', result)\n"
        "    for video_data in data:\n"
        "        for class_data in video_data.classes:\n"
        "            print(class_data.score, class_data.detailed_scores)\n"
        "show(result)\n"
        "while True:\n"
        "    try:\n"
        "        show(next(result))\n"
        "    except StopIteration:\n"
        "        break\n"
    )
    assert kinds_of(src) == {
        (1, "classify-index"),
        (2, "include-clips-arg"),
        (2, "show-detailed-score-arg"),
        (7, "score-read"),
        (7, "detailed-scores-read"),
        (11, "iteration"),
    }


def test_getattr_calls_and_the_loop_that_pages_their_result() -> None:
    """``getattr(client.classify, "videos")(...)`` is a classify call; its result is a page result."""
    src = (
        "from twelvelabs import TwelveLabs\n"
        "client = TwelveLabs(api_key='k')\n"
        "res = getattr(client.classify, 'videos')(video_ids=['a'], options=['visual'], classes=[])\n"
        "for page in res:\n"
        "    print(page)\n"
        "fetch = getattr(getattr(client, 'classify'), 'by_page_token')\n"
        "p = fetch('tok')\n"
        "print(getattr(p.data[0].classes[0], 'score', 0))\n"
        "while True:\n"
        "    try:\n"
        "        nxt = next(res)\n"
        "    except StopIteration:\n"
        "        break\n"
        "getattr(client.classify, 'index')(0)\n"  # one argument: not the legacy shape
        "getattr(obj, 'videos')(1)\n"  # not the classify resource
    )
    assert kinds_of(src) == {
        (1, "import"),
        (3, "classify-videos"),
        (4, "iteration"),
        (7, "by-page-token"),
        (8, "score-read"),
        (11, "iteration"),
    }


def test_exclude_matches_the_paths_scan_prints() -> None:
    """Any path copied from the output (or its folder) excludes that file, whatever the scan root."""
    baseline = json.loads(run_cli("--json", "legacy_app").stdout)["findings"]
    printed = sorted({i["file"] for i in baseline})
    tagger = next(p for p in printed if p.endswith("tagger.py"))
    assert tagger == "legacy_app/tagger.py"
    for pattern in (tagger, "./" + tagger, "legacy_app/tag*", "*/tagger.py", "**/tagger.py"):
        doc = json.loads(run_cli("--json", "--exclude", pattern, "legacy_app").stdout)
        files = {i["file"] for i in doc["findings"]}
        assert tagger not in files, pattern
        assert files == set(printed) - {tagger}, pattern
    # scanning from the repository root: the printed path is longer, and still works
    root_run = run_cli("--json", "tests/fixtures/legacy_app", cwd=ROOT)
    long_paths = {i["file"] for i in json.loads(root_run.stdout)["findings"]}
    assert "tests/fixtures/legacy_app/tagger.py" in long_paths
    for pattern in ("tests/fixtures/legacy_app/tagger.py", "tests/fixtures/*/tagger.py"):
        doc = json.loads(run_cli("--json", "--exclude", pattern, "tests/fixtures/legacy_app", cwd=ROOT).stdout)
        assert {i["file"] for i in doc["findings"]} == long_paths - {"tests/fixtures/legacy_app/tagger.py"}
    # a folder, as printed, with or without a trailing slash
    for pattern in ("tests/fixtures/legacy_app", "tests/fixtures/legacy_app/"):
        doc = json.loads(run_cli("--json", "--exclude", pattern, "tests/fixtures", cwd=ROOT).stdout)
        assert not any(i["file"].startswith("tests/fixtures/legacy_app/") for i in doc["findings"]), pattern
