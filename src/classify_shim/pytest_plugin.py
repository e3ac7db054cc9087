"""pytest plugin: the ``classify_sandbox`` fixture, for testing *your* classify code offline.

Installed with the package (entry point ``pytest11``), so any suite gets it without a
``conftest.py``. Each test that asks for ``classify_sandbox`` gets its own running
:class:`classify_shim.sandbox.Sandbox` on ``127.0.0.1`` (function scope: a fresh world,
request log, page tokens and simulated-model state per test, so tests cannot leak into each
other; starting one costs a few milliseconds), and the environment a client reads:

* ``TWELVELABS_BASE_URL`` = ``sandbox.base_url``, ``TWELVELABS_API_KEY`` = :data:`SANDBOX_API_KEY`,
* ``TWELVELABS_CLASSIFY_CACHE=off`` (tests never read or write a real Pegasus cache),

all set with ``monkeypatch`` and undone after the test. So ``TwelveLabs()`` — ours or the
official 0.3.2 one — talks to the sandbox unchanged. Markers (closest one wins):

* ``@pytest.mark.classify_world(world)`` — a world dict or a JSON file path (a relative path
  is looked up next to the test file first);
* ``@pytest.mark.classify_sandbox(legacy="retired", noise="realistic", ...)`` — any
  :class:`Sandbox` setting: ``legacy``, ``noise``, ``latency_ms``, ``rate_limit_rpm``,
  ``fault_rate``, ``seed``, ``token_ttl_s``, ``sunset``, ``task_latency_ms``, ``rate_limit_window_s``.

In a test: ``classify_sandbox.requests()`` (the request log), ``.clear_requests()``,
``.set_world(...)``, and settings as attributes (``classify_sandbox.legacy = "retired"``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterator, Tuple

import pytest

if TYPE_CHECKING:
    from classify_shim.sandbox import Sandbox

__all__ = ["SANDBOX_API_KEY", "SANDBOX_OPTIONS", "classify_sandbox"]

#: The API key put in ``TWELVELABS_API_KEY`` (the sandbox accepts any non-empty key).
SANDBOX_API_KEY = "tlk_sandbox_pytest_0000000000000000"
#: Keyword arguments the ``classify_sandbox`` marker accepts.
SANDBOX_OPTIONS = (
    "legacy", "noise", "latency_ms", "rate_limit_rpm", "fault_rate", "seed", "token_ttl_s",
    "sunset", "task_latency_ms", "rate_limit_window_s",
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "classify_world(world): run the classify_sandbox fixture on this world (a dict or a JSON file path)",
    )
    config.addinivalue_line(
        "markers",
        "classify_sandbox(**options): classify_sandbox fixture settings, e.g. legacy='retired', "
        "noise='realistic', latency_ms=0, rate_limit_rpm=None, fault_rate=0.0, seed=0, token_ttl_s=300, "
        "sunset='pegasus1.2', task_latency_ms=0, rate_limit_window_s=60",
    )


def _resolve_world(world: Any, test_path: Path) -> Any:
    """A relative world path is looked up next to the test file, then from the working directory."""
    if isinstance(world, (str, Path)):
        path = Path(world)
        if not path.is_absolute():
            beside = test_path.parent / path
            if beside.exists():
                return beside
        return path
    return world


def _settings(request: pytest.FixtureRequest) -> Tuple[Dict[str, Any], Any]:
    options: Dict[str, Any] = {}
    # iter_markers yields the closest marker first; apply the farthest first so the closest wins.
    for mark in reversed(list(request.node.iter_markers("classify_sandbox"))):
        if mark.args:
            pytest.fail("@pytest.mark.classify_sandbox takes keyword arguments only, e.g. legacy='retired'",
                        pytrace=False)
        options.update(mark.kwargs)
    world = options.pop("world", None)
    unknown = sorted(set(options) - set(SANDBOX_OPTIONS))
    if unknown:
        pytest.fail(
            f"@pytest.mark.classify_sandbox got unknown option(s) {', '.join(unknown)}; "
            f"allowed: world, {', '.join(SANDBOX_OPTIONS)}",
            pytrace=False,
        )
    world_mark = request.node.get_closest_marker("classify_world")
    if world_mark is not None:
        if len(world_mark.args) + len(world_mark.kwargs) != 1 or (world_mark.kwargs and "world" not in world_mark.kwargs):
            pytest.fail("@pytest.mark.classify_world takes one argument: a world dict or a JSON file path",
                        pytrace=False)
        world = world_mark.args[0] if world_mark.args else world_mark.kwargs["world"]
    return options, _resolve_world(world, Path(str(request.path)))


@pytest.fixture
def classify_sandbox(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    """A running sandbox for this test, with the client environment pointed at it."""
    from classify_shim.sandbox import Sandbox

    options, world = _settings(request)
    sandbox = Sandbox(world=world, **options)
    sandbox.start()
    try:
        monkeypatch.setenv("TWELVELABS_BASE_URL", sandbox.base_url)
        monkeypatch.setenv("TWELVELABS_API_KEY", SANDBOX_API_KEY)
        monkeypatch.setenv("TWELVELABS_CLASSIFY_CACHE", "off")
        yield sandbox
    finally:
        sandbox.stop()
