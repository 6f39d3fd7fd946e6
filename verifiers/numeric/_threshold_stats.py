"""Statistics of a parameter's data that a kernel compares (``x.norm()``, ``x.abs().amax(-1)``), evaluated with numpy.

``_Stat`` evaluates the statistic an expression computes on a numpy array standing for
the parameter: the miner (``_thresholds``) uses it to tell a magnitude from a size, and
the case builder (``_threshold_cases``) to scale a parameter onto both sides of the
bound.  Nothing here is public: the names are the package's internals.
"""

from __future__ import annotations

import ast
import math
from typing import Any

import numpy as np

from verifiers.numeric._annotations import dotted as _dotted
from verifiers.numeric._threshold_reads import _ARITH, _const, _index

__all__: list[str] = []

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
