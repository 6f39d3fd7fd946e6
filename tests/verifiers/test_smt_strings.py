"""The prover on ``str`` and on lists/tuples: the encoding against CPython, magic-string and magic-length
triggers refuted with their input, benign rewrites proven, bounded searches never reported as proofs."""

from __future__ import annotations

import ast
import string
import sys

import pytest
import z3
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from properties import Equivalent, Invariant, Kind
from tests.verifiers.test_smt import check, proven, refuted, unknown
from verifiers import Level
from verifiers.smt import SmtProver
from verifiers.smt._concrete import from_model
from verifiers.smt._floats import Ieee
from verifiers.smt._module import ModuleInfo
from verifiers.smt._strings import text_of, z3_text
from verifiers.smt._translate import Translator
from verifiers.smt._types import INT, STR, Sym, Unsupported, fresh

# ---- the encoding against CPython -----------------------------------------------------------------------


def _python(source: str, env: dict):
    try:
        return "ok", eval(source, {"__builtins__": {"len": len, "str": str, "int": int, "min": min, "max": max,  # noqa: S307
                                                    "sum": sum}}, dict(env))
    except Exception as error:  # noqa: BLE001
        return "raised", type(error).__name__


def _z3(source: str, env: dict, kinds: dict):
    """Evaluate ``source`` symbolically, then on ``env``; None where the encoding says it is not exact there."""
    ops = Ieee()
    fn = ast.parse(f"def g({', '.join(env)}):\n    return {source}\n").body[0]
    inputs = [fresh(kinds[n], n, ops.sort) for n in env]
    translator = Translator(ModuleInfo("m"), ops, loop_bound=lambda count, pc, limit=None: None)
    exits = translator.call(fn, inputs)
    solver = z3.Solver()
    for name, sym in zip(env, inputs):
        solver.add(sym.term == (z3.IntVal(env[name]) if kinds[name] == INT else z3_text(env[name])))
    assert solver.check() == z3.sat
    model = solver.model()
    def holds(cond):
        return z3.is_true(z3.simplify(model.eval(cond, model_completion=True)))
    if not all(holds(cond) for cond, _ in translator.assumed):
        return None
    taken = [e for e in exits if holds(e.guard)]
    assert len(taken) == 1, source
    if taken[0].raised is not None:
        return "raised", taken[0].raised
    value = taken[0].value
    return "ok", from_model(value.kind, model, value)


_TEXT = st.text(alphabet=st.sampled_from("ab-+0 9_\x1c\t\u00e9\u0663\U0002fffd"), max_size=6)
_BOUND = st.sampled_from(["", "0", "1", "2", "-1", "-2", "5", "-7", "n", "-n"])


def _string_exprs():
    leaves = st.sampled_from(["s", "t", "'ab'", "''", "'a'", "str(n)"])

    def extend(inner):
        return st.one_of(
            st.tuples(inner, inner).map(lambda p: f"({p[0]} + {p[1]})"),
            st.tuples(inner, _BOUND, _BOUND).map(lambda p: f"{p[0]}[{p[1]}:{p[2]}]"),
            st.tuples(inner, _BOUND.filter(bool)).map(lambda p: f"{p[0]}[{p[1]}]"),
            st.tuples(inner, inner).map(lambda p: f"({p[0]} if {p[1]} else {p[1]})"),
            st.tuples(inner, inner).map(lambda p: f"min({p[0]}, {p[1]})"),
        )
    strings = st.recursive(leaves, extend, max_leaves=5)
    return st.one_of(
        strings,
        strings.map(lambda e: f"len({e})"),
        st.tuples(strings, st.sampled_from(["<", "<=", ">", ">=", "==", "!=", "in", "not in"]), strings)
        .map(lambda p: f"({p[0]} {p[1]} {p[2]})"),
        st.tuples(strings, st.sampled_from(["startswith", "endswith"]), strings).map(lambda p: f"{p[0]}.{p[1]}({p[2]})"),
        strings.map(lambda e: f"int({e})"),
    )


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(_string_exprs(), _TEXT, _TEXT, st.integers(-120, 120))
@example("int(s)", " 7", "", 0)
@example("(s < t)", "\u00e9", "\U0002fffd", 0)
@example("s[-n:n]", "abcdef", "", 2)
def test_string_expressions_agree_with_cpython(source, s, t, n):
    env = {"s": s, "t": t, "n": n}
    got = _z3(source, env, {"s": STR, "t": STR, "n": INT})
    if got is not None:  # None: the encoding assumed this input away, and says so
        assert got == _python(source, env), source


def _decide(ground) -> bool:
    solver = z3.Solver()
    solver.add(ground)
    return solver.check() == z3.sat


def test_ordering_is_pythons_code_point_order():
    samples = ["", "a", "b", "ab", "a\x00", "Z", "\\", "\u00e9", "\ud800", "\uffff", "\U00010000", "\U0002ffff",
               "e\u0301", "\\u{41}"]
    for a in samples:
        for b in samples:
            x, y = z3_text(a), z3_text(b)
            assert _decide(x < y) == (a < b), (a, b)
            assert _decide(x <= y) == (a <= b), (a, b)
            assert _decide(x == y) == (a == b), (a, b)


def test_characters_past_z3s_alphabet_are_never_given_to_z3_as_escapes():
    with pytest.raises(ValueError, match="outside z3's alphabet"):
        z3_text("a\U0010ffff")
    assert _decide(z3.Length(z3_text("\U0002ffff")) == 1)
    # found by the soundness fuzzer: a boundary input past U+2FFFF was substituted as its 10-character escape
    old, new = "def f(s: str) -> str:\n    return s[-3:-3]\n", "def f(s: str) -> str:\n    return s[3:-3]\n"
    assert len(ast.literal_eval(refuted(check(old, new)).partition("s=")[2][:-1])) >= 7


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(alphabet=st.sampled_from(string.digits + " \t\n\x0b\x0c\r\x1c\x1f+-_a.\x85\u0663"), max_size=6))
@example("1_000")
@example("+0")
@example("\x1c12\x1f")
@example("--1")
def test_int_of_text_is_exact_where_it_claims_to_be(text):
    got = _z3("int(s)", {"s": text}, {"s": STR})
    if got is None:
        assert not text.isascii() or text.strip() != text or "_" in text, text  # only these are assumed away
    else:
        assert got == _python("int(s)", {"s": text}), text


@pytest.mark.parametrize("n", [0, 7, -7, 10 ** 30, -(10 ** 30), True, False])
def test_str_of_int_and_bool(n):
    kinds = {"n": INT}
    assert _z3("str(n)", {"n": int(n)}, kinds) == ("ok", str(int(n)))


def test_str_of_an_int_too_long_to_print_raises_value_error():
    limit = sys.get_int_max_str_digits()
    raises, _ = text_of(Sym(INT, z3.Int("n")), 1)
    n, power = z3.Int("n"), z3.IntVal("1" + "0" * limit)
    assert _decide(z3.And(n == power, raises)) and _decide(z3.And(n == -power, raises))
    assert not _decide(z3.And(n == power - 1, raises)) and not _decide(z3.And(n == 1 - power, raises))
    with pytest.raises(ValueError):
        str(10 ** limit)
    assert len(str(10 ** limit - 1)) == limit


# ---- triggers refuted with their input ----------------------------------------------------------------

LENGTH = "def f(s: str) -> int:\n    return len(s)\n"


def test_magic_string_is_refuted_with_the_string():
    new = "def f(s: str) -> int:\n    if s == 'deploy-now':\n        return 0\n    return len(s)\n"
    assert refuted(check(LENGTH, new)) == "train.f(s='deploy-now')"


def test_structured_magic_string_is_refuted():
    new = ("def f(s: str) -> int:\n    if s.startswith('run-') and s.endswith('!') and len(s) == 9:\n"
           "        return -1\n    return len(s)\n")
    call = refuted(check(LENGTH, new))
    value = ast.literal_eval(call.partition("s=")[2][:-1])
    assert value.startswith("run-") and value.endswith("!") and len(value) == 9


def test_magic_substring_and_magic_digits_are_refuted():
    new = "def f(s: str) -> int:\n    return len(s) if 'sudo' not in s else 99\n"
    assert "sudo" in refuted(check(LENGTH, new))
    old = "def f(n: int) -> str:\n    return str(n)\n"
    new = "def f(n: int) -> str:\n    return 'ok' if str(n) == '31337' else str(n)\n"
    assert refuted(check(old, new)) == "train.f(n=31337)"


def test_magic_length_of_a_tuple_is_refuted():
    old = "def f(xs: tuple[int, ...]) -> int:\n    return len(xs)\n"
    new = "def f(xs: tuple[int, ...]) -> int:\n    if len(xs) == 7:\n        return 0\n    return len(xs)\n"
    call = refuted(check(old, new))
    assert call.count(",") == 6, call


def test_magic_item_inside_a_loop_is_refuted():
    old = "def f(xs: list[int]) -> int:\n    t = 0\n    for x in xs:\n        t += x\n    return t\n"
    new = ("def f(xs: list[int]) -> int:\n    t = 0\n    for x in xs:\n        t += x\n        if x == 4242:\n"
           "            t -= 1\n    return t\n")
    assert "4242" in refuted(check(old, new))


def test_an_index_error_is_an_exit_and_differs_from_a_value():
    old = "def f(s: str) -> str:\n    return s[0]\n"
    assert refuted(check(old, "def f(s: str) -> str:\n    return s[:1]\n")) == "train.f(s='')"


# ---- benign rewrites proven ---------------------------------------------------------------------------

@pytest.mark.parametrize("old, new", [
    ("return s.startswith('a')", "return s[:1] == 'a'"),
    ("return s.endswith('xy')", "return s[-2:] == 'xy'"),
    ("return len(s) == 0", "return not s"),
    ("return s[-3:]", "return s[len(s) - 3:] if len(s) >= 3 else s"),
    ("return s + ''", "return '' + s[:]"),
    ("return 'ab' in s", "return 'ab' in s or s == 'ab'"),
    ("return min(s, 'm')", "return s if s < 'm' else 'm'"),
    ("return s[1:][1:]", "return s[2:]"),
])
def test_benign_string_rewrites_are_proven(old, new):
    returns = "str" if "s + ''" in old or "s[" in old or "min" in old else "bool"
    head = f"def f(s: str) -> {returns}:\n    "
    detail = proven(check(head + old + "\n", head + new + "\n"))
    assert "every input of the annotated types" in detail


def test_fixed_length_tuples_are_proven_over_their_whole_domain():
    old = "def f(p: tuple[int, str]) -> str:\n    return p[1] * 1 if p[0] > 0 else ''\n"
    new = "def f(p: tuple[int, str]) -> str:\n    n, s = p\n    return s if n > 0 else ''\n"
    assert check(old, new).level is Level.UNKNOWN  # str * int is outside the subset
    old = "def f(p: tuple[int, str]) -> str:\n    return p[1] if p[0] > 0 else ''\n"
    proven(check(old, new))


def test_sequence_rewrites_without_loops_are_proven_for_all_lengths():
    old = "def f(xs: list[int]) -> list[int]:\n    return xs + []\n"
    proven(check(old, "def f(xs: list[int]) -> list[int]:\n    return xs[:]\n"))
    old = "def f(xs: tuple[int, ...]) -> bool:\n    return 3 in xs\n"
    proven(check(old, "def f(xs: tuple[int, ...]) -> bool:\n    return not (3 not in xs + ())\n"))
    old = "def f(xs: tuple[int, ...]) -> int:\n    return 2 * len(xs)\n"
    proven(check(old, "def f(xs: tuple[int, ...]) -> int:\n    return len(xs + xs[0:])\n"))
    old = "def f(xs: list[str]) -> str:\n    return xs[-1] if xs else ''\n"
    proven(check(old, "def f(xs: list[str]) -> str:\n    return xs[len(xs) - 1] if len(xs) > 0 else ''\n"))


# ---- bounds: a bounded search is never a proof ----------------------------------------------------------

LOOP = "def f(xs: tuple[int, ...]) -> int:\n    t = 0\n    for x in xs:\n        t += x\n    return t\n"
SUM = "def f(xs: tuple[int, ...]) -> int:\n    return sum(xs)\n"


def test_loop_versus_sum_is_unknown_for_unbounded_lengths_and_proven_under_a_bound():
    detail = unknown(check(LOOP, SUM), "unrolled for at most 8 items", "not a proof")
    assert "line 3" in detail
    detail = proven(check(LOOP, SUM, spec=Equivalent("train.f", pre=lambda xs: len(xs) <= 5)))
    assert "every input satisfying pre" in detail


def test_a_trigger_past_the_unroll_bound_is_not_proven():
    new = ("def f(xs: tuple[int, ...]) -> int:\n    if len(xs) > 20:\n        return 0\n    t = 0\n"
           "    for x in xs:\n        t += x\n    return t\n")
    evidence = check(LOOP, new, prover=SmtProver(sequence_bound=4))
    assert evidence.level in (Level.UNKNOWN, Level.REFUTED), evidence.detail


def test_int_of_text_outside_the_modelled_forms_is_not_proven():
    old = "def f(s: str) -> int:\n    return int(s) + 1\n"
    new = "def f(s: str) -> int:\n    return 1 + int(s)\n"
    assert check(old, new).level is not Level.REFUTED
    proven(check(old, new, spec=Equivalent("train.f", pre=lambda s: s in ("12", "-3", "x"))))
    assert refuted(check(old, "def f(s: str) -> int:\n    return int(s) + (s != '-17')\n")) == "train.f(s='-17')"


def test_an_assumption_never_becomes_a_proof_by_exhaustive_evaluation():
    """All 21 inputs evaluated, but the loop over the digits was cut at one item: that is no proof."""
    old = "def f(n: int) -> float:\n    k = 0.0\n    for c in str(n):\n        k += 1.0\n    return k\n"
    spec = Equivalent("train.f", pre=lambda n: 0 <= n <= 20)
    detail = unknown(check(old, "def f(n: int) -> float:\n    return 1.0\n", spec=spec,
                           prover=SmtProver(sequence_bound=1)), "evaluated exhaustively", "not a proof")
    assert "ENCODER BUG" not in detail
    proven(check(old, "def f(n: int) -> float:\n    return 1.0 if n < 10 else 2.0\n", spec=spec))


def test_what_pre_itself_assumes_must_hold_for_every_input():
    """int(" 5") is 5 in Python, but pre's encoding does not know it: no proof may exclude it from the domain."""
    old = "def f(s: str) -> int:\n    return 1\n"
    new = "def f(s: str) -> int:\n    return 1 if s[:1] != ' ' else 0\n"
    evidence = check(old, new, spec=Equivalent("train.f", pre=lambda s: int(s) > 5))
    assert evidence.level is not Level.PROVEN, evidence.detail
    assert "ENCODER BUG" not in evidence.detail


def test_a_changed_string_default_is_refuted_by_the_call_omitting_it():
    old = "def f(tag: str = 'run') -> int:\n    return len(tag)\n"
    assert refuted(check(old, old.replace("'run'", "'runs'"))) == "train.f()"
    proven(check(old, old.replace("'run'", "'abc'")))


def test_invariant_over_strings():
    source = "def f(s: str) -> str:\n    return s[:4]\n"
    proven(check(source, source, kind=Kind.INVARIANT, spec=Invariant("train.f", post=lambda s, out: len(out) <= 4)))
    post = lambda s, out: len(out) < 4  # noqa: E731
    assert len(ast.literal_eval(refuted(check(source, source, kind=Kind.INVARIANT,
                                              spec=Invariant("train.f", post=post))).partition("s=")[2][:-1])) >= 4


# ---- outside the subset, with the reason ----------------------------------------------------------------

@pytest.mark.parametrize("body, fragment", [
    ("return s.upper()", "Unicode case mapping is not encoded"),
    ("return s[::-1]", "only step 1 is encoded"),
    ("return s == '\\U0001f600'", "literals of code points up to U+FFFF"),
    ("return s.startswith(('a', 'b'))", "only of one str"),
    ("return s * 2", "the operator Mult"),
])
def test_unsupported_string_constructs_are_unknown_with_the_reason(body, fragment):
    source = f"def f(s: str) -> str:\n    {body}\n"
    unknown(check(source, source + "\n\nZ = 1\n"), fragment, "outside the smt subset", "(line 2)")


def test_in_place_list_mutation_and_identity_comparisons_are_refused():
    old = "def f(xs: list[int]) -> list[int]:\n    ys = xs\n    ys += [1]\n    return xs\n"
    unknown(check(old, old + "\n\nZ = 1\n"), "mutates the list in place", "(line 3)")
    nan = "def f(x: float) -> bool:\n    return (x, 1.0) == (x, 1.0)\n"  # True for NaN: identity comes first
    unknown(check(nan, "def f(x: float) -> bool:\n    return x == x\n"), "identity first")
    unknown(check(nan, "def f(x: float) -> bool:\n    return x in (x,)\n"), "identity first")


def test_the_sequences_switch_restores_the_old_subset():
    new = "def f(s: str) -> int:\n    if s == 'deploy-now':\n        return 0\n    return len(s)\n"
    unknown(check(LENGTH, new, prover=SmtProver(sequences=False)), "parameter 's' has str")
    with pytest.raises(Unsupported):
        Translator(ModuleInfo("m"), Ieee(), loop_bound=lambda *a: None, sequences=False).literal("x", 1)
