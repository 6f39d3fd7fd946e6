"""Symbolic values: a z3 term tagged with the Python type it stands for, and annotations -> sorts."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Union

import z3

__all__ = ["BOOL", "FLOAT", "INT", "NONE", "Sym", "Unsupported", "Value", "kind_of", "param_kind", "shape"]

INT, FLOAT, BOOL, NONE = "int", "float", "bool", "None"


class Unsupported(Exception):
    """A construct outside the prover's subset; ``line`` is 1-based in the file when known."""

    def __init__(self, what: str, line: int | None = None) -> None:
        super().__init__(what)
        self.what, self.line = what, line

    def __str__(self) -> str:
        return f"{self.what} (line {self.line})" if self.line else self.what


@dataclass(frozen=True)
class Sym:
    """One Python scalar: ``kind`` is int/float/bool/None and ``term`` its z3 term (None for None)."""

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


_ANNOTATIONS = {"int": INT, "float": FLOAT, "bool": BOOL}


def param_kind(annotation: ast.expr | None, name: str, line: int | None) -> str:
    """The kind of a parameter from its annotation; only ``int``, ``float`` and ``bool`` are in the subset."""
    if isinstance(annotation, ast.Name) and annotation.id in _ANNOTATIONS:
        return _ANNOTATIONS[annotation.id]
    shown = ast.unparse(annotation) if annotation is not None else "no annotation"
    raise Unsupported(f"parameter {name!r} has {shown}; the smt subset takes parameters annotated "
                      "int, float or bool", line)


def fresh(kind: str, name: str, float_sort: Any) -> Sym:
    """A fresh symbolic input of ``kind``."""
    if kind == INT:
        return Sym(INT, z3.Int(name))
    if kind == BOOL:
        return Sym(BOOL, z3.Bool(name))
    return Sym(FLOAT, z3.Const(name, float_sort))
