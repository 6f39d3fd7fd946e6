"""Boundary values mined from source: the constants of both versions, their neighbours, and the triggers they imply.

Hypothesis's default distribution rarely hits ``x == hi + 1`` (measured: a clamp
mutant differing only there survived 1,000 examples in 10 of 10 runs), and never
a magic value, so the values a function compares against are collected here and
tried first.  Constants found in only one of the two versions (where a trojan's
trigger lives) come before those both share.  Beyond literals the miner records
sizes (``len`` comparands, slice and ``range`` bounds), prefixes and regex
patterns (``verifiers.pbt._mining``), and derives examples from them
(``verifiers.pbt._triggers``).
"""

from __future__ import annotations

import ast
import math
import sys
from collections.abc import Iterable

from verifiers.pbt._mining import Resolver, module_constants, shapes
from verifiers.pbt._triggers import MAX_SIZE, lengths, parsed_ints, regex_examples, unique

__all__ = ["Mined", "float_boundaries", "int_boundaries", "int_specific", "mine"]

_MAX_CONSTANTS = 64
_MAX_TEXTS = 64
_MAX_PATTERNS = 8


class Mined:
    """What the sources say about their inputs, each list in priority order (most specific first).

    ``numbers``, ``strings`` and ``blobs`` are literals; ``sizes`` are container lengths the
    code measures; ``prefixes`` are literal prefixes it checks; ``matches`` are examples of its
    regex ``patterns``; ``notes`` say what the miner chose not to build.
    """

    def __init__(self) -> None:
        self.numbers: list[int | float] = []
        self.strings: list[str] = []
        self.blobs: list[bytes] = []
        self.sizes: list[int] = []
        self.prefixes: list[str] = []
        self.patterns: list[str | bytes] = []
        self.matches: list[str | bytes] = []
        self.notes: list[str] = []

    def add(self, value: object) -> None:
        """Record a literal (tuples, lists and frozensets are entered item by item)."""
        if isinstance(value, bool):
            return
        if isinstance(value, (int, float)) and not _has(self.numbers, value):
            self.numbers.append(value)
        elif isinstance(value, str) and len(value) <= 64 and value not in self.strings:
            self.strings.append(value)
        elif isinstance(value, bytes) and len(value) <= 64 and value not in self.blobs:
            self.blobs.append(value)
        elif isinstance(value, (tuple, list, frozenset)):
            for item in value:
                self.add(item)


def _has(numbers: list[int | float], value: int | float) -> bool:
    return any(type(n) is type(value) and (n == value or n != n and value != value) for n in numbers)


def mine(sources: Iterable[str | None], module_texts: Iterable[str | None]) -> Mined:
    """Constants of the definitions in ``sources`` and of the module constants they read, with derived triggers.

    ``sources`` are old, new (and any extra definitions); ``module_texts`` the modules they
    come from, in the same order (the last one serves any extra source).
    """
    trees = [_parse(s) for s in sources]
    modules = [_parse(t) for t in module_texts] or [None]
    per_source = [_literals(tree, modules[min(i, len(modules) - 1)]) for i, tree in enumerate(trees)]
    found = _merge(per_source, compared=[m for m, t in zip(per_source[:2], trees[:2]) if t is not None])
    for i, tree in enumerate(trees):
        module = modules[min(i, len(modules) - 1)]
        resolve = Resolver(module_constants(module))
        for node in [tree, *_referenced(tree, module)] if tree is not None else ():
            _add_shapes(found, node, resolve)
    found.numbers += [n for n in parsed_ints(found.strings) if not _has(found.numbers, n)]
    found.numbers = found.numbers[:_MAX_CONSTANTS]
    found.strings, found.blobs = found.strings[:_MAX_TEXTS], found.blobs[:_MAX_TEXTS]
    found.matches = regex_examples(found.patterns[:_MAX_PATTERNS])
    skipped = lengths(found.sizes)[1]
    if skipped:
        found.notes.append(f"containers of length {', '.join(map(str, skipped[:4]))} (sizes the code measures) "
                           f"were not tried: the gate builds none longer than {MAX_SIZE} elements")
    return found


def _parse(source: str | None) -> ast.Module | None:
    if not source:
        return None
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def _literals(tree: ast.Module | None, module: ast.Module | None) -> Mined:
    found = Mined()
    if tree is None:
        return found
    resolve = Resolver(module_constants(module))
    for part in [tree, *_referenced(tree, module)]:
        for node in ast.walk(part):
            if isinstance(node, (ast.Constant, ast.UnaryOp, ast.BinOp)):
                found.add(resolve.value(node))
    return found


def _referenced(tree: ast.Module, module: ast.Module | None) -> list[ast.expr]:
    """The values of the module-level assignments to names that ``tree`` reads."""
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    values = []
    for stmt in module.body if module else ():
        target, value = _assignment(stmt)
        if target in names and value is not None:
            values.append(value)
    return values


def _merge(per_source: list[Mined], compared: list[Mined]) -> Mined:
    """All literals, those missing from one of the ``compared`` versions first."""
    merged = Mined()
    for name in ("numbers", "strings", "blobs"):
        every = unique(v for m in per_source for v in getattr(m, name))
        keys = [{(type(v), repr(v)) for v in getattr(m, name)} for m in compared]
        shared = [v for v in every if len(keys) == 2 and all((type(v), repr(v)) in k for k in keys)]
        distinct = [v for v in every if not any(v is s for s in shared)]
        setattr(merged, name, distinct + shared)
    return merged


def _add_shapes(found: Mined, tree: ast.AST, resolve: Resolver) -> None:
    shape = shapes(tree, resolve)
    for mine_list, values in ((found.sizes, shape.sizes), (found.prefixes, shape.prefixes),
                              (found.patterns, shape.patterns)):
        mine_list += [v for v in values if v not in mine_list]


def _assignment(stmt: ast.stmt) -> tuple[str | None, ast.expr | None]:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        return stmt.targets[0].id, stmt.value
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return stmt.target.id, stmt.value
    return None, None


def int_specific(mined: Mined) -> list[int]:
    """The mined integers themselves (floats' floor and ceiling), most specific first, without neighbours."""
    out: list[int] = []
    for number in mined.numbers:
        if isinstance(number, float):
            if math.isfinite(number):
                out += [math.floor(number), math.ceil(number)]
        else:
            out.append(number)
    return unique(out)


def int_boundaries(mined: Mined) -> list[int]:
    """0, ±1, and every mined number (ints for floats) with its negation, each ±1."""
    out: list[int] = [0, 1, -1]
    for base in int_specific(mined):
        for value in (base, base - 1, base + 1, -base, -base - 1, -base + 1):
            if value not in out:
                out.append(value)
    return out


def float_boundaries(mined: Mined) -> list[float]:
    """Specials (±0.0, ±1, NaN, ±inf, extremes) and every mined number with its float neighbours."""
    out: list[float] = [0.0, -0.0, 1.0, -1.0, math.nan, math.inf, -math.inf,
                        sys.float_info.max, -sys.float_info.max, 5e-324, sys.float_info.min]
    for number in mined.numbers:
        try:
            base = float(number)
        except OverflowError:
            continue
        for value in (base, math.nextafter(base, -math.inf), math.nextafter(base, math.inf), -base):
            if not any(math.copysign(1, v) == math.copysign(1, value) and (v == value or v != v and value != value)
                       for v in out):
                out.append(value)
    return out
