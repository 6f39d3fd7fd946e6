"""``DifferentialTester``: old vs new (or a property of new), on boundary-biased generated inputs."""

from __future__ import annotations

import ast
import itertools
import time
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from properties import RULES, Equivalent, Invariant, Kind, Obligation, module_name
from verifiers._calls import call_arguments, finished_well_within
from verifiers._contract import Context, Counterexample, Evidence, Level, Outcome, OutcomeKind, Verifier, Violation
from verifiers._values import Construct, Incomparable, same
from verifiers.pbt._boundaries import mine
from verifiers.symbolic import found_inputs
from verifiers.pbt._coverage import CoverageReport
from verifiers.pbt._coverage import measure as measure_coverage
from verifiers.pbt._defaults import defaulted_parameters, mask_strategy, omission_note, with_omissions
from verifiers.pbt._resources import Usage, excess_memory, new_threads
from verifiers.pbt._search import Finding, SearchResult, boundary_cases, search
from verifiers.pbt._signature import Param, Unsupported, init_params, is_method, module_types, parameters, shape
from verifiers.pbt._strategies import Domain, domain

__all__ = ["DifferentialTester"]

_REFUTING_DEATHS = {"timeout", "cpu", "memory", "exit", "signal"}
_MAX_REPLAYED = 2000


@dataclass(frozen=True, slots=True)
class _Slot:
    name: str
    domain: Domain
    keyword: bool
    receiver: bool = False


class _Judge:
    """Calls old and new through the executor and says whether they disagree."""

    def __init__(self, obligation: Obligation, context: Context, callee: str, cls: str | None,
                 slots: list[_Slot] | None, n_receiver: int, omittable: tuple[str, ...] = ()) -> None:
        self.obligation, self.executor, self.callee, self.cls = obligation, context.executor, callee, cls
        self.slots, self.n_receiver = slots, n_receiver
        self.omittable = omittable  # when set, each input ends with the names its call omits
        self.spec = obligation.spec
        self.pre = getattr(self.spec, "pre", None)
        # What the compared calls did, to tell a real agreement from a vacuous one.
        self.returned = self.raised = self.omitting = 0
        self.usage = Usage(context.slowdown, context.memory)
        # The inputs old and new agreed on, replayed traced afterwards for coverage (see ``_coverage``).
        self.compared: list[tuple[Any, ...]] = []
        self._compared_keys: set[str] = set()
        # Inputs on which both sides died of the same limit (memory, CPU, time): neither agreement
        # nor a difference.  The search goes on; a run with any of them cannot be PASSED.
        self.unjudged: list[tuple[tuple[Any, ...], str]] = []

    def omitted(self, values: tuple[Any, ...]) -> tuple[str, ...]:
        return values[-1] if self.omittable else ()

    def _given(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        return values[:-1] if self.omittable else values

    def split(self, values: tuple[Any, ...]) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
        omitted, values = self.omitted(values), self._given(values)
        receiver_values, call_values = values[:self.n_receiver], values[self.n_receiver:]
        receiver_slots = self.slots[:self.n_receiver] if self.slots else []
        receiver = None
        if self.cls is not None:
            receiver = Construct(f"{self.obligation.module}:{self.cls}", (),
                                 tuple((s.name, v) for s, v in zip(receiver_slots, receiver_values)))
        call_slots = self.slots[self.n_receiver:] if self.slots and len(self.slots) > self.n_receiver else None
        if call_slots is None:
            return receiver, tuple(call_values), {}
        args, kwargs = call_arguments([s.name for s in call_slots], [s.keyword for s in call_slots], call_values,
                                      omitted)
        return receiver, args, kwargs

    def _all_args(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(self._given(values)[self.n_receiver:])  # pre sees omitted arguments' drawn values too

    def admits(self, values: tuple[Any, ...]) -> bool:
        if self.pre is None:
            return True
        try:
            return bool(self.pre(*self._all_args(values)))
        except Exception:  # noqa: BLE001 - a precondition that cannot judge an input rejects it
            return False

    def call(self, side: str, values: tuple[Any, ...]) -> Outcome:
        receiver, args, kwargs = self.split(values)
        return self.executor.call(side, self.callee, args, kwargs, receiver=receiver)  # type: ignore[union-attr]

    def judge(self, values: tuple[Any, ...]) -> Finding | None:
        unjudged = len(self.unjudged)
        finding = self._invariant(values) if self.obligation.kind is Kind.INVARIANT else self._compare(values)
        if finding is None and len(self.unjudged) == unjudged and len(self.compared) < _MAX_REPLAYED:
            key = repr(values)
            if key not in self._compared_keys:
                self._compared_keys.add(key)
                self.compared.append(values)
        return finding

    def _compare(self, values: tuple[Any, ...]) -> Finding | None:
        old, new = self.call("old", values), self.call("new", values)
        if _both_hit_a_limit(old, new):
            self.unjudged.append((values, f"{old.error_type}: {old.message[:160]}"))
            return None
        if OutcomeKind.DIED in (old.kind, new.kind):
            return _death(values, old, new)
        self.omitting += bool(self.omitted(values))
        self.returned += new.kind is OutcomeKind.RETURNED
        self.raised += new.kind is OutcomeKind.RAISED
        if old.kind is OutcomeKind.RAISED and new.kind is OutcomeKind.RAISED:
            ok = old.error_type == new.error_type
        elif old.kind is OutcomeKind.RETURNED and new.kind is OutcomeKind.RETURNED:
            try:
                ok = same(old.value, new.value) and (old.args_after is None or new.args_after is None
                                                     or same(old.args_after, new.args_after))
            except Incomparable as error:  # neither agreement nor a counterexample: the values are not data
                return Finding(values, str(error), _show_outcome(old), _show_outcome(new), fatal=True,
                               level=Level.UNKNOWN)
        else:
            ok = False
        if not ok:
            return Finding(values, "old and new disagree", _show_outcome(old), _show_outcome(new))
        return self._costs(values, old, new)

    def _costs(self, values: tuple[Any, ...], old: Outcome, new: Outcome) -> Finding | None:
        """A resource regression of new against old on this input (see ``_resources``), if any."""
        slower = self.usage.add(old, new)
        if slower is not None:
            return Finding(values, slower, _show_cost(old), _show_cost(new), fatal=True, level=Level.REFUTED)
        checks = ((new_threads, Level.VIOLATION), (lambda o, n: excess_memory(o, n, self.usage.memory), Level.REFUTED))
        for check, level in checks:
            if check(old, new) is None:
                continue
            # Once more: a one-off (a pool started on first use, a cache filled once) is not a regression.
            again_old, again_new = self.call("old", values), self.call("new", values)
            why = check(again_old, again_new)
            if why is not None:
                return Finding(values, why, _show_cost(again_old), _show_cost(again_new), fatal=True, level=level)
        return None

    def _invariant(self, values: tuple[Any, ...]) -> Finding | None:
        new = self.call("new", values)
        self.returned += new.kind is OutcomeKind.RETURNED
        self.raised += new.kind is OutcomeKind.RAISED
        if new.kind is OutcomeKind.RETURNED:
            try:
                holds, why = bool(self.spec.post(*self._all_args(values), new.value)), "post is false"  # type: ignore[union-attr]
            except Exception as error:  # noqa: BLE001 - an output post cannot judge does not satisfy it
                holds, why = False, f"post raised {type(error).__name__}: {error}"
            if holds:
                return None
            # What the old version did on the same input, for the reader (it does not decide anything).
            before = _show_outcome(self.call("old", values)) if self.obligation.old_source is not None else None
            return Finding(values, f"the invariant does not hold ({why})", before, _show_outcome(new))
        if self.obligation.old_source is None:
            return Finding(values, "the new version raised", None, _show_outcome(new), fatal=new.kind is OutcomeKind.DIED,
                           level=Level.UNKNOWN if new.kind is OutcomeKind.DIED else None)
        old = self.call("old", values)
        if OutcomeKind.DIED in (old.kind, new.kind):
            return _death(values, old, new)
        if old.kind is OutcomeKind.RAISED and old.error_type == new.error_type:
            return None
        return Finding(values, "the new version raised where the old one did not raise the same type",
                       _show_outcome(old), _show_outcome(new))


def _symbolic_cases(obligation: Obligation, context: Context, slots: list[_Slot],
                    omittable: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """The inputs CrossHair's path search found (earlier on the route), compared first.

    Each reaches a path of one version, so a new branch that random and mined inputs miss may
    still be taken -- and counted by the coverage of new conditions.
    """
    if any(s.receiver for s in slots):
        return []
    names = [s.name for s in slots]
    out = []
    for found in found_inputs(obligation, context):
        if set(found) == set(names):
            out.append((*(found[n] for n in names), *([()] if omittable else [])))
    return out


def _both_hit_a_limit(old: Outcome, new: Outcome) -> bool:
    """Both workers died of the same resource limit: the input is too big to judge, not a shared answer."""
    return (old.kind is OutcomeKind.DIED and new.kind is OutcomeKind.DIED and old.error_type == new.error_type
            and old.error_type in ("memory", "cpu", "timeout"))


def _death(values: tuple[Any, ...], old: Outcome, new: Outcome) -> Finding:
    shown = dict(values=values, old=_show_outcome(old), new=_show_outcome(new), fatal=True)
    if new.kind is OutcomeKind.DIED and new.error_type == "audit":
        return Finding(message=f"the new version tripped the worker's audit hook: {new.message}",
                       level=Level.VIOLATION, **shown)
    if new.kind is OutcomeKind.DIED and new.error_type == "mutation" and old.kind is not OutcomeKind.DIED:
        return Finding(message=f"the new version monkeypatched at run time: {new.message}",
                       level=Level.VIOLATION, **shown)
    if (new.kind is OutcomeKind.DIED and old.kind is not OutcomeKind.DIED and new.error_type == "timeout"
            and not finished_well_within(old.seconds, new.seconds)):
        return Finding(message=f"the new version timed out after {new.seconds:.1f} s where the old one answered in "
                               f"{old.seconds:.1f} s, too close to the limit to tell the code from the machine's "
                               "load; raise call_timeout or make the code faster", level=Level.UNKNOWN, **shown)
    if new.kind is OutcomeKind.DIED and old.kind is not OutcomeKind.DIED and new.error_type in _REFUTING_DEATHS:
        return Finding(message=f"the new version died ({new.error_type}) where the old one did not",
                       level=Level.REFUTED, **shown)
    sides = [s for s, o in (("old", old), ("new", new)) if o.kind is OutcomeKind.DIED]
    reasons = ", ".join(f"{s}: {o.error_type} ({o.message})" for s, o in (("old", old), ("new", new))
                        if o.kind is OutcomeKind.DIED)
    return Finding(message=f"the worker running the {' and '.join(sides)} version died ({reasons}), "
                           "so the gate cannot compare them", level=Level.UNKNOWN, **shown)


def _show_cost(outcome: Outcome) -> str:
    cpu = "?" if outcome.cpu_seconds is None else f"{outcome.cpu_seconds:.3f} s CPU"
    peak = "?" if outcome.peak_mb is None else f"{outcome.peak_mb:.1f} MB peak growth"
    threads = "?" if outcome.threads_left is None else f"{outcome.threads_left} threads left"
    return f"{_show_outcome(outcome)} ({cpu}, {peak}, {threads})"[:400]


def _show_outcome(outcome: Outcome) -> str:
    if outcome.kind is OutcomeKind.RETURNED:
        return f"returned {_show(outcome.value)}"
    if outcome.kind is OutcomeKind.RAISED:
        return f"raised {outcome.error_type}: {outcome.message}"[:300]
    return f"died ({outcome.error_type}): {outcome.message}"[:300]


def _show(value: Any) -> str:
    if isinstance(value, Construct):
        name = value.target.partition(":")[2]
        parts = [_show(a) for a in value.args] + [f"{k}={_show(v)}" for k, v in value.kwargs]
        return f"{name}({', '.join(parts)})"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_show(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    return repr(value)[:200]


class DifferentialTester(Verifier):
    """Tests ``equivalent`` and ``invariant`` obligations by running both versions through the executor.

    Inputs come from the new signature's annotations (or the user's ``inputs=``),
    boundary-biased with the constants of both versions; boundary combinations are
    tried first, then hypothesis explores and shrinks.  Judging happens here; the
    executor only returns data.
    """

    name = "pbt"

    def _check(self, obligation: Obligation, context: Context) -> Evidence:
        started = time.monotonic()
        if obligation.kind not in (Kind.EQUIVALENT, Kind.INVARIANT):
            return self._unknown(f"the hypothesis verifier does not judge {obligation.kind.value} obligations")
        if obligation.kind is Kind.INVARIANT and not isinstance(obligation.spec, Invariant):
            return self._unknown(f"the invariant obligation on {obligation.target} carries no invariant() property")
        if context.executor is None:
            return self._unknown(f"the gate offered no isolated execution, so {obligation.target} cannot be run; "
                                 "the hypothesis verifier runs code only through the gate's workers")
        try:
            judge, strategies, cases = self._plan(obligation, context)
        except (Unsupported, SyntaxError) as error:
            return self._unknown(str(error))
        result = search(judge, strategies, cases, seed=context.seed, max_examples=context.max_examples,
                        deadline=started + context.timeout)
        return self._conclude(obligation, context, judge, result, time.monotonic() - started)

    def _unknown(self, detail: str) -> Evidence:
        return Evidence(Level.UNKNOWN, self.name, detail)

    def _plan(self, obligation: Obligation, context: Context) -> tuple[_Judge, Any, Any]:
        target, module = obligation.target, obligation.module or module_name(obligation.path)
        if obligation.new_source is None:
            raise Unsupported(f"{target} does not exist in the new version")
        if obligation.kind is Kind.EQUIVALENT and obligation.old_source is None:
            raise Unsupported(f"{target} does not exist in the old version, so there is nothing to compare it with")
        types = module_types(module, context.after.get(obligation.path))
        call = shape(target, module, obligation.new_source, types)
        method = is_method(target, module)
        new_params = parameters(obligation.new_source, method=method)
        old_params = parameters(obligation.old_source, method=method) if obligation.old_source is not None else []
        if obligation.old_source is not None:
            old_names = [p.name for p in old_params]
            if old_names != [p.name for p in new_params]:
                raise Unsupported(f"the parameters of {target} changed from ({', '.join(old_names)}) to "
                                  f"({', '.join(p.name for p in new_params)}), so old and new cannot be called alike; "
                                  "a change of signature is a change of behaviour for every caller")
        sources = [obligation.old_source, obligation.new_source]
        receiver_params: list[Param] = []
        if call.cls is not None:
            cls = types.classes[call.cls]
            receiver_params = init_params(cls, types)
            sources.append(ast.unparse(cls))
        mined = mine(sources, [context.before.get(obligation.path), context.after.get(obligation.path)])
        inputs = getattr(obligation.spec, "inputs", None) if isinstance(obligation.spec, Equivalent) else None
        receiver = [self._slot(obligation, call.cls, p, types, mined, None, receiver=True) for p in receiver_params]
        receiver = [s for s in receiver if s is not None]
        omittable = defaulted_parameters(obligation, new_params, old_params)
        masked = [mask_strategy(omittable)] if omittable else []
        if isinstance(inputs, st.SearchStrategy):
            # the user's tuple supplies every call argument; only the receiver comes from annotations
            named = [_Slot(p.name, _UNUSED, p.keyword_only) for p in new_params] if omittable else []
            judge = _Judge(obligation, context, call.callee, call.cls, (receiver + named) or None, len(receiver),
                           omittable)
            n = len(receiver)
            tuple_strategy = st.tuples(*(s.domain.strategy for s in receiver), inputs, *masked).map(
                lambda t: (*t[:n], *t[n], *t[n + 1:]))
            return _PositionalJudge(judge, len(new_params)), tuple_strategy, None
        slots = [self._slot(obligation, None, p, types, mined, inputs) for p in new_params]
        slots = receiver + [s for s in slots if s is not None]
        judge = _Judge(obligation, context, call.callee, call.cls, slots, len(receiver), omittable)
        judge.notes = list(mined.notes)  # what mining skipped, for the evidence detail
        strategies = [s.domain.strategy for s in slots] + masked
        if any(s.domain.simple is _USER for s in slots):
            return judge, strategies, None
        simple = [s.domain.simple for s in slots]
        cases = boundary_cases([s.domain.boundaries for s in slots], simple, [s.domain.specific for s in slots])
        if omittable:
            index = {s.name: i for i, s in enumerate(slots) if not s.receiver}
            cases = with_omissions(cases, index, simple, omittable)
        return judge, strategies, itertools.chain(_symbolic_cases(obligation, context, slots, omittable), cases)

    def _slot(self, obligation: Obligation, cls: str | None, param: Param, types: Any, mined: Any,
              inputs: Any, *, receiver: bool = False) -> _Slot | None:
        if isinstance(inputs, dict) and param.name in inputs:
            return _Slot(param.name, Domain(inputs[param.name], (), _USER), param.keyword_only)
        if receiver and param.annotation is None and param.has_default:
            return None  # left to its default
        try:
            return _Slot(param.name, domain(param.annotation, types, mined), param.keyword_only, receiver)
        except Unsupported as error:
            raise Unsupported(_unsupported_message(obligation, cls, param, str(error))) from None

    def _conclude(self, obligation: Obligation, context: Context, judge: Any, result: SearchResult,
                  seconds: float) -> Evidence:
        finding = result.finding
        if finding is not None and finding.fatal:
            return self._fatal(obligation, context, judge, finding)
        if finding is not None:
            return self._refuted(obligation, context, judge, finding, result)
        ran = result.examples + result.boundary_cases
        if ran == 0:
            if result.rejected:
                return self._unknown(f"pre rejected every generated input ({result.rejected} tried) for "
                                     f"{obligation.target}; widen pre or give inputs that satisfy it")
            return self._unknown(f"the time budget of {context.timeout:g}s ended before any input of "
                                 f"{obligation.target} ran")
        inner = judge.inner if isinstance(judge, _PositionalJudge) else judge
        if inner.unjudged:
            values, why = inner.unjudged[0]
            return self._unknown(
                f"{len(inner.unjudged)} input(s) of {obligation.target} could not be judged: old and new both died of "
                f"the same limit ({why}), first on {_show_call(obligation, judge, values)}; dying alike is not "
                "agreement. The other inputs agreed. Bound the inputs (pre= or inputs= in the property file) or "
                "raise memory_mb/call_timeout")
        if inner.returned == 0 and inner.raised > 0:
            return self._unknown(
                f"vacuous: {obligation.target} raised on every one of the {inner.raised} inputs tried, on both "
                "sides, so agreeing says nothing about what it computes; state inputs that reach its normal path "
                "(pre= or inputs= in the property file)")
        if inner.omittable and inner.omitting == 0:
            return self._unknown(f"no call omitting the defaulted parameters of {obligation.target} "
                                 f"({', '.join(inner.omittable)}) ran within the {context.timeout:g}s budget, so a "
                                 "changed default is untested; raise the budget")
        if result.budget_ended and result.examples < context.max_examples:
            return self._unknown(_short_of_budget(obligation, context, result, seconds))
        covered = self._coverage(obligation, context, inner)
        if covered is not None and not covered.complete:
            return self._unknown(covered.why_unknown(obligation.target, ran)
                                 + "".join(f"; {n}" for n in getattr(inner, "notes", ())))
        detail = self._passed_detail(obligation, context, result, seconds, len(inner.compared))
        if covered is not None:
            detail += f"; {covered.summary()}"
        if obligation.kind is Kind.EQUIVALENT:
            detail += f"; {inner.usage.summary()}"
        detail += "".join(f"; {n}" for n in getattr(inner, "notes", ()))
        if inner.omittable:
            detail += (f"; {inner.omitting} of the calls omitted defaulted parameters "
                       f"({', '.join(inner.omittable)}), so each side evaluated its own defaults")
        return Evidence(Level.PASSED, self.name, detail)

    def _coverage(self, obligation: Obligation, context: Context, judge: _Judge) -> CoverageReport | None:
        """Whether the compared inputs took every condition the patch adds both ways (None: it adds none)."""
        inputs = [judge.split(values) for values in judge.compared]
        return measure_coverage(obligation, context, judge.callee, inputs, budget=context.timeout)

    def _passed_detail(self, obligation: Obligation, context: Context, result: SearchResult, seconds: float,
                       distinct: int) -> str:
        what = "old and new agree" if obligation.kind is Kind.EQUIVALENT else "the invariant holds"
        shown = f"{distinct}" if distinct < _MAX_REPLAYED else f"at least {distinct}"
        detail = (f"{what} on {result.examples} generated inputs and {result.boundary_cases} boundary cases "
                  f"({shown} distinct; seed {context.seed}, {seconds:.2f}s); ")
        detail += "the search, not the time budget, ended it"  # a search the budget ended is UNKNOWN
        total = result.rejected + result.examples + result.boundary_cases
        if result.rejected * 2 > total:
            detail += f"; pre rejected {result.rejected} of {total} inputs, so coverage is thin"
        isolation = getattr(context.executor, "isolation", "")
        return detail + (f"; executed in workers ({isolation})" if isolation else "")

    def _refuted(self, obligation: Obligation, context: Context, judge: Any, finding: Finding,
                 result: SearchResult) -> Evidence:
        replay = judge.judge(finding.values)
        call = _show_call(obligation, judge, finding.values)
        if replay is None:
            reason = result.flaky or "the input no longer fails when replayed"
            return self._unknown(f"flaky: {call} failed once ({finding.new}) but not on replay; {reason}; "
                                 "the code may depend on state, time or randomness")
        if replay.fatal:
            return self._fatal(obligation, context, judge, replay)
        notes = "".join(f"; {n}" for n in result.notes)
        found = (f"first found at boundary case {result.boundary_cases}, then {result.examples} generated inputs"
                 if result.from_sweep else f"found after {result.boundary_cases} boundary cases and "
                 f"{result.examples} generated inputs")
        detail = (f"{replay.message}: {call}{omission_note(judge.omitted(finding.values))}; old {replay.old}, "
                  f"new {replay.new} ({found}, seed {context.seed}"
                  f"{', shrunk by hypothesis' if result.shrunk else ''}{notes})")
        return Evidence(Level.REFUTED, self.name, detail, counterexample=Counterexample(
            call, replay.old, replay.new, f"sandbox check ... --seed {context.seed}"))

    def _fatal(self, obligation: Obligation, context: Context, judge: Any, finding: Finding) -> Evidence:
        call = _show_call(obligation, judge, finding.values)
        level = finding.level or Level.UNKNOWN
        detail = f"{finding.message}, on {call} (seed {context.seed})"
        cex = Counterexample(call, finding.old, finding.new, f"sandbox check ... --seed {context.seed}")
        violations = ()
        if level is Level.VIOLATION:
            rule = ("module-mutation" if "monkeypatched" in finding.message else
                    "ambient-state" if "running after the call" in finding.message else "runtime-audit")
            violations = (Violation(rule, obligation.path, obligation.line, f"{obligation.target}: {detail}",
                                    RULES[rule].fix, obligation.target),)
        return Evidence(level, self.name, detail, counterexample=cex if level is not Level.UNKNOWN else None,
                        violations=violations)


class _UserSupplied:
    def __repr__(self) -> str:
        return "<user strategy>"


_USER: Any = _UserSupplied()
_UNUSED = Domain(st.nothing(), (), None)  # a named slot whose values come from the user's tuple strategy


class _PositionalJudge:
    """A judge for ``inputs=`` given as one strategy of argument tuples."""

    def __init__(self, inner: _Judge, arity: int) -> None:
        self.inner, self.arity = inner, arity

    def admits(self, values: tuple[Any, ...]) -> bool:
        return self.inner.admits(values)

    def judge(self, values: tuple[Any, ...]) -> Finding | None:
        drawn = len(self.inner._given(values)) - self.inner.n_receiver
        if drawn != self.arity:
            return Finding(values, f"the inputs= strategy drew {drawn} values, but "
                                   f"{self.inner.obligation.target} takes {self.arity}", fatal=True, level=Level.UNKNOWN)
        return self.inner.judge(values)

    def split(self, values: tuple[Any, ...]) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
        return self.inner.split(values)

    def omitted(self, values: tuple[Any, ...]) -> tuple[str, ...]:
        return self.inner.omitted(values)


def _show_call(obligation: Obligation, judge: Any, values: tuple[Any, ...]) -> str:
    receiver, args, kwargs = judge.split(values)
    inner = judge.inner if isinstance(judge, _PositionalJudge) else judge
    names = [s.name for s in inner.slots[inner.n_receiver:] if not s.keyword] if inner.slots and len(inner.slots) > inner.n_receiver else []
    # positional arguments are the first positional parameters: those after an omitted one go by keyword
    parts = [f"{n}={_show(v)}" for n, v in zip(names, args)] if len(names) >= len(args) else [_show(a) for a in args]
    parts += [f"{k}={_show(v)}" for k, v in kwargs.items()]
    if receiver is None:
        return f"{obligation.target}({', '.join(parts)})"
    head, _, method = obligation.target.rpartition(".")
    owner = _show(receiver)
    return f"{head.rpartition('.')[0]}.{owner}.{method}({', '.join(parts)})"


def _unsupported_message(obligation: Obligation, cls: str | None, param: Param, why: str) -> str:
    where = f"parameter {param.name!r} of {cls}.__init__ (needed to build the receiver of {obligation.target})" \
        if cls else f"parameter {param.name!r} of {obligation.target}"
    annotation = f"`{ast.unparse(param.annotation)}`" if param.annotation is not None else "no annotation"
    fix = (f"annotate it (e.g. `{param.name}: int`) in {cls}.__init__" if cls else
           f'state its inputs in the property file, e.g. equivalent("{obligation.target}", '
           f'inputs={{"{param.name}": st.integers(0, 10)}}), or annotate it with a supported type '
           "(int, float, bool, str, bytes, list/tuple/dict/set, Optional, Literal, or an enum or dataclass of the module)")
    return f"{where} has {annotation}, and {why}; {fix}"


def _short_of_budget(obligation: Obligation, context: Context, result: SearchResult, seconds: float) -> str:
    """PASSED takes the configured number of generated inputs; a search the clock stopped is UNKNOWN."""
    ran = result.examples + result.boundary_cases
    per_call = 1000 * seconds / max(ran, 1)
    return (f"the time budget of {context.timeout:g}s ended the search of {obligation.target} after "
            f"{result.examples} generated inputs and {result.boundary_cases} boundary cases, short of the "
            f"{context.max_examples} that PASSED requires; each input took about {per_call:.0f} ms (old and new "
            "together); raise [tool.sandbox] timeout, lower max_examples, or make the code faster")
