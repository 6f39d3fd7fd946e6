"""Inputs for a kernel check, generated with numpy in the trusted process.

A kernel's signature is read from its source (never imported here).  Parameters
annotated as tensors (``torch.Tensor``, ``Tensor``, ``jax.Array``, ``jnp.ndarray``)
and unannotated required parameters are tensors; parameters with defaults keep them.
Without a ``make_inputs`` every tensor gets the case's shape, except names that
read as per-feature parameters (``weight``, ``bias``, ``gamma``, ``beta``, ``scale``)
which get the last dimension, and masks (``mask``, ``*_mask``) which are boolean.

A ``make_inputs`` in the property file is called as ``make_inputs(rng)`` (or with
no argument) with a seeded ``numpy.random.Generator`` and returns one case or a list
of cases; a case is a dict from parameter name to a numpy array (float arrays are
cast to each configured dtype, integer and boolean arrays kept as they are), a
shape tuple (a random float tensor of that shape), or a plain Python value passed
as is.  The key ``"__init__"`` gives keyword arguments for an ``nn.Module``'s
constructor.  The verifier adds transposed (non-contiguous) and large-magnitude
variants of the generated cases itself.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

__all__ = ["Case", "Param", "Unsupported", "cases", "framework", "parameters"]

_TENSOR_TORCH = ("torch.Tensor", "Tensor", "torch.FloatTensor")
_TENSOR_JAX = ("jax.Array", "jnp.ndarray", "jax.numpy.ndarray", "Array", "jnp.Array", "jaxtyping.Array")
_PER_FEATURE = frozenset({"weight", "bias", "gamma", "beta", "scale", "g", "b"})
# (shape, seed offset, layout, magnitude); large-ish, odd, size-1 and non-contiguous shapes.
_DEFAULT_SHAPES: tuple[tuple[tuple[int, ...], int, str | None, str], ...] = (
    ((1,), 0, None, "normal"), ((7,), 0, None, "normal"), ((1, 1), 0, None, "normal"),
    ((3, 5), 0, None, "normal"), ((5, 1, 9), 0, None, "normal"), ((2, 3, 7, 16), 0, None, "normal"),
    ((1, 2, 1, 8), 0, None, "normal"), ((4, 37, 96), 0, None, "normal"),
    ((3, 5), 1, "transposed", "normal"), ((2, 3, 7, 16), 1, "transposed", "normal"),
    ((2, 3, 7, 16), 2, None, "normal"), ((3, 5), 2, None, "normal"),
    ((4, 37, 96), 3, None, "large"), ((2, 3, 7, 16), 3, None, "large"),
)
LARGE = (90.0, 150.0)


class Unsupported(Exception):
    """Inputs cannot be generated for this kernel; the message says what to state instead."""


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    kind: str  # "tensor", "mask", "feature", "default", "scalar"
    keyword: bool = False


@dataclass(frozen=True, slots=True)
class Case:
    """One call: arguments as harness argument dicts (arrays in float64 or their own dtype)."""

    label: str
    seed: int
    args: tuple[dict[str, Any], ...]
    kwargs: tuple[tuple[str, dict[str, Any]], ...] = ()
    init: tuple[tuple[str, Any], ...] = ()
    magnitude: str = "normal"
    layout: str | None = None
    shapes: tuple[tuple[int, ...], ...] = field(default=())

    def at(self, dtype: str) -> "Case":
        """This case with every float array rounded to ``dtype`` (kept as float64 for the oracle)."""
        return replace(self, args=tuple(_round(a, dtype) for a in self.args),
                       kwargs=tuple((k, _round(v, dtype)) for k, v in self.kwargs))


    def perturbed(self, dtype: str) -> "Case":
        """This case (already at ``dtype``) with every float input moved by up to one ulp of ``dtype``."""
        rng = np.random.default_rng([self.seed, 104729])
        return replace(self, args=tuple(_nudge(a, dtype, rng) for a in self.args),
                       kwargs=tuple((k, _nudge(v, dtype, rng)) for k, v in self.kwargs))


def _nudge(arg: dict[str, Any], dtype: str, rng: np.random.Generator) -> dict[str, Any]:
    if not arg.get("float"):
        return arg
    array = arg["array"]
    return {**arg, "array": array * (1.0 + eps(dtype) * rng.uniform(-1.0, 1.0, array.shape))}


def _round(arg: dict[str, Any], dtype: str) -> dict[str, Any]:
    if not arg.get("float"):
        return arg
    return {**arg, "array": arg["array"].astype(_np_dtype(dtype)).astype(np.float64)}


def _np_dtype(name: str) -> Any:
    if name == "bfloat16":
        import ml_dtypes

        return ml_dtypes.bfloat16
    return np.dtype(name)


def eps(name: str) -> float:
    """Machine epsilon of a float dtype name (bfloat16 included)."""
    return float(np.finfo(_np_dtype(name)).eps) if name != "bfloat16" else 2.0 ** -7


def parameters(source: str, method: bool) -> list[Param]:
    """The kernel's parameters, read from its source; raises ``Unsupported`` for scalars without defaults."""
    tree = ast.parse(textwrap.dedent(source))
    node = next(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
    positional = node.args.posonlyargs + node.args.args
    defaults = [None] * (len(positional) - len(node.args.defaults)) + list(node.args.defaults)
    found = [_param(a, d is not None, False) for a, d in zip(positional, defaults)]
    found += [_param(a, d is not None, True) for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults)]
    return found[1:] if method else found


def _param(arg: ast.arg, has_default: bool, keyword: bool) -> Param:
    note = ast.unparse(arg.annotation) if arg.annotation is not None else ""
    tensor = _is_tensor(note)
    if has_default and not tensor:
        return Param(arg.arg, "default", keyword)
    if note and not tensor and "Optional" not in note:
        return Param(arg.arg, "scalar", keyword)
    name = arg.arg.lower()
    if name == "mask" or name.endswith("_mask"):
        return Param(arg.arg, "mask", keyword)
    return Param(arg.arg, "feature" if name in _PER_FEATURE else "tensor", keyword)


def _is_tensor(note: str) -> bool:
    return any(note == t or note.endswith(f"[{t}]") or note.startswith(f"{t} |") or note.endswith(f"| {t}")
               for t in _TENSOR_TORCH + _TENSOR_JAX)


def framework(annotations: str, module_text: str) -> str | None:
    """``"torch"`` or ``"jax"`` from the kernel's annotations, else from the module's imports."""
    if any(t in annotations for t in ("torch", "Tensor")):
        return "torch"
    if any(t in annotations for t in ("jax", "jnp", "Array")):
        return "jax"
    imports = {alias.name.split(".")[0] for node in ast.walk(ast.parse(module_text))
               for alias in getattr(node, "names", ()) if isinstance(node, (ast.Import,))}
    imports |= {node.module.split(".")[0] for node in ast.walk(ast.parse(module_text))
                if isinstance(node, ast.ImportFrom) and node.module}
    for name in ("torch", "jax"):
        if name in imports:
            return name
    return None


def cases(params: list[Param], seed: int, make_inputs: Callable[..., Any] | None,
          last_dim: int | None = None) -> list[Case]:
    """The cases to run: defaults from the signature, or the user's ``make_inputs`` plus variants.

    ``last_dim`` fixes the last dimension of the default shapes (a module built with that width).
    """
    if make_inputs is not None:
        return _user_cases(params, seed, make_inputs)
    scalars = [p.name for p in params if p.kind == "scalar"]
    if scalars:
        raise Unsupported(
            f"parameter(s) {', '.join(scalars)} are annotated as non-tensor values without defaults; "
            "give them values with kernel(..., make_inputs=lambda rng: {...}) in the property file")
    found = []
    for shape, offset, layout, magnitude in _DEFAULT_SHAPES:
        shape = shape[:-1] + (last_dim,) if last_dim else shape
        rng = np.random.default_rng([seed, offset, *shape])
        values = {p.name: _default_value(p, shape, rng, magnitude) for p in params if p.kind != "default"}
        found.append(_case(params, values, seed + offset, layout, magnitude, {}))
    return found


def _default_value(param: Param, shape: tuple[int, ...], rng: np.random.Generator, magnitude: str) -> Any:
    if param.kind == "mask":
        mask = rng.random(shape) < 0.8
        mask.reshape(-1)[0] = True
        return mask
    if param.kind == "feature":
        return 1.0 + 0.1 * rng.standard_normal(shape[-1:])
    return _floats(rng, shape, magnitude)


def _floats(rng: np.random.Generator, shape: tuple[int, ...], magnitude: str) -> np.ndarray:
    if magnitude == "large":
        return rng.uniform(*LARGE, shape) * rng.choice([-1.0, 1.0], shape)
    return rng.standard_normal(shape)


def _case(params: list[Param], values: dict[str, Any], seed: int, layout: str | None, magnitude: str,
          init: dict[str, Any]) -> Case:
    args: list[dict[str, Any]] = []
    kwargs: list[tuple[str, dict[str, Any]]] = []
    positional = True
    for param in params:
        positional = positional and param.name in values and not param.keyword
        if param.name not in values:
            continue
        arg = _arg(param.name, values[param.name], layout)
        if positional:
            args.append(arg)
        else:
            kwargs.append((param.name, arg))
    known = {p.name for p in params}
    kwargs += [(name, _arg(name, value, layout)) for name, value in values.items() if name not in known]
    arrays = [a for a in args + [a for _, a in kwargs] if "array" in a]
    label = ", ".join(f"{a['name']}: {a['array'].dtype.name if not a['float'] else 'float'}{list(a['array'].shape)}"
                      + (" transposed" if a.get("layout") else "") for a in arrays)
    return Case(label, seed, tuple(args), tuple(kwargs), tuple(sorted(init.items())), magnitude, layout,
                tuple(tuple(a["array"].shape) for a in arrays))


def _arg(name: str, value: Any, layout: str | None) -> dict[str, Any]:
    if not isinstance(value, np.ndarray):
        return {"name": name, "value": value}
    floating = value.dtype.kind == "f" or value.dtype.name == "bfloat16"
    arg: dict[str, Any] = {"name": name, "array": value.astype(np.float64) if floating else value,
                           "float": floating}
    if layout and floating and value.ndim >= 2 and value.shape[-1] > 1 and value.shape[-2] > 1:
        arg["layout"] = layout
    return arg


def _user_cases(params: list[Param], seed: int, make_inputs: Callable[..., Any]) -> list[Case]:
    found: list[Case] = []
    for index in range(3):
        produced = _call_user(make_inputs, np.random.default_rng([seed, index]))
        for number, raw in enumerate(produced if isinstance(produced, list) else [produced]):
            if not isinstance(raw, dict):
                raise Unsupported(f"make_inputs must return a dict (or a list of dicts) from parameter "
                                  f"name to array, shape tuple or value; got {type(raw).__name__}")
            rng = np.random.default_rng([seed, index, number, 7])
            init = dict(raw.pop("__init__", {}) or {})
            values = {k: _user_value(v, rng) for k, v in raw.items()}
            case_seed = seed * 1000 + index * 100 + number
            found.append(_case(params, values, case_seed, None, "normal", init))
            if index == 0:
                found.append(_case(params, values, case_seed, "transposed", "normal", init))
                large = {k: _scaled(v, rng) for k, v in values.items()}
                found.append(_case(params, large, case_seed + 50, None, "large", init))
    return found


def _call_user(make_inputs: Callable[..., Any], rng: np.random.Generator) -> Any:
    try:
        takes = len(inspect.signature(make_inputs).parameters)
    except (TypeError, ValueError):
        takes = 1
    try:
        return make_inputs(rng) if takes else make_inputs()
    except Exception as error:  # noqa: BLE001 - the user's generator failing is reported, not a crash
        raise Unsupported(f"make_inputs raised {type(error).__name__}: {error}") from None


def _user_value(value: Any, rng: np.random.Generator) -> Any:
    if isinstance(value, tuple) and all(isinstance(n, int) and n >= 0 for n in value):
        return rng.standard_normal(value)
    return value


def _scaled(value: Any, rng: np.random.Generator) -> Any:
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return np.sign(value + (value == 0)) * rng.uniform(*LARGE, value.shape)
    return value
