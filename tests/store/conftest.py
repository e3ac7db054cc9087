"""Store fixtures: a REAL redis-server on a free loopback port (temp dir, no persistence),
started once per session and stopped after; ``store`` parametrized over SQLite and Redis."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, Iterator, Tuple

import pytest

from classify_shim._store import RedisStore, SQLiteStore, Store
from processes import stop


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _redis_binary() -> str:
    binary = shutil.which("redis-server") or ("/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None)
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed; .ci/run installs it (apt-get install redis-server)")
        pytest.skip("redis-server is not installed (apt-get install redis-server); CI installs it")
    return binary


def _launch(binary: str, workdir: Path) -> Tuple[subprocess.Popen[bytes], int]:
    """A redis-server answering on a free port that is ITS port: another test process may have
    picked the same free port a moment earlier, so the answering server's pid is checked."""
    import redis

    for _ in range(5):
        port = _free_port()
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir), "--save", "",
             "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(host="127.0.0.1", port=port)
        try:
            for _ in range(200):
                try:
                    pid = int(client.info("server")["process_id"])
                except redis.ConnectionError:
                    if proc.poll() is not None:
                        break  # it could not bind (the port was taken meanwhile): another port
                    time.sleep(0.05)
                    continue
                if pid == proc.pid:
                    return proc, port
                break  # someone else's server on that port
        finally:
            client.close()
        stop(proc, timeout=10)
    pytest.fail("redis-server did not start on a free port of its own")


@contextlib.contextmanager
def start_redis(workdir: Path) -> Iterator[str]:
    """A redis-server on a free loopback port, no persistence, in ``workdir``; stopped after."""
    proc, port = _launch(_redis_binary(), workdir)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop(proc, timeout=10)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://127.0.0.1:PORT/0`` of a redis-server this fixture started (and stops)."""
    with start_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[str]:
    """A redis-server of this test's own (for tests that stop it)."""
    workdir = tmp_path / "own-redis"
    workdir.mkdir()
    with start_redis(workdir) as url:
        yield url


@pytest.fixture
def redis_prefix_url(redis_url: str) -> str:
    """The session server with a key prefix of this test's own (tests never see each other's keys)."""
    return f"{redis_url}?prefix=t{uuid.uuid4().hex[:10]}:"


@pytest.fixture(params=["sqlite", "redis"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_store(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A factory of stores of one kind that share their data (the same file / server+prefix):
    each call is "another process" opening the same store."""
    opened = []
    if store_kind == "redis":
        url = request.getfixturevalue("redis_prefix_url")

        def make() -> Store:
            s = RedisStore.from_url(url)
            opened.append(s)
            return s
    else:
        path = tmp_path / "store.sqlite3"

        def make() -> Store:
            s = SQLiteStore(path)
            opened.append(s)
            return s

    yield make
    for s in opened:
        s.close()


@pytest.fixture
def store(make_store: Any) -> Store:
    return make_store()  # type: ignore[no-any-return]
