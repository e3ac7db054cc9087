"""Deprecation warnings: visible by default, once per call site, on the caller's line, under the user's control.

Default visibility depends on the interpreter's own filters, which pytest replaces, so those checks
run a small application in a fresh interpreter. Attribution and the warning's content are also
checked in-process with ``catch_warnings(record=True)``.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import inspect
import re
import textwrap
import warnings
from pathlib import Path
from typing import Any, Dict, List, Tuple

import deprecation  # type: ignore[import-untyped]
import pytest

from classify_shim import (
    AsyncTwelveLabs,
    BadRequestError,
    ClassifyDeprecationWarning,
    TwelveLabs,
    UnsupportedWarning,
)
from legacy_support import API_KEY, REPO, child_env, run_python, world_videos

pytestmark = pytest.mark.filterwarnings("ignore::classify_shim.ClassifyDeprecationWarning")

CLASSES: List[Dict[str, Any]] = [{"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group"]}]
WARNING_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<category>\w+): (?P<text>client\.classify\.\w+\(\))", re.M)

WORKER = '''\
"""A module of a legacy application: its classify calls are not in __main__."""
CLASSES = [{"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group"]}]


def single(client, index_id):
    return client.classify.index(index_id, ["visual"], CLASSES)  # SITE-SINGLE


def loop(client, index_id):
    for _ in range(3):
        client.classify.index(index_id, ["visual"], CLASSES)  # SITE-LOOP


def two_sites(client, index_id):
    client.classify.index(index_id, ["visual"], CLASSES)  # SITE-FIRST
    client.classify.index(index_id, ["visual"], CLASSES)  # SITE-SECOND
'''

MAIN = '''\
import os
import sys
import warnings

from app import worker
from classify_shim import ClassifyDeprecationWarning, TwelveLabs

client = TwelveLabs(api_key=os.environ["KEY"], classify_backend="legacy", base_url=os.environ["SB_URL"])
index_id = os.environ["INDEX_ID"]
scenario = sys.argv[1]
if scenario == "filter-category":
    warnings.filterwarnings("ignore", category=ClassifyDeprecationWarning)
elif scenario == "filter-deprecation":
    warnings.filterwarnings("ignore", category=DeprecationWarning)
try:
    if scenario == "sites":
        worker.single(client, index_id)
        worker.single(client, index_id)
        worker.loop(client, index_id)
        worker.two_sites(client, index_id)
        print("CALLS 7")
    else:
        result = worker.single(client, index_id)
        print("CALLS 1 videos=%d" % len(result.data))
except Warning as exc:
    print("RAISED %s %s" % (type(exc).__name__, isinstance(exc, ClassifyDeprecationWarning)))
'''


@pytest.fixture
def app(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "worker.py").write_text(WORKER)
    (tmp_path / "main.py").write_text(MAIN)
    return tmp_path


def site_lines(app: Path) -> Dict[str, int]:
    lines = (app / "app" / "worker.py").read_text().splitlines()
    return {m.group(1): i + 1 for i, line in enumerate(lines) if (m := re.search(r"# (SITE-[A-Z]+)", line))}


def run_app(app: Path, sb: Any, scenario: str, *python_args: str, **env: str) -> Tuple[str, str, List[Tuple[str, int, str]]]:
    index_id = world_videos(sb.world)[0][0]
    proc = run_python([*python_args, "main.py", scenario], cwd=app,
                      env=child_env(KEY=API_KEY, SB_URL=sb.base_url, INDEX_ID=index_id, **env))
    assert proc.returncode == 0, proc.stderr
    found = [(m["file"], int(m["line"]), m["category"]) for m in WARNING_LINE.finditer(proc.stderr)]
    return proc.stdout, proc.stderr, found


def test_visible_by_default_in_an_imported_module_once_per_call_site(app: Path, sb: Any) -> None:
    stdout, stderr, found = run_app(app, sb, "sites")
    assert "CALLS 7" in stdout
    lines = site_lines(app)
    worker = str(app / "app" / "worker.py")
    # single() called twice -> 1; a loop of 3 -> 1; two lines -> 2.
    assert sorted(found) == sorted(
        (worker, lines[site], "UnsupportedWarning") for site in ("SITE-SINGLE", "SITE-LOOP", "SITE-FIRST", "SITE-SECOND")
    ), stderr
    assert len([r for r in sb.requests() if r["path"].endswith("/classify/bulk")]) == 7
    # The source line is shown, as Python does for its own warnings.
    assert "# SITE-LOOP" in stderr
    assert "classify_shim" not in "".join(f for f, _, _ in found)


def test_off_silences_everything(app: Path, sb: Any) -> None:
    stdout, stderr, found = run_app(app, sb, "sites", TWELVELABS_CLASSIFY_WARNINGS="off")
    assert "CALLS 7" in stdout
    assert found == [] and "Warning" not in stderr


@pytest.mark.parametrize(
    ("scenario", "python_args", "env"),
    [
        ("single", (), {"TWELVELABS_CLASSIFY_WARNINGS": "error"}),
        ("single", ("-W", "error::classify_shim.ClassifyDeprecationWarning"), {}),
        ("single", ("-W", "error::DeprecationWarning"), {}),
        ("single", (), {"PYTHONWARNINGS": "error::classify_shim.UnsupportedWarning"}),
    ],
    ids=["env-error", "W-error-category", "W-error-DeprecationWarning", "PYTHONWARNINGS-error"],
)
def test_escalation_raises_before_any_request(app: Path, sb: Any, scenario: str, python_args: Tuple[str, ...],
                                              env: Dict[str, str]) -> None:
    stdout, _stderr, _found = run_app(app, sb, scenario, *python_args, **env)
    assert "RAISED UnsupportedWarning True" in stdout
    assert sb.requests() == [], "the call was sent although the warning was escalated"


@pytest.mark.parametrize(
    ("scenario", "python_args", "env"),
    [
        ("single", ("-W", "ignore::DeprecationWarning"), {}),
        ("single", ("-W", "ignore::classify_shim.ClassifyDeprecationWarning"), {}),
        ("single", (), {"PYTHONWARNINGS": "ignore::DeprecationWarning"}),
        ("filter-category", (), {}),
        ("filter-deprecation", (), {}),
    ],
    ids=["W-ignore-DeprecationWarning", "W-ignore-category", "PYTHONWARNINGS-ignore",
         "filterwarnings-category", "filterwarnings-DeprecationWarning"],
)
def test_user_filters_hide_it(app: Path, sb: Any, scenario: str, python_args: Tuple[str, ...],
                              env: Dict[str, str]) -> None:
    stdout, stderr, found = run_app(app, sb, scenario, *python_args, **env)
    assert "CALLS 1" in stdout
    assert found == [], stderr
    assert len(sb.requests()) == 1


def test_call_in_main_is_attributed_to_main(tmp_path: Path, sb: Any) -> None:
    index_id = world_videos(sb.world)[0][0]
    script = tmp_path / "legacy.py"
    script.write_text(textwrap.dedent(f'''\
        from classify_shim import TwelveLabs
        client = TwelveLabs(api_key="{API_KEY}", classify_backend="legacy", base_url="{sb.base_url}")
        client.classify.index("{index_id}", ["visual"], {CLASSES!r})
        '''))
    proc = run_python([str(script)], cwd=tmp_path, env=child_env())
    assert proc.returncode == 0, proc.stderr
    found = [(m["file"], int(m["line"])) for m in WARNING_LINE.finditer(proc.stderr)]
    assert found == [(str(script), 3)]


# --------------------------------------------------------------------------- in-process


def _record(call: Any) -> List[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [w for w in caught if issubclass(w.category, ClassifyDeprecationWarning)]


def test_attributed_to_the_callers_file_and_line(legacy_client: TwelveLabs, sb: Any) -> None:
    index_id = world_videos(sb.world)[0][0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
        legacy_client.classify.index(index_id, ["visual"], CLASSES)
    ours = [w for w in caught if issubclass(w.category, ClassifyDeprecationWarning)]
    assert len(ours) == 1
    assert ours[0].filename == __file__
    assert ours[0].lineno == line


def test_async_call_is_attributed_to_the_caller(sb: Any) -> None:
    index_id = world_videos(sb.world)[0][0]
    where: Dict[str, int] = {}

    async def go() -> None:
        async with AsyncTwelveLabs(API_KEY, classify_backend="legacy", base_url=sb.base_url) as client:
            where["line"] = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
            await client.classify.index(index_id, ["visual"], CLASSES)

    ours = _record(lambda: asyncio.run(go()))
    assert [(w.filename, w.lineno) for w in ours] == [(__file__, where["line"])]


@pytest.mark.parametrize(
    ("method", "anchor", "replacement"),
    [("videos", "classify-videos", "client.analyze("), ("index", "classify-index", "client.indexes.videos.list("),
     ("by_page_token", "by-page-token", "analyze")],
)
def test_content_category_and_attributes(legacy_client: TwelveLabs, sb: Any, method: str, anchor: str,
                                         replacement: str) -> None:
    index_id, video_id = world_videos(sb.world)[0]
    first = legacy_client.classify.index(index_id, ["visual"], CLASSES, page_limit=1)
    calls = {
        "videos": lambda: legacy_client.classify.videos([video_id], ["visual"], CLASSES),
        "index": lambda: legacy_client.classify.index(index_id, ["visual"], CLASSES),
        "by_page_token": lambda: legacy_client.classify.by_page_token(first.page_info.next_page_token or "x"),
    }
    [w] = _record(calls[method])
    assert isinstance(w.message, ClassifyDeprecationWarning)
    assert isinstance(w.message, deprecation.DeprecatedWarning)
    assert isinstance(w.message, DeprecationWarning)
    message = w.message
    assert isinstance(message, UnsupportedWarning)  # the API's sunset (2025-02-28) has passed
    assert issubclass(UnsupportedWarning, deprecation.UnsupportedWarning)
    text = str(message)
    assert f"client.classify.{method}()" in text
    assert "legacy" in text and "v1.2" in text
    assert f"MIGRATION.md#{anchor}" in text
    assert replacement in text
    assert message.backend == "legacy"
    assert message.sunset == dt.date(2025, 2, 28)
    assert message.doc_url == f"MIGRATION.md#{anchor}"
    assert replacement in message.replacement and message.replacement in text
    assert message.since and message.removed_in and message.since == message.deprecated_in
    assert message.removed_in in text
    # Copies keep the extras (pytest and logging copy warnings).
    clone = copy.copy(message)
    assert (clone.doc_url, clone.backend, clone.sunset, type(clone)) == (
        message.doc_url, message.backend, message.sunset, type(message))


def test_migration_doc_has_every_anchor() -> None:
    doc = REPO / "MIGRATION.md"
    text = doc.read_text(encoding="utf-8")
    for anchor in ("classify-videos", "classify-index", "by-page-token"):
        assert f'id="{anchor}"' in text, anchor


def test_failed_call_still_warns(legacy_client: TwelveLabs) -> None:
    """A call that the server rejects was still a legacy call site."""
    caught: List[Any] = []

    def call() -> None:
        with pytest.raises(BadRequestError):
            legacy_client.classify.by_page_token("00000000-0000-0000-0000-000000000000-9")

    caught = _record(call)
    assert len(caught) == 1 and "by_page_token" in str(caught[0].message)


def test_rejected_input_does_not_warn(legacy_client: TwelveLabs, sb: Any) -> None:
    def call() -> None:
        with pytest.raises(BadRequestError):
            legacy_client.classify.videos([], ["visual"], CLASSES)

    assert _record(call) == []
    assert sb.requests() == []


def test_error_mode_in_process_raises_before_request(legacy_client: TwelveLabs, sb: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWELVELABS_CLASSIFY_WARNINGS", "error")
    index_id = world_videos(sb.world)[0][0]
    with pytest.raises(ClassifyDeprecationWarning) as info:
        legacy_client.classify.index(index_id, ["visual"], CLASSES)
    assert isinstance(info.value, UnsupportedWarning)
    assert sb.requests() == []


def test_off_in_process(legacy_client: TwelveLabs, sb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWELVELABS_CLASSIFY_WARNINGS", "off")
    index_id = world_videos(sb.world)[0][0]
    assert _record(lambda: legacy_client.classify.index(index_id, ["visual"], CLASSES)) == []
    assert len(sb.requests()) == 1


@pytest.mark.parametrize(
    ("python_args", "expected_sites"),
    [(("-W", "default::DeprecationWarning"), 4), (("-W", "always::DeprecationWarning"), 7)],
    ids=["W-default-once-per-site", "W-always-every-call"],
)
def test_user_filter_that_shows_it_keeps_its_own_rule(app: Path, sb: Any, python_args: Tuple[str, ...],
                                                      expected_sites: int) -> None:
    """With a user filter in force the warning goes through Python's registry: ``default``
    shows it once per call site (with its source line), ``always`` on every call."""
    stdout, stderr, found = run_app(app, sb, "sites", *python_args)
    assert "CALLS 7" in stdout
    assert len(found) == expected_sites, stderr
    assert {f for f, _, _ in found} == {str(app / "app" / "worker.py")}
    assert "# SITE-LOOP" in stderr


def test_user_default_filter_in_process_once_per_site_and_again_after_filters_change(
    legacy_client: TwelveLabs, sb: Any
) -> None:
    index_id = world_videos(sb.world)[0][0]

    def call() -> None:
        legacy_client.classify.index(index_id, ["visual"], CLASSES)

    with warnings.catch_warnings(record=True) as caught:
        warnings.filterwarnings("default", category=DeprecationWarning)
        for _ in range(3):
            call()
        assert len([w for w in caught if issubclass(w.category, ClassifyDeprecationWarning)]) == 1
        # Changing the filters resets Python's registries: the site is warned again, once.
        warnings.filterwarnings("ignore", category=ResourceWarning)
        call()
        call()
        assert len([w for w in caught if issubclass(w.category, ClassifyDeprecationWarning)]) == 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.filterwarnings("ignore", category=ClassifyDeprecationWarning)
        call()
        assert caught == []
    with warnings.catch_warnings(record=True) as caught:
        warnings.filterwarnings("error", message=r".*this call was served by", category=DeprecationWarning)
        with pytest.raises(UnsupportedWarning):  # matches the after-the-call text only: raised after it
            call()
    assert len(sb.requests()) == 7
