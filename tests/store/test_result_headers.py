"""A stored result's header (with the run's whole error list) is decoded once, not per page.

Work counted, not timed, on SQLite and a real Redis server: a store that reads several pages
of one result decodes its header once and hands out that header; a result removed, expired or
written again under the same id (by another process) is seen as such at the next page read
(on Redis by the stored value's length: the rewrite below has other errors).
"""

from __future__ import annotations

import time
from typing import Any, Dict, List

import pytest

from classify_shim._store import ResultHeader, Store

FAILURES = 2000


def _errors(n: int, tag: str = "") -> List[Dict[str, Any]]:
    return [{"video_id": f"f{tag}{i:05d}", "stage": "parse", "message": f"unreadable {tag}{i}", "attempts": 2}
            for i in range(n)]


def _header(scope: str, pages: int, errors: List[Dict[str, Any]], *, expires_at: int = 0) -> ResultHeader:
    return ResultHeader(
        scope=scope, page_limit=2, total_results=pages * 2, pages=pages,
        expires_at=expires_at or int(time.time() + 600), errors=errors,
        total_videos=pages * 2 + len(errors), model="pegasus1.2",
    )


def _pages(n: int) -> List[List[Dict[str, Any]]]:
    return [[{"video_id": f"v{p}-{i}"} for i in range(2)] for p in range(n)]


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> List[int]:
    """How many headers were decoded (their error counts), by any store."""
    counts: List[int] = []
    real = ResultHeader.from_json.__func__  # type: ignore[attr-defined]

    def counting(cls: Any, value: Any) -> ResultHeader:
        header: ResultHeader = real(cls, value)
        counts.append(len(header.errors))
        return header

    monkeypatch.setattr(ResultHeader, "from_json", classmethod(counting))
    return counts


def test_every_page_of_a_result_comes_with_one_decoded_header(
    store: Store, make_store: Any, decoded: List[int]
) -> None:
    rid = "1" * 32
    errors = _errors(FAILURES)
    pages = _pages(6)
    store.put_result(rid, _header("s", 6, errors), pages)
    other = make_store()  # another process: nothing of this result in its memory yet
    seen = []
    for n in (0, 3, 5, 1, 7):
        found = other.get_page(rid, "s", n)
        assert found is not None
        seen.append(found[0])
        assert found[1] == (pages[n] if n < 6 else [])
    assert decoded == [FAILURES]  # once, at the first page
    assert all(h is seen[0] for h in seen) and seen[0].errors == errors
    assert other.get_page(rid, "another scope", 0) is None
    # The writer itself decodes nothing: it keeps the header it wrote.
    found = store.get_page(rid, "s", 2)
    assert found is not None and found[0].errors == errors and decoded == [FAILURES]


def test_a_result_removed_expired_or_written_again_is_read_as_it_is_now(
    store: Store, make_store: Any, decoded: List[int]
) -> None:
    rid = "2" * 32
    store.put_result(rid, _header("s", 2, _errors(10)), _pages(2))
    reader = make_store()
    assert reader.get_page(rid, "s", 0) is not None
    assert reader.get_page(rid, "s", 1) is not None and decoded == [10]

    store.clear(["results"])  # removed by another process
    assert reader.get_page(rid, "s", 1) is None

    store.put_result(rid, _header("s", 3, _errors(12, "b")), _pages(3))  # written again, same id
    found = reader.get_page(rid, "s", 2)
    assert found is not None and found[0].pages == 3 and found[0].errors == _errors(12, "b")
    assert decoded == [10, 12]

    store.put_result(rid, _header("s", 3, _errors(12, "b"), expires_at=int(time.time()) - 7200), _pages(3))
    assert reader.get_page(rid, "s", 0) is None  # expired (past the grace hour)
