"""Store faults never lose paid work: disk full, a read-only directory, a damaged file, Redis down.

Each case runs a real classify call against the sandbox and checks: every video is in the
result (compared with a healthy run), every page token works, exactly one ``CacheWarning``,
no ``sqlite3``/``redis`` exception reaches the caller, and what the store still holds is not
paid for again. A damaged file is moved aside and rebuilt.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import warnings
from pathlib import Path
from typing import Any, Iterator, List, Tuple

import pytest

from classify_shim import TwelveLabs
from classify_shim._store import CacheWarning, SQLiteStore, StoreFault

KEY = "tlk_store_faults_key"
CLASSES = [
    {"name": "DanceTok", "prompts": ["Dance tutorial", "Dance group"]},
    {"name": "CookTok", "prompts": ["Cooking tutorial"]},
]


def _ids(sb: Any) -> List[str]:
    return [v["_id"] for ix in sb.world["indexes"] for v in ix["videos"]]


def _analyze(sb: Any) -> int:
    return sum(1 for r in sb.requests() if r.get("endpoint") == "v1.3.analyze")


def _client(sb: Any, cache: Any) -> TwelveLabs:
    return TwelveLabs(KEY, classify_backend="pegasus", base_url=sb.base_url, cache=cache, max_retries=0)


def _all_pages(client: TwelveLabs, ids: List[str]) -> Tuple[List[Any], List[warnings.WarningMessage]]:
    """Every item of every page, and the warnings raised on the way (deprecations left out)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = client.classify.videos(ids, ["visual"], CLASSES, page_limit=3)
        items = [v.model_dump() for v in result.data]
        for page in result:
            items.extend(v.model_dump() for v in page)
    return items, [w for w in caught if issubclass(w.category, CacheWarning)]


@pytest.fixture
def healthy(sb: Any) -> List[Any]:
    with _client(sb, False) as client:
        items, _ = _all_pages(client, _ids(sb))
    sb.clear_requests()
    return items


def test_disk_full_keeps_every_answer_in_memory(sb: Any, tmp_path: Path, healthy: List[Any]) -> None:
    """Figure: the file may not grow by one page; 13 videos -> 13 calls, full result, 1 warning;
    the same client's repeat -> 0 calls."""
    ids = _ids(sb)
    with _client(sb, tmp_path / "full.sqlite3") as client:
        primary = client._backend._core.store._primary  # type: ignore[attr-defined]
        db = primary._db
        db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
        items, cache_warnings = _all_pages(client, ids)
        assert items == healthy
        assert _analyze(sb) == len(ids)
        assert len(cache_warnings) == 1 and "full" in str(cache_warnings[0].message)
        sb.clear_requests()
        again, more = _all_pages(client, ids)
        assert again == healthy and _analyze(sb) == 0 and more == []  # warned once, answers kept


def test_full_disk_error_is_the_one_reported(tmp_path: Path) -> None:
    """No "cannot rollback" in place of the real cause, and no raw sqlite3 exception."""
    store = SQLiteStore(tmp_path / "c.sqlite3")
    db = store._db
    assert db is not None
    db.execute(f"PRAGMA max_page_count = {db.execute('PRAGMA page_count').fetchone()[0]}")
    with pytest.raises(StoreFault) as info:
        store.put_video_index("s", {f"v{i}": "i" * 200 for i in range(2000)})
    assert info.value.kind == "full" and "rollback" not in info.value.message
    assert isinstance(info.value.__cause__, sqlite3.Error)
    store.close()


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory nobody can create files in (root ignores modes: it gets the immutable flag)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    yield folder
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(folder)], check=False)
    os.chmod(folder, 0o700)


def _lock(folder: Path) -> None:
    if os.geteuid() == 0:
        if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(folder)]).returncode != 0:
            pytest.skip("running as root on a filesystem without the immutable flag: cannot make a read-only dir")
    else:
        os.chmod(folder, 0o500)


def test_read_only_directory_serves_what_it_holds_and_keeps_the_rest(
    sb: Any, read_only_dir: Path, healthy: List[Any]
) -> None:
    """Figure: 6 answers stored, then the directory is made read-only; 13 videos -> 7 calls."""
    ids = _ids(sb)
    path = read_only_dir / "c.sqlite3"
    with _client(sb, path) as client:
        _all_pages(client, ids[:6])
    sb.clear_requests()
    os.chmod(path, 0o600)  # the file itself stays writable
    _lock(read_only_dir)
    with _client(sb, path) as client:
        items, cache_warnings = _all_pages(client, ids)
    assert items == healthy
    assert _analyze(sb) == len(ids) - 6
    assert len(cache_warnings) == 1


def _damage(path: Path) -> None:
    """Overwrite the second half of the file; the 100-byte header (and page 1) stay intact."""
    data = bytearray(path.read_bytes())
    start = max(4096, len(data) // 2)
    for i in range(start, len(data)):
        data[i] = (i * 131) & 0xFF
    path.write_bytes(bytes(data))


def test_damaged_file_is_moved_aside_and_rebuilt(sb: Any, tmp_path: Path, healthy: List[Any]) -> None:
    ids = _ids(sb)
    path = tmp_path / "c.sqlite3"
    with _client(sb, path) as client:
        _all_pages(client, ids)
    db = sqlite3.connect(str(path))
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    _damage(path)
    assert path.read_bytes()[:16] == b"SQLite format 3\x00"  # the header is intact
    sb.clear_requests()
    with _client(sb, path) as client:
        items, cache_warnings = _all_pages(client, ids)
    assert items == healthy
    assert len(cache_warnings) == 1 and "moved" in str(cache_warnings[0].message)
    assert [p.name for p in tmp_path.iterdir() if ".damaged-" in p.name and not p.name.endswith(("-wal", "-shm"))]
    sb.clear_requests()
    with _client(sb, path) as client:  # the rebuilt cache is a working cache
        again, more = _all_pages(client, ids)
    assert again == healthy and _analyze(sb) == 0 and more == []


def test_unreachable_redis_degrades_to_memory(sb: Any, healthy: List[Any]) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: refused, and no other process can take it
        ids = _ids(sb)
        with _client(sb, f"redis://127.0.0.1:{port}/0") as client:
            items, cache_warnings = _all_pages(client, ids)
            assert items == healthy and _analyze(sb) == len(ids)
            assert len(cache_warnings) == 1
            sb.clear_requests()
            again, _ = _all_pages(client, ids)
            assert again == healthy and _analyze(sb) == 0


def test_redis_stopping_mid_life_loses_nothing(sb: Any, own_redis: str, healthy: List[Any]) -> None:
    """A redis-server of this test's own is stopped between two calls of one client."""
    ids = _ids(sb)
    with _client(sb, own_redis) as client:
        _all_pages(client, ids[:4])
        client_store = client._backend._core.store  # type: ignore[attr-defined]
        client_store._primary._r.shutdown(nosave=True)  # the server goes away
        sb.clear_requests()
        items, cache_warnings = _all_pages(client, ids)
    assert items == healthy
    assert _analyze(sb) == len(ids)  # nothing could be read back from the dead server: paid again, once
    assert len(cache_warnings) == 1
