"""Trust but verify: replay z3's counterexamples and cross-check its proofs by running the code."""

from __future__ import annotations

import math
import random
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from properties import Kind
from verifiers._calls import call_arguments
from verifiers._contract import Context, Outcome, OutcomeKind
from verifiers._values import Incomparable, same
from verifiers.smt._types import BOOL, FLOAT, INT, STR, container_of, element_kind, is_sequence

__all__ = ["Replay", "Replayer", "show_call"]

_INTS = [0, 1, -1, 2, -2, 3, -3, 7, -7, 10, 100, -100, 1000, 10_000, 2 ** 31, -(2 ** 31), 2 ** 53 + 1]
_FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 1e-300, 5e-324, 1e300, sys.float_info.max, math.inf, -math.inf,
           math.nan, 0.1, 1e-3]
_STRS = ["", "a", "ab", "abc", "A", "0", "1", "-1", "+7", "10", " ", " 1", "1_0", "a b", "\x00", "\n", "é", "ß",
         "\u0663", "\ud7ff", "\U0001f600", "\U0010ffff", "zz", "aa"]
_LENGTHS = [0, 1, 2, 3, 4, 5, 8]


def _show(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return f"float('{value}')"
    if isinstance(value, int) and value.bit_length() > 4000:
        return hex(value)  # repr() refuses ints of more than sys.get_int_max_str_digits() digits
    return repr(value)


def show_call(plan_: Any, values: list[Any]) -> str:
    """The call a person can type: ``train.f(x=3, y=-1)``; omitted (defaulted) arguments are left out."""
    inner = ", ".join(f"{n}={_show(v)}" for n, v in zip(plan_.names, values) if n not in plan_.omitted)
    return f"{plan_.obligation.target}({inner})"


def _show_outcome(outcome: Outcome) -> str:
    if outcome.kind is OutcomeKind.RETURNED:
        return f"returned {_show(outcome.value)}"
    if outcome.kind is OutcomeKind.RAISED:
        return f"raised {_error(outcome)}"
    return f"died ({outcome.error_type}: {outcome.message})"


def _error(outcome: Outcome) -> str:
    return outcome.error_type.removeprefix("builtins.")


@dataclass
class Replay:
    """What a concrete run of one input showed: ``fails`` when the obligation is broken there."""

    fails: bool = False
    old: str | None = None
    new: str | None = None
    error: str = ""


class Replayer:
    """Runs inputs through ``context.executor`` and judges them as the obligation demands."""

    def __init__(self, plan_: Any, context: Context) -> None:
        self.plan, self.executor = plan_, context.executor
        obligation = plan_.obligation
        self.callee = f"{plan_.new_info.name}:{obligation.target.rpartition('.')[2]}"
        self.spec = obligation.spec

    def _call(self, side: str, values: list[Any]) -> Outcome:
        args, kwargs = call_arguments(self.plan.names, self.plan.keyword_only, values, self.plan.omitted)
        return self.executor.call(side, self.callee, args, kwargs)  # type: ignore[union-attr]

    def replay(self, values: list[Any]) -> Replay:
        new = self._call("new", values)
        old = self._call("old", values) if self._needs_old(new) else None
        return self._judge(values, old, new)

    def _needs_old(self, new: Outcome) -> bool:
        """Whether judging ``new`` takes the old side's outcome on the same input."""
        if self.plan.obligation.kind is Kind.INVARIANT and new.kind is OutcomeKind.RETURNED:
            return False
        return self.plan.obligation.old_source is not None

    def _judge(self, values: list[Any], old: Outcome | None, new: Outcome) -> Replay:
        if self.plan.obligation.kind is Kind.INVARIANT and new.kind is OutcomeKind.RETURNED:
            try:
                holds, why = bool(self.spec.post(*values, new.value)), "post is false"  # type: ignore[union-attr]
            except Exception as error:  # noqa: BLE001 - a post that cannot judge the output is not satisfied
                holds, why = False, f"post raised {type(error).__name__}"
            return Replay(not holds, None, f"{_show_outcome(new)} ({why})" if not holds else _show_outcome(new))
        if self.plan.obligation.old_source is None:
            return Replay(True, None, _show_outcome(new))
        assert old is not None
        if OutcomeKind.DIED in (old.kind, new.kind):
            return Replay(False, _show_outcome(old), _show_outcome(new),
                          f"a worker died (old {_show_outcome(old)}, new {_show_outcome(new)})")
        if old.kind is OutcomeKind.RAISED and new.kind is OutcomeKind.RAISED:
            ok = _error(old) == _error(new)
        elif self.plan.obligation.kind is Kind.INVARIANT:
            ok = False  # new raised, old did not raise the same type
        else:
            try:
                ok = old.kind is new.kind is OutcomeKind.RETURNED and same(old.value, new.value)
            except Incomparable as error:
                return Replay(False, _show_outcome(old), _show_outcome(new), str(error))
        return Replay(not ok, _show_outcome(old), _show_outcome(new))

    def admits(self, values: list[Any]) -> bool:
        pre = getattr(self.spec, "pre", None)
        if pre is None:
            return True
        try:
            return bool(pre(*values))
        except Exception:  # noqa: BLE001 - an input pre cannot judge is outside the domain
            return False

    def boundary_inputs(self, count: int, seed: int, ints: list[int] | None = None,
                        strs: list[str] | None = None) -> list[list[Any]]:
        """Up to ``count`` inputs pre admits: boundary values of each type (and the mined ``ints`` and
        ``strs``), then seeded random ones."""
        rng = random.Random(seed)
        self._pools = {INT: (ints or []) + _INTS, FLOAT: _FLOATS + [float(i) for i in ints or []],
                       BOOL: [False, True], STR: (strs or []) + _STRS}
        self._lengths = sorted({n for n in (ints or []) if 0 <= n <= 64} | set(_LENGTHS))
        found: list[list[Any]] = []
        for attempt in range(count * 20):
            if len(found) >= count:
                break
            values = [self._draw(k, attempt, rng) for k in self.plan.kinds]
            if self.admits(values):
                found.append(values)
        return found

    def _draw(self, kind: Any, attempt: int, rng: random.Random) -> Any:
        if isinstance(kind, tuple):
            return tuple(self._draw(k, attempt, rng) for k in kind)
        if is_sequence(kind):
            size = self._lengths[(attempt + rng.randrange(len(self._lengths))) % len(self._lengths)] \
                if rng.random() < 0.7 else rng.randint(0, 6)
            items = [self._draw(element_kind(kind), attempt + i, rng) for i in range(size)]
            return items if container_of(kind) == "list" else tuple(items)
        pool = self._pools[kind]
        if attempt < len(pool) * 2 and rng.random() < 0.7:
            return pool[(attempt + rng.randrange(len(pool))) % len(pool)]
        if kind == INT:
            return rng.choice([rng.randint(-20, 20), rng.randint(-10 ** 6, 10 ** 6)])
        if kind == FLOAT:
            return rng.choice([rng.uniform(-10, 10), rng.uniform(-1e6, 1e6), float(rng.randint(-50, 50))])
        if kind == STR:
            return "".join(rng.choice("ab0- Zé") for _ in range(rng.randint(0, 6)))
        return rng.random() < 0.5

    def crosscheck(self, inputs: list[list[Any]]) -> tuple[bool, str] | None:
        """The first problem a concrete run shows on ``inputs`` as (is a disagreement, what), or None.

        The two sides run in their own workers, so their calls are made at the same time (one
        thread per side) and judged afterwards, in input order, exactly as one-by-one replays
        would be: the first input that fails or cannot be run is the one reported.  A side stops
        at its first death, so code that hangs costs one timeout per side, not one per input.
        """
        if not inputs:
            return None
        obligation = self.plan.obligation
        if obligation.kind is Kind.EQUIVALENT and obligation.old_source is not None:
            with ThreadPoolExecutor(max_workers=2, thread_name_prefix="selfmod-crosscheck") as pool:
                new_runs, old_runs = (pool.submit(self._run_side, side, inputs) for side in ("new", "old"))
                news, olds = new_runs.result(), old_runs.result()
        else:
            news, olds = self._run_side("new", inputs), []  # old runs only where new raised: below
        for index, values in enumerate(inputs):
            new = news[index] if index < len(news) else None
            old = olds[index] if index < len(olds) else None
            if new is None:
                result = self.replay(values)  # the new side stopped early: run it as a replay would
            elif old is None and self._needs_old(new):
                result = self._judge(values, self._call("old", values), new)
            else:
                result = self._judge(values, old, new)
            if result.error:
                return False, f"could not run {show_call(self.plan, values)}: {result.error}"
            if result.fails:
                return True, f"{show_call(self.plan, values)}: old {result.old}, new {result.new}"
        return None

    def _run_side(self, side: str, inputs: list[list[Any]]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for values in inputs:
            outcomes.append(self._call(side, values))
            if outcomes[-1].kind is OutcomeKind.DIED:
                break
        return outcomes
