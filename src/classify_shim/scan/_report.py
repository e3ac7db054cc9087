"""What ``scan`` reports: findings, unreadable files, and how each kind maps to MIGRATION.md."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, TextIO, Union

__all__ = [
    "IMPORT_KINDS",
    "KINDS",
    "MIGRATION_DOC",
    "Finding",
    "ScanError",
    "ScanReport",
    "make_finding",
    "write_text",
]

MIGRATION_DOC = "MIGRATION.md"

# kind -> default MIGRATION.md anchor (imports may point at a more specific one).
KINDS: Dict[str, str] = {
    "import": "step-1",
    "shim-import": "step-8",
    "classify-videos": "classify-videos",
    "classify-index": "classify-index",
    "by-page-token": "by-page-token",
    "iteration": "iteration",
    "classifyclassparams": "classifyclassparams",
    "threshold-arg": "threshold",
    "conversation-option-arg": "conversation-option",
    "include-clips-arg": "include-clips",
    "show-detailed-score-arg": "show-detailed-score",
    "class-options": "options",
    "class-conversation-option": "conversation-option",
    "score-read": "threshold",
    "duration-ratio-read": "threshold",
    "detailed-scores-read": "show-detailed-score",
    "clips-read": "include-clips",
    "page-token-read": "by-page-token",
    "raw-http": "not-using-the-python-sdk",
}
IMPORT_KINDS = frozenset({"import", "shim-import"})

_IGNORE_COMMENT = re.compile(r"#\s*classify-shim:\s*ignore(?:\[([A-Za-z0-9_,\s-]*)\])?")
_EXCERPT = 100


@dataclass(frozen=True)
class Finding:
    """One legacy usage site. ``line`` and ``col`` are 1-based (``col`` counts characters)."""

    file: str
    line: int
    col: int
    kind: str
    code: str
    migration: str

    def as_dict(self) -> Dict[str, Union[str, int]]:
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "kind": self.kind,
            "code": self.code,
            "migration": self.migration,
        }


@dataclass(frozen=True)
class ScanError:
    """A file that could not be read or parsed; scanning goes on without it."""

    file: str
    error: str

    def as_dict(self) -> Dict[str, str]:
        return {"file": self.file, "error": self.error}


@dataclass
class ScanReport:
    findings: List[Finding] = field(default_factory=list)
    files_scanned: int = 0
    errors: List[ScanError] = field(default_factory=list)

    def as_dict(self) -> Dict[str, object]:
        return {
            "findings": [f.as_dict() for f in self.findings],
            "files_scanned": self.files_scanned,
            "errors": [e.as_dict() for e in self.errors],
        }


def make_finding(
    path: str, lines: Sequence[str], line: int, col_offset: int, kind: str, anchor: Optional[str] = None
) -> Optional[Finding]:
    """A finding at ``line`` (1-based) and byte offset ``col_offset``, unless an ignore comment silences it."""
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    ignored = _IGNORE_COMMENT.search(text)
    if ignored:
        only = ignored.group(1)
        if only is None or kind in {k.strip() for k in only.split(",")}:
            return None
    col = len(text.encode("utf-8")[:col_offset].decode("utf-8", "replace")) + 1
    code = text.strip()
    if len(code) > _EXCERPT:
        code = code[: _EXCERPT - 3] + "..."
    return Finding(
        file=path,
        line=line,
        col=col,
        kind=kind,
        code=code,
        migration=f"{MIGRATION_DOC}#{anchor or KINDS[kind]}",
    )


def _arrow(stream: TextIO) -> str:
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        "\u2192".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return "->"
    return "\u2192"


def write_text(report: ScanReport, out: TextIO, err: TextIO) -> None:
    """One line per finding on ``out`` (``file:line:col  kind  code  -> doc``); errors and a summary on ``err``."""
    arrow = _arrow(out)
    for f in report.findings:
        out.write(f"{f.file}:{f.line}:{f.col}  {f.kind}  {f.code}  {arrow} {f.migration}\n")
    for e in report.errors:
        err.write(f"{e.file}: error: {e.error}\n")
    files = len({f.file for f in report.findings})
    noun = "finding" if len(report.findings) == 1 else "findings"
    err.write(
        f"{len(report.findings)} {noun} in {files} file(s); {report.files_scanned} file(s) scanned"
        + (f", {len(report.errors)} could not be read or parsed" if report.errors else "")
        + "\n"
    )
