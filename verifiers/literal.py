"""The literal verifier: decides obligations on module constants whose values are literals.

A constant written as a literal (or arithmetic on literals: ``3e-4``, ``2 ** 10``,
``(1, 2)``) has one value, so comparing old and new values, or checking the new
value against declared bounds, is exact: the answer is ``PROVEN`` or
``REFUTED``.  Anything that is not a literal (it names another constant, calls
a function) is ``UNKNOWN``, never a guess.  Nothing is executed.
"""

from __future__ import annotations

import ast
import operator
from typing import Any

from properties import Bounds, Kind, Obligation

from verifiers._contract import Context, Counterexample, Evidence, Level, Verifier
from verifiers._values import same

__all__ = ["LiteralVerifier", "NotALiteral", "constant_value"]

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_MAX_EXPONENT = 256


class NotALiteral(ValueError):
    """The value cannot be decided without running code; the message says why."""


def constant_value(source: str) -> Any:
    """The value assigned by ``source``, a single ``NAME = <literal>`` statement."""
    module = ast.parse(source)
    if len(module.body) != 1:
        raise NotALiteral("it is bound by more than one statement")
    stmt = module.body[0]
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        return _fold(stmt.value)
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
        return _fold(stmt.value)
    raise NotALiteral("it is not a plain `NAME = value` assignment")


def _fold(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        items = [_fold(e) for e in node.elts]
        return {ast.Tuple: tuple, ast.List: list, ast.Set: frozenset}[type(node)](items)
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {_fold(k): _fold(v) for k, v in zip(node.keys, node.values)}  # type: ignore[arg-type]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_number(_fold(node.operand)))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _number(_fold(node.left)), _number(_fold(node.right))
        if isinstance(node.op, ast.Pow) and abs(right) > _MAX_EXPONENT:
            raise NotALiteral(f"the exponent {right!r} is too large to evaluate safely")
        try:
            return _BINARY[type(node.op)](left, right)
        except (ArithmeticError, ValueError) as error:
            raise NotALiteral(f"evaluating it raises {type(error).__name__}: {error}") from None
    raise NotALiteral(f"`{ast.unparse(node)}` is not a literal")


def _number(value: Any) -> int | float | complex:
    if isinstance(value, bool) or not isinstance(value, (int, float, complex)):
        raise NotALiteral(f"arithmetic on {type(value).__name__} values is not evaluated")
    return value


class LiteralVerifier(Verifier):
    """Equivalence and bounds of module constants with literal values."""

    name = "literal"

    def _check(self, obligation: Obligation, context: Context) -> Evidence:
        if obligation.kind is Kind.BOUNDS and isinstance(obligation.spec, Bounds):
            return self._bounds(obligation, obligation.spec)
        if obligation.kind is Kind.EQUIVALENT:
            return self._equivalent(obligation)
        return Evidence(Level.UNKNOWN, self.name, f"the literal verifier does not judge {obligation.kind.value} obligations")

    def _value(self, obligation: Obligation, source: str | None, side: str) -> Any:
        if source is None:
            raise NotALiteral(f"{obligation.target} does not exist on the {side} side")
        try:
            return constant_value(source)
        except (NotALiteral, TypeError) as error:
            raise NotALiteral(f"the {side} value of {obligation.target} cannot be decided: {error}") from None

    def _equivalent(self, obligation: Obligation) -> Evidence:
        try:
            old = self._value(obligation, obligation.old_source, "old")
            new = self._value(obligation, obligation.new_source, "new")
        except NotALiteral as error:
            return self._unknown(error)
        if same(old, new):
            return Evidence(Level.PROVEN, self.name, f"{obligation.target} keeps its value {old!r}")
        advice = (f"allowed by {obligation.allowed_by}" if obligation.allowed_by else
                  f"to let it be retuned, state bounds({obligation.target!r}, lo, hi) in the property file")
        return Evidence(
            Level.REFUTED, self.name, f"{obligation.target} changed from {old!r} to {new!r}; {advice}",
            counterexample=Counterexample(obligation.target, repr(old), repr(new)),
        )

    def _bounds(self, obligation: Obligation, spec: Bounds) -> Evidence:
        try:
            new = self._value(obligation, obligation.new_source, "new")
        except NotALiteral as error:
            return self._unknown(error)
        old_value = constant_value(obligation.old_source) if _is_literal(obligation.old_source) else _ABSENT
        old = repr(old_value) if old_value is not _ABSENT else None
        if old_value is not _ABSENT and type(old_value) in _NUMBERS and type(new) is not type(old_value):
            return self._retyped(obligation, spec, old_value, new)
        if isinstance(new, bool) or not isinstance(new, (int, float)):
            return Evidence(Level.REFUTED, self.name,
                            f"{obligation.target} = {new!r} is not a number, so it cannot lie within "
                            f"[{spec.lo!r}, {spec.hi!r}]",
                            counterexample=Counterexample(obligation.target, old, repr(new)))
        if spec.lo <= new <= spec.hi:
            return Evidence(Level.PROVEN, self.name, f"{obligation.target} = {new!r} lies within [{spec.lo!r}, {spec.hi!r}]")
        return Evidence(Level.REFUTED, self.name,
                        f"{obligation.target} = {new!r} lies outside its bounds [{spec.lo!r}, {spec.hi!r}]",
                        counterexample=Counterexample(obligation.target, old, repr(new)))

    def _retyped(self, obligation: Obligation, spec: Bounds, old: Any, new: Any) -> Evidence:
        name = obligation.target.rpartition(".")[2]
        was, now = type(old).__name__, type(new).__name__
        return Evidence(Level.REFUTED, self.name,
                        f"{obligation.target} changed type from {was} ({old!r}) to {now} ({new!r}); bounds "
                        f"[{spec.lo!r}, {spec.hi!r}] allow retuning its value, not its type, which changes what "
                        f"range(), indexing and arithmetic do with it; keep the literal's type: "
                        f"{_retype_fix(name, old, new)}",
                        counterexample=Counterexample(obligation.target, repr(old), repr(new)))

    def _unknown(self, error: Exception) -> Evidence:
        return Evidence(Level.UNKNOWN, self.name,
                        f"{error}; write the constant as a literal (e.g. `LR = 3e-4`) so the gate can compare it")


_ABSENT: Any = object()
_NUMBERS = (int, float, bool)


def _retype_fix(name: str, old: Any, new: Any) -> str:
    """``new`` rewritten with ``old``'s type where that is exact, else what to write instead."""
    if type(new) is float and type(old) is int and new.is_integer():
        return f"write `{name} = {int(new)!r}`"
    if type(new) is int and type(old) is float:
        return f"write `{name} = {new!r}.0`"
    return f"write a literal of type {type(old).__name__}, as the old `{name} = {old!r}` is"


def _is_literal(source: str | None) -> bool:
    if source is None:
        return False
    try:
        constant_value(source)
    except (NotALiteral, SyntaxError):
        return False
    return True
