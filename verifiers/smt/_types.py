"""Symbolic values: a z3 term tagged with the Python type it stands for, and annotations -> sorts.

Kinds are strings: the scalars ``int``/``float``/``bool``/``None``/``str`` and the
variable-length sequences ``list[K]`` and ``tuple[K, ...]`` of one scalar kind ``K``
(a z3 sequence).  A fixed-length ``tuple[A, B]`` is a Python tuple of values.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Union

import z3

__all__ = ["BOOL", "EMPTY", "FLOAT", "INT", "NONE", "STR", "Sym", "Unsupported", "Value", "as_int", "container_of",
           "element_kind", "fresh", "is_sequence", "kind_of", "param_kind", "sequence_kind", "shape", "sort_of"]

INT, FLOAT, BOOL, NONE, STR = "int", "float", "bool", "None", "str"
_ELEMENTS = (INT, FLOAT, BOOL, STR)
EMPTY = "?"  # the element kind of an empty list/tuple display: fits any sequence of its container


class Unsupported(Exception):
    """A construct outside the prover's subset; ``line`` is 1-based in the file when known."""

    def __init__(self, what: str, line: int | None = None) -> None:
        super().__init__(what)
        self.what, self.line = what, line

    def __str__(self) -> str:
        return f"{self.what} (line {self.line})" if self.line else self.what


@dataclass(frozen=True)
class Sym:
    """One Python value: ``kind`` names its type and ``term`` is its z3 term (None for None)."""

    kind: str
    term: Any = None


Value = Union[Sym, tuple]  # a tuple holds Values


def shape(value: Value) -> Any:
    """The type structure of a value: a kind, or a tuple of shapes."""
    if isinstance(value, tuple):
        return tuple(shape(v) for v in value)
    return value.kind


def kind_of(value: Value) -> str:
    return "tuple" if isinstance(value, tuple) else value.kind


def as_int(value: Sym) -> Any:
    """An int or bool as an int term (``True + 1 == 2``)."""
    return z3.If(value.term, z3.IntVal(1), z3.IntVal(0)) if value.kind == BOOL else value.term


def sequence_kind(container: str, element: str) -> str:
    return f"list[{element}]" if container == "list" else f"tuple[{element}, ...]"


def is_sequence(kind: Any) -> bool:
    return isinstance(kind, str) and (kind.startswith("list[") or kind.startswith("tuple["))


def element_kind(kind: str) -> str:
    return kind[5:-1] if kind.startswith("list[") else kind[6:-6]


def container_of(kind: str) -> str:
    return "list" if kind.startswith("list[") else "tuple"


def sort_of(kind: str, float_sort: Any) -> Any:
    """The z3 sort of a scalar or sequence kind."""
    if is_sequence(kind):
        return z3.SeqSort(sort_of(element_kind(kind), float_sort))
    return {INT: z3.IntSort(), BOOL: z3.BoolSort(), STR: z3.StringSort()}.get(kind, float_sort)


_ANNOTATIONS = {"int": INT, "float": FLOAT, "bool": BOOL, "str": STR}
_HINT = ("the smt subset takes parameters annotated int, float, bool, str, list[K], tuple[K, ...] or "
         "tuple[K1, K2] (K one of int, float, bool, str)")


def param_kind(annotation: ast.expr | None, name: str, line: int | None, sequences: bool = True) -> Any:
    """The kind of a parameter from its annotation (a tuple of kinds for a fixed-length tuple)."""
    shown = ast.unparse(annotation) if annotation is not None else "no annotation"
    if isinstance(annotation, ast.Name) and annotation.id in _ANNOTATIONS:
        kind = _ANNOTATIONS[annotation.id]
        if kind != STR or sequences:
            return kind
    elif sequences and isinstance(annotation, ast.Subscript) and isinstance(annotation.value, ast.Name) \
            and annotation.value.id in ("list", "tuple"):
        container, inner = annotation.value.id, annotation.slice
        items = list(inner.elts) if isinstance(inner, ast.Tuple) else [inner]
        if container == "list" and len(items) == 1 and _scalar(items[0]):
            return sequence_kind("list", _ANNOTATIONS[items[0].id])  # type: ignore[union-attr]
        if container == "tuple" and len(items) == 2 and _scalar(items[0]) and _is_ellipsis(items[1]):
            return sequence_kind("tuple", _ANNOTATIONS[items[0].id])  # type: ignore[union-attr]
        if container == "tuple" and items and all(_scalar(i) for i in items):
            return tuple(_ANNOTATIONS[i.id] for i in items)  # type: ignore[union-attr]
    hint = _HINT if sequences else "the smt subset takes parameters annotated int, float or bool"
    raise Unsupported(f"parameter {name!r} has {shown}; {hint}", line)


def _scalar(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id in _ANNOTATIONS


def _is_ellipsis(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is Ellipsis


def fresh(kind: Any, name: str, float_sort: Any) -> Value:
    """A fresh symbolic input of ``kind``."""
    if isinstance(kind, tuple):
        return tuple(fresh(k, f"{name}[{i}]", float_sort) for i, k in enumerate(kind))
    if kind == INT:
        return Sym(INT, z3.Int(name))
    if kind == BOOL:
        return Sym(BOOL, z3.Bool(name))
    if kind == FLOAT:
        return Sym(FLOAT, z3.Const(name, float_sort))
    return Sym(kind, z3.Const(name, sort_of(kind, float_sort)))
