"""The literal verifier: exact decisions on constants, UNKNOWN for anything that is not a literal."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from properties import Bounds, Kind, Obligation
from verifiers import Context, Level
from verifiers._values import same as same_value
from verifiers.literal import LiteralVerifier, NotALiteral, constant_value

CONTEXT = Context(before={}, after={})


def check(old: str | None, new: str | None, kind: Kind = Kind.EQUIVALENT, spec: Bounds | None = None):
    obligation = Obligation("train.LR", kind, "train.py", "test", ("literal",), old, new, spec=spec)
    return LiteralVerifier().check(obligation, CONTEXT)


@pytest.mark.parametrize("source, value", [
    ("LR = 3e-4", 3e-4),
    ("N = 10_000", 10000),
    ("N: int = 2 ** 10", 1024),
    ("X = -(3 * 4) // 5", -3),
    ("T = (1, 'a', None)", (1, "a", None)),
    ("D = {'a': [1, 2.5]}", {"a": [1, 2.5]}),
])
def test_literal_values_are_folded(source, value):
    assert same_value(constant_value(source), value)


@pytest.mark.parametrize("source", ["LR = BASE * 2", "LR = compute()", "A, B = 1, 2", "X = 2 ** 100000", "X = 1 / 0",
                                    "X = 'a' * 3"])
def test_non_literals_are_refused(source):
    with pytest.raises(NotALiteral):
        constant_value(source)


def test_same_value_is_bitwise_on_floats_and_typed():
    assert same_value(float("nan"), float("nan"))
    assert not same_value(0.0, -0.0)
    assert not same_value(1, 1.0)
    assert not same_value(True, 1)
    assert same_value([1.5, (2, "x")], [1.5, (2, "x")])


def test_unchanged_value_written_differently_is_proven():
    evidence = check("LR = 0.5", "LR = 1 / 2")
    assert evidence.level is Level.PROVEN


def test_changed_value_is_refuted_with_both_values():
    evidence = check("LR = 3e-4", "LR = 1e-3")
    assert evidence.level is Level.REFUTED
    assert evidence.counterexample is not None
    assert (evidence.counterexample.old, evidence.counterexample.new) == ("0.0003", "0.001")
    assert "bounds(" in evidence.detail


def test_non_literal_is_unknown_with_a_fix():
    evidence = check("LR = 3e-4", "LR = BASE / 10")
    assert evidence.level is Level.UNKNOWN and "literal" in evidence.detail


def test_bounds_inside_is_proven_and_outside_is_refuted():
    spec = Bounds("train.LR", 1e-5, 1e-3)
    assert check("LR = 3e-4", "LR = 6e-4", Kind.BOUNDS, spec).level is Level.PROVEN
    outside = check("LR = 3e-4", "LR = 5e-3", Kind.BOUNDS, spec)
    assert outside.level is Level.REFUTED and "outside" in outside.detail
    assert check("LR = 3e-4", "LR = float('nan')", Kind.BOUNDS, spec).level is Level.UNKNOWN
    assert check("LR = 3e-4", "LR = 'fast'", Kind.BOUNDS, spec).level is Level.REFUTED
    assert check("LR = 3e-4", "LR = True", Kind.BOUNDS, spec).level is Level.REFUTED


@given(lo=st.floats(-1e6, 1e6), width=st.floats(0, 1e6), value=st.floats(allow_nan=False, allow_infinity=False))
def test_bounds_agree_with_python_comparison(lo: float, width: float, value: float):
    hi = lo + width
    evidence = check("X = 0.0", f"X = {value!r}", Kind.BOUNDS, Bounds("train.X", lo, hi))
    expected = Level.PROVEN if lo <= value <= hi else Level.REFUTED
    assert evidence.level is expected


_finite = st.floats(allow_nan=False, allow_infinity=False)  # repr() of inf/nan is not a literal


@given(a=_finite, b=_finite | st.just(0.0) | st.just(-0.0))
def test_equivalence_agrees_with_bitwise_float_identity(a: float, b: float):
    evidence = check(f"X = {a!r}", f"X = {b!r}")
    assert (evidence.level is Level.PROVEN) == (math.copysign(1, a) == math.copysign(1, b) and a == b)


def test_other_kinds_are_unknown():
    assert check("X = 1", "X = 1", Kind.INVARIANT).level is Level.UNKNOWN


def _batch(old: str, new: str):
    obligation = Obligation("train.BATCH_SIZE", Kind.BOUNDS, "train.py", "test", ("literal",), old, new,
                            spec=Bounds("train.BATCH_SIZE", 8, 512))
    return LiteralVerifier().check(obligation, CONTEXT)


@pytest.mark.parametrize("old, new, was, now, fix", [
    ("BATCH_SIZE = 32", "BATCH_SIZE = 32.0", "int", "float", "`BATCH_SIZE = 32`"),
    ("BATCH_SIZE = 32", "BATCH_SIZE = 64.0", "int", "float", "`BATCH_SIZE = 64`"),
    ("BATCH_SIZE = 32", "BATCH_SIZE = 48.5", "int", "float", "a literal of type int"),
    ("BATCH_SIZE = 32", "BATCH_SIZE = True", "int", "bool", "a literal of type int"),
    ("BATCH_SIZE = 32.0", "BATCH_SIZE = 64", "float", "int", "`BATCH_SIZE = 64.0`"),
    ("BATCH_SIZE: int = 2 ** 5", "BATCH_SIZE = 2 ** 5 / 1", "int", "float", "`BATCH_SIZE = 32`"),
], ids=["int-to-float", "int-to-float-moved", "int-to-fraction", "int-to-bool", "float-to-int", "folded"])
def test_bounds_refute_a_change_of_type_inside_the_range(old, new, was, now, fix):
    evidence = _batch(old, new)
    assert evidence.level is Level.REFUTED, evidence.detail
    assert f"changed type from {was}" in evidence.detail and f"to {now}" in evidence.detail
    assert "keep the literal's type" in evidence.detail and fix in evidence.detail
    assert evidence.counterexample.new == repr(constant_value(new))


@pytest.mark.parametrize("old, new", [("BATCH_SIZE = 32", "BATCH_SIZE = 64"), ("BATCH_SIZE = 32", "BATCH_SIZE = 2 ** 9"),
                                      ("BATCH_SIZE = 32.0", "BATCH_SIZE = 64.5"), (None, "BATCH_SIZE = 16.0")])
def test_bounds_keep_proving_a_move_that_keeps_the_type(old, new):
    assert _batch(old, new).level is Level.PROVEN
