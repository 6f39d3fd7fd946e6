"""Calls into the repository's own code that run at import and change another module's state.

``@register`` from ``models.py`` runs when ``train.py`` is imported and writes into
``models.REGISTRY``: code that looks a model up by name now gets the patch's function,
though neither ``models.py`` nor its readers changed.  The allow-list lets introduced code
call the repository's own modules (their changes are checked where they are made), so the
write is in old code the policy never re-reads.  This follows such calls one step: an
import-time call (a decorator, a module-level statement, a class body) introduced by the
patch, to a function of a repository module whose body writes that module's globals.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass

from sandbox._effects._imports import resolve_from
from sandbox._effects._index import RepoIndex

__all__ = ["Registration", "registrations"]

_MUTATORS = frozenset({"append", "extend", "insert", "remove", "pop", "popitem", "clear", "update", "setdefault",
                       "add", "discard", "__setitem__"})


@dataclass(frozen=True, slots=True)
class Registration:
    """An import-time call at ``line`` of the touched file to ``module.function``, which writes ``written``.

    ``module`` may be the touched file's own: a registry in the same file changes its readers too.
    """

    line: int
    call: str
    module: str
    function: str
    written: str
    written_line: int


def registrations(index: RepoIndex, path: str, before: str | None, after: str) -> list[Registration]:
    """The import-time calls the new text of ``path`` introduces that write another module's globals."""
    module, is_package = index.module_of(path), path.endswith("__init__.py")
    old = {(c.module, c.function, c.where) for c in _calls(before, module, is_package)} if before else set()
    found = []
    for call in _calls(after, module, is_package):
        if (call.module, call.function, call.where) in old:
            continue
        written = _writes(index, call.module, call.function)
        if written:
            found.append(Registration(call.line, call.text, call.module, call.function, *written))
    return found


@dataclass(frozen=True, slots=True)
class _Call:
    line: int
    text: str
    module: str
    function: str
    where: str


def _calls(text: str | None, module: str, is_package: bool) -> Iterator[_Call]:
    try:
        tree = ast.parse(text or "")
    except (SyntaxError, ValueError, RecursionError):
        return
    bound = _imports(tree, module, is_package)
    # The module's own functions, called at import (``@register`` defined above in the same file).
    bound.update({s.name: (module, s.name) for s in tree.body
                  if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and s.name not in bound})
    for where, node in _import_time(tree):
        for call in (n for n in ast.walk(node) if isinstance(n, ast.Call)):
            target = _target(call.func, bound)
            if target:
                yield _Call(call.lineno, ast.unparse(call)[:80], *target, where)
        if isinstance(node, ast.expr):  # a bare decorator: ``@register``
            target = _target(node, bound)
            if target:
                yield _Call(node.lineno, "@" + ast.unparse(node)[:79], *target, where)


def _import_time(tree: ast.Module) -> Iterator[tuple[str, ast.AST]]:
    """``(definition, node)`` for what runs on import: decorators, defaults, class bodies, statements."""
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from ((stmt.name, d) for d in stmt.decorator_list)
            yield from ((stmt.name, d) for d in (*stmt.args.defaults, *stmt.args.kw_defaults) if d is not None)
        elif isinstance(stmt, ast.ClassDef):
            yield from ((stmt.name, d) for d in (*stmt.decorator_list, *stmt.bases))
            for member in stmt.body:
                if isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield from ((f"{stmt.name}.{member.name}", d) for d in member.decorator_list)
                else:
                    yield stmt.name, member
        elif not _main_guard(stmt):
            yield "<module>", stmt


def _main_guard(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.If) and "__main__" in ast.unparse(stmt.test) and "__name__" in ast.unparse(stmt.test)


def _imports(tree: ast.Module, module: str, is_package: bool) -> dict[str, tuple[str, str | None]]:
    """Names bound by top-level imports: ``name -> (module, attribute or None for the module itself)``."""
    bound: dict[str, tuple[str, str | None]] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    bound[alias.asname] = (alias.name, None)
                else:
                    bound[alias.name.split(".")[0]] = (alias.name.split(".")[0], None)
        elif isinstance(stmt, ast.ImportFrom):
            base = resolve_from(stmt, module, is_package)
            for alias in stmt.names:
                if base and alias.name != "*":
                    bound[alias.asname or alias.name] = (base, alias.name)
    return bound


def _target(func: ast.expr, bound: dict[str, tuple[str, str | None]]) -> tuple[str, str] | None:
    """The ``(module, function)`` a called expression names through the file's imports, if it does."""
    if isinstance(func, ast.Call):
        func = func.func  # ``@register("name")``: the factory runs at import
    if isinstance(func, ast.Name) and func.id in bound:
        module, attr = bound[func.id]
        return (module, attr) if attr else None
    if isinstance(func, ast.Attribute):
        parts = []
        node: ast.expr = func
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name) and node.id in bound:
            module, attr = bound[node.id]
            dotted = [module, *([attr] if attr else []), *reversed(parts)]
            return ".".join(dotted[:-1]), dotted[-1]
    return None


def _writes(index: RepoIndex, module: str, function: str) -> tuple[str, int] | None:
    """The first module global of ``module`` that its function ``function`` writes, with the line."""
    path = index.module_file(module)
    tree = index.tree(path) if path else None
    if tree is None:
        return None
    globals_ = {n.id for stmt in tree.body if isinstance(stmt, (ast.Assign, ast.AnnAssign))
                for t in (stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target])
                for n in ast.walk(t) if isinstance(n, ast.Name)}
    body = next((s for s in tree.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and s.name == function), None)
    if body is None:
        return None
    for node in ast.walk(body):
        name = _written_name(node)
        if name and (name in globals_ or isinstance(node, ast.Global)):
            return f"{module}.{name}", node.lineno
    return None


def _written_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Global):
        return node.names[0]
    if isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.ctx, (ast.Store, ast.Del)):
        base = node.value
        while isinstance(base, (ast.Subscript, ast.Attribute)):
            base = base.value
        return base.id if isinstance(base, ast.Name) else None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _MUTATORS:
        base = node.func.value
        while isinstance(base, (ast.Subscript, ast.Attribute)):
            base = base.value
        return base.id if isinstance(base, ast.Name) else None
    return None
