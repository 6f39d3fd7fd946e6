"""What CrossHair can search here: module-level functions whose parameters are plain data.

Decided from the definitions' source (trusted side, no execution): the inputs CrossHair
finds must cross back from the worker as plain values, so every parameter needs an
annotation built from builtin scalars and builtin containers of them.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass

from properties import Obligation, module_name

__all__ = ["Target", "Unsupported", "target"]

_SCALARS = frozenset({"int", "float", "bool", "str", "bytes", "complex", "None"})
# Containers CrossHair builds as exactly these builtin types once realized.
_CONTAINERS = frozenset({"list", "List", "tuple", "Tuple", "dict", "Dict", "set", "Set", "frozenset",
                         "FrozenSet"})
_UNIONS = frozenset({"Optional", "Union"})


class Unsupported(ValueError):
    """CrossHair's path search cannot run on this target; the message says why and what happens next."""


@dataclass(frozen=True, slots=True)
class Target:
    """How to call the target: ``callee`` is ``"module:name"``; ``names`` its parameters in order."""

    callee: str
    names: tuple[str, ...]
    # Whether the old definition's annotations are searchable too (else only the new side is searched).
    old_searchable: bool = True


def target(obligation: Obligation) -> Target:
    """The callable target of ``obligation``, or ``Unsupported`` with the reason."""
    module = obligation.module or module_name(obligation.path)
    qualname = obligation.target[len(module) + 1:] if obligation.target.startswith(module + ".") else ""
    if not qualname or "." in qualname:
        raise Unsupported(f"{obligation.target} is a method or a nested function; CrossHair's path search here "
                          "covers module-level functions only (a receiver cannot be searched symbolically)")
    new = _function(obligation.new_source or "", obligation.target)
    old = _function(obligation.old_source or "", obligation.target)
    names = _names(new)
    if _names(old) != names:
        raise Unsupported(f"the parameters of {obligation.target} changed from ({', '.join(_names(old))}) to "
                          f"({', '.join(names)}); old and new cannot be called alike")
    problem = _unsearchable(new, obligation.target, "new", obligation.new_lines)
    if problem:
        raise Unsupported(problem)
    searchable = _unsearchable(old, obligation.target, "old", obligation.old_lines) == ""
    return Target(f"{module}:{qualname}", names, old_searchable=searchable)


def _function(source: str, name: str) -> ast.FunctionDef:
    try:
        tree = ast.parse(textwrap.dedent(source))
    except SyntaxError as error:
        raise Unsupported(f"the definition of {name} does not parse ({error})") from None
    node = tree.body[0] if tree.body else None
    if isinstance(node, ast.AsyncFunctionDef):
        raise Unsupported(f"{name} is async; the gate cannot execute coroutines")
    if not isinstance(node, ast.FunctionDef):
        raise Unsupported(f"{name} is not a function definition")
    return node


def _names(node: ast.FunctionDef) -> tuple[str, ...]:
    args = node.args
    return tuple(a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs))


def _unsearchable(node: ast.FunctionDef, name: str, side: str, lines: tuple[int, int] | None) -> str:
    """Why CrossHair's inputs for ``node`` could not cross back as data ("" when they can)."""
    args, first = node.args, (lines[0] - 1 if lines else 0)
    if args.vararg is not None or args.kwarg is not None:
        return f"{name} takes *args or **kwargs ({side} version); CrossHair's inputs for them are not searched here"
    for param in (*args.posonlyargs, *args.args, *args.kwonlyargs):
        if param.annotation is None:
            return (f"parameter {param.arg!r} of {name} ({side} version, line {first + param.lineno}) has no "
                    f"annotation; annotate it (e.g. `{param.arg}: int`)")
        why = _plain(param.annotation)
        if why:
            return (f"parameter {param.arg!r} of {name} ({side} version) is annotated `{ast.unparse(param.annotation)}`"
                    f", and {why}; CrossHair's inputs here are builtin scalars (int, float, bool, str, bytes) "
                    "and list/tuple/dict/set of them")
    return ""


def _plain(node: ast.expr) -> str:
    """"" when ``node`` annotates plain data; otherwise what is not."""
    if isinstance(node, ast.Constant):
        if node.value is None:
            return ""
        if isinstance(node.value, str):
            try:
                return _plain(ast.parse(node.value, mode="eval").body)
            except SyntaxError:
                return f"the string annotation {node.value!r} does not parse"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _plain(node.left) or _plain(node.right)
    head = _head(node.value if isinstance(node, ast.Subscript) else node)
    if not isinstance(node, ast.Subscript):
        if head in _SCALARS:
            return ""
        if head in _CONTAINERS:
            return f"`{head}` has no element type (write e.g. `{head.lower()}[int]`)"
        return f"`{ast.unparse(node)}` is not a builtin scalar or container"
    if head == "Literal":
        return ""
    if head not in _CONTAINERS and head not in _UNIONS:
        return f"`{ast.unparse(node)}` is not a builtin container"
    parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    return next((why for part in parts if not _is_ellipsis(part) and (why := _plain(part))), "")


def _head(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "typing":
        return node.attr
    return ast.unparse(node)


def _is_ellipsis(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is Ellipsis
