"""Symbolic execution of a Python subset into z3 terms, tracking which inputs raise which exception.

Every expression is evaluated under a path condition ``State.pc``.  Where Python
would raise (division by zero, a failed ``assert``, ``raise``, float overflow on
conversion), an ``Exit`` is recorded with the condition under which it happens
and the path condition is narrowed to the inputs that carry on.  Branches are
executed separately and merged with ``If``; every return is kept with its guard.
Anything outside the subset raises ``Unsupported`` naming the construct and line.
Where the encoding is exact only under a condition (a sequence unrolled to a bound,
text ``int()`` does not model), ``assume`` records it in ``assumed``: a counterexample
that satisfies it is real, but no proof may rest on it (see ``_verifier._bounded``).
Strings and sequences live in the mixin ``_text_ops.TextOps``.
"""

from __future__ import annotations

import ast
import builtins
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import z3

from verifiers.smt import _sequences as seqs
from verifiers.smt import _strings as strs
from verifiers.smt._module import MATH_CONSTANTS, MATH_FUNCTIONS, TRANSCENDENTAL, ModuleInfo, check_constant
from verifiers.smt._text_ops import TextOps
from verifiers.smt._types import BOOL, FLOAT, INT, NONE, Sym, Unsupported, Value, as_int, shape

__all__ = ["Exit", "State", "Translator", "truth"]

_TRUE, _FALSE = z3.BoolVal(True), z3.BoolVal(False)
_CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=", ast.In: "in",
        ast.NotIn: "not in"}
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**"}
_MAX_POWER = 16
_LOG_OF_INT = frozenset({"log", "log2", "log10"})  # CPython takes these of any positive int, however large


def and_(a: Any, b: Any) -> Any:
    if z3.is_false(a) or z3.is_false(b):
        return _FALSE
    return b if z3.is_true(a) else a if z3.is_true(b) else z3.And(a, b)


def or_(a: Any, b: Any) -> Any:
    if z3.is_true(a) or z3.is_true(b):
        return _TRUE
    return b if z3.is_false(a) else a if z3.is_false(b) else z3.Or(a, b)


@dataclass
class Exit:
    """How a call ends under ``guard``: ``raised`` names an exception type, else ``value`` is returned."""

    guard: Any
    value: Value | None = None
    raised: str | None = None


@dataclass
class State:
    """The live path condition, local variables, and every exit recorded so far."""

    pc: Any
    env: dict[str, Any] = field(default_factory=dict)
    exits: list[Exit] = field(default_factory=list)

    def fork(self, cond: Any) -> "State":
        return State(and_(self.pc, cond), dict(self.env), self.exits)


class _Unbound:
    def __init__(self, why: str) -> None:
        self.why = why


def merge(cond: Any, a: Value, b: Value, line: int | None, what: str = "a value", float_sort: Any = None) -> Value:
    """``a`` where ``cond`` holds, else ``b``; both must have the same Python type."""
    if a is b:
        return a
    pair = seqs.unify(a, b, float_sort) if float_sort is not None else None
    if pair is not None:
        a, b = pair
    if shape(a) != shape(b):
        raise Unsupported(f"{what} is {shape(a)} on one path and {shape(b)} on another; the smt subset "
                          "needs one type per value", line)
    if isinstance(a, tuple):
        return tuple(merge(cond, x, y, line, what, float_sort) for x, y in zip(a, b))
    if a.term is None:  # None, or two empty displays
        return a
    return Sym(a.kind, z3.If(cond, a.term, b.term))


def truth(value: Value, ops: Any) -> Any:
    """Python truthiness (``ops`` is the float semantics)."""
    if isinstance(value, tuple):
        return z3.BoolVal(len(value) > 0)
    if value.kind == BOOL:
        return value.term
    if value.kind == INT:
        return value.term != 0
    if value.kind == NONE:
        return _FALSE
    if seqs.is_text(value):
        return seqs.length(value) > 0
    return z3.Not(ops.is_zero(value.term))


_as_int = as_int


class Translator(TextOps):
    """Translates functions of one side's module (``info``) under one float semantics (``ops``).

    ``loop_bound(count_term, pc)`` answers the largest number of iterations a loop can run
    given the path condition and ``pre``, or None if that exceeds the unroll limit.
    """

    def __init__(self, info: ModuleInfo, ops: Any, *, depth: int = 8, loop_bound: Callable[..., int | None],
                 extra_constants: dict[str, Any] | None = None, unroll_limit: int = 64, sequence_bound: int = 8,
                 sequences: bool = True) -> None:
        self.info, self.ops, self.depth_limit = info, ops, depth
        self.loop_bound, self.unroll_limit = loop_bound, unroll_limit
        self.sequence_bound, self.sequences = sequence_bound, sequences
        self.extra = extra_constants or {}
        self._depth = 0
        # (condition, what it assumes): the encoding is exact only where every condition holds
        self.assumed: list[tuple[Any, str]] = []

    def merge(self, cond: Any, a: Value, b: Value, line: int | None, what: str = "a value") -> Value:
        return merge(cond, a, b, line, what, self.ops.sort)

    def assume(self, state: State, cond: Any, why: str) -> None:
        """The encoding from here on is exact only where ``cond`` holds; a proof must not rely on it."""
        if not z3.is_true(z3.simplify(z3.Implies(state.pc, cond))):
            self.assumed.append((z3.Implies(state.pc, cond), why))

    # ---- functions and lambdas -------------------------------------------------------------
    def call(self, fn: ast.FunctionDef, args: list[Value], pc: Any = _TRUE) -> list[Exit]:
        """Every exit of ``fn`` called with ``args`` (positional, one per parameter)."""
        state = State(pc, dict(zip(_param_names(fn), args)))
        self.block(fn.body, state)
        if not z3.is_false(state.pc):
            state.exits.append(Exit(state.pc, Sym(NONE)))
        return state.exits

    def expression(self, node: ast.expr, env: dict[str, Value]) -> tuple[Any, Value]:
        """Evaluate ``node`` with inputs ``env``: (the condition under which it does not raise, its value)."""
        state = State(_TRUE, dict(env))
        value = self.expr(node, state)
        return state.pc, value

    # ---- statements ------------------------------------------------------------------------
    def block(self, stmts: list[ast.stmt], state: State) -> None:
        for stmt in stmts:
            if z3.is_false(state.pc):
                return
            self.stmt(stmt, state)

    def stmt(self, node: ast.stmt, state: State) -> None:
        if isinstance(node, ast.Return):
            value = self.expr(node.value, state) if node.value is not None else Sym(NONE)
            state.exits.append(Exit(state.pc, value))
            state.pc = _FALSE
        elif isinstance(node, ast.Assign):
            value = self.expr(node.value, state)
            for target in node.targets:
                self.assign(target, value, state)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            self.assign(node.target, self.expr(node.value, state), state)
        elif isinstance(node, ast.AugAssign):
            if not isinstance(node.target, ast.Name):
                raise Unsupported("augmented assignment to something other than a name", node.lineno)
            current = self.name(node.target.id, state, node.lineno)
            if isinstance(current, Sym) and current.kind.startswith("list["):
                raise Unsupported(f"`{ast.unparse(node)[:40]}` mutates the list in place (other names for it would "
                                  "change too); write `xs = xs + [...]`", node.lineno)
            self.assign(node.target, self.binop(type(node.op), current, self.expr(node.value, state), state,
                                                node.lineno), state)
        elif isinstance(node, ast.If):
            self.if_(node, state)
        elif isinstance(node, ast.For):
            self.for_(node, state)
        elif isinstance(node, ast.Assert):
            self.assert_(node, state)
        elif isinstance(node, ast.Raise):
            self.raise_stmt(node, state)
        elif isinstance(node, ast.Pass):
            pass
        elif isinstance(node, ast.Expr):
            if not (isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
                self.expr(node.value, state)
        else:
            raise Unsupported(f"`{type(node).__name__.lower()}` statement", node.lineno)

    def assign(self, target: ast.expr, value: Value, state: State) -> None:
        if isinstance(target, ast.Name):
            state.env[target.id] = value
        elif isinstance(target, ast.Tuple) and not any(isinstance(e, ast.Starred) for e in target.elts):
            if not isinstance(value, tuple) or len(value) != len(target.elts):
                raise Unsupported("unpacking a value that is not a tuple of the same length", target.lineno)
            for sub, item in zip(target.elts, value):
                self.assign(sub, item, state)
        else:
            raise Unsupported(f"assignment to `{ast.unparse(target)}`", target.lineno)

    def if_(self, node: ast.If, state: State) -> None:
        cond = truth(self.expr(node.test, state), self.ops)
        then, other = state.fork(cond), state.fork(z3.Not(cond))
        self.block(node.body, then)
        self.block(node.orelse, other)
        self.join(state, then, other, node.lineno)

    def join(self, state: State, a: State, b: State, line: int) -> None:
        state.pc = or_(a.pc, b.pc)
        if z3.is_false(a.pc) or z3.is_false(b.pc):
            state.env = b.env if z3.is_false(a.pc) else a.env
            return
        env = {}
        for name in a.env.keys() | b.env.keys():
            x, y = a.env.get(name), b.env.get(name)
            if x is None or y is None or isinstance(x, _Unbound) or isinstance(y, _Unbound):
                env[name] = _Unbound(f"variable {name!r} is assigned on only some paths")
            elif shape(x) != shape(y) and seqs.unify(x, y, self.ops.sort) is None:
                env[name] = _Unbound(f"variable {name!r} is {shape(x)} on one path and {shape(y)} on another")
            else:
                env[name] = self.merge(a.pc, x, y, line)
        state.env = env

    def for_(self, node: ast.For, state: State) -> None:
        call = node.iter
        if node.orelse or any(isinstance(n, (ast.Break, ast.Continue)) for n in ast.walk(node)):
            raise Unsupported("`break`, `continue` or `for ... else`", node.lineno)
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "range"
                and call.func.id not in state.env and not call.keywords and 1 <= len(call.args) <= 3):
            self.for_items(node, state)
            return
        self.not_shadowed("range", node.lineno)
        if not isinstance(node.target, ast.Name):
            raise Unsupported("a `for` target other than a name", node.lineno)
        values = [self.int_arg(self.expr(a, state), "range", node.lineno) for a in call.args]
        start, stop, step = (z3.IntVal(0), values[0], z3.IntVal(1)) if len(values) == 1 else \
            (values[0], values[1], values[2] if len(values) == 3 else z3.IntVal(1))
        step = z3.simplify(step)
        if not z3.is_int_value(step):
            raise Unsupported("a `range` step that is not a constant", node.lineno)
        if step.as_long() == 0:
            self.exit(state, _TRUE, "ValueError")
            return
        s = step.as_long()
        count = z3.If(stop > start, (stop - start + s - 1) / s, 0) if s > 0 else \
            z3.If(start > stop, (start - stop - s - 1) / -s, 0)
        bound = self.loop_bound(count, state.pc)
        if bound is None:
            raise Unsupported(f"the loop may run more than the unroll limit of {self.unroll_limit} iterations "
                              "(bound it with a constant or with pre=)", node.lineno)
        for k in range(bound):
            inside = state.fork(count > k)
            inside.env[node.target.id] = Sym(INT, z3.simplify(start + k * s))
            self.block(node.body, inside)
            skipped = state.fork(z3.Not(count > k))
            self.join(state, inside, skipped, node.lineno)

    def assert_(self, node: ast.Assert, state: State) -> None:
        holds = truth(self.expr(node.test, state), self.ops)
        failing = state.fork(z3.Not(holds))
        if node.msg is not None:
            self.message(node.msg, failing)
        self.exit(failing, _TRUE, "AssertionError")
        state.pc = or_(and_(state.pc, holds), failing.pc)

    def raise_stmt(self, node: ast.Raise, state: State) -> None:
        exc = node.exc
        if node.cause is not None or exc is None:
            raise Unsupported("`raise` without an exception or with `from`", node.lineno)
        func = exc.func if isinstance(exc, ast.Call) else exc
        if not isinstance(func, ast.Name):
            raise Unsupported(f"`raise {ast.unparse(exc)}`", node.lineno)
        name = self.exception_name(func.id, node.lineno)
        if isinstance(exc, ast.Call):
            for arg in [*exc.args, *(k.value for k in exc.keywords)]:
                self.message(arg, state)
        self.exit(state, _TRUE, name)

    def exception_name(self, name: str, line: int) -> str:
        if name in self.info.classes:
            return f"{self.info.name}.{name}"
        kind = getattr(builtins, name, None)
        if isinstance(kind, type) and issubclass(kind, BaseException):
            return name
        raise Unsupported(f"`raise {name}`: not a built-in exception or a class of the module", line)

    def message(self, node: ast.expr, state: State) -> None:
        """An exception message: a string, an f-string of plain names, or an expression in the subset."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return
        if isinstance(node, ast.JoinedStr):
            for part in node.values:
                if isinstance(part, ast.FormattedValue):
                    if part.format_spec is not None or part.conversion != -1 or not isinstance(part.value, ast.Name):
                        raise Unsupported("an f-string with conversions or format specs in a message", node.lineno)
                    self.too_long_to_format(self.name(part.value.id, state, node.lineno), state)
            return
        self.expr(node, state)

    def too_long_to_format(self, value: Value, state: State) -> None:
        """Formatting an int of more digits than ``sys.get_int_max_str_digits()`` raises ``ValueError``."""
        limit = sys.get_int_max_str_digits()
        if isinstance(value, tuple):
            for item in value:
                self.too_long_to_format(item, state)
        elif value.kind == INT and limit:
            power = z3.IntVal("1" + "0" * limit)  # from text: the int itself cannot pass through str()
            self.exit(state, z3.Or(value.term >= power, value.term <= -power), "ValueError")

    def exit(self, state: State, cond: Any, name: str) -> None:
        """Record that ``name`` is raised where ``cond`` holds; carry on where it does not."""
        guard = and_(state.pc, cond)
        if not z3.is_false(guard):
            state.exits.append(Exit(guard, raised=name))
        state.pc = and_(state.pc, z3.Not(cond)) if not z3.is_true(cond) else _FALSE

    # ---- expressions -----------------------------------------------------------------------
    def expr(self, node: ast.expr, state: State) -> Value:
        method = getattr(self, f"e_{type(node).__name__}", None)
        if method is None:
            raise Unsupported(f"expression `{ast.unparse(node)[:60]}` ({type(node).__name__})",
                              getattr(node, "lineno", None))
        return method(node, state)

    def e_Constant(self, node: ast.Constant, state: State) -> Value:
        return self.literal(node.value, node.lineno)

    def literal(self, value: Any, line: int | None) -> Value:
        if isinstance(value, tuple):
            return tuple(self.literal(v, line) for v in value)
        if value is None:
            return Sym(NONE)
        if isinstance(value, bool):
            return Sym(BOOL, z3.BoolVal(value))
        if isinstance(value, int):
            return Sym(INT, z3.IntVal(value))
        if isinstance(value, float):
            return Sym(FLOAT, self.ops.const(value))
        if isinstance(value, str) and self.sequences:
            return strs.literal(value, line)
        raise Unsupported(f"the {type(value).__name__} literal {value!r:.40}", line)

    def e_Name(self, node: ast.Name, state: State) -> Value:
        return self.name(node.id, state, node.lineno)

    def name(self, name: str, state: State, line: int) -> Value:
        if name in state.env:
            value = state.env[name]
            if isinstance(value, _Unbound):
                raise Unsupported(value.why, line)
            return value
        if name in self.extra:
            return self.literal(check_constant(name, self.extra[name], line), line)
        if name in self.info.constants:
            return self.literal(check_constant(name, self.info.constants[name], line), line)
        if name in self.info.not_literal:
            raise Unsupported(self.info.not_literal[name], line)
        if name in self.info.from_math and self.info.from_math[name] in MATH_CONSTANTS:
            return self.literal(MATH_CONSTANTS[self.info.from_math[name]], line)
        if name in ("True", "False", "None"):
            return self.literal({"True": True, "False": False, "None": None}[name], line)
        raise Unsupported(f"the name {name!r} (not a parameter, local, or literal module constant)", line)

    def e_Tuple(self, node: ast.Tuple, state: State) -> Value:
        if any(isinstance(e, ast.Starred) for e in node.elts):
            raise Unsupported("starred tuple items", node.lineno)
        return tuple(self.expr(e, state) for e in node.elts)

    def e_Subscript(self, node: ast.Subscript, state: State) -> Value:
        base = self.expr(node.value, state)
        index = node.slice
        if isinstance(base, tuple) and isinstance(index, ast.Constant) and type(index.value) is int \
                and -len(base) <= index.value < len(base):
            return base[index.value]
        if isinstance(base, tuple) and isinstance(index, ast.Slice) and index.step is None and all(
                b is None or (isinstance(b, ast.Constant) and type(b.value) is int) for b in (index.lower, index.upper)):
            return base[index.lower.value if index.lower else None:index.upper.value if index.upper else None]
        if isinstance(base, tuple) and self.sequences and not isinstance(index, ast.Slice):
            base = seqs.display("tuple", list(base), self.ops.sort, node.lineno)  # a tuple of one type, any index
        if not seqs.is_text(base):
            raise Unsupported(f"subscript `{ast.unparse(node)[:60]}` (only constant in-range indices of a tuple of "
                              "mixed types; any index or slice of a str, list or tuple of one type)", node.lineno)
        if isinstance(index, ast.Slice):
            return self.slice_of(base, index, state, node.lineno)
        out, item = seqs.index(base, self.int_arg(self.expr(index, state), "an index", node.lineno))
        self.exit(state, out, "IndexError")
        return item

    def e_Attribute(self, node: ast.Attribute, state: State) -> Value:
        if self.is_math(node.value, state) and node.attr in MATH_CONSTANTS:
            return self.literal(MATH_CONSTANTS[node.attr], node.lineno)
        raise Unsupported(f"attribute `{ast.unparse(node)}`", node.lineno)

    def is_math(self, node: ast.expr, state: State) -> bool:
        return isinstance(node, ast.Name) and node.id in self.info.math_aliases and node.id not in state.env

    def e_UnaryOp(self, node: ast.UnaryOp, state: State) -> Value:
        value = self.expr(node.operand, state)
        if isinstance(node.op, ast.Not):
            return Sym(BOOL, z3.Not(truth(value, self.ops)))
        if isinstance(value, tuple) or value.kind == NONE or isinstance(node.op, ast.Invert) or seqs.is_text(value):
            raise Unsupported(f"`{ast.unparse(node)}`", node.lineno)
        if value.kind == FLOAT:
            return value if isinstance(node.op, ast.UAdd) else Sym(FLOAT, self.ops.neg(value.term))
        term = _as_int(value)
        return Sym(INT, term if isinstance(node.op, ast.UAdd) else -term)

    def e_BoolOp(self, node: ast.BoolOp, state: State) -> Value:
        result = self.expr(node.values[0], state)
        for operand in node.values[1:]:
            test = truth(result, self.ops)
            go_on = test if isinstance(node.op, ast.And) else z3.Not(test)
            branch = state.fork(go_on)
            right = self.expr(operand, branch)
            state.pc = or_(and_(state.pc, z3.Not(go_on)), branch.pc)
            result = self.merge(go_on, right, result, node.lineno, f"an operand of `{ast.unparse(node)[:40]}`")
        return result

    def e_IfExp(self, node: ast.IfExp, state: State) -> Value:
        cond = truth(self.expr(node.test, state), self.ops)
        then, other = state.fork(cond), state.fork(z3.Not(cond))
        a, b = self.expr(node.body, then), self.expr(node.orelse, other)
        state.pc = or_(then.pc, other.pc)
        return self.merge(cond, a, b, node.lineno, f"`{ast.unparse(node)[:40]}`")

    def e_Compare(self, node: ast.Compare, state: State) -> Value:
        left = self.expr(node.left, state)
        result: Any = None
        outer = state
        for op, right_node in zip(node.ops, node.comparators):
            if type(op) not in _CMP:
                raise Unsupported(f"the comparison `{ast.unparse(node)}` (`in`/`is` are outside the subset)",
                                  node.lineno)
            if result is None:
                right = self.expr(right_node, state)
                result = self.compare(_CMP[type(op)], left, right, node.lineno)
            else:
                branch = state.fork(result)
                right = self.expr(right_node, branch)
                outer.pc = or_(and_(outer.pc, z3.Not(result)), branch.pc)
                result = and_(result, self.compare(_CMP[type(op)], left, right, node.lineno))
            left = right
        return Sym(BOOL, result)

    def compare(self, op: str, a: Value, b: Value, line: int) -> Any:
        if op in ("in", "not in"):
            found = self.contains(a, b, line)
            return found if op == "in" else z3.Not(found)
        if seqs.is_text(a) or seqs.is_text(b):
            return self.compare_text(op, a, b, line)
        if isinstance(a, tuple) and isinstance(b, tuple) and op in ("==", "!=") and self.sequences:
            self.no_float_items(a + b, "`==` on tuples", line)
            same = z3.And(*[self.compare("==", x, y, line) for x, y in zip(a, b)]) if len(a) == len(b) else _FALSE
            return same if op == "==" else z3.Not(same)
        if isinstance(a, tuple) or isinstance(b, tuple) or NONE in (a.kind, b.kind):
            raise Unsupported("comparison of tuples or None", line)
        if a.kind != FLOAT and b.kind != FLOAT:
            x, y = _as_int(a), _as_int(b)
            return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y, "==": x == y, "!=": x != y}[op]
        if a.kind == FLOAT and b.kind == FLOAT:
            return self.ops.cmp(op, a.term, b.term)
        if a.kind == FLOAT:
            flipped = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}[op]
            return self.ops.cmp_int(flipped, _as_int(b), a.term)
        return self.ops.cmp_int(op, _as_int(a), b.term)

    def e_BinOp(self, node: ast.BinOp, state: State) -> Value:
        left, right = self.expr(node.left, state), self.expr(node.right, state)
        return self.binop(type(node.op), left, right, state, node.lineno)

    def binop(self, op_type: type, a: Value, b: Value, state: State, line: int) -> Value:
        op = _ARITH.get(op_type)
        if op == "+" and isinstance(a, tuple) and isinstance(b, tuple):
            return a + b
        if op == "+" and (seqs.is_text(a) or seqs.is_text(b)):
            return seqs.concat(a, b, self.ops.sort, line)
        if op is None or isinstance(a, tuple) or isinstance(b, tuple) or NONE in (a.kind, b.kind) \
                or seqs.is_text(a) or seqs.is_text(b):
            raise Unsupported(f"the operator {op_type.__name__} on {shape(a)} and {shape(b)}", line)
        if a.kind != FLOAT and b.kind != FLOAT:
            return self.int_binop(op, _as_int(a), _as_int(b), state, line)
        x, y = self.to_float(a, state), self.to_float(b, state)
        if op in ("+", "-", "*"):
            return Sym(FLOAT, self.ops.arith(op, x, y))
        if op == "/":
            self.exit(state, self.ops.is_zero(y), "ZeroDivisionError")
            return Sym(FLOAT, self.ops.arith("/", x, y))
        raise Unsupported(f"the float operator `{op}` (only + - * / on floats)", line)

    def int_binop(self, op: str, x: Any, y: Any, state: State, line: int) -> Value:
        if op in ("+", "-", "*"):
            return Sym(INT, {"+": x + y, "-": x - y, "*": x * y}[op])
        if op == "**":
            power = z3.simplify(y)
            if not z3.is_int_value(power) or not 0 <= power.as_long() <= _MAX_POWER:
                raise Unsupported(f"`**` with an exponent other than a constant 0..{_MAX_POWER}", line)
            result: Any = z3.IntVal(1)
            for _ in range(power.as_long()):
                result = result * x
            return Sym(INT, result)
        self.exit(state, y == 0, "ZeroDivisionError")
        if op == "/":
            quotient = self.ops.from_ratio(x, y)
            self.exit(state, self.ops.is_inf(quotient), "OverflowError")
            return Sym(FLOAT, quotient)
        floor = z3.If(y > 0, x / y, (-x) / (-y))
        return Sym(INT, floor if op == "//" else x - y * floor)

    def to_float(self, value: Sym, state: State) -> Any:
        if value.kind == FLOAT:
            return value.term
        converted = self.ops.from_int(_as_int(value))
        self.exit(state, self.ops.is_inf(converted), "OverflowError")
        return converted

    def int_arg(self, value: Value, what: str, line: int) -> Any:
        if isinstance(value, tuple) or value.kind not in (INT, BOOL):
            raise Unsupported(f"a non-int argument to {what}", line)
        return _as_int(value)

    # ---- calls -----------------------------------------------------------------------------
    def e_Call(self, node: ast.Call, state: State) -> Value:
        func = node.func
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            raise Unsupported(f"`*args`/`**kwargs` in the call `{ast.unparse(node)[:60]}`", node.lineno)
        if isinstance(func, ast.Attribute) and self.is_math(func.value, state) and func.attr in MATH_FUNCTIONS:
            return self.math_call(func.attr, node, state)
        if isinstance(func, ast.Attribute) and self.sequences and not self.is_math(func.value, state):
            return self.method_call(func, node, state)
        if isinstance(func, ast.Name) and func.id not in state.env and self.sequences \
                and func.id in ("len", "str", "sum", "min", "max", "int") and not node.keywords:
            answer = self.sequence_builtin(func.id, node, state)
            if answer is not None:
                return answer
        if isinstance(func, ast.Name) and func.id not in state.env:
            if func.id in self.info.functions:
                return self.inline(self.info.functions[func.id], node, state)
            if self.info.from_math.get(func.id) in MATH_FUNCTIONS:
                return self.math_call(self.info.from_math[func.id], node, state)
            if func.id in ("min", "max", "abs", "float", "int", "bool") and not node.keywords:
                self.not_shadowed(func.id, node.lineno)
                return self.builtin_call(func.id, node, state)
        raise Unsupported(f"the call `{ast.unparse(node)[:60]}`", node.lineno)

    def not_shadowed(self, builtin: str, line: int) -> None:
        if builtin in self.info.bound or "*" in self.info.bound:
            raise Unsupported(f"`{builtin}` may not be the builtin: the module binds that name (or star-imports)",
                              line)

    def builtin_call(self, name: str, node: ast.Call, state: State, args: list[Value] | None = None) -> Value:
        args = [self.expr(a, state) for a in node.args] if args is None else args
        if any(isinstance(a, tuple) or a.kind == NONE for a in args):
            raise Unsupported(f"`{name}` of a tuple or None", node.lineno)
        if name in ("abs", "float", "int") and any(seqs.is_text(a) for a in args):
            raise Unsupported(f"`{ast.unparse(node)[:60]}` of a str or sequence", node.lineno)
        if name in ("min", "max"):
            if len(args) < 2:
                raise Unsupported(f"`{name}` of an iterable (only of two or more scalars)", node.lineno)
            best = args[0]
            for item in args[1:]:
                better = self.compare("<" if name == "min" else ">", item, best, node.lineno)
                best = self.merge(better, item, best, node.lineno, f"`{ast.unparse(node)[:40]}` (mixed types)")
            return best
        if len(args) != 1:
            raise Unsupported(f"`{name}` with {len(args)} arguments", node.lineno)
        (value,) = args
        if name == "bool":
            return Sym(BOOL, truth(value, self.ops))
        if name == "abs":
            if value.kind == FLOAT:
                return Sym(FLOAT, self.ops.abs(value.term))
            term = _as_int(value)
            return Sym(INT, z3.If(term < 0, -term, term))
        if name == "float":
            return Sym(FLOAT, self.to_float(value, state))
        return self.float_to_int("trunc", value, state) if value.kind == FLOAT else Sym(INT, _as_int(value))

    def math_call(self, name: str, node: ast.Call, state: State) -> Value:
        if len(node.args) != 1 or node.keywords:
            raise Unsupported(f"math.{name} with other than one argument", node.lineno)
        value = self.expr(node.args[0], state)
        if isinstance(value, tuple) or value.kind == NONE or seqs.is_text(value):
            raise Unsupported(f"math.{name} of a {shape(value)}", node.lineno)
        if name in ("floor", "ceil", "trunc"):
            return self.float_to_int(name, value, state) if value.kind == FLOAT else Sym(INT, _as_int(value))
        if name in _LOG_OF_INT and value.kind != FLOAT:
            return self.log_of_int(name, _as_int(value), state)
        if value.kind != FLOAT:
            converted = self.to_float(value, state)
            value = Sym(FLOAT, converted)
        if name in TRANSCENDENTAL:
            for error in ("ValueError", "OverflowError"):
                self.exit(state, self.ops.math_raises(name, error, value.term), error)
            return Sym(FLOAT, self.ops.math(name, value.term))
        nan, inf = self.ops.is_nan(value.term), self.ops.is_inf(value.term)
        return Sym(BOOL, {"isnan": nan, "isinf": inf, "isfinite": z3.Not(z3.Or(nan, inf))}[name])

    def log_of_int(self, name: str, n: Any, state: State) -> Value:
        """``math.log(n)`` of an int as CPython computes it: ``ValueError`` for ``n <= 0``, checked first, and for
        ints too large for a float no ``OverflowError`` but a finite value (uninterpreted here)."""
        self.exit(state, n <= 0, "ValueError")
        converted = self.ops.from_int(n)
        return Sym(FLOAT, z3.If(self.ops.is_inf(converted), self.ops.math_of_huge_int(name, n),
                                self.ops.math(name, converted)))

    def float_to_int(self, how: str, value: Sym, state: State) -> Value:
        self.exit(state, self.ops.is_nan(value.term), "ValueError")
        self.exit(state, self.ops.is_inf(value.term), "OverflowError")
        return Sym(INT, self.ops.to_int(how, value.term))

    def inline(self, fn: ast.FunctionDef, node: ast.Call, state: State) -> Value:
        if self._depth >= self.depth_limit:
            raise Unsupported(f"calls nested deeper than {self.depth_limit} (recursion?) at `{fn.name}`", node.lineno)
        args = self.bind(fn, node, state)
        self._depth += 1
        try:
            exits = self.call(fn, args, state.pc)
        finally:
            self._depth -= 1
        returned = [e for e in exits if e.raised is None]
        state.exits.extend(e for e in exits if e.raised is not None)
        state.pc = _FALSE
        value: Value = Sym(NONE)
        for i, exit_ in enumerate(returned):
            state.pc = or_(state.pc, exit_.guard)
            value = exit_.value if i == 0 else self.merge(exit_.guard, exit_.value, value, node.lineno,
                                                      f"the result of {fn.name}")
        return value

    def bind(self, fn: ast.FunctionDef, node: ast.Call, state: State) -> list[Value]:
        a = fn.args
        if a.vararg or a.kwarg or a.kwonlyargs or a.posonlyargs:
            raise Unsupported(f"calling {fn.name}, which has *args, **kwargs or keyword-/positional-only "
                              "parameters", node.lineno)
        names = _param_names(fn)
        given: dict[str, Value] = dict(zip(names, (self.expr(x, state) for x in node.args)))
        for keyword in node.keywords:
            if keyword.arg not in names or keyword.arg in given:
                raise Unsupported(f"the call `{ast.unparse(node)[:60]}` (a TypeError in Python)", node.lineno)
            given[keyword.arg] = self.expr(keyword.value, state)
        defaults = dict(zip(names[len(names) - len(a.defaults):], a.defaults))
        for name in names:
            if name not in given:
                if name not in defaults or not isinstance(defaults[name], ast.Constant):
                    raise Unsupported(f"the call `{ast.unparse(node)[:60]}` (missing argument {name!r})", node.lineno)
                given[name] = self.literal(defaults[name].value, node.lineno)
        return [given[n] for n in names]


def _param_names(fn: ast.FunctionDef | ast.Lambda) -> list[str]:
    return [p.arg for p in [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]]
