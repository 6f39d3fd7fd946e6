"""Where the code says a trigger lives: sizes it measures, prefixes it checks, regexes it matches.

``shapes`` walks one definition and reports constants used as ``len(...)`` comparands,
slice bounds, constant indices and ``range`` bounds (sizes), the arguments of
``startswith``/``removeprefix`` and of slice-equals-literal tests (prefixes), and
string literals handed to ``re.match``/``search``/``fullmatch``/``compile`` and friends
(patterns).  Names are resolved through the module's literal constants.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from verifiers.literal import NotALiteral, constant_value

__all__ = ["Resolver", "Shapes", "module_constants", "shapes"]

_REGEX_FUNCTIONS = {"match", "search", "fullmatch", "compile", "findall", "finditer", "split", "sub", "subn"}
_PREFIX_METHODS = {"startswith", "removeprefix"}
_FOLD_ERRORS = (NotALiteral, ArithmeticError, SyntaxError, ValueError, TypeError, RecursionError, MemoryError)


@dataclass(slots=True)
class Shapes:
    """Sizes, prefixes and regex patterns found in one definition, in first-seen order."""

    sizes: list[int] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    patterns: list[str | bytes] = field(default_factory=list)


def module_constants(tree: ast.Module | None) -> dict[str, Any]:
    """Top-level names bound exactly once to a literal (folded) value."""
    values: dict[str, Any] = {}
    seen: set[str] = set()
    for stmt in tree.body if tree else ():
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            name = stmt.targets[0].id
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
            name = stmt.target.id
        else:
            continue
        if name in seen:
            values.pop(name, None)
            continue
        seen.add(name)
        try:
            values[name] = constant_value(ast.unparse(stmt))
        except _FOLD_ERRORS:
            pass
    return values


class Resolver:
    """Folds an expression of literals and module constants to its value, or ``None``."""

    def __init__(self, constants: dict[str, Any]) -> None:
        self.constants = constants

    def value(self, node: ast.expr) -> Any:
        """The value of ``node``, or ``None`` when it reads anything but literals and known constants."""
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.constants.get(node.id)
        if not isinstance(node, (ast.UnaryOp, ast.BinOp, ast.Tuple)):
            return None
        names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        if not names <= self.constants.keys():
            return None
        bound = _Substitute(self.constants).visit(ast.parse(ast.unparse(node), mode="eval").body)
        try:
            return constant_value(f"_ = {ast.unparse(bound)}")
        except _FOLD_ERRORS:
            return None


class _Substitute(ast.NodeTransformer):
    def __init__(self, constants: dict[str, Any]) -> None:
        self.constants = constants

    def visit_Name(self, node: ast.Name) -> ast.expr:
        value = self.constants[node.id]
        return ast.Constant(value) if isinstance(value, (int, float, str, bytes)) else node


def shapes(tree: ast.AST, resolve: Resolver) -> Shapes:
    """The sizes, prefixes and patterns of one definition."""
    found = Shapes()
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            _compare(node, resolve, found)
        elif isinstance(node, ast.Subscript):
            _subscript(node, resolve, found)
        elif isinstance(node, ast.Call):
            _call(node, resolve, found)
    return found


def _add(items: list[Any], value: Any) -> None:
    if value not in items:
        items.append(value)


def _size(value: Any, found: Shapes, offset: int = 0) -> None:
    if isinstance(value, int) and not isinstance(value, bool):
        _add(found.sizes, abs(value) + offset)


def _is_len(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len"


def _compare(node: ast.Compare, resolve: Resolver, found: Shapes) -> None:
    operands = [node.left, *node.comparators]
    if any(_is_len(o) for o in operands):
        for operand in operands:
            if not _is_len(operand):
                _size(resolve.value(operand), found)
    for left, right in zip(operands, operands[1:]):
        for sliced, other in ((left, right), (right, left)):
            if isinstance(sliced, ast.Subscript) and isinstance(sliced.slice, ast.Slice) and sliced.slice.lower is None:
                value = resolve.value(other)
                if isinstance(value, str) and value:
                    _add(found.prefixes, value)


def _subscript(node: ast.Subscript, resolve: Resolver, found: Shapes) -> None:
    if isinstance(node.slice, ast.Slice):
        for bound in (node.slice.lower, node.slice.upper):
            if bound is not None:
                _size(resolve.value(bound), found)
    else:
        _size(resolve.value(node.slice), found, offset=1)


def _call(node: ast.Call, resolve: Resolver, found: Shapes) -> None:
    func = node.func
    if isinstance(func, ast.Name) and func.id == "range":
        for arg in node.args:
            _size(resolve.value(arg), found)
    if not isinstance(func, ast.Attribute) or not node.args:
        return
    first = resolve.value(node.args[0])
    if func.attr in _PREFIX_METHODS:
        for prefix in first if isinstance(first, tuple) else (first,):
            if isinstance(prefix, str) and prefix:
                _add(found.prefixes, prefix)
    elif func.attr in _REGEX_FUNCTIONS and isinstance(func.value, ast.Name) and func.value.id == "re":
        if isinstance(first, (str, bytes)):
            _add(found.patterns, first)
