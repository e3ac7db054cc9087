"""The analysis: a flow-insensitive taint fixpoint over every scanned module.

A value is tainted by what it may be (a page result, data read from one, the ``classify``
resource, one of its bound methods); findings are recorded on the last pass only.
"""

from __future__ import annotations

import ast
import re
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

from ._facts import DEF_NAMES, FuncFacts, FuncNode, ModuleFacts, index_module, is_relevant
from ._http import find_raw_http
from ._report import IMPORT_KINDS, Finding, ScanError, ScanReport, make_finding
from ._walk import decode_source

__all__ = ["scan_sources"]


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
_MAX_PASSES = 30


def _getattr_name(call: ast.Call) -> Optional[str]:
    """``"name"`` for ``getattr(x, "name"[, default])``, else None."""
    func = call.func
    if (
        isinstance(func, ast.Name)
        and func.id == "getattr"
        and len(call.args) >= 2
        and isinstance(call.args[1], ast.Constant)
        and isinstance(call.args[1].value, str)
    ):
        return call.args[1].value
    return None


class _Analysis:
    def __init__(self, modules: List[ModuleFacts], all_imports: bool) -> None:
        self.all_imports = all_imports
        self.modules: List[ModuleFacts] = []  # analysed (indexed) modules
        self.taint: Dict[Tuple[int, str], int] = {}
        self.returns: Dict[int, int] = {}
        self.defs_by_name: Dict[str, List[FuncFacts]] = {}
        self.lazy: Dict[str, List[ModuleFacts]] = {}  # function name -> modules not analysed yet
        self.changed = False
        for module in modules:
            if module.indexed:
                self._add(module)
            else:
                for name in module.def_names:
                    self.lazy.setdefault(name, []).append(module)

    def _add(self, module: ModuleFacts) -> None:
        self.modules.append(module)
        for func in module.funcs.values():
            if not isinstance(func.node, ast.Lambda):
                self.defs_by_name.setdefault(func.node.name, []).append(func)

    def load(self, name: str) -> None:
        """A result flows into ``name(...)``: analyse the modules that define it."""
        for module in self.lazy.pop(name, []):
            if module.indexed:
                continue
            index_module(module)
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

    def add_return(self, func: FuncFacts, flags: int) -> None:
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
            if self.all_imports or any(f.kind not in IMPORT_KINDS for f in out):
                out.extend(walker.pending_imports)
            out.extend(find_raw_http(module))
            findings.extend(sorted(set(out), key=lambda f: (f.line, f.col, f.kind)))
        return findings


class _Walker(ast.NodeVisitor):
    """One pass over one module; records findings only when ``out`` is given (the last pass)."""

    def __init__(self, analysis: _Analysis, module: ModuleFacts, out: Optional[List[Finding]]) -> None:
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

    def _func(self) -> Optional[FuncFacts]:
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
        attr = _getattr_name(call)
        if attr is not None:  # getattr(x, "name") reads like x.name
            base = self._taint(call.args[0])
            flags = _DATA if base & _RESULT else 0
            if attr == "classify":
                flags |= _RESOURCE
            elif attr in _FN_FLAGS and base & _RESOURCE:
                flags |= _FN_FLAGS[attr]
            return flags
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
        elif isinstance(func, ast.Call):  # getattr(client.classify, "videos")(...)
            flags = self._call_taint(func)
        else:
            return None
        for method, flag in _FN_FLAGS.items():
            if flags & flag:
                if method == "index" and isinstance(func, ast.Call) and not self._plausible_index(call):
                    return None
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
        return make_finding(self.m.path, self.m.lines, line, col_offset, kind, anchor)

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
        attr = _getattr_name(node)
        if attr in _READ_KINDS and self._taint(node.args[0]) & _RESULT:
            self._emit(node, _READ_KINDS[attr])
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


def scan_sources(
    sources: Sequence[Tuple[str, Union[str, bytes]]], *, all_imports: bool = False
) -> ScanReport:
    """Scans in-memory ``(path, source)`` pairs together (parameters are followed across them)."""
    report = ScanReport()
    modules: List[ModuleFacts] = []
    for path, source in sources:
        try:
            text = decode_source(source) if isinstance(source, bytes) else source
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
        module = ModuleFacts(path=path, tree=tree, lines=lines, def_names=set(DEF_NAMES.findall(text)))
        if is_relevant(text, all_imports):
            try:
                index_module(module)
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
