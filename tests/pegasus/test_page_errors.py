"""The error list of a stored result, carried by each of its pages: read once, merged once.

Work counted, not timed: walking every page of a stored result with 500 failed videos builds
the 500 ``VideoFailure``s once per client (not once per page), every page still reports all
of them, and the result's ``errors`` hold each failure once, in the run's order. Pages whose
error lists differ (not one stored result) are still merged failure by failure.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Dict, List

import pytest

from classify_shim import TwelveLabs
from classify_shim._store import ResultHeader
from classify_shim._tokens import make_token
from classify_shim.models import ClassifyPageResult
from classify_shim.types import VideoFailure

KEY = "tlk_pegasus_page_errors"
FAILED = 500
LIMIT = 5


pytestmark = pytest.mark.usefixtures("quiet")


def _client(tmp_path: Path) -> TwelveLabs:
    # No request is made by page fetches: the base URL is never contacted.
    return TwelveLabs(api_key=KEY, classify_backend="pegasus", base_url="http://127.0.0.1:9",
                      cache=tmp_path / "c.sqlite3")


def _failures() -> List[VideoFailure]:
    return [VideoFailure(f"failed{i:04d}", "parse", f"model answer unreadable ({i})", 2) for i in range(FAILED)]


def _store(client: TwelveLabs, videos: int) -> str:
    """A stored result of ``videos`` videos and FAILED failures, as a run leaves it; page 0's token."""
    core = client._open_backend()._core  # type: ignore[attr-defined]
    data = [{"video_id": f"v{i:04d}", "classes": [{"name": "A", "score": 90.0 - i / 100, "duration_ratio": 0.5}]}
            for i in range(videos)]
    pages = [data[s:s + LIMIT] for s in range(0, videos, LIMIT)]
    expires = int(time.time() + 600)
    header = ResultHeader(scope=core.scope, page_limit=LIMIT, total_results=videos, pages=len(pages),
                          expires_at=expires, errors=[asdict(f) for f in _failures()],
                          total_videos=videos + FAILED, model="pegasus1.2")
    core.store.put_result("e" * 32, header, pages)
    return make_token(KEY, "e" * 32, 0, expires)


def test_walking_every_page_builds_the_error_list_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from classify_shim.adapters.pegasus import _engine

    with _client(tmp_path) as writer:
        token = _store(writer, 60)
    built: List[str] = []
    real = _engine.VideoFailure

    def counting(**fields: Any) -> VideoFailure:
        built.append(fields["video_id"])
        return real(**fields)

    monkeypatch.setattr(_engine, "VideoFailure", counting)
    with _client(tmp_path) as reader:  # another process: reads the header from the file
        result = reader.classify.by_page_token(token)
        pages = [result.data]
        for data in result:
            pages.append(data)
        assert len(pages) == 12 and sum(len(p) for p in pages) == 60
        assert result.errors == _failures()  # each once, in order
        assert built == [f.video_id for f in _failures()]  # once for all 12 pages
        middle = reader.classify.by_page_token(make_token(KEY, "e" * 32, 6, int(time.time() + 600)))
        assert middle.errors == _failures() and len(built) == FAILED


class _Pages:
    """A resource serving prepared pages by token (what ``next(result)`` asks for)."""

    def __init__(self, pages: Dict[str, ClassifyPageResult]) -> None:
        self.pages = pages

    def by_page_token(self, token: str) -> ClassifyPageResult:
        return self.pages[token]


def _page(resource: Any, nxt: str, errors: List[VideoFailure]) -> ClassifyPageResult:
    body: Any = {"data": [], "page_info": {"limit_per_page": 1, "total_results": 3, "page_expired_at": "x",
                                            "next_page_token": nxt, "prev_page_token": ""}}
    return ClassifyPageResult.from_body(resource, body, errors, "pegasus")


def test_pages_with_other_error_lists_are_merged_failure_by_failure() -> None:
    a, b, c = (VideoFailure(v, "parse", "m") for v in ("a", "b", "c"))
    resource = _Pages({})
    shared = [b]
    resource.pages = {"t1": _page(resource, "t2", [a, b]), "t2": _page(resource, "t3", shared),
                      "t3": _page(resource, "", shared)}
    first = _page(resource, "t1", [a])
    list(first)
    assert first.errors == [a, b]
    other = _Pages({})
    other.pages = {"u1": _page(other, "u2", [b, c]), "u2": _page(other, "", [c, a])}
    start = _page(other, "u1", [a])
    list(start)
    assert start.errors == [a, b, c]
