"""The prover against concrete execution: generated program pairs, and no PROVEN that a run contradicts.

Each pair is a template of the smt subset rendered twice, the second time with one or two of
its slots changed: an operator (``<`` vs ``<=``, ``//`` vs ``/``), a constant (``c`` vs
``c ± 1``, ``0.1`` vs its neighbouring double), ``min`` vs ``max``, swapped branches, or a
rewrite that should not matter (``not`` with swapped bodies, a helper inlined, ``x * 2`` vs
``x + x``) or matters only at NaN, ``-0.0`` or huge ints.  Both versions are executed here
(it is this module's own generated code) on boundary and hypothesis-drawn inputs and compared
as the gate compares them.  A PROVEN contradicted by a run, a REFUTED whose counterexample does
not replay, and an ``ENCODER BUG`` the prover caught in itself are soundness failures; UNKNOWN
is always acceptable.  ``bench/prover_fuzz.py`` runs the same generator with a large budget.
"""

from __future__ import annotations

import ast
import itertools
import math
import random
import struct
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from properties import Kind, Obligation
from tests.verifiers.pbt_executor import InProcessExecutor
from verifiers import Context, Level
from verifiers.smt import SmtProver

# ---- slots: what a template leaves open, and what a mutation may put there instead ----------------------

_CMP = ["<", "<=", ">", ">=", "==", "!="]
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_COMPLEMENT = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
_INTS = [-3, -2, -1, 0, 1, 2, 3, 7, 10, 100]
_FLOATS = [0.0, -0.0, 0.1, 0.5, 1.0, -1.5, 3.0, 1e-300, 5e-324, 1e308]
_OPTIONS: dict[str, list[Any]] = {
    "cmp": _CMP, "iop": ["+", "-", "*", "//", "%"], "fop": ["+", "-", "*", "/"], "div": ["//", "%", "/"],
    "mm": ["min", "max"], "int": _INTS, "float": _FLOATS, "swap": [False, True], "small": [0, 1, 2, 3, 5],
    "fn": ["sqrt", "exp", "log", "sin", "tanh"], "rnd": ["math.floor", "math.ceil", "math.trunc", "int"],
    "power": [0, 1, 2, 3], "lfn": ["log", "log2", "log10", "sqrt", "exp"],
    "prefix": ["", "abs = int\n", "def abs(v: int) -> int:\n    return v\n", "from math import floor as abs\n"],
    "text": ["", "a", "ab", "deploy-now", "x-1", "\u00e9t\u00e9", "A"], "bound": [-3, -1, 0, 1, 2, 4],
    "stest": ["==", "!=", "<", "<=", "startswith", "endswith", "in", "not in"],
}


def _neighbours(kind: str, value: Any) -> list[Any]:
    """The values a mutation may give a slot (including the value itself: some pairs stay equal)."""
    if kind == "int":
        return [value, value + 1, value - 1, -value, 0]
    if kind == "float":
        near = [value, math.nextafter(value, math.inf), math.nextafter(value, -math.inf), -value, value * 2]
        return [v for v in near if math.isfinite(v)]
    if kind.startswith("form"):
        return list(range(int(kind[4:])))
    if kind == "text":
        return [value, value + "x", value[:-1], value[1:], value.upper(), "x" + value]
    if kind == "bound":
        return [value, value + 1, value - 1, -value]
    return list(_OPTIONS[kind])


def _f(value: float) -> str:
    return repr(value) if math.isfinite(value) else f"float('{value}')"


@dataclass(frozen=True)
class Template:
    """A module with one target ``f``: ``params`` as (name, annotation, default slot or None)."""

    name: str
    params: tuple[tuple[str, str], ...]
    slots: dict[str, str]
    render: Callable[[dict[str, Any]], str]
    defaults: tuple[str, ...] = ()
    keyword_only: tuple[str, ...] = ()


def _signature(params: tuple[tuple[str, str], ...], ret: str, defaults: dict[str, str] | None = None,
               keyword_only: tuple[str, ...] = ()) -> str:
    parts, star = [], False
    for name, annotation in params:
        if name in keyword_only and not star:
            parts.append("*")
            star = True
        default = f" = {defaults[name]}" if defaults and name in defaults else ""
        parts.append(f"{name}: {annotation}{default}")
    return f"def f({', '.join(parts)}) -> {ret}:\n"


def _branch(c: dict[str, Any], test: str, negated: str, then: str, other: str) -> str:
    """``if test: return then / return other`` in one of several renderings; ``swap`` breaks it."""
    if c["swap"]:
        then, other = other, then
    form = c["form"]
    if form == 0:
        return f"    if {test}:\n        return {then}\n    return {other}\n"
    if form == 1:
        return f"    if not ({test}):\n        return {other}\n    return {then}\n"
    if form == 2:
        return f"    return ({then}) if {test} else ({other})\n"
    if form == 3:
        return f"    result = {other}\n    if {test}:\n        result = {then}\n    return result\n"
    return f"    if not ({negated}):\n        return {then}\n    return {other}\n"  # equal for ints, not at NaN


def _compare(left: str, op: str, right: str, flipped: bool) -> str:
    return f"{right} {_FLIP[op]} {left}" if flipped else f"{left} {op} {right}"


def _branch_int(c: dict[str, Any]) -> str:
    test = _compare("x", c["cmp"], str(c["c1"]), c["flip"])
    negated = _compare("x", _COMPLEMENT[c["cmp"]], str(c["c1"]), c["flip"])
    return _signature((("x", "int"), ("y", "int")), "int") + _branch(
        c, test, negated, f"x {c['iop']} y", f"{c['mm']}(x, y) + {c['c2']}")


def _branch_float(c: dict[str, Any]) -> str:
    test = _compare("x", c["cmp"], _f(c["c1"]), c["flip"])
    negated = _compare("x", _COMPLEMENT[c["cmp"]], _f(c["c1"]), c["flip"])
    return _signature((("x", "float"), ("y", "float")), "float") + _branch(
        c, test, negated, f"x {c['fop']} y", f"{c['mm']}(x, {_f(c['c2'])})")


def _min_max(c: dict[str, Any]) -> str:
    less = "<" if c["mm"] == "min" else ">"
    expression = [f"{c['mm']}(x, y)", f"y if y {less} x else x", f"x if x {less}= y else y",
                  f"{c['mm']}(y, x)"][c["form"]]
    tail = f" {c['fop']} {_f(c['c1'])}" if c["tail"] else ""
    return _signature((("x", "float"), ("y", "float")), "float") + f"    return ({expression}){tail}\n"


def _loop(c: dict[str, Any]) -> str:
    count = [str(c["k"]), f"0, {c['k']}", f"{c['k']} - 1, -1, -1", f"min(y, {c['k']})"][c["form"]]
    return (_signature((("x", "int"), ("y", "int")), "int") + f"    total = {c['c1']}\n"
            f"    for i in range({count}):\n        total += x {c['iop']} i\n    return total {c['iop2']} y\n")


def _helper(c: dict[str, Any]) -> str:
    if c["form"] == 1:
        body = (f"    return (x {c['iop']} y if x {c['cmp']} y else y) + "
                f"(y {c['iop']} {c['c1']} if y {c['cmp']} {c['c1']} else {c['c1']})\n")
        return _signature((("x", "int"), ("y", "int")), "int") + body
    helper = (f"def _h(a: int, b: int = {c['c1']}) -> int:\n    if a {c['cmp']} b:\n        return a {c['iop']} b\n"
              "    return b\n\n\n")
    return helper + _signature((("x", "int"), ("y", "int")), "int") + "    return _h(x, y) + _h(y)\n"


def _defaults_int(c: dict[str, Any]) -> str:
    body = f"    return x {c['iop']} k + m\n" if c["form"] == 0 else f"    total = m\n    total += x {c['iop']} k\n" \
                                                                   "    return total\n"
    return _signature((("x", "int"), ("k", "int"), ("m", "int")), "int", {"k": str(c["c1"]), "m": str(c["c2"])},
                      ("m",)) + body


def _defaults_float(c: dict[str, Any]) -> str:
    expression = f"x {c['fop']} s" if c["form"] == 0 else f"(x {c['fop']} s) * 1.0"
    return _signature((("x", "float"), ("s", "float")), "float", {"s": _f(c["c1"])}) + f"    return {expression}\n"


def _math(c: dict[str, Any]) -> str:
    test = _compare("x", c["cmp"], _f(c["c1"]), False)
    negated = _compare("x", _COMPLEMENT[c["cmp"]], _f(c["c1"]), False)
    return _signature((("x", "float"),), "float") + _branch(
        c, test, negated, "math.sqrt(abs(x))", f"math.{c['fn']}(x) {c['fop']} {_f(c['c2'])}")


def _rounding(c: dict[str, Any]) -> str:
    value = f"x {c['fop']} {_f(c['c1'])}"
    if c["form"] == 0:
        expression = f"{c['rnd']}({value})"
    else:
        expression = {"math.floor": f"-math.ceil(-({value}))", "math.ceil": f"-math.floor(-({value}))",
                      "math.trunc": f"int({value})", "int": f"math.trunc({value})"}[c["rnd"]]
    return _signature((("x", "float"),), "int") + f"    return {expression}\n"


def _int_div(c: dict[str, Any]) -> str:
    a = f"(a + {c['c1']})"
    if c["form"] == 0:
        expression = f"{a} {c['div']} b"
    else:
        expression = {"//": f"({a} - {a} % b) // b", "%": f"{a} - b * ({a} // b)", "/": f"float{a} / b"}[c["div"]]
    ret = "float" if c["div"] == "/" else "int"
    return _signature((("a", "int"), ("b", "int")), ret) + f"    return {expression}\n"


def _mixed(c: dict[str, Any]) -> str:
    n = "n" if c["form"] == 0 else "float(n)"
    test = f"x {c['cmp']} {n}" if c["tail"] else f"n {c['cmp']} {c['c1']}"
    return _signature((("x", "float"), ("n", "int")), "float") + \
        f"    if {test}:\n        return x {c['fop']} {n}\n    return x\n"


def _assert(c: dict[str, Any]) -> str:
    guard = [f"    assert x {c['cmp']} {c['c1']}, 'bad'\n",
             f"    if not (x {c['cmp']} {c['c1']}):\n        raise AssertionError('bad')\n",
             f"    if not (x {c['cmp']} {c['c1']}):\n        raise ValueError('bad')\n",
             f"    assert x {c['cmp']} {c['c1']}, f'bad {{x}}'\n"][c["form"]]
    return _signature((("x", "int"),), "int") + guard + f"    return {c['c2']} // (x - {c['c3']})\n"


def _int_math(c: dict[str, Any]) -> str:
    argument = ["n", "float(n)", "n * 1.0"][c["form"]]
    return _signature((("n", "int"),), "float") + f"    return math.{c['lfn']}({argument}) {c['fop']} {_f(c['c1'])}\n"


def _shadow(c: dict[str, Any]) -> str:
    value = "abs(x)" if c["form"] == 0 else "(x if x >= 0 else -x)"
    return c["prefix"] + "\n\n" + _signature((("x", "int"),), "int") + f"    return {value} {c['iop']} {c['c1']}\n"


def _logic(c: dict[str, Any]) -> str:
    test = f"x {c['cmp']} {c['c1']}"
    expression = [f"(a and {test}) or b", f"not ((not a or not ({test})) and not b)",
                  f"b or (a and {test})", f"(a or b) and ({test} or b)"][c["form"]]
    return _signature((("a", "bool"), ("b", "bool"), ("x", "int")), "bool") + f"    return {expression}\n"


def _power(c: dict[str, Any]) -> str:
    p = c["power"]
    expression = f"x ** {p}" if c["form"] == 0 else ("1" if p == 0 else " * ".join(["x"] * p))
    return _signature((("x", "int"),), "int") + f"    return {expression} {c['iop']} {c['c1']}\n"


def _constant(c: dict[str, Any]) -> str:
    limit = "LIMIT" if c["form"] == 0 else str(c["c1"])
    return f"LIMIT = {c['c1']}\n\n\n" + _signature((("x", "int"),), "int") + \
        f"    return {c['mm']}(x, {limit}) {c['iop']} 1\n"


def _scale(c: dict[str, Any]) -> str:
    k = c["c1"]
    expression = [f"x * {_f(k)}", f"x / {_f(1 / k)}" if k else "x * 0.0", f"{_f(k)} * x",
                  "x + x" if k == 2.0 else f"x * {_f(k)}"][c["form"]]
    return _signature((("x", "float"),), "float") + f"    return {expression}\n"


def _str_test(s: str, op: str, text: str) -> str:
    if op in ("startswith", "endswith"):
        return f"{s}.{op}({text!r})"
    if op in ("in", "not in"):
        return f"{text!r} {op} {s}"
    return f"{s} {op} {text!r}"


def _str_branch(c: dict[str, Any]) -> str:
    test = _str_test("s", c["stest"], c["t1"])
    if c["form"] == 1 and c["stest"] == "startswith":
        test = f"s[:{len(c['t1'])}] == {c['t1']!r}"
    elif c["form"] == 1 and c["stest"] == "endswith":
        test = f"(s[-{len(c['t1'])}:] if {len(c['t1'])} else '') == {c['t1']!r}"
    elif c["form"] == 1:
        test = f"not (not ({test}))"
    then, other = ("len(s) + 1", "len(t)") if not c["swap"] else ("len(t)", "len(s) + 1")
    return _signature((("s", "str"), ("t", "str")), "int") + f"    if {test}:\n        return {then}\n" \
        f"    return {other}\n"


def _str_slice(c: dict[str, Any]) -> str:
    a, b = c["b1"], c["b2"]
    expression = [f"s[{a}:{b}]", f"(s + '')[{a}:{b}]", f"s[{a}:][:{b - a}]" if a >= 0 and b >= a else f"s[{a}:{b}]",
                  f"(s[{a}:{b}] if s else '') + {c['t1']!r}[0:0]"][c["form"]]
    return _signature((("s", "str"),), "str") + f"    return {expression}\n"


def _str_concat(c: dict[str, Any]) -> str:
    expression = [f"s + {c['t1']!r} + t", f"(s + {c['t1']!r}) + t", f"s + ({c['t1']!r} + t)",
                  f"{c['t1']!r} + t if not s else s + {c['t1']!r} + t"][c["form"]]
    tail = f" and len(s) > {c['b1']}" if c["swap"] else ""
    return _signature((("s", "str"), ("t", "str")), "bool") + f"    return ({expression}) == {c['t2']!r}{tail}\n"


def _seq_len(c: dict[str, Any]) -> str:
    test = _compare("len(xs)", c["cmp"], str(c["k"]), c["flip"])
    pick = [f"xs[{c['b1']}] if len(xs) > {abs(c['b1'])} else 0", f"xs[{c['b1']}:][:1][0] if len(xs) > {abs(c['b1'])} "
            "else 0", f"(xs + (0,))[{c['b1']}] if len(xs) > {abs(c['b1'])} else 0"][c["form"]]
    return _signature((("xs", "tuple[int, ...]"),), "int") + \
        f"    if {test}:\n        return {c['c1']}\n    return {pick}\n"


def _seq_loop(c: dict[str, Any]) -> str:
    if c["form"] == 0:
        body = f"    total = 0\n    for x in xs:\n        total += x\n    return total {c['iop']} {c['c1']}\n"
    elif c["form"] == 1:
        body = f"    return sum(xs) {c['iop']} {c['c1']}\n"
    else:
        body = f"    total = 0\n    for x in xs:\n        if x == {c['c2']}:\n            total += 0\n" \
               f"        total += x\n    return total {c['iop']} {c['c1']}\n"
    return _signature((("xs", "list[int]"),), "int") + body


def _seq_in(c: dict[str, Any]) -> str:
    expression = [f"{c['c1']} in xs", f"{c['c1']} in xs[:{c['k']}] or {c['c1']} in xs[{c['k']}:]",
                  f"not ({c['c1']} not in xs)"][c["form"]]
    return _signature((("xs", "tuple[int, ...]"),), "bool") + f"    return {expression}\n"


def _seq_fold(c: dict[str, Any]) -> str:
    better = "<" if c["mm"] == "min" else ">"
    if c["form"] == 0:
        body = f"    return {c['mm']}(xs) if xs else {c['t1']!r}\n"
    else:
        body = (f"    if not xs:\n        return {c['t1']!r}\n    best = xs[0]\n    for x in xs:\n"
                f"        if x {better} best:\n            best = x\n    return best\n")
    return _signature((("xs", "list[str]"),), "str") + body


def _str_int(c: dict[str, Any]) -> str:
    expression = [f"str(n) == s", f"s == str(n)", f"(str(n) + {c['t1']!r}) == (s + {c['t1']!r})"][c["form"]]
    tail = f" and n {c['cmp']} {c['c1']}" if c["swap"] else ""
    return _signature((("n", "int"), ("s", "str")), "bool") + f"    return {expression}{tail}\n"


_BRANCH = {"cmp": "cmp", "swap": "swap", "form": "form5", "flip": "swap", "c1": "int", "c2": "int"}
TEMPLATES = [
    Template("branch-int", (("x", "int"), ("y", "int")), {**_BRANCH, "iop": "iop", "mm": "mm"}, _branch_int),
    Template("branch-float", (("x", "float"), ("y", "float")),
             {**_BRANCH, "c1": "float", "c2": "float", "fop": "fop", "mm": "mm"}, _branch_float),
    Template("min-max", (("x", "float"), ("y", "float")),
             {"mm": "mm", "form": "form4", "tail": "swap", "fop": "fop", "c1": "float"}, _min_max),
    Template("loop", (("x", "int"), ("y", "int")),
             {"k": "small", "form": "form4", "c1": "int", "iop": "iop", "iop2": "iop"}, _loop),
    Template("helper", (("x", "int"), ("y", "int")), {"form": "form2", "c1": "int", "iop": "iop", "cmp": "cmp"},
             _helper),
    Template("defaults-int", (("x", "int"), ("k", "int"), ("m", "int")),
             {"form": "form2", "c1": "int", "c2": "int", "iop": "iop"}, _defaults_int, ("k", "m"), ("m",)),
    Template("defaults-float", (("x", "float"), ("s", "float")), {"form": "form2", "c1": "float", "fop": "fop"},
             _defaults_float, ("s",)),
    Template("math", (("x", "float"),), {"cmp": "cmp", "swap": "swap", "form": "form5", "c1": "float",
                                         "c2": "float", "fn": "fn", "fop": "fop"}, _math),
    Template("rounding", (("x", "float"),), {"rnd": "rnd", "form": "form2", "fop": "fop", "c1": "float"},
             _rounding),
    Template("int-div", (("a", "int"), ("b", "int")), {"div": "div", "form": "form2", "c1": "int"}, _int_div),
    Template("mixed", (("x", "float"), ("n", "int")),
             {"form": "form2", "tail": "swap", "cmp": "cmp", "c1": "int", "fop": "fop"}, _mixed),
    Template("assert", (("x", "int"),), {"form": "form4", "cmp": "cmp", "c1": "int", "c2": "int", "c3": "int"},
             _assert),
    Template("logic", (("a", "bool"), ("b", "bool"), ("x", "int")), {"form": "form4", "cmp": "cmp", "c1": "int"},
             _logic),
    Template("power", (("x", "int"),), {"power": "power", "form": "form2", "iop": "iop", "c1": "int"}, _power),
    Template("constant", (("x", "int"),), {"form": "form2", "mm": "mm", "iop": "iop", "c1": "int"}, _constant),
    Template("scale", (("x", "float"),), {"form": "form4", "c1": "float"}, _scale),
    Template("int-math", (("n", "int"),), {"form": "form3", "lfn": "lfn", "fop": "fop", "c1": "float"}, _int_math),
    Template("shadow", (("x", "int"),), {"prefix": "prefix", "form": "form2", "iop": "iop", "c1": "int"}, _shadow),
]
SEQUENCE_TEMPLATES = [
    Template("str-branch", (("s", "str"), ("t", "str")), {"stest": "stest", "t1": "text", "form": "form2",
                                                         "swap": "swap"}, _str_branch),
    Template("str-slice", (("s", "str"),), {"b1": "bound", "b2": "bound", "form": "form4", "t1": "text"}, _str_slice),
    Template("str-concat", (("s", "str"), ("t", "str")), {"t1": "text", "t2": "text", "form": "form4",
                                                         "swap": "swap", "b1": "small"}, _str_concat),
    Template("seq-len", (("xs", "tuple[int, ...]"),), {"cmp": "cmp", "k": "small", "flip": "swap", "form": "form3",
                                                      "b1": "bound", "c1": "int"}, _seq_len),
    Template("seq-loop", (("xs", "list[int]"),), {"form": "form3", "iop": "iop", "c1": "int", "c2": "int"},
             _seq_loop),
    Template("seq-in", (("xs", "tuple[int, ...]"),), {"form": "form3", "c1": "int", "k": "small"}, _seq_in),
    Template("seq-fold", (("xs", "list[str]"),), {"form": "form2", "mm": "mm", "t1": "text"}, _seq_fold),
    Template("str-int", (("n", "int"), ("s", "str")), {"form": "form3", "t1": "text", "swap": "swap", "cmp": "cmp",
                                                      "c1": "int"}, _str_int),
]
SCALAR_TEMPLATES = list(TEMPLATES)
TEMPLATES = SCALAR_TEMPLATES + SEQUENCE_TEMPLATES


@dataclass(frozen=True)
class Pair:
    """One generated obligation: ``old``/``new`` module text and the inputs hypothesis drew for it."""

    template: Template
    old: str
    new: str
    mutated: tuple[str, ...]
    drawn: tuple[tuple[Any, ...], ...] = ()

    def show(self) -> str:
        return f"[{self.template.name}, mutated {', '.join(self.mutated) or 'nothing'}]\n--- old\n{self.old}" \
               f"--- new\n{self.new}"


def _values(kind: str) -> list[Any]:
    """What a slot of ``kind`` may hold in the first version (``formN``: one of N renderings)."""
    return list(range(int(kind[4:]))) if kind.startswith("form") else _OPTIONS[kind]


_SCALARS = {"int": st.integers() | st.integers(-2 ** 1100, 2 ** 1100), "float": st.floats(), "bool": st.booleans(),
            "str": st.text(max_size=12), "tuple[int, ...]": st.lists(st.integers(-50, 50), max_size=12).map(tuple),
            "list[int]": st.lists(st.integers(-50, 50), max_size=12), "list[str]": st.lists(st.text(max_size=4),
                                                                                           max_size=10)}


@st.composite
def pairs(draw: st.DrawFn, templates: list[Template] | None = None) -> Pair:
    """A template, its slots, and a mutation of up to two of them (or only of the rendering)."""
    template = draw(st.sampled_from(templates or TEMPLATES))
    old = {slot: draw(st.sampled_from(_values(kind))) for slot, kind in template.slots.items()}
    rewrite = st.just(["form"])  # a rewrite of the same code: most such pairs are equivalent
    mutated = draw(rewrite | st.lists(st.sampled_from(sorted(template.slots)), min_size=1, max_size=2, unique=True))
    new = dict(old)
    for slot in mutated:
        others = [v for v in _neighbours(template.slots[slot], old[slot]) if repr(v) != repr(old[slot])]
        new[slot] = draw(st.sampled_from(others or [old[slot]]))
    drawn = draw(st.lists(st.tuples(*[_SCALARS[a] for _, a in template.params]), max_size=8))
    return Pair(template, "import math\n\n\n" + template.render(old), "import math\n\n\n" + template.render(new),
                tuple(mutated), tuple(drawn))


# ---- concrete execution, compared as the gate compares ------------------------------------------------

def same(a: Any, b: Any) -> bool:
    """Equal as data: same type, floats bit for bit except NaN equals NaN, tuples element-wise."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def load(source: str) -> types.ModuleType:
    module = types.ModuleType("train")
    exec(compile(source, "<generated train>", "exec"), module.__dict__)  # noqa: S102 - our own generated code
    return module


def outcome(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "returned", fn(*args, **kwargs)
    except Exception as error:  # noqa: BLE001 - the exception type is the outcome
        return "raised", type(error).__name__


def agree(a: tuple[str, Any], b: tuple[str, Any]) -> bool:
    return a[0] == b[0] and (a[1] == b[1] if a[0] == "raised" else same(a[1], b[1]))


def _literals(pair: Pair) -> tuple[set[int], set[float], set[str]]:
    ints, floats, texts = set(), set(), set()
    for source in (pair.old, pair.new):
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Constant) and type(node.value) is int:
                ints |= {node.value + d for d in (-1, 0, 1)} | {-node.value}
            elif isinstance(node, ast.Constant) and type(node.value) is float:
                v = node.value
                floats |= {v, -v, math.nextafter(v, math.inf), math.nextafter(v, -math.inf)}
            elif isinstance(node, ast.Constant) and type(node.value) is str:
                v = node.value
                texts |= {v, v + "x", "x" + v, v[:-1], v[1:], v + v, v + "\U0001f600"}
    return ints, floats, texts


_INT_POOL = [0, 1, -1, 2, -2, 5, 2 ** 53 + 1, -(2 ** 53) - 1, 2 ** 63, 2 ** 1024, -(2 ** 1030), 10 ** 4300,
             -(10 ** 4300)]  # the last two have more digits than str() converts by default
_FLOAT_POOL = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 5e-324, -5e-324, 2.0 ** -1022, 1e308, -1e308, sys.float_info.max,
               math.inf, -math.inf, math.nan, 9007199254740992.0, 1e16]


_STR_POOL = ["", "a", "b", "ab", "ba", "abc", "A", "0", "-1", " ", "\x00", "\u00e9", "\ud800", "\U0001f600",
             "\U0010ffff", "\U0010ffffa", "a\U0001f600"]  # code points past z3's alphabet, on purpose


def _tuples(ints: set[int]) -> list[tuple[int, ...]]:
    lengths = sorted({n for n in ints if 0 <= n <= 40} | set(range(10)))
    fills = [0, 1, -1, 7] + sorted(i for i in ints if abs(i) < 10 ** 6)
    return [tuple(fills[(i + j) % len(fills)] for j in range(n)) for n in lengths for i in range(3)]


def inputs(pair: Pair, limit: int = 1500) -> list[tuple[Any, ...]]:
    """Boundary values of each parameter's type and the pair's constants, crossed; then the drawn ones."""
    ints, floats, texts = _literals(pair)
    tuples = _tuples(ints)
    pools = {"int": sorted(set(_INT_POOL) | ints), "float": _FLOAT_POOL + sorted(f for f in floats if f == f),
             "bool": [False, True], "str": _STR_POOL + sorted(texts), "tuple[int, ...]": tuples,
             "list[int]": [list(t) for t in tuples],
             "list[str]": [[], [""], ["a"], ["b", "a"], ["a", "b", "ab"], ["\U0001f600", "z"]] +
             [sorted(texts)[i:i + n] for n in (1, 2, 3) for i in range(len(texts))]}
    grid = [pools[a] for _, a in pair.template.params]
    crossed = list(itertools.product(*grid))
    if len(crossed) > limit:
        crossed = random.Random(0).sample(crossed, limit)
    return crossed + list(pair.drawn)


def calls(template: Template, values: tuple[Any, ...]) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """The call giving every argument, then those omitting defaulted parameters (all, and each alone)."""
    names = [n for n, _ in template.params]
    omissions = [frozenset()] + ([frozenset(template.defaults)] if template.defaults else []) + \
        ([frozenset({d}) for d in template.defaults] if len(template.defaults) > 1 else [])
    made = []
    for omitted in omissions:
        args = tuple(v for n, v in zip(names, values) if n not in omitted and n not in template.keyword_only)
        kwargs = {n: v for n, v in zip(names, values) if n not in omitted and n in template.keyword_only}
        made.append((args, kwargs))
    return made


def _show(value: Any) -> str:
    """``repr``, except that ints too long for ``str`` are shown in hex."""
    if isinstance(value, int) and value.bit_length() > 4000:
        return hex(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(map(_show, value)) + ",)"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_show(v)}" for k, v in value.items()) + "}"
    return repr(value)


def first_difference(pair: Pair, old: types.ModuleType, new: types.ModuleType) -> str | None:
    for values in inputs(pair):
        for args, kwargs in calls(pair.template, values):
            a, b = outcome(old.f, args, kwargs), outcome(new.f, args, kwargs)
            if not agree(a, b):
                return f"f(*{_show(args)}, **{_show(kwargs)}): old {_show(a)}, new {_show(b)}"
    return None


def replays(call: str, old: types.ModuleType, new: types.ModuleType) -> tuple[bool, str]:
    """Whether the counterexample call ``train.f(x=...)`` makes old and new differ when run here."""
    results = []
    for module in (old, new):
        space = {"train": module}
        results.append(outcome(lambda: eval(call, {"__builtins__": {"float": float}}, space), (), {}))  # noqa: S307
    return not agree(*results), f"old {_show(results[0])}, new {_show(results[1])}"


# ---- the prover on a pair -------------------------------------------------------------------------------

def _definition(text: str) -> tuple[str, tuple[int, int]]:
    node = next(n for n in ast.parse(text).body if getattr(n, "name", None) == "f")
    return ast.get_source_segment(text, node), (node.lineno, node.end_lineno)


def prove(pair: Pair, prover: SmtProver, timeout: float) -> Any:
    (old_src, old_lines), (new_src, new_lines) = _definition(pair.old), _definition(pair.new)
    obligation = Obligation("train.f", Kind.EQUIVALENT, "train.py", "fuzz", ("smt",), old_src, new_src, old_lines,
                            new_lines, module="train")
    context = Context({"train.py": pair.old}, {"train.py": pair.new}, timeout=timeout,
                      executor=InProcessExecutor(pair.old, pair.new))
    return prover.check(obligation, context)


@dataclass
class Tally:
    """What a run of the fuzzer saw; ``violations`` must stay empty."""

    levels: dict[str, int] = field(default_factory=lambda: {level.value: 0 for level in Level})
    differences: int = 0
    seconds: list[float] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    @property
    def pairs(self) -> int:
        return len(self.seconds)


def judge(pair: Pair, prover: SmtProver, tally: Tally, timeout: float = 2.0) -> str | None:
    """Run the prover and the concrete check on ``pair``; the soundness violation found, if any."""
    started = time.perf_counter()
    evidence = prove(pair, prover, timeout)
    tally.seconds.append(time.perf_counter() - started)
    tally.levels[evidence.level.value] += 1
    old, new = load(pair.old), load(pair.new)
    difference = first_difference(pair, old, new)
    tally.differences += difference is not None
    problem = None
    if evidence.level is Level.PROVEN and difference is not None:
        problem = f"PROVEN, but a concrete run differs: {difference}"
    elif evidence.level is Level.REFUTED:
        differs, shown = replays(evidence.counterexample.call, old, new)
        problem = None if differs else f"REFUTED by {evidence.counterexample.call}, which does not replay: {shown}"
    elif evidence.level is Level.UNKNOWN and "ENCODER BUG" in evidence.detail:
        problem = "the prover caught its own encoder bug (z3 was wrong)"
    if problem is not None:
        tally.violations.append(f"{problem}\n{evidence.detail}\n{pair.show()}")
    return problem


PROVER = SmtProver(timeout_cap=2.0)


@settings(max_examples=40, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(pairs(SCALAR_TEMPLATES))
def test_no_proof_is_contradicted_and_every_refutation_replays(pair):
    tally = Tally()
    problem = judge(pair, PROVER, tally)
    assert problem is None, tally.violations[0]


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(pairs(SEQUENCE_TEMPLATES))
def test_no_proof_over_strings_and_sequences_is_contradicted(pair):
    tally = Tally()
    problem = judge(pair, PROVER, tally)
    assert problem is None, tally.violations[0]


def test_the_generator_makes_equivalent_and_different_pairs():
    """The fuzzer is only as good as its pairs: both kinds occur, in every template."""
    rng = random.Random(1)
    seen: dict[str, set[bool]] = {t.name: set() for t in TEMPLATES}
    for template in TEMPLATES:
        for _ in range(30):
            old = {slot: rng.choice(_values(kind)) for slot, kind in template.slots.items()}
            slot = rng.choice(sorted(template.slots))
            new = {**old, slot: rng.choice(_neighbours(template.slots[slot], old[slot]))}
            pair = Pair(template, "import math\n" + template.render(old), "import math\n" + template.render(new), ())
            seen[template.name].add(first_difference(pair, load(pair.old), load(pair.new)) is None)
    assert all(kinds == {True, False} for kinds in seen.values()), seen


# ---- regressions ----------------------------------------------------------------------------------------

def test_a_changed_parameter_default_is_refuted_by_a_call_omitting_it():
    old = "def f(x: int, k: int = 2) -> int:\n    return x * k\n"
    evidence = prove(_module_pair(old, old.replace("= 2", "= 3")), SmtProver(), 10.0)
    assert evidence.level is Level.REFUTED, evidence.detail
    assert "k=" not in evidence.counterexample.call, evidence.counterexample.call
    assert prove(_module_pair(old, old), SmtProver(), 10.0).level is Level.PROVEN


def _module_pair(old: str, new: str) -> Pair:
    """A hand-written pair: its template only states the parameters of ``f``."""
    fn = next(n for n in ast.parse(old).body if isinstance(n, ast.FunctionDef) and n.name == "f")
    params = tuple((a.arg, ast.unparse(a.annotation)) for a in fn.args.args)
    return Pair(Template("regression", params, {}, lambda c: ""), old, new, ())


def assert_never_proven(old: str, new: str, *fragments: str) -> Any:
    """Not PROVEN, never an ENCODER BUG, and the concrete runs here do differ."""
    pair = _module_pair(old, new)
    assert first_difference(pair, load(old), load(new)) is not None
    evidence = prove(pair, SmtProver(timeout_cap=3.0), 3.0)  # UNKNOWN is acceptable: no need to wait for z3
    assert evidence.level in (Level.REFUTED, Level.UNKNOWN), evidence.detail
    assert "ENCODER BUG" not in evidence.detail, evidence.detail
    assert all(fragment in evidence.detail for fragment in fragments), evidence.detail
    return evidence


def test_log_of_a_huge_int_is_not_an_overflow():
    """CPython takes math.log of any int (ValueError first for n <= 0); only float(n) overflows."""
    old = "import math\n\n\ndef f(n: int) -> float:\n    return math.log(n)\n"
    new = "import math\n\n\ndef f(n: int) -> float:\n    return math.log(float(n))\n"
    assert outcome(load(old).f, (10 ** 400,), {})[0] == "returned"
    assert outcome(load(old).f, (-(10 ** 400),), {}) == ("raised", "ValueError")
    assert outcome(load(new).f, (-(10 ** 400),), {}) == ("raised", "OverflowError")
    assert_never_proven(old, new)
    refactor = "import math\n\n\ndef f(n: int) -> float:\n    y = math.log(n)\n    return y\n"
    assert prove(_module_pair(old, refactor), SmtProver(), 10.0).level is Level.PROVEN


def test_int_true_division_of_zero_by_a_negative_is_minus_zero():
    old = "def f(a: int, b: int) -> float:\n    return a / b\n"
    new = "def f(a: int, b: int) -> float:\n    return 0.0 if a == 0 else a / b\n"
    evidence = assert_never_proven(old, new)
    assert evidence.level is Level.REFUTED and "a=0" in evidence.counterexample.call, evidence.detail
    same_sign = "def f(a: int, b: int) -> float:\n    return float(a) / b\n"
    spec_free = prove(_module_pair(old, same_sign), SmtProver(), 10.0)  # differs only for |a| > 2**53
    assert "ENCODER BUG" not in spec_free.detail, spec_free.detail


def test_formatting_a_huge_int_in_a_message_raises_value_error():
    old = "def f(x: int) -> int:\n    assert x < 10, f'bad {x}'\n    return x\n"
    new = "def f(x: int) -> int:\n    assert x < 10, 'bad'\n    return x\n"
    assert outcome(load(old).f, (10 ** 4300,), {}) == ("raised", "ValueError")
    assert_never_proven(old, new)
    small = "def f(x: int) -> int:\n    assert x < 10, f'big {x}'\n    return x\n"
    assert prove(_module_pair(old, small), SmtProver(), 10.0).level is Level.PROVEN


def test_a_builtin_the_module_rebinds_is_not_taken_for_the_builtin():
    for prefix in ("abs = int\n", "from operator import neg as abs\n", "from numpy import *\n"):
        old = f"{prefix}\n\ndef f(x: int) -> int:\n    return abs(x)\n"
        new = f"{prefix}\n\ndef f(x: int) -> int:\n    return x if x >= 0 else -x\n"
        evidence = prove(_module_pair(old, new), SmtProver(), 10.0)
        assert evidence.level is Level.UNKNOWN and "may not be the builtin" in evidence.detail, evidence.detail
    shadow = "def range(n: int) -> tuple:\n    return (0,)\n\n\n"
    loop = "def f(x: int) -> int:\n    t = 0\n    for i in range(3):\n        t += x\n    return t\n"
    assert_never_proven(shadow + loop, shadow + "def f(x: int) -> int:\n    return 3 * x\n", "may not be the builtin")


def test_a_helper_the_module_redefines_is_not_inlined():
    old = "def h(x: int) -> int:\n    return x\n\n\nh = abs\n\n\ndef f(x: int) -> int:\n    return h(x)\n"
    assert_never_proven(old, old.replace("return h(x)", "return x"), "the call `h(x)`")
