"""What the Pegasus backend remembers: answers, video metadata, result pages, the ``auto`` decision.

Two stores with one interface:

* :class:`SQLiteStore` at ``ClientConfig.cache_path`` (default: the user cache dir). Shared by
  every process of the user, so a page token made in one process is served in another and a
  repeated request costs no ``/analyze`` call. Values are JSON text (never pickle); the file is
  mode 0600 and a directory we create is 0700. Rows are scoped so they cannot leak between
  hosts or API keys (results and the video->index map carry a key fingerprint, never the key).
* :class:`MemoryStore` when the cache is off (``cache=False``): result pages, metadata and the
  video->index map live in this process for the client's life; answers are NOT kept, so every
  classify call asks the model again.

Only complete, parsed answers are stored: a truncated or invalid answer is never cached.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Protocol, Tuple

from classify_shim._config import ClientConfig

__all__ = ["SCHEMA_VERSION", "MemoryStore", "SQLiteStore", "Store", "open_store"]

log = logging.getLogger("classify_shim.pegasus")

SCHEMA_VERSION = "1"
METADATA_TTL_S = 7 * 24 * 3600.0
"""Video metadata (duration, asset id, transcript) is refreshed after a week."""
RESULT_GRACE_S = 3600.0
"""Expired result rows are kept this much longer (a late page fetch then says "expired", not "unknown")."""


class Store(Protocol):
    persistent: bool

    def get_answer(self, key: str) -> Optional[Dict[str, Any]]: ...

    def put_answer(self, key: str, value: Mapping[str, Any]) -> None: ...

    def get_video(self, scope: str, index_id: str, video_id: str) -> Optional[Dict[str, Any]]: ...

    def put_video(self, scope: str, index_id: str, video_id: str, value: Mapping[str, Any]) -> None: ...

    def put_videos(self, scope: str, values: Mapping[Tuple[str, str], Mapping[str, Any]]) -> None:
        """Many ``(index_id, video_id) -> record`` rows in one transaction (records from a listing)."""

    def forget_video(self, scope: str, video_id: str) -> None: ...

    def get_video_index(self, scope: str, video_id: str) -> Optional[str]: ...

    def put_video_index(self, scope: str, mapping: Mapping[str, str]) -> None: ...

    def forget_video_index(self, scope: str, video_id: str) -> None: ...

    def get_result(self, result_id: str, scope: str) -> Optional[Dict[str, Any]]: ...

    def put_result(self, result_id: str, scope: str, expires_at: float, value: Mapping[str, Any]) -> None: ...

    def get_decision(self, host: str) -> Optional[str]: ...

    def put_decision(self, host: str, backend: str) -> None: ...

    def get_record(self, kind: str, key: str) -> Optional[Dict[str, Any]]:
        """A small JSON record (job ids, model and schema decisions), or None."""

    def put_record(self, kind: str, key: str, value: Mapping[str, Any]) -> None:
        """Written at once (job ids must survive a crash right after the create call)."""

    def put_records(self, kind: str, values: Mapping[str, Mapping[str, Any]]) -> None:
        """Several records of one kind in one transaction."""

    def delete_record(self, kind: str, key: str) -> None: ...

    def close(self) -> None: ...


def _dumps(value: Mapping[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _loads(text: str) -> Optional[Dict[str, Any]]:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class MemoryStore:
    """The cache-off store: per client, per process. Answers are deliberately not kept."""

    persistent = False

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._videos: Dict[Tuple[str, str, str], Dict[str, Any]] = {}
        self._index: Dict[Tuple[str, str], str] = {}
        self._results: Dict[str, Tuple[str, float, Dict[str, Any]]] = {}
        self._decisions: Dict[str, str] = {}
        self._records: Dict[Tuple[str, str], Dict[str, Any]] = {}

    def get_answer(self, key: str) -> Optional[Dict[str, Any]]:
        return None

    def put_answer(self, key: str, value: Mapping[str, Any]) -> None:
        return None

    def get_video(self, scope: str, index_id: str, video_id: str) -> Optional[Dict[str, Any]]:
        with self._lock:
            found = self._videos.get((scope, index_id, video_id))
            return dict(found) if found is not None else None

    def put_video(self, scope: str, index_id: str, video_id: str, value: Mapping[str, Any]) -> None:
        with self._lock:
            self._videos[(scope, index_id, video_id)] = json.loads(_dumps(value))

    def put_videos(self, scope: str, values: Mapping[Tuple[str, str], Mapping[str, Any]]) -> None:
        with self._lock:
            for (index_id, video_id), value in values.items():
                self._videos[(scope, index_id, video_id)] = json.loads(_dumps(value))

    def forget_video(self, scope: str, video_id: str) -> None:
        with self._lock:
            for key in [k for k in self._videos if k[0] == scope and k[2] == video_id]:
                del self._videos[key]
            self._index.pop((scope, video_id), None)

    def get_video_index(self, scope: str, video_id: str) -> Optional[str]:
        with self._lock:
            return self._index.get((scope, video_id))

    def put_video_index(self, scope: str, mapping: Mapping[str, str]) -> None:
        with self._lock:
            for video_id, index_id in mapping.items():
                self._index[(scope, video_id)] = index_id

    def forget_video_index(self, scope: str, video_id: str) -> None:
        with self._lock:
            self._index.pop((scope, video_id), None)

    def get_result(self, result_id: str, scope: str) -> Optional[Dict[str, Any]]:
        with self._lock:
            found = self._results.get(result_id)
        if found is None or found[0] != scope:
            return None
        return found[2]

    def put_result(self, result_id: str, scope: str, expires_at: float, value: Mapping[str, Any]) -> None:
        now = time.time()
        with self._lock:
            for rid in [r for r, (_, exp, _) in self._results.items() if exp + RESULT_GRACE_S < now]:
                del self._results[rid]
            self._results[result_id] = (scope, expires_at, json.loads(_dumps(value)))

    def get_decision(self, host: str) -> Optional[str]:
        with self._lock:
            return self._decisions.get(host)

    def put_decision(self, host: str, backend: str) -> None:
        with self._lock:
            self._decisions[host] = backend

    def get_record(self, kind: str, key: str) -> Optional[Dict[str, Any]]:
        with self._lock:
            found = self._records.get((kind, key))
            return json.loads(_dumps(found)) if found is not None else None

    def put_record(self, kind: str, key: str, value: Mapping[str, Any]) -> None:
        with self._lock:
            self._records[(kind, key)] = json.loads(_dumps(value))

    def put_records(self, kind: str, values: Mapping[str, Mapping[str, Any]]) -> None:
        with self._lock:
            for key, value in values.items():
                self._records[(kind, key)] = json.loads(_dumps(value))

    def delete_record(self, kind: str, key: str) -> None:
        with self._lock:
            self._records.pop((kind, key), None)

    def close(self) -> None:
        return None


_TABLES = (
    "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS videos (scope TEXT NOT NULL, index_id TEXT NOT NULL, video_id TEXT NOT NULL,"
    " value TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (scope, index_id, video_id))",
    "CREATE TABLE IF NOT EXISTS video_index (scope TEXT NOT NULL, video_id TEXT NOT NULL,"
    " index_id TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (scope, video_id))",
    "CREATE TABLE IF NOT EXISTS results (result_id TEXT PRIMARY KEY, scope TEXT NOT NULL,"
    " expires REAL NOT NULL, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS decisions (host TEXT PRIMARY KEY, backend TEXT NOT NULL, decided REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS records (kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    " created REAL NOT NULL, PRIMARY KEY (kind, key))",
)
_DATA_TABLES = ("answers", "videos", "video_index", "results", "decisions", "records")


def _secure_file(path: Path) -> None:
    """Directory 0700 when we create it (or it is ours by default), file 0600, before sqlite opens it."""
    parent = path.parent
    created = not parent.exists()
    parent.mkdir(parents=True, exist_ok=True)
    if created:
        os.chmod(parent, 0o700)
    fd = os.open(str(path), os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


class SQLiteStore:
    """The persistent store. One connection, guarded by a lock (the engine may run in a worker thread)."""

    persistent = True

    def __init__(self, path: Path, *, own_dir: bool = False) -> None:
        self.path = Path(path)
        _secure_file(self.path)
        if own_dir:
            os.chmod(self.path.parent, 0o700)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), timeout=10.0, check_same_thread=False, isolation_level=None)
        try:
            self._migrate()
        except sqlite3.DatabaseError:
            self._db.close()
            raise

    def _migrate(self) -> None:
        with self._lock:
            for statement in _TABLES:
                self._db.execute(statement)
            row = self._db.execute("SELECT v FROM meta WHERE k = 'schema'").fetchone()
            if row is None or row[0] != SCHEMA_VERSION:
                # A cache: an unknown layout is dropped, not migrated.
                for table in _DATA_TABLES:
                    self._db.execute(f"DELETE FROM {table}")
                self._db.execute("INSERT OR REPLACE INTO meta (k, v) VALUES ('schema', ?)", (SCHEMA_VERSION,))

    def _one(self, sql: str, args: Tuple[Any, ...]) -> Optional[Tuple[Any, ...]]:
        with self._lock:
            row = self._db.execute(sql, args).fetchone()
        return tuple(row) if row is not None else None

    def _write(self, sql: str, args: Tuple[Any, ...]) -> None:
        with self._lock:
            self._db.execute(sql, args)

    def get_answer(self, key: str) -> Optional[Dict[str, Any]]:
        row = self._one("SELECT value FROM answers WHERE key = ?", (key,))
        return _loads(row[0]) if row else None

    def put_answer(self, key: str, value: Mapping[str, Any]) -> None:
        self._write(
            "INSERT OR REPLACE INTO answers (key, value, created) VALUES (?, ?, ?)", (key, _dumps(value), time.time())
        )

    def get_video(self, scope: str, index_id: str, video_id: str) -> Optional[Dict[str, Any]]:
        row = self._one(
            "SELECT value, created FROM videos WHERE scope = ? AND index_id = ? AND video_id = ?",
            (scope, index_id, video_id),
        )
        if row is None or float(row[1]) + METADATA_TTL_S < time.time():
            return None
        return _loads(row[0])

    def put_video(self, scope: str, index_id: str, video_id: str, value: Mapping[str, Any]) -> None:
        self._write(
            "INSERT OR REPLACE INTO videos (scope, index_id, video_id, value, created) VALUES (?, ?, ?, ?, ?)",
            (scope, index_id, video_id, _dumps(value), time.time()),
        )

    def put_videos(self, scope: str, values: Mapping[Tuple[str, str], Mapping[str, Any]]) -> None:
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO videos (scope, index_id, video_id, value, created) VALUES (?, ?, ?, ?, ?)",
                    [(scope, idx, vid, _dumps(v), now) for (idx, vid), v in values.items()],
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def forget_video(self, scope: str, video_id: str) -> None:
        """Metadata and placement of a video the API no longer knows."""
        with self._lock:
            self._db.execute("DELETE FROM videos WHERE scope = ? AND video_id = ?", (scope, video_id))
            self._db.execute("DELETE FROM video_index WHERE scope = ? AND video_id = ?", (scope, video_id))

    def get_video_index(self, scope: str, video_id: str) -> Optional[str]:
        row = self._one("SELECT index_id FROM video_index WHERE scope = ? AND video_id = ?", (scope, video_id))
        return str(row[0]) if row else None

    def put_video_index(self, scope: str, mapping: Mapping[str, str]) -> None:
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO video_index (scope, video_id, index_id, created) VALUES (?, ?, ?, ?)",
                    [(scope, vid, idx, now) for vid, idx in mapping.items()],
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def forget_video_index(self, scope: str, video_id: str) -> None:
        self._write("DELETE FROM video_index WHERE scope = ? AND video_id = ?", (scope, video_id))

    def get_result(self, result_id: str, scope: str) -> Optional[Dict[str, Any]]:
        row = self._one("SELECT value FROM results WHERE result_id = ? AND scope = ?", (result_id, scope))
        return _loads(row[0]) if row else None

    def put_result(self, result_id: str, scope: str, expires_at: float, value: Mapping[str, Any]) -> None:
        with self._lock:
            self._db.execute("DELETE FROM results WHERE expires < ?", (time.time() - RESULT_GRACE_S,))
            self._db.execute(
                "INSERT OR REPLACE INTO results (result_id, scope, expires, value) VALUES (?, ?, ?, ?)",
                (result_id, scope, float(expires_at), _dumps(value)),
            )

    def get_decision(self, host: str) -> Optional[str]:
        row = self._one("SELECT backend FROM decisions WHERE host = ?", (host,))
        return str(row[0]) if row else None

    def put_decision(self, host: str, backend: str) -> None:
        self._write(
            "INSERT OR REPLACE INTO decisions (host, backend, decided) VALUES (?, ?, ?)", (host, backend, time.time())
        )

    def get_record(self, kind: str, key: str) -> Optional[Dict[str, Any]]:
        row = self._one("SELECT value FROM records WHERE kind = ? AND key = ?", (kind, key))
        return _loads(row[0]) if row else None

    def put_record(self, kind: str, key: str, value: Mapping[str, Any]) -> None:
        self.put_records(kind, {key: value})

    def put_records(self, kind: str, values: Mapping[str, Mapping[str, Any]]) -> None:
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO records (kind, key, value, created) VALUES (?, ?, ?, ?)",
                    [(kind, key, _dumps(value), now) for key, value in values.items()],
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def delete_record(self, kind: str, key: str) -> None:
        self._write("DELETE FROM records WHERE kind = ? AND key = ?", (kind, key))

    def close(self) -> None:
        with self._lock:
            self._db.close()


def open_store(config: ClientConfig) -> Store:
    """The configured store; an unusable cache file degrades to memory with one log line."""
    if config.cache_path is None:
        return MemoryStore()
    try:
        from classify_shim._config import default_cache_path

        own_dir = Path(config.cache_path).parent == default_cache_path().parent
    except Exception:  # platformdirs missing or broken: just not our default dir
        own_dir = False
    try:
        return SQLiteStore(Path(config.cache_path), own_dir=own_dir)
    except (OSError, sqlite3.Error) as exc:
        log.warning("classify cache %s is unusable (%s); using memory for this client", config.cache_path, exc)
        return MemoryStore()
