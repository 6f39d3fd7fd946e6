"""Tripwires: the conditions that halt the loop and hand control back to a person (exit 3)."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["Halt", "Tripwire", "budget_spent", "gate_protected_touch", "implausible_gain", "protected_touch",
           "rejection_streak"]


class Tripwire(enum.Enum):
    PROTECTED_PATH = "protected-path"
    REJECTIONS = "rejections-in-a-row"
    IMPLAUSIBLE_GAIN = "implausible-gain"
    BUDGET = "budget"


@dataclass(frozen=True, slots=True)
class Halt:
    """Why the loop stopped: the tripwire and a message saying what to look at."""

    tripwire: Tripwire
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"tripwire": self.tripwire.value, "message": self.message}


def protected_touch(paths: Iterable[str], protected_by: Callable[[str], str | None]) -> Halt | None:
    """A proposal naming a protected path (the objective's files, properties, configuration, ledger).

    ``protected_by`` says why a path is protected (None: it is not).
    """
    hits = [(path, why) for path in sorted(set(paths)) if (why := protected_by(path))]
    if not hits:
        return None
    listed = ", ".join(f"{path} ({why})" for path, why in hits)
    return Halt(Tripwire.PROTECTED_PATH,
                f"the proposal tries to change {listed}: the measuring apparatus, the properties, the "
                "configuration and the ledger are out of the proposer's reach. Nothing was written; "
                "review the proposal in the ledger (`sandbox log`) before running the loop again")


def gate_protected_touch(violations: Iterable[tuple[str, str, str]]) -> Halt | None:
    """The gate's own ``protected-path`` violations, ``(rule, path, message)``, as the same tripwire."""
    patterns = {path: f"the gate: {message}" for rule, path, message in violations if rule == "protected-path"}
    return protected_touch(patterns, patterns.get)


def rejection_streak(streak: int, limit: int, per: str = "proposal") -> Halt | None:
    """``limit`` rejections in a row (``limit`` 0 turns the tripwire off).

    ``per="round"`` (several candidates a round): ``streak`` counts rounds none of whose
    candidates was accepted.
    """
    if limit <= 0 or streak < limit:
        return None
    what = (f"{streak} proposals in a row were rejected" if per == "proposal" else
            f"in {streak} rounds in a row every candidate was rejected")
    return Halt(Tripwire.REJECTIONS,
                f"{what}: the "
                "proposer is not converging. Read the feedback in the ledger, refine the goal or the "
                "editable paths, then `sandbox improve --resume` (or raise --max-rejections)")


def implausible_gain(before: float, after: float, direction: str, factor: float) -> Halt | None:
    """An objective more than ``factor`` times better in one round (both means positive; 0 = off)."""
    if factor <= 0 or before <= 0 or after <= 0:
        return None
    ratio = after / before if direction == "max" else before / after
    if ratio <= factor:
        return None
    return Halt(Tripwire.IMPLAUSIBLE_GAIN,
                f"the objective improved {ratio:.3g}x in one round (from {before:.6g} to {after:.6g}; the "
                f"plausibility limit is {factor:g}x): a gain this large is more often a broken measurement "
                "or a reward hack than a real improvement. The change was not kept; inspect it, then "
                "raise --max-gain if it is genuine")


def budget_spent(tokens: int, seconds: float, budget_tokens: int | None,
                 budget_seconds: float | None) -> Halt | None:
    """The loop's token or wall-clock budget is spent."""
    if budget_tokens is not None and tokens >= budget_tokens:
        return Halt(Tripwire.BUDGET, f"the token budget is spent ({tokens} of {budget_tokens} tokens); "
                    "raise --budget-tokens and `sandbox improve --resume` to continue")
    if budget_seconds is not None and seconds >= budget_seconds:
        return Halt(Tripwire.BUDGET, f"the time budget is spent ({seconds:.1f} of {budget_seconds:g} s); "
                    "raise --budget-seconds and `sandbox improve --resume` to continue")
    return None
