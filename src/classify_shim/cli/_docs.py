"""``classify-shim docs [TOPIC]``: the migration guide and the docs, read from the installed package.

Warnings and ``scan`` point at MIGRATION.md entries; an installed user has no checkout, so the
wheel carries the Markdown (``classify_shim/_docs``) and this command prints one section of it.
A topic is an entry's anchor (``classify-videos``, ``step-4``; the ``<a id>`` the warnings name),
``MIGRATION.md#anchor`` as the warnings print it, or a page name (``scoring``, ``configuration``).
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from importlib import resources
from typing import Dict, List, Optional, Tuple

__all__ = ["Section", "find", "register", "run", "topics"]

_ANCHOR = re.compile(r'^<a id="([^"]+)"></a>\s*$')
_HEADING = re.compile(r"^(#{1,6})\s+(.*\S)\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class Section:
    """One printable piece of a page: the text from an anchor to the next one (or the whole page)."""

    topic: str
    page: str
    title: str
    text: str


def _pages() -> Dict[str, str]:
    """Page name (lower case, no ``.md``) -> Markdown text, from the package's own copy."""
    root = resources.files("classify_shim").joinpath("_docs")
    pages: Dict[str, str] = {}
    for folder in (root, root.joinpath("guides")):
        if not folder.is_dir():
            continue
        for item in sorted(folder.iterdir(), key=lambda p: p.name):
            if item.name.endswith(".md") and item.is_file():
                name = item.name[:-3].lower()
                pages.setdefault(name if folder is root or name != "readme" else "docs", item.read_text("utf-8"))
    return pages


def _sections(page: str, text: str) -> List[Section]:
    """The anchored sections of a page: each runs until the next anchor or a heading at its level or above."""
    lines = text.splitlines()
    starts: List[Tuple[int, str]] = []
    fenced = False
    for n, line in enumerate(lines):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and (m := _ANCHOR.match(line)):
            starts.append((n, m.group(1)))
    out: List[Section] = []
    for i, (start, anchor) in enumerate(starts):
        limit = starts[i + 1][0] if i + 1 < len(starts) else len(lines)
        title, level, end = anchor, 7, limit
        fenced = False
        for n in range(start + 1, limit):
            if _FENCE.match(lines[n]):
                fenced = not fenced
                continue
            heading = None if fenced else _HEADING.match(lines[n])
            if heading is None:
                continue
            if level == 7:
                title, level = heading.group(2).strip(), len(heading.group(1))
            elif len(heading.group(1)) <= level:
                end = n
                break
        body = "\n".join(lines[start + 1:end]).strip("\n")
        out.append(Section(anchor, page, title, body + "\n"))
    return out


def topics() -> List[Section]:
    """Every topic: the anchored sections of every page, then the pages themselves."""
    pages = _pages()
    found: List[Section] = []
    for page, text in pages.items():
        found += _sections(page, text)
    for page, text in pages.items():
        first = next((m.group(2) for m in map(_HEADING.match, text.splitlines()) if m), page)
        found.append(Section(page, page, first, text if text.endswith("\n") else text + "\n"))
    return found


def find(topic: str, among: Optional[List[Section]] = None) -> Optional[Section]:
    """The section for ``topic`` (anchor, ``page#anchor``, ``PAGE.md#anchor`` or page name), or None."""
    wanted = topic.strip()
    page: Optional[str] = None
    if "#" in wanted:
        page_part, wanted = wanted.split("#", 1)
        page = page_part.rsplit("/", 1)[-1].lower().removesuffix(".md") if page_part else None
    wanted = wanted.lower().removesuffix(".md")
    for section in topics() if among is None else among:
        if section.topic.lower() == wanted and (page is None or section.page == page):
            return section
    return None


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "docs",
        help="print a section of the migration guide or of the docs (shipped with the package)",
        description=(
            "Print the migration guide's entry for TOPIC (the name warnings print, e.g. classify-videos or "
            "MIGRATION.md#classify-videos; step-1 ... step-8) or a whole page (migration, scoring, "
            "configuration, ...). Without TOPIC, list the topics."
        ),
        epilog="Exit codes: 0 ok, 2 unknown topic.",
    )
    parser.add_argument("topic", nargs="?", help="an anchor, PAGE.md#anchor or a page name")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    every = topics()  # the pages are read once per command
    if not args.topic:
        width = max(len(s.topic) for s in every)
        for section in every:
            where = "" if section.topic == section.page else f"  ({section.page})"
            print(f"{section.topic:<{width}}  {section.title}{where}")
        return 0
    found = find(args.topic, every)
    if found is None:
        known = ", ".join(sorted({s.topic for s in every}))
        print(f"classify-shim docs: no topic {args.topic!r}; topics: {known}", file=sys.stderr)
        return 2
    sys.stdout.write(found.text)
    return 0
