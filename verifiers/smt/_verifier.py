"""``SmtProver``: proves or refutes equivalence and invariants of changed functions with z3, then checks itself."""

from __future__ import annotations

import ast
import dataclasses
import itertools
import threading
import time
from typing import Any

import z3

from properties import Kind, Obligation
from verifiers._contract import Context, Counterexample, Evidence, Level, Verifier
from verifiers.smt._check import Replayer, show_call
from verifiers.smt._concrete import bindings, from_model, readable
from verifiers.smt._defaults import omissions
from verifiers.smt._encode import Plan, encode, is_float_obligation, plan
from verifiers.smt._floats import Ieee, Uninterpreted
from verifiers.smt._types import BOOL, INT, Unsupported

_Z3_LOCK = threading.Lock()

__all__ = ["SmtProver"]


class SmtProver(Verifier):
    """Translates old and new versions (and the user's ``pre``/``post``) into z3 and asks for a failure.

    Cheap steps first: normalisation, then floats as uninterpreted functions (equivalence
    only), then bit-precise IEEE-754 under a hard timeout.  Every counterexample is replayed
    through the executor before it is reported; every proof is cross-checked by a short
    differential run.  Anything outside the subset is ``UNKNOWN`` naming construct and line.
    ``str`` is z3's string theory; ``list[K]``/``tuple[K, ...]`` are z3 sequences, proved for
    every length, except where a loop (or ``sum``/``min``/``max``) over one is unrolled to
    ``sequence_bound`` items: then a counterexample is still reported, but "no counterexample"
    is UNKNOWN unless ``pre`` bounds the length.  ``sequences=False`` turns all of that off.
    """

    name = "smt"

    def __init__(self, *, timeout_cap: float = 10.0, unroll_limit: int = 64, inline_depth: int = 8,
                 crosscheck_inputs: int = 24, max_enumeration: int = 4096, sequence_bound: int = 8,
                 sequences: bool = True) -> None:
        # ``sequences=False`` turns off str/list/tuple support (the "before" of bench/smt_share.py)
        self.max_enumeration, self.sequence_bound, self.sequences = max_enumeration, sequence_bound, sequences
        self.timeout_cap, self.unroll_limit = timeout_cap, unroll_limit
        self.inline_depth, self.crosscheck_inputs = inline_depth, crosscheck_inputs
        self.proof_seconds: list[float] = []

    def _check(self, obligation: Obligation, context: Context) -> Evidence:
        # z3's Python API shares one global context and is not thread-safe; the gate may run
        # obligations in a thread pool (--jobs), so proofs take turns.
        with _Z3_LOCK:
            return self._check_locked(obligation, context)

    def _check_locked(self, obligation: Obligation, context: Context) -> Evidence:
        deadline = time.monotonic() + min(context.timeout, self.timeout_cap)
        try:
            plan_ = plan(obligation, context.before.get(obligation.path), context.after.get(obligation.path),
                         self.sequences)
            return self._prove_calls(plan_, context, deadline)
        except Unsupported as error:
            return self._unknown(f"{obligation.target} is outside the smt subset: {error}; "
                                 "the hypothesis tester can still judge it")
        except RecursionError:
            return self._unknown(f"{obligation.target}: the expressions nest too deeply to translate")

    def _unknown(self, detail: str) -> Evidence:
        return Evidence(Level.UNKNOWN, self.name, detail)

    def _prove_calls(self, plan_: Plan, context: Context, deadline: float) -> Evidence:
        """The call giving every argument, then the calls omitting defaulted ones: all must be proved."""
        evidence = self._prove(plan_, context, deadline)
        shown: list[str] = []
        for omitted in omissions(plan_.defaulted):
            if evidence.level is not Level.PROVEN:
                return evidence
            shown.append(", ".join(n for n in plan_.names if n in omitted))
            answer = self._prove(dataclasses.replace(plan_, omitted=omitted), context, deadline)
            if answer.level is not Level.PROVEN:
                return dataclasses.replace(answer, detail=f"for calls omitting {shown[-1]} (each side using its own "
                                                          f"default): {answer.detail}")
        if shown:
            return dataclasses.replace(evidence, detail=f"{evidence.detail}; likewise for the calls omitting defaulted "
                                                         f"parameters ({'; '.join(shown)}), each side using its own")
        return evidence

    def _encode(self, plan_: Plan, ops: Any, deadline: float) -> Any:
        return encode(plan_, ops, unroll_limit=self.unroll_limit, depth=self.inline_depth,
                      timeout_ms=_ms(deadline, 2.0), sequence_bound=self.sequence_bound)

    def _prove(self, plan_: Plan, context: Context, deadline: float) -> Evidence:
        target = plan_.obligation.target
        encoded = self._encode(plan_, Ieee(), deadline)
        witness = _solve(encoded.pre, deadline)
        if witness[0] == z3.unsat:
            return self._unknown(f"vacuous: no input satisfies pre for {target}, so there is nothing to prove; "
                                 "fix pre")
        if witness[0] != z3.sat:
            return self._unknown(f"z3 could not decide whether any input satisfies pre for {target} "
                                 f"({witness[0]}); a proof could be vacuous")
        sample = _inputs(plan_, witness[1], encoded.inputs)
        bounded = _bounded(encoded, deadline)
        if z3.is_false(z3.simplify(encoded.failure)):
            return self._proven(plan_, context, "normalisation (both sides reduce to the same terms)", [sample],
                                encoded.ops.opaque, bounded)
        floats = is_float_obligation(plan_, encoded)
        if floats and plan_.obligation.kind is Kind.EQUIVALENT:
            uf = self._encode(plan_, Uninterpreted(), deadline)
            result, _ = _solve(uf.failure, deadline, share=0.3)
            if result == z3.unsat:
                return self._proven(plan_, context, Uninterpreted.name, [sample], bounded=bounded)
        semantics = Ieee.name if floats else "exact integer arithmetic"
        if _uses_text(encoded):
            semantics += " and strings as code-point sequences (z3's alphabet; see verifiers/smt/_strings.py)"
        if context.executor is not None:
            ints, texts = _mined(plan_)
            candidates = [sample] + Replayer(plan_, context).boundary_inputs(self.crosscheck_inputs * 4, context.seed,
                                                                              ints, texts)
            hit = _ground_search(plan_.kinds, encoded, candidates)
            if hit is not None:
                return self._refuted(plan_, context, hit, semantics, opaque=encoded.ops.opaque)
        if floats:
            finite = _finite_domain(plan_, encoded, deadline, self.max_enumeration)
            if finite is not None:
                hit, count = _enumerate(encoded, finite, deadline)
                if hit is not None:
                    return self._refuted(plan_, context, hit, semantics, opaque=encoded.ops.opaque)
                if count is not None:
                    how = f"{semantics}, evaluated exhaustively on all {count} inputs pre admits"
                    return self._proven(plan_, context, how, [sample], encoded.ops.opaque, bounded)
        result, model = _solve(encoded.failure, deadline)
        if result == z3.unsat:
            return self._proven(plan_, context, semantics, [sample], encoded.ops.opaque, bounded)
        if result == z3.sat:
            model = _smaller(plan_, encoded, deadline) or model
            return self._refuted(plan_, context, _inputs(plan_, model, encoded.inputs), semantics,
                                 opaque=encoded.ops.opaque)
        return self._unknown(f"z3 gave up on {target} under {semantics} ({_reason(result)}) within the "
                             f"{min(context.timeout, self.timeout_cap):g}s budget")

    def _proven(self, plan_: Plan, context: Context, how: str, samples: list[list[Any]], opaque: Any = (),
                bounded: str = "") -> Evidence:
        """PROVEN, cross-checked, unless the encoding assumed more than pre (``bounded`` says what): then UNKNOWN."""
        obligation = plan_.obligation
        if bounded:
            return self._unknown(f"z3 found no counterexample to {obligation.target} by {how}, but only where "
                                 f"{bounded}; that is a bounded search, not a proof (state the bound with pre= to "
                                 "prove it); the hypothesis tester judges the rest")
        if opaque:
            how += f" (with {', '.join(sorted(opaque))} uninterpreted: the proof holds for any function there)"
        what = "old and new are equivalent" if obligation.kind is Kind.EQUIVALENT else "the invariant holds"
        domain = "every input satisfying pre" if plan_.pre is not None else "every input of the annotated types"
        detail = f"PROVEN by z3: {what} for {domain}, by {how}"
        if context.executor is None:
            return Evidence(Level.PROVEN, self.name, detail + "; not cross-checked (the gate offered no executor)")
        replayer = Replayer(plan_, context)
        inputs = samples + replayer.boundary_inputs(self.crosscheck_inputs, context.seed)
        problem = replayer.crosscheck(inputs)
        if problem is not None and not problem[0]:
            return self._unknown(f"z3 proved {obligation.target} ({how}), but the cross-check by concrete runs "
                                 f"did not complete: {problem[1]}; the proof is not reported unconfirmed")
        if problem is not None:
            return self._unknown(f"ENCODER BUG: z3 proved {obligation.target} ({how}) but a concrete run "
                                 f"disagrees: {problem[1]}; the proof is wrong and is not reported; please report this")
        return Evidence(Level.PROVEN, self.name, f"{detail}; cross-checked on {len(inputs)} concrete inputs")

    def _refuted(self, plan_: Plan, context: Context, values: list[Any], semantics: str,
                 found: str = "a z3 model", opaque: Any = ()) -> Evidence:
        opaque = sorted(opaque)
        obligation = plan_.obligation
        call = show_call(plan_, values)
        if context.executor is None:
            return self._unknown(f"z3 found a counterexample under {semantics}, {call}, but the gate offered no "
                                 "executor to replay it, so it is unconfirmed")
        replay = Replayer(plan_, context).replay(values)
        if replay.error:
            return self._unknown(f"z3 found {call} under {semantics}, but replaying it failed: {replay.error}")
        if not replay.fails and opaque:
            return self._unknown(f"z3 found {call} under {semantics} with {', '.join(opaque)} uninterpreted (any "
                                 "function could stand there), and the concrete replay does not fail: the "
                                 "counterexample relied on values the real function does not take; not confirmed")
        if not replay.fails:
            return self._unknown(f"ENCODER BUG: z3 claims {call} breaks {obligation.kind.value} of "
                                 f"{obligation.target} under {semantics}, but the concrete replay does not fail "
                                 f"(old {replay.old}, new {replay.new}); not reported; please report this")
        what = "old and new disagree" if obligation.kind is Kind.EQUIVALENT else "the invariant does not hold"
        detail = (f"REFUTED by z3 ({semantics}; found by {found}): {what} on {call}; old {replay.old}, "
                  f"new {replay.new} (replayed concretely in the workers)")
        return Evidence(Level.REFUTED, self.name, detail, counterexample=Counterexample(
            call, replay.old, replay.new, f"sandbox check ... (z3 counterexample {call})"))


def _ms(deadline: float, share: float = 1.0) -> int:
    return max(1, int((deadline - time.monotonic()) * 1000 * share))


def _solve(formula: Any, deadline: float, share: float = 1.0) -> tuple[Any, Any]:
    if time.monotonic() >= deadline:
        return z3.unknown, None
    solver = z3.Solver()
    solver.set("timeout", _ms(deadline, share))
    solver.add(formula)
    result = solver.check()
    return result, solver.model() if result == z3.sat else solver.reason_unknown() if result == z3.unknown else None


def _uses_text(encoded: Any) -> bool:
    text = encoded.failure.sexpr()
    return "str." in text or "String" in text


def _bounded(encoded: Any, deadline: float) -> str:
    """What the encoding assumed that ``pre`` does not guarantee ("" when it assumed nothing more)."""
    if not encoded.assumed:
        return ""
    of_pre = z3.And(*[condition for condition, _ in encoded.pre_assumed]) if encoded.pre_assumed else z3.BoolVal(True)
    holds = z3.And(*[condition for condition, _ in encoded.assumed])
    result, _ = _solve(z3.Or(z3.Not(of_pre), z3.And(encoded.pre, z3.Not(holds))), min(deadline, time.monotonic() + 2.0))
    if result == z3.unsat:
        return ""
    return "; ".join(dict.fromkeys(why for _, why in encoded.assumed))


def _smaller(plan_: Plan, encoded: Any, deadline: float) -> Any:
    """A model with small ints and short printable strings, if one is found quickly: easier to read."""
    small = readable(plan_.kinds, encoded.inputs)
    if z3.is_true(small):
        return None
    result, model = _solve(z3.And(encoded.failure, small), min(deadline, time.monotonic() + 1.0))
    return model if result == z3.sat else None


def _mined(plan_: Plan) -> tuple[list[int], list[str]]:
    """Int and str constants of both versions and the module constants, with their neighbours."""
    found: set[int] = set()
    texts: set[str] = set()
    for node in (plan_.old_fn, plan_.new_fn):
        for sub in ast.walk(node) if node is not None else ():
            if isinstance(sub, ast.Constant) and type(sub.value) is int:
                found.add(sub.value)
            elif isinstance(sub, ast.Constant) and isinstance(sub.value, str) and len(sub.value) <= 256:
                texts.add(sub.value)
    for info in (plan_.old_info, plan_.new_info):
        found |= {v for v in info.constants.values() if type(v) is int}
        texts |= {v for v in info.constants.values() if isinstance(v, str) and len(v) <= 256}
    ints = sorted({n + d for n in found for d in (-1, 0, 1)} | {-n for n in found})[:64]
    near = {t + extra for t in texts for extra in ("", "x", " ")} | {t[:-1] for t in texts} | {t[1:] for t in texts}
    return ints, sorted(near)[:64]


def _ground_search(kinds: list[Any], encoded: Any, candidates: list[list[Any]]) -> list[Any] | None:
    """A candidate input on which the failure formula evaluates to true (cheap: no search, just evaluation)."""
    for values in candidates:
        try:
            pairs = bindings(kinds, encoded.inputs, values, encoded.ops)
        except ValueError:  # a string past z3's alphabet: the concrete cross-check runs it, z3 cannot hold it
            continue
        if z3.is_true(z3.simplify(z3.substitute(encoded.failure, *pairs))):
            return values
    return None


def _finite_domain(plan_: Plan, encoded: Any, deadline: float, limit: int) -> list[list[Any]] | None:
    """Every input pre admits, when all inputs are ints/bools that pre bounds to at most ``limit`` points."""
    ranges: list[list[Any]] = []
    size = 1
    for kind, sym in zip(plan_.kinds, encoded.inputs):
        if kind == BOOL:
            ranges.append([False, True])
        elif kind == INT:
            low, high = _extreme(encoded.pre, sym.term, deadline, minimise=True), \
                _extreme(encoded.pre, sym.term, deadline, minimise=False)
            if low is None or high is None:
                return None
            ranges.append(list(range(low, high + 1)))
        else:
            return None
        size *= len(ranges[-1])
        if size > limit:
            return None
    return [list(p) for p in itertools.product(*ranges)]


def _extreme(pre: Any, term: Any, deadline: float, *, minimise: bool) -> int | None:
    optimizer = z3.Optimize()
    optimizer.set("timeout", min(_ms(deadline, 0.1), 2000))
    optimizer.add(pre)
    handle = optimizer.minimize(term) if minimise else optimizer.maximize(term)
    if optimizer.check() != z3.sat:
        return None
    bound = handle.value()
    return bound.as_long() if z3.is_int_value(bound) else None


def _enumerate(encoded: Any, points: list[list[Any]], deadline: float) -> tuple[list[Any] | None, int | None]:
    """(a failing point, None), or (None, how many points pre admits) when none fails, or (None, None) on timeout."""
    admitted = 0
    for values in points:
        if time.monotonic() > deadline:
            return None, None
        pairs = [(s.term, z3.IntVal(v) if s.kind == INT else z3.BoolVal(v)) for s, v in zip(encoded.inputs, values)]
        if not z3.is_true(z3.simplify(z3.substitute(encoded.pre, *pairs))):
            continue
        admitted += 1
        verdict = z3.simplify(z3.substitute(encoded.failure, *pairs))
        if z3.is_true(verdict):
            return values, None
        if not z3.is_false(verdict):
            return None, None
    return None, admitted


def _reason(result: Any) -> str:
    return "timeout" if result == z3.unknown else str(result)


def _inputs(plan_: Plan, model: Any, inputs: list[Any]) -> list[Any]:
    return [from_model(kind, model, sym) for kind, sym in zip(plan_.kinds, inputs)]
