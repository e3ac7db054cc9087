"""Which files ``scan`` reads: explicit files, ``*.py`` under directories, minus excludes."""

from __future__ import annotations

import fnmatch
import io
import os
import tokenize
from typing import Iterable, List, Sequence, Set, Tuple

__all__ = ["SKIP_DIRS", "decode_source", "iter_python_files", "read_sources"]

SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".tox",
        ".nox",
        ".venv",
        "venv",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".eggs",
        "node_modules",
        "__pycache__",
        "site-packages",
    }
)


def _is_venv(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "pyvenv.cfg"))


def _as_printed(path: str) -> str:
    """The path as ``scan`` prints it (normalised, forward slashes): what users copy into --exclude."""
    return os.path.normpath(path).replace(os.sep, "/")


def _normalise_pattern(pattern: str) -> str:
    pattern = pattern.replace(os.sep, "/").rstrip("/")
    while pattern.startswith("./"):
        pattern = pattern[2:]
    return pattern


def _excluded(printed: str, rel: str, name: str, patterns: Sequence[str]) -> bool:
    """A glob matches the path as printed, the path relative to the scanned folder, or the bare name.

    ``**/`` at the start also matches at the top (``**/migrations`` excludes ``migrations``).
    """
    candidates = (printed, rel, name)
    for raw in patterns:
        pattern = _normalise_pattern(raw)
        if not pattern:
            continue
        variants = [pattern, pattern[3:]] if pattern.startswith("**/") else [pattern]
        if any(fnmatch.fnmatch(c, v) for c in candidates for v in variants):
            return True
    return False


def iter_python_files(paths: Iterable[str], exclude: Sequence[str] = ()) -> Tuple[List[str], List[str]]:
    """Returns ``(files, missing)``: explicit files as given, ``*.py`` found under directories.

    ``exclude`` globs apply to what the walk finds (see :func:`_excluded`); files named explicitly are
    always read. Directory walks skip VCS folders, caches, ``node_modules`` and virtual environments (any folder
    with a ``pyvenv.cfg``), and never follow symlinked directories (no loops).
    """
    files: List[str] = []
    missing: List[str] = []
    seen: Set[str] = set()

    def add(path: str) -> None:
        norm = os.path.normpath(path)
        if norm not in seen:
            seen.add(norm)
            files.append(norm)

    for raw in paths:
        if os.path.isfile(raw):
            add(raw)
        elif os.path.isdir(raw):
            for root, dirs, names in os.walk(raw, followlinks=False):
                rel_root = os.path.relpath(root, raw)
                kept = []
                for d in sorted(dirs):
                    full = os.path.join(root, d)
                    rel = _as_printed(os.path.join(rel_root, d))
                    if d in SKIP_DIRS or d.endswith(".egg-info") or _is_venv(full):
                        continue
                    if _excluded(_as_printed(full), rel, d, exclude):
                        continue
                    kept.append(d)
                dirs[:] = kept
                for name in sorted(names):
                    if not name.endswith(".py"):
                        continue
                    full = os.path.join(root, name)
                    if _excluded(_as_printed(full), _as_printed(os.path.join(rel_root, name)), name, exclude):
                        continue
                    add(full)
        else:
            missing.append(raw)
    return files, missing


def decode_source(data: bytes) -> str:
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding)


def read_sources(files: Sequence[str]) -> Tuple[List[Tuple[str, bytes]], List[Tuple[str, str]]]:
    """Reads every file as bytes; returns ``(sources, [(path, error), ...])`` for the unreadable."""
    sources: List[Tuple[str, bytes]] = []
    errors: List[Tuple[str, str]] = []
    for path in files:
        try:
            with open(path, "rb") as handle:
                sources.append((path, handle.read()))
        except OSError as exc:
            errors.append((path, f"cannot read: {exc.strerror or exc}"))
    return sources, errors
