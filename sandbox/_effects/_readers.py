"""Which functions of the repository read something a patch changed without touching their source.

A *reader* is a function or method whose body holds a matching expression (a
string naming a data file, a ``__doc__`` lookup), or that reads a module
constant or class attribute whose value holds one.  Matches in other
module-level code cannot be compared function by function; they are reported
as problems, so the caller can reject the patch with the place to look.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sandbox._effects._index import RepoIndex

__all__ = ["Reader", "data_readers", "doc_readers", "name_readers"]

Match = Callable[[ast.AST], bool]


@dataclass(frozen=True, slots=True)
class Reader:
    """A function or method (``qualname``) in ``path`` that reads the thing, first seen at ``line``."""

    path: str
    qualname: str
    line: int


def data_readers(index: RepoIndex, data_path: str) -> tuple[list[Reader], list[str]]:
    """Readers of the non-Python file ``data_path``: code naming it in a string literal."""
    name = data_path.rpartition("/")[2]

    def names_it(node: ast.AST) -> bool:
        return isinstance(node, ast.Constant) and isinstance(node.value, str) and (
            node.value in (name, data_path) or node.value.endswith("/" + name))

    return _readers(index, index.containing(name), names_it)


def doc_readers(index: RepoIndex) -> tuple[list[Reader], list[str]]:
    """Readers of docstrings: code reading ``__doc__`` or calling ``getdoc``."""
    def reads_doc(node: ast.AST) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr in ("__doc__", "getdoc")) or (
            isinstance(node, ast.Name) and node.id == "getdoc")

    return _readers(index, index.containing("__doc__", "getdoc"), reads_doc)


def name_readers(index: RepoIndex, paths: Iterable[str], names: frozenset[str]) -> tuple[list[Reader], list[str]]:
    """Readers of any of ``names`` as a plain name (a global, or a builtin a star import now shadows)."""
    def reads_name(node: ast.AST) -> bool:
        return isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in names

    return _readers(index, paths, reads_name)


def _readers(index: RepoIndex, paths: Iterable[str], match: Match) -> tuple[list[Reader], list[str]]:
    readers: list[Reader] = []
    problems: list[str] = []
    for path in paths:
        tree = index.tree(path)
        if tree is not None:
            _scan_module(path, index.module_of(path), tree, match, readers, problems)
    return readers, problems


def _scan_module(path: str, module: str, tree: ast.Module, match: Match,
                 readers: list[Reader], problems: list[str]) -> None:
    holders: dict[str, int] = {}
    for stmt in tree.body:
        line = _first(stmt, match)
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if line:
                readers.append(Reader(path, f"{module}.{stmt.name}", line))
        elif isinstance(stmt, ast.ClassDef):
            _scan_class(path, f"{module}.{stmt.name}", stmt, match, readers)
        elif line and isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            holders.update(dict.fromkeys(_stored(stmt), line))
        elif line:
            problems.append(f"module-level code at {path}:{line} reads it, and the gate compares functions, "
                            "not module code: move that code into a function")
    if holders:
        _constant_readers(path, module, tree, holders, readers, problems)


def _scan_class(path: str, qualname: str, node: ast.ClassDef, match: Match, readers: list[Reader]) -> None:
    methods = [s for s in node.body if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))]
    body_line = next((_first(s, match) for s in node.body if s not in methods and _first(s, match)), 0)
    for method in methods:
        line = _first(method, match) or body_line
        if line:  # a class attribute holding it may be read by any method
            readers.append(Reader(path, f"{qualname}.{method.name}", line))


def _constant_readers(path: str, module: str, tree: ast.Module, holders: dict[str, int],
                      readers: list[Reader], problems: list[str]) -> None:
    found = False
    for qualname, function in _functions(module, tree):
        if any(isinstance(n, ast.Name) and n.id in holders for n in ast.walk(function)):
            readers.append(Reader(path, qualname, min(holders.values())))
            found = True
    if not found:
        names = ", ".join(sorted(holders))
        problems.append(f"{path}:{min(holders.values())} binds it to {names}, which no function of "
                        f"{path} reads; the gate cannot follow it further: read it inside a function")


def _functions(module: str, tree: ast.Module) -> Iterable[tuple[str, ast.AST]]:
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield f"{module}.{stmt.name}", stmt
        elif isinstance(stmt, ast.ClassDef):
            for member in stmt.body:
                if isinstance(member, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield f"{module}.{stmt.name}.{member.name}", member


def _first(node: ast.AST, match: Match) -> int:
    return min((getattr(n, "lineno", 0) for n in ast.walk(node) if match(n)), default=0)


def _stored(stmt: ast.Assign | ast.AnnAssign) -> list[str]:
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    return [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
