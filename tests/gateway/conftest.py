"""Gateway fixtures: a REAL ``classify-shim gateway`` process (Uvicorn on loopback), pointed at
the session sandbox, started with ``--port 0`` and found by the URL it prints first."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import httpx
import pytest
import starlette  # noqa: F401  (the gateway extra is part of ".[dev]": missing is a failure, not a skip)
import uvicorn  # noqa: F401


class GatewayProcess:
    """One running gateway; ``stderr_text()`` is everything it logged so far."""

    def __init__(self, args: List[str], env: Dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "classify_shim.cli", "gateway", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.first_line = self.proc.stdout.readline().strip()
        self.url = self.first_line
        self._err: List[str] = []
        self._out: List[str] = []
        self._threads = [
            threading.Thread(target=self._drain, args=(self.proc.stderr, self._err), daemon=True),
            threading.Thread(target=self._drain, args=(self.proc.stdout, self._out), daemon=True),
        ]
        for t in self._threads:
            t.start()
        if not self.url.startswith("http://127.0.0.1:"):
            self.close()
            raise AssertionError(f"gateway did not print its URL first: {self.first_line!r} {self.stderr_text()}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        self.close()
        raise AssertionError(f"gateway did not answer /health: {self.stderr_text()}")

    @staticmethod
    def _drain(stream: Any, sink: List[str]) -> None:
        for line in stream:
            sink.append(line)

    def stderr_text(self) -> str:
        return "".join(self._err)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for t in self._threads:
            t.join(timeout=5)


def gateway_env(sandbox_url: str, **extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWELVELABS_") and k != "PYTHONWARNINGS"}
    env.update({"TWELVELABS_BASE_URL": sandbox_url, "PYTHONIOENCODING": "utf-8"})
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def gateway_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gateway") / "store.sqlite3"


@pytest.fixture(scope="session")
def gateway(sandbox: Any, gateway_cache: Path) -> Iterator[GatewayProcess]:
    """The pegasus gateway on the session sandbox, with its own SQLite store."""
    proc = GatewayProcess(["--backend", "pegasus"], gateway_env(sandbox.base_url, TWELVELABS_CLASSIFY_CACHE=str(gateway_cache)))
    try:
        yield proc
    finally:
        proc.close()


@pytest.fixture(scope="session")
def legacy_gateway(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    cache = tmp_path_factory.mktemp("gateway-legacy") / "store.sqlite3"
    proc = GatewayProcess(["--backend", "legacy"], gateway_env(sandbox.base_url, TWELVELABS_CLASSIFY_CACHE=str(cache)))
    try:
        yield proc
    finally:
        proc.close()


def start_gateway(sandbox_url: str, *args: str, **env: str) -> GatewayProcess:
    return GatewayProcess(list(args), gateway_env(sandbox_url, **env))


def sandbox_world(sandbox: Any) -> Dict[str, Any]:
    world: Dict[str, Any] = httpx.get(sandbox.base_url + "/_sandbox/world", timeout=10).json()
    return world


@pytest.fixture
def world_index(sandbox: Any) -> str:
    return str(sandbox_world(sandbox)["indexes"][0]["_id"])


@pytest.fixture
def world_videos(sandbox: Any) -> List[str]:
    return [str(v["_id"]) for v in sandbox_world(sandbox)["indexes"][0]["videos"]]


from store.conftest import redis_prefix_url, redis_url  # noqa: E402,F401  (the real redis-server fixture)
