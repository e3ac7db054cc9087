"""One package identity: ``adapters/`` is ``classify_shim.adapters`` for Python, mypy, ruff and the
tests alike, and the layers only meet through public modules."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import sys
from pathlib import Path
from typing import Iterator, List, Tuple

REPO = Path(__file__).resolve().parents[1]
ADAPTERS = REPO / "adapters"
CORE = REPO / "src" / "classify_shim"


def test_adapters_are_imported_only_as_classify_shim_adapters() -> None:
    import classify_shim.adapters as package

    names = [m.name for m in pkgutil.walk_packages(package.__path__, "classify_shim.adapters.")]
    assert {"classify_shim.adapters.auto", "classify_shim.adapters.pegasus._engine"} <= set(names)
    for name in names:
        module = importlib.import_module(name)
        assert Path(module.__file__ or "").resolve().is_relative_to(ADAPTERS.resolve()), name
    assert not [m for m in sys.modules if m == "adapters" or m.startswith("adapters.")]


def test_the_repo_layout_gives_tools_the_installed_name() -> None:
    """mypy (``-p classify_shim``, mypy_path src) reaches adapters/ through this link only."""
    link = CORE / "adapters"
    assert link.is_symlink() and link.resolve() == ADAPTERS.resolve()
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert 'known-first-party = ["classify_shim"]' in text  # ruff sorts our imports as ours
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "mypy --strict -p classify_shim" in readme and "mypy --strict src/classify_shim adapters" not in readme


def _imports(path: Path, package: str) -> Iterator[Tuple[int, str]]:
    """Absolute names of everything ``path`` (module of ``package``) imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield node.lineno, target
            for alias in node.names:
                yield node.lineno, f"{target}.{alias.name}"


def _module_package(path: Path, root: Path, prefix: str) -> str:
    """The package a module's relative imports start from (``a/b.py`` and ``a/__init__.py``: ``a``)."""
    parts = list(path.relative_to(root).with_suffix("").parts)[:-1]
    return ".".join([prefix, *parts])


def test_no_adapter_imports_another_adapters_private_modules() -> None:
    bad: List[str] = []
    for path in ADAPTERS.rglob("*.py"):
        package = _module_package(path, ADAPTERS, "classify_shim.adapters")
        own = ".".join(path.relative_to(ADAPTERS).parts[:1]).removesuffix(".py")
        for line, name in _imports(path, package):
            parts = name.split(".")
            if parts[:2] != ["classify_shim", "adapters"] or len(parts) < 4:
                continue
            if parts[2] != own and parts[3].startswith("_"):
                bad.append(f"{path.relative_to(REPO)}:{line} imports {name}")
    assert bad == []


def test_the_core_does_not_import_adapter_internals() -> None:
    """``doctor`` reads decisions through the store; the core loads adapters by name only."""
    bad: List[str] = []
    for path in CORE.rglob("*.py"):
        if "adapters" in path.relative_to(CORE).parts:
            continue
        package = _module_package(path, CORE, "classify_shim")
        for line, name in _imports(path, package):
            if name.startswith("classify_shim.adapters"):
                bad.append(f"{path.relative_to(REPO)}:{line} imports {name}")
    assert bad == []
