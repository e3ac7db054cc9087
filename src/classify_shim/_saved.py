"""Saved legacy results: v1.2 Classify answers users kept, read back as typed records.

Classify is gone; what users saved (logs, dumps, recorded traffic) is the only record of what it
decided for them. Calibration (``classify-shim calibrate``), ``compare --legacy-results`` and
shadow mode with ``shadow_legacy_results`` read them through this one loader.

A file is JSON (one record, or a list of records) or JSONL (one record per line). A record is
either a v1.2 response body as the API returned it (``{"data": [...], "page_info": {...}}``) or
recorded traffic ``{"request": <v1.2 request body>, "response": <v1.2 response body>}`` (an
HTTP ``status`` other than 200 is skipped, and said so). Keys starting with ``_`` are notes and
are ignored. A record that does not fit raises :class:`SavedResultsError` naming the file, the
line where the record starts and the field.

v1.2 listed passing classes only. So a record says "passed" for every class it lists and "did
not pass" for a requested class it does not list on a video it lists (or on a requested video
it does not list at all, when the record is a complete ``classify.videos`` answer); nothing
about videos it never names.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Set, Tuple, Union

from ._exceptions import ClassifyValidationError
from ._request import Thresholds, _check_threshold
from ._rules import finite_number

__all__ = [
    "SavedClass",
    "SavedClip",
    "SavedPair",
    "SavedRecord",
    "SavedRequest",
    "SavedResults",
    "SavedResultsError",
    "SavedVideo",
    "load_saved",
]

SAVED_SUFFIXES = (".json", ".jsonl", ".ndjson")
"""Files a directory given to :func:`load_saved` contributes."""


class SavedResultsError(ValueError):
    """A saved-results file could not be read; the message names the file, line and field."""


@dataclass(frozen=True)
class SavedClip:
    start: float
    end: float
    score: Optional[float] = None
    option: Optional[str] = None
    prompt: Optional[str] = None


@dataclass(frozen=True)
class SavedClass:
    """One passing class of one video, as v1.2 reported it."""

    name: str
    score: float
    duration_ratio: float
    clips: Tuple[SavedClip, ...] = ()


@dataclass(frozen=True)
class SavedVideo:
    video_id: str
    classes: Tuple[SavedClass, ...]


@dataclass(frozen=True)
class SavedRequestClass:
    name: str
    prompts: Tuple[str, ...]
    body: Mapping[str, Any]
    """The class as it was sent (name, prompts and any per-class options), for a re-run."""


@dataclass(frozen=True)
class SavedRequest:
    """What the saved answer was asked: classes with prompts, sources, thresholds."""

    classes: Tuple[SavedRequestClass, ...]
    options: Tuple[str, ...]
    thresholds: Thresholds
    video_ids: Optional[Tuple[str, ...]] = None
    index_id: Optional[str] = None
    conversation_option: Optional[str] = None

    @property
    def class_names(self) -> Tuple[str, ...]:
        return tuple(c.name for c in self.classes)

    def shape(self) -> str:
        """Identity of the question (classes, prompts, sources): records with the same shape
        can share one re-run; thresholds and videos do not change what the model is asked."""
        classes = [dict(c.body) for c in self.classes]
        return json.dumps([classes, list(self.options), self.conversation_option], sort_keys=True)


@dataclass(frozen=True)
class SavedRecord:
    """One saved answer (one page, or one request and its response)."""

    where: str  # "file:line"
    videos: Tuple[SavedVideo, ...]
    request: Optional[SavedRequest] = None
    complete: bool = False
    """No next or previous page: every video that passed anything is listed."""

    @property
    def class_names(self) -> Tuple[str, ...]:
        """The requested classes, or (no request saved) every class the record lists."""
        if self.request is not None:
            return self.request.class_names
        return tuple(dict.fromkeys(c.name for v in self.videos for c in v.classes))

    @property
    def thresholds(self) -> Optional[Thresholds]:
        return self.request.thresholds if self.request is not None else None

    @property
    def universe(self) -> Tuple[str, ...]:
        """Videos this record decided on: those it lists, plus every requested video it does
        not list when it is a complete ``classify.videos`` answer (none of its classes passed)."""
        listed = [v.video_id for v in self.videos]
        if self.complete and self.request is not None and self.request.video_ids:
            listed += [v for v in self.request.video_ids if v not in listed]
        return tuple(dict.fromkeys(listed))


@dataclass(frozen=True)
class SavedPair:
    """A (video, class) decision from the saved results. ``passed=False`` is censored: the
    class did not clear the thresholds, its score and ratio are unknown."""

    video_id: str
    class_name: str
    passed: bool
    score: Optional[float]
    duration_ratio: Optional[float]
    thresholds: Optional[Thresholds]
    where: str
    clips: Tuple[SavedClip, ...] = ()
    question: str = ""
    """:meth:`SavedRequest.shape` of the request that decided it ("" when none was saved): the
    same class name asked with other prompts is another question."""


@dataclass
class SavedResults:
    records: List[SavedRecord] = field(default_factory=list)
    skipped: List[str] = field(default_factory=list)
    """Records that hold no results (an error recording), one message each."""

    def pairs(self) -> List[SavedPair]:
        """Every (question, video, class) a record decided on; the first pass wins over a later
        absence (a page cut or a stricter request can hide a pass, never invent one)."""
        out: Dict[Tuple[str, str, str], SavedPair] = {}
        for rec in self.records:
            question = rec.request.shape() if rec.request is not None else ""
            listed = {v.video_id: {c.name: c for c in v.classes} for v in rec.videos}
            for vid in rec.universe:
                for name in rec.class_names:
                    hit = listed.get(vid, {}).get(name)
                    key = (question, vid, name)
                    if hit is not None:
                        if key not in out or not out[key].passed:
                            out[key] = SavedPair(vid, name, True, hit.score, hit.duration_ratio,
                                                 rec.thresholds, rec.where, hit.clips, question)
                    elif key not in out:
                        out[key] = SavedPair(vid, name, False, None, None, rec.thresholds, rec.where, (), question)
        return list(out.values())

    @property
    def video_ids(self) -> List[str]:
        return list(dict.fromkeys(v for rec in self.records for v in rec.universe))

    @property
    def class_names(self) -> List[str]:
        return list(dict.fromkeys(n for rec in self.records for n in rec.class_names))

    def decided_on(self, class_names: Iterable[str]) -> List[str]:
        """Saved videos (in saved order) some record decided on for every one of these classes:
        only there do the saved results say pass or fail for each of them (records of another
        request, with other classes, say nothing about these)."""
        wanted = set(class_names)
        decided: Dict[str, Set[str]] = {}
        for p in self.pairs():
            decided.setdefault(p.video_id, set()).add(p.class_name)
        return [v for v in self.video_ids if wanted <= decided.get(v, set())]

    def requests(self) -> List[SavedRequest]:
        """The distinct questions asked (by :meth:`SavedRequest.shape`), in file order."""
        seen: Dict[str, SavedRequest] = {}
        for rec in self.records:
            if rec.request is not None:
                seen.setdefault(rec.request.shape(), rec.request)
        return list(seen.values())

    def legacy_body(self, video_ids: Optional[Iterable[str]] = None,
                    class_names: Optional[Iterable[str]] = None) -> Dict[str, Any]:
        """One complete v1.2 body of the saved passes (optionally only these videos / classes),
        in the shape :func:`classify_shim._compare.compare_results` reads."""
        wanted_v = set(video_ids) if video_ids is not None else None
        wanted_c = set(class_names) if class_names is not None else None
        videos: Dict[str, List[Dict[str, Any]]] = {}
        taken = set()
        for p in self.pairs():
            if not p.passed or (wanted_v is not None and p.video_id not in wanted_v):
                continue
            if (wanted_c is not None and p.class_name not in wanted_c) or (p.video_id, p.class_name) in taken:
                continue
            taken.add((p.video_id, p.class_name))
            entry: Dict[str, Any] = {"name": p.class_name, "score": p.score, "duration_ratio": p.duration_ratio}
            if p.clips:
                entry["clips"] = [{"start": c.start, "end": c.end, "score": c.score, "option": c.option,
                                   "prompt": c.prompt} for c in p.clips]
            videos.setdefault(p.video_id, []).append(entry)
        data = [{"video_id": vid, "classes": cls} for vid, cls in videos.items()]
        return {"data": data, "page_info": {"next_page_token": "", "prev_page_token": ""}}


# --------------------------------------------------------------------------- reading


def _files(paths: Iterable[Union[str, Path]]) -> List[Path]:
    out: List[Path] = []
    for p in paths:
        path = Path(p).expanduser()
        if path.is_dir():
            found = sorted(f for f in path.iterdir() if f.suffix.lower() in SAVED_SUFFIXES and f.is_file())
            if not found:
                raise SavedResultsError(f"{path}: no {', '.join(SAVED_SUFFIXES)} files in this directory")
            out.extend(found)
        else:
            out.append(path)
    return out


def _values(text: str, name: str) -> Iterator[Tuple[int, Any]]:
    """(line, value) for each top-level JSON value: the elements of a top-level list, else every
    value of the file one after another (one object, JSONL, or concatenated objects)."""
    decoder = json.JSONDecoder()
    text = text.lstrip("\ufeff")
    n = len(text)

    def skip(i: int, extra: str = "") -> int:
        while i < n and (text[i].isspace() or text[i] in extra):
            i += 1
        return i

    def line_of(i: int) -> int:
        return text.count("\n", 0, i) + 1

    def decode(i: int) -> Tuple[Any, int]:
        try:
            return decoder.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            raise SavedResultsError(
                f"{name}:{line_of(i)}: not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
            ) from None

    i = skip(0)
    if i >= n:
        raise SavedResultsError(f"{name}: the file is empty")
    if text[i] == "[":
        i = skip(i + 1)
        while i < n and text[i] != "]":
            value, end = decode(i)
            yield line_of(i), value
            i = skip(end, ",")
        if i >= n:
            raise SavedResultsError(f"{name}:{line_of(n)}: not JSON (the list is not closed)")
        if skip(i + 1) < n:
            raise SavedResultsError(f"{name}:{line_of(skip(i + 1))}: not JSON (text after the list)")
        return
    while i < n:
        value, end = decode(i)
        yield line_of(i), value
        i = skip(end)


def _number(where: str, path: str, value: Any, low: float, high: float) -> float:
    number = finite_number(value)
    if number is None:
        raise SavedResultsError(f"{where}: {path} must be a number, got {json.dumps(value)[:40]}")
    if not low <= number <= high:
        raise SavedResultsError(f"{where}: {path} must be from {low:g} to {high:g}, got {value}")
    return number


def _text(where: str, path: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SavedResultsError(f"{where}: {path} must be a non-empty string, got {json.dumps(value)[:40]}")
    return value


def _prompt(where: str, path: str, value: Any) -> str:
    """A prompt as the v1.2 API took it: any string, even an empty one (no minLength)."""
    if not isinstance(value, str):
        raise SavedResultsError(f"{where}: {path} must be a string, got {json.dumps(value)[:40]}")
    return value


def _list(where: str, path: str, value: Any) -> List[Any]:
    if not isinstance(value, list):
        raise SavedResultsError(f"{where}: {path} must be a list, got {type(value).__name__}")
    return value


def _obj(where: str, path: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SavedResultsError(f"{where}: {path} must be an object, got {type(value).__name__}")
    return value


def _clip(where: str, path: str, raw: Any) -> SavedClip:
    c = _obj(where, path, raw)
    start = _number(where, f"{path}.start", c.get("start"), 0.0, math.inf)
    end = _number(where, f"{path}.end", c.get("end"), 0.0, math.inf)
    score = None if c.get("score") is None else _number(where, f"{path}.score", c.get("score"), 0.0, 100.0)
    option, prompt = c.get("option"), c.get("prompt")
    return SavedClip(start, end, score, option if isinstance(option, str) else None,
                     prompt if isinstance(prompt, str) else None)


def _video(where: str, path: str, raw: Any) -> SavedVideo:
    v = _obj(where, path, raw)
    vid = _text(where, f"{path}.video_id", v.get("video_id"))
    classes: List[SavedClass] = []
    for j, rc in enumerate(_list(where, f"{path}.classes", v.get("classes"))):
        cp = f"{path}.classes[{j}]"
        c = _obj(where, cp, rc)
        clips = tuple(_clip(where, f"{cp}.clips[{k}]", x)
                      for k, x in enumerate(_list(where, f"{cp}.clips", c.get("clips") or [])))
        classes.append(SavedClass(
            name=_text(where, f"{cp}.name", c.get("name")),
            score=_number(where, f"{cp}.score", c.get("score"), 0.0, 100.0),
            duration_ratio=_number(where, f"{cp}.duration_ratio", c.get("duration_ratio"), 0.0, 1.0),
            clips=clips,
        ))
    return SavedVideo(vid, tuple(classes))


def _request(where: str, raw: Any) -> SavedRequest:
    r = _obj(where, "request", raw)
    classes: List[SavedRequestClass] = []
    for j, rc in enumerate(_list(where, "request.classes", r.get("classes"))):
        c = _obj(where, f"request.classes[{j}]", rc)
        name = _text(where, f"request.classes[{j}].name", c.get("name"))
        prompts = _list(where, f"request.classes[{j}].prompts", c.get("prompts"))
        texts = tuple(_prompt(where, f"request.classes[{j}].prompts[{k}]", p) for k, p in enumerate(prompts))
        classes.append(SavedRequestClass(name, texts, {k: v for k, v in c.items() if not str(k).startswith("_")}))
    if not classes:
        raise SavedResultsError(f"{where}: request.classes is empty")
    options = tuple(_text(where, f"request.options[{k}]", o)
                    for k, o in enumerate(_list(where, "request.options", r.get("options", ["visual"]))))
    try:
        thresholds, _ = _check_threshold(r.get("threshold"))
    except ClassifyValidationError as exc:
        raise SavedResultsError(f"{where}: request.{exc}") from None
    ids = r.get("video_ids")
    video_ids = None
    if ids is not None:
        video_ids = tuple(_text(where, f"request.video_ids[{k}]", x) for k, x in enumerate(_list(where, "request.video_ids", ids)))
    index_id = r.get("index_id") if isinstance(r.get("index_id"), str) else None
    conv = r.get("conversation_option") if isinstance(r.get("conversation_option"), str) else None
    return SavedRequest(tuple(classes), options, thresholds, video_ids, index_id, conv)


def _body(where: str, raw: Any, request: Optional[SavedRequest]) -> SavedRecord:
    body = _obj(where, "response", raw)
    if "data" not in body:
        raise SavedResultsError(f"{where}: the response has no \"data\" list")
    videos = tuple(_video(where, f"data[{i}]", v) for i, v in enumerate(_list(where, "data", body.get("data"))))
    info = body.get("page_info")
    complete = True
    if info is not None:
        info = _obj(where, "page_info", info)
        complete = not info.get("next_page_token") and not info.get("prev_page_token")
    return SavedRecord(where, videos, request, complete)


def _record(where: str, raw: Any) -> Union[SavedRecord, str]:
    """A record, or a message saying why this one holds no results."""
    obj = _obj(where, "the record", raw)
    status = obj.get("status")
    if "response" in obj:
        if status is not None and status != 200:
            return f"{where}: recorded HTTP {status}, no results (skipped)"
        request = _request(where, obj["request"]) if obj.get("request") is not None else None
        return _body(where, obj["response"], request)
    if "data" in obj:
        return _body(where, obj, None)
    if isinstance(status, int) and status != 200:
        return f"{where}: recorded HTTP {status}, no results (skipped)"
    keys = ", ".join(sorted(str(k) for k in obj if not str(k).startswith("_"))) or "none"
    raise SavedResultsError(
        f'{where}: neither a v1.2 response body ({{"data": [...], "page_info": {{...}}}}) nor '
        f'{{"request": ..., "response": ...}} (keys: {keys})'
    )


def load_saved(paths: Sequence[Union[str, Path]]) -> SavedResults:
    """Read saved v1.2 results from files (or directories of ``.json``/``.jsonl`` files)."""
    out = SavedResults()
    for path in _files(paths):
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SavedResultsError(f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise SavedResultsError(f"{path}: cannot read it ({exc})") from None
        for line, value in _values(text, str(path)):
            got = _record(f"{path}:{line}", value)
            if isinstance(got, str):
                out.skipped.append(got)
            else:
                out.records.append(got)
    if not out.records:
        raise SavedResultsError(f"{', '.join(str(p) for p in paths)}: no saved results (every record was skipped)")
    return out
