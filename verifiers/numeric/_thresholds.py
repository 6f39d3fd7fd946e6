"""Thresholds a kernel compares its inputs against, mined from its source, and cases on both sides of each.

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
  per-row forms with ``dim``, elementwise ``x.abs() > 500``), evaluated here with numpy
  (``_Stat``): the parameter is scaled so that the statistic (its largest row) lands 1%
  below, at and 1% above the constant.  A sign test (``x.sum() > 0``) is no threshold
  scaling can cross; the default cases have both signs.

A threshold past what a worker holds (``MAX_ELEMENTS`` per tensor, ``MAX_RANK``) or of a
kind the generator cannot make (an integer dtype for a float parameter) raises
``Unreachable``, an ``Unsupported``: the obligation is UNKNOWN with the branch and its line.
A rank or shape that a parameter's jaxtyping annotation excludes is outside the declared
domain and is not generated.

With a ``make_inputs``, the user's first case is the base: a size, rank or shape threshold
its cases do not already fall on both sides of gets that case with the parameter resized
(random normal values; the other inputs kept, so a resized case the old kernel rejects is
skipped like any case outside its domain); magnitude thresholds scale the parameter in
that case; layout is covered by its transposed variant; float dtypes are added as without
it.  Only float parameters are resized or scaled.
"""

from __future__ import annotations

import ast
import math
import textwrap
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from verifiers.numeric._annotations import dotted as _dotted
from verifiers.numeric._inputs import Case, Param, Unsupported, build

__all__ = ["MAX_CASES", "MAX_ELEMENTS", "MAX_RANK", "Threshold", "Unreachable", "extra_dtypes", "mine", "report",
           "threshold_cases"]

MAX_ELEMENTS = 1 << 21  # per tensor: 16 MiB of float64, several copies of which a worker holds at once
MAX_RANK = 16
MAX_CASES = 60
_DELTA = 0.01  # magnitudes: far enough from the constant that rounding to bfloat16 (0.4%) keeps the side
_FLOATS = {"float16": "float16", "half": "float16", "bfloat16": "bfloat16", "float32": "float32",
           "float": "float32", "float64": "float64", "double": "float64"}
_OTHER_DTYPES = frozenset({"int8", "int16", "int32", "int64", "uint8", "long", "int", "short", "bool",
                           "complex64", "complex128", "cfloat", "cdouble", "float8_e4m3fn", "float8_e5m2"})
_DTYPE_MODULES = frozenset({"torch", "jnp", "jax.numpy", "np", "numpy"})
_SAME_SHAPE = frozenset({"float", "double", "half", "bfloat16", "to", "detach", "contiguous", "clone", "cpu",
                         "abs", "neg", "square", "sqrt", "exp", "type", "type_as", "astype", "data", "mT"})
_FLIP = {ast.Lt: ast.Gt, ast.Gt: ast.Lt, ast.LtE: ast.GtE, ast.GtE: ast.LtE}
_TEST = {ast.Lt: lambda a, b: a < b, ast.Gt: lambda a, b: a > b, ast.LtE: lambda a, b: a <= b,
         ast.GtE: lambda a, b: a >= b, ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b}
_ARITH = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
          ast.Div: lambda a, b: a / b, ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b,
          ast.Pow: lambda a, b: a ** b, ast.LShift: lambda a, b: a << b, ast.RShift: lambda a, b: a >> b}


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


# -- mining ------------------------------------------------------------------------------------------


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


def _const(node: ast.expr, names: dict[str, float]) -> float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _const(node.operand, names)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("int", "float") \
            and len(node.args) == 1 and not node.keywords:
        inner = _const(node.args[0], names)
        return None if inner is None else (int(inner) if node.func.id == "int" else float(inner))
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
        left, right = _const(node.left, names), _const(node.right, names)
        if left is None or right is None or (isinstance(node.op, ast.Pow) and abs(right) > 128):
            return None
        try:
            return _ARITH[type(node.op)](left, right)
        except (ArithmeticError, TypeError, ValueError):
            return None
    return None


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


def _base(node: ast.expr, params: set[str]) -> str | None:
    """The parameter ``node`` is, through shape-preserving methods (``x.float().detach()``), else None."""
    while True:
        if isinstance(node, ast.Name):
            return node.id if node.id in params else None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _SAME_SHAPE:
            node = node.func.value
        elif isinstance(node, ast.Attribute) and node.attr in ("data", "mT"):
            node = node.value
        else:
            return None


def _shape_of(node: ast.expr, params: set[str]) -> str | None:
    """``x.shape`` or ``x.size()``: the parameter, else None."""
    if isinstance(node, ast.Attribute) and node.attr == "shape":
        return _base(node.value, params)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.args and not node.keywords:
        if node.func.attr == "size":
            return _base(node.func.value, params)
        if _dotted(node.func) in ("jnp.shape", "np.shape", "numpy.shape") and len(node.args) == 1:
            return _base(node.args[0], params)
    return None


def _index(node: ast.expr) -> int | None:
    value = _const(node, {})
    return value if isinstance(value, int) else None


def _read_size(node: ast.expr, params: set[str]) -> tuple[str, str, int | None] | None:
    """(parameter, kind, axis) of a size expression: numel, rank or one dim."""
    if isinstance(node, ast.Subscript):
        param, axis = _shape_of(node.value, params), _index(node.slice)
        if param is None and axis in (0, -1) and isinstance(node.value, ast.Attribute) and node.value.attr == "shape":
            flat = _flattened(node.value.value, params)  # x.reshape(-1).shape[0]: the element count
            return (flat, "numel", None) if flat is not None else None
        return (param, "dim", axis) if param is not None and axis is not None else None
    if isinstance(node, ast.Attribute):
        if node.attr in ("ndim", "size"):
            param = _base(node.value, params)
            return (param, "rank" if node.attr == "ndim" else "numel", None) if param is not None else None
        return None
    if not isinstance(node, ast.Call):
        return None
    func, args = node.func, node.args
    dotted = _dotted(func)
    if dotted == "len" and len(args) == 1:
        param = _shape_of(args[0], params)
        if param is not None:
            return (param, "rank", None)
        if _flattened(args[0], params) is not None:
            return (_flattened(args[0], params), "numel", None)  # type: ignore[return-value]
        param = _base(args[0], params)
        return (param, "dim", 0) if param is not None else None
    if dotted in ("math.prod", "np.prod", "numpy.prod") and len(args) == 1:
        param = _shape_of(args[0], params)
        return (param, "numel", None) if param is not None else None
    if dotted in ("torch.numel", "jnp.size", "np.size") and len(args) == 1 and _base(args[0], params):
        return (_base(args[0], params), "numel", None)  # type: ignore[return-value]
    if dotted in ("jnp.ndim", "np.ndim") and len(args) == 1 and _base(args[0], params):
        return (_base(args[0], params), "rank", None)  # type: ignore[return-value]
    if not isinstance(func, ast.Attribute):
        return None
    if func.attr == "numel" and not args and _shape_of(func.value, params):
        return (_shape_of(func.value, params), "numel", None)  # type: ignore[return-value]
    param = _base(func.value, params)
    if param is None:
        return None
    if func.attr in ("numel", "nelement") and not args:
        return (param, "numel", None)
    if func.attr in ("dim", "ndimension") and not args:
        return (param, "rank", None)
    if func.attr == "size":
        axis = [_index(a) for a in args] + [_index(k.value) for k in node.keywords if k.arg == "dim"]
        return (param, "dim", axis[0]) if len(axis) == 1 and axis[0] is not None else None
    return None


def _flattened(node: ast.expr, params: set[str]) -> str | None:
    """The parameter of ``x.reshape(-1)``, ``x.view(-1)``, ``x.flatten()``, ``x.ravel()``, else None."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.keywords):
        return None
    flat = node.func.attr in ("flatten", "ravel") and not node.args
    flat = flat or (node.func.attr in ("reshape", "view") and [_index(a) for a in node.args] == [-1])
    return _base(node.func.value, params) if flat else None


_Op = tuple[type, float, bool]  # (operator, constant, constant on the left)


def _arithmetic(node: ast.expr, params: set[str], constants: dict[str, float]
                ) -> tuple[tuple[str, str, int | None], list[_Op]] | None:
    """A size expression under arithmetic with constants, and the operations from the outside in."""
    ops: list[_Op] = []
    while True:
        size = _read_size(node, params)
        if size is not None:
            return size, ops
        if isinstance(node, ast.Call) and _dotted(node.func) in ("int", "float") and len(node.args) == 1:
            node = node.args[0]
        elif isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
            right, left = _const(node.right, constants), _const(node.left, constants)
            if right is not None:
                ops.append((type(node.op), right, False))
                node = node.left
            elif left is not None and type(node.op) in (ast.Add, ast.Mult):
                ops.append((type(node.op), left, True))
                node = node.right
            else:
                return None
        else:
            return None


def _forward(ops: list[_Op], value: int) -> float | None:
    result: float = value
    try:
        for op, constant, left in reversed(ops):
            result = _ARITH[op](constant, result) if left else _ARITH[op](result, constant)
    except (ArithmeticError, TypeError, ValueError):
        return None
    return result


def _inverse(op: type, constant: float, target: float) -> list[float]:
    """Values before ``op`` that land on or next to ``target`` after it."""
    if op is ast.Add:
        return [target - constant]
    if op is ast.Sub:
        return [target + constant]
    if op in (ast.Mult, ast.Div) and constant:
        base = target / constant if op is ast.Mult else target * constant
        return [math.floor(base), math.ceil(base)]
    if op is ast.FloorDiv and constant > 0:
        return [target * constant, target * constant + constant - 1]
    if op is ast.Mod and constant > 0:
        return [target + constant * j for j in (0, 1, 2) if target + constant * j > 0]
    if op is ast.Pow and constant > 0 and target > 0:
        root = target ** (1.0 / constant)
        return [math.floor(root), math.ceil(root)]
    if op is ast.LShift and 0 <= constant < 64:
        return [int(target) >> int(constant), (int(target) >> int(constant)) + 1]
    if op is ast.RShift and 0 <= constant < 64:
        return [int(target) << int(constant)]
    return []


def _crossings(ops: list[_Op], bound: float, op: ast.cmpop) -> tuple[int, ...]:
    """Sizes just below, at and just above where ``size (ops) op bound`` changes, if it changes."""
    targets = [bound]
    for operation, constant, _ in ops:
        try:
            targets = [t for target in targets if math.isfinite(target) for t in _inverse(operation, constant, target)]
        except (ArithmeticError, ValueError):  # an overflow: no size reaches it
            return ()
    cores = {c for t in targets if math.isfinite(t) for c in (math.floor(t), math.ceil(t)) if 0 <= c < 1 << 62}
    values = sorted({v for c in cores for v in (c - 1, c, c + 1) if v >= 0})
    test = _TEST[type(op)]
    outcomes = {bool(test(f, bound)) for v in values if (f := _forward(ops, v)) is not None}
    return tuple(values[:9]) if outcomes == {True, False} else ()


def _dtype(side: ast.expr, other: ast.expr, op: ast.cmpop, params: set[str]) -> Threshold | None:
    if not (isinstance(side, ast.Attribute) and side.attr == "dtype"):
        return None
    param = _base(side.value, params)
    options = other.elts if isinstance(other, (ast.Tuple, ast.List, ast.Set)) else [other]
    names = [_dtype_name(o) for o in options]
    if param is None or not names or None in names:
        return None
    return Threshold(param, "dtype", "", 0, "", dtypes=tuple(dict.fromkeys(n for n in names if n)))


_DTYPE_FACTS = {  # what a kernel can ask of a float dtype, per dtype (torch.finfo / jnp.finfo)
    "float16": {"itemsize": 2, "bits": 16, "eps": 2.0 ** -10, "max": 65504.0, "tiny": 2.0 ** -14},
    "bfloat16": {"itemsize": 2, "bits": 16, "eps": 2.0 ** -7, "max": 3.3895313892515355e38, "tiny": 2.0 ** -126},
    "float32": {"itemsize": 4, "bits": 32, "eps": 2.0 ** -23, "max": 3.4028234663852886e38, "tiny": 2.0 ** -126},
    "float64": {"itemsize": 8, "bits": 64, "eps": 2.0 ** -52, "max": 1.7976931348623157e308, "tiny": 2.0 ** -1022},
}
_FINFO = {"bits": "bits", "eps": "eps", "max": "max", "tiny": "tiny", "smallest_normal": "tiny",
          "resolution": "eps"}


def _dtype_property(node: ast.expr, params: set[str]) -> tuple[str, str] | None:
    """(parameter, fact) of ``x.element_size()``, ``x.itemsize``, ``x.dtype.itemsize``, ``torch.finfo(x.dtype).eps``."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "element_size" \
            and not node.args:
        param = _base(node.func.value, params)
        return (param, "itemsize") if param is not None else None
    if not isinstance(node, ast.Attribute):
        return None
    if node.attr == "itemsize":
        inner = node.value.value if isinstance(node.value, ast.Attribute) and node.value.attr == "dtype" else node.value
        param = _base(inner, params)
        return (param, "itemsize") if param is not None else None
    finfo = node.value
    if node.attr in _FINFO and isinstance(finfo, ast.Call) and _dotted(finfo.func).endswith("finfo") \
            and len(finfo.args) == 1 and isinstance(finfo.args[0], ast.Attribute) and finfo.args[0].attr == "dtype":
        param = _base(finfo.args[0].value, params)
        return (param, _FINFO[node.attr]) if param is not None else None
    return None


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


def _dtype_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        name = node.value
    elif isinstance(node, ast.Attribute) and _dotted(node.value) in _DTYPE_MODULES:
        name = node.attr
    else:
        return None
    name = name.removeprefix("torch.")
    return _FLOATS.get(name, name) if name in _FLOATS or name in _OTHER_DTYPES else None


# -- statistics of the data, evaluated with numpy ----------------------------------------------------


class _Stat:
    """Evaluates a statistic of parameter ``param`` (``x.abs().amax(-1)``) on a numpy array; None if it cannot."""

    _REDUCE = {"sum": np.sum, "nansum": np.nansum, "mean": np.mean, "nanmean": np.nanmean, "max": np.max,
               "amax": np.max, "min": np.min, "amin": np.min}
    _ELEMENT = {"abs": np.abs, "square": np.square, "sqrt": np.sqrt, "neg": np.negative, "negative": np.negative,
                "absolute": np.abs, "fabs": np.abs}
    _MODULES = ("torch", "torch.linalg", "jnp", "jnp.linalg", "jax.numpy", "jax.numpy.linalg", "np", "numpy",
                "np.linalg", "numpy.linalg", "math")

    def __init__(self, param: str, framework: str) -> None:
        self.param, self.framework = param, framework

    def value(self, node: ast.expr, array: np.ndarray) -> Any:
        try:
            with np.errstate(all="ignore"):
                return self._eval(node, array)
        except (ArithmeticError, TypeError, ValueError, IndexError, _Opaque):
            return None

    def _eval(self, node: ast.expr, array: np.ndarray) -> Any:
        if isinstance(node, ast.Name) and node.id == self.param:
            return array
        constant = _const(node, {})
        if constant is not None:
            return constant
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
            return _ARITH[type(node.op)](self._eval(node.left, array), self._eval(node.right, array))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -self._eval(node.operand, array)
        if isinstance(node, ast.Attribute) and node.attr in ("values", "data", "real"):
            return self._eval(node.value, array)
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and node.value.attr == "shape":
            return self._eval(node.value.value, array).shape[_index(node.slice)]  # type: ignore[index]
        if isinstance(node, ast.Subscript):  # x[0, -1] > 500, x[..., 0].max() > 10: elements as well
            return np.asarray(self._eval(node.value, array))[_subscript(node.slice)]
        if isinstance(node, ast.NamedExpr):
            return self._eval(node.value, array)
        if isinstance(node, ast.Call):
            return self._call(node, array)
        raise _Opaque

    def _call(self, node: ast.Call, array: np.ndarray) -> Any:
        func, dotted = node.func, _dotted(node.func)
        if dotted in ("float", "abs", "int") and len(node.args) == 1:
            inner = self._eval(node.args[0], array)
            return np.abs(inner) if dotted == "abs" else inner
        module, _, name = dotted.rpartition(".")
        if module in self._MODULES and node.args:
            return self._method(name, self._eval(node.args[0], array), node.args[1:], node.keywords)
        if isinstance(func, ast.Attribute):
            return self._method(func.attr, self._eval(func.value, array), node.args, node.keywords)
        raise _Opaque

    def _method(self, name: str, value: Any, args: list[ast.expr], keywords: list[ast.keyword]) -> Any:
        data = np.asarray(value, dtype=np.float64)
        extra = [_literal(a) for a in args]
        named = {k.arg: _literal(k.value) for k in keywords if k.arg is not None}
        axis = named.pop("dim", named.pop("axis", None))
        named.pop("keepdim", None)
        named.pop("keepdims", None)
        named.pop("dtype", None)
        if name in ("float", "double", "half", "bfloat16", "to", "detach", "contiguous", "clone", "cpu", "item",
                    "flatten", "ravel", "astype", "type"):
            return data
        if name in ("numel", "nelement") and not extra:
            return data.size
        if name in self._ELEMENT and not extra and not named:
            return self._ELEMENT[name](data)
        if name == "pow" and len(extra) == 1:
            return data ** extra[0]
        if name in self._REDUCE and not named:
            axis = extra[0] if extra and axis is None else axis
            return self._REDUCE[name](data, axis=_axis(axis))
        if name in ("std", "var"):
            return self._spread(name, data, extra, named, axis)
        if name in ("norm", "vector_norm"):
            order = named.pop("p", named.pop("ord", extra[0] if extra else 2))
            axis = extra[1] if len(extra) > 1 and axis is None else axis
            if named:
                raise _Opaque
            return _norm(data, order, _axis(axis))
        raise _Opaque

    def _spread(self, name: str, data: np.ndarray, extra: list[Any], named: dict[str, Any], axis: Any) -> Any:
        ddof = 1 if self.framework == "torch" else 0
        if "unbiased" in named:
            ddof = int(bool(named.pop("unbiased")))
        ddof = int(named.pop("correction", named.pop("ddof", ddof)))
        if extra and axis is None:
            axis = extra[0]
        if named:
            raise _Opaque
        return (np.std if name == "std" else np.var)(data, axis=_axis(axis), ddof=ddof)


class _Opaque(Exception):
    """A construct the statistic evaluator does not model."""


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except ValueError:
        dotted = _dotted(node)
        if dotted in ("math.inf", "torch.inf", "np.inf", "jnp.inf"):
            return math.inf
        if isinstance(node, ast.Call) and _dotted(node.func) == "float" and len(node.args) == 1:
            return float(ast.literal_eval(node.args[0]))
        raise _Opaque from None


def _subscript(node: ast.expr) -> Any:
    """A constant index (ints, slices with constant bounds, ``...``, ``None``) as numpy takes it."""
    if isinstance(node, ast.Tuple):
        return tuple(_subscript(e) for e in node.elts)
    if isinstance(node, ast.Slice):
        bounds = [None if b is None else _index(b) for b in (node.lower, node.upper, node.step)]
        if any(b is None and e is not None for b, e in zip(bounds, (node.lower, node.upper, node.step))):
            raise _Opaque
        return slice(*bounds)
    if isinstance(node, ast.Constant) and (node.value is Ellipsis or node.value is None):
        return node.value
    index = _index(node)
    if index is None:
        raise _Opaque
    return index


def _axis(axis: Any) -> Any:
    return tuple(axis) if isinstance(axis, list) else axis


def _norm(data: np.ndarray, order: Any, axis: Any) -> Any:
    if order in ("fro", None):
        order = 2
    if order == math.inf:
        return np.max(np.abs(data), axis=axis)
    if not isinstance(order, (int, float)) or order <= 0:
        raise _Opaque
    return np.sum(np.abs(data) ** order, axis=axis) ** (1.0 / order)


# -- cases -------------------------------------------------------------------------------------------


def extra_dtypes(thresholds: list[Threshold], configured: tuple[str, ...]) -> tuple[str, ...]:
    """Float dtypes a kernel compares against that the configuration does not run."""
    named = [d for t in thresholds if t.kind == "dtype" for d in t.dtypes if d in _FLOATS.values()]
    return tuple(d for d in dict.fromkeys(named) if d not in configured)


def threshold_cases(thresholds: list[Threshold], params: list[Param], seed: int, user: list[Case] | None = None,
                    last_dim: int | None = None, init: dict[str, Any] | None = None) -> list[Case]:
    """Cases on both sides of each threshold; raises ``Unreachable`` for one no input can reach.

    ``user`` holds the cases of a ``make_inputs`` when one is given (see the module docstring).
    ``last_dim`` and ``init`` are an ``nn.Module``'s width and constructor arguments: a case
    of another width builds the module with every argument of that width set to it.
    """
    by_name = {p.name: p for p in params}
    found: list[Case] = []
    for number, threshold in enumerate(thresholds):
        param = by_name.get(threshold.param)
        if param is None:
            continue
        if threshold.kind == "dtype":
            _check_dtype(threshold, param, user)
            continue
        made = (_user_side(threshold, param, user, seed + number) if user is not None else
                _generated(threshold, param, params, seed + 9001 + number, last_dim))
        made = [(what, _rebuilt(c, init, last_dim)) for what, c in made]
        found += [replace(c, label=f"{threshold.describe()}: {what}; {c.label}", threshold=threshold.describe(),
                          point=what) for what, c in made]
    if len(found) > MAX_CASES:
        raise Unsupported(f"the kernels compare their inputs against {len(thresholds)} thresholds, {len(found)} "
                          f"cases on both sides, more than the {MAX_CASES} a check runs; state inputs with make_inputs")
    return found


def report(thresholds: tuple[Threshold, ...], ran: list[Case], skipped: list[Case]) -> tuple[list[str], list[str]]:
    """Lines for a PASSED detail, one per threshold with the points compared, and the thresholds never compared.

    ``ran`` and ``skipped`` are the cases compared and those the old kernel raised on (at
    any dtype; repeats are merged).  A dtype threshold is covered by the dtype sweep; the
    second list names every other threshold none of whose cases was compared -- its branch
    was never seen from either side, which a caller should not report as covered.
    """
    lines, never = [], []
    for threshold in thresholds:
        name = threshold.describe()
        if threshold.kind == "dtype":
            lines.append(f"{name}: every case at {', '.join(threshold.dtypes)}")
            continue
        compared = list(dict.fromkeys(c.point for c in ran if c.threshold == name))
        rejected = [p for p in dict.fromkeys(c.point for c in skipped if c.threshold == name) if p not in compared]
        line = f"{name}: {', '.join(compared) or 'no case compared'}"
        lines.append(line + (f"; outside the old kernel's domain: {', '.join(rejected)}" if rejected else ""))
        if not compared:
            never.append(name)
    return lines, never


def _rebuilt(case: Case, init: dict[str, Any] | None, last_dim: int | None) -> Case:
    widths = {s[-1] for s in case.shapes if s}
    if not init or last_dim is None or len(widths) != 1 or widths == {last_dim}:
        return case
    width = widths.pop()
    return replace(case, init=tuple(sorted((k, width) for k, v in init.items() if v == last_dim)))


def _check_dtype(threshold: Threshold, param: Param, user: list[Case] | None) -> None:
    other = [d for d in threshold.dtypes if d not in _FLOATS.values()]
    if not other or param.kind in ("index", "mask"):
        return
    if user is not None and any(not _arg(c, param.name).get("float", True) for c in user if _arg(c, param.name)):
        return
    raise Unreachable(threshold, f"needs {param.name} as {', '.join(other)}, and generated float inputs are "
                      "cast to float dtypes only", f"give {param.name} as an integer array in make_inputs")


def _generated(threshold: Threshold, param: Param, params: list[Param], seed: int,
               last_dim: int | None) -> list[tuple[str, Case]]:
    rank, width = threshold.rank or _rank_hint(param), last_dim or 8
    if param.kind == "feature" and param.dims is None:
        if threshold.kind == "rank":
            return []  # a per-feature parameter is always the case's last dim: rank 1
        if threshold.kind in ("dim", "numel"):
            threshold, rank = replace(threshold, kind="dim", axis=-1), 2
    if threshold.kind == "layout":
        shape = (3,) * (max(rank, 2) - 1) + (max(width, 2),)
        return [(f"{param.name} {layout or 'contiguous'}", build(params, shape, seed, layout=layout,
                                                                fixed=_pin(param, shape)))
                for layout in (None, "transposed")]
    if threshold.kind == "magnitude":
        shape = (2,) * (rank - 1) + (width,) if rank else ()
        base = _arg(build(params, shape, seed, fixed=_pin(param, shape)), param.name).get("array")
        return [(what, build(params, shape, seed, fixed=_pin(param, shape), scale=(param.name, factor),
                             magnitude=_scaled_class(threshold))) for what, factor in _scales(threshold, base)]
    if threshold.kind == "shape":
        return _exact_shapes(threshold, param, params, seed, rank)
    made = []
    for value in threshold.values:
        shape = _shape_for(threshold, value, rank, width, last_dim is not None)
        fixed = _pin(param, shape)
        if fixed is None and param.dims is not None:
            continue  # the annotation fixes what this threshold varies: outside the declared domain
        made.append((f"{_what(threshold)} = {value}", build(params, shape, seed, fixed=fixed, cap=MAX_ELEMENTS)))
    return made


def _exact_shapes(threshold: Threshold, param: Param, params: list[Param], seed: int,
                  rank: int) -> list[tuple[str, Case]]:
    """The shape compared, and the same with its last dim one larger (a near miss)."""
    sizes = tuple(threshold.values)
    exact = sizes if threshold.axis is None else (2,) * max(rank - len(sizes), 0) + sizes
    near = exact[:-1] + (exact[-1] + 1,) if exact else (1,)
    if math.prod(near) > MAX_ELEMENTS:
        raise Unreachable(threshold, f"cannot be reached within the worker's memory ({math.prod(exact)} elements; "
                          f"at most {MAX_ELEMENTS} per tensor are generated)")
    made = []
    for shape in (exact, near):
        fixed = _pin(param, shape)
        if fixed is not None or param.dims is None:
            made.append((f"{param.name}.shape = {shape}", build(params, shape, seed, fixed=fixed, cap=MAX_ELEMENTS)))
    return made


def _scaled_class(threshold: Threshold) -> str:
    # A class of its own per threshold: the verifier's gradient floor is the largest gradient of the case's
    # class, and inputs scaled to a norm of 1e6 must not loosen the floor of the normal cases (or each other's).
    return f"scaled: {threshold.statistic} near {threshold.bound:g}"


def _what(threshold: Threshold) -> str:
    return {"numel": f"{threshold.param}.numel()", "rank": f"{threshold.param}.ndim"}.get(
        threshold.kind, f"{threshold.param}.shape[{threshold.axis}]")


def _rank_hint(param: Param) -> int:
    if param.dims is not None and not any(isinstance(d, str) and d.startswith("*") for d in param.dims):
        return len(param.dims)
    return 2


def _pin(param: Param, shape: tuple[int, ...]) -> dict[str, int | tuple[int, ...]] | None:
    """Named dims of ``param``'s annotation set to ``shape``, or None where the annotation cannot take it."""
    if param.dims is None:
        return {}
    groups = [d for d in param.dims if isinstance(d, str) and d.startswith("*")]
    if len(groups) > 1 or len(shape) < len(param.dims) - len(groups) or (not groups and len(shape) != len(param.dims)):
        return None
    spread = len(shape) - (len(param.dims) - len(groups))
    fixed: dict[str, int | tuple[int, ...]] = {}
    at = 0
    for dim in param.dims:
        width = spread if dim in groups else 1
        sizes = shape[at:at + width]
        at += width
        if isinstance(dim, int):
            if sizes != (dim,):
                return None
        elif dim in groups:
            fixed[dim] = tuple(sizes)
        elif fixed.setdefault(dim, sizes[0]) != sizes[0]:
            return None
    return fixed


def _shape_for(threshold: Threshold, value: int, rank: int, width: int, fixed_width: bool) -> tuple[int, ...]:
    if threshold.kind == "rank":
        if max(threshold.values) > MAX_RANK:
            raise Unreachable(threshold, f"needs a tensor of rank {max(threshold.values)}, past the {MAX_RANK} "
                              "generated")
        return (2,) * (value - 1) + (width,) if value else ()
    if threshold.kind == "numel":
        if max(threshold.values) > MAX_ELEMENTS:
            raise Unreachable(threshold, f"cannot be reached within the worker's memory ({max(threshold.values)} "
                              f"elements; at most "
                              f"{MAX_ELEMENTS} per tensor are generated)")
        return _spread(value, max(rank, 1), width if fixed_width else None)
    axis = threshold.axis or 0
    rank = max(rank, axis + 1 if axis >= 0 else -axis)
    shape = [2] * (rank - 1) + [width]
    shape[axis] = value
    while math.prod(shape) > MAX_ELEMENTS and any(s > 1 for i, s in enumerate(shape) if i != axis % rank):
        shape[max((i for i in range(rank) if i != axis % rank), key=lambda i: shape[i])] = 1
    if math.prod(shape) > MAX_ELEMENTS:
        raise Unreachable(threshold, f"cannot be reached within the worker's memory (a dim of {value}; at most "
                          f"{MAX_ELEMENTS} elements per tensor are generated)")
    return tuple(shape)


def _spread(value: int, rank: int, width: int | None) -> tuple[int, ...]:
    """A shape of ``rank`` with ``value`` elements (or the nearest with a fixed last ``width``), the bulk last."""
    if width:
        return (1,) * max(rank - 2, 0) + (max(1, round(value / width)), width) if rank > 1 else (value,)
    if rank == 1:
        return (value,)
    lead = next((a for a in (4, 3, 2) if value % a == 0), 1)
    return (1,) * (rank - 2) + (lead, value // lead)


def _scales(threshold: Threshold, base: np.ndarray | None) -> list[tuple[str, float]]:
    """Factors putting the statistic (its extreme row) 1% below, at and 1% above the constant."""
    if base is None or not base.size:
        return []
    stat = _Stat(threshold.param, threshold.framework)
    node = ast.parse(threshold.statistic, mode="eval").body
    bound, test = threshold.bound, _TEST[getattr(ast, threshold.op)]

    def extreme(factor: float) -> float:
        value = np.asarray(stat.value(node, factor * base), dtype=np.float64)
        return float(np.max(value) if bound >= 0 else np.min(value)) if value.size else math.nan

    targets = (bound * (1 - _DELTA), bound, bound * (1 + _DELTA))
    for sign in (1.0, -1.0):
        factors = [_solve(lambda e: extreme(sign * 10 ** e), target) for target in targets]
        if None in factors:
            continue
        scales = [sign * 10 ** f for f in factors]  # type: ignore[operator]
        if {bool(test(extreme(scales[0]), bound)), bool(test(extreme(scales[2]), bound))} == {True, False}:
            rows = np.asarray(stat.value(node, base)).size > 1  # a per-row or elementwise statistic: its extreme
            word = (" up to" if bound >= 0 else " down to") if rows else " ="
            return [(f"{threshold.statistic}{word} {extreme(f):.6g}", f) for f in scales]
    return []


def _solve(function: Any, target: float) -> float | None:
    """The exponent ``e`` in [-40, 40] where the monotone ``function(e)`` meets ``target``, by bisection."""
    lo, hi = -40.0, 40.0
    low, high = function(lo) - target, function(hi) - target
    if not (math.isfinite(low) and math.isfinite(high)) or (low > 0) == (high > 0):
        return None
    for _ in range(64):  # 80 decades / 2**64: far below the 1% either side
        mid = (lo + hi) / 2
        if (function(mid) - target > 0) == (low > 0):
            lo = mid
        else:
            hi = mid
    return hi


def _arg(case: Case, name: str) -> dict[str, Any]:
    return next((a for a in [*case.args, *(v for _, v in case.kwargs)] if a.get("name") == name), {})


def _user_side(threshold: Threshold, param: Param, user: list[Case], seed: int) -> list[tuple[str, Case]]:
    """With ``make_inputs``: magnitudes scale its first case; a size, rank or shape its cases do not cross resizes
    the parameter in its first case, the other inputs kept (where that leaves the old kernel's domain, the old
    kernel raises and the case is skipped, as any case outside its domain is)."""
    first = next((c for c in user if _arg(c, param.name).get("float")), None)
    if first is None or threshold.kind == "layout":
        return []
    base = _arg(first, param.name)["array"]
    if threshold.kind == "magnitude":
        return [(what, _rescaled(first, param.name, factor, seed, _scaled_class(threshold)))
                for what, factor in _scales(threshold, base)]
    shapes = [tuple(_arg(c, param.name)["array"].shape) for c in user if "array" in _arg(c, param.name)]
    if _crossed(threshold, shapes):
        return []
    rng = np.random.default_rng([seed, 4242])
    made = []
    for what, shape in _resized(threshold, tuple(base.shape)):
        if math.prod(shape) > MAX_ELEMENTS:
            raise Unreachable(threshold, f"cannot be reached within the worker's memory ({math.prod(shape)} "
                              f"elements; at most {MAX_ELEMENTS} per tensor are generated)")
        made.append((what, first.with_array(param.name, rng.standard_normal(shape), seed)))
    return made


def _crossed(threshold: Threshold, shapes: list[tuple[int, ...]]) -> bool:
    if threshold.kind == "shape":
        width = len(threshold.values)
        return {len(s) >= width and s[len(s) - width:] == threshold.values for s in shapes} == {True, False}
    return {threshold.taken(v) for v in {_measure(threshold, s) for s in shapes} if v >= 0} == {True, False}


def _resized(threshold: Threshold, base: tuple[int, ...]) -> list[tuple[str, tuple[int, ...]]]:
    """Shapes like ``base`` on both sides of a size, rank or shape threshold."""
    if threshold.kind == "shape":
        sizes = tuple(threshold.values)
        exact = sizes if threshold.axis is None else base[:max(len(base) - len(sizes), 0)] + sizes
        near = exact[:-1] + (exact[-1] + 1,) if exact else (1,)
        return [(f"{threshold.param}.shape = {s}", s) for s in (exact, near)]
    found = []
    for value in threshold.values:
        if threshold.kind == "rank":
            if value > MAX_RANK:
                raise Unreachable(threshold, f"needs a tensor of rank {value}, past the {MAX_RANK} generated")
            shape = (2,) * (value - len(base)) + base if value >= len(base) else base[len(base) - value:]
        elif threshold.kind == "numel":
            shape = _spread(value, max(len(base), 1), None)
        else:
            axis = threshold.axis or 0
            rank = max(len(base), axis + 1 if axis >= 0 else -axis)
            grown = [2] * (rank - len(base)) + list(base)
            grown[axis] = value
            shape = tuple(grown)
        found.append((f"{_what(threshold)} = {value}", shape))
    return found


def _measure(threshold: Threshold, shape: tuple[int, ...]) -> int:
    if threshold.kind == "numel":
        return math.prod(shape)
    if threshold.kind == "rank":
        return len(shape)
    axis = threshold.axis or 0
    return shape[axis] if -len(shape) <= axis < len(shape) else -1


def _rescaled(case: Case, name: str, factor: float, seed: int, magnitude: str) -> Case:
    def scaled(arg: dict[str, Any]) -> dict[str, Any]:
        return {**arg, "array": np.asarray(arg["array"] * factor)} if arg.get("name") == name else arg

    return replace(case, seed=seed, layout=None, magnitude=magnitude, args=tuple(scaled(a) for a in case.args),
                   kwargs=tuple((k, scaled(v)) for k, v in case.kwargs))
