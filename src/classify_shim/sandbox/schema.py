"""``python -m classify_shim.sandbox.schema``: regenerate world.schema.json from the world models.

Run it after changing the models in ``_world.py``; ``--check`` only says whether the shipped file
is current (exit 1 when stale), which is what the test suite asserts.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import List, Optional

from ._world import generated_world_schema

__all__ = ["SCHEMA_PATH", "main", "render_world_schema", "write_world_schema"]

SCHEMA_PATH = Path(__file__).with_name("world.schema.json")


def render_world_schema() -> str:
    """The schema file's exact text: generated from the models, two-space indent, final newline."""
    return json.dumps(generated_world_schema(), indent=2) + "\n"


def write_world_schema(path: Optional[Path] = None) -> Path:
    target = SCHEMA_PATH if path is None else Path(path)
    target.write_text(render_world_schema(), encoding="utf-8")
    return target


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m classify_shim.sandbox.schema", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale, write nothing")
    parser.add_argument("--output", type=Path, default=SCHEMA_PATH, help="where to write (default: the shipped file)")
    args = parser.parse_args(argv)
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != render_world_schema():
            print(f"{args.output} is stale: run python -m classify_shim.sandbox.schema", file=sys.stderr)
            return 1
        print(f"{args.output} is current")
        return 0
    print(f"wrote {write_world_schema(args.output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
