"""An obligation as one z3 formula that is satisfiable exactly when the obligation fails."""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, field
from typing import Any

import z3

from properties import Kind, Obligation, module_name
from verifiers.smt._defaults import defaults_of, side_arguments
from verifiers.smt._lambdas import body_of, lambda_node
from verifiers.smt._module import ModuleInfo, module_info
from verifiers.smt._sequences import unify
from verifiers.smt._translate import Exit, Translator, and_, or_, truth
from verifiers.smt._types import FLOAT, Sym, Unsupported, Value, fresh, param_kind, shape

__all__ = ["Encoded", "Plan", "encode", "is_float_obligation", "plan"]


@dataclass
class Plan:
    """The parsed pieces of an obligation, independent of the float semantics.

    ``defaulted`` names the parameters with a default on either side (equivalence only);
    ``omitted`` those the call being checked leaves out, so each side uses its own default.
    """

    obligation: Obligation
    names: list[str]
    kinds: list[str]
    keyword_only: list[bool]
    old_fn: ast.FunctionDef | None
    new_fn: ast.FunctionDef
    old_info: ModuleInfo
    new_info: ModuleInfo
    pre: Any = None
    post: Any = None
    defaulted: list[str] = field(default_factory=list)
    omitted: frozenset[str] = frozenset()
    sequences: bool = True


@dataclass
class Encoded:
    """``failure`` is satisfiable iff the obligation fails; ``pre`` is the domain; ``inputs`` the z3 inputs.

    ``assumed`` lists (condition, what) the encoding relies on (a sequence unrolled to a bound,
    text ``int()`` does not model); ``failure`` includes them, so a model of it is a real
    counterexample, but its unsatisfiability proves nothing where they may fail.  Those of
    ``pre`` itself are in ``pre_assumed``: where they fail, ``pre`` is not known, so they
    must hold for every input, not only for those ``pre`` seems to admit.
    """

    failure: Any
    pre: Any
    inputs: list[Value]
    ops: Any
    bounded_loops: list[int] = field(default_factory=list)
    assumed: list[tuple[Any, str]] = field(default_factory=list)
    pre_assumed: list[tuple[Any, str]] = field(default_factory=list)


def _function(source: str, start: int | None, role: str) -> ast.FunctionDef:
    tree = ast.parse(source)
    if start:
        ast.increment_lineno(tree, start - 1)
    node = tree.body[0] if tree.body else None
    if not isinstance(node, ast.FunctionDef):
        raise Unsupported(f"the {role} definition is not a plain function (async or a class)", start)
    if node.decorator_list:
        raise Unsupported(f"the {role} function has decorators, which may change what it does", node.lineno)
    return node


def plan(obligation: Obligation, before: str | None, after: str | None, sequences: bool = True) -> Plan:
    """Parse the obligation; raises ``Unsupported`` for what the prover cannot judge."""
    if obligation.kind not in (Kind.EQUIVALENT, Kind.INVARIANT):
        raise Unsupported(f"the smt prover does not judge {obligation.kind.value} obligations")
    if obligation.new_source is None:
        raise Unsupported(f"{obligation.target} does not exist in the new version: nothing to check")
    if obligation.kind is Kind.EQUIVALENT and obligation.old_source is None:
        raise Unsupported(f"{obligation.target} does not exist in the old version: nothing to compare it with")
    module = obligation.module or module_name(obligation.path)
    if obligation.target.count(".") != module.count(".") + 1:
        raise Unsupported(f"{obligation.target} is a method or nested function; the smt subset takes "
                          "module-level functions")
    new_fn = _function(obligation.new_source, (obligation.new_lines or (1, 1))[0], "new")
    old_fn = _function(obligation.old_source, (obligation.old_lines or (1, 1))[0], "old") \
        if obligation.old_source is not None else None
    args = new_fn.args
    if args.vararg or args.kwarg or args.posonlyargs:
        raise Unsupported("*args, **kwargs or positional-only parameters", new_fn.lineno)
    params = [*args.args, *args.kwonlyargs]
    if old_fn is not None:
        old_names = [p.arg for p in [*old_fn.args.posonlyargs, *old_fn.args.args, *old_fn.args.kwonlyargs]]
        if old_names != [p.arg for p in params] or old_fn.args.vararg or old_fn.args.kwarg:
            raise Unsupported(f"the parameters of {obligation.target} changed; old and new cannot be called alike")
    kinds = [param_kind(p.annotation, p.arg, new_fn.lineno, sequences) for p in params]
    result = Plan(obligation, [p.arg for p in params], kinds, [False] * len(args.args) + [True] * len(args.kwonlyargs),
                  old_fn, new_fn, module_info(module, before), module_info(module, after), sequences=sequences)
    if obligation.kind is Kind.EQUIVALENT:
        with_default = defaults_of(new_fn).keys() | defaults_of(old_fn).keys()
        result.defaulted = [name for name in result.names if name in with_default]
    spec = obligation.spec
    if getattr(spec, "pre", None) is not None:
        result.pre = lambda_node(spec.pre, "pre")  # type: ignore[union-attr]
    if obligation.kind is Kind.INVARIANT:
        if getattr(spec, "post", None) is None:
            raise Unsupported(f"the invariant obligation on {obligation.target} carries no post condition")
        result.post = lambda_node(spec.post, "post")  # type: ignore[union-attr]
    return result


class _Bounds:
    """Answers how many iterations a loop can run under ``pre`` and the path condition."""

    def __init__(self, limit: int, timeout_ms: int) -> None:
        self.limit, self.timeout_ms, self.pre = limit, timeout_ms, z3.BoolVal(True)
        self.used: list[int] = []

    def __call__(self, count: Any, pc: Any, limit: int | None = None) -> int | None:
        limit = self.limit if limit is None else limit
        simple = z3.simplify(count)
        if z3.is_int_value(simple):
            n = max(0, simple.as_long())
            return self._use(n) if n <= limit else None
        if self._possible(pc, count > limit):
            return None
        low, high = 0, limit  # smallest n with count <= n everywhere
        while low < high:
            mid = (low + high) // 2
            low, high = (mid + 1, high) if self._possible(pc, count > mid) else (low, mid)
        return self._use(low)

    def _use(self, n: int) -> int:
        self.used.append(n)
        return n

    def _possible(self, pc: Any, cond: Any) -> bool:
        solver = z3.Solver()
        solver.set("timeout", self.timeout_ms)
        solver.add(self.pre, pc, cond)
        return solver.check() != z3.unsat  # unknown counts as possible: never unroll on a guess


def _lambda_translator(node_and_free: tuple[Any, dict[str, Any]], fn: Any, ops: Any, bounds: _Bounds,
                       sequences: bool) -> Translator:
    _, free = node_and_free
    info = ModuleInfo("<properties>", constants=free)
    info.math_aliases = {n for n, v in getattr(fn, "__globals__", {}).items() if v is math}
    return Translator(info, ops, loop_bound=bounds, sequences=sequences)


def _condition(plan_: Plan, which: str, ops: Any, env: dict[str, Value], bounds: _Bounds,
               assumed: list[tuple[Any, str]]) -> Any:
    """``pre``/``post`` as a formula: it returns a truthy value without raising."""
    node_free = getattr(plan_, which)
    fn = getattr(plan_.obligation.spec, which)
    node = node_free[0]
    names = [a.arg for a in node.args.args]
    if node.args.vararg or node.args.kwonlyargs or len(names) != len(env):
        raise Unsupported(f"{which} takes ({', '.join(names)}) but must take exactly {len(env)} arguments "
                          f"({', '.join(env)})", node.lineno)
    translator = _lambda_translator(node_free, fn, ops, bounds, plan_.sequences)
    ok, value = translator.expression(body_of(node), dict(zip(names, env.values())))
    assumed.extend(translator.assumed)
    return and_(ok, truth(value, ops))


def encode(plan_: Plan, ops: Any, *, unroll_limit: int, depth: int, timeout_ms: int,
           sequence_bound: int = 8) -> Encoded:
    """The failure formula of the obligation under float semantics ``ops``."""
    sort = ops.sort
    inputs = [fresh(k, n, sort) for n, k in zip(plan_.names, plan_.kinds)]
    env = dict(zip(plan_.names, inputs))
    bounds = _Bounds(unroll_limit, timeout_ms)
    pre_assumed: list[tuple[Any, str]] = []
    pre = _condition(plan_, "pre", ops, env, bounds, pre_assumed) if plan_.pre is not None else z3.BoolVal(True)
    bounds.pre = pre
    assumed: list[tuple[Any, str]] = list(pre_assumed)
    translators: list[Translator] = []

    def translate(info: ModuleInfo) -> Translator:
        translators.append(Translator(info, ops, depth=depth, loop_bound=bounds, unroll_limit=unroll_limit,
                                      sequence_bound=sequence_bound, sequences=plan_.sequences))
        return translators[-1]

    new_exits = _exits(plan_, translate(plan_.new_info), plan_.new_fn, inputs, "new")
    old_exits = _exits(plan_, translate(plan_.old_info), plan_.old_fn, inputs, "old") \
        if plan_.old_fn is not None else []
    if plan_.obligation.kind is Kind.EQUIVALENT:
        failure = z3.Not(_agree(_grouped(old_exits, ops), _grouped(new_exits, ops), ops))
    else:
        failure = _violated(plan_, ops, env, bounds, old_exits, _grouped(new_exits, ops), assumed)
    for translator in translators:
        assumed.extend(translator.assumed)
    for condition, _ in assumed:
        failure = and_(failure, condition)
    return Encoded(and_(pre, failure), pre, inputs, ops, bounds.used, assumed, pre_assumed)


def _exits(plan_: Plan, translator: Translator, fn: ast.FunctionDef, inputs: list[Sym], role: str) -> list[Exit]:
    """How ``fn`` ends when called with ``inputs``, the omitted ones replaced by ``fn``'s own defaults."""
    if not plan_.omitted:
        return translator.call(fn, list(inputs))
    bound = side_arguments(translator, fn, plan_.names, inputs, plan_.omitted, role)
    if bound is None:  # Python: "missing required argument"
        return [Exit(z3.BoolVal(True), raised="TypeError")]
    values, ok = bound
    return translator.call(fn, values, ok)


def _grouped(exits: list[Exit], ops: Any) -> list[Exit]:
    """Returns of one type merged into one guarded value; raises of one type into one guard."""
    groups: dict[Any, Exit] = {}
    for exit_ in exits:
        key = ("raise", exit_.raised) if exit_.raised is not None else ("return", shape(exit_.value))
        if key not in groups:
            groups[key] = Exit(exit_.guard, exit_.value, exit_.raised)
            continue
        group = groups[key]
        if exit_.raised is None:
            group.value = _select(exit_.guard, exit_.value, group.value)
        group.guard = or_(group.guard, exit_.guard)
    return list(groups.values())


def _select(cond: Any, a: Value, b: Value) -> Value:
    if isinstance(a, tuple):
        return tuple(_select(cond, x, y) for x, y in zip(a, b))
    return a if a.term is None else Sym(a.kind, z3.If(cond, a.term, b.term))


def _same(a: Value, b: Value, ops: Any) -> Any:
    """Equal as data (the test the workers apply): floats bit for bit, containers item by item."""
    if isinstance(a, tuple):
        return z3.And(*[_same(x, y, ops) for x, y in zip(a, b)]) if a else z3.BoolVal(True)
    if a.term is None or b.term is None:  # None, or an empty display against a sequence
        return z3.BoolVal(True) if a.term is b.term else z3.Length(a.term if b.term is None else b.term) == 0
    return ops.same(a.term, b.term) if a.kind == FLOAT else a.term == b.term


def _agree(old: list[Exit], new: list[Exit], ops: Any) -> Any:
    cases = []
    for o in old:
        for n in new:
            if o.raised is not None or n.raised is not None:
                if o.raised == n.raised:
                    cases.append(and_(o.guard, n.guard))
                continue
            pair = unify(o.value, n.value, ops.sort)
            if pair is not None:
                cases.append(and_(and_(o.guard, n.guard), _same(*pair, ops)))
    return z3.Or(*cases) if cases else z3.BoolVal(False)


def _violated(plan_: Plan, ops: Any, env: dict[str, Value], bounds: _Bounds, old_exits: list[Exit],
              new: list[Exit], assumed: list[tuple[Any, str]]) -> Any:
    bad = []
    for n in new:
        if n.raised is None:
            post_env = {**env, "<out>": n.value}
            bad.append(and_(n.guard, z3.Not(_condition(plan_, "post", ops, post_env, bounds, assumed))))
        else:
            same_raise = [o.guard for o in old_exits if o.raised == n.raised]
            old_raised = z3.Or(*same_raise) if same_raise else z3.BoolVal(False)
            bad.append(and_(n.guard, z3.Not(old_raised)))
    return z3.Or(*bad) if bad else z3.BoolVal(False)


def is_float_obligation(plan_: Plan, encoded: Encoded) -> bool:
    return any(FLOAT in repr(kind) for kind in plan_.kinds) or bool(encoded.ops.used)

