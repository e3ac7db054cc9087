"""The SQLite store: JSON only, private file modes, WAL, schema resets, open_store and its fallback."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

from classify_shim._config import ClientConfig
from classify_shim._store import (
    METADATA_TTL_S,
    CacheWarning,
    DecisionRecord,
    Evidence,
    GuardedStore,
    MemoryStore,
    ResultHeader,
    SQLiteStore,
    open_store,
)

CLASSES = [
    {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group", "Dance competition"]},
    {"name": "CookTok", "prompts": ["Cooking tutorial", "Cooking ustensils review"]},
]

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@posix_only
def test_new_cache_file_is_0600_in_a_0700_dir(tmp_path: Path) -> None:
    path = tmp_path / "made" / "by" / "us" / "c.sqlite3"
    old = os.umask(0o022)
    try:
        store = SQLiteStore(path)
    finally:
        os.umask(old)
    store.put_answer("k", {"data": "x"})
    store.close()
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700


@posix_only
def test_existing_dir_mode_is_left_alone_but_file_is_private(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    path = tmp_path / "c.sqlite3"
    path.write_bytes(b"")
    os.chmod(path, 0o644)
    SQLiteStore(path).close()
    assert _mode(path) == 0o600
    assert _mode(tmp_path) == 0o755


def test_values_are_json_text_and_no_pickle(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    store = SQLiteStore(path)
    store.put_answer("a", {"data": '{"classes": []}', "finish_reason": "stop"})
    store.put_video("s", "idx", "vid", {"video_id": "vid", "duration": 12.5, "transcript": [[0, 1, "hi"]]})
    store.put_result("0" * 32, _header("s"), [[{"video_id": "v"}]])
    store.put_decision(DecisionRecord.new("http://h", "v1.2", "pegasus", Evidence(410, None, "gone", 1.0)))
    store.put_video_index("s", {"vid": "idx"})
    store.close()
    db = sqlite3.connect(str(path))
    try:
        for table in ("answers", "videos", "results", "decisions"):
            for (text,) in db.execute(f"SELECT value FROM {table}"):
                assert isinstance(text, str)
                assert isinstance(json.loads(text), dict)
        for (text,) in db.execute("SELECT value FROM pages"):
            assert isinstance(json.loads(text), list)
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()
    with pytest.raises(TypeError):  # anything that is not JSON is refused, never pickled
        SQLiteStore(path).put_answer("b", {"data": object()})


def _header(scope: str, expires_at: int = 2_000_000_000) -> ResultHeader:
    return ResultHeader(scope=scope, page_limit=10, total_results=1, pages=1, expires_at=expires_at)


def test_stale_metadata_and_old_results_are_dropped(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "c.sqlite3")
    store.put_result("b" * 32, _header("s", expires_at=1000), [[]])  # expired long ago
    assert store.metadata_ttl_s == METADATA_TTL_S
    store.metadata_ttl_s = -1.0  # this store's, not the module's
    store.put_video("s", "i", "v", {"duration": 1})  # written already stale
    assert store.get_video("s", "i", "v") is None
    store.put_result("c" * 32, _header("s"), [[]])  # writing purges the expired rows
    db = sqlite3.connect(str(tmp_path / "c.sqlite3"))
    try:
        assert db.execute("SELECT COUNT(*) FROM results WHERE result_id = ?", ("b" * 32,)).fetchone()[0] == 0
        assert db.execute("SELECT COUNT(*) FROM pages WHERE result_id = ?", ("b" * 32,)).fetchone()[0] == 0
    finally:
        db.close()
    assert store.get_page("c" * 32, "s", 0) is not None
    assert store.prune()["videos"] == 1  # the stale metadata row is deleted, not just hidden
    store.close()


def test_unknown_schema_version_resets_the_cache(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    store = SQLiteStore(path)
    store.put_answer("k", {"data": "x"})
    store.close()
    db = sqlite3.connect(str(path))
    db.execute("UPDATE meta SET v = 'old' WHERE k = 'schema'")
    db.commit()
    db.close()
    store = SQLiteStore(path)
    assert store.get_answer("k") is None
    store.close()


def test_memory_store_keeps_pages_but_not_answers() -> None:
    store = MemoryStore()
    store.put_answer("k", {"data": "x"})
    assert store.get_answer("k") is None
    store.put_result("d" * 32, _header("s"), [[{"video_id": "v"}]])
    found = store.get_page("d" * 32, "s", 0)
    assert found is not None and found[1] == [{"video_id": "v"}]
    assert store.get_page("d" * 32, "other", 0) is None
    store.put_video_index("s", {"v": "i"})
    assert store.get_video_indexes("s", ["v"]) == {"v": "i"}
    assert not store.persistent
    fallback = MemoryStore(keep_answers=True)  # the guard's overlay keeps paid answers
    fallback.put_answer("k", {"data": "x"})
    assert fallback.get_answer("k") == {"data": "x"}


def _config(cache: Any) -> ClientConfig:
    return ClientConfig.build(
        "k", "v1.2", classify_backend="pegasus", base_url="http://127.0.0.1:9", timeout=5.0, max_retries=0,
        cache=cache,
    )


def test_open_store_follows_the_config(tmp_path: Path) -> None:
    off = open_store(_config(False))
    assert isinstance(off, MemoryStore)
    on = open_store(_config(tmp_path / "c.sqlite3"))
    assert isinstance(on, GuardedStore) and on.kind == "sqlite" and on.persistent
    on.close()


def test_unusable_cache_path_falls_back_to_memory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = open_store(_config(blocker / "c.sqlite3"))
    assert store.kind == "memory" and not store.persistent
    with pytest.warns(CacheWarning, match="memory"):  # one warning, with the first use
        store.put_answer("k", {"data": "x"})  # paid answers are still kept for this client
    assert store.get_answer("k") == {"data": "x"}
    store.close()


def test_a_file_that_is_not_a_database_is_moved_aside(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.sqlite3"
    corrupt.write_bytes(b"this is not a database" * 100)
    store = open_store(_config(corrupt))
    assert store.kind == "sqlite" and store.persistent
    store.close()
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("corrupt.sqlite3.damaged-")]
    assert len(aside) == 1 and aside[0].read_bytes() == b"this is not a database" * 100


@posix_only
def test_classify_through_the_client_writes_a_private_json_cache(sb: Any, tmp_path: Path) -> None:
    from classify_shim import TwelveLabs

    path = tmp_path / "cachedir" / "c.sqlite3"
    vids = [v["_id"] for v in sb.world["indexes"][0]["videos"][:2]]
    secret = "tlk_secret_marker_0123456789"
    with TwelveLabs(
        api_key=secret, classify_backend="pegasus", base_url=sb.base_url, cache=path
    ) as client, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client.classify.videos(vids, ["visual"], CLASSES)
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700
    db = sqlite3.connect(str(path))
    try:
        answers = [json.loads(v) for (v,) in db.execute("SELECT value FROM answers")]
        videos = db.execute("SELECT COUNT(*) FROM videos").fetchone()[0]
        results = db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    finally:
        db.close()
    assert len(answers) == 2 and all(a["finish_reason"] == "stop" for a in answers)
    assert all(isinstance(a["data"], str) for a in answers)
    assert videos == 2 and results == 1
    for part in path.parent.iterdir():  # the file and its WAL: only a fingerprint of the key is stored
        assert secret.encode() not in part.read_bytes(), part.name


def test_a_page_read_searches_by_key_and_never_scans(tmp_path: Path) -> None:
    """Every statement a page read runs uses an index (``SEARCH``), none reads a table through
    (``SCAN``): a page costs the same in a 100-page and a 2,000-page result, whatever else the
    file holds. Checked on the statements the store really sends (SQLite's trace), for a page of
    a result it wrote and for one another connection (process) wrote."""
    import time as _time

    def header(pages: int) -> ResultHeader:
        return ResultHeader(scope="s", page_limit=2, total_results=2 * pages, pages=pages,
                            expires_at=int(_time.time() + 600), errors=[], total_videos=2 * pages, model="m")

    store, other = SQLiteStore(tmp_path / "c.sqlite3"), SQLiteStore(tmp_path / "c.sqlite3")
    try:
        for n, rid in enumerate(("a" * 32, "b" * 32, "c" * 32)):
            pages = [[{"video_id": f"{rid[0]}{p}-{i}"} for i in range(2)] for p in range(100 * (n + 1))]
            (other if rid == "c" * 32 else store).put_result(rid, header(len(pages)), pages)
        sent: list = []
        db = store._conn()
        db.set_trace_callback(sent.append)
        for rid, page in (("a" * 32, 57), ("b" * 32, 199), ("c" * 32, 3)):
            found = store.get_page(rid, "s", page)
            assert found is not None and found[1][0]["video_id"] == f"{rid[0]}{page}-0"
        db.set_trace_callback(None)
        selects = [q for q in sent if q.lstrip().upper().startswith("SELECT") and " FROM " in q.upper()]
        assert any("pages" in q for q in selects) and any("results" in q for q in selects)
        for query in selects:
            plan = [row[-1] for row in db.execute("EXPLAIN QUERY PLAN " + query)]
            assert plan and not any(step.startswith("SCAN") for step in plan), (query, plan)
            assert all(step.startswith("SEARCH") for step in plan if " pages" in step or " results" in step)
    finally:
        store.close()
        other.close()
