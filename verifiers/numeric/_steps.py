"""Several steps of a stateful kernel (an optimizer step): state carried, compared after every step.

One call shows the state a kernel writes, not what that state does next: a buffer
kept in lower precision, a bias correction that ignores the step, or rounding that
compounds show only over steps.  The trusted side plans the steps (fresh values for
every input that is not carried, drawn around the first step's so that magnitudes
keep their class and signs their domain), the harness runs all steps in one worker
call per side, and each step is judged like a single call: outputs and state
against the float64 oracle's own trajectory, with the calibrated bound.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from verifiers.numeric._checks import STEPS, Failure, compare_outputs, moved, structure
from verifiers.numeric._inputs import Case
from verifiers.numeric._tolerance import Stats

__all__ = ["carry_paths", "judge", "later_steps"]


def carry_paths(carry: tuple[tuple[str, int | str | None], ...]) -> dict[str, str]:
    """``kernel(carry=...)`` as parameter name -> the harness's output path (``out``, ``out[0]``, ``out['m']``)."""
    return {name: "out" if output is None else f"out[{output!r}]" for name, output in carry}


def later_steps(case: Case, count: int) -> list[Case]:
    """The arguments of steps 2..``count``: each float input rescaled elementwise by a factor in [0.5, 1.5]."""
    rng = np.random.default_rng([case.seed, 7561])
    return [replace(case, args=tuple(_fresh(a, rng) for a in case.args),
                    kwargs=tuple((k, _fresh(v, rng)) for k, v in case.kwargs)) for _ in range(count - 1)]


def _fresh(arg: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    if not arg.get("float"):
        return arg
    array = arg["array"]
    # np.asarray: a 0-d array times a numpy scalar is a scalar, which would no longer travel as an array
    return {**arg, "array": np.asarray(array * rng.uniform(0.5, 1.5, array.shape))}


def judge(oracle: dict[str, Any], old: dict[str, Any], new: dict[str, Any], perturbed: dict[str, Any] | None, *,
          dtype: str, eps: float, factor: float, ulps: float) -> tuple[list[Failure], list[Stats]]:
    """Failures at the first step where new leaves the bound, and the statistics of the last step."""
    count = len(old["steps"])
    if len(new["steps"]) != count:
        return [Failure(STEPS, f"the new kernel completed {len(new['steps'])} of the {count} steps the old one did",
                        f"{count} steps", f"{len(new['steps'])} steps")], []
    stats: list[Stats] = []
    for number, (truth, before, after) in enumerate(zip(oracle["steps"], old["steps"], new["steps"]), start=1):
        shifted = _step(perturbed, number - 1)
        where = f"after step {number} of {count}"
        stats = []
        failures = _shapes(before, after, where)
        for key, label in (("outputs", f"output {{path}} {where}"), ("state", f"input {{path}} {where}")):
            if failures:
                break
            failures += compare_outputs(truth[key], before[key], after[key], moved(shifted, key, len(after[key])),
                                        label, dtype, eps, factor, ulps, stats)
        if failures:
            return [Failure(STEPS, f.message, f.old, f.new) for f in failures], stats
    return [], stats


def _shapes(before: dict[str, Any], after: dict[str, Any], where: str) -> list[Failure]:
    for key in ("outputs", "state"):
        found = structure(before[key], after[key])
        if found:
            return [Failure(f.check, f"{key} {where}: {f.message}", f.old, f.new) for f in found]
    return []


def _step(perturbed: dict[str, Any] | None, index: int) -> dict[str, Any] | None:
    if not isinstance(perturbed, dict) or "error" in perturbed or index >= len(perturbed.get("steps", [])):
        return None
    return perturbed["steps"][index]
