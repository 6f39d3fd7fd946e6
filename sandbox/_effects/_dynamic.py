"""Code that looks up its object's members by a name it computes, so a new member can change it."""

from __future__ import annotations

import ast

__all__ = ["HOOKS", "dynamic_lookup"]

# Members Python consults for names the class does not define.
HOOKS = frozenset({"__getattr__", "__getattribute__", "__dir__"})
_BY_NAME = frozenset({"getattr", "hasattr", "setattr", "delattr"})
_WHOLE = frozenset({"vars", "dir"})
_SELVES = frozenset({"self", "cls"})


def dynamic_lookup(function: ast.AST, members: frozenset[str] = frozenset()) -> str:
    """How ``function`` reaches members of ``self``/``cls`` dynamically, or ``""``.

    ``getattr(self, "x")`` with a constant name counts only when ``x`` is in ``members``.
    """
    if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)) and function.name in HOOKS:
        return function.name
    for node in ast.walk(function):
        if isinstance(node, ast.Attribute) and node.attr == "__dict__" and _is_self(node.value):
            return f"{ast.unparse(node.value)}.__dict__ (line {node.lineno})"
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args
                and _is_self(node.args[0])):
            continue
        name = node.func.id
        if name in _WHOLE or (name in _BY_NAME and _computed_or_in(node, members)):
            return f"{ast.unparse(node)[:60]} (line {node.lineno})"
    return ""


def _is_self(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return node.id in _SELVES
    # type(self).__dict__ and friends
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "type"
            and len(node.args) == 1 and _is_self(node.args[0]))


def _computed_or_in(call: ast.Call, members: frozenset[str]) -> bool:
    if len(call.args) < 2:
        return True
    name = call.args[1]
    return not (isinstance(name, ast.Constant) and isinstance(name.value, str)) or name.value in members
