"""Inputs for a kernel check, generated with numpy in the trusted process.

A kernel's signature is read from its source (never imported here).  Parameters
annotated as arrays (``torch.Tensor``, ``jax.Array``, ``torch.LongTensor``,
jaxtyping's ``Int[Tensor, "batch"]`` ...: ``_annotations`` lists them) and
unannotated required parameters are tensors; parameters with defaults keep them.
Without a ``make_inputs``:

* Shapes: a parameter with jaxtyping dims gets a shape from them, sizes shared by
  name across the signature (``_annotations`` says how); any other tensor gets the
  case's shape, except names that read as per-feature parameters (``weight``,
  ``bias``, ``gamma``, ``beta``, ``scale``) which get its last dimension; where the
  old kernel's body joins the parameters' dims (``a @ b``, ``x @ w + bias``,
  ``einsum``), ``_shapes`` gives each its own shape instead (``cases(shaped=...)``).
* Dtypes: an annotated dtype decides (``Bool``/``BoolTensor`` boolean, ``Int``/
  ``LongTensor``/... int64, ``Float``/... float); without one, names ``mask`` and
  ``*_mask`` are boolean and the rest float.  Booleans are ~80% True with the first
  element True, so a masked row is never all masked out.
* Integer values are in ``[0, K)``: ``K`` is the smallest size among the dims named
  in float parameters and in no integer parameter (``classes`` for ``logits: Float[
  Tensor, "batch classes"]`` and ``targets: Int[Tensor, "batch"]``), else the smallest
  last dim among the float tensors (else the case's), so targets and token ids index
  safely; ``K - 1`` occurs in every array of two or more elements.  To declare another
  range, give the array in ``make_inputs``: ``{"ids": rng.integers(0, 50, (4, 9))}``.
* Cases: the fixed ``_DEFAULT_SHAPES`` (size-1, odd, large-ish and transposed; standard
  normal, ``|x|`` in ``LARGE``, ``WIDE``: ``sign * 10**uniform`` over that range, or
  ``SMALL`` times standard normal, where an eps in a norm is no longer negligible)
  plus two shapes drawn from the seed, so no published list of shapes can be gamed.
  A case the old kernel rejects (a rank-1 input to a transpose) is tried again at
  another rank with ``substitutes`` (the verifier's ``_substitute``): the same case
  seed, layout and magnitude, so each planned case is compared at some shape.

A ``make_inputs`` in the property file is called as ``make_inputs(rng)`` (or with
no argument) with a seeded ``numpy.random.Generator`` and returns one case or a list
of cases; a case is a dict from parameter name to a numpy array (float arrays are
cast to each configured dtype, integer and boolean arrays kept as they are), a
shape tuple (a random float tensor of that shape), or a plain Python value passed
as is.  The key ``"__init__"`` gives keyword arguments for an ``nn.Module``'s
constructor.  Transposed (non-contiguous), large-, wide- and small-magnitude variants of
the first generated cases are added here.

Beside these, ``_threshold_cases`` adds cases on both sides of every threshold the old or
new kernel compares its inputs against (``x.shape[-1] >= 4096``, ``x.norm() > 1e4``),
built with ``build`` from the same machinery (named dims pinned, a larger element cap)
and marked with ``Case.threshold``; ``_plan`` puts them after these.
"""

from __future__ import annotations

import ast
import inspect
import math
import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from verifiers.numeric import _annotations
from verifiers.numeric._annotations import CAP, Dims

__all__ = ["LARGE", "SMALL", "WIDE", "Case", "Param", "Unsupported", "build", "cases", "eps", "framework",
           "parameters", "resized", "substitutes"]

_PER_FEATURE = frozenset({"weight", "bias", "gamma", "beta", "scale", "g", "b"})
# (shape, seed offset, layout, magnitude); large-ish, odd, size-1 and non-contiguous shapes.
_DEFAULT_SHAPES: tuple[tuple[tuple[int, ...], int, str | None, str], ...] = (
    ((1,), 0, None, "normal"), ((7,), 0, None, "normal"), ((1, 1), 0, None, "normal"),
    ((3, 5), 0, None, "normal"), ((5, 1, 9), 0, None, "normal"), ((2, 3, 7, 16), 0, None, "normal"),
    ((1, 2, 1, 8), 0, None, "normal"), ((4, 37, 96), 0, None, "normal"),
    ((3, 5), 1, "transposed", "normal"), ((2, 3, 7, 16), 1, "transposed", "normal"),
    ((2, 3, 7, 16), 2, None, "normal"), ((3, 5), 2, None, "normal"),
    ((4, 37, 96), 3, None, "large"), ((2, 3, 7, 16), 3, None, "large"),
    ((4, 37, 96), 4, None, "wide"), ((2, 3, 7, 16), 4, "transposed", "wide"),
    ((4, 37, 96), 7, None, "small"),
)
# Seed-drawn sizes: tiny, odd primes (they leave vector tails) and 64/128 (whole vector widths).
_DRAWN_SIZES = (1, 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 64, 128)
LARGE = (90.0, 150.0)
# Small enough that an eps (1e-5, 1e-6) is no longer negligible: where an eps sits in a norm shows.
SMALL = 1e-3
WIDE = (1e-4, 1e2)
_STRINGS = re.compile(r"'[^']*'|\"[^\"]*\"")


class Unsupported(Exception):
    """Inputs cannot be generated for this kernel; the message says what to state instead."""


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter; ``dims`` are its jaxtyping dims (``"*name"`` a variadic group), None if not stated."""

    name: str
    kind: str  # "tensor", "index" (integers), "mask" (booleans), "feature", "default", "scalar"
    keyword: bool = False
    dims: Dims | None = None


@dataclass(frozen=True, slots=True)
class Case:
    """One call: arguments as harness argument dicts (arrays in float64 or their own dtype)."""

    label: str
    seed: int
    args: tuple[dict[str, Any], ...]
    kwargs: tuple[tuple[str, dict[str, Any]], ...] = ()
    init: tuple[tuple[str, Any], ...] = ()
    # "normal", "large", "wide", "small"; "scaled: <statistic> near <bound>" for a mined magnitude threshold
    magnitude: str = "normal"
    layout: str | None = None
    shapes: tuple[tuple[int, ...], ...] = field(default=())
    # The mined threshold this case sits beside ("threshold x.shape[-1] >= 4096 (line 3, new kernel)"), "" if
    # none, and where beside it ("x.shape[-1] = 4095").
    threshold: str = ""
    point: str = ""
    # The default case shape this case was generated at (``cases``; () for declared and threshold cases),
    # and, for a substitute (``substitutes``), the label of the generated case it stands in for.
    origin: tuple[int, ...] = ()
    replaces: str = ""

    def at(self, dtype: str) -> "Case":
        """This case with every float array rounded to ``dtype`` (kept as float64 for the oracle)."""
        return replace(self, args=tuple(_round(a, dtype) for a in self.args),
                       kwargs=tuple((k, _round(v, dtype)) for k, v in self.kwargs))

    def with_array(self, name: str, array: np.ndarray, seed: int | None = None) -> "Case":
        """This case with parameter ``name``'s array replaced (a float array stays float), label and shapes redone."""
        def swap(arg: dict[str, Any]) -> dict[str, Any]:
            return {**arg, "array": np.asarray(array, dtype=np.float64) if arg.get("float") else np.asarray(array)} \
                if arg.get("name") == name and "array" in arg else arg

        args, kwargs = tuple(swap(a) for a in self.args), tuple((k, swap(v)) for k, v in self.kwargs)
        arrays = [a for a in [*args, *(v for _, v in kwargs)] if "array" in a]
        return replace(self, args=args, kwargs=kwargs, label=_label(arrays),
                       shapes=tuple(tuple(a["array"].shape) for a in arrays),
                       seed=self.seed if seed is None else seed)

    def perturbed(self, dtype: str) -> "Case":
        """This case (already at ``dtype``) with every float input moved by up to one ulp of ``dtype``."""
        rng = np.random.default_rng([self.seed, 104729])
        return replace(self, args=tuple(_nudge(a, dtype, rng) for a in self.args),
                       kwargs=tuple((k, _nudge(v, dtype, rng)) for k, v in self.kwargs))


def resized(case: Case, shapes: dict[str, tuple[int, ...]]) -> Case:
    """``case`` with each named array of another shape drawn afresh at ``shapes`` (label and shapes redone).

    Floats are standard normal, booleans ~80% True (the first True), integers below
    the array's own bound: the same kinds of values ``cases`` makes.
    """
    rng = np.random.default_rng([case.seed, 5381])
    found = case
    for arg in [*case.args, *(v for _, v in case.kwargs)]:
        shape, array = shapes.get(arg.get("name", "")), arg.get("array")
        if shape is None or not isinstance(array, np.ndarray) or array.shape == shape:
            continue
        if arg.get("float"):
            fresh = rng.standard_normal(shape)
        elif array.dtype == np.bool_:
            fresh = np.asarray(rng.random(shape) < 0.8)
            fresh.reshape(-1)[:1] = True
        else:
            fresh = rng.integers(0, int(array.max(initial=0)) + 1, shape, dtype=array.dtype)
        found = found.with_array(arg["name"], np.asarray(fresh))
    return found


def _nudge(arg: dict[str, Any], dtype: str, rng: np.random.Generator) -> dict[str, Any]:
    if not arg.get("float"):
        return arg
    array = arg["array"]
    # np.asarray throughout: arithmetic on a 0-d array returns a numpy scalar, which is no longer an array
    return {**arg, "array": np.asarray(array * (1.0 + eps(dtype) * rng.uniform(-1.0, 1.0, array.shape)))}


def _round(arg: dict[str, Any], dtype: str) -> dict[str, Any]:
    if not arg.get("float"):
        return arg
    return {**arg, "array": np.asarray(arg["array"].astype(_np_dtype(dtype)).astype(np.float64))}


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
    found = _annotations.read(arg.annotation, arg.arg)
    if has_default and found is None:
        return Param(arg.arg, "default", keyword)
    if note and found is None and "Optional" not in note:
        return Param(arg.arg, "scalar", keyword)
    dtype, dims = (found.dtype, found.dims) if found is not None else (None, None)
    name = arg.arg.lower()
    if dtype in ("int", "bool"):
        return Param(arg.arg, "index" if dtype == "int" else "mask", keyword, dims)
    if dtype is None and (name == "mask" or name.endswith("_mask")):
        return Param(arg.arg, "mask", keyword, dims)
    return Param(arg.arg, "feature" if name in _PER_FEATURE else "tensor", keyword, dims)


def framework(annotations: str, module_text: str) -> str | None:
    """``"torch"`` or ``"jax"`` from the kernel's annotations, else from the module's imports."""
    types = _STRINGS.sub("", annotations)  # jaxtyping dim names are no evidence either way
    if any(t in types for t in ("torch", "Tensor")):
        return "torch"
    if any(t in types for t in ("jax", "jnp", "Array")):
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
          last_dim: int | None = None,
          shaped: Callable[[tuple[int, ...]], dict[str, tuple[int, ...]]] | None = None) -> list[Case]:
    """The cases to run: defaults from the signature, or the user's ``make_inputs`` plus variants.

    ``last_dim`` fixes the last dimension of the default shapes (a module built with that width);
    ``shaped`` gives undeclared parameters their own shape for each default shape (``_shapes``).
    """
    if make_inputs is not None:
        return _user_cases(params, seed, make_inputs)
    scalars = [p.name for p in params if p.kind == "scalar"]
    if scalars:
        raise Unsupported(
            f"parameter(s) {', '.join(scalars)} are annotated as non-tensor values without defaults; "
            "give them values with kernel(..., make_inputs=lambda rng: {...}) in the property file")
    found = []
    for shape, offset, layout, magnitude in _DEFAULT_SHAPES + _drawn_shapes(seed):
        shape = shape[:-1] + (last_dim,) if last_dim else shape
        rng = np.random.default_rng([seed, offset, *shape])
        values = _default_values(params, shape, rng, magnitude, planned=shaped(shape) if shaped else None)
        found.append(replace(_case(params, values, seed + offset, layout, magnitude, {}), origin=shape))
    return found


def substitutes(params: list[Param], case: Case, seed: int, *, last_dim: int | None = None,
                shaped: Callable[[tuple[int, ...]], dict[str, tuple[int, ...]]] | None = None,
                limit: int = 2) -> list[Case]:
    """At most ``limit`` cases to try, in order, in place of a generated ``case`` outside the old kernel's domain.

    Each is ``case`` made again by ``cases`` at a case shape of another rank
    (``_other_ranks``): the same case seed and random stream (keyed by the shape, as
    there), the same magnitude class, the plan's shaping (``shaped``) at the new
    shape, and a transposed case stays non-contiguous.  Declared and threshold cases
    have none: their shapes are the user's or the threshold's.
    """
    if not case.origin or case.threshold:
        return []
    found: list[Case] = []
    for shape in _other_ranks(case.origin, last_dim):
        rng = np.random.default_rng([seed, case.seed - seed, *shape])
        values = _default_values(params, shape, rng, case.magnitude, planned=shaped(shape) if shaped else None)
        made = replace(_case(params, values, case.seed, case.layout, case.magnitude, dict(case.init)), origin=shape,
                       replaces=case.label)
        if _strided(made) == _strided(case) and made.shapes not in {case.shapes, *(f.shapes for f in found)}:
            found.append(made)
    return found[:limit]


def _other_ranks(shape: tuple[int, ...], last_dim: int | None) -> list[tuple[int, ...]]:
    """A leading dim of 2 prepended (the next rank up), then the leading dim dropped, or for rank 1 two dims prepended.

    Up first: a transpose of the last two dims, a batched matmul, need a rank more
    than the smallest cases have; down for a kernel that handles fewer dims than the
    largest.  Each stays under ``CAP`` by halving its largest leading sizes, never the
    last one (a module's width, ``last_dim``, is fixed).
    """
    others = [(2, *shape), shape[1:] if len(shape) > 1 else (2, 3, *shape)]
    return [_capped(s) for s in others if s and (last_dim is None or s[-1] == last_dim)]


def _capped(shape: tuple[int, ...]) -> tuple[int, ...]:
    sizes = list(shape)
    while math.prod(sizes) > CAP and len(sizes) > 1 and max(sizes[:-1]) > 1:
        at = max(range(len(sizes) - 1), key=lambda i: sizes[i])
        sizes[at] = max(1, (sizes[at] // 2) | 1)
    return tuple(sizes)


def _strided(case: Case) -> bool:
    return any("layout" in a for a in [*case.args, *(v for _, v in case.kwargs)])


def _drawn_shapes(seed: int) -> tuple[tuple[tuple[int, ...], int, str | None, str], ...]:
    """Two shapes of rank 1-4 (the second 2-4, transposed) drawn from the seed, at most ``CAP`` elements."""
    rng = np.random.default_rng([seed, 2718])
    drawn = []
    for offset, layout, lowest in ((5, None, 1), (6, "transposed", 2)):
        shape: list[int] = []
        for _ in range(int(rng.integers(lowest, 5))):
            # A size-1 dim in the transposed shape could leave nothing to transpose.
            fits = [s for s in _DRAWN_SIZES if math.prod(shape) * s <= CAP and (s > 1 or layout is None)]
            shape += [int(rng.choice(fits))] if fits else []
        drawn.append((tuple(int(s) for s in rng.permutation(shape)), offset, layout, "normal"))
    return tuple(drawn)


def build(params: list[Param], shape: tuple[int, ...], seed: int, *, layout: str | None = None,
          fixed: dict[str, int | tuple[int, ...]] | None = None, cap: int = CAP,
          scale: tuple[str, float] | None = None, magnitude: str = "normal") -> Case:
    """One case of standard normal values at ``shape``, as ``cases`` builds its defaults.

    ``fixed`` pins jaxtyping dims (see ``_annotations.shapes``), ``cap`` bounds each
    tensor's elements, and ``scale`` multiplies one parameter's floats by a factor
    (``("x", 250.0)``): how ``_threshold_cases`` puts inputs on both sides of a threshold.
    ``magnitude`` labels the case's class (the verifier's gradient floor is per class).
    """
    rng = np.random.default_rng([seed, 31337, *shape])
    values = _default_values(params, shape, rng, "normal", fixed, cap)
    if scale is not None and scale[0] in values and values[scale[0]].dtype.kind == "f":
        values[scale[0]] = np.asarray(values[scale[0]] * scale[1])
    return _case(params, values, seed, layout, magnitude, {})


def _default_values(params: list[Param], shape: tuple[int, ...], rng: np.random.Generator, magnitude: str,
                    fixed: dict[str, int | tuple[int, ...]] | None = None, cap: int = CAP,
                    planned: dict[str, tuple[int, ...]] | None = None) -> dict[str, Any]:
    used = [p for p in params if p.kind != "default"]
    declared, named = _annotations.shapes({p.name: p.dims for p in used if p.dims is not None}, shape, rng,
                                          fixed, cap)
    declared = {**(planned or {}), **declared}  # jaxtyping dims are the user's statement: they win
    values = {p.name: _default_value(p, declared.get(p.name), shape, rng, magnitude)
              for p in used if p.kind != "index"}
    bound = _index_bound(used, values, named, shape)
    values.update({p.name: _indices(declared.get(p.name, shape), bound, rng) for p in used if p.kind == "index"})
    return values


def _default_value(param: Param, declared: tuple[int, ...] | None, shape: tuple[int, ...],
                   rng: np.random.Generator, magnitude: str) -> np.ndarray:
    own = declared if declared is not None else shape
    if param.kind == "mask":
        mask = np.asarray(rng.random(own) < 0.8)
        if mask.size:
            mask.reshape(-1)[0] = True
        return mask
    if param.kind == "feature":
        return np.asarray(1.0 + 0.1 * rng.standard_normal(own if declared is not None else shape[-1:]))
    return np.asarray(_floats(rng, own, magnitude))


def _index_bound(params: list[Param], values: dict[str, Any], named: dict[str, int], shape: tuple[int, ...]) -> int:
    """``K`` of the module docstring: integers in ``[0, K)`` index every float tensor's own dims."""
    in_indices = {d for p in params if p.kind == "index" and p.dims for d in p.dims}
    own = [named[d] for p in params if p.kind in ("tensor", "feature") and p.dims for d in p.dims
           if d in named and d not in in_indices and not str(d).startswith("_")]
    lasts = [values[p.name].shape[-1] for p in params if p.kind in ("tensor", "feature") and values[p.name].ndim]
    return max(1, min(own or lasts or [shape[-1] if shape else 1]))


def _indices(shape: tuple[int, ...], bound: int, rng: np.random.Generator) -> np.ndarray:
    ids = np.asarray(rng.integers(0, bound, shape, dtype=np.int64))
    if ids.size > 1:
        ids.reshape(-1)[rng.integers(ids.size)] = bound - 1  # the top index is where off-by-one rewrites break
    return ids


def _floats(rng: np.random.Generator, shape: tuple[int, ...], magnitude: str) -> np.ndarray:
    if magnitude == "large":
        return rng.uniform(*LARGE, shape) * rng.choice([-1.0, 1.0], shape)
    if magnitude == "wide":
        return _wide(rng, shape)
    if magnitude == "small":
        return SMALL * rng.standard_normal(shape)
    return rng.standard_normal(shape)


def _wide(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    exponents = rng.uniform(math.log10(WIDE[0]), math.log10(WIDE[1]), shape)
    return rng.choice([-1.0, 1.0], shape) * 10.0 ** exponents


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
    return Case(_label(arrays), seed, tuple(args), tuple(kwargs), tuple(sorted(init.items())), magnitude, layout,
                tuple(tuple(a["array"].shape) for a in arrays))


def _label(arrays: list[dict[str, Any]]) -> str:
    return ", ".join(f"{a['name']}: {a['array'].dtype.name if not a['float'] else 'float'}{list(a['array'].shape)}"
                     + (" transposed" if a.get("layout") else "") for a in arrays)


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
                wide = {k: _widened(v, rng) for k, v in values.items()}
                found.append(_case(params, wide, case_seed + 60, None, "wide", init))
                small = {k: _shrunk(v) for k, v in values.items()}
                found.append(_case(params, small, case_seed + 70, None, "small", init))
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
        return np.asarray(np.sign(value + (value == 0)) * rng.uniform(*LARGE, value.shape))
    return value


def _shrunk(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return np.asarray(value * SMALL)
    return value


def _widened(value: Any, rng: np.random.Generator) -> Any:
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return np.asarray(np.sign(value + (value == 0)) * np.abs(_wide(rng, value.shape)))
    return value
