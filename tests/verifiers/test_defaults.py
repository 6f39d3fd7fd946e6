"""A changed parameter default changes every call that omits the argument: smt and pbt both check such calls."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from properties import Equivalent, Kind, Obligation
from tests.verifiers.pbt_executor import InProcessExecutor
from tests.verifiers.test_pbt import _definition
from tests.verifiers.test_pbt import check as pbt_check
from tests.verifiers.test_smt import check as smt_check
from verifiers import Context, Level
from verifiers.pbt import DifferentialTester
from verifiers._calls import call_arguments
from verifiers.pbt._defaults import masks, with_omissions
from verifiers.smt._defaults import omissions

SCALE = "def scale(x: float, factor: float = 1.0) -> float:\n    return x * factor\n"
SUM3 = "def scale(x: int, k: int = 1, m: int = 2) -> int:\n    return x + k + m\n"

HOSTILE = {
    "positional default": (SCALE, SCALE.replace("1.0", "2.0"), "factor"),
    "keyword-only default": ("def scale(x: int, *, k: int = 3) -> int:\n    return x + k\n",
                             "def scale(x: int, *, k: int = 4) -> int:\n    return x + k\n", "k"),
    "gains a default": ("def scale(x: int, k: int) -> int:\n    return x + k\n",
                        "def scale(x: int, k: int = 0) -> int:\n    return x + k\n", "k"),
    "loses a default": ("def scale(x: int, k: int = 0) -> int:\n    return x + k\n",
                        "def scale(x: int, k: int) -> int:\n    return x + k\n", "k"),
    # every default omitted gives x + 3 on both sides; only omitting one alone differs
    "defaults swapped": (SUM3, SUM3.replace("k: int = 1, m: int = 2", "k: int = 2, m: int = 1"), "k"),
    "default from a changed constant": ("K = 3\ndef scale(x: int, k: int = K) -> int:\n    return x * k\n",
                                        "K = 4\ndef scale(x: int, k: int = K) -> int:\n    return x * k\n", "k"),
}

BENIGN = {
    "default written as an equal expression": (SCALE.replace("1.0", "2.0"), SCALE.replace("1.0", "4.0 / 2")),
    "body refactored, defaults kept": (SUM3, "def scale(x: int, k: int = 1, m: int = 2) -> int:\n"
                                             "    total = x\n    total += m\n    return total + k\n"),
    "keyword-only default kept": ("def scale(x: int, *, k: int = 3) -> int:\n    return x + k\n",
                                  "def scale(x: int, *, k: int = 3) -> int:\n    return k + x\n"),
}


def _omits(call: str, name: str) -> bool:
    return f"{name}=" not in call.partition("(")[2]


@pytest.mark.parametrize("old, new, omitted", HOSTILE.values(), ids=HOSTILE.keys())
def test_smt_refutes_a_changed_default_by_a_call_omitting_it(old, new, omitted):
    evidence = smt_check(old, new, "train.scale")
    assert evidence.level is Level.REFUTED, evidence.detail
    assert "replayed concretely" in evidence.detail and "for calls omitting" in evidence.detail
    assert _omits(evidence.counterexample.call, omitted), evidence.counterexample.call


@pytest.mark.parametrize("old, new, omitted", HOSTILE.values(), ids=HOSTILE.keys())
def test_pbt_refutes_a_changed_default_by_a_call_omitting_it(old, new, omitted):
    evidence = pbt_check(old, new, "train.scale")
    assert evidence.level is Level.REFUTED, evidence.detail
    assert "so each side uses its own default" in evidence.detail
    assert _omits(evidence.counterexample.call, omitted), evidence.counterexample.call


def test_the_refutation_shows_the_omitted_argument_and_both_results():
    for evidence in (smt_check(SCALE, SCALE.replace("1.0", "2.0"), "train.scale"),
                     pbt_check(SCALE, SCALE.replace("1.0", "2.0"), "train.scale")):
        cex = evidence.counterexample
        x = float(cex.call.removeprefix("train.scale(x=").removesuffix(")"))
        assert (cex.old, cex.new) == (f"returned {x!r}", f"returned {x * 2!r}"), evidence.detail


def test_a_gained_default_shows_the_old_type_error():
    old, new, _ = HOSTILE["gains a default"]
    for evidence in (smt_check(old, new, "train.scale"), pbt_check(old, new, "train.scale")):
        assert evidence.counterexample.old.startswith("raised TypeError"), evidence.detail


@pytest.mark.parametrize("old, new", BENIGN.values(), ids=BENIGN.keys())
def test_smt_proves_equivalent_defaults_for_calls_omitting_them(old, new):
    evidence = smt_check(old, new, "train.scale")
    assert evidence.level is Level.PROVEN, evidence.detail
    assert "likewise for the calls omitting defaulted parameters" in evidence.detail


@pytest.mark.parametrize("old, new", BENIGN.values(), ids=BENIGN.keys())
def test_pbt_passes_equivalent_defaults_and_says_it_omitted_them(old, new):
    evidence = pbt_check(old, new, "train.scale")
    assert evidence.level is Level.PASSED, evidence.detail
    assert "of the calls omitted defaulted parameters" in evidence.detail


def test_a_default_smt_cannot_encode_is_unknown_and_pbt_decides():
    old = "K = int('3')\ndef scale(x: int, k: int = K) -> int:\n    return x * k\n"
    new = old.replace("int('3')", "int('4')")
    evidence = smt_check(old, new, "train.scale")
    assert evidence.level is Level.UNKNOWN, evidence.detail
    assert "default of parameter 'k'" in evidence.detail and "hypothesis tester" in evidence.detail
    assert smt_check(old, old, "train.scale").level is Level.UNKNOWN  # never PROVEN without encoding the default
    assert pbt_check(old, new, "train.scale").level is Level.REFUTED


def test_a_mutable_default_that_accumulates_is_refuted_by_repeated_calls():
    old = ("def scale(x: int, seen: list[int] | None = None) -> int:\n"
           "    seen = [] if seen is None else seen\n    seen.append(x)\n    return len(seen)\n")
    new = "def scale(x: int, seen: list[int] = []) -> int:\n    seen.append(x)\n    return len(seen)\n"
    evidence = pbt_check(old, new, "train.scale")
    assert evidence.level is Level.REFUTED, evidence.detail
    assert _omits(evidence.counterexample.call, "seen")


class _Recording(InProcessExecutor):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sent: list[tuple[tuple, dict]] = []

    def call(self, side, target, args, kwargs, *, receiver=None):
        self.sent.append((tuple(args), dict(kwargs)))
        return super().call(side, target, args, kwargs, receiver=receiver)


def test_pbt_leaves_omitted_arguments_to_the_worker():
    old = textwrap.dedent(SUM3)
    executor = _Recording(old, old)
    source = _definition(old, "scale")
    obligation = Obligation("train.scale", Kind.EQUIVALENT, "train.py", "test", ("pbt",), source, source,
                            module="train")
    context = Context({"train.py": old}, {"train.py": old}, executor=executor)
    assert DifferentialTester().check(obligation, context).level is Level.PASSED
    shapes = {(len(args), tuple(sorted(kwargs))) for args, kwargs in executor.sent}
    assert {(3, ()), (1, ()), (1, ("m",)), (2, ())} <= shapes  # all given, both omitted, k alone, m alone


def test_omission_plans_and_call_building():
    assert omissions([]) == [] and omissions(["k"]) == [frozenset({"k"})]
    assert omissions(["k", "m"]) == [frozenset({"k", "m"}), frozenset({"k"}), frozenset({"m"})]
    assert masks(["k", "m"]) == [(), ("k", "m"), ("k",), ("m",)]
    assert call_arguments(["a", "k", "m", "z"], [False, False, False, True], [1, 2, 3, 4], frozenset({"k"})) == \
        ((1,), {"m": 3, "z": 4})
    cases = list(with_omissions([(0, 0), (1, 0), (0, 5)], {"x": 0, "k": 1}, [0, 0], ["k"]))
    assert cases == [(0, 0, ()), (1, 0, ()), (0, 5, ()), (0, 0, ("k",)), (1, 0, ("k",))]


def test_user_inputs_still_get_calls_omitting_defaults():
    old, new, _ = HOSTILE["positional default"]
    by_name = Equivalent("train.scale", inputs={"x": st.floats(-4, 4), "factor": st.floats(-4, 4)})
    tuples = Equivalent("train.scale", inputs=st.tuples(st.floats(-4, 4), st.floats(-4, 4)))
    for spec in (by_name, tuples):
        evidence = pbt_check(old, new, "train.scale", spec=spec)
        assert evidence.level is Level.REFUTED, evidence.detail
        assert _omits(evidence.counterexample.call, "factor"), evidence.counterexample.call
    assert pbt_check(old, old, "train.scale", spec=tuples).level is Level.PASSED


@settings(max_examples=12, deadline=None)
@given(a=st.integers(-3, 3), b=st.integers(-3, 3), keyword=st.booleans())
def test_smt_verdict_on_defaults_agrees_with_concrete_calls(a, b, keyword):
    star = "*, " if keyword else ""
    old = f"def scale(x: int, {star}k: int = {a}) -> int:\n    return x * k + 1\n"
    new = old.replace(f"= {a})", f"= {b})")
    evidence = smt_check(old, new, "train.scale")
    assert evidence.level is (Level.PROVEN if a == b else Level.REFUTED), evidence.detail
