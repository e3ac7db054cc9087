"""One place that turns a legacy call into a checked :class:`ClassifyRequest`.

Every rule a v1.2 server enforced is checked here, before any network call, and raises
:class:`ClassifyValidationError` (a ``BadRequestError``) naming the field and what is allowed.
ONLY rules the v1.2 API itself enforced are checked (each names its source: "v1.2 spec" is
the official v1.2 OpenAPI schema of ``/classify`` and ``/classify/bulk``); input the API
served - duplicate class names or video ids, extra keys, untrimmed or repeated prompts - is
accepted, sent verbatim by the legacy backend and normalised for Pegasus (``ClassSpec``).
Both backends and both clients (sync, async) go through this module.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

import httpx

from ._exceptions import ClassifyValidationError, missing_key_error
from ._http import encoded_json
from ._models import ClassifyClassParams
from ._rules import finite_number
from ._types import BODY_OPTION_KEYS, NOT_GIVEN, POST_OPTION_KEYS, REQUEST_OPTION_KEYS, RequestOptions

__all__ = [
    "ALLOWED_CONVERSATION_OPTIONS",
    "ALLOWED_OPTIONS",
    "DEFAULT_PAGE_LIMIT",
    "MAX_PAGE_LIMIT",
    "MAX_TOTAL_PROMPTS",
    "ClassSpec",
    "ClassifyRequest",
    "Thresholds",
    "build_index_request",
    "build_videos_request",
    "check_api_key",
    "check_page_token",
    "log_merged_classes",
    "parse_request_options",
]

ALLOWED_OPTIONS: Tuple[str, ...] = ("visual", "conversation", "text_in_video")
ALLOWED_CONVERSATION_OPTIONS: Tuple[str, ...] = ("semantic", "exact_match")
THRESHOLD_KEYS: Tuple[str, ...] = ("min_video_score", "min_clip_score", "min_duration_ratio")
DEFAULT_PAGE_LIMIT = 10
MAX_PAGE_LIMIT = 50
MAX_TOTAL_PROMPTS = 100
MAX_ID_LENGTH = 128
MAX_TOKEN_LENGTH = 4096
_CLASS_KEYS = ("name", "prompts", "options", "conversation_option")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_KEY = re.compile(r"[\x21-\x7e]+")

log = logging.getLogger("classify_shim.request")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$")
_TOKEN = re.compile(r"^[A-Za-z0-9_.:=\-~]+$")


@dataclass(frozen=True)
class Thresholds:
    """Legacy thresholds; defaults are the v1.2 server's (75 / 30 / 0.5)."""

    min_video_score: float = 75.0
    min_clip_score: float = 30.0
    min_duration_ratio: float = 0.5

    def passes_class(self, score: float, duration_ratio: float) -> bool:
        return score >= self.min_video_score and duration_ratio >= self.min_duration_ratio

    def passes_clip(self, score: float) -> bool:
        return score >= self.min_clip_score


@dataclass(frozen=True)
class ClassSpec:
    """A requested class with its *effective* sources and match mode (overrides resolved)."""

    name: str
    prompts: Tuple[str, ...]
    options: Tuple[str, ...]
    conversation_option: str


@dataclass(frozen=True)
class ClassifyRequest:
    """A checked classify call, shared by every backend.

    ``wire_body`` is exactly what ``twelvelabs`` 0.3.2 would have posted (top-level ``None``
    removed, ``ClassifyClassParams`` serialised, nested ``None`` treated as absent).
    """

    kind: str  # "videos" | "index"
    video_ids: Optional[Tuple[str, ...]]
    index_id: Optional[str]
    options: Tuple[str, ...]
    classes: Tuple[ClassSpec, ...]
    conversation_option: str
    page_limit: int
    include_clips: bool
    show_detailed_score: bool
    threshold: Thresholds
    wire_body: Mapping[str, Any] = field(compare=False)
    merged: Tuple[str, ...] = field(default=(), compare=False)
    """Class names listed more than once (sent as listed on legacy, merged in ``classes``)."""
    wire_json: Optional[bytes] = field(default=None, compare=False)
    """``wire_body`` as httpx encodes it, on a memoised request only (its body is a snapshot that
    never changes); None: encoded per request."""

    @property
    def path(self) -> str:
        return "classify" if self.kind == "videos" else "classify/bulk"


def _fail(field_name: str, message: str, code: str = "parameter_invalid") -> ClassifyValidationError:
    return ClassifyValidationError(field_name, message, code=code)


def _type_name(value: object) -> str:
    return type(value).__name__


def _is_number(value: object) -> bool:
    return finite_number(value) is not None


def _check_text(field_name: str, value: object, max_len: Optional[int] = None, *, controls: bool = False) -> str:
    """A non-empty string. Length and control-character limits apply only where a v1.2 rule
    gives them (ids and page tokens, see their callers), never to class names or prompts."""
    if not isinstance(value, str):
        raise _fail(field_name, f"must be a string, got {_type_name(value)}")
    if not value.strip():
        raise _fail(field_name, "must be a non-empty string", "parameter_not_provided")
    if max_len is not None and len(value) > max_len:
        raise _fail(field_name, f"is {len(value)} characters long; at most {max_len} are allowed")
    if controls and _CONTROL.search(value):
        raise _fail(field_name, "must not contain control characters")
    return value


def _check_id(field_name: str, value: object) -> str:
    # v1.2 rule: ids name existing resources; anything that cannot be an id (v1.2 ids are short
    # hex strings) was answered 400 resource_not_exist. Checked here too because the Pegasus
    # backend puts ids into v1.3 URL paths, where '/', '..' or spaces would change the path.
    text = _check_text(field_name, value, MAX_ID_LENGTH, controls=True)
    if not _ID.match(text):
        raise _fail(
            field_name,
            f"{text!r} is not a valid id (letters, digits, '_', '.', ':', '-'; no spaces or '/')",
            "resource_not_exist",
        )
    return text


def _check_list(field_name: str, value: object, hint: str = "") -> List[Any]:
    """A non-empty list; ``hint`` says what belongs in it, for the error message."""
    suffix = f"; {hint}" if hint else ""
    if value is None:
        raise _fail(field_name, f"is required and must be a non-empty list, got None{suffix}", "parameter_not_provided")
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise _fail(field_name, f"must be a list, got {_type_name(value)}{suffix}")
    if not value:
        raise _fail(field_name, f"must not be empty{suffix}", "parameter_not_provided")
    return list(value)


_OPTIONS_HINT = f"allowed values are {', '.join(ALLOWED_OPTIONS)}"
_CLASSES_HINT = "each class is a dict with 'name' and a non-empty 'prompts' list"


def _check_options(field_name: str, value: object) -> Tuple[str, ...]:
    # v1.2 spec: ``options`` is required, minItems 1, items in the enum. No uniqueItems: a
    # repeated source is accepted (and counted once).
    items = _check_list(field_name, value, _OPTIONS_HINT)
    seen: List[str] = []
    for i, item in enumerate(items):
        if item not in ALLOWED_OPTIONS:
            raise _fail(
                f"{field_name}[{i}]",
                f"{item!r} is not a source; allowed values are {', '.join(ALLOWED_OPTIONS)}",
            )
        if item not in seen:
            seen.append(item)
    return tuple(seen)


def _check_conversation_option(field_name: str, value: object) -> str:
    if value not in ALLOWED_CONVERSATION_OPTIONS:
        raise _fail(
            field_name,
            f"{value!r} is not allowed; allowed values are {', '.join(ALLOWED_CONVERSATION_OPTIONS)}",
        )
    return str(value)


def _check_bool(field_name: str, value: object) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _fail(field_name, f"must be True, False or None, got {_type_name(value)}")
    return value


def _check_page_limit(value: object) -> int:
    # v1.2 spec (OpenAPI 3.1, so JSON Schema 2020-12): ``type: integer``, which a number with a zero
    # fractional part is (``10.0``, as ``page_limit=n / 2`` gives); 0.3.2 sent it as given.
    if value is None:
        return DEFAULT_PAGE_LIMIT
    if isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, bool) or not isinstance(value, int):
        raise _fail("page_limit", f"must be an integer from 1 to {MAX_PAGE_LIMIT}, got {_type_name(value)}")
    else:
        number = value
    if not 1 <= number <= MAX_PAGE_LIMIT:
        raise _fail("page_limit", f"must be an integer from 1 to {MAX_PAGE_LIMIT}, got {value}")
    return number


_RANGES: Dict[str, Tuple[float, float]] = {
    "min_video_score": (1.0, 100.0),
    "min_clip_score": (1.0, 100.0),
    "min_duration_ratio": (0.01, 1.0),
}


def _check_threshold_value(key: str, value: object) -> float:
    low, high = _RANGES[key]
    if not _is_number(value):
        raise _fail(f"threshold.{key}", f"must be a number from {low:g} to {high:g}, got {_type_name(value)}")
    number = float(value)  # type: ignore[arg-type]
    if not low <= number <= high:
        raise _fail(f"threshold.{key}", f"must be from {low:g} to {high:g}, got {value}")
    return number


def _check_threshold(value: object) -> Tuple[Thresholds, Optional[Union[Dict[str, Any], int, float]]]:
    """Returns the effective thresholds and the value to send on the wire."""
    if value is None:
        return Thresholds(), None
    if _is_number(value):
        # v1.2 spec, /classify/bulk (a v1.1.1 leftover): an integer threshold, minimum 0, maximum
        # 100, is the minimum video score. SDKs sent it to /classify too; we accept it on both.
        number = float(value)  # type: ignore[arg-type]
        if not 0.0 <= number <= 100.0:
            raise _fail("threshold", f"as a number is the minimum video score, from 0 to 100; got {value}")
        return Thresholds(min_video_score=number), value  # type: ignore[return-value]
    if not isinstance(value, Mapping):
        raise _fail(
            "threshold",
            f"must be a dict with keys {', '.join(THRESHOLD_KEYS)} or a number, got {_type_name(value)}",
        )
    # v1.2 spec: an object with three number properties and their ranges. The schema does not
    # forbid other keys, so the API ignored them: we send them as given (legacy) and log a warning
    # that they have no effect (once per distinct request: validation is memoised) - a typo such
    # as ``min_score`` is never silently dropped.
    effective: Dict[str, float] = {}
    wire: Dict[str, Any] = {}
    unknown: List[str] = []
    for key, item in value.items():
        if key not in THRESHOLD_KEYS:
            unknown.append(str(key))
            wire[key] = item
            continue
        if item is None:
            continue
        effective[key] = _check_threshold_value(key, item)
        wire[key] = item
    if unknown:
        log.warning(
            "threshold key(s) %s are not v1.2 thresholds (%s): the API ignored them and so does the shim",
            ", ".join(map(repr, unknown)), ", ".join(THRESHOLD_KEYS),
        )
    return Thresholds(**effective), wire


_PARAM_FIELDS = ("name", "prompts", "options", "conversation_option")


def _class_as_dict(index: int, item: object) -> Dict[str, Any]:
    """A class as the dict 0.3.2 would have sent. Any ``ClassifyClassParams`` - ours, or
    ``twelvelabs.models``' of any release (0.2.0-0.2.4 built it empty and assigned attributes)
    - is read by its fields, duck-typed; dicts keep every key (extra keys were accepted by v1.2:
    its schema has no ``additionalProperties: false``)."""
    if isinstance(item, ClassifyClassParams):
        return dict(item.to_dict())
    if isinstance(item, Mapping):
        return {k: v for k, v in item.items() if v is not None}
    dump = getattr(item, "model_dump", None)
    if callable(dump):  # a pydantic model with the class fields
        dumped = dump()
        if isinstance(dumped, Mapping) and "name" in dumped:
            return {k: v for k, v in dumped.items() if v is not None}
    if hasattr(item, "name") or hasattr(item, "prompts"):
        raw = {f: getattr(item, f, None) for f in _PARAM_FIELDS}
        return {k: v for k, v in raw.items() if v is not None}
    raise _fail(f"classes[{index}]", f"must be a dict or ClassifyClassParams, got {_type_name(item)}")


def _normalised_prompts(name: str, prompts: Tuple[str, ...]) -> Tuple[str, ...]:
    """Pegasus' view of a class's prompts: trimmed, each once, empty ones left out (the class
    name stands in when nothing is left). The legacy wire body keeps them verbatim."""
    out: Dict[str, None] = {}
    for p in prompts:
        text = " ".join(p.split())
        if text:
            out.setdefault(text, None)
    return tuple(out) or (" ".join(name.split()),)


def _merge(specs: List[ClassSpec]) -> Tuple[Tuple[ClassSpec, ...], Tuple[str, ...]]:
    """Same-named classes become one (union of prompts and sources, first match mode): the real
    API served a moderation app that listed ``SelfHarm`` twice. Returns the names merged, for
    the one notice a backend that uses the merged view logs (:func:`log_merged_classes`)."""
    merged: Dict[str, ClassSpec] = {}
    repeated: Dict[str, None] = {}
    for spec in specs:
        first = merged.get(spec.name)
        if first is None:
            merged[spec.name] = spec
            continue
        repeated.setdefault(spec.name, None)
        prompts = tuple(dict.fromkeys(first.prompts + spec.prompts))
        options = tuple(dict.fromkeys(first.options + spec.options))
        merged[spec.name] = ClassSpec(first.name, prompts, options, first.conversation_option)
    return tuple(merged.values()), tuple(repeated)


def log_merged_classes(request: ClassifyRequest) -> None:
    """One log notice per call when same-named classes were merged (Pegasus asks the model once
    per class name; the legacy backend sends the classes as listed and never calls this)."""
    if request.merged:
        log.info("classes listed more than once were merged for Pegasus (union of their prompts): %s",
                 ", ".join(request.merged))


def _check_classes(
    value: object, options: Tuple[str, ...], conversation_option: str
) -> Tuple[Tuple[ClassSpec, ...], List[Dict[str, Any]], Tuple[str, ...]]:
    # v1.2 spec: ``classes`` required, minItems 1; each has ``name`` and ``prompts`` (minItems 1,
    # strings), optional ``options`` / ``conversation_option`` from the enums; at most 100
    # prompts per request. Nothing else (no length limits, no uniqueness).
    items = _check_list("classes", value, _CLASSES_HINT)
    specs: List[ClassSpec] = []
    wire: List[Dict[str, Any]] = []
    total = 0
    for i, item in enumerate(items):
        raw = _class_as_dict(i, item)
        if "name" not in raw:
            raise _fail(f"classes[{i}].name", "is required", "parameter_not_provided")
        name = _check_text(f"classes[{i}].name", raw["name"])
        if "prompts" not in raw:
            raise _fail(f"classes[{i}].prompts", "is required and must list at least one prompt", "parameter_not_provided")
        prompts = _check_list(f"classes[{i}].prompts", raw["prompts"], "give at least one prompt string")
        for j, p in enumerate(prompts):
            # v1.2 spec: prompts are strings (no minLength): an empty one, as ``"a, b,".split(",")``
            # makes, was sent as given. Pegasus' view leaves it out (``_normalised_prompts``).
            if not isinstance(p, str):
                raise _fail(f"classes[{i}].prompts[{j}]", f"must be a string, got {_type_name(p)}")
        total += len(prompts)
        class_options = (
            _check_options(f"classes[{i}].options", raw["options"]) if "options" in raw else options
        )
        class_conv = (
            _check_conversation_option(f"classes[{i}].conversation_option", raw["conversation_option"])
            if "conversation_option" in raw
            else conversation_option
        )
        extra = [k for k in raw if k not in _CLASS_KEYS]
        if extra:
            log.debug("classes[%d] keys %s are not v1.2 class fields; sent as given on legacy, unused by Pegasus",
                      i, ", ".join(map(str, extra)))
        specs.append(ClassSpec(name, _normalised_prompts(name, tuple(prompts)), class_options, class_conv))
        wire.append(raw)
    if total > MAX_TOTAL_PROMPTS:
        raise _fail("classes", f"has {total} prompts in total; at most {MAX_TOTAL_PROMPTS} are allowed per request")
    merged, repeated = _merge(specs)
    return merged, wire, repeated


def _wire_threshold(value: object) -> Optional[Union[Dict[str, Any], int, float]]:
    """The threshold as 0.3.2 sent it (``None`` members dropped); ``value`` is already checked."""
    if value is None or not isinstance(value, Mapping):
        return value  # type: ignore[return-value]
    return {k: v for k, v in value.items() if v is not None}


def _wire_body(
    target: Dict[str, Any], options: object, wire_classes: List[Dict[str, Any]], conversation_option: object,
    page_limit: object, include_clips: object, wire_threshold: object, show_detailed_score: object,
) -> Dict[str, Any]:
    body: Dict[str, Any] = dict(target)
    body.update(
        {
            "options": list(options),  # type: ignore[call-overload]
            "classes": wire_classes,
            "conversation_option": conversation_option,
            "page_limit": page_limit,
            "include_clips": include_clips,
            "threshold": wire_threshold,
            "show_detailed_score": show_detailed_score,
        }
    )
    return {k: v for k, v in body.items() if v is not None}


def _build(
    kind: str,
    target: Dict[str, Any],
    options: object,
    classes: object,
    conversation_option: object,
    page_limit: object,
    include_clips: object,
    threshold: object,
    show_detailed_score: object,
) -> ClassifyRequest:
    checked_options = _check_options("options", options)
    conv = "semantic" if conversation_option is None else _check_conversation_option("conversation_option", conversation_option)
    specs, wire_classes, repeated = _check_classes(classes, checked_options, conv)
    limit = _check_page_limit(page_limit)
    clips = _check_bool("include_clips", include_clips)
    detailed = _check_bool("show_detailed_score", show_detailed_score)
    thresholds, wire_threshold = _check_threshold(threshold)
    return ClassifyRequest(
        kind=kind,
        video_ids=tuple(dict.fromkeys(target["video_ids"])) if "video_ids" in target else None,
        index_id=target.get("index_id"),
        options=checked_options,
        classes=specs,
        conversation_option=conv,
        page_limit=limit,
        include_clips=clips,
        show_detailed_score=detailed,
        threshold=thresholds,
        wire_body=_wire_body(target, options, wire_classes, conversation_option, page_limit, include_clips,
                             wire_threshold, show_detailed_score),
        merged=repeated,
    )


# Validation results, memoised on a structural key of the arguments: their JSON text, which
# only plain data (dict, list, tuple, str, int, float, bool, None) has and which tells apart
# what validation tells apart (True from 1, 1 from 1.0, a list from a string). Arguments of any
# other type (a ClassifyClassParams, a custom Mapping) are validated every time. The memo keeps
# the checked request with a deep copy of its wire body, sharing no object with any caller: a
# hit means the arguments of this call have the same JSON text as that body was built from, so
# the snapshot is what this call's arguments say now (objects the caller mutated since give
# another key). A miss returns the request built from the caller's own objects.
_memo: Dict[str, ClassifyRequest] = {}
_MEMO_MAX = 256
# No circular check: a circular argument raises RecursionError instead (no key, validated as is).
_memo_key = json.JSONEncoder(ensure_ascii=False, check_circular=False, allow_nan=True).encode


def _memoised_build(
    kind: str,
    target_value: object,
    check_target: Callable[[], Dict[str, Any]],
    options: object,
    classes: object,
    conversation_option: object,
    page_limit: object,
    include_clips: object,
    threshold: object,
    show_detailed_score: object,
) -> ClassifyRequest:
    """``check_target()`` checks the video ids or index id (raising as without the memo, and
    first) and returns the target part of the body; a hit skips it, ``target_value`` is in the key."""
    key: Optional[str] = None
    if not log.isEnabledFor(logging.DEBUG):  # else: the per-call notice about extra class keys
        try:
            key = _memo_key([kind, target_value, options, classes, conversation_option, page_limit, include_clips,
                             threshold, show_detailed_score])
        except (TypeError, ValueError, RecursionError):  # not plain data: no structural key
            key = None
    hit = _memo.get(key) if key is not None else None
    if hit is not None:
        return hit
    request = _build(kind, check_target(), options, classes, conversation_option, page_limit, include_clips,
                     threshold, show_detailed_score)
    if key is not None:
        if len(_memo) >= _MEMO_MAX:
            _memo.clear()
        snapshot = copy.deepcopy(request.wire_body)
        _memo[key] = replace(request, wire_body=snapshot, wire_json=encoded_json(snapshot))
    return request


def build_videos_request(
    video_ids: object,
    options: object,
    classes: object,
    *,
    conversation_option: object = "semantic",
    page_limit: object = None,
    include_clips: object = None,
    threshold: object = None,
    show_detailed_score: object = None,
) -> ClassifyRequest:
    def check_ids() -> Dict[str, Any]:
        # v1.2 spec: required array of strings. A repeated id was served (classified once).
        ids = _check_list("video_ids", video_ids, "give the ids of the videos to classify")
        for i, vid in enumerate(ids):
            _check_id(f"video_ids[{i}]", vid)
        return {"video_ids": list(ids)}

    return _memoised_build(
        "videos", video_ids, check_ids, options, classes, conversation_option,
        page_limit, include_clips, threshold, show_detailed_score,
    )


def build_index_request(
    index_id: object,
    options: object,
    classes: object,
    *,
    conversation_option: object = "semantic",
    page_limit: object = None,
    include_clips: object = None,
    threshold: object = None,
    show_detailed_score: object = None,
) -> ClassifyRequest:
    def check_index() -> Dict[str, Any]:
        if index_id is None:
            raise _fail("index_id", "is required, got None", "parameter_not_provided")
        _check_id("index_id", index_id)
        return {"index_id": index_id}

    return _memoised_build(
        "index", index_id, check_index, options, classes, conversation_option,
        page_limit, include_clips, threshold, show_detailed_score,
    )


def check_api_key(key: object) -> None:
    """At the first call, as 0.3.2 (which sent whatever it had and got 401): a missing key or one
    that cannot be an HTTP header value fails with ``AuthenticationError``. The message never
    contains the key."""
    if not isinstance(key, str) or not key:
        raise missing_key_error("No API key")
    if not _KEY.fullmatch(key):
        raise missing_key_error(
            f"The API key ({len(key)} characters) is not a valid key: it must be visible ASCII with no "
            "spaces or line breaks"
        )


def check_page_token(page_token: object) -> str:
    # v1.2: the token is a path segment of GET /classify/{page_token}; "." / ".." or a "/" would
    # address another path, so they are rejected before any request.
    if page_token is None:
        raise _fail("page_token", "is required, got None", "parameter_not_provided")
    text = _check_text("page_token", page_token, MAX_TOKEN_LENGTH, controls=True)
    if text in (".", "..") or not _TOKEN.match(text):
        raise _fail("page_token", f"{text[:40]!r} is not a page token (no spaces, '/', '?', '#', nor '.' or '..')")
    return text


_OPTION_SHAPES = {
    "headers": "a dict of strings or a list of (name, value) pairs",
    "params": "a dict, a list of (name, value) pairs or a query string",
    "cookies": "a dict, a list of (name, value) pairs, an httpx.Cookies or a CookieJar",
}


_NO_OPTIONS = RequestOptions()


def parse_request_options(kwargs: Mapping[str, Any]) -> RequestOptions:
    """``**kwargs`` of a classify method: the ``httpx.Client.request`` keywords 0.3.2 forwarded,
    in every form httpx accepts, plus ``stream=False`` (a keyword of 0.2.5-0.3.2's ``post``).
    Anything else made 0.3.2 fail (``TypeError`` inside httpx, reported as "Failed connection"),
    so it is reported here, before any request."""
    if not kwargs:  # the common call: no options (shared, nothing downstream changes it)
        return _NO_OPTIONS
    for key in kwargs:
        if key not in REQUEST_OPTION_KEYS and key not in POST_OPTION_KEYS:
            raise _fail(
                key,
                "is not a parameter of this method nor a request option; request options are "
                + ", ".join(sorted(REQUEST_OPTION_KEYS | POST_OPTION_KEYS)),
            )
    if kwargs.get("stream"):
        # 0.3.2 returned an unread stream for stream=True and then failed building the result.
        raise _fail("stream", "True is not supported: classify results are JSON pages (stream=False is accepted)")
    for name, build in (("headers", httpx.Headers), ("params", httpx.QueryParams), ("cookies", httpx.Cookies)):
        value = kwargs.get(name)
        if value is None:
            continue
        try:
            build(value)
        except (TypeError, ValueError, AttributeError) as exc:  # httpx refused it: so did 0.3.2
            raise _fail(name, f"must be {_OPTION_SHAPES[name]} (what httpx takes), got {_type_name(value)}") from exc
    extensions = kwargs.get("extensions")
    if extensions is not None and not isinstance(extensions, Mapping):
        raise _fail("extensions", f"must be a dict, got {_type_name(extensions)}")
    opts = RequestOptions(
        headers=kwargs.get("headers"),
        params=kwargs.get("params"),
        extensions=dict(extensions) if extensions is not None else None,
        cookies=kwargs.get("cookies"),
        auth=kwargs.get("auth", NOT_GIVEN),
        follow_redirects=kwargs.get("follow_redirects", NOT_GIVEN),
        body={k: kwargs[k] for k in BODY_OPTION_KEYS if kwargs.get(k) is not None},
    )
    if "timeout" in kwargs:
        opts.timeout = kwargs["timeout"]
    return opts
