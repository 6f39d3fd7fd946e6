"""Does a member added to a subclass override something?  Follow its bases through the repository.

A base defined in the same file or in a repository module the file imports is
read from source; a few standard-library bases (``object``, ``Exception``,
``dict``, ``enum.Enum``, ...) are asked directly with ``hasattr``.  Anything
else cannot be seen, and the caller rejects the member as before.
"""

from __future__ import annotations

import ast
import builtins
import importlib

from sandbox._effects._dynamic import HOOKS, dynamic_lookup
from sandbox._effects._imports import resolve_from
from sandbox._effects._index import RepoIndex

__all__ = ["override_problem"]

# Imported in the trusted process only to ask hasattr(); each is cheap and has no import-time effects.
_SAFE_MODULES = frozenset({"builtins", "abc", "collections", "collections.abc", "enum", "numbers",
                           "typing", "dataclasses", "decimal", "fractions", "pathlib", "json", "string"})
_MAX_CLASSES = 64


def override_problem(index: RepoIndex, path: str, owner: str, member: str) -> str:
    """Why adding ``member`` to class ``owner`` (qualified name, defined in ``path``) may override
    something, or ``""`` when no base in its chain defines it or looks members up dynamically."""
    cls = _class_node(index.tree(path), owner[len(index.module_of(path)) + 1:].split("."))
    if cls is None:
        return f"the gate cannot find class {owner} in {path}"
    if cls.keywords:
        return f"{owner} has class keywords ({ast.unparse(cls.keywords[0])}), which may change attribute lookup"
    work = [(path, ast.unparse(b)) for b in cls.bases]
    seen = 0
    while work:
        where, expr = work.pop()
        seen += 1
        if seen > _MAX_CLASSES:
            return f"{owner} has more than {_MAX_CLASSES} base classes to follow"
        found = _resolve(index, where, expr, depth=0)
        if isinstance(found, str):
            problem = _external(found, expr, member)
        else:
            problem, bases = _repo_class(found, member)
            work += [(found[0], b) for b in bases]
        if problem:
            return problem
    return ""


def _class_node(tree: ast.Module | None, names: list[str]) -> ast.ClassDef | None:
    body = tree.body if tree is not None else []
    node = None
    for name in names:
        node = next((s for s in body if isinstance(s, ast.ClassDef) and s.name == name), None)
        if node is None:
            return None
        body = node.body
    return node


def _resolve(index: RepoIndex, path: str, expr: str, depth: int) -> tuple[str, ast.ClassDef] | str:
    """The repository class ``expr`` names in ``path``, or its dotted name outside the repository."""
    parts = expr.split("[")[0].split(".")
    tree = index.tree(path)
    if depth > 8 or tree is None or not all(p.isidentifier() for p in parts):
        return f"?{expr}"
    head, rest = parts[0], parts[1:]
    if not rest:
        cls = _class_node(tree, [head])
        if cls is not None:
            return path, cls
    dotted = _imported(tree, head, index.module_of(path), path.endswith("__init__.py"))
    if dotted is None:
        return f"builtins.{head}" if not rest and hasattr(builtins, head) else f"?{expr}"
    full = ".".join([dotted, *rest]).split(".")
    for cut in range(len(full) - 1, 0, -1):
        file = index.module_file(".".join(full[:cut]))
        if file is not None:
            return _resolve(index, file, ".".join(full[cut:]), depth + 1)
    return ".".join(full)


def _imported(tree: ast.Module, head: str, module: str, is_package: bool) -> str | None:
    for stmt in tree.body:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname == head:
                    return alias.name
                if alias.asname is None and alias.name.split(".")[0] == head:
                    return head
        elif isinstance(stmt, ast.ImportFrom):
            base = resolve_from(stmt, module, is_package)
            for alias in stmt.names:
                if (alias.asname or alias.name) == head and base is not None:
                    return f"{base}.{alias.name}"
    return None


def _repo_class(found: tuple[str, ast.ClassDef], member: str) -> tuple[str, list[str]]:
    path, cls = found
    where = f"{cls.name} ({path}:{cls.lineno})"
    for stmt in cls.body:
        names = _bound(stmt)
        if member in names:
            return f"the base class {where} defines {member} at line {stmt.lineno}, so the new member overrides it", []
        if names & HOOKS:
            return f"the base class {where} defines {sorted(names & HOOKS)[0]}, which answers any member name", []
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            how = dynamic_lookup(stmt, frozenset({member}))
            if how:
                return f"{where} method {stmt.name} looks members up dynamically ({how})", []
    if cls.keywords:
        return f"the base class {where} has class keywords, which may change attribute lookup", []
    return "", [ast.unparse(b) for b in cls.bases]


def _bound(stmt: ast.stmt) -> set[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target] if isinstance(
        stmt, (ast.AnnAssign, ast.AugAssign)) else []
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _external(dotted: str, expr: str, member: str) -> str:
    module, _, name = dotted.rpartition(".")
    if dotted.startswith("?") or module not in _SAFE_MODULES:
        shown = expr if dotted.startswith("?") else dotted
        return f"the gate cannot see the base class {shown}, which is not defined in the repository"
    base = getattr(importlib.import_module(module), name, None)
    if not isinstance(base, type):
        return f"the base {dotted} is not a class the gate can inspect"
    if hasattr(base, member):
        return f"the base class {dotted} has a member {member}, so the new member overrides it"
    # C types of builtins list a generic __getattribute__ in their own __dict__; it is not a hook.
    hooks = [k for k in base.__mro__ if k.__module__ != "builtins" and HOOKS & set(vars(k))]
    if hooks:
        return f"the base class {dotted} customises attribute lookup ({hooks[0].__qualname__})"
    return ""
