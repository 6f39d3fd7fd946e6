"""What one side of a comparison in a kernel reads: a constant, a size, a dtype or a dtype fact.

Pure functions over ``ast`` expressions, shared by the miner (``_thresholds``), the
statistic evaluator (``_threshold_stats``) and the case builder (``_threshold_cases``):
``_const`` folds constant arithmetic, ``_read_size`` and ``_arithmetic`` name the size a
parameter expression stands for, ``_crossings`` the sizes on both sides of a bound, and
``_dtype_name``/``_dtype_property`` the dtypes compared.  Nothing here is public: the
names are the package's internals.
"""

from __future__ import annotations

import ast
import math

from verifiers.numeric._annotations import dotted as _dotted

__all__: list[str] = []

_FLOATS = {"float16": "float16", "half": "float16", "bfloat16": "bfloat16", "float32": "float32",
           "float": "float32", "float64": "float64", "double": "float64"}
_OTHER_DTYPES = frozenset({"int8", "int16", "int32", "int64", "uint8", "long", "int", "short", "bool",
                           "complex64", "complex128", "cfloat", "cdouble", "float8_e4m3fn", "float8_e5m2"})
_DTYPE_MODULES = frozenset({"torch", "jnp", "jax.numpy", "np", "numpy"})
_SAME_SHAPE = frozenset({"float", "double", "half", "bfloat16", "to", "detach", "contiguous", "clone", "cpu",
                         "abs", "neg", "square", "sqrt", "exp", "type", "type_as", "astype", "data", "mT"})


_TEST = {ast.Lt: lambda a, b: a < b, ast.Gt: lambda a, b: a > b, ast.LtE: lambda a, b: a <= b,
         ast.GtE: lambda a, b: a >= b, ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b}
_ARITH = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
          ast.Div: lambda a, b: a / b, ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b,
          ast.Pow: lambda a, b: a ** b, ast.LShift: lambda a, b: a << b, ast.RShift: lambda a, b: a >> b}


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


def _dtype_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        name = node.value
    elif isinstance(node, ast.Attribute) and _dotted(node.value) in _DTYPE_MODULES:
        name = node.attr
    else:
        return None
    name = name.removeprefix("torch.")
    return _FLOATS.get(name, name) if name in _FLOATS or name in _OTHER_DTYPES else None
