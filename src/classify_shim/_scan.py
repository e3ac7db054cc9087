"""Static finder for legacy Classify usage (the engine behind ``classify-shim scan``).

Reads Python source with :mod:`ast` only: user code is never imported or executed, so the
scanner is safe to point at any tree (and at code that would fail to import).

Heuristics, chosen to keep false positives rare (documented in MIGRATION.md, step 3):

* **Calls** — ``<anything>.classify.videos(...)`` / ``.by_page_token(...)`` whatever the client
  expression is (``client``, ``self.tl``, ``get_client()``); ``.classify.index(...)`` only when the
  call looks like the legacy one (three or more arguments, a legacy keyword or a ``**`` splat),
  because ``index`` is also the name of ``list.index``. A stored resource (``clf = client.classify``)
  or bound method (``run = client.classify.videos``) is followed through assignments.
* **Results** — a value is *result-derived* if it comes from a classify call, from ``next()`` or a
  ``for`` loop over such a value, from an attribute / item / method call on one, from ``sorted``,
  ``max`` & co. over one, from a parameter that received one (followed across every scanned file by
  function name), from a function whose every definition returns one, or from a parameter annotated
  with a ``Classify*`` model. Only reads of ``score``, ``duration_ratio``, ``detailed_scores``,
  ``clips``, ``next_page_token`` and ``prev_page_token`` on result-derived values are reported.
* **Iteration** — ``next()``, ``anext()``, ``iter()``, ``list()``, ``tuple()``, ``for`` and
  comprehensions over a page result (not over ``result.data``, which is a plain list).
* **Imports** — imports naming classify models (``ClassifyClassParams``, ``twelvelabs.models.classify``)
  are always reported; a plain ``import twelvelabs`` / ``from twelvelabs import TwelveLabs`` only in a
  file that also has legacy usage (the 1.x SDK is imported the same way, and must not fail CI once
  the migration is done), unless ``all_imports`` is set. Imports of ``classify_shim`` are always
  reported: removing them is the last step of the migration.
* **Class definitions** — per-class ``options`` / ``conversation_option`` keys in dict literals that
  also have ``name`` and ``prompts``, in files that import the SDK or the shim or call classify.

A ``# classify-shim: ignore`` comment (or ``# classify-shim: ignore[kind,...]``) on a line silences it.
"""

from __future__ import annotations

import ast
import fnmatch
import io
import os
import re
import tokenize
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union

__all__ = [
    "KINDS",
    "Finding",
    "ScanError",
    "ScanReport",
    "iter_python_files",
    "scan_paths",
    "scan_sources",
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
}
_IMPORT_KINDS = frozenset({"import", "shim-import"})

# Taint flags: what a value may be.
_PAGE = 1  # a ClassifyPageResult (iterable, has page_info)
_DATA = 2  # anything read from a result (lists, videos, classes, clips, page_info...)
_RESOURCE = 4  # the ``client.classify`` resource
_FN_VIDEOS = 8  # the bound method ``client.classify.videos``
_FN_INDEX = 16
_FN_TOKEN = 32
_RESULT = _PAGE | _DATA
_ALL = 63
_FN_FLAGS: Dict[str, int] = {"videos": _FN_VIDEOS, "index": _FN_INDEX, "by_page_token": _FN_TOKEN}
_CALL_KINDS: Dict[str, str] = {
    "videos": "classify-videos",
    "index": "classify-index",
    "by_page_token": "by-page-token",
}
_CALL_KEYWORDS: Dict[str, str] = {
    "threshold": "threshold-arg",
    "conversation_option": "conversation-option-arg",
    "include_clips": "include-clips-arg",
    "show_detailed_score": "show-detailed-score-arg",
}
_LEGACY_KEYWORDS = frozenset({"index_id", "video_ids", "options", "classes", "page_limit", *_CALL_KEYWORDS})
_READ_KINDS: Dict[str, str] = {
    "score": "score-read",
    "duration_ratio": "duration-ratio-read",
    "detailed_scores": "detailed-scores-read",
    "clips": "clips-read",
    "next_page_token": "page-token-read",
    "prev_page_token": "page-token-read",
}
_CLASS_KEYS: Dict[str, str] = {"options": "class-options", "conversation_option": "class-conversation-option"}
# Builtins whose result carries the taint of their arguments.
_PASS_THROUGH = frozenset(
    {
        "sorted",
        "list",
        "tuple",
        "reversed",
        "iter",
        "max",
        "min",
        "filter",
        "map",
        "getattr",
        "enumerate",
        "set",
    }
)
_LAMBDA_TAKERS = frozenset({"sorted", "max", "min", "filter", "map", "any", "all"})
# Builtins that walk their (page result) argument: ``next(result)`` fetches the next page.
_ITERATING = frozenset(
    {
        "next",
        "anext",
        "iter",
        "list",
        "tuple",
        "set",
        "enumerate",
        "sorted",
        "zip",
        "map",
        "filter",
        "max",
        "min",
    }
)
_MODEL_NAMES = frozenset(
    {
        "ClassifyPageResult",
        "ClassifyVideoData",
        "ClassifyClass",
        "ClassifyClip",
        "ClassifyDetailedScore",
        "ClassifyClassParams",
    }
)
_SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".tox",
        ".nox",
        ".venv",
        "venv",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".eggs",
        "node_modules",
        "__pycache__",
        "site-packages",
    }
)
_IGNORE_COMMENT = re.compile(r"#\s*classify-shim:\s*ignore(?:\[([A-Za-z0-9_,\s-]*)\])?")
_MAX_PASSES = 30
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


# --------------------------------------------------------------------------------------------
# Files


def _is_venv(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "pyvenv.cfg"))


def _excluded(rel: str, name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(name, p) for p in patterns)


def iter_python_files(paths: Iterable[str], exclude: Sequence[str] = ()) -> Tuple[List[str], List[str]]:
    """Returns ``(files, missing)``: explicit files as given, ``*.py`` found under directories.

    Directory walks skip VCS folders, caches, ``node_modules`` and virtual environments (any folder
    with a ``pyvenv.cfg``), and never follow symlinked directories (no loops).
    """
    files: List[str] = []
    missing: List[str] = []
    seen: Set[str] = set()

    def add(path: str) -> None:
        norm = os.path.normpath(path)
        if norm not in seen:
            seen.add(norm)
            files.append(norm)

    for raw in paths:
        if os.path.isfile(raw):
            add(raw)
        elif os.path.isdir(raw):
            for root, dirs, names in os.walk(raw, followlinks=False):
                rel_root = os.path.relpath(root, raw)
                kept = []
                for d in sorted(dirs):
                    full = os.path.join(root, d)
                    rel = os.path.normpath(os.path.join(rel_root, d)).replace(os.sep, "/")
                    if d in _SKIP_DIRS or d.endswith(".egg-info") or _is_venv(full):
                        continue
                    if _excluded(rel, d, exclude):
                        continue
                    kept.append(d)
                dirs[:] = kept
                for name in sorted(names):
                    if not name.endswith(".py"):
                        continue
                    rel = os.path.normpath(os.path.join(rel_root, name)).replace(os.sep, "/")
                    if _excluded(rel, name, exclude):
                        continue
                    add(os.path.join(root, name))
        else:
            missing.append(raw)
    return files, missing


def _decode(data: bytes) -> str:
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding)


# --------------------------------------------------------------------------------------------
# Per-module facts gathered once before the taint passes


FuncNode = Union[ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda]


@dataclass
class _Func:
    node: FuncNode
    params: List[str]
    kwonly: List[str]
    locals: Set[str]
    globals: Set[str]
    nonlocals: Set[str]
    is_method: bool
    is_generator: bool
    owner_class: Optional[ast.ClassDef]


@dataclass
class _Module:
    path: str
    tree: ast.Module
    lines: List[str]
    funcs: Dict[int, _Func] = field(default_factory=dict)
    class_locals: Dict[int, Set[str]] = field(default_factory=dict)
    ccp_names: Set[str] = field(default_factory=set)
    imports_sdk: bool = False
    has_classify_call: bool = False
    indexed: bool = False
    def_names: Set[str] = field(default_factory=set)


def _stored_names(body: Sequence[ast.AST]) -> Tuple[Set[str], Set[str], Set[str]]:
    """Names bound in a scope body (not descending into nested scopes), plus global/nonlocal."""
    names: Set[str] = set()
    globals_: Set[str] = set()
    nonlocals: Set[str] = set()
    stack: List[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            stack.extend(node.decorator_list)
            continue
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.Global):
            globals_.update(node.names)
        elif isinstance(node, ast.Nonlocal):
            nonlocals.update(node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        stack.extend(ast.iter_child_nodes(node))
    return names, globals_, nonlocals


def _is_generator(node: FuncNode) -> bool:
    if isinstance(node, ast.Lambda):
        return False
    stack: List[ast.AST] = list(node.body)
    while stack:
        child = stack.pop()
        if isinstance(child, (ast.Yield, ast.YieldFrom)):
            return True
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        stack.extend(ast.iter_child_nodes(child))
    return False


def _index_module(module: _Module) -> None:
    """Collects functions, scopes and the names ``ClassifyClassParams`` is imported as."""
    parents: List[ast.AST] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            args = node.args
            params = [a.arg for a in [*args.posonlyargs, *args.args]]
            kwonly = [a.arg for a in args.kwonlyargs]
            extra = [a.arg for a in (args.vararg, args.kwarg) if a is not None]
            if isinstance(node, ast.Lambda):
                names: Set[str] = set()
                globals_: Set[str] = set()
                nonlocals: Set[str] = set()
            else:
                names, globals_, nonlocals = _stored_names(node.body)
            parent = parents[-1] if parents else None
            is_method = isinstance(parent, ast.ClassDef) and not any(
                isinstance(d, ast.Name) and d.id == "staticmethod"
                for d in getattr(node, "decorator_list", [])
            )
            owner: Optional[ast.ClassDef] = None
            for p in reversed(parents):
                if isinstance(p, ast.ClassDef):
                    owner = p
                    break
            module.funcs[id(node)] = _Func(
                node=node,
                params=params,
                kwonly=kwonly,
                locals=names | set(params) | set(kwonly) | set(extra),
                globals=globals_,
                nonlocals=nonlocals,
                is_method=is_method,
                is_generator=_is_generator(node),
                owner_class=owner,
            )
        elif isinstance(node, ast.ClassDef):
            module.class_locals[id(node)] = _stored_names(node.body)[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            root = node.module.split(".")[0]
            if root in ("twelvelabs", "classify_shim"):
                module.imports_sdk = True
                for alias in node.names:
                    if alias.name == "ClassifyClassParams":
                        module.ccp_names.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in ("twelvelabs", "classify_shim"):
                    module.imports_sdk = True
        parents.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)
        parents.pop()

    visit(module.tree)
    module.indexed = True


_DEF = re.compile(r"^[ \t]*(?:async[ \t]+)?def[ \t]+([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)


def _relevant(text: str, all_imports: bool) -> bool:
    """Only code that mentions classify can start a finding; the rest is analysed on demand
    (when a result flows into one of its functions), which keeps big trees fast."""
    lowered = text.lower()
    return "classify" in lowered or (all_imports and "twelvelabs" in lowered)


# --------------------------------------------------------------------------------------------
# The analysis: a flow-insensitive taint fixpoint over every scanned module


class _Analysis:
    def __init__(self, modules: List[_Module], all_imports: bool) -> None:
        self.all_imports = all_imports
        self.modules: List[_Module] = []  # analysed (indexed) modules
        self.taint: Dict[Tuple[int, str], int] = {}
        self.returns: Dict[int, int] = {}
        self.defs_by_name: Dict[str, List[_Func]] = {}
        self.lazy: Dict[str, List[_Module]] = {}  # function name -> modules not analysed yet
        self.changed = False
        for module in modules:
            if module.indexed:
                self._add(module)
            else:
                for name in module.def_names:
                    self.lazy.setdefault(name, []).append(module)

    def _add(self, module: _Module) -> None:
        self.modules.append(module)
        for func in module.funcs.values():
            if not isinstance(func.node, ast.Lambda):
                self.defs_by_name.setdefault(func.node.name, []).append(func)

    def load(self, name: str) -> None:
        """A result flows into ``name(...)``: analyse the modules that define it."""
        for module in self.lazy.pop(name, []):
            if module.indexed:
                continue
            _index_module(module)
            for other in module.def_names:
                waiting = self.lazy.get(other)
                if waiting and module in waiting:
                    waiting.remove(module)
                    if not waiting:
                        del self.lazy[other]
            self._add(module)
            self.changed = True

    def get(self, key: Optional[Tuple[int, str]]) -> int:
        return self.taint.get(key, 0) if key is not None else 0

    def add(self, key: Optional[Tuple[int, str]], flags: int) -> None:
        if key is None or not flags:
            return
        old = self.taint.get(key, 0)
        if old | flags != old:
            self.taint[key] = old | flags
            self.changed = True

    def add_return(self, func: _Func, flags: int) -> None:
        if func.is_generator:
            flags = _DATA if flags & _RESULT else 0
        old = self.returns.get(id(func.node), 0)
        if flags and old | flags != old:
            self.returns[id(func.node)] = old | flags
            self.changed = True

    def returns_of(self, name: str) -> int:
        """Taint of ``name(...)``: only if *every* definition of that name returns a result."""
        defs = self.defs_by_name.get(name)
        if not defs or name in self.lazy:  # a definition not analysed returns nothing tainted
            return 0
        flags = _ALL
        for func in defs:
            flags &= self.returns.get(id(func.node), 0)
        return flags

    def run(self) -> List[Finding]:
        for _ in range(_MAX_PASSES):
            self.changed = False
            for module in list(self.modules):
                _Walker(self, module, None).visit(module.tree)
            if not self.changed:
                break
        findings: List[Finding] = []
        for module in self.modules:
            out: List[Finding] = []
            walker = _Walker(self, module, out)
            walker.visit(module.tree)
            if self.all_imports or any(f.kind not in _IMPORT_KINDS for f in out):
                out.extend(walker.pending_imports)
            findings.extend(sorted(set(out), key=lambda f: (f.line, f.col, f.kind)))
        return findings


class _Walker(ast.NodeVisitor):
    """One pass over one module; records findings only when ``out`` is given (the last pass)."""

    def __init__(self, analysis: _Analysis, module: _Module, out: Optional[List[Finding]]) -> None:
        self.a = analysis
        self.m = module
        self.out = out
        self.pending_imports: List[Finding] = []
        self.stack: List[Union[ast.ClassDef, FuncNode]] = []

    # ---- scopes ---------------------------------------------------------------------------

    def _scope_of(self, name: str) -> int:
        for i in range(len(self.stack) - 1, -1, -1):
            node = self.stack[i]
            if isinstance(node, ast.ClassDef):
                if i == len(self.stack) - 1 and name in self.m.class_locals.get(id(node), set()):
                    return id(node)
                continue
            func = self.m.funcs[id(node)]
            if name in func.globals:
                return id(self.m.tree)
            if name in func.locals and name not in func.nonlocals:
                return id(node)
        return id(self.m.tree)

    def _func(self) -> Optional[_Func]:
        for node in reversed(self.stack):
            if not isinstance(node, ast.ClassDef):
                return self.m.funcs[id(node)]
        return None

    def _key(self, expr: ast.expr) -> Optional[Tuple[int, str]]:
        parts: List[str] = []
        while isinstance(expr, ast.Attribute):
            parts.append(expr.attr)
            expr = expr.value
        if not isinstance(expr, ast.Name):
            return None
        parts.append(expr.id)
        dotted = ".".join(reversed(parts))
        if len(parts) > 1 and expr.id in ("self", "cls"):
            func = self._func()
            if func is not None and func.owner_class is not None:
                return (id(func.owner_class), dotted)
        return (self._scope_of(expr.id), dotted)

    # ---- taint ----------------------------------------------------------------------------

    def _taint(self, e: Optional[ast.expr]) -> int:
        if e is None:
            return 0
        if isinstance(e, ast.Name):
            return self.a.get(self._key(e))
        if isinstance(e, ast.Attribute):
            flags = self.a.get(self._key(e))
            base = self._taint(e.value)
            if e.attr == "classify":
                flags |= _RESOURCE
            elif e.attr in _FN_FLAGS and base & _RESOURCE:
                flags |= _FN_FLAGS[e.attr]
            if base & _RESULT:
                flags |= _DATA
            return flags
        if isinstance(e, ast.Call):
            return self._call_taint(e)
        if isinstance(e, (ast.Await, ast.NamedExpr, ast.Starred)):
            return self._taint(e.value)
        if isinstance(e, ast.Subscript):
            return _DATA if self._taint(e.value) & _RESULT else 0
        if isinstance(e, ast.IfExp):
            return self._taint(e.body) | self._taint(e.orelse)
        if isinstance(e, ast.BoolOp):
            flags = 0
            for value in e.values:
                flags |= self._taint(value)
            return flags
        if isinstance(e, (ast.List, ast.Tuple, ast.Set)):
            return _DATA if any(self._taint(x) & _RESULT for x in e.elts) else 0
        return 0

    def _call_taint(self, call: ast.Call) -> int:
        if self._classify_method(call) is not None:
            return _PAGE
        func = call.func
        if isinstance(func, ast.Name):
            if func.id in ("next", "anext") or func.id in _PASS_THROUGH:
                return _DATA if any(self._taint(a) & _RESULT for a in call.args) else 0
            return self.a.returns_of(func.id)
        if isinstance(func, ast.Attribute):
            flags = self.a.returns_of(func.attr)
            if self._taint(func.value) & _RESULT:
                flags |= _DATA
            return flags
        return 0

    def _plausible_index(self, call: ast.Call) -> bool:
        if any(kw.arg is None or kw.arg in _LEGACY_KEYWORDS for kw in call.keywords):
            return True
        return len(call.args) + len(call.keywords) >= 3 or any(isinstance(a, ast.Starred) for a in call.args)

    def _classify_method(self, call: ast.Call) -> Optional[str]:
        """``videos`` / ``index`` / ``by_page_token`` if this is a legacy classify call."""
        func = call.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in _CALL_KINDS
            and self._taint(func.value) & _RESOURCE
        ):
            if func.attr != "index" or self._plausible_index(call):
                return func.attr
            return None
        if isinstance(func, (ast.Name, ast.Attribute)):
            flags = self.a.get(self._key(func))
            for method, flag in _FN_FLAGS.items():
                if flags & flag:
                    return method
        return None

    def _bind(self, target: ast.expr, flags: int, value: Optional[ast.expr] = None) -> None:
        if isinstance(target, (ast.Name, ast.Attribute)):
            if isinstance(target, ast.Name):
                self.a.add((self._scope_of(target.id), target.id), flags)
            else:
                self.a.add(self._key(target), flags)
        elif isinstance(target, ast.Starred):
            self._bind(target.value, _DATA if flags & _RESULT else 0)
        elif isinstance(target, (ast.Tuple, ast.List)):
            if (
                isinstance(value, (ast.Tuple, ast.List))
                and len(value.elts) == len(target.elts)
                and not any(isinstance(x, ast.Starred) for x in (*value.elts, *target.elts))
            ):
                for t, v in zip(target.elts, value.elts):
                    self._bind(t, self._taint(v), v)
            else:
                for t in target.elts:
                    self._bind(t, _DATA if flags & _RESULT else 0)

    def _bind_loop_target(self, target: ast.expr, iterable: ast.expr) -> None:
        if (
            isinstance(iterable, ast.Call)
            and isinstance(iterable.func, ast.Name)
            and iterable.func.id in ("enumerate", "zip")
            and isinstance(target, (ast.Tuple, ast.List))
        ):
            if iterable.func.id == "enumerate" and iterable.args and len(target.elts) == 2:
                self._bind(target.elts[1], _DATA if self._taint(iterable.args[0]) & _RESULT else 0)
                return
            if iterable.func.id == "zip":
                for t, source in zip(target.elts, iterable.args):
                    self._bind(t, _DATA if self._taint(source) & _RESULT else 0)
                return
        self._bind(target, _DATA if self._taint(iterable) & _RESULT else 0)

    def _is_user_generator_call(self, expr: ast.expr) -> bool:
        if not isinstance(expr, ast.Call):
            return False
        func = expr.func
        name = (
            func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
        )
        return name is not None and (name in self.a.defs_by_name or name in self.a.lazy)

    def _annotation_flags(self, annotation: Optional[ast.expr]) -> int:
        if annotation is None:
            return 0
        flags = 0
        for node in ast.walk(annotation):
            names: List[str] = []
            if isinstance(node, ast.Name):
                names.append(node.id)
            elif isinstance(node, ast.Attribute):
                names.append(node.attr)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.extend(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", node.value))
            for name in names:
                if name == "ClassifyPageResult":
                    flags |= _PAGE
                elif name in _MODEL_NAMES and name != "ClassifyClassParams":
                    flags |= _DATA
        return flags

    def _propagate_call(self, call: ast.Call) -> None:
        """Taints the parameters of user functions that receive result-derived arguments."""
        func = call.func
        if isinstance(func, ast.Name):
            name, via_attr = func.id, False
        elif isinstance(func, ast.Attribute):
            name, via_attr = func.attr, True
        else:
            return
        if name not in self.a.defs_by_name and name not in self.a.lazy:
            return
        positional = [self._taint(a) for a in call.args]
        keywords = {kw.arg: self._taint(kw.value) for kw in call.keywords if kw.arg}
        if not any(positional) and not any(keywords.values()):
            return
        if name in self.a.lazy:
            self.a.load(name)
        defs = self.a.defs_by_name.get(name, [])
        for target in defs:
            if target.is_method and not via_attr:
                continue
            offset = 1 if target.is_method and via_attr else 0
            scope = id(target.node)
            for i, (arg, flags) in enumerate(zip(call.args, positional)):
                if isinstance(arg, ast.Starred):
                    break
                if i + offset < len(target.params):
                    self.a.add((scope, target.params[i + offset]), flags)
            for kw_name, flags in keywords.items():
                if kw_name in target.params or kw_name in target.kwonly:
                    self.a.add((scope, kw_name), flags)

    # ---- findings -------------------------------------------------------------------------

    def _make(self, line: int, col_offset: int, kind: str, anchor: Optional[str] = None) -> Optional[Finding]:
        text = self.m.lines[line - 1] if 0 < line <= len(self.m.lines) else ""
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
            file=self.m.path,
            line=line,
            col=col,
            kind=kind,
            code=code,
            migration=f"{MIGRATION_DOC}#{anchor or KINDS[kind]}",
        )

    def _emit(
        self, node: Union[ast.expr, ast.stmt, ast.keyword], kind: str, anchor: Optional[str] = None
    ) -> None:
        if self.out is None:
            return
        finding = self._make(node.lineno, node.col_offset, kind, anchor)
        if finding is not None:
            self.out.append(finding)

    def _emit_attr(self, node: ast.Attribute, kind: str) -> None:
        """Points at the attribute name itself (``cls.score`` -> the ``score``)."""
        if self.out is None:
            return
        line = node.end_lineno or node.lineno
        end = node.end_col_offset if node.end_col_offset is not None else node.col_offset
        finding = self._make(line, max(0, end - len(node.attr)), kind)
        if finding is not None:
            self.out.append(finding)

    # ---- visitors -------------------------------------------------------------------------

    def _visit_function(self, node: Union[ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda]) -> None:
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                self.visit(default)
        if not isinstance(node, ast.Lambda):
            for decorator in node.decorator_list:
                self.visit(decorator)
        self.stack.append(node)
        args = node.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
            self.a.add((id(node), arg.arg), self._annotation_flags(arg.annotation))
        if isinstance(node, ast.Lambda):
            self.visit(node.body)
        else:
            for stmt in node.body:
                self.visit(stmt)
        self.stack.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._visit_function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._visit_function(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._visit_function(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in [*node.decorator_list, *node.bases, *(kw.value for kw in node.keywords)]:
            self.visit(expr)
        self.stack.append(node)
        for stmt in node.body:
            self.visit(stmt)
        self.stack.pop()

    def visit_Assign(self, node: ast.Assign) -> None:
        flags = self._taint(node.value)
        for target in node.targets:
            self._bind(target, flags, node.value)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        flags = self._taint(node.value) | self._annotation_flags(node.annotation)
        self._bind(node.target, flags, node.value)
        self.generic_visit(node)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self._bind(node.target, self._taint(node.value), node.value)
        self.generic_visit(node)

    def visit_With(self, node: ast.With) -> None:
        for item in node.items:
            if item.optional_vars is not None:
                self._bind(item.optional_vars, self._taint(item.context_expr))
        self.generic_visit(node)

    visit_AsyncWith = visit_With  # type: ignore[assignment]

    def _loop(self, node: Union[ast.For, ast.AsyncFor, ast.comprehension], anchor: ast.AST) -> None:
        if self._taint(node.iter) & _PAGE and not self._is_user_generator_call(node.iter):
            self._emit(anchor, "iteration")  # type: ignore[arg-type]
        self._bind_loop_target(node.target, node.iter)

    def visit_For(self, node: ast.For) -> None:
        self._loop(node, node)
        self.generic_visit(node)

    def visit_AsyncFor(self, node: ast.AsyncFor) -> None:
        self._loop(node, node)
        self.generic_visit(node)

    def visit_comprehension(self, node: ast.comprehension) -> None:
        self._loop(node, node.iter)
        self.generic_visit(node)

    def visit_Return(self, node: ast.Return) -> None:
        func = self._func()
        if func is not None and node.value is not None:
            self.a.add_return(func, self._taint(node.value))
        self.generic_visit(node)

    def visit_Yield(self, node: ast.Yield) -> None:
        func = self._func()
        if func is not None and node.value is not None:
            self.a.add_return(func, self._taint(node.value))
        self.generic_visit(node)

    def visit_YieldFrom(self, node: ast.YieldFrom) -> None:
        func = self._func()
        if func is not None:
            self.a.add_return(func, self._taint(node.value))
        self.generic_visit(node)

    def _is_ccp(self, func: ast.expr) -> bool:
        if isinstance(func, ast.Name):
            return func.id == "ClassifyClassParams" or func.id in self.m.ccp_names
        return isinstance(func, ast.Attribute) and func.attr == "ClassifyClassParams"

    def visit_Call(self, node: ast.Call) -> None:
        method = self._classify_method(node)
        if method is not None:
            self.m.has_classify_call = True
            self._emit(node, _CALL_KINDS[method])
            if method != "by_page_token":
                for kw in node.keywords:
                    if kw.arg in _CALL_KEYWORDS:
                        self._emit(kw, _CALL_KEYWORDS[kw.arg])
        elif self._is_ccp(node.func):
            self._emit(node, "classifyclassparams")
            for kw in node.keywords:
                if kw.arg in _CLASS_KEYS:
                    self._emit(kw, _CLASS_KEYS[kw.arg])
        func = node.func
        if isinstance(func, ast.Name):
            walked = node.args[1:] if func.id in ("map", "filter") else node.args
            if func.id in _ITERATING and any(self._taint(a) & _PAGE for a in walked):
                self._emit(node, "iteration")
            if func.id in _LAMBDA_TAKERS and any(self._taint(a) & _RESULT for a in node.args):
                for value in [*node.args, *(kw.value for kw in node.keywords)]:
                    if isinstance(value, ast.Lambda) and value.args.args:
                        self.a.add((id(value), value.args.args[0].arg), _DATA)
            if func.id == "dict" and self._looks_like_class(kw.arg for kw in node.keywords):
                for kw in node.keywords:
                    if kw.arg in _CLASS_KEYS:
                        self._emit(kw, _CLASS_KEYS[kw.arg])
        self._propagate_call(node)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.ctx, ast.Load) and node.attr in _READ_KINDS and self._taint(node.value) & _RESULT:
            self._emit_attr(node, _READ_KINDS[node.attr])
        self.generic_visit(node)

    def _looks_like_class(self, keys: Iterable[Optional[str]]) -> bool:
        present = set(keys)
        context = self.m.imports_sdk or self.m.has_classify_call
        return context and "name" in present and "prompts" in present

    def visit_Dict(self, node: ast.Dict) -> None:
        keys = [
            k.value if isinstance(k, ast.Constant) and isinstance(k.value, str) else None for k in node.keys
        ]
        if self._looks_like_class(keys):
            for key_node, key in zip(node.keys, keys):
                if key in _CLASS_KEYS and key_node is not None:
                    self._emit(key_node, _CLASS_KEYS[key])
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            parts = alias.name.split(".")
            if parts[0] == "classify_shim":
                self._emit(node, "shim-import")
            elif parts[0] == "twelvelabs":
                if "classify" in parts:
                    self._emit(node, "import", "classify-videos")
                else:
                    self._pending(node)
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and node.module:
            parts = node.module.split(".")
            names = {alias.name for alias in node.names}
            if parts[0] == "classify_shim":
                self._emit(node, "shim-import")
            elif parts[0] == "twelvelabs":
                if "ClassifyClassParams" in names:
                    self._emit(node, "import", "classifyclassparams")
                elif "classify" in parts or names & _MODEL_NAMES:
                    self._emit(node, "import", "classify-videos")
                else:
                    self._pending(node)
        self.generic_visit(node)

    def _pending(self, node: ast.stmt) -> None:
        if self.out is not None:
            finding = self._make(node.lineno, node.col_offset, "import")
            if finding is not None:
                self.pending_imports.append(finding)


# --------------------------------------------------------------------------------------------
# Entry points


def scan_sources(
    sources: Sequence[Tuple[str, Union[str, bytes]]], *, all_imports: bool = False
) -> ScanReport:
    """Scans in-memory ``(path, source)`` pairs together (parameters are followed across them)."""
    report = ScanReport()
    modules: List[_Module] = []
    for path, source in sources:
        try:
            text = _decode(source) if isinstance(source, bytes) else source
            tree = ast.parse(text, filename=path)
        except SyntaxError as exc:
            where = f" (line {exc.lineno})" if exc.lineno else ""
            report.errors.append(ScanError(path, f"syntax error: {exc.msg}{where}"))
            continue
        except (ValueError, UnicodeDecodeError, LookupError) as exc:
            report.errors.append(ScanError(path, f"cannot parse: {exc}"))
            continue
        except (RecursionError, MemoryError):
            report.errors.append(ScanError(path, "cannot parse: the file is too deeply nested or too large"))
            continue
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        module = _Module(path=path, tree=tree, lines=lines, def_names=set(_DEF.findall(text)))
        if _relevant(text, all_imports):
            try:
                _index_module(module)
            except RecursionError:
                report.errors.append(ScanError(path, "cannot analyse: the file is too deeply nested"))
                continue
        modules.append(module)
    report.files_scanned = len(modules)
    analysis = _Analysis(modules, all_imports)
    try:
        report.findings = analysis.run()
    except RecursionError:  # pragma: no cover - pathological nesting across the whole set
        report.errors.append(ScanError("<all>", "analysis aborted: expressions nested too deeply"))
    return report


def scan_paths(
    paths: Iterable[str], *, exclude: Sequence[str] = (), all_imports: bool = False
) -> Tuple[ScanReport, List[str]]:
    """Scans files and directories; returns the report and the paths that do not exist."""
    files, missing = iter_python_files(paths, exclude)
    sources: List[Tuple[str, Union[str, bytes]]] = []
    read_errors: List[ScanError] = []
    for path in files:
        try:
            with open(path, "rb") as handle:
                sources.append((path, handle.read()))
        except OSError as exc:
            read_errors.append(ScanError(path, f"cannot read: {exc.strerror or exc}"))
    report = scan_sources(sources, all_imports=all_imports)
    report.errors = read_errors + report.errors
    order = {path: i for i, path in enumerate(files)}
    report.errors.sort(key=lambda e: order.get(e.file, len(order)))
    return report, missing
