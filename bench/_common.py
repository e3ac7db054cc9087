"""Shared helpers for the benchmarks: interleaved timing, medians, tables, JSON, machine facts.

Every benchmark reports *ratios measured in one run* (A and B interleaved, medians compared),
because absolute times on a shared machine say more about the machine than about the code.
Each script writes ``bench/results/<name>.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO_ROOT = Path(__file__).resolve().parent.parent

__all__ = [
    "RESULTS_DIR",
    "Samples",
    "external_sandbox",
    "interleave",
    "machine",
    "median",
    "parser",
    "print_table",
    "quiet_shim_warnings",
    "ratio",
    "stop_process",
    "write_results",
]

# name -> (wall seconds per run, CPU seconds of this process per run)
Samples = Dict[str, Dict[str, List[float]]]


def machine() -> Dict[str, Any]:
    """The facts a reader needs to judge a number: cores, memory, CPU, Python, OS."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        cpu = platform.processor() or "unknown"
    mem_mb: Optional[int] = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_mb = int(line.split()[1]) // 1024
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "memory_mb": mem_mb,
        "cpu_model": cpu,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(terse=True),
    }


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def ratio(a: float, b: float) -> float:
    return a / b if b else float("inf")


def interleave(
    runs: Mapping[str, Callable[[], Any]], repetitions: int, *, warmup: int = 3
) -> Samples:
    """Run each callable ``repetitions`` times, alternating A B / B A so neither always goes first.

    Returns wall and process-CPU seconds per run for each name. Warm-up runs are discarded
    (imports, connection setup, first-call caches).
    """
    names = list(runs)
    for _ in range(warmup):
        for name in names:
            runs[name]()
    out: Samples = {name: {"wall": [], "cpu": []} for name in names}
    for rep in range(repetitions):
        order = names if rep % 2 == 0 else list(reversed(names))
        for name in order:
            cpu0, wall0 = time.process_time(), time.perf_counter()
            runs[name]()
            wall1, cpu1 = time.perf_counter(), time.process_time()
            out[name]["wall"].append(wall1 - wall0)
            out[name]["cpu"].append(cpu1 - cpu0)
    return out


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "") -> None:
    """A plain fixed-width table (also pasteable into Markdown as a code block)."""
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    if title:
        print(title)
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)))
    print()


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a"
        return f"{value:.3f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def write_results(name: str, payload: Mapping[str, Any], argv: Optional[Sequence[str]] = None) -> Path:
    """``bench/results/<name>.json`` with the command, the machine and a timestamp added."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    args = list(sys.argv[1:] if argv is None else argv)
    doc = {
        "benchmark": name,
        "command": " ".join(["python", f"bench/{name}.py", *args]),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        **payload,
    }
    path.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(REPO_ROOT)}")
    return path


def parser(description: str) -> argparse.ArgumentParser:
    return argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)


@contextmanager
def quiet_shim_warnings() -> Iterator[None]:
    """The shim's deprecation warnings are part of a call's cost but not of the bench's output."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@contextmanager
def external_sandbox(*extra: str, world: Optional[str] = None) -> Iterator[Tuple[str, subprocess.Popen[str]]]:
    """A sandbox in its own process, so its threads do not share this process's GIL or CPU clock.

    Yields ``(base_url, process)``; the process is stopped (SIGTERM, then kill) on exit.
    """
    cmd = [sys.executable, "-m", "classify_shim.sandbox", "--port", "0", *extra]
    if world is not None:
        cmd += ["--world", world]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        if not base_url.startswith("http"):
            err = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"sandbox did not start: {base_url!r} {err}")
        yield base_url, proc
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen[str], timeout: float = 10) -> None:
    """SIGTERM, then kill if it has not exited within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def fetch_requests(base_url: str) -> List[Dict[str, Any]]:
    """The sandbox request log over HTTP (for a sandbox in another process)."""
    import httpx

    body = httpx.get(f"{base_url}/_sandbox/requests", timeout=30).json()
    entries: List[Dict[str, Any]] = body["requests"]
    return entries


def clear_requests(base_url: str) -> None:
    import httpx

    httpx.delete(f"{base_url}/_sandbox/requests", timeout=30)
