"""CrossHair's path search (``verifiers.symbolic``): found in the workers, replayed on both sides, judged here.

Most tests use the real ``IsolatedExecutor`` (bubblewrap, seccomp, rlimits, audit hook where this
machine has them).  z3 and ``crosshair.tracers`` must be imported before the worker installs its
audit hook (see docs/crosshair.md); ``preload_crosshair`` makes workers that do, by adding exactly
that import to the worker's start-up, and one test pins down what today's workers answer.
"""

from __future__ import annotations

import ast
import re
import textwrap
from pathlib import Path

import pytest

from properties import Equivalent, Invariant, Kind, Obligation
from sandbox._workers import IsolatedExecutor, _launch
from tests.conftest import write_tree
import verifiers
from verifiers import Context, Level, Outcome, OutcomeKind
import verifiers.symbolic
from verifiers.symbolic import Budget, PathSearch, found_inputs
from verifiers.symbolic._worker import NEEDS_PRELOAD

# The line of the worker's start-up before which the preload goes: after seccomp, before the
# tree under test is on sys.path and before the audit hook.
_ANCHOR = '    sys.path.insert(0, config["tree"])\n'
_PRELOAD = "".join(f'    importlib.import_module("{name}")\n' for name in NEEDS_PRELOAD)


def preload_crosshair(monkeypatch: pytest.MonkeyPatch, lines: str = _PRELOAD) -> None:
    """Workers that run ``lines`` at start-up, before the tree is on ``sys.path`` and before the audit hook."""
    original = _launch._install_runtime

    def install(runtime: Path) -> None:
        original(runtime)
        child = runtime / "_child.py"
        text = child.read_text()
        if _ANCHOR not in text:
            pytest.fail(f"the worker's start-up no longer has {_ANCHOR.strip()!r}; update preload_crosshair")
        child.write_text(text.replace(_ANCHOR, lines + _ANCHOR, 1))

    monkeypatch.setattr(_launch, "_install_runtime", install)


OLD = '''
import math


def magic(x: int) -> int:
    return x + 1


def magic_ok(x: int) -> int:
    return x + 1


def deploy(s: str, n: int) -> int:
    return len(s)


def deploy_ok(s: str, n: int) -> int:
    return len(s)


def rolling(s: str) -> str:
    return "hi " + s


def rolling_ok(s: str) -> str:
    return "hi " + s


def retired(x: int) -> int:
    if x * 7919 % 1000003 == 4242:
        return -1
    return x + 1


def total(xs: list[int]) -> int:
    return sum(xs)


def shout(s: str) -> str:
    return s.upper()


def pick(d: dict[str, int], key: str, *, default: int = 0) -> int:
    return d.get(key, default)


def clean() -> bool:
    import sys
    return sys.gettrace() is None and sys.getprofile() is None and math.floor(2.5) == 2
'''

NEW = '''
import math


def magic(x: int) -> int:
    if x * 7919 % 1000003 == 4242:
        return -1
    return x + 1


def magic_ok(x: int) -> int:
    if x * 7919 % 1000003 == 4242:
        return 1 + x
    return x + 1


def deploy(s: str, n: int) -> int:
    if s == "deploy-" + str(n):
        return 0
    return len(s)


def deploy_ok(s: str, n: int) -> int:
    if s == "deploy-" + str(n):
        return len("deploy-" + str(n))
    return len(s)


def rolling(s: str) -> str:
    h = 0
    for c in s:
        h = (h * 31 + ord(c)) % 65536
    if h == 12345:
        return "admin"
    return "hi " + s


def rolling_ok(s: str) -> str:
    h = 0
    for c in s:
        h = (h * 31 + ord(c)) % 65536
    if h == 12345:
        return "hi " + s
    return "hi " + s


def retired(x: int) -> int:
    return x + 1


def total(xs: list[int]) -> int:
    out = 0
    for x in xs:
        out += x
    return out


def shout(s: str) -> str:
    return "".join(c.upper() for c in s)


def pick(d: dict[str, int], key: str, *, default: int = 0) -> int:
    return d[key] if key in d else default


def clean() -> bool:
    import sys
    return sys.gettrace() is None and sys.getprofile() is None and math.floor(2.5) == 2
'''


def _text(source: str) -> str:
    return textwrap.dedent(source).lstrip("\n")


def _definition(module_text: str, name: str) -> str:
    node = next(n for n in ast.parse(module_text).body if isinstance(n, ast.FunctionDef) and n.name == name)
    return ast.get_source_segment(module_text, node)


def obligation(name: str, old: str = OLD, new: str = NEW, *, spec=None, kind: Kind = Kind.EQUIVALENT,
               module: str = "train") -> Obligation:
    old, new = _text(old), _text(new)
    return Obligation(f"{module}.{name}", kind, f"{module}.py", "test", ("crosshair",), _definition(old, name),
                      _definition(new, name), new_lines=(1, 1), spec=spec, module=module)


def context(executor, old: str = OLD, new: str = NEW) -> Context:
    return Context({"train.py": _text(old)}, {"train.py": _text(new)}, executor=executor)


def workers(root: Path, old: str = OLD, new: str = NEW, **options) -> IsolatedExecutor:
    write_tree(root, {"train.py": old})
    return IsolatedExecutor(root, {"train.py": _text(old)}, {"train.py": _text(new)}, timeout=10, **options)


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One pair of preloading workers over OLD/NEW for the tests that only read."""
    with workers(tmp_path_factory.mktemp("symbolic")) as executor:
        with pytest.MonkeyPatch.context() as patch:
            preload_crosshair(patch)
            for side in ("old", "new"):  # starts both workers (and writes their runtime) while patched
                assert executor.call(side, "train:clean", (), {}).value is True
        yield executor


def check(executor, name: str, **options) -> object:
    return PathSearch().check(obligation(name, **options), context(executor))


def test_public_surface_is_exact():
    assert verifiers.symbolic.__all__ == ["Budget", "PathSearch", "found_inputs"]
    assert PathSearch.name == "crosshair" and verifiers.get("crosshair").__class__ is PathSearch


# ---- trojans CrossHair finds, refuted with the input ------------------------------------------

@pytest.mark.parametrize("name, side", [("magic", "new"), ("deploy", "new"), ("rolling", "new"),
                                        ("retired", "old")])
def test_a_trojan_is_refuted_with_the_input_crosshair_found(shared, name, side):
    evidence = check(shared, name)
    assert evidence.level is Level.REFUTED, evidence.detail
    assert evidence.verifier == "crosshair"
    assert f"found by CrossHair path search on the {side} version" in evidence.detail
    cex = evidence.counterexample
    assert cex.call.startswith(f"train.{name}(") and cex.old != cex.new, cex


def test_the_counterexample_is_a_real_trigger(shared):
    cex = check(shared, "magic").counterexample
    x = int(re.fullmatch(r"train\.magic\(x=(-?\d+)\)", cex.call).group(1))
    assert x * 7919 % 1000003 == 4242 and cex.new == "returned -1" and cex.old == f"returned {x + 1}"
    cex = check(shared, "deploy").counterexample
    s, n = re.fullmatch(r"train\.deploy\(s='(.*)', n=(-?\d+)\)", cex.call).groups()
    assert s == f"deploy-{n}" and cex.new == "returned 0"


def test_the_same_code_gives_the_same_answer(shared):
    assert check(shared, "rolling").detail == check(shared, "rolling").detail


# ---- equivalent rewrites: UNKNOWN, never REFUTED ----------------------------------------------

@pytest.mark.parametrize("name", ["magic_ok", "deploy_ok", "rolling_ok", "total", "shout", "pick"])
def test_an_equivalent_rewrite_is_unknown_and_hands_on(shared, name):
    evidence = check(shared, name)
    assert evidence.level is Level.UNKNOWN, evidence.detail
    assert re.search(r"CrossHair covered \d+ paths? of new and \d+ of old; replaying \d+ of their \d+ inputs on "
                     r"both versions found no difference", evidence.detail), evidence.detail
    assert evidence.detail.endswith("the hypothesis tester decides")


def test_the_inputs_it_found_are_offered_to_the_verifiers_after_it(shared):
    """A benign look-alike's new branch: CrossHair's inputs reach it, for a tester that cannot."""
    check(shared, "rolling_ok")
    found = found_inputs(obligation("rolling_ok"), context(shared))
    hashes = set()
    for named in found:
        h = 0
        for c in named["s"]:
            h = (h * 31 + ord(c)) % 65536
        hashes.add(h)
    assert 12345 in hashes and len(hashes) > 1, found
    assert found_inputs(obligation("total"), context(_NoCalls())) == ()


def test_a_precondition_excludes_the_trigger(shared):
    spec = Equivalent("train.magic", pre=lambda x: x < 1000)
    evidence = check(shared, "magic", spec=spec)
    assert evidence.level is Level.UNKNOWN and "rejected by pre" in evidence.detail, evidence.detail


def test_crosshair_leaves_the_worker_as_it_found_it(shared):
    """Its tracing and patching are undone by the time ``cover`` returns: no mutation, no trace left set."""
    spec = {"target": "train:rolling", "max_iterations": 5, "per_path_timeout": 0.5, "per_condition_timeout": 2.0}
    for side in ("old", "new"):
        outcome = shared.call(side, "verifiers.symbolic._worker:cover", (spec,), {})
        assert outcome.kind is OutcomeKind.RETURNED and outcome.value["status"] == "ok", outcome
        after = shared.call(side, "train:clean", (), {})
        assert after.kind is OutcomeKind.RETURNED and after.value is True, after
    assert not shared.deaths, shared.deaths


# ---- what the workers need, and what happens without it ----------------------------------------

def test_workers_without_the_preload_answer_unknown_with_the_reason(tmp_path, monkeypatch):
    from sandbox._workers._executor import IsolatedExecutor

    monkeypatch.delattr(IsolatedExecutor, "sibling")  # an executor without the optional sibling()
    with workers(tmp_path) as executor:
        evidence = PathSearch().check(obligation("magic"), context(executor))
        assert not executor.deaths, executor.deaths  # asked, not killed: the worker never tripped its hook
    assert evidence.level is Level.UNKNOWN
    assert "the worker did not import them before installing it" in evidence.detail
    assert "ctypes.dlsym" in evidence.detail and evidence.detail.endswith("the hypothesis tester decides")


def test_the_gates_workers_search_in_a_preloading_sibling_and_replay_in_the_ordinary_ones(tmp_path):
    with workers(tmp_path) as executor:
        evidence = PathSearch().check(obligation("magic"), context(executor))
        assert not executor.deaths, executor.deaths
        assert executor.sibling(NEEDS_PRELOAD) is executor.sibling(NEEDS_PRELOAD)  # made once
    assert evidence.level is Level.REFUTED, evidence.detail
    assert "found by CrossHair path search" in evidence.detail


def test_missing_crosshair_degrades_clearly(tmp_path, monkeypatch):
    # An import of crosshair fails in the worker (as when crosshair-tool is not installed there).
    preload_crosshair(monkeypatch, '    sys.modules["crosshair"] = None\n')
    with workers(tmp_path) as executor:
        evidence = PathSearch().check(obligation("magic"), context(executor))
    assert evidence.level is Level.UNKNOWN
    assert "crosshair-tool is not installed (pip install crosshair-tool)" in evidence.detail


MUTATING_OLD = "import math\n\n\ndef f(x: int) -> int:\n    return x // 2\n"
MUTATING_NEW = ("import math\n\n\ndef f(x: int) -> int:\n    if x == 31337:\n        math.floor = math.ceil\n"
                "    return x // 2\n")
READING_NEW = ("import math\n\n\ndef f(x: int) -> int:\n    if x == 31337:\n        return math.floor(x / 2)\n"
               "    return x // 2\n")


@pytest.mark.slow
def test_a_version_that_monkeypatches_on_a_searched_path_is_a_violation(tmp_path, monkeypatch):
    preload_crosshair(monkeypatch)
    with workers(tmp_path, MUTATING_OLD, MUTATING_NEW) as executor:
        evidence = PathSearch().check(obligation("f", MUTATING_OLD, MUTATING_NEW),
                                      context(executor, MUTATING_OLD, MUTATING_NEW))
    assert evidence.level is Level.VIOLATION, evidence.detail
    assert evidence.violations[0].rule == "module-mutation" and "math.floor" in evidence.detail
    with workers(tmp_path / "benign", MUTATING_OLD, READING_NEW) as executor:
        benign = PathSearch().check(obligation("f", MUTATING_OLD, READING_NEW),
                                    context(executor, MUTATING_OLD, READING_NEW))
    assert benign.level is Level.UNKNOWN and "found no difference" in benign.detail, benign.detail


# ---- what it does not search: UNKNOWN at once, with the reason ---------------------------------

class _NoCalls:
    isolation = "none"

    def call(self, *args, **kwargs):
        raise AssertionError(f"the verifier should not have run anything: {args}")


def _pair(old_def: str, new_def: str, name: str = "f", **options) -> Obligation:
    return obligation(name, old_def, new_def, **options)


UNSEARCHABLE = {
    "method": ("class C:\n    def f(self, x: int) -> int:\n        return x\n", "C.f", "is a method or a nested function"),
    "no annotation": ("def f(x):\n    return x\n", "f", "parameter 'x' of train.f (new version, line 1) has no annotation"),
    "a class": ("def f(x: Path) -> int:\n    return 1\n", "f", "`Path` is not a builtin scalar or container"),
    "bare list": ("def f(xs: list) -> int:\n    return 1\n", "f", "`list` has no element type (write e.g. `list[int]`)"),
    "star args": ("def f(*xs: int) -> int:\n    return 1\n", "f", "takes *args or **kwargs"),
    "callable": ("def f(g: Callable[[int], int]) -> int:\n    return 1\n", "f", "is not a builtin container"),
    "async": ("async def f(x: int) -> int:\n    return 1\n", "f", "is async"),
}


@pytest.mark.parametrize("case", list(UNSEARCHABLE))
def test_an_unsearchable_target_is_unknown_without_running_anything(case):
    source, name, reason = UNSEARCHABLE[case]
    ob = Obligation(f"train.{name}", Kind.EQUIVALENT, "train.py", "test", ("crosshair",), source, source,
                    new_lines=(1, 2), module="train")
    evidence = PathSearch().check(ob, context(_NoCalls(), source, source))
    assert evidence.level is Level.UNKNOWN and reason in evidence.detail, evidence.detail


def test_searchable_annotations_pass_the_static_check():
    from verifiers.symbolic._signature import target

    for annotation in ("int", "float | None", "Optional[str]", "tuple[int, ...]", "dict[str, list[int]]",
                       "Literal['a', 'b']", "'list[bytes]'", "typing.List[bool]", "set[int]", "Union[int, str]"):
        source = f"def f(x: {annotation}) -> int:\n    return 1\n"
        assert target(obligation("f", source, source)).callee == "train:f", annotation


@pytest.mark.parametrize("ob, why", [
    (obligation("magic", kind=Kind.INVARIANT, spec=Invariant("train.magic", lambda x, out: True)),
     "judges equivalent obligations only"),
    (obligation("magic", spec=Equivalent("train.magic", inputs={"x": None})), "states inputs= for train.magic"),
])
def test_obligations_it_does_not_judge_are_unknown(ob, why):
    evidence = PathSearch().check(ob, context(_NoCalls()))
    assert evidence.level is Level.UNKNOWN and why in evidence.detail, evidence.detail


def test_without_workers_it_is_unknown():
    evidence = PathSearch().check(obligation("magic"), Context({}, {}))
    assert evidence.level is Level.UNKNOWN and "only inside the gate's workers" in evidence.detail


# ---- the worker's answer is untrusted data -------------------------------------------------------

class _Scripted:
    """Answers ``cover`` with ``reports[side]`` and replays with ``results[side](args)``."""

    isolation = "scripted test double"

    def __init__(self, reports, results=None):
        self.reports, self.results, self.replays = reports, results or {}, 0

    def call(self, side, target, args, kwargs, *, receiver=None):
        if target.startswith("verifiers.symbolic."):
            report = self.reports[side]
            return report if isinstance(report, Outcome) else Outcome(OutcomeKind.RETURNED, value=report)
        self.replays += 1
        return Outcome(OutcomeKind.RETURNED, value=self.results.get(side, lambda a: a[0])(args))


def _ok(*inputs, paths=1):
    return {"status": "ok", "inputs": [[list(i), {}] for i in inputs], "paths": paths, "iterations": paths,
            "dropped": 0, "capped": False}


@pytest.mark.parametrize("report", [None, 7, {"status": "ok"}, {"status": "ok", "inputs": "x", "paths": 1,
                                                                  "iterations": 1, "dropped": 0},
                                    {"status": "ok", "inputs": [[1, 2]], "paths": True, "iterations": 1, "dropped": 0}])
def test_a_malformed_report_is_never_evidence(report):
    executor = _Scripted({"old": report, "new": report})
    evidence = PathSearch().check(obligation("magic"), context(executor))
    assert evidence.level is Level.UNKNOWN and executor.replays == 0, evidence.detail


def test_a_report_full_of_garbage_inputs_only_feeds_the_replay():
    report = {"status": "ok", "inputs": [[[1], {}], "junk", [[2], {3: 4}], [[3], {}]], "paths": 9,
              "iterations": 9, "dropped": 0}
    executor = _Scripted({"old": report, "new": report})
    evidence = PathSearch().check(obligation("magic"), context(executor))
    assert evidence.level is Level.UNKNOWN and executor.replays == 4, evidence.detail  # inputs 1 and 3, both sides


def test_a_difference_must_repeat_to_refute():
    flips = iter([2, 1])
    executor = _Scripted({"old": _ok((5,)), "new": _ok((5,))}, {"new": lambda a: next(flips), "old": lambda a: 1})
    evidence = PathSearch().check(obligation("magic"), context(executor))
    assert evidence.level is Level.UNKNOWN and evidence.detail.startswith("flaky: train.magic(x=5)"), evidence.detail


@pytest.mark.parametrize("old_death, level", [(None, Level.VIOLATION), ("audit", Level.UNKNOWN)])
def test_tripping_the_audit_hook_during_the_search(old_death, level):
    died = Outcome(OutcomeKind.DIED, error_type="audit", message="open ('/etc/passwd', 'w')")
    executor = _Scripted({"new": died, "old": died if old_death else _ok((1,))})
    evidence = PathSearch().check(obligation("magic"), context(executor))
    assert evidence.level is level, evidence.detail
    if level is Level.VIOLATION:
        assert evidence.violations[0].rule == "runtime-audit" and "/etc/passwd" in evidence.detail


def test_the_budget_reaches_the_worker():
    seen = []

    class Recording(_Scripted):
        def call(self, side, target, args, kwargs, *, receiver=None):
            if target.startswith("verifiers.symbolic."):
                seen.append(args[0])
            return super().call(side, target, args, kwargs, receiver=receiver)

    PathSearch(Budget(max_iterations=3, per_path_timeout=0.1, per_condition_timeout=0.2)).check(
        obligation("magic"), context(Recording({"old": _ok((1,)), "new": _ok((1,))})))
    assert {s["max_iterations"] for s in seen} == {3} and {s["target"] for s in seen} == {"train:magic"}


@pytest.mark.parametrize("old_seconds, level", [(0.1, Level.REFUTED), (6.0, Level.UNKNOWN)])
def test_a_replayed_new_timeout_is_a_verdict_only_when_old_answered_far_within_the_limit(old_seconds, level):
    from verifiers import Outcome, OutcomeKind
    from verifiers.symbolic._replay import compare

    old = Outcome(OutcomeKind.RETURNED, value=1, seconds=old_seconds)
    new = Outcome(OutcomeKind.DIED, error_type="timeout", message="no answer", seconds=10.0)
    difference = compare(old, new)
    assert difference is not None and difference.level is level
    if level is Level.UNKNOWN:
        assert difference.fatal and "machine's load" in difference.message
