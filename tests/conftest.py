"""Shared fixtures: a clean environment, the session sandbox, a capturing HTTP server, subprocess runs.

- ``clean_env`` (autouse): no ``TWELVELABS_*`` variable from the developer's shell leaks into a test.
- ``sandbox`` (session) is one :class:`classify_shim.sandbox.Sandbox` on loopback; ``sb`` is the same
  server with an empty request log and its settings restored after the test.
- ``capture`` is a tiny stdlib server that records every request and answers a valid v1.2 page
  (or whatever the test queues), for byte-level comparisons with the real ``twelvelabs`` 0.3.2.
- ``run_py`` runs Python code in a fresh interpreter (warning filters as a user would have them).

The suite runs in pytest-xdist workers (pyproject's addopts): a session fixture is one per worker
process, and a test file's tests run in one worker, in order.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any, Iterator, List

import pytest

from legacy_support import API_KEY, CaptureServer, run_python

_SANDBOX_SETTINGS = ("legacy", "latency_ms", "rate_limit_rpm", "rate_limit_window_s", "fault_rate", "noise", "token_ttl_s")


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist's
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """How many workers ``-n auto`` (pyproject's addopts) starts: two per core, because the suite
    mostly waits (sandbox latency, subprocess start-up, servers); at most 8; no more than the
    files named on the command line (a file runs in one worker: ``--dist loadfile``). One worker
    is none: the run stays in-process. ``PYTEST_XDIST_AUTO_NUM_WORKERS`` overrides."""
    given = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS", "").strip()
    if given.isdigit():
        return int(given)
    try:
        cores = len(os.sched_getaffinity(0))  # the cores this process may use (containers, taskset)
    except AttributeError:  # not on every platform
        cores = os.cpu_count() or 1
    workers = min(8, 2 * cores)
    files = {str(arg).split("::")[0] for arg in config.args}
    if files and all(name.endswith(".py") for name in files):
        workers = min(workers, len(files))
    return workers if workers > 1 else 0


def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    """Files with ``slow`` tests (wheels, fresh environments) run first, the rest in their order:
    in workers (``--dist loadfile``) a slow file handed out last would end the run alone. The
    sort is stable, so every file's tests stay together and in order."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: item.path not in slow_files)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remove every ``TWELVELABS_*`` variable (tests set what they need with monkeypatch)."""
    for name in list(os.environ):
        if name.startswith("TWELVELABS_"):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def api_key() -> str:
    return API_KEY


# --------------------------------------------------------------------------- sandbox


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Any]:
    """One sandbox for the session (default world, zero latency, no faults)."""
    from classify_shim.sandbox import Sandbox

    with Sandbox() as sb:
        yield sb


@pytest.fixture
def sb(sandbox: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The session sandbox with an empty request log; settings and world restored afterwards.

    ``sb.requests()`` lists only requests that started during this test: a request a previous
    test gave up on (a timeout, a cut connection) is logged when the sandbox finishes it, maybe
    during this test. ``sb.wait_idle()`` returns the log once no request is being handled.
    """
    saved = {name: getattr(sandbox, name) for name in _SANDBOX_SETTINGS}
    world = sandbox.world
    sandbox.clear_requests()
    sandbox.reset_rate_limits()
    started = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    everything = sandbox.requests
    monkeypatch.setattr(sandbox, "requests", lambda: [e for e in everything() if e.get("time", started) >= started])
    yield sandbox
    for name, value in saved.items():
        setattr(sandbox, name, value)
    if sandbox.world is not world:
        sandbox.set_world(world)
    if not sandbox.running:
        sandbox.start()
    sandbox.clear_requests()
    sandbox.reset_rate_limits()


@pytest.fixture
def legacy_client(sb: Any) -> Iterator[Any]:
    """``classify_shim.TwelveLabs`` on the legacy backend, pointed at the sandbox, no retries."""
    from classify_shim import TwelveLabs

    client = TwelveLabs(api_key=API_KEY, classify_backend="legacy", base_url=sb.base_url, max_retries=0)
    yield client
    client.close()


@pytest.fixture(scope="session")
def capture_server() -> Iterator[CaptureServer]:
    server = CaptureServer()
    yield server
    server.close()


@pytest.fixture
def capture(capture_server: CaptureServer) -> Iterator[CaptureServer]:
    capture_server.reset()
    yield capture_server
    capture_server.reset()


@pytest.fixture
def run_py() -> Any:
    """``run_py(args, cwd=..., env=...)`` -> CompletedProcess; build ``env`` with ``child_env``."""
    return run_python
