"""Conditions a patch adds (``verifiers._branches``) and the worker-side jump tracer (``verifiers._trace``)."""

from __future__ import annotations

import sys
import textwrap
import types

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifiers._branches import Coverage, Unmeasurable, definition_lines, new_conditions
from verifiers._trace import traced


def texts(conditions):
    return [c.text for c in conditions]


def load(source: str, name: str = "_branch_probe") -> types.ModuleType:
    """Compile ``source`` as a module (trusted test code only) so its functions can be traced."""
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)  # noqa: S102 - our own test source
    return module


def outcomes(source: str, qualname: str, *args):
    module = load(source)
    function = module
    for part in qualname.split("."):
        function = getattr(function, part)
    first, last = definition_lines(source, qualname)
    code = getattr(function, "__code__", None) or function.__func__.__code__
    return traced(lambda: function(*args), code.co_filename, first, last)


def covered(source: str, qualname: str, old: str | None, inputs) -> Coverage:
    coverage = Coverage(new_conditions(old, source, qualname))
    for args in inputs:
        coverage.add(outcomes(source, qualname, *args)["seen"])
    return coverage


OLD = "def f(x: int) -> int:\n    if x > 0:\n        return 1\n    return 0\n"


def test_only_the_conditions_the_patch_adds_are_new():
    new = "def f(x: int) -> int:\n    if x > 0 and x != 4242:\n        return 1\n    return 0\n"
    assert texts(new_conditions(OLD, new, "f")) == ["x != 4242"]


def test_every_condition_of_a_function_the_patch_adds_is_new():
    new = "def f(x, y=None):\n    z = 3 if y is None else 4\n    return [i for i in range(x) if i % 2] or z\n"
    assert texts(new_conditions(None, new, "f")) == ["y is None", "[i for i in range(x) if i % 2] or z",
                                                 "if i % 2 (a filter)"]


def test_an_unchanged_condition_that_moved_is_not_new():
    old = "def f(x):\n    if x > 0:\n        return 1\n    return 0\n"
    new = "def f(x):\n    y = x\n\n    if x > 0:\n        return 1 + 0\n    return 0\n"
    assert new_conditions(old, new, "f") == ()


def test_a_missing_definition_is_unmeasurable():
    with pytest.raises(Unmeasurable, match="no definition g"):
        new_conditions(None, OLD, "g")


def test_methods_and_decorated_functions_are_found():
    source = textwrap.dedent("""
        import functools

        class C:
            @functools.lru_cache(maxsize=None)
            def m(self, x):
                return -1 if x == 77 else x
    """)
    assert texts(new_conditions(None, source, "C.m")) == ["x == 77"]
    first, last = definition_lines(source, "C.m")
    assert source.splitlines()[first - 1].strip().startswith("@functools")
    assert source.splitlines()[last - 1].strip().startswith("return")


def test_a_chained_comparison_is_one_condition_per_comparison():
    new = "def f(x: float) -> float:\n    return 0.0 if 2.5 < x < 2.6 else x\n"
    shown = texts(new_conditions(None, new, "f"))
    assert shown == ["2.5 < x` of `2.5 < x < 2.6", "x < 2.6` of `2.5 < x < 2.6"]
    # x = 3.0 makes the first comparison true and the second false; x = 2.55 makes both true.
    coverage = covered(new, "f", None, [(3.0,), (1.0,)])
    assert [c.describe(m) for c, m in coverage.missing()] == [
        "the condition `x < 2.6` of `2.5 < x < 2.6` (line 2) was never true"]
    coverage = covered(new, "f", None, [(3.0,), (1.0,), (2.55,)])
    assert coverage.complete


def test_a_while_loop_test_is_one_condition_though_compiled_twice():
    new = "def f(n: int) -> int:\n    i = 0\n    while i < n:\n        i += 1\n    return i\n"
    assert texts(new_conditions(None, new, "f")) == ["i < n"]
    assert covered(new, "f", None, [(3,)]).complete  # true inside the loop, false at its end


def test_not_and_none_tests_are_reported_by_the_truth_of_the_source_condition():
    new = "def f(s, y=None):\n    if not s:\n        return 0\n    return 1 if y is not None else 2\n"
    coverage = covered(new, "f", None, [("",)])
    assert [c.describe(m) for c, m in coverage.missing()] == [
        "the condition `not s` (line 2) was never false",
        "the condition `y is not None` (line 4) was never true",
        "the condition `y is not None` (line 4) was never false",
    ]
    coverage = covered(new, "f", None, [("",), ("a", 5), ("a",)])
    assert coverage.complete


def test_a_trigger_the_inputs_never_reach_stays_uncovered():
    new = "def f(x: int) -> int:\n    if x > 0 and x != 4242:\n        return 1\n    return 0\n"
    coverage = covered(new, "f", OLD, [(1,), (-3,), (10,)])
    assert [c.describe(m) for c, m in coverage.missing()] == [
        "the condition `x != 4242` (line 2) was never false"]
    assert covered(new, "f", OLD, [(1,), (4242,)]).complete


def test_rows_from_the_worker_are_data_and_junk_covers_nothing():
    new = "def f(x: int) -> int:\n    return -1 if x == 9 else x\n"
    coverage = Coverage(new_conditions(None, new, "f"))
    span = list(coverage.conditions[0].span)
    junk = [None, "T", [1, 2], span + [True], span[:4] + ["x", "T"], [*span[:4], "0", "F"], [*span, 5]]
    assert coverage.add(junk) == 0
    assert len(coverage.missing()) == 2
    assert coverage.add([span + ["T"], span + ["F"]]) == 2
    assert coverage.complete


@settings(max_examples=60, deadline=None)
@given(st.integers(-50, 50), st.lists(st.integers(-60, 60), min_size=1, max_size=6),
       st.sampled_from(["<", "<=", ">", ">=", "==", "!="]))
def test_the_tracer_reports_exactly_the_outcomes_the_condition_had(threshold, xs, op):
    """Property: for ``-1 if x OP C else x``, the tracer saw true iff some x satisfied it, false iff some did not."""
    source = f"def f(x: int) -> int:\n    return -1 if x {op} {threshold} else x\n"
    coverage = covered(source, "f", None, [(x,) for x in xs])
    truth = {eval(f"{x} {op} {threshold}") for x in xs}  # noqa: S307 - integers and an operator we chose
    missing = {m for _, m in coverage.missing()}
    assert missing == {"true", "false"} - {"true" if t else "false" for t in truth}


def test_tracing_is_switched_off_again_and_the_callers_tracer_kept():
    new = "def f(x):\n    return 1 if x else 0\n"
    before = sys.gettrace()
    outcomes(new, "f", 1)
    assert sys.gettrace() is before


def test_an_exception_in_the_traced_call_is_reported_with_what_was_seen():
    new = "def f(x):\n    if x > 1:\n        raise ValueError('big')\n    return x\n"
    result = outcomes(new, "f", 5)
    assert result["raised"] == "builtins.ValueError"
    assert result["traced"] is True
    assert [row[-1] for row in result["seen"]] == ["T"]


def test_a_none_test_of_a_parameter_annotated_without_none_is_a_note_not_a_gap():
    from properties import Kind, Obligation
    from tests.verifiers.pbt_executor import InProcessExecutor
    from verifiers import Context, Level
    from verifiers.pbt import DifferentialTester

    old = "def f(x: int) -> int:\n    return x + 1\n"
    for annotation, level in (("int", Level.PASSED), ("int | None", Level.REFUTED)):
        new = f"def f(x: {annotation}) -> int:\n    if x is None:\n        x = 0\n    return x + 1\n"
        obligation = Obligation("train.f", Kind.EQUIVALENT, "train.py", "test", ("pbt",), old, new, module="train")
        context = Context({"train.py": old}, {"train.py": new}, executor=InProcessExecutor(old, new), max_examples=40)
        evidence = DifferentialTester().check(obligation, context)
        if level is Level.PASSED:
            assert evidence.level is Level.PASSED, evidence.detail
            assert "x is annotated without None, so that side is outside the compared types" in evidence.detail
        else:  # `int | None` admits None: pbt draws it, old raises TypeError there and new does not
            assert evidence.level is Level.REFUTED, evidence.detail


def test_an_isinstance_test_of_the_annotated_type_is_a_note_but_another_type_is_compared():
    from properties import Kind, Obligation
    from tests.verifiers.pbt_executor import InProcessExecutor
    from verifiers import Context, Level
    from verifiers.pbt import DifferentialTester

    old = "def f(x: float) -> float:\n    return x * 2.0\n"
    for kind, level in (("float", Level.PASSED), ("int", Level.REFUTED)):  # floats are never ints: refuted
        new = f"def f(x: float) -> float:\n    if not isinstance(x, {kind}):\n        return -1.0\n    return x * 2.0\n"
        obligation = Obligation("train.f", Kind.EQUIVALENT, "train.py", "test", ("pbt",), old, new, module="train")
        context = Context({"train.py": old}, {"train.py": new}, executor=InProcessExecutor(old, new), max_examples=40)
        evidence = DifferentialTester().check(obligation, context)
        assert evidence.level is level, evidence.detail
        if level is Level.PASSED:
            assert "x is annotated float, so that side is outside the compared types" in evidence.detail
