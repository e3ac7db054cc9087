"""The wheel works on its own: built from a copy of the tree, installed into a fresh venv.

Needs the package registry (build backend and runtime dependencies); skipped with a clear message
when it is unreachable. One build and one install serve every check of this module.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

from processes import stop

REPO = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

_IGNORE = shutil.ignore_patterns(
    ".git", "build", "dist", "*.egg-info", ".mypy_cache", ".ruff_cache", ".pytest_cache", "__pycache__",
    ".ci-venv", ".venv", "venv", "tests", "bench",
)


def _clean_env() -> Dict[str, str]:
    """No variable that would let the venv see the development tree or the user's settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TWELVELABS_", "PYTHON", "VIRTUAL_ENV", "PIP_REQUIRE"))}
    env["PYTHONNOUSERSITE"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def _run(args: List[str], *, cwd: Optional[Path] = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=timeout,
                          check=False)


def _registry_reachable(tmp: Path) -> bool:
    probe = _run([sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-q",
                  "-d", str(tmp / "probe"), "packaging"], timeout=180)
    return probe.returncode == 0


class Installed:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / ("Scripts" if os.name == "nt" else "bin")
        self.python = str(self.bin / "python")
        self.cli = str(self.bin / "classify-shim")
        self.pip = [sys.executable, "-m", "pip", "--python", self.python]  # installs into this venv

    def py(self, code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        # Run from the venv directory so the development tree is not on sys.path.
        return _run([self.python, "-c", code], cwd=self.root, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    tmp = tmp_path_factory.mktemp("packaging")
    if not _registry_reachable(tmp):
        pytest.skip("package registry unreachable: cannot fetch the build backend and dependencies")
    source = tmp / "source"
    shutil.copytree(REPO, source, ignore=_IGNORE)
    dist = tmp / "dist"
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check",
                  "-w", str(dist), str(source)])
    assert built.returncode == 0, built.stdout + built.stderr
    wheels = sorted(dist.glob("twelvelabs_classify_shim-*.whl"))
    assert len(wheels) == 1, list(dist.iterdir())
    venv = tmp / "venv"
    # No pip of its own (ensurepip costs ~5 s of CPU): this pip installs into it (``--python``).
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    assert made.returncode == 0, made.stderr
    target = Installed(venv)
    inst = _run([*target.pip, "install", "--disable-pip-version-check", "-q", str(wheels[0])])
    assert inst.returncode == 0, inst.stdout + inst.stderr
    yield target


def test_core_and_legacy_backend_import_from_the_install(installed: Installed) -> None:
    proc = installed.py(
        "import importlib.util, pathlib, sys\n"
        "import classify_shim, classify_shim.adapters.legacy, classify_shim.sandbox\n"
        "from classify_shim import TwelveLabs\n"
        "print(pathlib.Path(classify_shim.__file__).resolve())\n"
        "print(importlib.util.find_spec('twelvelabs') is None)\n"
        "c = TwelveLabs('k', classify_backend='legacy')\n"
        "print(c.base_url)\n"
    )
    assert proc.returncode == 0, proc.stderr
    location, no_official_sdk, base_url = proc.stdout.split()
    assert location.startswith(str(installed.root.resolve())), "imported from outside the fresh venv"
    assert no_official_sdk == "True", "the official SDK must not be a runtime dependency"
    assert base_url == "https://api.twelvelabs.io/v1.2/"


def test_pegasus_backend_imports_from_the_install(installed: Installed) -> None:
    proc = installed.py("import classify_shim.adapters.pegasus as p; print(p.PegasusBackend.__name__)")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "PegasusBackend"


def test_package_data_is_installed(installed: Installed) -> None:
    proc = installed.py(
        "from importlib.resources import files\n"
        "print(files('classify_shim').joinpath('py.typed').is_file())\n"
        "print(files('classify_shim.sandbox').joinpath('default_world.json').is_file())\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True"]


def test_console_script_help(installed: Installed) -> None:
    proc = _run([installed.cli, "--help"], cwd=installed.root, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "classify-shim" in proc.stdout
    assert "sandbox" in proc.stdout


def _first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stream = proc.stdout
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        return ""


def test_sandbox_command_prints_its_url_first_and_serves(installed: Installed) -> None:
    proc = subprocess.Popen([installed.cli, "sandbox", "--port", "0"], cwd=installed.root, env=_clean_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = _first_line(proc, timeout=60).strip()
        assert url.startswith("http://127.0.0.1:"), (url, proc.poll())
        request = urllib.request.Request(f"{url}/v1.2/classify/not-a-real-token-1", headers={"x-api-key": "k"})
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=30)
        assert info.value.code == 400  # an unknown page token, answered by the emulator
    finally:
        stop(proc)


def test_demo_command_runs_the_documented_example(installed: Installed) -> None:
    proc = _run([installed.cli, "demo"], cwd=installed.root, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Classification results:" in proc.stdout
    assert "Video ID:" in proc.stdout


def test_installed_package_type_checks_under_its_one_name(installed: Installed, tmp_path: Path) -> None:
    """``mypy --strict -p classify_shim`` over the INSTALLED package (adapters included, as
    ``classify_shim.adapters``) passes, as it does over the repo."""
    extras = installed.py(  # the optional extras' requirements (redis, ...), read from the install
        "from importlib.metadata import requires\n"
        "print('\\n'.join(r.split(';')[0].strip() for r in requires('twelvelabs-classify-shim') or []\n"
        "                 if 'extra ==' in r and 'extra == \"dev\"' not in r))\n"
    )
    assert extras.returncode == 0, extras.stderr
    got = _run([*installed.pip, "install", "--disable-pip-version-check", "-q", "mypy>=1.8", "pytest>=7.4",
                *extras.stdout.split()], timeout=600)
    assert got.returncode == 0, got.stdout + got.stderr
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\nstrict = True\npython_version = 3.10\nplugins = pydantic.mypy\n", encoding="utf-8")
    proc = _run([installed.python, "-m", "mypy", "--config-file", str(config), "--no-incremental",
                 "--cache-dir", str(tmp_path / "cache"), "-p", "classify_shim"],
                cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "Success" in proc.stdout
    checked = int(proc.stdout.split(" in ")[-1].split()[0])  # "... no issues found in N source files"
    assert checked >= 60, proc.stdout  # the adapters were checked too, not just the core


def test_every_bench_script_answers_help_from_the_install(installed: Installed, tmp_path: Path) -> None:
    """Each ``bench/*.py`` imports only the installed package and its runtime dependencies (a copy
    of bench/ away from the source tree, run by the fresh venv) and parses its options: ``--help``
    prints a usage line and exits 0 without running the benchmark."""
    bench = tmp_path / "bench"
    shutil.copytree(REPO / "bench", bench, ignore=shutil.ignore_patterns("results", ".baseline-*", "__pycache__"))
    scripts = sorted(p for p in bench.glob("*.py") if not p.name.startswith("_"))
    assert len(scripts) >= 10, scripts
    for script in scripts:
        proc = _run([installed.python, str(script), "--help"], cwd=tmp_path, timeout=120)
        assert proc.returncode == 0, (script.name, proc.stdout[-2000:], proc.stderr[-2000:])
        assert proc.stdout.lstrip().startswith("usage:"), (script.name, proc.stdout[-2000:])
        assert not (bench / "results").exists(), f"{script.name} --help ran the benchmark"
