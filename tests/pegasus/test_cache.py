"""The Pegasus cache: JSON only, private file modes, scoped rows, memory fallback."""

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
from classify_shim.adapters.pegasus import _cache
from classify_shim.adapters.pegasus._cache import MemoryStore, SQLiteStore, open_store

from classify_shim._config import ClientConfig

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
    store.put_result("0" * 32, "s", 1e12, {"data": [{"video_id": "v"}], "page_limit": 10})
    store.put_decision("http://h", "pegasus")
    store.put_video_index("s", {"vid": "idx"})
    store.close()
    db = sqlite3.connect(str(path))
    try:
        for table, column in (("answers", "value"), ("videos", "value"), ("results", "value")):
            for (text,) in db.execute(f"SELECT {column} FROM {table}"):
                assert isinstance(text, str)
                assert isinstance(json.loads(text), dict)
    finally:
        db.close()
    source = Path(_cache.__file__).read_text(encoding="utf-8")
    assert "import pickle" not in source and "pickle." not in source
    with pytest.raises(TypeError):  # anything that is not JSON is refused, never pickled
        SQLiteStore(path).put_answer("b", {"data": object()})


def test_round_trips_and_scopes(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "c.sqlite3")
    store.put_answer("k1", {"data": "é"})
    assert store.get_answer("k1") == {"data": "é"}
    assert store.get_answer("k2") is None
    store.put_video("scopeA", "idx", "vid", {"duration": 3})
    assert store.get_video("scopeA", "idx", "vid") == {"duration": 3}
    assert store.get_video("scopeB", "idx", "vid") is None
    store.put_video_index("scopeA", {"v1": "i1", "v2": "i2"})
    assert store.get_video_index("scopeA", "v2") == "i2"
    assert store.get_video_index("scopeB", "v2") is None
    store.forget_video_index("scopeA", "v2")
    assert store.get_video_index("scopeA", "v2") is None
    rid = "a" * 32
    store.put_result(rid, "scopeA", 1e12, {"data": [1, 2]})
    assert store.get_result(rid, "scopeA") == {"data": [1, 2]}
    assert store.get_result(rid, "scopeB") is None  # another key's results are invisible
    assert store.get_decision("http://h") is None
    store.put_decision("http://h", "pegasus")
    assert store.get_decision("http://h") == "pegasus"
    store.close()
    reopened = SQLiteStore(tmp_path / "c.sqlite3")  # persistent across "processes"
    assert reopened.get_answer("k1") == {"data": "é"}
    assert reopened.get_decision("http://h") == "pegasus"
    reopened.close()


def test_stale_metadata_and_old_results_are_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SQLiteStore(tmp_path / "c.sqlite3")
    store.put_video("s", "i", "v", {"duration": 1})
    store.put_result("b" * 32, "s", 1000.0, {"data": []})  # expired long ago
    monkeypatch.setattr(_cache, "METADATA_TTL_S", -1.0)
    assert store.get_video("s", "i", "v") is None
    store.put_result("c" * 32, "s", 1e12, {"data": []})  # writing purges the expired row
    assert store.get_result("b" * 32, "s") is None
    assert store.get_result("c" * 32, "s") is not None
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
    store.put_result("d" * 32, "s", 1e12, {"data": [1]})
    assert store.get_result("d" * 32, "s") == {"data": [1]}
    assert store.get_result("d" * 32, "other") is None
    store.put_video_index("s", {"v": "i"})
    assert store.get_video_index("s", "v") == "i"
    assert not store.persistent


def _config(cache: Any) -> ClientConfig:
    return ClientConfig.build(
        "k", "v1.2", classify_backend="pegasus", base_url="http://127.0.0.1:9", timeout=5.0, max_retries=0,
        cache=cache,
    )


def test_open_store_follows_the_config(tmp_path: Path) -> None:
    off = open_store(_config(False))
    assert isinstance(off, MemoryStore)
    on = open_store(_config(tmp_path / "c.sqlite3"))
    assert isinstance(on, SQLiteStore)
    on.close()


def test_unusable_cache_path_falls_back_to_memory(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    store = open_store(_config(blocker / "c.sqlite3"))
    assert isinstance(store, MemoryStore)
    corrupt = tmp_path / "corrupt.sqlite3"
    corrupt.write_bytes(b"this is not a database" * 100)
    assert isinstance(open_store(_config(corrupt)), MemoryStore)


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
    assert secret.encode() not in path.read_bytes()  # only a fingerprint of the key is stored


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
def test_forget_video_drops_metadata_and_placement(tmp_path: Path, kind: str) -> None:
    store = SQLiteStore(tmp_path / "c.sqlite3") if kind == "sqlite" else MemoryStore()
    store.put_video("s", "i", "v", {"duration": 1})
    store.put_video("s", "i", "w", {"duration": 2})
    store.put_video_index("s", {"v": "i", "w": "i"})
    store.forget_video("s", "v")
    assert store.get_video("s", "i", "v") is None and store.get_video_index("s", "v") is None
    assert store.get_video("s", "i", "w") == {"duration": 2} and store.get_video_index("s", "w") == "i"
    store.close()
