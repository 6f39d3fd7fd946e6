"""Finding the source of a user's ``pre``/``post`` lambda, and the values of the names it reads."""

from __future__ import annotations

import ast
import builtins
import inspect
import types
from typing import Any

from verifiers.smt._types import Unsupported

__all__ = ["lambda_node"]


def lambda_node(fn: Any, role: str) -> tuple[ast.Lambda | ast.FunctionDef, dict[str, Any]]:
    """The AST of ``fn`` (a lambda, or a one-``return`` function) and the free names it reads.

    The lambda is found in its file by its first line and parameter names; two different
    lambdas on that line with the same parameters are ambiguous and UNKNOWN.
    """
    code = getattr(fn, "__code__", None)
    if not isinstance(fn, types.FunctionType) or code is None:
        raise Unsupported(f"{role} is not a Python function ({type(fn).__name__})")
    try:
        filename = inspect.getsourcefile(fn)
        with open(filename or "", encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
    except (OSError, TypeError, SyntaxError, ValueError) as error:
        raise Unsupported(f"the source of {role} cannot be read ({error})") from None
    params = list(code.co_varnames[:code.co_argcount])
    found = [n for n in ast.walk(tree) if isinstance(n, (ast.Lambda, ast.FunctionDef))
             and n.lineno == code.co_firstlineno and [a.arg for a in n.args.args] == params]
    if isinstance(fn, types.FunctionType) and fn.__name__ != "<lambda>":
        found = [n for n in found if isinstance(n, ast.FunctionDef) and n.name == fn.__name__]
    else:
        found = [n for n in found if isinstance(n, ast.Lambda)]
    if not found:
        raise Unsupported(f"the source of {role} was not found at {filename}:{code.co_firstlineno}")
    if len({ast.dump(n) for n in found}) > 1:
        raise Unsupported(f"{role} is ambiguous: several lambdas ({', '.join(params)}) on "
                          f"{filename}:{code.co_firstlineno}; put each on its own line")
    node = found[0]
    if isinstance(node, ast.FunctionDef) and not (len(node.body) == 1 and isinstance(node.body[0], ast.Return)):
        raise Unsupported(f"{role} {node.name} must be a lambda or a function of one `return` statement",
                          node.lineno)
    return node, _free_values(fn, code)


def _free_values(fn: types.FunctionType, code: types.CodeType) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if fn.__closure__:
        for name, cell in zip(code.co_freevars, fn.__closure__):
            try:
                values[name] = cell.cell_contents
            except ValueError:
                continue
    for name in code.co_names:
        if name in fn.__globals__ and not isinstance(fn.__globals__[name], types.ModuleType):
            values.setdefault(name, fn.__globals__[name])
    return {k: v for k, v in values.items() if isinstance(v, (int, float, bool, tuple)) or v is None
            and not hasattr(builtins, k)}


def body_of(node: ast.Lambda | ast.FunctionDef) -> ast.expr:
    if isinstance(node, ast.Lambda):
        return node.body
    value = node.body[0].value  # type: ignore[attr-defined]
    if value is None:
        raise Unsupported(f"{node.name} returns nothing", node.lineno)
    return value
