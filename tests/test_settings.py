"""The settings are declared once (``_config.SETTINGS``); the docs' tables, both constructors,
``ClientConfig.build`` and ``classify-shim doctor`` must say the same thing."""

from __future__ import annotations

import inspect
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

from classify_shim import AsyncTwelveLabs, TwelveLabs
from classify_shim._config import SETTINGS, ClientConfig, Setting

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
NO_ENV = "—"


def _table(first_header: str) -> Dict[str, List[str]]:
    """The markdown table whose first header cell is ``first_header``: first cell (unquoted) -> cells."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, ln in enumerate(lines) if re.match(rf"^\|\s*{first_header}\s*\|", ln))
    rows: Dict[str, List[str]] = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        rows[cells[0].strip("`")] = cells
    return rows


def _with_argument() -> List[Setting]:
    return [s for s in SETTINGS if s.argument is not None]


def test_argument_table_matches_the_declaration() -> None:
    rows = _table("argument")
    assert list(rows) == [s.argument for s in _with_argument()]
    for s in _with_argument():
        _, env, default, what = rows[str(s.argument)]
        assert env == (f"`{s.env}`" if s.env else NO_ENV), s.name
        assert default == s.default_cell, s.name
        for choice in s.choices:
            assert f"`{choice}`" in what, (s.name, choice)


def test_environment_table_matches_the_declaration() -> None:
    rows = _table("variable")
    declared = [s for s in SETTINGS if s.env is not None]
    assert sorted(rows) == sorted(str(s.env) for s in declared)
    for s in declared:
        _, values, default, _read = rows[str(s.env)]
        assert default == s.env_default_cell, s.env
        for choice in s.choices:
            assert f"`{choice}`" in values, (s.env, choice)


@pytest.mark.parametrize("client", [TwelveLabs, AsyncTwelveLabs])
def test_constructor_keywords_are_the_declared_ones(client: type) -> None:
    params = list(inspect.signature(client.__init__).parameters.values())[1:]  # type: ignore[misc]
    assert [p.name for p in params] == [s.argument for s in _with_argument()]
    for p, s in zip(params, _with_argument()):
        assert p.default is s.argument_default or p.default == s.argument_default, s.name


def test_client_config_build_takes_every_declared_setting() -> None:
    params = inspect.signature(ClientConfig.build).parameters
    # async_http_client is http_client of the async twin.
    assert [n for n in params if n != "async_http_client"] == [s.argument for s in _with_argument()]
    for s in _with_argument():
        default = params[str(s.argument)].default
        if default is not inspect.Parameter.empty:
            assert default is s.argument_default or default == s.argument_default, s.name


def test_doctor_reports_every_setting_a_variable_supplies(tmp_path: Path) -> None:
    env = {"PATH": "", "TWELVELABS_CLASSIFY_STRATEGY": "batch", "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "classify_shim.cli", "doctor", "--json", "--no-network"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False)
    report = json.loads(proc.stdout)
    shown = {s["env"]: s for s in report["settings"]}
    assert list(shown) == [s.env for s in SETTINGS if s.env is not None]
    assert shown["TWELVELABS_CLASSIFY_STRATEGY"]["value"] == "batch"
    assert shown["TWELVELABS_CLASSIFY_STRATEGY"]["source"] == "env"
    assert shown["TWELVELABS_CLASSIFY_BACKEND"]["source"] == "default"
    assert shown["TWELVELABS_CLASSIFY_BACKEND"]["allowed"] == ["legacy", "pegasus", "auto", "shadow"]
