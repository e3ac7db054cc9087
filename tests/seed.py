"""Extract the example scripts from the legacy SDK reference text, without line numbers.

The reference is prose with Python pasted in, no fences. We cut it into top-level chunks:
from a line at column 0, the shortest run of lines that parses as Python, extended over the
indented/blank lines that keep it parsing (function bodies). Lines that never start a parsable
chunk (prose, the colon-less signature blocks, table rows) and chunks that are a bare name
(one-word headings such as "Methods") separate examples. An example is a maximal run of code
chunks that calls ``client.classify.<method>``; it is named by what it does.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from shared_inputs import missing, shared_file

__all__ = ["EXAMPLE_NAMES", "SEED_FILE", "SEED_REFERENCE", "Example", "extract_examples", "find_reference", "load_examples", "prepare"]

SEED_FILE = "seed/classify-sdk-reference.txt"


def find_reference() -> Optional[Path]:
    """The reference text, found by the tests' one lookup rule (``shared_inputs``)."""
    return shared_file(SEED_FILE)


SEED_REFERENCE = find_reference()
EXAMPLE_NAMES = ("videos", "index", "by_page_token", "iterative")
_MAX_CHUNK_LINES = 80


@dataclass(frozen=True)
class Example:
    name: str
    code: str
    first_line: int  # 1-based line in the reference, for error messages


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except SyntaxError:
        return False
    return True


def _is_heading(tree: ast.Module) -> bool:
    """A one-word prose line ("Methods", "Classify") parses as a bare name expression."""
    return len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr) and isinstance(tree.body[0].value, ast.Name)


def _chunk_at(lines: List[str], start: int) -> Optional[int]:
    """End (exclusive) of the code chunk that starts at ``start``, or None if it is prose."""
    if not lines[start].strip() or lines[start][0].isspace():
        return None
    end: Optional[int] = None
    limit = min(len(lines), start + _MAX_CHUNK_LINES)
    for stop in range(start + 1, limit + 1):
        if _parses("\n".join(lines[start:stop])):
            end = stop
            break
    if end is None:
        return None
    # Extend over the rest of an indented body (and blank lines) while it still parses.
    probe = end
    while probe < len(lines) and (not lines[probe].strip() or lines[probe][0].isspace()):
        probe += 1
        if lines[probe - 1].strip() and _parses("\n".join(lines[start:probe])):
            end = probe
    return end


def _calls(tree: ast.AST) -> List[Tuple[str, ...]]:
    """Dotted names of every call in ``tree``, in source order (``client.classify.videos`` -> parts)."""
    found: List[Tuple[int, int, Tuple[str, ...]]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        parts: List[str] = []
        func: ast.expr = node.func
        while isinstance(func, ast.Attribute):
            parts.append(func.attr)
            func = func.value
        if isinstance(func, ast.Name):
            parts.append(func.id)
            found.append((node.lineno, node.col_offset, tuple(reversed(parts))))
    return [name for _, _, name in sorted(found)]


def _name(code: str) -> Optional[str]:
    """``iterative`` if it pages with ``next()``, else the last classify method it calls."""
    calls = _calls(ast.parse(code))
    methods = [c[2] for c in calls if len(c) == 3 and c[:2] == ("client", "classify")]
    if not methods:
        return None
    if ("next",) in calls:
        return "iterative"
    return methods[-1]


def extract_examples(text: str) -> Dict[str, Example]:
    lines = text.splitlines()
    runs: List[Tuple[int, int]] = []  # [start, end) line ranges, taken verbatim
    run: Optional[List[int]] = None
    i = 0
    while i < len(lines):
        end = _chunk_at(lines, i)
        if end is not None and _is_heading(ast.parse("\n".join(lines[i:end]))):
            end = None
        if end is None:
            if lines[i].strip() and run is not None:  # prose ends the current run
                runs.append((run[0], run[1]))
                run = None
            i += 1
            continue
        run = [i, end] if run is None else [run[0], end]
        i = end
    if run is not None:
        runs.append((run[0], run[1]))

    examples: Dict[str, Example] = {}
    for start, stop in runs:
        code = "\n".join(lines[start:stop]).rstrip() + "\n"
        name = _name(code)
        if name is None:
            continue
        if name in examples:
            raise ValueError(f"two examples of {name!r} in the reference (lines {examples[name].first_line} and {start + 1})")
        examples[name] = Example(name, code, start + 1)
    missing = [n for n in EXAMPLE_NAMES if n not in examples]
    if missing:
        raise ValueError(f"reference has no example for {missing}; found {sorted(examples)}")
    return examples


def load_examples(path: Optional[Path] = None) -> Dict[str, Example]:
    path = path or SEED_REFERENCE
    if path is None:
        raise FileNotFoundError(missing(SEED_FILE))
    return extract_examples(path.read_text(encoding="utf-8"))


def prepare(
    example: Example,
    *,
    import_line: str,
    api_key: str,
    video_ids: Tuple[str, str, str] = ("", "", ""),
    index_id: str = "",
    page_token: str = "",
) -> str:
    """The example verbatim, ids substituted, with only the client line prepended."""
    code = example.code
    for placeholder, value in (
        ("VIDEO_ID_1", video_ids[0]),
        ("VIDEO_ID_2", video_ids[1]),
        ("VIDEO_ID_3", video_ids[2]),
        ("<YOUR_INDEX_ID>", index_id),
        ("<YOUR_PAGE_TOKEN>", page_token),
    ):
        if f'"{placeholder}"' in code:
            if not value:
                raise ValueError(f"example {example.name!r} needs a value for {placeholder}")
            code = code.replace(f'"{placeholder}"', repr(value))
    header = f"{import_line}; client = TwelveLabs(api_key={api_key!r})\n"
    return header + code
