"""Raw HTTP calls to the v1.2 Classify endpoints (``requests``, ``httpx``, ``urllib``, ``aiohttp``).

A call is reported when all of these hold, so an app's own ``/classify`` service stays quiet:

* the module imports one of those HTTP libraries;
* the call is ``<lib or session>.post/get/put/request/stream(...)``, ``urlopen(...)`` or
  ``Request(...)`` (the URL is the first argument, the second for ``request``/``stream``, or ``url=``);
* the URL, with string constants, ``+``, f-strings, ``%``, ``.format``, ``urljoin`` and
  ``os.environ.get(name, default)`` followed through assignments in the file, ends in
  ``/classify``, ``/classify/bulk`` or ``/classify/<token>``;
* it is TwelveLabs' API: the URL names a ``/v1.x`` version or ``twelvelabs``, or (when the host
  is not known from the file) the file mentions ``twelvelabs`` or an ``x-api-key`` header.

These callers cannot swap an import; they change one base URL to ``classify-shim gateway``.
"""

from __future__ import annotations

import ast
import re
from typing import Dict, List, Optional, Set

from ._facts import ModuleFacts
from ._report import Finding, make_finding

__all__ = ["RAW_HTTP_KIND", "find_raw_http"]

RAW_HTTP_KIND = "raw-http"
_LIBRARIES = ("requests", "httpx", "urllib", "aiohttp")
_URL_FIRST = frozenset({"post", "get", "put", "patch", "urlopen", "Request"})
_URL_SECOND = frozenset({"request", "stream"})
_HOLE = "\x00"  # a part of the URL we cannot know (a variable, a token)
_ENDPOINT = re.compile(r"/classify(?:/bulk|/[^/?#]+)?/?(?:[?#].*)?$")
_TWELVELABS = re.compile(r"twelvelabs|/v1\.\d")
_MAX_DEPTH = 12


def _imports_http(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] in _LIBRARIES for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] in _LIBRARIES:
            return True
    return False


def _dotted(expr: ast.expr) -> Optional[str]:
    parts: List[str] = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if isinstance(expr, ast.Name):
        parts.append(expr.id)
        return ".".join(reversed(parts))
    return None


class _Strings:
    """Best-effort string value of an expression; unknown parts become holes."""

    def __init__(self, tree: ast.Module) -> None:
        self.assigned: Dict[str, List[ast.expr]] = {}
        for node in ast.walk(tree):
            targets: List[ast.expr] = []
            value: Optional[ast.expr] = None
            if isinstance(node, ast.Assign):
                targets, value = list(node.targets), node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                targets, value = [node.target], node.value
            for target in targets:
                name = _dotted(target)
                if name is not None and value is not None:
                    self.assigned.setdefault(name, []).append(value)

    def value(self, expr: Optional[ast.expr], depth: int = 0, seen: Optional[Set[str]] = None) -> str:
        if expr is None or depth > _MAX_DEPTH:
            return _HOLE
        seen = seen or set()
        if isinstance(expr, ast.Constant):
            return expr.value if isinstance(expr.value, str) else _HOLE
        if isinstance(expr, ast.JoinedStr):
            return "".join(self.value(v, depth + 1, seen) for v in expr.values)
        if isinstance(expr, ast.FormattedValue):
            return self.value(expr.value, depth + 1, seen)
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
            return self.value(expr.left, depth + 1, seen) + self.value(expr.right, depth + 1, seen)
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Mod):
            return re.sub(r"%[sdr]", _HOLE, self.value(expr.left, depth + 1, seen))
        if isinstance(expr, (ast.Name, ast.Attribute)):
            name = _dotted(expr)
            if name is None or name in seen or name not in self.assigned:
                return _HOLE
            # The first assignment that looks like a URL wins (flow-insensitive, like the rest of scan).
            values = [self.value(v, depth + 1, seen | {name}) for v in self.assigned[name]]
            return next((v for v in values if "/" in v), values[0])
        if isinstance(expr, ast.Call):
            return self._call_value(expr, depth, seen)
        return _HOLE

    def _call_value(self, call: ast.Call, depth: int, seen: Set[str]) -> str:
        func = call.func
        name = _dotted(func) or ""
        if isinstance(func, ast.Attribute) and func.attr == "format":
            return re.sub(r"\{[^{}]*\}", _HOLE, self.value(func.value, depth + 1, seen))
        if isinstance(func, ast.Attribute) and func.attr in ("rstrip", "strip"):  # API_URL.rstrip("/")
            return self.value(func.value, depth + 1, seen).rstrip("/")
        if name.endswith("urljoin") and len(call.args) >= 2:
            base = self.value(call.args[0], depth + 1, seen)
            tail = self.value(call.args[1], depth + 1, seen)
            return tail if tail.startswith("http") else base.rstrip("/") + "/" + tail.lstrip("/")
        if name.endswith(("path.join", "posixpath.join")):
            return "/".join(self.value(a, depth + 1, seen).strip("/") for a in call.args)
        if name in ("os.getenv", "os.environ.get", "getenv", "environ.get") and len(call.args) >= 2:
            return self.value(call.args[1], depth + 1, seen)
        if name == "str" and call.args:
            return self.value(call.args[0], depth + 1, seen)
        return _HOLE


def _url_argument(call: ast.Call) -> Optional[ast.expr]:
    for kw in call.keywords:
        if kw.arg == "url":
            return kw.value
    func = call.func
    attr = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if attr in _URL_FIRST and call.args:
        return call.args[0]
    if attr in _URL_SECOND and len(call.args) >= 2:
        return call.args[1]
    return None


def _is_http_call(call: ast.Call) -> bool:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr in _URL_FIRST or func.attr in _URL_SECOND
    return isinstance(func, ast.Name) and func.id in ("urlopen", "Request")


def find_raw_http(module: ModuleFacts) -> List[Finding]:
    """Findings of kind ``raw-http`` in one (already parsed) module."""
    tree = module.tree
    if not _imports_http(tree):
        return []
    text = "\n".join(module.lines).lower()
    file_context = "twelvelabs" in text or "x-api-key" in text
    strings = _Strings(tree)
    out: List[Finding] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not _is_http_call(node):
            continue
        url_expr = _url_argument(node)
        if url_expr is None:
            continue
        url = strings.value(url_expr)
        if not _ENDPOINT.search(url.replace(_HOLE, "TOKEN")):
            continue
        names_api = bool(_TWELVELABS.search(url.lower()))
        if url.startswith("http") and not names_api:  # a known host that is not TwelveLabs' API
            continue
        if not (file_context or names_api):
            continue
        finding = make_finding(module.path, module.lines, node.lineno, node.col_offset, RAW_HTTP_KIND)
        if finding is not None:
            out.append(finding)
    return out
