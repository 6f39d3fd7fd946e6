"""Thresholds a kernel compares its inputs against, mined from its source.

A kernel that looks at its own input (``if x.numel() > 70000: ...``) decides which
version a fixed set of shapes sees.  Both the old and the new definition are read
with ``ast`` (never imported) for comparisons of a tensor parameter -- directly or
through local aliases (``n = x.shape[-1]``, ``b, s, d = x.shape``, ``dt = x.dtype``),
module-level constants (``LIMIT = 4096``, ``LOW = (torch.half, torch.bfloat16)``),
arithmetic with constants (``n // 2 >= 2048``, ``x.numel() * 4 > 2 ** 20``) and the
module's top-level helpers the kernel calls (parameters bound to the call's arguments, up
to four calls deep; a patch's new helper is where a trigger would hide) -- with a constant:

* sizes: ``x.numel()``, ``x.nelement()``, ``math.prod(x.shape)``, ``x.size`` (jax),
  ``x.shape[i]``, ``x.size(i)``, ``x.size()[i]``, ``len(x)``, ``x.shape[-1] in (...)``;
  rank: ``x.dim()``, ``x.ndim``, ``len(x.shape)``; whole shapes: ``x.shape == (4, 64)``,
  ``tuple(x.shape[-2:]) != (64, 64)``.  Cases at the sizes just below, at and just above
  the constant (after inverting the arithmetic), other dims small (``(2, 4096)``), the
  rank the kernel unpacks the shape into, jaxtyping dims pinned so that every
  parameter sharing a dim agrees.
* dtype: ``x.dtype == torch.bfloat16`` (``in``, ``is``, ``!=``), ``x.element_size()``,
  ``x.dtype.itemsize``, ``torch.finfo(x.dtype).eps``/``bits``/...: the float dtypes on
  the other side from float32, which the plan runs every case at (``Plan.extra_dtypes``).
* layout: any ``x.is_contiguous()`` or ``x.stride()``: a contiguous and a transposed case.
* magnitude: a statistic of the data (``x.norm()``, ``torch.linalg.norm(x)``,
  ``x.abs().max()``, ``x.amax(-1)``, ``x.sum()``, ``x.mean()``, ``x.std()``, powers,
  per-row forms with ``dim``, elementwise ``x.abs() > 500``), evaluated with numpy
  (``_threshold_stats._Stat``): the parameter is scaled so that the statistic (its
  largest row) lands 1% below, at and 1% above the constant.  A sign test (``x.sum() > 0``) is no threshold
  scaling can cross; the default cases have both signs.

This module walks a definition and turns each comparison it reads into a ``Threshold``;
``_threshold_reads`` reads what one side of a comparison is (a size, a dtype fact, a
constant), ``_threshold_stats`` evaluates the statistics, and ``_threshold_cases`` builds
the cases on both sides.
"""

from __future__ import annotations

import ast
import math
import textwrap
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from verifiers.numeric._annotations import dotted as _dotted
from verifiers.numeric._inputs import Param, Unsupported
from verifiers.numeric._threshold_reads import (_DTYPE_FACTS, _TEST, _arithmetic, _base, _const, _crossings,
                                                _dtype_name, _dtype_property, _forward, _index, _shape_of)
from verifiers.numeric._threshold_stats import _Stat

__all__ = ["Threshold", "Unreachable", "mine"]

_FLIP = {ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE, ast.GtE: ast.LtE}


class Unreachable(Unsupported):
    """A mined threshold no generated input can reach; ``threshold`` says which (the obligation is UNKNOWN)."""

    def __init__(self, threshold: Threshold, why: str, fix: str = "state inputs with make_inputs") -> None:
        self.threshold = threshold
        super().__init__(f"the branch on {threshold.text} at line {threshold.line} ({threshold.version} kernel) "
                         f"{why}; {fix}")


@dataclass(frozen=True, slots=True)
class Threshold:
    """One comparison of a parameter with a constant.

    ``values`` are the sizes or ranks to try (the compared shape for ``"shape"``, whose
    ``axis`` is the start of a trailing slice); ``dtypes`` the dtypes on the far side;
    ``statistic`` and ``bound`` the magnitude compared.
    """

    param: str
    kind: str  # "numel", "rank", "dim", "shape", "dtype", "layout", "magnitude"
    text: str  # as written, aliases resolved: "x.shape[-1] >= 4096"
    line: int
    version: str  # "old", "new" or "old and new"
    axis: int | None = None
    values: tuple[int, ...] = ()
    dtypes: tuple[str, ...] = ()
    statistic: str = ""
    bound: float = 0.0
    op: str = ""
    ops: tuple[tuple[type, float, bool], ...] = ()  # sizes: the arithmetic between the size and the comparison
    framework: str = "torch"
    rank: int | None = None  # the rank the kernel unpacks the parameter's shape into (``b, s, d = x.shape``)

    def taken(self, size: int) -> bool | None:
        """Whether the comparison holds at ``size`` (sizes and ranks), None where it cannot be evaluated."""
        value = _forward(list(self.ops), size)
        return None if value is None else bool(_TEST[getattr(ast, self.op)](value, self.bound))

    def describe(self) -> str:
        """``threshold x.shape[-1] >= 4096 (line 3, new kernel)``: how reports name it."""
        return f"threshold {self.text} (line {self.line}, {self.version} kernel)"

    def key(self) -> tuple[Any, ...]:
        return (self.param, self.kind, self.axis, self.values, self.dtypes, self.statistic, self.bound, self.op,
                self.ops)


def mine(source: str, params: list[Param], version: str, module_text: str = "", first_line: int = 1,
         framework: str = "torch") -> list[Threshold]:
    """The thresholds one definition compares its tensor parameters against (see the module docstring)."""
    tree = ast.parse(textwrap.dedent(source))
    node = next(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
    names = {p.name for p in params if p.kind != "default"}
    constants, bindings = _module_bindings(module_text)
    miner = _Miner(names, constants, version, first_line - 1, framework)
    miner.env.update(bindings)
    miner.bindings, miner.helpers = bindings, _helpers(module_text)
    miner.stack = {node.name}
    for statement in node.body:
        miner.visit(statement)
    return [replace(t, rank=miner.ranks.get(t.param)) for t in miner.found]


def _helpers(text: str) -> dict[str, ast.FunctionDef]:
    """The module's top-level functions: a kernel's comparisons may sit in a helper it calls (a patch's new one)."""
    try:
        body = ast.parse(text).body if text else []
    except SyntaxError:
        return {}
    return {n.name: n for n in body if isinstance(n, ast.FunctionDef)}


def _module_bindings(text: str) -> tuple[dict[str, float], dict[str, ast.expr]]:
    """Module-level names bound to numeric constants, and to dtypes or tuples of dtypes (``LOW = (torch.half,)``)."""
    try:
        body = ast.parse(text).body if text else []
    except SyntaxError:
        return {}, {}
    found: dict[str, float] = {}
    dtypes: dict[str, ast.expr] = {}
    for stmt in body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            value = _const(stmt.value, found)
            options = stmt.value.elts if isinstance(stmt.value, (ast.Tuple, ast.List, ast.Set)) else [stmt.value]
            if value is not None:
                found[stmt.targets[0].id] = value
            elif options and all(_dtype_name(o) for o in options):
                dtypes[stmt.targets[0].id] = stmt.value
    return found, dtypes


class _Substitute(ast.NodeTransformer):
    def __init__(self, env: dict[str, ast.expr]) -> None:
        self.env = env

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return _copy(self.env[node.id]) if node.id in self.env else node

    def visit_NamedExpr(self, node: ast.NamedExpr) -> ast.expr:
        return self.visit(node.value)  # ``(n := x.shape[-1]) > 4096`` compares what it binds


def _copy(node: ast.expr) -> ast.expr:
    return ast.parse(ast.unparse(node), mode="eval").body


class _Miner(ast.NodeVisitor):
    """Walks a definition in source order, resolving aliases, collecting each comparison it can read."""

    def __init__(self, params: set[str], constants: dict[str, float], version: str, offset: int,
                 framework: str) -> None:
        self.params, self.constants, self.version, self.offset = params, dict(constants), version, offset
        self.framework = framework
        self.env: dict[str, ast.expr] = {}
        self.found: list[Threshold] = []
        self.layouts: set[str] = set()
        self.ranks: dict[str, int] = {}
        self.bindings: dict[str, ast.expr] = {}
        self.helpers: dict[str, ast.FunctionDef] = {}
        self.stack: set[str] = set()

    def _resolve(self, node: ast.expr) -> ast.expr:
        return _Substitute(self.env).visit(_copy(node))

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        value = self._resolve(node.value)
        for target in node.targets:
            self._bind(target, value)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self._bind(node.target, self._resolve(node.value))

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
            self._bind(node.target, self._resolve(node.value))

    def _bind(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Name):
            constant = _const(value, self.constants)
            self.env[target.id] = ast.Constant(constant) if constant is not None else value
        elif isinstance(target, (ast.Tuple, ast.List)):
            star = next((i for i, e in enumerate(target.elts) if isinstance(e, ast.Starred)), None)
            unpacked = _shape_of(value, self.params)
            if unpacked is not None and star is None:
                self.ranks.setdefault(unpacked, len(target.elts))
            for index, element in enumerate(target.elts):
                if isinstance(element, ast.Name):
                    at = index if star is None or index < star else index - len(target.elts)
                    self.env[element.id] = ast.Subscript(value, ast.Constant(at), ast.Load())
        # anything else (attributes, subscripts) binds nothing the miner follows

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in ("is_contiguous", "stride"):
            param = _base(self._resolve(func.value), self.params)
            if param is not None and param not in self.layouts:
                self.layouts.add(param)
                self._add(Threshold(param, "layout", ast.unparse(self._resolve(node)), node.lineno + self.offset,
                                    self.version))
        if isinstance(func, ast.Name) and func.id in self.helpers and func.id not in self.stack and len(self.stack) < 4:
            self._follow(self.helpers[func.id], node)
        self.generic_visit(node)

    def _follow(self, helper: ast.FunctionDef, call: ast.Call) -> None:
        """Mine a module-level helper the kernel calls, its parameters bound to the call's arguments."""
        # Offset 0: the helper was parsed from the whole module, so its lines are already the file's.
        inner = _Miner(self.params, self.constants, self.version, 0, self.framework)
        inner.bindings, inner.helpers, inner.stack = self.bindings, self.helpers, self.stack | {helper.name}
        inner.env.update(self.bindings)
        positional = [a.arg for a in helper.args.posonlyargs + helper.args.args]
        unbound = ast.Name("_unbound_", ast.Load())  # a helper's own name never means the kernel's parameter
        for name in positional + [a.arg for a in helper.args.kwonlyargs]:
            inner.env[name] = unbound
        for name, arg in zip(positional, call.args):
            if isinstance(arg, ast.Starred):
                break
            inner.env[name] = self._resolve(arg)
        inner.env.update({k.arg: self._resolve(k.value) for k in call.keywords if k.arg is not None})
        for statement in helper.body:
            inner.visit(statement)
        for threshold in inner.found:
            self._add(threshold)
        for param, rank in inner.ranks.items():
            self.ranks.setdefault(param, rank)

    def visit_Compare(self, node: ast.Compare) -> None:
        self.generic_visit(node)
        sides = [self._resolve(e) for e in [node.left, *node.comparators]]
        for left, op, right in zip(sides, node.ops, sides[1:]):
            text = f"{ast.unparse(left)} {_symbol(op)} {ast.unparse(right)}"
            for found in self._read(left, op, right):
                self._add(replace(found, text=text, line=node.lineno + self.offset, version=self.version))

    def _read(self, left: ast.expr, op: ast.cmpop, right: ast.expr) -> list[Threshold]:
        if isinstance(op, (ast.In, ast.NotIn)) and isinstance(right, (ast.Tuple, ast.List, ast.Set)):
            # ``x.shape[-1] in (4096, 8192)``: a size equal to any of them
            sizes = [self._size(left, ast.Eq(), e) for e in right.elts]
            if sizes and None not in sizes:
                return sizes  # type: ignore[return-value]
        found = (_dtype(left, right, op, self.params) or _dtype(right, left, op, self.params)
                 or self._dtype_property(left, op, right) or self._dtype_property(right, _flip(op), left)
                 or _shape(left, op, right, self.params) or _shape(right, op, left, self.params)
                 or self._size(left, op, right) or self._size(right, _flip(op), left)
                 or self._magnitude(left, op, right) or self._magnitude(right, _flip(op), left))
        return [found] if found is not None else []

    def _dtype_property(self, quantity: ast.expr, op: ast.cmpop, other: ast.expr) -> Threshold | None:
        """``x.element_size() == 2``, ``torch.finfo(x.dtype).eps > 1e-3``: the float dtypes on the other side."""
        bound, read = _const(other, self.constants), _dtype_property(quantity, self.params)
        if bound is None or read is None or type(op) not in _TEST:
            return None
        param, prop = read
        test = _TEST[type(op)]
        outcome = {name: bool(test(values[prop], bound)) for name, values in _DTYPE_FACTS.items()}
        other_side = tuple(n for n, taken in outcome.items() if taken != outcome["float32"])
        return Threshold(param, "dtype", "", 0, "", dtypes=other_side) if other_side else None

    def _add(self, threshold: Threshold) -> None:
        if all(t.key() != threshold.key() for t in self.found):
            self.found.append(threshold)

    def _size(self, quantity: ast.expr, op: ast.cmpop, other: ast.expr) -> Threshold | None:
        bound = _const(other, self.constants)
        read = _arithmetic(quantity, self.params, self.constants)
        if bound is None or read is None or type(op) not in _TEST:
            return None
        (param, kind, axis), ops = read
        values = _crossings(ops, bound, op)
        return Threshold(param, kind, "", 0, "", axis=axis, values=values, bound=float(bound), op=type(op).__name__,
                         ops=tuple(ops)) if values else None

    def _magnitude(self, quantity: ast.expr, op: ast.cmpop, other: ast.expr) -> Threshold | None:
        bound = _const(other, self.constants)
        if bound is None or type(op) not in _TEST or not math.isfinite(bound):
            return None
        for param in sorted(self.params):
            probe = np.linspace(0.5, 1.5, 24).reshape(2, 3, 4)
            first = _Stat(param, self.framework).value(quantity, probe)
            if first is None:
                continue
            second = _Stat(param, self.framework).value(quantity, 2.0 * probe)
            if second is not None and not np.array_equal(np.asarray(first), np.asarray(second)):
                return Threshold(param, "magnitude", "", 0, "", statistic=ast.unparse(quantity), bound=float(bound),
                                 op=type(op).__name__, framework=self.framework)
        return None


def _symbol(op: ast.cmpop) -> str:
    return {ast.Lt: "<", ast.Gt: ">", ast.LtE: "<=", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=", ast.In: "in",
            ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not"}[type(op)]


def _flip(op: ast.cmpop) -> ast.cmpop:
    return _FLIP[type(op)]() if type(op) in _FLIP else op


def _dtype(side: ast.expr, other: ast.expr, op: ast.cmpop, params: set[str]) -> Threshold | None:
    if not (isinstance(side, ast.Attribute) and side.attr == "dtype"):
        return None
    param = _base(side.value, params)
    options = other.elts if isinstance(other, (ast.Tuple, ast.List, ast.Set)) else [other]
    names = [_dtype_name(o) for o in options]
    if param is None or not names or None in names:
        return None
    return Threshold(param, "dtype", "", 0, "", dtypes=tuple(dict.fromkeys(n for n in names if n)))


def _shape(side: ast.expr, op: ast.cmpop, other: ast.expr, params: set[str]) -> Threshold | None:
    """``x.shape == (4, 4096)``, ``tuple(x.shape[-2:]) != (64, 64)``: a whole shape or its trailing dims."""
    if not isinstance(op, (ast.Eq, ast.NotEq)) or not isinstance(other, (ast.Tuple, ast.List)):
        return None
    sizes = [_index(e) for e in other.elts]
    if isinstance(side, ast.Call) and _dotted(side.func) in ("tuple", "list") and len(side.args) == 1:
        side = side.args[0]
    start = None
    if isinstance(side, ast.Subscript) and isinstance(side.slice, ast.Slice) and side.slice.upper is None \
            and side.slice.step is None and side.slice.lower is not None:
        start, side = _index(side.slice.lower), side.value
        if start is None or start >= 0 or -start != len(sizes):
            return None  # only trailing slices, of the compared length
    param = _shape_of(side, params)
    if param is None or None in sizes or any(s < 0 for s in sizes):  # type: ignore[operator]
        return None
    compared = tuple(int(s) for s in sizes)  # type: ignore[arg-type]
    return Threshold(param, "shape", "", 0, "", axis=start, values=compared, op=type(op).__name__)
