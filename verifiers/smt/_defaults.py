"""Parameter defaults: which calls omit them, how such a call is made, and the defaults' values in z3.

A changed default changes every call that omits the argument, so besides the call
giving every argument, the prover checks the call omitting every defaulted parameter
and, when there are several, each one omitted alone.  A side without a default for
an omitted parameter raises ``TypeError``, as Python does.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Any

import z3

from verifiers.smt._translate import Translator, and_
from verifiers.smt._types import Sym, Unsupported, Value

__all__ = ["defaults_of", "omissions", "side_arguments"]


def defaults_of(fn: ast.FunctionDef | None) -> dict[str, ast.expr]:
    """Parameter name -> default expression, positional and keyword-only alike."""
    if fn is None:
        return {}
    args = fn.args
    positional = [p.arg for p in [*args.posonlyargs, *args.args]]
    found = dict(zip(positional[len(positional) - len(args.defaults):], args.defaults))
    found.update({p.arg: d for p, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None})
    return found


def omissions(defaulted: Sequence[str]) -> list[frozenset[str]]:
    """The calls to check besides the full one: all defaulted parameters omitted, then each alone."""
    if not defaulted:
        return []
    alone = [frozenset({name}) for name in defaulted] if len(defaulted) > 1 else []
    return [frozenset(defaulted), *alone]


def side_arguments(translator: Translator, fn: ast.FunctionDef, names: Sequence[str], inputs: Sequence[Sym],
                   omitted: frozenset[str], role: str) -> tuple[list[Value], Any] | None:
    """The values ``fn`` is called with (defaults in place of omitted inputs) and the condition under which
    evaluating the defaults does not raise; None when ``fn`` has no default for an omitted parameter."""
    defaults = defaults_of(fn)
    values: list[Value] = []
    ok: Any = z3.BoolVal(True)
    for name, symbol in zip(names, inputs):
        if name not in omitted:
            values.append(symbol)
            continue
        if name not in defaults:
            return None
        holds, value = _default(translator, defaults[name], name, role)
        ok = and_(ok, holds)
        values.append(value)
    return values, ok


def _default(translator: Translator, node: ast.expr, name: str, role: str) -> tuple[Any, Value]:
    try:
        return translator.expression(node, {})  # module scope: a default cannot see the parameters
    except Unsupported as error:
        raise Unsupported(f"the {role} default of parameter {name!r}, `{ast.unparse(node)[:60]}`, cannot be "
                          f"encoded ({error.what}), so calls omitting {name!r} cannot be proved", node.lineno) from None
