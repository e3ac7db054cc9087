"""``classify-shim classify``: run one classify request from the command line.

Also home of what ``compare`` shares with it: the request arguments, loading the classes file,
building a client per backend, walking every page and the progress bar on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, TextIO, Union

from .._config import BACKEND_CHOICES
from .._events import ProgressCallback

__all__ = [
    "Collected",
    "ProgressBar",
    "RequestArgs",
    "UsageError",
    "add_request_arguments",
    "collect_pages",
    "load_classes",
    "make_client",
    "parse_request",
    "register",
    "run",
    "start_request",
]

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_ERROR = 3


class UsageError(Exception):
    """A bad command line (exit code 2), reported without a traceback."""


# --------------------------------------------------------------------------------------------
# Request arguments, shared with ``compare``


def add_request_arguments(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """``required=False``: classes and target may come from elsewhere (``compare --legacy-results``)."""
    parser.add_argument(
        "--classes",
        required=required,
        metavar="FILE|JSON|-",
        help='the classes: a JSON file, "-" for stdin, or inline JSON; a list of '
        '{"name", "prompts", ["options"], ["conversation_option"]} or {"classes": [...]}',
    )
    target = parser.add_mutually_exclusive_group(required=required)
    target.add_argument("--video-ids", metavar="ID,ID,...", help="classify these videos (classify.videos)")
    target.add_argument(
        "--index-id", metavar="ID", help="classify every video of this index (classify.index)"
    )
    parser.add_argument(
        "--options",
        default="visual,conversation",
        metavar="SOURCES",
        help="comma-separated sources: visual, conversation, text_in_video (default: visual,conversation)",
    )
    parser.add_argument(
        "--conversation-option",
        choices=("semantic", "exact_match"),
        default=None,
        help="how conversation prompts match (default: semantic)",
    )
    parser.add_argument(
        "--threshold",
        metavar="JSON",
        help='thresholds, e.g. \'{"min_video_score": 80, "min_duration_ratio": 0.3}\' or 80 (= min_video_score)',
    )
    parser.add_argument("--page-limit", type=int, metavar="N", help="results per page, 1-50 (default 10)")
    parser.add_argument(
        "--base-url",
        metavar="URL",
        help="API host (default: TWELVELABS_BASE_URL or https://api.twelvelabs.io)",
    )
    progress = parser.add_mutually_exclusive_group()
    progress.add_argument(
        "--progress", dest="progress", action="store_true", default=None, help="always draw the progress bar"
    )
    progress.add_argument(
        "--no-progress", dest="progress", action="store_false", help="never draw the progress bar"
    )


@dataclass
class RequestArgs:
    """One classify request, as the command line described it."""

    kind: str  # "videos" | "index"
    target: Union[List[str], str]
    options: List[str]
    classes: List[Any]
    conversation_option: Optional[str] = None
    threshold: Any = None
    page_limit: Optional[int] = None
    include_clips: bool = False
    show_detailed_score: bool = False

    @property
    def video_count(self) -> Optional[int]:
        return len(self.target) if isinstance(self.target, list) else None

    def kwargs(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"options": self.options, "classes": self.classes}
        if self.conversation_option is not None:
            out["conversation_option"] = self.conversation_option
        if self.threshold is not None:
            out["threshold"] = self.threshold
        if self.page_limit is not None:
            out["page_limit"] = self.page_limit
        if self.include_clips:
            out["include_clips"] = True
        if self.show_detailed_score:
            out["show_detailed_score"] = True
        return out

    @property
    def class_names(self) -> List[str]:
        names: List[str] = []
        for item in self.classes:
            name = item.get("name") if isinstance(item, Mapping) else None
            if isinstance(name, str):
                names.append(name)
        return names


def _read_text(value: str) -> str:
    stripped = value.strip()
    if value == "-":
        return sys.stdin.read()
    if stripped.startswith(("[", "{")):
        return value
    path = Path(value).expanduser()
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"--classes: {value}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--classes: cannot read {value}: {exc}") from None


def load_classes(value: str) -> List[Any]:
    """Classes from a file, stdin or inline JSON: a list, or an object with a ``classes`` list."""
    text = _read_text(value)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--classes: not valid JSON ({exc})") from None
    if isinstance(data, Mapping) and "classes" in data:
        data = data["classes"]
    if not isinstance(data, list) or not data:
        raise UsageError('--classes: expected a non-empty JSON list of classes (or {"classes": [...]})')
    return data


def _split(value: str) -> List[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _threshold(value: Optional[str]) -> Any:
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise UsageError(f"--threshold: not valid JSON ({exc})") from None
    if isinstance(parsed, bool) or not isinstance(parsed, (dict, int, float)):
        raise UsageError("--threshold: expected a JSON object or a number")
    return parsed


def parse_request(args: argparse.Namespace, *, include_clips: bool, show_detailed_score: bool) -> RequestArgs:
    classes = load_classes(args.classes)
    target: Union[List[str], str]
    if args.video_ids is not None:
        target = _split(args.video_ids)
        if not target:
            raise UsageError("--video-ids: give at least one id")
        kind = "videos"
    else:
        target = str(args.index_id).strip()
        if not target:
            raise UsageError("--index-id: give an index id")
        kind = "index"
    return RequestArgs(
        kind=kind,
        target=target,
        options=_split(args.options),
        classes=classes,
        conversation_option=args.conversation_option,
        threshold=_threshold(args.threshold),
        page_limit=args.page_limit,
        include_clips=include_clips,
        show_detailed_score=show_detailed_score,
    )


# --------------------------------------------------------------------------------------------
# Running


class ProgressBar:
    """``on_progress`` callback drawing ``[#####-----] 3/10 videos`` on one stderr line."""

    WIDTH = 24

    def __init__(self, stream: TextIO, label: str = "") -> None:
        self.stream = stream
        self.label = label
        self.drawn = False

    def __call__(self, progress: Any) -> None:
        done = int(getattr(progress, "done", 0))
        total = max(1, int(getattr(progress, "total", 1)))
        filled = min(self.WIDTH, self.WIDTH * done // total)
        status = getattr(progress, "status", "")
        prefix = f"{self.label} " if self.label else ""
        self.stream.write(
            f"\r{prefix}[{'#' * filled}{'-' * (self.WIDTH - filled)}] {done}/{total} videos ({status})\x1b[K"
        )
        self.stream.flush()
        self.drawn = True

    def finish(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False


def wants_progress(args: argparse.Namespace, request: RequestArgs, stream: TextIO) -> bool:
    """Draw only for several videos (or a whole index), on a terminal unless forced."""
    if args.progress is False:
        return False
    several = request.video_count is None or request.video_count > 1
    if args.progress is True:
        return several
    return several and bool(getattr(stream, "isatty", lambda: False)())


def make_client(
    backend: Optional[str], base_url: Optional[str], on_progress: Optional[ProgressCallback] = None
) -> Any:
    from .. import TwelveLabs

    return TwelveLabs(classify_backend=backend, base_url=base_url, on_progress=on_progress)


def start_request(client: Any, request: RequestArgs) -> Any:
    if request.kind == "videos":
        return client.classify.videos(request.target, **request.kwargs())
    return client.classify.index(request.target, **request.kwargs())


@dataclass
class Collected:
    """Every page of one request, flattened back into one v1.2-shaped body."""

    backend: str
    videos: List[Dict[str, Any]] = field(default_factory=list)
    page_info: Dict[str, Any] = field(default_factory=dict)
    pages: int = 0
    errors: List[Dict[str, Any]] = field(default_factory=list)

    def body(self) -> Dict[str, Any]:
        return {"data": self.videos, "page_info": self.page_info}


def _dump(video: Any) -> Dict[str, Any]:
    dumped: Dict[str, Any] = video.model_dump(mode="json", exclude_none=True)
    return dumped


def collect_pages(result: Any, all_pages: bool) -> Collected:
    out = Collected(backend=str(getattr(result, "backend", "") or ""))
    out.videos.extend(_dump(v) for v in result.data)
    out.pages = 1
    if all_pages:
        for data in result:
            out.videos.extend(_dump(v) for v in data)
            out.pages += 1
    out.page_info = result.page_info.model_dump(mode="json")
    out.errors = [
        {"video_id": e.video_id, "stage": e.stage, "message": e.message, "attempts": e.attempts}
        for e in result.errors
    ]
    return out


@contextlib.contextmanager
def cli_warnings(err: TextIO) -> Iterator[None]:
    """Deprecation warnings are noise for someone who asked for a classify run: off. Other
    warnings (a backend switch, videos left out) are printed as one line each on stderr."""
    from .._config import ENV_WARNINGS
    from .._warnings import ClassifyDeprecationWarning

    saved = os.environ.get(ENV_WARNINGS)
    os.environ[ENV_WARNINGS] = "off"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.simplefilter("ignore", ClassifyDeprecationWarning)
            yield
    finally:
        if saved is None:
            os.environ.pop(ENV_WARNINGS, None)
        else:
            os.environ[ENV_WARNINGS] = saved
    for item in caught:
        err.write(f"warning: {item.category.__name__}: {item.message}\n")


def run_request(
    args: argparse.Namespace, request: RequestArgs, backend: Optional[str], err: TextIO, label: str = ""
) -> Collected:
    """One request on one backend, every page if ``args.all_pages``; raises the client's errors."""
    bar = ProgressBar(err, label) if wants_progress(args, request, err) else None
    client = make_client(backend, args.base_url, bar)
    try:
        result = start_request(client, request)
        return collect_pages(result, bool(getattr(args, "all_pages", True)))
    finally:
        if bar is not None:
            bar.finish()
        client.close()


def error_exit(command: str, exc: BaseException, err: TextIO) -> int:
    """Maps an exception to the documented exit code, with a one-line message."""
    from .._exceptions import ClassifyValidationError, TwelveLabsError

    if isinstance(exc, UsageError):
        err.write(f"classify-shim {command}: {exc}\n")
        return EXIT_USAGE
    not_found = isinstance(exc.body, dict) and exc.body.get("code") == "resource_not_exist" \
        if isinstance(exc, ClassifyValidationError) else False
    if isinstance(exc, ClassifyValidationError) and not not_found:
        err.write(f"classify-shim {command}: invalid request: {exc}\n")
        return EXIT_USAGE
    # An unknown video or index is the API's answer on every backend (legacy: the v1.2 400;
    # Pegasus: found missing while placing videos), so it exits with the same code: 3.
    if isinstance(exc, TwelveLabsError):
        err.write(f"classify-shim {command}: {type(exc).__name__}: {exc}\n")
        return EXIT_ERROR
    err.write(f"classify-shim {command}: unexpected error: {type(exc).__name__}: {exc}\n")
    return EXIT_ERROR


# --------------------------------------------------------------------------------------------
# The command


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "classify",
        help="run one classify request (videos or a whole index) and print the results",
        description=(
            "Run client.classify.videos (--video-ids) or client.classify.index (--index-id) through the "
            "shim and print the result as a table, or as JSON with --json. The API key comes from "
            "TWELVELABS_API_KEY; deprecation warnings are not shown."
        ),
        epilog="Exit codes: 0 ok, 2 usage error or invalid request, 3 API or runtime error.",
    )
    add_request_arguments(parser)
    parser.add_argument(
        "--backend",
        choices=BACKEND_CHOICES,
        help="classify backend (default: TWELVELABS_CLASSIFY_BACKEND, else auto)",
    )
    parser.add_argument("--include-clips", action="store_true", help="ask for clips (include_clips=True)")
    parser.add_argument(
        "--detailed", action="store_true", help="ask for detailed scores (show_detailed_score=True)"
    )
    parser.add_argument("--all-pages", action="store_true", help="follow next_page_token to the last page")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=run)


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def render_table(rows: List[List[str]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() + "\n")


def _print_table(collected: Collected, request: RequestArgs, out: TextIO) -> None:
    header = ["video_id", "class", "score", "duration_ratio"]
    if request.include_clips:
        header.append("clips")
    if request.show_detailed_score:
        header += ["max_score", "avg_score", "normalized"]
    rows: List[List[str]] = [header]
    for video in collected.videos:
        for cls in video.get("classes", []):
            row = [video["video_id"], cls["name"], _fmt(cls.get("score")), _fmt(cls.get("duration_ratio"), 3)]
            if request.include_clips:
                row.append(str(len(cls.get("clips") or [])))
            if request.show_detailed_score:
                detailed = cls.get("detailed_scores") or {}
                row += [_fmt(detailed.get(k)) for k in ("max_score", "avg_score", "normalized_score")]
            rows.append(row)
    if len(rows) > 1:
        render_table(rows, out)
    else:
        out.write("no video matched (no class passed the thresholds)\n")
    info = collected.page_info
    out.write(
        f"\n{len(collected.videos)} video(s) on {collected.pages} page(s) of {info.get('total_results', '?')} "
        f"result(s); served by {collected.backend or '?'}\n"
    )
    if info.get("next_page_token"):
        out.write(f"more results: --all-pages (next_page_token {info['next_page_token']})\n")
    for failure in collected.errors:
        out.write(f"not classified: {failure['video_id']} ({failure['stage']}): {failure['message']}\n")


def run(args: argparse.Namespace) -> int:
    out, err = sys.stdout, sys.stderr
    try:
        request = parse_request(args, include_clips=args.include_clips, show_detailed_score=args.detailed)
        with cli_warnings(err):
            collected = run_request(args, request, args.backend, err)
    except Exception as exc:
        return error_exit("classify", exc, err)
    if args.json:
        document = {
            "backend": collected.backend,
            "pages": collected.pages,
            "data": collected.videos,
            "page_info": collected.page_info,
            "errors": collected.errors,
        }
        out.write(json.dumps(document, indent=2) + "\n")
    else:
        _print_table(collected, request, out)
    return EXIT_OK
