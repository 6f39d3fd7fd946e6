"""Cases on both sides of each mined ``Threshold``, and the lines that report which were compared.

The kinds of threshold and the cases each gets are described in ``_thresholds``.

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
from dataclasses import replace
from typing import Any

import numpy as np

from verifiers.numeric._inputs import Case, Param, Unsupported, build
from verifiers.numeric._threshold_reads import _FLOATS, _TEST
from verifiers.numeric._threshold_stats import _Stat
from verifiers.numeric._thresholds import Threshold, Unreachable

__all__ = ["MAX_CASES", "MAX_ELEMENTS", "MAX_RANK", "extra_dtypes", "report", "threshold_cases"]

MAX_ELEMENTS = 1 << 21  # per tensor: 16 MiB of float64, several copies of which a worker holds at once
MAX_RANK = 16
MAX_CASES = 60
_DELTA = 0.01  # magnitudes: far enough from the constant that rounding to bfloat16 (0.4%) keeps the side


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
