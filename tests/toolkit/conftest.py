"""Fixtures of the toolkit CLI tests: sandboxes of their own (module scope).

``toolkit_live`` serves the v1.2 endpoints; ``toolkit_retired`` answers them "retired".
Helpers live in ``toolkit_support`` (a plain module, importable by name).
"""

from __future__ import annotations

from typing import Iterator

import pytest
from toolkit_support import World, world_of


@pytest.fixture(scope="module")
def toolkit_live() -> Iterator[World]:
    from classify_shim.sandbox import Sandbox

    with Sandbox() as sb:
        yield world_of(sb.base_url)


@pytest.fixture(scope="module")
def toolkit_retired() -> Iterator[World]:
    from classify_shim.sandbox import Sandbox

    with Sandbox(legacy="retired") as sb:
        yield world_of(sb.base_url)
