"""Parsing cost of adversarial model answers: time and counted work must grow linearly with size.

Families of hostile answers (open brackets, nested-bracket bombs, many small non-JSON spans,
near-JSON needing repair, fences, 400-digit numbers) at 16,000 and 390,000 characters — the
sizes that took 9-15 s and 38 s before the parser was made linear. For each: seconds per
parse (median of ``--repeat``), work units counted by ``_json.measure`` per character, and the
big/small ratios of both (linear = about 390/16 = 24; quadratic would be ~600).

    python bench/parse_hostile.py [--repeat 3]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import parser, print_table, write_results

SIZES = (16_000, 390_000)

FAMILIES: Dict[str, Callable[[int], str]] = {
    "open-brackets": lambda n: "[" * n,
    "balanced-bomb": lambda n: "[" * (n // 2) + "]" * (n // 2),
    "small-non-json-spans": lambda n: "{x} " * (n // 4),
    "deep-then-prose": lambda n: ("[" * 60 + "]" * 60 + " so ") * (n // 124),
    "near-json-repair": lambda n: "{" + "'k': True, " * (n // 11) + "}",
    "fences": lambda n: "```json\n{x}\n``` " * (n // 16),
    "400-digit-numbers": lambda n: '{"classes": [' + ('{"name": "A", "confidence": 1' + "0" * 400 + "}, ") * (n // 430),
}


def main() -> None:
    cli = parser("hostile answer parsing cost")
    cli.add_argument("--repeat", type=int, default=3)
    args = cli.parse_args()
    from classify_shim._request import ClassSpec
    from classify_shim.adapters.pegasus._json import measure
    from classify_shim.adapters.pegasus._parse import AnswerError, parse_answer

    classes = (ClassSpec("A", ("a",), ("visual",), "semantic"),)
    rows: List[List[object]] = []
    results: Dict[str, Dict[str, float]] = {}
    for name, make in FAMILIES.items():
        per: Dict[int, Dict[str, float]] = {}
        for size in SIZES:
            text = make(size)
            times = []
            work = 0
            for _ in range(args.repeat):
                with measure() as meter:
                    started = time.perf_counter()
                    try:
                        parse_answer(text, classes=classes, duration=60.0)
                    except AnswerError:
                        pass
                    times.append(time.perf_counter() - started)
                work = meter.work
            per[size] = {"chars": len(text), "seconds": statistics.median(times), "work_per_char": work / len(text)}
        small, big = per[SIZES[0]], per[SIZES[1]]
        results[name] = {
            "seconds_16k": small["seconds"], "seconds_390k": big["seconds"],
            "work_per_char_16k": small["work_per_char"], "work_per_char_390k": big["work_per_char"],
            "time_ratio": big["seconds"] / max(small["seconds"], 1e-9),
            "size_ratio": big["chars"] / small["chars"],
        }
        rows.append([name, f"{small['seconds'] * 1000:.1f} ms", f"{big['seconds'] * 1000:.1f} ms",
                     f"{small['work_per_char']:.2f}", f"{big['work_per_char']:.2f}",
                     f"{results[name]['time_ratio']:.1f}", f"{results[name]['size_ratio']:.1f}"])
    print_table(["family", "16k", "390k", "work/char 16k", "work/char 390k", "time ratio", "size ratio"], rows,
                "hostile answer parsing (linear: time ratio ~ size ratio)")
    write_results("parse_hostile", {"families": results})


if __name__ == "__main__":
    main()
