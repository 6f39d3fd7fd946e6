"""Anti-cheat checks and the error statistics of one case, judged on the harness's raw facts.

Each check has a name that appears in the report.  A check compares the new
kernel's facts against the old kernel's at the same dtype and device (and the
float64 oracle for values), so whatever the old kernel legitimately does (alias
an input, produce an Inf) the new one may do too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from verifiers.numeric._tolerance import Stats, compare

__all__ = ["CHECKS", "Failure", "cached", "compare_outputs", "gradient_scale", "judge", "layout_notes", "moved",
           "structure"]

STRUCTURE = "output dtype and shape"
DEVICE = "device of outputs"
MUTATION = "input mutation"
ALIASING = "output aliasing inputs"
DETERMINISM = "determinism (same input twice)"
NONFINITE = "NaN/Inf placement"
CACHED = "cached results (fresh inputs per call)"
SEPARATE = "no reading of the old implementation's output"
LARGE = "large-magnitude inputs"
ERROR = "calibrated error bound"
AUTOGRAD = "same forward with autograd on"
STEPS = "state after several steps"
SETTINGS = "process-wide settings (precision, RNG, modes)"
REUSE = "output memory reused across calls"
MODES = "same values in every run-time mode and thread count"
CHECKS = (ERROR, STRUCTURE, DEVICE, MUTATION, ALIASING, DETERMINISM, NONFINITE, CACHED, SEPARATE, LARGE, AUTOGRAD,
          STEPS, SETTINGS, REUSE, MODES)


@dataclass(frozen=True, slots=True)
class Failure:
    """A named check that the new kernel failed, with what was seen."""

    check: str
    message: str
    old: str = ""
    new: str = ""


def judge(oracle: dict[str, Any], old: dict[str, Any], new: dict[str, Any], *, dtype: str, eps: float,
          factor: float, ulps: float, perturbed: dict[str, Any] | None = None,
          grad_scale: float = 0.0) -> tuple[list[Failure], list[Stats]]:
    """Failures and statistics of ``new`` against ``old`` and the oracle on one case.

    ``perturbed`` is the oracle on inputs moved by one ulp (see ``_tolerance``).
    ``grad_scale`` is the largest oracle gradient over every case of the test (see
    ``gradient_scale``): the floor of the gradient bound is relative to it.
    """
    failures = structure(old["outputs"], new["outputs"]) + _devices(old["outputs"], new["outputs"])
    failures += _mutation(old, new) + _aliasing(old, new) + _reuse(old, new) + _determinism(new)
    failures += _settings(old, new)
    if failures:
        return failures, []
    stats: list[Stats] = []
    failures += compare_outputs(oracle["outputs"], old["outputs"], new["outputs"],
                                moved(perturbed, "outputs", len(new["outputs"])), "output {path}",
                                dtype, eps, factor, ulps, stats)
    failures += _updated(oracle, old, new, dtype, eps, factor, ulps, stats, perturbed)
    failures += _autograd_outputs(oracle, old, new, perturbed, dtype, eps, factor, ulps, stats)
    failures += _gradients(oracle.get("grads"), old.get("grads"), new.get("grads"), dtype, eps, factor, ulps, stats,
                           moved(perturbed, "grads", len(new.get("grads") or [])), grad_scale)
    return failures, stats


def compare_outputs(oracle: list[dict[str, Any]], old: list[dict[str, Any]], new: list[dict[str, Any]],
                    shifted: list[Any], label: str, dtype: str, eps: float, factor: float, ulps: float,
                    stats: list[Stats]) -> list[Failure]:
    """Each output of ``new`` against the oracle with the calibrated bound; ``label`` formats ``{path}``."""
    failures: list[Failure] = []
    for o, a, b, m in zip(oracle, old, new, list(shifted) + [None] * len(new)):
        failures += _values(o, a, b, label.format(path=b["path"]), dtype, eps, factor, ulps, stats, m)
    return failures


def _autograd_outputs(oracle: dict[str, Any], old: dict[str, Any], new: dict[str, Any], perturbed: Any, dtype: str,
                      eps: float, factor: float, ulps: float, stats: list[Stats]) -> list[Failure]:
    """The outputs of the forward pass the gradients came from, judged like the plain forward's."""
    truth, before, after = (f.get("grad_outputs") for f in (oracle, old, new))
    if not isinstance(after, list) or not isinstance(before, list) or not isinstance(truth, list):
        return []
    mismatch = structure(before, after)
    if mismatch:
        first = mismatch[0]
        return [Failure(AUTOGRAD, f"with autograd on, {first.message}", first.old, first.new)]
    if [o["path"] for o in truth] != [o["path"] for o in before]:
        return []  # the old kernel's autograd forward has no oracle to hold the new one to
    found = compare_outputs(truth, before, after, moved(perturbed, "grad_outputs", len(after)),
                            "output {path} with autograd on", dtype, eps, factor, ulps, stats)
    return [Failure(AUTOGRAD, f.message, f.old, f.new) if f.check == ERROR else f for f in found]


def structure(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[Failure]:
    shape = lambda outs: [(o["path"], o.get("dtype", o.get("type")), o.get("shape")) for o in outs]  # noqa: E731
    if shape(old) != shape(new):
        return [Failure(STRUCTURE, "the outputs differ in structure, dtype or shape",
                        _show(shape(old)), _show(shape(new)))]
    plain = [(a["path"], a.get("plain"), b.get("plain")) for a, b in zip(old, new) if not a["tensor"]]
    bad = [(p, x, y) for p, x, y in plain if x != y or type(x) is not type(y)]
    if bad:
        return [Failure(STRUCTURE, f"non-tensor output {bad[0][0]} differs", repr(bad[0][1]), repr(bad[0][2]))]
    return []


def _devices(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[Failure]:
    pairs = [(a["path"], a.get("device"), b.get("device")) for a, b in zip(old, new) if a["tensor"]]
    bad = [p for p in pairs if p[1] != p[2]]
    if bad:
        return [Failure(DEVICE, f"output {bad[0][0]} is on another device", str(bad[0][1]), str(bad[0][2]))]
    return []


def _mutation(old: dict[str, Any], new: dict[str, Any]) -> list[Failure]:
    changed = lambda facts: {i["name"] for i in facts["inputs"] if i["before"] != i["after"]}  # noqa: E731
    extra = sorted(changed(new) - changed(old))
    if extra:
        return [Failure(MUTATION, f"the new kernel modified its input(s) {', '.join(extra)} in place",
                        "inputs unchanged", f"{', '.join(extra)} changed by the call")]
    missing = sorted(changed(old) - changed(new))
    if missing:
        return [Failure(MUTATION, f"the old kernel updates {', '.join(missing)} in place (state such as an "
                        "optimizer buffer) and the new one does not", f"{', '.join(missing)} updated",
                        "left unchanged")]
    return []


def _updated(oracle: dict[str, Any], old: dict[str, Any], new: dict[str, Any], dtype: str, eps: float,
             factor: float, ulps: float, stats: list[Stats], perturbed: dict[str, Any] | None) -> list[Failure]:
    """Inputs both kernels update in place are compared like outputs, against the oracle's update."""
    by_name = lambda facts: {u["path"]: u for u in facts.get("updated") or ()}  # noqa: E731
    truth, before, after = by_name(oracle), by_name(old), by_name(new)
    shifted = by_name(perturbed) if isinstance(perturbed, dict) and "error" not in perturbed else {}
    failures: list[Failure] = []
    for name in sorted(after):
        if name not in truth or name not in before:
            failures.append(Failure(ERROR, f"input {name} is updated in place, but the float64 oracle did not "
                                    "update it the same way", "no comparable update", "updated"))
            continue
        m = shifted.get(name, {}).get("value")
        failures += _values(truth[name], before[name], after[name], f"input {name} after the call", dtype, eps,
                            factor, ulps, stats, m)
    return failures


def _settings(old: dict[str, Any], new: dict[str, Any]) -> list[Failure]:
    """Settings the new kernel changed and the old did not: they outlive the call (a seed reset, TF32 on)."""
    def changed(facts: dict[str, Any]) -> dict[str, tuple[Any, Any]] | None:
        found = facts.get("settings", [])
        if not isinstance(found, list) or not all(isinstance(f, list) and len(f) == 3 for f in found):
            return None
        return {str(name): (before, after) for name, before, after in found}

    before, after = changed(old) or {}, changed(new)
    if after is None:
        return [Failure(SETTINGS, "the new worker reported its process-wide settings in a malformed way",
                        "a list of changed settings", "malformed")]
    extra = sorted(set(after) - set(before))
    if not extra:
        return []
    shown = ", ".join(f"{name} from {after[name][0]!r} to {after[name][1]!r}" for name in extra[:4])
    more = f" (and {len(extra) - 4} more)" if len(extra) > 4 else ""
    return [Failure(SETTINGS, f"the new kernel changed {shown}{more}; such settings outlive the call and change "
                    "every later computation of the process", "settings left as they were",
                    ", ".join(f"{name} = {after[name][1]!r}" for name in extra[:4]))]


def _aliasing(old: dict[str, Any], new: dict[str, Any]) -> list[Failure]:
    extra = sorted({tuple(p) for p in new["aliases"]} - {tuple(p) for p in old["aliases"]})
    if extra:
        path, name = extra[0]
        return [Failure(ALIASING, f"output {path} shares memory with input {name} (the old kernel's did not)",
                        "fresh output memory", f"{path} aliases {name}")]
    return []


def _reuse(old: dict[str, Any], new: dict[str, Any]) -> list[Failure]:
    pairs = lambda facts: {tuple(p) for p in facts.get("reused") or () if isinstance(p, list)}  # noqa: E731
    extra = sorted(pairs(new) - pairs(old))
    if extra:
        second, first = extra[0]
        return [Failure(REUSE, f"a second call returned {second} in the memory of the first call's {first}: each "
                        "call hands out, or overwrites, a result its caller still holds (a preallocated output "
                        "buffer or a cached result)",
                        "fresh output memory per call", f"{second} of call 2 is {first} of call 1")]
    return []


def layout_notes(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[str]:
    """Outputs that are no longer contiguous: a note, not a failure.

    Code calling ``.view()`` on such an output would now raise (loudly, not silently),
    and fused kernels legitimately return strided outputs (SDPA's flash backend on CUDA).
    """
    return [f"output {b['path']} is not contiguous where the old kernel's was: code calling .view() on it would "
            "raise (use .reshape() or .contiguous())" for a, b in zip(old, new)
            if a.get("tensor") and a.get("contiguous") and b.get("contiguous") is False]


def _determinism(new: dict[str, Any]) -> list[Failure]:
    first = [digest(o.get("value")) for o in new["outputs"]]
    if first != new["repeat"]:
        return [Failure(DETERMINISM, "a second call on the same inputs gave a different output",
                        "", "first and second call differ")]
    return []


def moved(perturbed: dict[str, Any] | None, key: str, count: int) -> list[Any]:
    """The perturbed oracle's values for outputs or gradients, or ``None`` where unavailable."""
    found = perturbed.get(key) if isinstance(perturbed, dict) and "error" not in perturbed else None
    if not isinstance(found, list) or len(found) != count:
        return [None] * count
    return [f.get("value") if isinstance(f, dict) else None for f in found]


def _values(oracle: dict[str, Any], old: dict[str, Any], new: dict[str, Any], what: str, dtype: str, eps: float,
            factor: float, ulps: float, stats: list[Stats], shifted: Any = None, scale: float = 0.0) -> list[Failure]:
    if not new.get("tensor", True):
        return []
    a, b, truth = old["value"], new["value"], oracle["value"]
    if not new.get("floating", True):
        if not np.array_equal(a, b):
            return [Failure(ERROR, f"{what} (non-floating) differs from the old kernel's", _head(a), _head(b))]
        return []
    placement = _placement(truth, a, b, what)
    if placement:
        return placement
    stat = compare(what, new.get("dtype", dtype), eps, truth, a, b, factor, ulps,
                   shifted if isinstance(shifted, np.ndarray) else None, scale)
    stats.append(stat)
    if not stat.ok:
        return [Failure(ERROR, f"{what}: new max abs error {stat.new_max:.3g} exceeds the bound {stat.bound:.3g} "
                        f"= {factor:g} x (old error {stat.old_max:.3g} + 1-ulp input sensitivity "
                        f"{stat.sensitivity:.3g}) + {ulps:g} ulps x eps {eps:.3g} x scale "
                        f"{stat.scale:.3g} (ratio {stat.ratio:.3g}; RMSE old {stat.old_rmse:.3g}, new "
                        f"{stat.new_rmse:.3g})", f"max abs error {stat.old_max:.3g}", f"max abs error {stat.new_max:.3g}")]
    return []


def _placement(truth: np.ndarray, old: np.ndarray, new: np.ndarray, what: str) -> list[Failure]:
    """NaN/Inf of new where old has them, except new finite where old overflowed but the oracle did not."""
    kinds = [_kind(x) for x in (truth, old, new)]
    bad = (kinds[2] != kinds[1]) & ~((kinds[2] == 0) & (kinds[0] == 0))
    if bad.any():
        at = tuple(int(i) for i in np.argwhere(bad)[0])
        names = {0: "finite", 1: "NaN", 2: "+Inf", 3: "-Inf"}
        return [Failure(NONFINITE, f"{what}: {int(bad.sum())} element(s) non-finite where the old kernel's were not "
                        f"(or the reverse), first at index {list(at)}",
                        f"{names[int(kinds[1][at])]} (oracle {names[int(kinds[0][at])]})", names[int(kinds[2][at])])]
    return []


def _kind(values: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(values), 1, np.where(np.isposinf(values), 2, np.where(np.isneginf(values), 3, 0)))


def _gradients(oracle: Any, old: Any, new: Any, dtype: str, eps: float, factor: float, ulps: float,
               stats: list[Stats], shifted: list[Any], floor_scale: float = 0.0) -> list[Failure]:
    if new is None or old is None or oracle is None:
        return []
    old_error, new_error = _grad_error(old) or _grad_error(oracle), _grad_error(new)
    if new_error and not old_error:
        return [Failure(ERROR, f"the backward pass of the new kernel raised {new_error} (the old one's did not)",
                        "gradients computed", new_error)]
    if old_error:
        return []
    names = lambda gs: [(g["name"], g["dtype"], g["shape"]) for g in gs]  # noqa: E731
    if names(old) != names(new):
        return [Failure(STRUCTURE, "the gradients differ in inputs, dtype or shape", _show(names(old)),
                        _show(names(new)))]
    failures: list[Failure] = []
    scale = max(_largest(oracle), floor_scale)
    for o, a, b, m in zip(oracle, old, new, shifted + [None] * len(new)):
        failures += _values(o, a, b, f"gradient d/d{b['name']}", dtype, eps, factor, ulps, stats, m, scale)
    return failures


def _largest(grads: Any) -> float:
    if not isinstance(grads, list):
        return 0.0  # no gradients, or the backward pass raised (a dict with "error")
    return max((float(np.max(np.abs(v), initial=0.0, where=np.isfinite(v))) for v in
                (g.get("value") for g in grads if isinstance(g, dict)) if isinstance(v, np.ndarray)), default=0.0)


def gradient_scale(oracles: list[dict[str, Any]]) -> float:
    """The largest oracle gradient over every case: the kernel's gradient scale.

    At a degenerate shape a gradient can be exactly zero (d/dx of a layer norm over a
    size-1 dimension) while a fused backward leaves rounding noise of the kernel's usual
    gradient size; relative to that case's own zero scale, any noise would fail.
    """
    return max((_largest(o.get("grads")) for o in oracles if isinstance(o, dict) and "error" not in o), default=0.0)


def _grad_error(grads: Any) -> str:
    if isinstance(grads, dict) and "error" in grads:
        return f"{grads['error']['type']}: {grads['error']['message']}"
    return ""


def digest(value: Any) -> str | None:
    """The digest the harness reports for a repeated output (sha256 of float64 bytes)."""
    if isinstance(value, np.ndarray):
        return hashlib.sha256(np.ascontiguousarray(value, dtype=np.float64).tobytes()).hexdigest()
    return None


def cached(old_runs: list[dict[str, Any]], new_runs: list[dict[str, Any]]) -> tuple[int, int] | None:
    """Indices of two cases (different inputs) where new gave identical outputs but old did not."""
    seen: dict[tuple[Any, ...], int] = {}
    for index, (old, new) in enumerate(zip(old_runs, new_runs)):
        key = tuple(digest(o.get("value")) for o in new["outputs"])
        if None in key:
            continue
        if key in seen:
            earlier = seen[key]
            before = [digest(o.get("value")) for o in old_runs[earlier]["outputs"]]
            same_inputs = _inputs_of(new_runs[earlier]) == _inputs_of(new)
            if not same_inputs and before != [digest(o.get("value")) for o in old["outputs"]]:
                return earlier, index
        seen[key] = index
    return None


def _inputs_of(facts: dict[str, Any]) -> list[Any]:
    return [i.get("before") for i in facts.get("inputs", [])]


def _show(value: Any) -> str:
    return repr(value)[:300]


def _head(values: np.ndarray) -> str:
    return np.array2string(np.asarray(values).reshape(-1)[:6], precision=4)
