"""A sync call whose every answer is stored is served on the caller's thread (``_cached``).

Checked against the engine itself (the same call with the fast path switched off): same pages,
same errors, same counts, same progress reports; no request, no loop thread; the deprecation
warning once per call site on the caller's line; and anything not in the store (another
request, one more video, a record without its transcript) still goes through the engine.
"""

from __future__ import annotations

import dataclasses
import inspect
import warnings
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest

from classify_shim import ClassifyDeprecationWarning, TwelveLabs
from classify_shim.adapters.pegasus import Progress

from .conftest import video_ids

KEY = "tlk_pegasus_fastpath_01"
CLASSES = [
    {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group", "Dance competition"]},
    {"name": "CookTok", "prompts": ["Cooking tutorial", "Cooking ustensils review"]},
]
SOURCES = ["visual", "conversation"]


pytestmark = pytest.mark.usefixtures("quiet")


def _client(sb: Any, tmp_path: Path, **kwargs: Any) -> TwelveLabs:
    kwargs.setdefault("cache", tmp_path / "c.sqlite3")
    return TwelveLabs(api_key=KEY, classify_backend="pegasus", base_url=sb.base_url, max_retries=0, **kwargs)


def _analyze_calls(sb: Any) -> int:
    return len([r for r in sb.requests() if r["endpoint"] == "v1.3.analyze"])


def _engine_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("classify_shim.adapters.pegasus.serve_cached", lambda core, request: None)


def _pages(client: TwelveLabs, first: Any) -> List[Tuple[Any, ...]]:
    out = []
    result = first
    while True:
        info = result.page_info
        out.append((result.data, info.limit_per_page, info.total_results, bool(info.next_page_token),
                    bool(info.prev_page_token), result.errors))
        if not info.next_page_token:
            return out
        result = client.classify.by_page_token(info.next_page_token)


def test_served_without_loop_or_request_and_equal_to_the_engines_answer(
    sb: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vids = video_ids(sb)
    with _client(sb, tmp_path) as filler:
        filler.classify.videos(vids, SOURCES, CLASSES, page_limit=2)
    assert _analyze_calls(sb) == len(vids)

    with monkeypatch.context() as patch:
        _engine_only(patch)
        with _client(sb, tmp_path) as slow:
            sb.clear_requests()
            engine = slow.classify.videos(vids, SOURCES, CLASSES, page_limit=2, include_clips=True)
            assert slow._backend._runner.loop is not None  # it did run on the loop
            engine_pages = _pages(slow, engine)
            engine_stats = dataclasses.asdict(slow._backend.last_run)
    assert sb.requests() == []

    with _client(sb, tmp_path) as fast:
        sb.clear_requests()
        served = fast.classify.videos(vids, SOURCES, CLASSES, page_limit=2, include_clips=True)
        assert fast._backend._runner.loop is None  # no loop thread, no connection pool
        assert dataclasses.asdict(fast._backend.last_run) == engine_stats
        assert _pages(fast, served) == engine_pages
        assert served.page_info.next_page_token != engine.page_info.next_page_token  # a result of its own
        assert len(engine_pages) > 1 and engine_stats["cached_chunks"] == len(vids)
    assert sb.requests() == []


def test_progress_reported_once_per_video_as_the_engine_reports_it(
    sb: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vids = video_ids(sb)[:4]
    reports: Dict[str, List[Progress]] = {"engine": [], "fast": []}
    with _client(sb, tmp_path) as filler:
        filler.classify.videos(vids, SOURCES, CLASSES)
    with monkeypatch.context() as patch:
        _engine_only(patch)
        with _client(sb, tmp_path, on_progress=reports["engine"].append) as slow:
            slow.classify.videos(vids, SOURCES, CLASSES)
    with _client(sb, tmp_path, on_progress=reports["fast"].append) as fast:
        fast.classify.videos(vids, SOURCES, CLASSES)
        assert fast._backend._runner.loop is None
    for got in reports.values():
        assert [p.done for p in got] == [1, 2, 3, 4]
        assert {p.total for p in got} == {4}
    assert sorted((p.video_id, p.status) for p in reports["fast"]) == sorted(
        (p.video_id, p.status) for p in reports["engine"]) == sorted((v, "cached") for v in vids)


def test_deprecation_warning_once_per_call_site_on_the_callers_line(sb: Any, tmp_path: Path) -> None:
    vids = video_ids(sb)[:3]
    with _client(sb, tmp_path) as filler:
        filler.classify.videos(vids, SOURCES, CLASSES)
    with _client(sb, tmp_path) as fast, warnings.catch_warnings(record=True) as caught:
        warnings.filterwarnings("default", category=DeprecationWarning)
        for _ in range(3):
            line = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
            fast.classify.videos(vids, SOURCES, CLASSES)
        assert fast._backend._runner.loop is None
    ours = [w for w in caught if issubclass(w.category, ClassifyDeprecationWarning)]
    assert [(w.filename, w.lineno) for w in ours] == [(__file__, line)]
    assert "pegasus" in str(ours[0].message)
    assert [w for w in caught if w not in ours] == []  # nothing else (no partial-result warning)


def test_a_changed_request_goes_to_the_engine_and_pays(sb: Any, tmp_path: Path) -> None:
    vids = video_ids(sb)[:3]
    with _client(sb, tmp_path) as client:
        client.classify.videos(vids, SOURCES, CLASSES)
        assert client._backend._runner.loop is not None
    with _client(sb, tmp_path) as client:
        sb.clear_requests()
        client.classify.videos(vids, ["visual"], CLASSES)  # other sources: other prompt, other answers
        assert _analyze_calls(sb) == len(vids)
        assert client._backend._runner.loop is not None


def test_one_video_not_in_the_store_runs_the_engine_once_for_every_video(sb: Any, tmp_path: Path) -> None:
    vids = video_ids(sb)[:4]
    seen: List[Progress] = []
    with _client(sb, tmp_path) as filler:
        filler.classify.videos(vids[:3], SOURCES, CLASSES)
    with _client(sb, tmp_path, on_progress=seen.append) as client:
        sb.clear_requests()
        result = client.classify.videos(vids, SOURCES, CLASSES)
        assert client._backend._runner.loop is not None
        stats = client._backend.last_run
    assert _analyze_calls(sb) == 1  # only the new video is paid for
    assert sorted((p.video_id, p.status) for p in seen) == sorted(
        [(v, "cached") for v in vids[:3]] + [(vids[3], "analyzed")])
    assert [p.done for p in seen] == [1, 2, 3, 4]  # nothing reported twice
    assert stats is not None and stats.cached_chunks == 3 and stats.analyze_calls == 1
    assert result.errors == []


def test_exact_match_needs_stored_transcripts(sb: Any, tmp_path: Path) -> None:
    vids = video_ids(sb)
    # A visual request places the videos by listing: their stored records carry no transcript.
    with _client(sb, tmp_path) as client:
        client.classify.videos(vids, ["visual"], CLASSES)
    exact: Dict[str, Any] = {"conversation_option": "exact_match", "include_clips": True}
    with _client(sb, tmp_path) as client:
        sb.clear_requests()
        first = client.classify.videos(vids, ["conversation"], CLASSES, **exact)
        gets = [r for r in sb.requests() if r["endpoint"] == "v1.3.video"]
        assert len(gets) == len(vids)  # the engine fetched each transcript
        assert client._backend._runner.loop is not None
    with _client(sb, tmp_path) as client:
        sb.clear_requests()
        again = client.classify.videos(vids, ["conversation"], CLASSES, **exact)
        assert client._backend._runner.loop is None  # now the store holds them
        assert client._backend.last_run is not None and client._backend.last_run.cached_chunks == 0
    assert sb.requests() == []
    assert again.data == first.data and again.data
