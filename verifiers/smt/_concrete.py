"""Concrete Python values and z3 terms of the same input: a model read back as arguments, arguments as terms."""

from __future__ import annotations

from typing import Any

import z3

from verifiers.smt._floats import float_of_model
from verifiers.smt._strings import z3_text
from verifiers.smt._types import BOOL, FLOAT, INT, STR, Value, container_of, element_kind, is_sequence, sort_of

__all__ = ["bindings", "from_model", "readable"]


def _long(digits: str) -> int:
    """``int(digits)`` for any length: ``int()`` refuses more than ``sys.get_int_max_str_digits()`` digits."""
    sign, digits = (-1, digits[1:]) if digits.startswith("-") else (1, digits)
    value = 0
    for start in range(0, len(digits), 1000):
        chunk = digits[start:start + 1000]
        value = value * 10 ** len(chunk) + int(chunk)
    return sign * value


def _scalar(kind: str, term: Any) -> Any:
    """A z3 value (already evaluated in a model) as the Python value of ``kind``."""
    if kind == INT:
        return _long(term.as_string())
    if kind == BOOL:
        return z3.is_true(term)
    if kind == STR:
        return _text(term)
    raise ValueError(f"not a scalar kind: {kind}")


def _text(term: Any) -> str:
    """A concrete z3 string, read code point by code point (``as_string()`` escapes some as ``\\u{..}``)."""
    size = z3.simplify(z3.Length(term)).as_long()
    return "".join(chr(z3.simplify(z3.StrToCode(z3.SubString(term, i, 1))).as_long()) for i in range(size))


def _items(term: Any) -> list[Any]:
    """The items of a concrete z3 sequence (``seq.++`` of ``seq.unit`` s, or ``seq.empty``)."""
    term = z3.simplify(term)
    if z3.is_app_of(term, z3.Z3_OP_SEQ_EMPTY):
        return []
    if z3.is_app_of(term, z3.Z3_OP_SEQ_UNIT):
        return [term.arg(0)]
    if z3.is_app_of(term, z3.Z3_OP_SEQ_CONCAT):
        return [item for i in range(term.num_args()) for item in _items(term.arg(i))]
    raise ValueError(f"cannot read the sequence {term}")


def from_model(kind: Any, model: Any, value: Value) -> Any:
    """The Python value ``model`` gives the input ``value`` of ``kind``."""
    if isinstance(kind, tuple):
        return tuple(from_model(k, model, v) for k, v in zip(kind, value))  # type: ignore[arg-type]
    if kind == FLOAT:
        return float_of_model(model, value.term)  # type: ignore[union-attr]
    # z3 leaves some string predicates half-evaluated ("" < "ab" comes back as Not("" == "ab"))
    evaluated = z3.simplify(model.eval(value.term, model_completion=True))  # type: ignore[union-attr]
    if not is_sequence(kind):
        return _scalar(kind, evaluated)
    element = element_kind(kind)
    items = [float_of_model(model, i) if element == FLOAT else _scalar(element, i)
             for i in _items(evaluated)]
    return items if container_of(kind) == "list" else tuple(items)


def _term(kind: str, value: Any, ops: Any) -> Any:
    if kind == INT:
        return z3.IntVal(value)
    if kind == BOOL:
        return z3.BoolVal(value)
    if kind == STR:
        return z3_text(value)
    if kind == FLOAT:
        return ops.const(value)
    element = element_kind(kind)
    units = [z3.Unit(_term(element, v, ops)) for v in value]
    if not units:
        return z3.Empty(sort_of(kind, ops.sort))
    return units[0] if len(units) == 1 else z3.Concat(*units)


def bindings(kinds: list[Any], inputs: list[Value], values: list[Any], ops: Any) -> list[tuple[Any, Any]]:
    """(input term, concrete term) pairs for ``z3.substitute``."""
    pairs: list[tuple[Any, Any]] = []
    for kind, sym, value in zip(kinds, inputs, values):
        if isinstance(kind, tuple):
            pairs.extend(bindings(list(kind), list(sym), list(value), ops))  # type: ignore[arg-type]
        else:
            pairs.append((sym.term, _term(kind, value, ops)))  # type: ignore[union-attr]
    return pairs


def readable(kinds: list[Any], inputs: list[Value]) -> Any:
    """A preference for inputs a person reads easily: small ints, short printable-ASCII strings, short sequences."""
    conditions: list[Any] = []
    for kind, sym in zip(kinds, inputs):
        if isinstance(kind, tuple):
            conditions.append(readable(list(kind), list(sym)))  # type: ignore[arg-type]
        elif kind == INT:
            conditions.append(z3.And(-1000 <= sym.term, sym.term <= 1000))  # type: ignore[union-attr]
        elif kind == STR:
            printable = z3.Star(z3.Range(" ", "~"))
            conditions.append(z3.And(z3.InRe(sym.term, printable), z3.Length(sym.term) <= 40))  # type: ignore
        elif is_sequence(kind):
            conditions.append(z3.Length(sym.term) <= 16)  # type: ignore[union-attr]
    return z3.And(*conditions) if conditions else z3.BoolVal(True)
