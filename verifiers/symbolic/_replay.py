"""Replaying CrossHair's inputs on both versions and comparing what came back, as data.

The same comparison the differential tester makes: return values with ``verifiers._values.same``
(and the arguments as the call left them), raised against raised by exception type, anything
else a difference; a worker death is judged the way the tester judges it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from verifiers._calls import finished_well_within
from verifiers._contract import Executor, Level, Outcome, OutcomeKind
from verifiers._values import Incomparable, same

__all__ = ["Call", "Difference", "compare", "replay", "show_call", "show_outcome"]

# Deaths of the new version alone that are a difference of behaviour (the old one answered).
_REFUTING_DEATHS = frozenset({"timeout", "cpu", "memory", "exit", "signal"})


@dataclass(frozen=True, slots=True)
class Call:
    """One input: positional arguments and keyword arguments, as plain data."""

    args: tuple[Any, ...]
    kwargs: tuple[tuple[str, Any], ...]


@dataclass(frozen=True, slots=True)
class Difference:
    """What replaying one input showed: ``level`` REFUTED/VIOLATION, or UNKNOWN (no comparison)."""

    level: Level
    message: str
    old: str
    new: str
    rule: str = ""
    fatal: bool = False  # a worker died: nothing more can be replayed here


def replay(executor: Executor, callee: str, call: Call) -> tuple[Outcome, Outcome]:
    """Call ``callee`` with ``call`` on the old side, then on the new side."""
    kwargs = dict(call.kwargs)
    return (executor.call("old", callee, call.args, kwargs), executor.call("new", callee, call.args, kwargs))


def compare(old: Outcome, new: Outcome) -> Difference | None:
    """``None`` when old and new behaved alike; otherwise the difference (or why none can be judged)."""
    if OutcomeKind.DIED in (old.kind, new.kind):
        return _death(old, new)
    if old.kind is OutcomeKind.RAISED and new.kind is OutcomeKind.RAISED:
        alike = old.error_type == new.error_type
    elif old.kind is OutcomeKind.RETURNED and new.kind is OutcomeKind.RETURNED:
        try:
            alike = same(old.value, new.value) and (old.args_after is None or new.args_after is None
                                                    or same(old.args_after, new.args_after))
        except Incomparable as error:
            return Difference(Level.UNKNOWN, str(error), show_outcome(old), show_outcome(new))
    else:
        alike = False
    return None if alike else Difference(Level.REFUTED, "old and new disagree", show_outcome(old), show_outcome(new))


def _death(old: Outcome, new: Outcome) -> Difference:
    shown = {"old": show_outcome(old), "new": show_outcome(new)}
    if new.kind is OutcomeKind.DIED and new.error_type == "audit":
        return Difference(Level.VIOLATION, f"the new version tripped the worker's audit hook: {new.message}",
                          rule="runtime-audit", **shown)
    old_lived = old.kind is not OutcomeKind.DIED
    if new.kind is OutcomeKind.DIED and old_lived and new.error_type == "mutation":
        return Difference(Level.VIOLATION, f"the new version monkeypatched at run time: {new.message}",
                          rule="module-mutation", **shown)
    if new.kind is OutcomeKind.DIED and old_lived and new.error_type == "timeout" and \
            not finished_well_within(old.seconds, new.seconds):
        return Difference(Level.UNKNOWN, f"the new version timed out after {new.seconds:.1f} s where the old one "
                                         f"answered in {old.seconds:.1f} s, too close to the limit to tell the code "
                                         "from the machine's load", fatal=True, **shown)
    if new.kind is OutcomeKind.DIED and old_lived and new.error_type in _REFUTING_DEATHS:
        return Difference(Level.REFUTED, f"the new version died ({new.error_type}) where the old one did not", **shown)
    sides = " and ".join(s for s, o in (("old", old), ("new", new)) if o.kind is OutcomeKind.DIED)
    return Difference(Level.UNKNOWN, f"the worker running the {sides} version died, so the gate cannot compare "
                                     "them", fatal=True, **shown)


def show_outcome(outcome: Outcome) -> str:
    if outcome.kind is OutcomeKind.RETURNED:
        return f"returned {_show(outcome.value)}"
    if outcome.kind is OutcomeKind.RAISED:
        return f"raised {outcome.error_type}: {outcome.message}"[:300]
    return f"died ({outcome.error_type}): {outcome.message}"[:300]


def show_call(target: str, names: tuple[str, ...], call: Call) -> str:
    """``train.f(x=74000)``: positional arguments named by their parameters."""
    parts = [f"{n}={_show(v)}" for n, v in zip(names, call.args)] if len(names) >= len(call.args) else \
        [_show(a) for a in call.args]
    parts += [f"{k}={_show(v)}" for k, v in call.kwargs]
    return f"{target}({', '.join(parts)})"


def _show(value: Any) -> str:
    return repr(value)[:200]
