"""Strings and variable-length lists/tuples as z3 sequences: length, indexing, slicing, ``+``, ``in``, ``==``.

A ``str`` is a z3 string (a sequence of code points); ``list[K]`` and ``tuple[K, ...]``
are z3 sequences of ``K``.  Slices follow Python: negative bounds count from the end,
then clamp to ``0..len``; only step 1 is encoded.  An empty display (``[]``, ``()``) has
no element sort until it meets another value, so it carries the element kind ``EMPTY``
and ``unify`` gives it one.  A fixed-length Python tuple of one element kind meeting a
sequence becomes that sequence.
"""

from __future__ import annotations

from typing import Any

import z3

from verifiers.smt._types import (
    BOOL, EMPTY, FLOAT, INT, NONE, STR, Sym, Unsupported, Value, container_of, element_kind, is_sequence, sequence_kind,
    shape, sort_of,
)

__all__ = ["concat", "contains", "display", "equal", "index", "is_text", "length", "slice_", "unify"]


def is_text(value: Value) -> bool:
    """A ``str`` or a variable-length sequence: the values this module operates on."""
    return isinstance(value, Sym) and (value.kind == STR or is_sequence(value.kind))


def _empty(value: Sym) -> bool:
    return is_sequence(value.kind) and element_kind(value.kind) == EMPTY


def length(value: Sym) -> Any:
    return z3.IntVal(0) if _empty(value) else z3.Length(value.term)


def display(container: str, items: list[Value], float_sort: Any, line: int | None) -> Sym:
    """``[a, b]`` (or a tuple of one element kind) as a sequence."""
    if not items:
        return Sym(sequence_kind(container, EMPTY))
    kinds = {shape(i) for i in items}
    if len(kinds) != 1 or next(iter(kinds)) not in (INT, FLOAT, BOOL, STR):
        raise Unsupported(f"a {container} of items of types {sorted(map(str, kinds))}; the smt subset takes "
                          "sequences of one scalar type (int, float, bool or str)", line)
    units = [z3.Unit(i.term) for i in items]  # type: ignore[union-attr]
    term = units[0] if len(units) == 1 else z3.Concat(*units)
    return Sym(sequence_kind(container, items[0].kind), term)  # type: ignore[union-attr]


def _as_sequence(value: Value, like: Sym, float_sort: Any) -> Sym | None:
    """``value`` as a sequence of the same kind as ``like``, if it is one (or can become one)."""
    if isinstance(value, tuple):
        if container_of(like.kind) != "tuple":
            return None
        value = display("tuple", list(value), float_sort, None) if not value or _homogeneous(value) else None
        if value is None:
            return None
    if not isinstance(value, Sym) or not is_sequence(value.kind) or container_of(value.kind) != container_of(like.kind):
        return None
    if value.kind == like.kind or _empty(like):
        return value
    if _empty(value):
        return Sym(like.kind, z3.Empty(sort_of(like.kind, float_sort)))
    return None


def _homogeneous(items: tuple) -> bool:
    kinds = {shape(i) for i in items}
    return len(kinds) == 1 and next(iter(kinds)) in (INT, FLOAT, BOOL, STR)


def unify(a: Value, b: Value, float_sort: Any) -> tuple[Value, Value] | None:
    """``a`` and ``b`` as values of one kind when that is how Python sees them, else None."""
    if shape(a) == shape(b):
        return a, b
    if isinstance(b, Sym) and is_sequence(b.kind):
        x = _as_sequence(a, b, float_sort)
        if x is not None:
            y = _as_sequence(b, x, float_sort)
            return (x, y) if y is not None else None
    if isinstance(a, Sym) and is_sequence(a.kind):
        y = _as_sequence(b, a, float_sort)
        if y is not None:
            x = _as_sequence(a, y, float_sort)
            return (x, y) if x is not None else None
    return None


def index(value: Sym, position: Any) -> tuple[Any, Value]:
    """``value[position]``: (the condition under which it raises ``IndexError``, the item)."""
    n = length(value)
    at = z3.If(position < 0, position + n, position)
    out = z3.Or(at < 0, at >= n)
    if _empty(value):
        return z3.BoolVal(True), Sym(NONE)  # never used: every index raises
    if value.kind == STR:
        return out, Sym(STR, z3.SubString(value.term, at, 1))
    return out, Sym(element_kind(value.kind), value.term[at])


def _clamp(bound: Any, n: Any, default: Any) -> Any:
    if bound is None:
        return default
    shifted = z3.If(bound < 0, bound + n, bound)
    return z3.If(shifted < 0, 0, z3.If(shifted > n, n, shifted))


def slice_(value: Sym, lower: Any, upper: Any) -> Sym:
    """``value[lower:upper]`` (either bound may be None)."""
    if _empty(value):
        return value
    n = length(value)
    start, stop = _clamp(lower, n, z3.IntVal(0)), _clamp(upper, n, n)
    size = z3.If(stop > start, stop - start, 0)
    cut = z3.SubString if value.kind == STR else z3.Extract
    return Sym(value.kind, cut(value.term, start, size))


def concat(a: Value, b: Value, float_sort: Any, line: int | None) -> Sym:
    pair = unify(a, b, float_sort)
    if pair is None or not is_text(pair[0]):
        raise Unsupported(f"`+` on {shape(a)} and {shape(b)} (a TypeError in Python, or mixed element types)", line)
    x, y = pair
    if _empty(x):  # type: ignore[arg-type]
        return y  # type: ignore[return-value]
    if _empty(y):  # type: ignore[arg-type]
        return x  # type: ignore[return-value]
    return Sym(x.kind, z3.Concat(x.term, y.term))  # type: ignore[union-attr]


def contains(item: Value, container: Sym, line: int | None) -> Any:
    """``item in container``."""
    if container.kind == STR:
        if not (isinstance(item, Sym) and item.kind == STR):
            raise Unsupported(f"`in` with a {shape(item)} on the left of a str (a TypeError in Python)", line)
        return z3.Contains(container.term, item.term)
    if _empty(container):
        return z3.BoolVal(False)
    element = element_kind(container.kind)
    if element == FLOAT:
        raise Unsupported("`in` on a sequence of floats (Python compares by identity first, so NaN is found)", line)
    if not isinstance(item, Sym) or item.kind != element:
        raise Unsupported(f"`in` looking for a {shape(item)} in a {container.kind}", line)
    return z3.Contains(container.term, z3.Unit(item.term))


def equal(a: Value, b: Value, float_sort: Any, line: int | None) -> Any:
    """``a == b`` where one side is a str or sequence (values of other types are never equal to it)."""
    pair = unify(a, b, float_sort)
    if pair is None:
        if all(isinstance(v, Sym) and v.kind in (STR, INT, BOOL, FLOAT, NONE) for v in (a, b)):
            return z3.BoolVal(False)  # "a" == 1 is False, never an error
        raise Unsupported(f"`==` between {shape(a)} and {shape(b)}", line)
    x, y = pair
    if isinstance(x, Sym) and is_sequence(x.kind) and element_kind(x.kind) == FLOAT:
        raise Unsupported("`==` on sequences of floats (Python compares items by identity first)", line)
    if _empty(x) or _empty(y):  # type: ignore[arg-type]
        return length(x) == length(y)  # type: ignore[arg-type]
    return x.term == y.term  # type: ignore[union-attr]
