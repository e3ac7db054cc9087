"""Per-module facts gathered once before the taint passes: functions, scopes, SDK imports."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Set, Tuple, Union

__all__ = ["DEF_NAMES", "FuncFacts", "FuncNode", "ModuleFacts", "index_module", "is_relevant"]


FuncNode = Union[ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda]


@dataclass
class FuncFacts:
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
class ModuleFacts:
    path: str
    tree: ast.Module
    lines: List[str]
    funcs: Dict[int, FuncFacts] = field(default_factory=dict)
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


def index_module(module: ModuleFacts) -> None:
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
            module.funcs[id(node)] = FuncFacts(
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


DEF_NAMES = re.compile(r"^[ \t]*(?:async[ \t]+)?def[ \t]+([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)


def is_relevant(text: str, all_imports: bool) -> bool:
    """Only code that mentions classify can start a finding; the rest is analysed on demand
    (when a result flows into one of its functions), which keeps big trees fast."""
    lowered = text.lower()
    return "classify" in lowered or (all_imports and "twelvelabs" in lowered)
