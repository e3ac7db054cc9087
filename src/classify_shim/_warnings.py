"""Deprecation warnings that guide the migration, one per call site, blamed on the caller's line.

Python hides ``DeprecationWarning`` outside ``__main__`` by default, which would keep most users
from ever seeing them. We show ours by default anyway, but only when nothing but Python's
built-in filters would decide: any filter the user set (``-W``, ``PYTHONWARNINGS``,
``warnings.filterwarnings``, pytest's) is obeyed as usual. ``TWELVELABS_CLASSIFY_WARNINGS``
=``off`` silences them, =``error`` raises them before the call is sent.
"""

from __future__ import annotations

import datetime as _dt
import functools
import importlib
import linecache
import os
import re
import sys
import threading
import warnings
from types import FrameType
from typing import Any, Dict, Optional, Set, Tuple, Type

import deprecation  # type: ignore[import-untyped]

from ._config import lacks_classify, resolve_warning_mode
from ._version import __version__

__all__ = [
    "SUNSET",
    "ApiVersionWarning",
    "BackendSwitchWarning",
    "CacheWarning",
    "CalibrationWarning",
    "ClassifyDeprecationWarning",
    "PartialResultWarning",
    "UnsupportedWarning",
    "warn_legacy_call",
]

SUNSET = _dt.date(2025, 2, 28)
SINCE = "0.1.0"
REMOVED_IN = "1.0.0"
MIGRATION_DOC = "MIGRATION.md"


class ClassifyDeprecationWarning(deprecation.DeprecatedWarning):  # type: ignore[misc]
    """A legacy Classify call: what was called, who served it, what to write instead.

    Carries ``since``/``removed_in`` (shim versions), ``sunset`` (the API's retirement date),
    ``replacement`` (v1.3 code) and ``doc_url`` (the MIGRATION.md entry).
    """

    def __init__(
        self,
        function: str,
        deprecated_in: str = SINCE,
        removed_in: str = REMOVED_IN,
        details: str = "",
        *,
        backend: str = "",
        replacement: str = "",
        doc_url: str = "",
        sunset: _dt.date = SUNSET,
    ) -> None:
        super().__init__(function, deprecated_in, removed_in, details)
        self.since = deprecated_in
        self.backend = backend
        self.replacement = replacement
        self.doc_url = doc_url
        self.sunset = sunset

    def __str__(self) -> str:
        """The message, rendered once per instance while the parts it is made of stay the same
        objects: with a user's warnings filter, Python asks for it on every call (its registry
        key), and the same instance is shown once per call site."""
        memo = self.__dict__.get("_rendered")
        if memo is not None:
            parts, text = memo[0], str(memo[1])
            if (parts[0] is self.function and parts[1] is self.deprecated_in and parts[2] is self.removed_in
                    and parts[3] is self.details and parts[4] is self.sunset):
                return text
        text = self._render()
        self.__dict__["_rendered"] = ((self.function, self.deprecated_in, self.removed_in, self.details, self.sunset),
                                      text)
        return text

    def _render(self) -> str:
        return str(super().__str__())

    def __reduce__(self) -> Any:  # keep the extras through copy/pickle of the warning
        return (
            _rebuild,
            (type(self), self.function, self.deprecated_in, self.removed_in, self.details,
             self.backend, self.replacement, self.doc_url, self.sunset),
        )


class UnsupportedWarning(ClassifyDeprecationWarning, deprecation.UnsupportedWarning):  # type: ignore[misc]
    """The call targets an API that no longer has Classify (past the sunset, or version >= v1.3)."""

    def _render(self) -> str:
        return f"{self.function} is unsupported as of {self.sunset.isoformat()}.{(' ' + self.details) if self.details else ''}"


def _rebuild(cls: Type[ClassifyDeprecationWarning], *args: Any) -> ClassifyDeprecationWarning:
    function, since, removed, details, backend, replacement, doc_url, sunset = args
    return cls(function, since, removed, details, backend=backend, replacement=replacement, doc_url=doc_url, sunset=sunset)


class PartialResultWarning(UserWarning):
    """Some requested videos could not be classified; they are listed in ``result.errors``."""


class BackendSwitchWarning(UserWarning):
    """The ``auto`` backend found the v1.2 endpoint retired and switched to Pegasus."""


class ApiVersionWarning(UserWarning):
    """Classify was configured for an API version that never had it (v1.3 or later, e.g. an
    attached 0.4.x / 1.x client): classify calls go to v1.2, the only version that had it."""


class CalibrationWarning(UserWarning):
    """The calibration profile in use was fitted for another model, prompt template version or
    other classes than this request's. It is still applied (the pooled map for classes it does
    not know); fit a new one with ``classify-shim calibrate`` for this request."""


class CacheWarning(UserWarning):
    """The configured cache (SQLite file or Redis) failed. Results are complete: what could not
    be stored is kept in memory for the client; a damaged file is moved aside and rebuilt."""


_ANCHORS = {"videos": "classify-videos", "index": "classify-index", "by_page_token": "by-page-token"}

_REPLACEMENTS = {
    "videos": (
        "for video_id in video_ids:\n"
        "        res = client.analyze(video_id=video_id, model_name=\"pegasus1.2\", prompt=PROMPT,\n"
        "                             response_format={\"type\": \"json_schema\", \"json_schema\": SCHEMA})"
    ),
    "index": (
        "for video in client.indexes.videos.list(index_id):\n"
        "        res = client.analyze(video_id=video.id, model_name=\"pegasus1.2\", prompt=PROMPT,\n"
        "                             response_format={\"type\": \"json_schema\", \"json_schema\": SCHEMA})"
    ),
    "by_page_token": "v1.3 analyze returns one answer per video; page over your own list of videos instead",
}

_seen: Set[Tuple[str, int, str]] = set()
_lock = threading.Lock()
_BUILTIN_IGNORE = ("ignore", None, DeprecationWarning, None, 0)
_BUILTIN_MAIN = ("default", None, DeprecationWarning, "__main__", 0)


def _package_dirs() -> Tuple[str, ...]:
    import classify_shim

    adapters_module = importlib.import_module("classify_shim.adapters")

    core = os.path.dirname(os.path.abspath(classify_shim.__file__))
    adapters = os.path.dirname(os.path.abspath(str(adapters_module.__file__)))
    return (core + os.sep, adapters + os.sep)


_PKG_DIRS: Optional[Tuple[str, ...]] = None
# Our own code that plays a user's part (examples, CLI demos) is blamed like user code.
_USER_LIKE = (os.sep + "examples" + os.sep, os.sep + "cli" + os.sep)


@functools.lru_cache(maxsize=1024)  # walked on every legacy call; paths do not move
def _is_internal(filename: str) -> bool:
    global _PKG_DIRS
    if _PKG_DIRS is None:
        _PKG_DIRS = _package_dirs()
    path = os.path.abspath(filename)
    for root in _PKG_DIRS:
        if path.startswith(root):
            return not any(marker in path[len(root) - 1 :] for marker in _USER_LIKE)
    return False


def _user_frame(frame: Optional[FrameType]) -> Tuple[Optional[FrameType], int]:
    """The first frame from ``frame`` outwards that is not the shim's, and how many were skipped.

    The one rule for "the caller's line": every warning of the shim (core or adapter) uses it.
    """
    skipped = 0
    while frame is not None and _is_internal(frame.f_code.co_filename):
        frame = frame.f_back
        skipped += 1
    return frame, skipped


def _caller_frame() -> Optional[FrameType]:
    return _user_frame(sys._getframe(1))[0]


def _sunset_passed(today: Optional[_dt.date]) -> bool:
    return (today or _dt.date.today()) > SUNSET


def build_warning(
    method: str, backend: str, version: str, *, today: Optional[_dt.date] = None, sent: bool = True,
    unsupported: Optional[bool] = None,
) -> ClassifyDeprecationWarning:
    """``sent=False`` for the escalated warning raised before the request: nothing was served."""
    anchor = _ANCHORS[method]
    doc_url = f"{MIGRATION_DOC}#{anchor}"
    replacement = _REPLACEMENTS[method]
    if unsupported is None:
        unsupported = _sunset_passed(today) or lacks_classify(version)
    category: Type[ClassifyDeprecationWarning] = UnsupportedWarning if unsupported else ClassifyDeprecationWarning
    served = {
        "legacy": "the v1.2 endpoint (legacy backend)",
        "pegasus": "Pegasus via v1.3 /analyze (pegasus backend)",
    }.get(backend, f"the {backend} backend")
    how = (
        f"this call was served by {served}"
        if sent
        else f"this call would be served by {served}; nothing was sent because warnings are errors here"
    )
    details = (
        f"TwelveLabs retired the v1.2 Classify API on {SUNSET.isoformat()}; {how} "
        f"through twelvelabs-classify-shim {__version__} and will be removed in shim {REMOVED_IN}. "
        f"Native v1.3 code:\n    {replacement}\n"
        f"Migration steps: {doc_url}, or run `classify-shim docs {anchor}` "
        "(silence with TWELVELABS_CLASSIFY_WARNINGS=off)"
    )
    return category(
        f"client.classify.{method}()",
        SINCE,
        REMOVED_IN,
        details,
        backend=backend,
        replacement=replacement,
        doc_url=doc_url,
    )


def _matching_filter(category: Type[Warning], text: str, module: str, lineno: int) -> Optional[Tuple[Any, ...]]:
    for item in warnings.filters:
        _action, msg, cat, mod, ln = item
        if msg is not None and not msg.match(text):
            continue
        if not issubclass(category, cat):
            continue
        if mod is not None and not (mod == module if isinstance(mod, str) else mod.match(module)):
            continue
        if ln and ln != lineno:
            continue
        return tuple(item)
    return None


def _is_pythons_own_ignore() -> bool:
    """Python's default ``ignore::DeprecationWarning`` sits right after its ``__main__`` rule.

    ``filterwarnings("ignore", category=DeprecationWarning)`` (or ``-W``, or pytest's ini) moves
    an identical tuple to the front; then it is the user's choice and must be obeyed.
    """
    filters = [tuple(f) for f in warnings.filters]
    if _BUILTIN_MAIN not in filters or _user_ignores_deprecations():
        return False
    return filters.index(_BUILTIN_MAIN) < filters.index(_BUILTIN_IGNORE)


def _user_ignores_deprecations() -> bool:
    return any(re.match(r"^ignore(::|:[^:]*:)(Pending)?DeprecationWarning", opt or "") for opt in sys.warnoptions)


class _Site:
    """What the filters in force decide about one call site's warning, computed once per
    (site, method, backend, version, category) and reused while ``warnings.filters`` and
    ``sys.warnoptions`` hold the same entries (every call re-checks that, in a few pointer
    comparisons; a changed filter list recomputes it)."""

    __slots__ = (
        "category",
        "filters",
        "left_to_defaults",
        "message",
        "rule_sent",
        "rule_unsent",
        "text_unsent",
        "warnoptions",
    )

    def __init__(self, method: str, backend: str, version: str, unsupported: bool, module: str, lineno: int) -> None:
        self.filters = list(warnings.filters)
        self.warnoptions = list(sys.warnoptions)
        unsent = build_warning(method, backend, version, sent=False, unsupported=unsupported)
        self.message = build_warning(method, backend, version, unsupported=unsupported)
        self.category: Type[ClassifyDeprecationWarning] = type(self.message)
        self.text_unsent = str(unsent)
        self.rule_unsent = _matching_filter(self.category, self.text_unsent, module, lineno)
        rule = _matching_filter(self.category, str(self.message), module, lineno)
        self.rule_sent = rule
        self.left_to_defaults = rule is None or rule == _BUILTIN_MAIN or (
            rule == _BUILTIN_IGNORE and _is_pythons_own_ignore()
        )

    def current(self) -> bool:
        return warnings.filters == self.filters and sys.warnoptions == self.warnoptions


_sites: Dict[Tuple[Any, ...], _Site] = {}
_MAX_SITES = 4096
_PAST_SUNSET = False
_lazy_sources: Set[str] = set()


class PendingWarning:
    """The deprecation warning of one legacy call, decided before the request (escalation) and
    emitted after it by :func:`warn_legacy_call`: the caller's frame is found and the filters
    consulted once per call, not twice."""

    __slots__ = ("backend", "filename", "globals", "lineno", "method", "module", "site", "unsupported", "version")

    def __init__(self, method: str, backend: str, version: str, unsupported: bool, frame: FrameType) -> None:
        self.method, self.backend, self.version, self.unsupported = method, backend, version, unsupported
        self.filename = frame.f_code.co_filename
        self.lineno = frame.f_lineno
        self.globals: Dict[str, Any] = frame.f_globals
        self.module = str(self.globals.get("__name__", "<unknown>"))
        self.site = _site_for(self)

    def for_backend(self, backend: str) -> _Site:
        if backend != self.backend:  # ``auto`` switched during the call: the served backend is named
            self.backend = backend
            self.site = _site_for(self)
        return self.site


def _site_for(pending: PendingWarning) -> _Site:
    key = (pending.filename, pending.lineno, pending.module, pending.method, pending.backend, pending.version,
           pending.unsupported)
    site = _sites.get(key)
    if site is None or not site.current():
        site = _Site(pending.method, pending.backend, pending.version, pending.unsupported, pending.module,
                     pending.lineno)
        if len(_sites) >= _MAX_SITES:
            _sites.clear()
        _sites[key] = site
    return site


def _unsupported(version: str) -> bool:
    global _PAST_SUNSET
    if not _PAST_SUNSET:
        _PAST_SUNSET = _sunset_passed(None)  # once past, it stays past
    return _PAST_SUNSET or lacks_classify(version)


def raise_if_escalated(method: str, backend: str, version: str) -> Optional[PendingWarning]:
    """Escalation (``TWELVELABS_CLASSIFY_WARNINGS=error`` or an ``error`` filter) fails the call
    before anything is sent, rather than after a request was paid for. Otherwise returns the
    pending warning for :func:`warn_legacy_call` (None when silenced)."""
    mode = resolve_warning_mode()
    if mode == "off":
        return None
    if mode == "error":
        raise build_warning(method, backend, version, sent=False)
    frame = _caller_frame()
    if frame is None:  # pragma: no cover - only when called from our own top level
        return None
    pending = PendingWarning(method, backend, version, _unsupported(version), frame)
    rule = pending.site.rule_unsent
    if rule is not None and rule[0] == "error":
        raise build_warning(method, backend, version, sent=False, unsupported=pending.unsupported)
    return pending


def warn_legacy_call(
    method: str, backend: str, version: str, pending: Optional[PendingWarning] = None
) -> None:
    """One warning per call site (Python's defaults) or as the user's filters say. ``pending``
    is what :func:`raise_if_escalated` returned for this call; without it the decision is made here."""
    if pending is None:
        if resolve_warning_mode() == "off":
            return
        frame = _caller_frame()
        if frame is None:  # pragma: no cover - only when called from our own top level
            return
        pending = PendingWarning(method, backend, version, _unsupported(version), frame)
    site = pending.for_backend(backend)
    filename, lineno = pending.filename, pending.lineno
    if site.left_to_defaults:
        key = (filename, lineno, method)
        if key in _seen:
            return
        with _lock:
            if key in _seen:
                return
            _seen.add(key)
        warnings.showwarning(
            build_warning(method, pending.backend, version, unsupported=pending.unsupported), site.category,
            filename, lineno,
        )
        return
    rule = site.rule_sent
    if rule is not None and rule[0] == "ignore":
        return
    if filename not in _lazy_sources:
        # Python's registry, actions and ``showwarning`` decide from here. The source line is
        # read by ``linecache`` when shown; a module whose source only its loader can give
        # (a zip) is registered once, instead of the loader reading the file on every call.
        _lazy_sources.add(filename)
        linecache.lazycache(filename, pending.globals)
    registry = pending.globals.get("__warningregistry__")
    if registry is None:
        registry = pending.globals.setdefault("__warningregistry__", {})
    message = site.message
    if rule is not None and rule[0] == "error":  # raised: a fresh instance, no shared traceback
        message = build_warning(method, pending.backend, version, unsupported=pending.unsupported)
    warnings.warn_explicit(message, site.category, filename, lineno, module=pending.module, registry=registry)


def user_stacklevel() -> int:
    """``stacklevel`` for a ``warnings.warn`` in the function calling this that blames the first
    frame outside the shim (the user's call)."""
    return 1 + _user_frame(sys._getframe(1))[1]


def warn_version_redirect(requested: str, used: str, host: str) -> None:
    """One warning per client built for a version without Classify (``TWELVELABS_CLASSIFY_WARNINGS=off``
    silences it, like every warning of the shim)."""
    if resolve_warning_mode() == "off":
        return
    warnings.warn(
        f"API {requested} has no Classify (it existed up to {used} and was never part of v1.3): "
        f"client.classify calls are sent to {host}/{used}/. Other resources are not affected. "
        f"Pass version={used!r} (or leave it out) to say so and silence this.",
        ApiVersionWarning,
        stacklevel=user_stacklevel(),
    )


def reset_call_sites() -> None:
    """Forget which call sites were warned (the demo shows each backend's warning)."""
    with _lock:
        _seen.clear()
        _sites.clear()


def apply_deferred_warnoptions() -> None:
    """Honour ``-W …::classify_shim.X`` and ``PYTHONWARNINGS`` naming our categories.

    Python reads ``-W`` options before site-packages are on ``sys.path``, so a category from an
    installed package is reported as "invalid module name" and dropped. Once we are importable
    we apply those options ourselves, in the order given, as Python would have.
    """
    for option in sys.warnoptions:
        parts = [part.strip() for part in option.split(":")]
        if len(parts) < 3 or not parts[2].startswith("classify_shim."):
            continue
        module_name, _, class_name = parts[2].rpartition(".")
        try:
            category = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError):
            continue
        if not (isinstance(category, type) and issubclass(category, Warning)):
            continue
        if any(f[2] is category for f in warnings.filters):
            continue  # Python managed to apply it itself
        action = next((a for a in ("default", "always", "ignore", "module", "once", "error") if a.startswith(parts[0] or "?")), None)
        if action is None:
            continue
        message = parts[1] if len(parts) > 1 else ""
        module = parts[3] if len(parts) > 3 else ""
        lineno = int(parts[4]) if len(parts) > 4 and parts[4].isdigit() else 0
        warnings.filterwarnings(
            action,  # type: ignore[arg-type]
            message=re.escape(message), category=category, module=(re.escape(module) + r"\Z") if module else "",
            lineno=lineno,
        )
