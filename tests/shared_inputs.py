"""One lookup rule for the inputs kept outside the repository (``seed/``, ``specs/``, ``reference/``).

In order: the folder named by ``CLASSIFY_SHIM_SHARED``; else a folder called ``shared`` beside
the checkout or beside any folder above it. A test that needs a file that is not there skips
with :func:`missing` - a message that says how to provide it. Nothing here hides a regression:
the files are inputs (a spec, recorded traffic), not code under test.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import pytest

__all__ = ["ENV", "missing", "require", "shared_file", "shared_root"]

ENV = "CLASSIFY_SHIM_SHARED"
_HERE = Path(__file__).resolve()


def shared_root() -> Optional[Path]:
    override = os.environ.get(ENV, "").strip()
    if override:
        path = Path(override).expanduser()
        return path if path.is_dir() else None
    for parent in _HERE.parents:
        candidate = parent / "shared"
        if candidate.is_dir() and any((candidate / part).is_dir() for part in ("seed", "specs", "reference")):
            return candidate
    return None


def shared_file(relative: str) -> Optional[Path]:
    """``relative`` (e.g. ``"specs/twelvelabs-v1.2-openapi.yaml"``) under the shared folder, or None."""
    root = shared_root()
    if root is None:
        return None
    path = root / relative
    return path if path.exists() else None


def missing(relative: str) -> str:
    where = os.environ.get(ENV, "").strip()
    looked = f"{ENV}={where!r}" if where else "a 'shared' folder beside the checkout (or above it)"
    return (
        f"shared input {relative!r} not found (looked in {looked}): set {ENV} to the folder that holds "
        "seed/, specs/ and reference/, or place that folder beside the checkout as 'shared/'"
    )


def require(relative: str, *, module: bool = False) -> Path:
    """The file, or skip the test (``module=True``: the whole module) saying how to provide it."""
    path = shared_file(relative)
    if path is None:
        pytest.skip(missing(relative), allow_module_level=module)
    return path
