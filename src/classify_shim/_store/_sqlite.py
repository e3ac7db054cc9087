"""The embedded default: one SQLite file shared by every process of the user.

WAL journal and ``synchronous=NORMAL`` (a commit is an append, not an fsync); one connection
per store behind a lock, with async callers' calls run on the store's own thread (``executor``)
so disk I/O never blocks an event loop. Results are a header row plus one row per page, so
serving a page decodes that page only. Every row carries its expiry; readers skip expired
rows and ``prune`` (run on open at most hourly, and by ``classify-shim cache prune``) deletes
them. The file is mode 0600 and a directory we create is 0700. Driver errors leave as
:class:`StoreFault` with the cause chained, never as raw ``sqlite3`` exceptions.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, TypeVar

from .._bodies import VideoBody
from ._owners import dead_here
from ._protocol import StoreFault
from ._records import (
    ANSWER_TTL_S,
    JOB_TTL_S,
    KINDS,
    METADATA_TTL_S,
    PLACEMENT_TTL_S,
    RESULT_GRACE_S,
    DecisionRecord,
    HeaderMemo,
    JobRecord,
    KindStats,
    ResultHeader,
    decision_from_text,
    dumps,
    job_from_text,
    loads,
    loads_list,
)

__all__ = ["SCHEMA_VERSION", "SQLiteStore", "fault_kind"]

SCHEMA_VERSION = "2"
PRUNE_EVERY_S = 3600.0

_T = TypeVar("_T")

_TABLES = {
    "meta": "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
    "answers": "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, value TEXT NOT NULL,"
    " expires REAL NOT NULL)",
    "videos": "CREATE TABLE IF NOT EXISTS videos (scope TEXT NOT NULL, index_id TEXT NOT NULL,"
    " video_id TEXT NOT NULL, value TEXT NOT NULL, expires REAL NOT NULL,"
    " PRIMARY KEY (scope, video_id, index_id))",
    "placements": "CREATE TABLE IF NOT EXISTS placements (scope TEXT NOT NULL, video_id TEXT NOT NULL,"
    " index_id TEXT NOT NULL, expires REAL NOT NULL, PRIMARY KEY (scope, video_id))",
    "results": "CREATE TABLE IF NOT EXISTS results (result_id TEXT PRIMARY KEY, scope TEXT NOT NULL,"
    " value TEXT NOT NULL, expires REAL NOT NULL)",
    "pages": "CREATE TABLE IF NOT EXISTS pages (result_id TEXT NOT NULL, page INTEGER NOT NULL,"
    " value TEXT NOT NULL, PRIMARY KEY (result_id, page)) WITHOUT ROWID",
    "claims": "CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, owner TEXT NOT NULL, expires REAL NOT NULL)",
    "jobs": "CREATE TABLE IF NOT EXISTS jobs (scope TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    " expires REAL NOT NULL, PRIMARY KEY (scope, key))",
    "decisions": "CREATE TABLE IF NOT EXISTS decisions (host TEXT NOT NULL, api_version TEXT NOT NULL,"
    " value TEXT NOT NULL, expires REAL NOT NULL, PRIMARY KEY (host, api_version))",
}
# kind -> tables holding it (pages go with their results)
_KIND_TABLES: Dict[str, Tuple[str, ...]] = {kind: (kind,) for kind in KINDS}
_KIND_TABLES["results"] = ("results", "pages")
_SIZE_COLUMN = {"claims": "owner", "placements": "index_id"}


def fault_kind(exc: BaseException) -> str:
    """Classify a driver error by SQLite's own words (error codes are not exposed before 3.11)."""
    text = str(exc).lower()
    if "full" in text:
        return "full"
    if "readonly" in text or "read-only" in text or "unable to open" in text or "permission" in text:
        return "readonly"
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return "corrupt"
    if "locked" in text or "busy" in text:
        return "busy"
    if isinstance(exc, OSError):
        return "full" if getattr(exc, "errno", None) == 28 else "unavailable"
    return "other"


def _secure_file(path: Path) -> None:
    """Directory 0700 when we create it, file 0600, before sqlite opens it."""
    parent = path.parent
    created = not parent.exists()
    parent.mkdir(parents=True, exist_ok=True)
    if created:
        os.chmod(parent, 0o700)
    fd = os.open(str(path), os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


class SQLiteStore:
    kind = "sqlite"
    persistent = True
    executor: Optional[Executor] = None  # the guard around it owns the thread async callers use

    def __init__(self, path: Path, *, own_dir: bool = False, read_only: bool = False) -> None:
        """``read_only``: open an existing file that cannot be written (a read-only directory
        cannot hold the WAL's side files) as immutable, so what it holds is still served."""
        self.path = Path(path)
        self.location = str(self.path)
        self.read_only = read_only
        self.metadata_ttl_s = METADATA_TTL_S  # how long video metadata is trusted, per store
        self._lock = threading.RLock()
        self._db: Optional[sqlite3.Connection] = None
        self._headers = HeaderMemo()
        try:
            if read_only:
                self._db = sqlite3.connect(
                    f"{self.path.resolve().as_uri()}?immutable=1", uri=True, check_same_thread=False,
                    isolation_level=None,
                )
                row = self._db.execute("SELECT v FROM meta WHERE k = 'schema'").fetchone()
                if row is None or row[0] != SCHEMA_VERSION:
                    raise sqlite3.DatabaseError("not a cache of this version (read-only, cannot rebuild it)")
                return
            _secure_file(self.path)
            if own_dir:
                os.chmod(self.path.parent, 0o700)
            self._db = sqlite3.connect(
                str(self.path), timeout=10.0, check_same_thread=False, isolation_level=None
            )
            self._setup()
        except (OSError, sqlite3.Error) as exc:
            self._close_quietly()
            raise StoreFault(fault_kind(exc), f"cannot open the cache {self.path}: {exc}") from exc

    # ------------------------------------------------------------------ plumbing

    def _setup(self) -> None:
        """Pragmas, tables, schema check, hourly prune. Several processes opening a new file
        at once can find it locked for a moment (switching to WAL takes an exclusive lock and
        does not wait): that is retried, with a growing pause, for up to about 10 s."""
        for attempt in range(40):
            try:
                self._setup_once()
                return
            except (sqlite3.OperationalError, StoreFault) as exc:
                kind = exc.kind if isinstance(exc, StoreFault) else fault_kind(exc)
                if kind != "busy" or attempt == 39:
                    raise
                time.sleep(min(0.5, 0.02 * (attempt + 1)))

    def _setup_once(self) -> None:
        db = self._conn()
        if str(db.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
            db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        for statement in _TABLES.values():
            db.execute(statement)
        row = db.execute("SELECT v FROM meta WHERE k = 'schema'").fetchone()
        if row is None or row[0] != SCHEMA_VERSION:
            # A cache: an unknown layout is rebuilt, not migrated.
            self._tx(self._rebuild)
        row = db.execute("SELECT v FROM meta WHERE k = 'pruned_at'").fetchone()
        try:
            pruned_at = float(row[0]) if row else 0.0
        except ValueError:
            pruned_at = 0.0
        if pruned_at + PRUNE_EVERY_S < time.time():
            self._prune_all()

    def _rebuild(self, db: sqlite3.Connection) -> None:
        for table in list(_TABLES)[::-1]:
            db.execute(f"DROP TABLE IF EXISTS {table}")
        for statement in _TABLES.values():
            db.execute(statement)
        db.execute("INSERT OR REPLACE INTO meta (k, v) VALUES ('schema', ?)", (SCHEMA_VERSION,))

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreFault("unavailable", f"the cache {self.path} is closed")
        return self._db

    def _run(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        """One statement (autocommit), errors as StoreFault."""
        with self._lock:
            try:
                return fn(self._conn())
            except sqlite3.Error as exc:
                raise StoreFault(fault_kind(exc), f"cache {self.path}: {exc}") from exc

    def _tx(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        """Several statements in one transaction. A failed COMMIT or statement rolls back only
        when a transaction is still open, so the original error is the one reported."""
        with self._lock:
            db = self._conn()
            try:
                db.execute("BEGIN IMMEDIATE")
                out = fn(db)
                db.execute("COMMIT")
                return out
            except sqlite3.Error as exc:
                if db.in_transaction:
                    try:
                        db.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass  # the first error is the news
                raise StoreFault(fault_kind(exc), f"cache {self.path}: {exc}") from exc
            except BaseException:
                if db.in_transaction:
                    try:
                        db.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                raise

    def _one(self, sql: str, args: Tuple[Any, ...]) -> Optional[Tuple[Any, ...]]:
        row = self._run(lambda db: db.execute(sql, args).fetchone())
        return tuple(row) if row is not None else None

    def _write(self, sql: str, args: Tuple[Any, ...]) -> int:
        return self._run(lambda db: db.execute(sql, args).rowcount)

    # ------------------------------------------------------------------ answers

    def get_answer(self, key: str) -> Optional[Dict[str, Any]]:
        row = self._one("SELECT value FROM answers WHERE key = ? AND expires > ?", (key, time.time()))
        return loads(row[0]) if row else None

    def put_answer(self, key: str, value: Mapping[str, Any]) -> None:
        text = dumps(value)
        self._write(
            "INSERT OR REPLACE INTO answers (key, value, expires) VALUES (?, ?, ?)",
            (key, text, time.time() + ANSWER_TTL_S),
        )

    # ------------------------------------------------------------------ videos

    def get_video(self, scope: str, index_id: str, video_id: str) -> Optional[Dict[str, Any]]:
        row = self._one(
            "SELECT value FROM videos WHERE scope = ? AND video_id = ? AND index_id = ? AND expires > ?",
            (scope, video_id, index_id, time.time()),
        )
        return loads(row[0]) if row else None

    def put_video(self, scope: str, index_id: str, video_id: str, value: Mapping[str, Any]) -> None:
        text = dumps(value)
        self._write(
            "INSERT OR REPLACE INTO videos (scope, index_id, video_id, value, expires) VALUES (?, ?, ?, ?, ?)",
            (scope, index_id, video_id, text, time.time() + self.metadata_ttl_s),
        )

    def forget_video(self, scope: str, video_id: str) -> None:
        """Metadata and placement of a video the API no longer knows."""

        def forget(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM videos WHERE scope = ? AND video_id = ?", (scope, video_id))
            db.execute("DELETE FROM placements WHERE scope = ? AND video_id = ?", (scope, video_id))

        self._tx(forget)

    def get_video_indexes(self, scope: str, video_ids: Sequence[str]) -> Dict[str, str]:
        out: Dict[str, str] = {}
        now = time.time()
        ids = list(dict.fromkeys(video_ids))
        for start in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
            part = ids[start:start + 500]
            marks = ",".join("?" * len(part))
            sql = f"SELECT video_id, index_id FROM placements WHERE scope = ? AND expires > ? AND video_id IN ({marks})"
            args = (scope, now, *part)

            def read(db: sqlite3.Connection, sql: str = sql, args: Tuple[Any, ...] = args) -> List[Any]:
                return db.execute(sql, args).fetchall()

            out.update({str(v): str(i) for v, i in self._run(read)})
        return out

    def put_video_index(self, scope: str, mapping: Mapping[str, str]) -> None:
        if not mapping:
            return
        expires = time.time() + PLACEMENT_TTL_S
        rows = [(scope, vid, idx, expires) for vid, idx in mapping.items()]
        self._tx(
            lambda db: db.executemany(
                "INSERT OR REPLACE INTO placements (scope, video_id, index_id, expires) VALUES (?, ?, ?, ?)", rows
            )
        )

    def forget_video_index(self, scope: str, video_id: str) -> None:
        self._write("DELETE FROM placements WHERE scope = ? AND video_id = ?", (scope, video_id))

    # ------------------------------------------------------------------ results

    def put_result(
        self, result_id: str, header: ResultHeader, pages: Sequence[Sequence[VideoBody]]
    ) -> None:
        head = dumps(header.to_json())
        now = time.time()
        expires = header.expires_at + RESULT_GRACE_S

        def write(db: sqlite3.Connection) -> int:
            self._purge_results(db, now)
            db.execute(
                "INSERT OR REPLACE INTO results (result_id, scope, value, expires) VALUES (?, ?, ?, ?)",
                (result_id, header.scope, head, expires),
            )
            db.execute("DELETE FROM pages WHERE result_id = ?", (result_id,))
            # Encoded one page at a time as SQLite takes them: the JSON of the whole result is
            # never held at once (it was ≈ 40 MB at 100,000 videos).
            db.executemany("INSERT INTO pages (result_id, page, value) VALUES (?, ?, ?)",
                           ((result_id, n, dumps(list(items))) for n, items in enumerate(pages)))
            return self._data_version(db)  # inside the write: no other connection commits meanwhile

        version = self._tx(write)
        self._headers.put(result_id, (version, head, expires), header)

    @staticmethod
    def _data_version(db: sqlite3.Connection) -> int:
        """Changes whenever another connection (process) commits to the file; our own commits
        leave it as it is."""
        return int(db.execute("PRAGMA data_version").fetchone()[0])

    def get_page(self, result_id: str, scope: str, page: int) -> Optional[Tuple[ResultHeader, List[VideoBody]]]:
        """The result's header and one page. The decoded header of a result read or written
        before is reused (``HeaderMemo``): as it is while no other connection has committed
        since it was checked (then only its expiry is looked at), else when the stored header
        is still the same text (compared, not decoded)."""
        memo = self._headers.get(result_id, scope)

        def read(db: sqlite3.Connection) -> Optional[Tuple[Optional[str], Any, Any, Any]]:
            now = time.time()
            version = self._data_version(db)
            head: Any = None
            if memo is not None and memo[0][0] == version:  # nothing committed by others since
                if memo[0][2] <= now:
                    return None  # expired
                head = (None, memo[0][2])
            else:
                head = db.execute(
                    "SELECT value, expires FROM results WHERE result_id = ? AND scope = ? AND expires > ?",
                    (result_id, scope, now),
                ).fetchone()
                if head is None:
                    return None
                if memo is not None and head[0] == memo[0][1]:  # the same write: keep its header
                    head = (None, head[1])
            row = db.execute("SELECT value FROM pages WHERE result_id = ? AND page = ?", (result_id, page)).fetchone()
            return head[0], head[1], version, row[0] if row else "[]"

        found = self._run(read)
        if found is None:
            return None
        text, expires, version, items = found
        if text is None and memo is not None:
            self._headers.put(result_id, (version, memo[0][1], expires), memo[1])
            return memo[1], loads_list(items)
        value = loads(text)
        if value is None:
            return None
        try:
            header = ResultHeader.from_json(value)
        except (KeyError, TypeError, ValueError):
            return None
        self._headers.put(result_id, (version, text, expires), header)
        return header, loads_list(items)

    @staticmethod
    def _purge_results(db: sqlite3.Connection, now: float) -> int:
        db.execute("DELETE FROM pages WHERE result_id IN (SELECT result_id FROM results WHERE expires <= ?)", (now,))
        return int(db.execute("DELETE FROM results WHERE expires <= ?", (now,)).rowcount)

    # ------------------------------------------------------------------ claims

    def claim(self, key: str, owner: str, ttl_s: float) -> bool:
        def take(db: sqlite3.Connection) -> bool:
            now = time.time()
            row = db.execute("SELECT owner, expires FROM claims WHERE key = ?", (key,)).fetchone()
            if row is not None and row[0] != owner and row[1] > now and not dead_here(str(row[0])):
                return False
            db.execute("INSERT OR REPLACE INTO claims (key, owner, expires) VALUES (?, ?, ?)", (key, owner, now + ttl_s))
            return True

        return self._tx(take)

    def renew_claim(self, key: str, owner: str, ttl_s: float) -> bool:
        return self._write(
            "UPDATE claims SET expires = ? WHERE key = ? AND owner = ?", (time.time() + ttl_s, key, owner)
        ) > 0

    def release_claim(self, key: str, owner: str) -> None:
        self._write("DELETE FROM claims WHERE key = ? AND owner = ?", (key, owner))

    def claim_owner(self, key: str) -> Optional[str]:
        row = self._one("SELECT owner FROM claims WHERE key = ? AND expires > ?", (key, time.time()))
        if row is None or dead_here(str(row[0])):
            return None
        return str(row[0])

    # ------------------------------------------------------------------ jobs

    def put_job(self, record: JobRecord) -> None:
        self._write(
            "INSERT OR REPLACE INTO jobs (scope, key, value, expires) VALUES (?, ?, ?, ?)",
            (record.scope, record.key, dumps(record.to_json()), time.time() + JOB_TTL_S),
        )

    def get_job(self, scope: str, key: str) -> Optional[JobRecord]:
        row = self._one("SELECT value FROM jobs WHERE scope = ? AND key = ? AND expires > ?", (scope, key, time.time()))
        return job_from_text(row[0]) if row else None

    def delete_job(self, scope: str, key: str) -> None:
        self._write("DELETE FROM jobs WHERE scope = ? AND key = ?", (scope, key))

    def list_jobs(self, scope: Optional[str] = None) -> List[JobRecord]:
        now = time.time()
        if scope is None:
            rows = self._run(lambda db: db.execute("SELECT value FROM jobs WHERE expires > ?", (now,)).fetchall())
        else:
            rows = self._run(
                lambda db: db.execute("SELECT value FROM jobs WHERE scope = ? AND expires > ?", (scope, now)).fetchall()
            )
        jobs = [j for (v,) in rows if (j := job_from_text(v)) is not None]
        return sorted(jobs, key=lambda r: r.created_at)

    # ------------------------------------------------------------------ decisions

    def get_decision(self, host: str, api_version: str) -> Optional[DecisionRecord]:
        row = self._one(
            "SELECT value FROM decisions WHERE host = ? AND api_version = ? AND expires > ?",
            (host, api_version, time.time()),
        )
        return decision_from_text(row[0]) if row else None

    def put_decision(self, record: DecisionRecord) -> None:
        if record.revalidate_at <= time.time():
            return  # already due for revalidation: nothing to remember
        self._write(
            "INSERT OR REPLACE INTO decisions (host, api_version, value, expires) VALUES (?, ?, ?, ?)",
            (record.host, record.api_version, dumps(record.to_json()), record.revalidate_at),
        )

    def list_decisions(self) -> List[DecisionRecord]:
        rows = self._run(
            lambda db: db.execute(
                "SELECT value FROM decisions WHERE expires > ? ORDER BY host, api_version", (time.time(),)
            ).fetchall()
        )
        return [d for (v,) in rows if (d := decision_from_text(v)) is not None]

    def clear_decisions(self, host: Optional[str] = None) -> int:
        if host is None:
            return self._write("DELETE FROM decisions", ())
        return self._write("DELETE FROM decisions WHERE host = ?", (host,))

    # ------------------------------------------------------------------ housekeeping

    def stats(self) -> Dict[str, KindStats]:
        def read(db: sqlite3.Connection) -> Dict[str, KindStats]:
            now = time.time()
            out: Dict[str, KindStats] = {}
            for kind in KINDS:
                live, dead, size = db.execute(
                    f"SELECT COALESCE(SUM(expires > ?), 0), COALESCE(SUM(expires <= ?), 0), "
                    f"COALESCE(SUM(LENGTH({_SIZE_COLUMN.get(kind, 'value')})), 0) FROM {kind}",
                    (now, now),
                ).fetchone()
                if kind == "results":
                    size += db.execute("SELECT COALESCE(SUM(LENGTH(value)), 0) FROM pages").fetchone()[0]
                out[kind] = KindStats(entries=int(live), expired=int(dead), bytes=int(size))
            return out

        return self._run(read)

    def _prune_all(self) -> Dict[str, int]:
        def prune(db: sqlite3.Connection) -> Dict[str, int]:
            now = time.time()
            out = {"results": self._purge_results(db, now)}
            for kind in KINDS:
                if kind != "results":
                    out[kind] = int(db.execute(f"DELETE FROM {kind} WHERE expires <= ?", (now,)).rowcount)
            db.execute("INSERT OR REPLACE INTO meta (k, v) VALUES ('pruned_at', ?)", (repr(now),))
            return out

        return self._tx(prune)

    def prune(self) -> Dict[str, int]:
        out = self._prune_all()
        self._run(lambda db: db.execute("PRAGMA wal_checkpoint(TRUNCATE)"))
        return out

    def clear(self, kinds: Optional[Sequence[str]] = None) -> Dict[str, int]:
        chosen = list(kinds or KINDS)

        def wipe(db: sqlite3.Connection) -> Dict[str, int]:
            out: Dict[str, int] = {}
            for kind in chosen:
                tables = _KIND_TABLES[kind]
                out[kind] = int(db.execute(f"SELECT COUNT(*) FROM {tables[0]}").fetchone()[0])
                for table in tables:
                    db.execute(f"DELETE FROM {table}")
            return out

        out = self._tx(wipe)
        if "results" in chosen:
            self._headers.forget()
        if kinds is None:
            self._run(lambda db: db.execute("VACUUM"))
        return out

    # ------------------------------------------------------------------ life

    def _close_quietly(self) -> None:
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
            self._db = None

    def close(self) -> None:
        with self._lock:
            self._close_quietly()

