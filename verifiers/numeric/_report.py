"""The PASSED report of a kernel check, and the tally of what ran that it is written from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from verifiers.numeric import _checks, _modes
from verifiers.numeric._inputs import Case
from verifiers.numeric._tolerance import Stats

if TYPE_CHECKING:
    from verifiers.numeric._plan import Plan

__all__ = ["Tally", "counts", "how", "lines"]

_HOW = ("state the kernel's inputs in the property file: kernel('{target}', make_inputs=lambda rng: "
        "{{'x': rng.standard_normal((4, 8)), ...}})")


@dataclass
class Tally:
    """What a check compared so far: counts, statistics, what was skipped, where each side ran."""

    evaluated: int = 0
    skipped: list[str] = field(default_factory=list)
    stats: list[Stats] = field(default_factory=list)
    shapes: set[tuple[tuple[int, ...], ...]] = field(default_factory=set)
    seeds: set[int] = field(default_factory=set)
    layouts: set[str] = field(default_factory=set)
    trajectories: int = 0
    notes: set[str] = field(default_factory=set)
    stateful: bool = False
    mode_runs: list[_modes.Variant] = field(default_factory=list)
    mode_skipped: list[str] = field(default_factory=list)
    ran: dict[str, set[str]] = field(default_factory=lambda: {"old": set(), "new": set()})
    # The comparisons that agreed (case at its dtype, dtype, device) and the cases the old kernel
    # raised on: for the thresholds' report and the coverage replay of new conditions.
    compared: list[tuple[Case, str, str]] = field(default_factory=list)
    rejected: list[Case] = field(default_factory=list)
    # Generated cases the old kernel rejected that were replaced: the substitute, and why the original was rejected.
    substituted: list[tuple[Case, str]] = field(default_factory=list)

    def generated(self) -> tuple[int, int]:
        """Of the comparisons planned on generated cases (threshold cases apart), how many ran and how many in all."""
        ran = sum(1 for case, _, _ in self.compared if not case.threshold)
        return ran, ran + sum(1 for case in self.rejected if not case.threshold)


def counts(tally: Tally, runs: int = 1, what: str = "generated cases") -> str:
    """``N of M generated cases ran (K substituted)``; ``runs`` is the dtypes x devices each case is compared on."""
    ran, planned = tally.generated()
    per = f" (counted per dtype and device: {runs} runs a case)" if runs > 1 else ""
    return f"{ran} of {planned} {what} ran{per} ({len(tally.substituted)} substituted)"


def lines(target: str, tally: Tally, plan: Plan, devices: list[str], versions: dict[str, str],
          pids: dict[str, set[str]], seed: int, last: tuple[Case, dict[str, Any]] | None) -> list[str]:
    """The lines of a PASSED detail: what was compared, the worst errors, the checks, modes and devices."""
    worst = max(tally.stats, key=lambda s: s.ratio, default=None)
    per = _worst_per_quantity(tally.stats)
    spec = plan.spec
    found = [
        f"{target}: no numeric difference beyond the calibrated bound in {tally.evaluated} "
        f"comparisons ({len(tally.shapes)} shapes, {len(tally.seeds)} seeds, dtypes {', '.join(spec.dtypes)}, "
        f"devices {', '.join(devices)}, layouts {', '.join(sorted(tally.layouts))}; "
        f"{'forward and backward' if spec.grad else 'forward only'}; bound = {spec.factor:g} x (old error + "
        f"1-ulp input sensitivity) + {spec.ulps:g} ulps x eps x max|oracle|; seed {seed})",
        f"worst ratio to bound: {worst.ratio:.3g} ({worst.what}, {worst.dtype})" if worst else
        "no floating outputs were compared (exact comparison only)",
        *per,
        f"checks passed: {', '.join(_checks.CHECKS)} (old worker {_ids(pids['old'])}, new worker "
        f"{_ids(pids['new'])}: separate processes)",
        f"versions: {', '.join(f'{k} {v}' for k, v in sorted(versions.items()))}",
    ]
    if tally.trajectories:
        found.append(f"state carried over {spec.steps} steps in {tally.trajectories} comparisons: outputs and "
                     "state within the bound after every step")
    elif spec.steps > 1 and last is not None:
        found += _carry_hint(target, *last)
    found += _modes.summary(plan.framework, tally.mode_runs, spec.dtypes[0], tally.mode_skipped)
    found.append(f"ran on: old {', '.join(sorted(tally.ran['old'])) or 'no tensor output'}; new "
                 f"{', '.join(sorted(tally.ran['new'])) or 'no tensor output'}")
    found += [f"note: {note}" for note in sorted(tally.notes)]
    found.append(_shapes_line(tally, plan))
    runs = len(spec.dtypes) * len(devices)
    found.append(counts(tally, runs, "generated cases" if spec.make_inputs is None else "cases from make_inputs"))
    found += _substituted(tally)
    if tally.skipped:
        ran, planned = tally.generated()
        found.append(f"{len(tally.skipped)} case(s) outside the old kernel's domain were skipped, "
                     f"{len(tally.skipped) - planned + ran} of them threshold cases ({ran} of {planned} generated "
                     f"cases compared; first: {tally.skipped[0]})")
    return found


def _substituted(tally: Tally) -> list[str]:
    """Which generated cases ran at another shape, and why: the reviewer sees what stood in for what."""
    if not tally.substituted:
        return []
    return [f"{len(tally.substituted)} generated case(s) outside the old kernel's domain were substituted at "
            f"another rank (same case seed, layout and magnitude; first rejection: {tally.substituted[0][1]}):",
            *[f"  {case.replaces} -> {case.label} (case seed {case.seed}, {case.magnitude}"
              f"{', ' + case.layout if case.layout else ''})" for case, _ in tally.substituted]]


def _shapes_line(tally: Tally, plan: Plan) -> str:
    """The shapes each parameter took, the largest compared case of each rank, so a reviewer sees they fit."""
    widest: dict[int, tuple[int, str]] = {}
    for case, _, _ in tally.compared:
        arrays = [a for a in [*case.args, *(v for _, v in case.kwargs)] if isinstance(a.get("array"), np.ndarray)]
        if arrays:
            size, rank = int(np.prod(arrays[0]["array"].shape)), arrays[0]["array"].ndim
            if rank not in widest or size > widest[rank][0]:
                widest[rank] = (size, " ".join(f"{a['name']}{list(a['array'].shape)}" for a in arrays))
    how_shaped = plan.shaping or ("inputs from make_inputs" if plan.spec.make_inputs is not None
                                  else "each tensor at the case shape")
    shown = "; ".join(text for _, (_, text) in sorted(widest.items())) or "no array inputs"
    return f"shapes ({how_shaped}; the largest compared case of each rank): {shown}"


def how(target: str) -> str:
    """How to state a kernel's inputs, for messages about cases the gate could not make."""
    return _HOW.format(target=target)


def _carry_hint(target: str, case: Case, facts: dict[str, Any]) -> list[str]:
    """A note when a kernel returns several tensors shaped like its inputs: perhaps state it should carry.

    Only the user can say which output is the next step's state (shapes are ambiguous
    when parameter, gradient and moments share one), so this is a hint, not a check.
    """
    shapes = {a["name"]: tuple(a["array"].shape) for a in [*case.args, *(v for _, v in case.kwargs)]
              if a.get("float") and isinstance(a.get("array"), np.ndarray)}
    tensors = [o for o in facts.get("outputs", []) if o.get("tensor") and o.get("path", "").startswith("out[")]
    alike = [o["path"] for o in tensors if tuple(o.get("shape") or ()) in shapes.values()]
    if len(tensors) < 2 or len(alike) < 2:
        return []
    return [f"compared for one call only: outputs {', '.join(alike)} have the shapes of the inputs "
            f"{', '.join(sorted(shapes))}; if they are the next step's state (an optimizer step), state "
            f"kernel('{target}', carry={{'<parameter>': <output index>, ...}}) to compare several steps"]


def _worst_per_quantity(stats: list[Stats]) -> list[str]:
    worst: dict[tuple[str, str], Stats] = {}
    for stat in stats:
        key = (stat.what, stat.dtype)
        if key not in worst or stat.ratio > worst[key].ratio:
            worst[key] = stat
    return ["  " + stat.line() for stat in worst.values()]


def _ids(ids: set[str]) -> str:
    return ", ".join(sorted(i[:8] for i in ids))
