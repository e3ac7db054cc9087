"""Every supported CPython besides the one running CI: the built wheel, a representative subset.

The full suite runs once (README's test command). Here the wheel is built once and installed,
with the dev extra's test dependencies, into a fresh venv per other interpreter found under pyenv
(``requires-python`` decides which count). Each runs: every module imports, ``classify-shim demo``,
the seed scripts on both backends, the warnings tests and the store suite on SQLite. mypy runs
once, targeting the lowest supported version it accepts. Prints version -> pass/fail; exits 1 on
any failure. Versions that are not installed are reported, not failed. Standard library only.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[1]
# The dev extra minus the tools that check the source rather than run it.
NOT_TEST_DEPS = ("mypy", "ruff")
# The representative subset (paths from the repository root), with the shared input a step needs.
SUBSET: Tuple[Tuple[str, List[str], Optional[str]], ...] = (
    ("seed scripts", ["tests/legacy/test_legacy_examples.py"], "seed/classify-sdk-reference.txt"),
    ("warnings", ["tests/legacy/test_legacy_warnings.py"], None),
    ("store/sqlite", ["tests/store/test_behaviour.py", "tests/store/test_sqlite.py", "-k", "not redis"], None),
)
# The suite's one lookup rule for inputs kept outside the repository (tests/shared_inputs.py).
sys.path.insert(0, str(REPO / "tests"))
from shared_inputs import ENV as SHARED_ENV  # noqa: E402
from shared_inputs import missing, shared_file  # noqa: E402

_IMPORT_ALL = (
    "import importlib, pkgutil, classify_shim, sys\n"
    "assert sys.prefix in classify_shim.__file__, classify_shim.__file__\n"
    "for m in pkgutil.walk_packages(classify_shim.__path__, 'classify_shim.'):\n"
    "    if not m.name.endswith('.__main__'):  # those run a command\n"
    "        importlib.import_module(m.name)\n"
)


class Step(NamedTuple):
    name: str
    ok: bool
    detail: str
    seconds: float = 0.0
    ran: bool = True
    """False when the step's shared input is absent: the main suite skips the same tests, saying so."""


def _env() -> Dict[str, str]:
    """No variable that lets a venv see the development tree or the user's settings."""
    env = {k: v for k, v in os.environ.items()
           if k == SHARED_ENV  # where the inputs kept outside the repository are, not a setting
           or not k.startswith(("TWELVELABS_", "PYTHON", "VIRTUAL_ENV", "PIP_REQUIRE", "CLASSIFY_SHIM_"))}
    env["PYTHONNOUSERSITE"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def _run(args: Sequence[str], cwd: Path, timeout: float = 1200) -> Tuple[int, str]:
    try:
        proc = subprocess.run(list(args), cwd=cwd, env=_env(), capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        return 124, f"timed out after {timeout:.0f} s: {exc.cmd}"
    return proc.returncode, proc.stdout + proc.stderr


def _pyproject() -> str:
    return (REPO / "pyproject.toml").read_text(encoding="utf-8")


def requires_floor() -> Tuple[int, int]:
    found = re.search(r'^requires-python\s*=\s*">=\s*(\d+)\.(\d+)', _pyproject(), re.M)
    return (int(found.group(1)), int(found.group(2))) if found else (3, 9)


def classified_versions() -> List[str]:
    """The versions pyproject's classifiers claim (``Programming Language :: Python :: 3.X``)."""
    return re.findall(r'"Programming Language :: Python :: (3\.\d+)"', _pyproject())


def test_deps() -> List[str]:
    """The dev extra's requirements, without the source checkers."""
    block = re.search(r"^dev\s*=\s*\[(.*?)^\]", _pyproject(), re.M | re.S)
    if block is None:
        raise SystemExit("pyproject.toml has no dev extra")
    reqs = re.findall(r'"([^"]+)"', block.group(1))
    return [r for r in reqs if re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() not in NOT_TEST_DEPS]


def pyenv_versions() -> Optional[Path]:
    root = None
    if shutil.which("pyenv"):
        code, out = _run(["pyenv", "root"], REPO, timeout=30)
        if code == 0 and out.strip():
            root = Path(out.strip().splitlines()[-1])
    for candidate in (root, Path.home() / ".pyenv"):
        if candidate is not None and (candidate / "versions").is_dir():
            return candidate / "versions"
    return None


def find_interpreters(floor: Tuple[int, int]) -> Tuple[Dict[str, Path], List[str]]:
    """The newest installed patch of every supported minor except the one running this script."""
    found: Dict[str, Tuple[Tuple[int, ...], Path]] = {}
    versions = pyenv_versions()
    if versions is not None:
        for entry in versions.iterdir():
            match = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", entry.name)
            python = entry / "bin" / "python3"
            if not match or not python.exists():
                continue  # pypy-*, *-dev, virtualenvs: not the CPython releases we test
            key = tuple(int(g) for g in match.groups())
            minor = f"{key[0]}.{key[1]}"
            if key[:2] < floor or key[:2] == sys.version_info[:2]:
                continue
            if minor not in found or key > found[minor][0]:
                found[minor] = (key, python)
    current = f"{sys.version_info[0]}.{sys.version_info[1]}"
    wanted = [v for v in classified_versions() if v != current]
    missing = [v for v in wanted if v not in found]
    return {v: found[v][1] for v in sorted(found, key=lambda s: tuple(map(int, s.split("."))))}, missing


def build_wheel(work: Path) -> Path:
    source = work / "source"
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", ".mypy_cache", ".ruff_cache", "__pycache__", ".ci-venv",
        ".venv", "venv", "tests", "bench"))
    code, out = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work / "dist"),
                      str(source)], work)
    wheels = sorted((work / "dist").glob("twelvelabs_classify_shim-*.whl"))
    if code != 0 or len(wheels) != 1:
        raise SystemExit(f"building the wheel failed:\n{out}")
    return wheels[0]


def _summary(out: str) -> str:
    """pytest's result line, else the last line of the output."""
    lines = out.strip().splitlines()
    results = [ln for ln in lines if re.search(r"\d+ (passed|failed|errors?)\b", ln)]
    return (results or lines or [""])[-1].strip("= ")


def check_version(version: str, python: Path, wheel: Path, work: Path) -> List[Step]:
    """One interpreter: venv, install, then each step of the subset (all run, failures kept)."""
    venv = work / f"venv-{version}"
    vpy, vbin = str(venv / "bin" / "python"), venv / "bin"
    demo_home = work / f"home-{version}"
    demo_home.mkdir()
    steps: List[Step] = []

    def step(name: str, args: Sequence[str], cwd: Path, check: Callable[[int, str], bool]) -> bool:
        began = time.monotonic()
        code, out = _run(args, cwd)
        ok = check(code, out)
        steps.append(Step(name, ok, _summary(out) if ok else out, time.monotonic() - began))
        return ok

    def exit_ok(code: int, out: str) -> bool:
        return code == 0

    def tests_ok(code: int, out: str) -> bool:
        # A skip here would hide a regression on this version.
        return code == 0 and not re.search(r"\d+ skipped", _summary(out))

    if not step("venv", [str(python), "-m", "venv", str(venv)], work, exit_ok):
        return steps
    if not step("install", [vpy, "-m", "pip", "install", "-q", str(wheel), *test_deps()], work, exit_ok):
        return steps
    step("import all", [vpy, "-c", _IMPORT_ALL], venv, exit_ok)
    step("demo", [str(vbin / "classify-shim"), "demo"], demo_home,
         lambda code, out: code == 0 and "Classification results:" in out)
    for name, args, needs in SUBSET:
        if needs is not None and shared_file(needs) is None:
            steps.append(Step(name, True, missing(needs), ran=False))
            continue
        # venv/bin/pytest, not `python -m pytest`: the repository root must not be on sys.path, so
        # classify_shim is the installed wheel's.
        step(name, [str(vbin / "pytest"), "-q", *args], REPO, tests_ok)
    return steps


def run_mypy(floor: Tuple[int, int]) -> Step:
    """``mypy --strict`` targeting the lowest supported version this mypy accepts."""
    for minor in range(floor[1], 20):
        target = f"{floor[0]}.{minor}"
        code, out = _run([sys.executable, "-m", "mypy", "--strict", "-p", "classify_shim",
                          "--python-version", target], REPO)
        if code == 2 and "is not supported" in out:
            continue
        return Step(f"mypy --python-version {target}", code == 0, out.strip().splitlines()[-1] if out else "")
    return Step("mypy", False, "no target version accepted")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="interpreters checked at once (each venv, temp dir and port is its own)")
    parser.add_argument("--only", nargs="*", help="check only these versions (e.g. 3.9 3.13)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    floor = requires_floor()
    found, missing = find_interpreters(floor)
    if args.only:
        found = {v: p for v, p in found.items() if v in args.only}
    results: Dict[str, List[Step]] = {}
    with tempfile.TemporaryDirectory(prefix="other-pythons-") as tmp:
        work = Path(tmp)
        wheel = build_wheel(work)
        print(f"wheel {wheel.name}; checking {', '.join(found) or 'nothing'} with {args.jobs} at a time", flush=True)
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = {pool.submit(check_version, v, p, wheel, work): v for v, p in found.items()}
            mypy = run_mypy(floor)
            for future in concurrent.futures.as_completed(futures):
                version = futures[future]
                try:
                    results[version] = future.result()
                except Exception as exc:
                    results[version] = [Step("harness", False, repr(exc))]
                print(f"  {version} done ({time.monotonic() - started:.0f} s)", flush=True)
    failed = not mypy.ok
    print("\nversion  result  steps")
    for version in found:
        steps = results[version]
        ok = all(s.ok for s in steps)
        failed |= not ok
        print(f"{version:<8} {'pass' if ok else 'FAIL':<7} "
              + ", ".join(f"{s.name} {('ok' if s.ran else 'not run') if s.ok else 'FAIL'} {s.seconds:.0f}s"
                          for s in steps))
    for version in missing:
        print(f"{version:<8} {'absent':<7} not installed (not a failure)")
    print(f"{'mypy':<8} {'pass' if mypy.ok else 'FAIL':<7} {mypy.name}: {mypy.detail}")
    not_run = {s.name: s.detail for steps in results.values() for s in steps if not s.ran}
    for name, why in not_run.items():
        print(f"\n--- {name}: not run on any version (the main suite skips the same tests) ---\n{why}")
    for version in found:
        for step in results[version]:
            if not step.ok:
                print(f"\n--- {version} {step.name} ---\n{step.detail[-6000:]}")
    print(f"\nwall time {time.monotonic() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
