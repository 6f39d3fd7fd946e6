"""The hypothesis differential tester, driven through an in-process stand-in for the workers."""

from __future__ import annotations

import ast
import dataclasses
import os
import re
import textwrap
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from properties import Equivalent, Invariant, Kind, Obligation
from tests.conftest import snapshot
from tests.verifiers.pbt_executor import InProcessExecutor
from verifiers import Context, Level, Outcome, OutcomeKind
from verifiers.pbt import DifferentialTester
from verifiers.pbt._boundaries import int_boundaries, mine


def _definition(module_text: str, qualname: str) -> str:
    tree = ast.parse(module_text)
    body = tree.body
    node = None
    for part in qualname.split("."):
        node = next(n for n in body if getattr(n, "name", None) == part)
        body = node.body
    return textwrap.dedent(ast.get_source_segment(module_text, node, padded=True))


def check(old: str, new: str, target: str = "train.clip", *, kind: Kind = Kind.EQUIVALENT, spec=None,
          seed: int = 0, max_examples: int = 200, timeout: float = 30.0, die=None, executor=True):
    old, new = textwrap.dedent(old), textwrap.dedent(new)
    qualname = target.partition(".")[2]
    obligation = Obligation(target, kind, "train.py", "test", ("pbt",), _definition(old, qualname),
                            _definition(new, qualname), spec=spec, module="train")
    runner = InProcessExecutor(old, new, die=die) if executor else None
    context = Context({"train.py": old}, {"train.py": new}, seed=seed, timeout=timeout, executor=runner,
                      max_examples=max_examples)
    return DifferentialTester().check(obligation, context)


CLAMP = """
    def clip(x: int) -> int:
        if x > 10:
            return 10
        if x < 0:
            return 0
        return x
"""



def refuted_call(evidence) -> str:
    assert evidence.level is Level.REFUTED, evidence.detail
    assert evidence.counterexample.replay.endswith("--seed 0")
    return evidence.counterexample.call


# ---- equivalent refactors pass -------------------------------------------------------------

@pytest.mark.parametrize("old, new, target", [
    (CLAMP, "def clip(x: int) -> int:\n    return max(0, min(x, 10))\n", "train.clip"),
    ("def f(x: int) -> int:\n    return x * 2\n", "def f(x: int) -> int:\n    return x + x\n", "train.f"),
    ("def f(a: bool, b: bool) -> bool:\n    return not (a and b)\n",
     "def f(a: bool, b: bool) -> bool:\n    return (not a) or (not b)\n", "train.f"),
    ("def total(xs: list[int]) -> int:\n    s = 0\n    for x in xs:\n        s += x\n    return s\n",
     "def total(xs: list[int]) -> int:\n    return sum(xs)\n", "train.total"),
], ids=["clamp", "double", "de-morgan", "loop-vs-sum"])
def test_equivalent_refactors_pass(old, new, target):
    evidence = check(old, new, target)
    assert evidence.level is Level.PASSED, evidence.detail
    assert re.search(r"agree on \d+ generated inputs and \d+ boundary cases \(\d+ distinct; seed 0, ", evidence.detail)
    assert "the search, not the time budget, ended it" in evidence.detail


# ---- behaviour changes are refuted with minimal counterexamples ----------------------------

def test_off_by_one_is_refuted_at_the_boundary():
    call = refuted_call(check("def f(x: int) -> bool:\n    return x >= 5\n",
                              "def f(x: int) -> bool:\n    return x > 5\n", "train.f"))
    assert call == "train.f(x=5)"


def test_clamp_mutant_differing_only_at_hi_plus_one_is_found_fast_and_reproducibly():
    old = "def clip(x: int) -> int:\n    return x if x <= 10 else 10\n"
    new = "def clip(x: int) -> int:\n    return x if x <= 11 else 10\n"
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        evidence = check(old, new)
        runs.append((time.perf_counter() - started, evidence))
    assert all(refuted_call(e) == "train.clip(x=11)" for _, e in runs)
    assert runs[0][1].counterexample.old == "returned 10" and runs[0][1].counterexample.new == "returned 11"
    assert "first found at boundary case" in runs[0][1].detail  # the sweep, not luck, found it
    assert len({e.detail for _, e in runs}) == 1
    assert min(seconds for seconds, _ in runs) < 2.0


def test_swapped_arguments_are_refuted_minimally():
    call = refuted_call(check("def sub(a: int, b: int) -> int:\n    return a - b\n",
                              "def sub(a: int, b: int) -> int:\n    return b - a\n", "train.sub"))
    assert call in ("train.sub(a=0, b=1)", "train.sub(a=1, b=0)", "train.sub(a=0, b=-1)", "train.sub(a=-1, b=0)")


def test_changed_constant_is_refuted_minimally():
    call = refuted_call(check("def f(x: int) -> int:\n    return x * 3\n",
                              "def f(x: int) -> int:\n    return x * 4\n", "train.f"))
    assert call in ("train.f(x=1)", "train.f(x=-1)")


def test_a_failure_away_from_the_boundaries_is_shrunk_by_hypothesis():
    old = "def f(x: int) -> int:\n    return 0\n"
    new = "def f(x: int) -> int:\n    return 1 if x >= 1234567 else 0\n".replace("1234567", "LIMIT + 7")
    evidence = check("LIMIT = 1000\n" + old, "LIMIT = 1000\n" + new, "train.f")
    assert refuted_call(evidence) == "train.f(x=1007)"


def test_negative_zero_is_not_zero():
    evidence = check("def f(x: float) -> float:\n    return x\n", "def f(x: float) -> float:\n    return x + 0.0\n",
                     "train.f")
    assert refuted_call(evidence) == "train.f(x=-0.0)"
    assert evidence.counterexample.old == "returned -0.0" and evidence.counterexample.new == "returned 0.0"


def test_nan_handling_change_is_refuted_and_nan_equals_nan():
    old = "import math\ndef f(x: float) -> float:\n    return 0.0 if math.isnan(x) else x\n"
    evidence = check(old, "import math\ndef f(x: float) -> float:\n    return x\n", "train.f")
    assert refuted_call(evidence) == "train.f(x=nan)"
    same_nan = check("def f(x: float) -> float:\n    return x * 1.0\n", "def f(x: float) -> float:\n    return x\n",
                     "train.f")
    assert same_nan.level is Level.PASSED, same_nan.detail


# ---- exceptions ---------------------------------------------------------------------------

def test_same_exception_type_is_equivalent_and_a_different_type_is_not():
    old = "def f(x: int) -> int:\n    if x < 0:\n        raise ValueError('negative')\n    return x\n"
    same_type = old.replace("'negative'", "f'bad {x}'")
    assert check(old, same_type, "train.f").level is Level.PASSED
    other = check(old, old.replace("ValueError", "TypeError"), "train.f")
    assert refuted_call(other) == "train.f(x=-1)"
    assert other.counterexample.old.startswith("raised ValueError") and other.counterexample.new.startswith("raised TypeError")


# ---- invariants and pre -------------------------------------------------------------------

LR = "def lr(step: int) -> float:\n    return 6e-4 * min(step, 1000) / 1000\n"


def test_invariant_passes_under_pre_and_fails_without_it():
    post = lambda step, out: 0.0 <= out <= 6e-4  # noqa: E731
    ok = check(LR, LR, "train.lr", kind=Kind.INVARIANT,
               spec=Invariant("train.lr", post=post, pre=lambda step: step >= 0))
    assert ok.level is Level.PASSED, ok.detail
    assert "the invariant holds" in ok.detail
    bad = check(LR, LR, "train.lr", kind=Kind.INVARIANT, spec=Invariant("train.lr", post=post))
    assert refuted_call(bad) == "train.lr(step=-1)"
    assert bad.counterexample.old == "returned -6e-07"  # what the old version did there, shown too


def test_invariant_counts_a_new_exception_as_a_violation_unless_old_raised_the_same():
    old = "def f(x: int) -> int:\n    if x == 7:\n        raise ValueError\n    return 1\n"
    spec = Invariant("train.f", post=lambda x, out: out == 1)
    assert check(old, old, "train.f", kind=Kind.INVARIANT, spec=spec).level is Level.PASSED
    new = "def f(x: int) -> int:\n    if x == 8:\n        raise ValueError\n    return 1\n"
    assert refuted_call(check(old, new, "train.f", kind=Kind.INVARIANT, spec=spec)) == "train.f(x=8)"


def test_pre_narrows_the_domain_and_says_when_it_rejects_most_inputs():
    old, new = "def f(x: int) -> int:\n    return abs(x)\n", "def f(x: int) -> int:\n    return x\n"
    assert check(old, new, "train.f").level is Level.REFUTED
    narrowed = check(old, new, "train.f", spec=Equivalent("train.f", pre=lambda x: x >= 0))
    assert narrowed.level is Level.PASSED, narrowed.detail
    picky = check(old, new, "train.f", spec=Equivalent("train.f", pre=lambda x: 0 <= x <= 1))
    assert picky.level is Level.PASSED and "pre rejected" in picky.detail
    nothing = check(old, new, "train.f", spec=Equivalent("train.f", pre=lambda x: False))
    assert nothing.level is Level.UNKNOWN and "pre rejected every generated input" in nothing.detail


# ---- enums, dataclasses, methods, objects -------------------------------------------------

ENUM = """
    import enum
    class Color(enum.Enum):
        RED = 1
        GREEN = 2
        BLUE = 3
    def weight(c: Color) -> int:
        return {Color.RED: 1, Color.GREEN: 2, Color.BLUE: 3}[c]
"""


def test_enum_inputs():
    refactor = ENUM.replace("{Color.RED: 1, Color.GREEN: 2, Color.BLUE: 3}[c]", "c.value")
    assert check(ENUM, refactor, "train.weight").level is Level.PASSED
    mutant = ENUM.replace("Color.BLUE: 3}", "Color.BLUE: 4}")
    assert refuted_call(check(ENUM, mutant, "train.weight")) == "train.weight(c=Color(3))"


DATACLASS = """
    from dataclasses import dataclass
    @dataclass(frozen=True)
    class Point:
        x: int
        y: int
    def norm1(p: Point) -> int:
        return abs(p.x) + abs(p.y)
"""


def test_dataclass_inputs():
    refactor = DATACLASS.replace("abs(p.x) + abs(p.y)", "sum(abs(v) for v in (p.x, p.y))")
    assert check(DATACLASS, refactor, "train.norm1").level is Level.PASSED
    mutant = DATACLASS.replace("abs(p.x) + abs(p.y)", "p.x + abs(p.y)")
    assert refuted_call(check(DATACLASS, mutant, "train.norm1")) == "train.norm1(p=Point(x=-1, y=0))"


COUNTER = """
    class Counter:
        def __init__(self, start: int) -> None:
            self.value = start
        def bump(self, n: int) -> int:
            return self.value + n
"""


def test_method_builds_its_receiver_from_init_annotations():
    assert check(COUNTER, COUNTER.replace("self.value + n", "n + self.value"), "train.Counter.bump").level is Level.PASSED
    mutant = COUNTER.replace("self.value + n", "self.value + n if self.value < 100 else n")
    assert refuted_call(check(COUNTER, mutant, "train.Counter.bump")) == "train.Counter(start=100).bump(n=0)"


def test_method_whose_receiver_cannot_be_built_is_unknown():
    unannotated = COUNTER.replace("start: int", "start")
    evidence = check(unannotated, unannotated.replace("self.value + n", "n + self.value"), "train.Counter.bump")
    assert evidence.level is Level.UNKNOWN
    assert "'start' of Counter.__init__" in evidence.detail and "annotate it" in evidence.detail
    derived = "class Base:\n    pass\nclass Counter(Base):\n    def bump(self, n: int) -> int:\n        return n\n"
    evidence = check(derived, derived.replace("return n", "return n + 0"), "train.Counter.bump")
    assert evidence.level is Level.UNKNOWN and "no __init__ of its own" in evidence.detail


def test_an_object_whose_eq_always_says_true_is_still_refuted():
    source = """
        class Box:
            def __init__(self, v):
                self.v = v
            def __eq__(self, other):
                return True
        def make(x: int) -> Box:
            return Box(x)
    """
    evidence = check(source, source.replace("Box(x)\n", "Box(x + 1)\n"), "train.make")
    assert refuted_call(evidence) == "train.make(x=0)"
    assert "Opaque(type='train.Box'" in evidence.counterexample.old


# ---- worker deaths ------------------------------------------------------------------------

SIMPLE = "def f(x: int) -> int:\n    return x\n"


@pytest.mark.parametrize("die, level, text", [
    (lambda side, args, kwargs: "audit" if side == "new" else None, Level.VIOLATION, "audit hook"),
    (lambda side, args, kwargs: "timeout" if side == "new" and args[0] > 3 else None, Level.REFUTED, "died (timeout)"),
    (lambda side, args, kwargs: "memory" if side == "new" else None, Level.REFUTED, "died (memory)"),
    (lambda side, args, kwargs: "timeout" if side == "old" else None, Level.UNKNOWN, "old version died"),
    (lambda side, args, kwargs: "signal", Level.UNKNOWN, "old and new version died"),
    (lambda side, args, kwargs: "protocol" if side == "new" else None, Level.UNKNOWN, "new version died"),
], ids=["audit", "new-timeout", "new-memory", "old-died", "both-died", "protocol"])
def test_worker_deaths_are_never_a_pass(die, level, text):
    evidence = check(SIMPLE, SIMPLE, "train.f", die=die)
    assert evidence.level is level, evidence.detail
    assert text in evidence.detail or text in (evidence.counterexample.new if evidence.counterexample else "")
    if level is Level.REFUTED:
        assert evidence.counterexample.new.startswith("died (")


def test_inputs_on_which_both_sides_die_of_a_limit_are_not_agreement_and_the_search_goes_on():
    big = lambda side, args, kwargs: "memory" if args[0] > 1000 else None  # noqa: E731
    evidence = check(SIMPLE, SIMPLE, "train.f", die=big)
    assert evidence.level is Level.UNKNOWN, evidence.detail
    assert "both died of the same limit (memory" in evidence.detail and "not agreement" in evidence.detail
    # ... and a difference on an ordinary input is still found after such inputs.
    evidence = check(SIMPLE, SIMPLE.replace("return x", "return x if x != 7 else 0"), "train.f", die=big)
    assert refuted_call(evidence) == "train.f(x=7)"


class _Timed:
    """Wraps an executor: the new side times out after ``limit`` s where the old one took ``old_seconds``."""

    isolation = "test double"

    def __init__(self, inner, old_seconds: float, limit: float = 10.0) -> None:
        self.inner, self.old_seconds, self.limit = inner, old_seconds, limit

    def call(self, side, target, args, kwargs, *, receiver=None):
        outcome = self.inner.call(side, target, args, kwargs, receiver=receiver)
        if side == "new" and args and args[0] > 3:
            return Outcome(OutcomeKind.DIED, error_type="timeout", message="no answer", seconds=self.limit)
        return dataclasses.replace(outcome, seconds=self.old_seconds) if side == "old" else outcome


@pytest.mark.parametrize("old_seconds, level", [(0.01, Level.REFUTED), (6.0, Level.UNKNOWN)])
def test_a_new_timeout_is_a_verdict_only_when_old_answered_far_within_the_limit(old_seconds, level):
    obligation = Obligation("train.f", Kind.EQUIVALENT, "train.py", "test", ("pbt",), SIMPLE, SIMPLE, module="train")
    executor = _Timed(InProcessExecutor(SIMPLE, SIMPLE), old_seconds)
    context = Context({"train.py": SIMPLE}, {"train.py": SIMPLE}, executor=executor, max_examples=50)
    evidence = DifferentialTester().check(obligation, context)
    assert evidence.level is level, evidence.detail
    if level is Level.UNKNOWN:
        assert "too close to the limit to tell the code from the machine's load" in evidence.detail


# ---- what the verifier cannot do ----------------------------------------------------------

def test_unsupported_annotation_is_unknown_naming_the_parameter_and_the_fix():
    source = "import decimal\ndef f(x: decimal.Decimal, n: int) -> int:\n    return n\n"
    evidence = check(source, source.replace("return n", "return n + 0"), "train.f")
    assert evidence.level is Level.UNKNOWN
    assert "parameter 'x' of train.f" in evidence.detail and "`decimal.Decimal`" in evidence.detail
    assert 'equivalent("train.f", inputs={"x": st.integers(0, 10)})' in evidence.detail


def test_user_inputs_make_an_unsupported_parameter_testable():
    source = "def f(x, n: int) -> int:\n    return x + n\n"
    spec = Equivalent("train.f", inputs={"x": st.integers(0, 5)})
    assert check(source, source.replace("x + n", "n + x"), "train.f", spec=spec).level is Level.PASSED
    tuples = Equivalent("train.f", inputs=st.tuples(st.integers(0, 5), st.integers(0, 5)))
    assert refuted_call(check(source, source.replace("x + n", "x * n"), "train.f", spec=tuples)) \
        in ("train.f(x=0, n=1)", "train.f(x=1, n=0)", "train.f(x=0, n=1)", "train.f(0, 1)", "train.f(1, 0)")


def test_no_executor_other_kinds_and_changed_signatures_are_unknown():
    no_exec = check(SIMPLE, SIMPLE, "train.f", executor=False)
    assert no_exec.level is Level.UNKNOWN and "no isolated execution" in no_exec.detail
    kernel = check(SIMPLE, SIMPLE, "train.f", kind=Kind.KERNEL)
    assert kernel.level is Level.UNKNOWN and "kernel" in kernel.detail
    renamed = check(SIMPLE, "def f(y: int) -> int:\n    return y\n", "train.f")
    assert renamed.level is Level.UNKNOWN and "parameters of train.f changed from (x) to (y)" in renamed.detail


def test_flaky_code_is_unknown_not_refuted():
    new = "calls = [0]\ndef f(x: int) -> int:\n    calls[0] += 1\n    return x + (1 if calls[0] == 3 else 0)\n"
    evidence = check(SIMPLE, new, "train.f")
    assert evidence.level is Level.UNKNOWN and evidence.detail.startswith("flaky:")


# ---- budget, seed, output, repository -----------------------------------------------------

def test_a_search_the_time_budget_stops_short_is_unknown_never_passed():
    def slow(side, args, kwargs):
        time.sleep(0.002)
    evidence = check(SIMPLE, SIMPLE, "train.f", max_examples=100_000, timeout=0.5, die=slow)
    assert evidence.level is Level.UNKNOWN
    assert "the time budget of 0.5s ended the search of train.f after" in evidence.detail
    assert "short of the 100000 that PASSED requires" in evidence.detail and "ms" in evidence.detail
    assert "raise [tool.sandbox] timeout" in evidence.detail
    assert evidence.seconds < 3
    nothing = check(SIMPLE, SIMPLE, "train.f", timeout=0.0)
    assert nothing.level is Level.UNKNOWN and "before any input" in nothing.detail


def test_same_seed_same_answer_and_counterexample():
    old = "def f(xs: list[int], k: int) -> int:\n    return sum(x for x in xs if x > k)\n"
    new = "def f(xs: list[int], k: int) -> int:\n    return sum(x for x in xs if x > k) + (len(xs) > 2)\n"
    first, second = (check(old, new, "train.f", seed=1234) for _ in range(2))
    assert first.level is Level.REFUTED
    assert first.detail == second.detail and first.counterexample == second.counterexample
    assert first.counterexample.replay == "sandbox check ... --seed 1234"


def test_nothing_is_printed_and_the_repository_is_unchanged(tmp_path, monkeypatch, capfd):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "train.py").write_text("def f(s: str) -> str:\n    return s\n")
    monkeypatch.chdir(repo)
    before = snapshot(repo)
    source = "def f(s: str, t: str) -> str:\n    return s + t\n"
    assert check(source, source.replace("s + t", "''.join([s, t])"), "train.f").level is Level.PASSED
    spec = Equivalent("train.f", inputs={"s": st.text(), "t": st.text()})  # default text() caches Unicode tables
    assert check(source, source.replace("s + t", "t + s"), "train.f", spec=spec).level is Level.REFUTED
    assert snapshot(repo) == before and not os.path.exists(repo / ".hypothesis")
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_public_surface():
    import verifiers.pbt
    assert verifiers.pbt.__all__ == ["DifferentialTester"]
    assert DifferentialTester.name == "pbt"


# ---- a property of the verifier itself ----------------------------------------------------

@given(st.lists(st.integers(-10**6, 10**6), min_size=1, max_size=6))
def test_boundary_miner_includes_every_integer_literal_and_its_neighbours(literals):
    body = "\n".join(f"    if x > {c}:\n        return {i}" for i, c in enumerate(literals))
    mined = mine([f"def f(x: int) -> int:\n{body}\n    return -1\n"], [])
    boundaries = set(int_boundaries(mined))
    for c in literals:
        assert {c - 1, c, c + 1} <= boundaries
