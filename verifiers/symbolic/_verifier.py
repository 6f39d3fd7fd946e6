"""``PathSearch``: CrossHair explores each version's paths in its worker; the inputs it finds are replayed on both.

CrossHair runs only inside the isolated workers, each on its own side's code, and returns
concrete inputs as data (``_worker.cover``).  Judging happens here: every input is replayed
on both versions through the executor and the results are compared as data.  A difference
is ``REFUTED`` with the input; no difference is ``UNKNOWN`` (a path search bounded by a
budget shows nothing for every input), so the route goes on to the hypothesis tester.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from properties import RULES, Equivalent, Kind, Obligation
from verifiers._contract import Context, Counterexample, Evidence, Executor, Level, Outcome, OutcomeKind, Verifier, \
    Violation
from verifiers.symbolic._replay import Call, Difference, compare, replay, show_call
from verifiers.symbolic._shrink import shrink
from verifiers.symbolic._signature import Target, Unsupported, target
from verifiers.symbolic._worker import NEEDS_PRELOAD

__all__ = ["Budget", "PathSearch", "found_inputs"]

_HARNESS = "verifiers.symbolic._worker:cover"
_NEXT = "the hypothesis tester decides"
# The inputs each search found, per executor (so per check), for the verifiers after it on the route.
_FOUND: "weakref.WeakKeyDictionary[Any, dict[tuple[str, str, str], tuple[Mapping[str, Any], ...]]]" = \
    weakref.WeakKeyDictionary()


def found_inputs(obligation: Obligation, context: Context) -> tuple[Mapping[str, Any], ...]:
    """The inputs (parameter name -> value) CrossHair found for ``obligation`` in this check, if it ran.

    Every one reaches a path of the old or the new version and agreed on replay unless the search
    refuted; a tester that runs after CrossHair may compare them too, e.g. to take a new branch
    that random inputs never reach.  Empty when CrossHair did not search this obligation.
    """
    try:
        return _FOUND.get(context.executor, {}).get(_key(obligation), ())
    except TypeError:  # an executor that cannot be weakly referenced was never recorded
        return ()


def _key(obligation: Obligation) -> tuple[str, str, str]:
    return obligation.target, obligation.old_source or "", obligation.new_source or ""


def _remember(obligation: Obligation, executor: Any, names: tuple[str, ...], calls: list[Call]) -> None:
    named = tuple({**dict(zip(names, call.args)), **dict(call.kwargs)} for call in calls)
    try:
        _FOUND.setdefault(executor, {})[_key(obligation)] = named
    except TypeError:
        pass


@dataclass(frozen=True, slots=True)
class Budget:
    """How far CrossHair searches each version: ``max_iterations`` paths tried decides (deterministic);
    the CPU-second timeouts are safety caps only, and ``max_inputs`` bounds the inputs replayed per side."""

    max_iterations: int = 12
    per_path_timeout: float = 0.5
    per_condition_timeout: float = 1.0
    max_inputs: int = 24


@dataclass(slots=True)
class _Search:
    """What one side's worker reported about CrossHair's search of its version."""

    side: str
    inputs: list[Call] = field(default_factory=list)
    paths: int = 0
    iterations: int = 0
    dropped: int = 0
    capped: bool = False
    problem: str = ""
    death: Outcome | None = None

    def summary(self) -> str:
        if self.problem:
            return f"{self.side}: {self.problem}"
        text = f"{_count(self.paths, 'path')} of {self.side} in {_count(self.iterations, 'iteration')}"
        if self.dropped:
            text += f" ({self.dropped} inputs that are not plain data left out)"
        if self.capped:
            text += " (stopped by the CPU-time cap, not the iteration budget)"
        return text


class PathSearch(Verifier):
    """Answers ``equivalent`` obligations on module-level functions of plain-data parameters.

    Never ``PROVEN`` or ``PASSED``: a counterexample is ``REFUTED`` (or ``VIOLATION`` when the new
    version trips the worker's audit hook or monkeypatches); everything else is ``UNKNOWN``.
    """

    name = "crosshair"

    def __init__(self, budget: Budget | None = None) -> None:
        self.budget = budget or Budget()

    def _check(self, obligation: Obligation, context: Context) -> Evidence:
        why = _not_searchable(obligation, context)
        if why:
            return self._unknown(why)
        try:
            found = target(obligation)
        except Unsupported as error:
            return self._unknown(f"{error}; {_NEXT}")
        # The search runs in workers of their own that import CrossHair before the audit hook
        # (``Executor.sibling``, optional); the replays below run in the ordinary workers.
        sibling = getattr(context.executor, "sibling", None)
        searcher = sibling(NEEDS_PRELOAD) if callable(sibling) else context.executor
        searches = self._search(searcher, found)  # type: ignore[arg-type]
        violation = self._cover_violation(obligation, searches)
        if violation is not None:
            return violation
        return self._replay(obligation, context, found, searches)

    def _unknown(self, detail: str) -> Evidence:
        return Evidence(Level.UNKNOWN, self.name, detail)

    # -- the search, in the workers -------------------------------------------------------

    def _search(self, executor: Executor, found: Target) -> dict[str, _Search]:
        sides = ("new", "old") if found.old_searchable else ("new",)
        with ThreadPoolExecutor(max_workers=len(sides), thread_name_prefix="crosshair") as pool:
            results = dict(zip(sides, pool.map(lambda side: self._cover(executor, side, found), sides)))
        if not found.old_searchable:
            results["old"] = _Search("old", problem="its annotations are not plain data, so only the new "
                                                    "version was searched")
        return results

    def _cover(self, executor: Executor, side: str, found: Target) -> _Search:
        spec = {"target": found.callee, "max_iterations": self.budget.max_iterations,
                "per_path_timeout": self.budget.per_path_timeout,
                "per_condition_timeout": self.budget.per_condition_timeout}
        outcome = executor.call(side, _HARNESS, (spec,), {})
        if outcome.kind is OutcomeKind.DIED:
            return _Search(side, problem=f"the worker died during CrossHair's search ({outcome.error_type}: "
                                         f"{outcome.message})"[:400], death=outcome)
        if outcome.kind is OutcomeKind.RAISED:
            return _Search(side, problem=f"CrossHair raised {outcome.error_type}: {outcome.message}"[:400])
        return _parse(side, outcome.value, self.budget.max_inputs)

    def _cover_violation(self, obligation: Obligation, searches: dict[str, _Search]) -> Evidence | None:
        """The new version tripped the audit hook, or monkeypatched, while CrossHair ran it (and old did not)."""
        new, old = searches["new"].death, searches["old"].death
        if new is None or new.error_type not in ("audit", "mutation"):
            return None
        if old is not None and old.error_type == new.error_type:
            return None  # both sides alike: CrossHair's own doing as likely as the code's
        rule = "runtime-audit" if new.error_type == "audit" else "module-mutation"
        what = "tripped the worker's audit hook" if rule == "runtime-audit" else "monkeypatched at run time"
        detail = (f"the new version {what} while CrossHair explored its paths: {new.message}; the old version did "
                  "not (found by CrossHair path search on the new version)")
        return Evidence(Level.VIOLATION, self.name, detail, violations=(Violation(
            rule, obligation.path, obligation.line, f"{obligation.target}: {detail}", RULES[rule].fix,
            obligation.target),))

    # -- the replay, judged here ----------------------------------------------------------

    def _replay(self, obligation: Obligation, context: Context, found: Target,
                searches: dict[str, _Search]) -> Evidence:
        executor, pre = context.executor, getattr(obligation.spec, "pre", None)
        origin = {}
        for side in ("new", "old"):
            for call in searches[side].inputs:
                origin.setdefault(repr(call), (side, call))
        notes = [s.summary() for s in searches.values()]
        _remember(obligation, executor, found.names, [call for _, call in origin.values()])
        if not origin:
            problems = {s.problem for s in searches.values()}
            shown = f"both versions: {problems.pop()}" if len(problems) == 1 and "" not in problems else \
                "; ".join(notes)
            return self._unknown(f"CrossHair found no input to replay for {obligation.target} ({shown}); {_NEXT}")
        tally = {"replayed": 0, "rejected by pre": 0, "whose results cannot be compared as data": 0}
        for side, call in origin.values():
            difference = _replay_one(executor, found.callee, pre, call, tally)  # type: ignore[arg-type]
            if difference is None:
                continue
            if not difference.fatal:
                return self._differs(obligation, context, found, side, call, difference, searches)
            notes.append(f"replay stopped on {show_call(obligation.target, found.names, call)}: "
                         f"{difference.message} (old {difference.old}, new {difference.new})")
            break
        replayed = tally.pop("replayed")
        notes += [f"{n} inputs {why}" for why, n in tally.items() if n]
        return self._unknown(f"CrossHair covered {_count(searches['new'].paths, 'path')} of new and "
                             f"{searches['old'].paths} of old; replaying {replayed} of their {len(origin)} inputs on "
                             f"both versions found no difference ({'; '.join(notes)}); {_NEXT}")

    def _shrunk(self, obligation: Obligation, context: Context, found: Target, call: Call,
                difference: Difference) -> tuple[Call, Difference, str]:
        """A simpler call that still differs (each candidate replayed on both versions), and a note saying so."""
        pre = getattr(obligation.spec, "pre", None)
        seen: dict[str, Difference] = {}

        def still_differs(candidate: Call) -> bool:
            if pre is not None:
                try:
                    if not pre(*candidate.args, **dict(candidate.kwargs)):
                        return False
                except Exception:  # noqa: BLE001 - a pre that cannot judge an input rejects it
                    return False
            now = compare(*replay(context.executor, found.callee, candidate))  # type: ignore[arg-type]
            if now is None or now.level is not Level.REFUTED or now.fatal:
                return False
            seen[repr(candidate)] = now
            return True

        smaller, spent = shrink(call, still_differs)
        if smaller == call:
            return call, difference, ""
        return smaller, seen[repr(smaller)], f"; shrunk in {spent} replays"

    def _differs(self, obligation: Obligation, context: Context, found: Target, side: str, call: Call,
                 difference: Difference, searches: dict[str, _Search]) -> Evidence:
        shown = show_call(obligation.target, found.names, call)
        if difference.level is Level.REFUTED:
            again = compare(*replay(context.executor, found.callee, call))  # type: ignore[arg-type]
            if again is None or again.level is not Level.REFUTED:
                return self._unknown(f"flaky: {shown} differed once ({difference.new}) but not on replay; the "
                                     f"code may depend on state, time or randomness; {_NEXT}")
        shrunk_note = ""
        if difference.level is Level.REFUTED:
            call, difference, shrunk_note = self._shrunk(obligation, context, found, call, difference)
            shown = show_call(obligation.target, found.names, call)
        search = searches[side]
        detail = (f"{difference.message}: {shown}; old {difference.old}, new {difference.new} (found by CrossHair "
                  f"path search on the {side} version, {_count(search.paths, 'path')} in "
                  f"{_count(search.iterations, 'iteration')}, replayed on both versions in the workers"
                  f"{shrunk_note})")
        cex = Counterexample(shown, difference.old, difference.new, f"sandbox check ... --seed {context.seed}")
        violations = ()
        if difference.level is Level.VIOLATION:
            rule = difference.rule
            violations = (Violation(rule, obligation.path, obligation.line, f"{obligation.target}: {detail}",
                                    RULES[rule].fix, obligation.target),)
        return Evidence(difference.level, self.name, detail, counterexample=cex, violations=violations)


def _not_searchable(obligation: Obligation, context: Context) -> str:
    if obligation.kind is not Kind.EQUIVALENT:
        return f"CrossHair's path search judges equivalent obligations only, not {obligation.kind.value}; {_NEXT}"
    if obligation.old_source is None or obligation.new_source is None:
        side = "old" if obligation.old_source is None else "new"
        return f"{obligation.target} does not exist in the {side} version, so there is nothing to compare"
    if context.executor is None:
        return (f"the gate offered no isolated execution, so {obligation.target} cannot be run; CrossHair runs "
                "only inside the gate's workers")
    if isinstance(obligation.spec, Equivalent) and obligation.spec.inputs is not None:
        return (f"the property file states inputs= for {obligation.target}; CrossHair draws its inputs from the "
                f"annotations, which may lie outside them; {_NEXT}")
    return ""


def _parse(side: str, value: Any, limit: int) -> _Search:
    """The worker's answer, checked as untrusted data: a malformed one is a problem, never inputs."""
    if not isinstance(value, dict):
        return _Search(side, problem=f"the worker's answer was not a report ({type(value).__name__})")
    status = value.get("status")
    if status != "ok":
        return _Search(side, problem=_problem(status, str(value.get("message", ""))[:300]))
    raw = value.get("inputs")
    numbers = [value.get(k) for k in ("paths", "iterations", "dropped")]
    if not isinstance(raw, list) or not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers):
        return _Search(side, problem="the worker's report was malformed")
    calls = [c for c in (_call(item) for item in raw[:limit]) if c is not None]
    return _Search(side, calls, *numbers, capped=value.get("capped") is True)  # type: ignore[arg-type]


def _call(item: Any) -> Call | None:
    if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], list) and isinstance(item[1], dict)):
        return None
    if not all(isinstance(k, str) for k in item[1]):
        return None
    return Call(tuple(item[0]), tuple(item[1].items()))


def _problem(status: Any, message: str) -> str:
    if status == "missing":
        return f"crosshair-tool is not installed (pip install crosshair-tool) in the workers' Python ({message})"
    if status == "not-preloaded":
        return ("CrossHair cannot load in this worker: z3 and crosshair.tracers bind native code through ctypes "
                "(ctypes.dlsym), which the worker's audit hook refuses once installed, and the worker did not "
                f"import them before installing it ({message}); the workers must import them at start-up, before "
                "the hook (see docs/crosshair.md)")
    return f"CrossHair could not search it ({status}: {message})"


def _replay_one(executor: Executor, callee: str, pre: Any, call: Call, tally: dict[str, int]) -> Difference | None:
    """The difference replaying ``call`` shows (a REFUTED/VIOLATION one, or a fatal death); counts the rest."""
    if pre is not None and not _admits(pre, call):
        tally["rejected by pre"] += 1
        return None
    difference = compare(*replay(executor, callee, call))
    tally["replayed"] += 1
    if difference is not None and difference.level is Level.UNKNOWN and not difference.fatal:
        tally["whose results cannot be compared as data"] += 1
        return None
    return difference


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _admits(pre: Any, call: Call) -> bool:
    try:
        return bool(pre(*call.args, *(v for _, v in call.kwargs)))
    except Exception:  # noqa: BLE001 - a precondition that cannot judge an input rejects it
        return False
