"""Code that runs at import: every touched module must import in a worker, within limits.

Hostile modules that spend their damage at import time -- with no function changed -- are
refuted through ``Gate.check`` on a real repository, which is left byte-for-byte unchanged;
benign look-alikes pass.
"""

from __future__ import annotations

import pytest

from properties import Kind
from sandbox import Gate, Patch
from sandbox._workers import IsolatedExecutor
from tests.conftest import snapshot
from verifiers import Level, OutcomeKind
from verifiers.importable import ImportVerifier, Limits

UTIL = '''
"""Helpers."""

import json

NAMES = ("a", "b")


def double(x: int) -> int:
    return 2 * x
'''

# The wall-clock limit of the looping cases; short to keep the tests fast.
CALL_TIMEOUT = 2


@pytest.fixture
def repo(make_repo):
    return make_repo({
        "util.py": UTIL,
        "pyproject.toml": f"[project]\nname = \"t\"\n\n[tool.sandbox]\nseed = 1\ncall_timeout = {CALL_TIMEOUT}\n",
    })


@pytest.fixture
def checked(repo):
    def run(files: dict[str, str]):
        before = snapshot(repo)
        verdict = Gate.from_repo(repo).check(Patch.from_files(files))
        assert snapshot(repo) == before
        return verdict
    return run


@pytest.fixture
def low_cpu_floor(monkeypatch):
    """A 2 s wall limit leaves a looping import under the default 3 s CPU floor; lower it."""
    monkeypatch.setattr(ImportVerifier, "limits", Limits(cpu_floor=0.3))


def add_lines(text: str) -> str:
    return UTIL.replace('NAMES = ("a", "b")\n', 'NAMES = ("a", "b")\n' + text)


def import_outcome(verdict, module: str = "util"):
    found = [o for o in verdict.outcomes if o.obligation.kind is Kind.IMPORT and o.obligation.target == module]
    assert len(found) == 1, [o.obligation for o in verdict.outcomes]
    return found[0]


def test_a_module_level_table_of_2_to_the_34_entries_is_refuted(checked):
    verdict = checked({"util.py": add_lines("TABLE = [0] * 2**34\n")})
    outcome = import_outcome(verdict)
    assert not verdict.accepted and outcome.evidence.level is Level.REFUTED
    assert "memory limit" in outcome.evidence.detail
    assert outcome.evidence.counterexample is not None and outcome.evidence.counterexample.call == "import util"


def test_a_module_level_infinite_loop_is_refuted_by_the_cpu_it_burns(checked, low_cpu_floor):
    verdict = checked({"util.py": add_lines("while True:\n    pass\n")})
    outcome = import_outcome(verdict)
    assert not verdict.accepted and outcome.evidence.level is Level.REFUTED, outcome.evidence.detail
    assert "was stopped unfinished after burning" in outcome.evidence.detail
    assert "s of CPU" in outcome.evidence.detail


def test_a_decorator_that_loops_at_import_is_refuted_though_no_function_changed(checked, low_cpu_floor):
    decorated = UTIL.replace("def double(", "def _spin(function):\n    while True:\n        pass\n\n\n"
                                            "@_spin\ndef tripled(x: int) -> int:\n    return 3 * x\n\n\ndef double(")
    verdict = checked({"util.py": decorated})
    outcome = import_outcome(verdict)
    assert not verdict.accepted and outcome.evidence.level is Level.REFUTED, outcome.evidence.detail


def test_a_default_argument_that_builds_a_big_table_at_import_is_refuted(checked, monkeypatch):
    # 200 MB against a 64 MB floor (the default 512 MB floor would need a slower test).
    monkeypatch.setattr(ImportVerifier, "limits", Limits(memory_floor_mb=64.0))
    text = UTIL.replace("def double(x: int) -> int:", "def lookup(i: int, table: bytes = b'x' * (200 << 20)) -> int:\n"
                        "    return table[i]\n\n\ndef double(x: int) -> int:")
    outcome = import_outcome(checked({"util.py": text}))
    assert outcome.evidence.level is Level.REFUTED, outcome.evidence.detail
    assert "grew peak memory by 20" in outcome.evidence.detail and "64 MB" in outcome.evidence.detail


def test_an_import_that_fails_only_in_the_new_version_is_refuted_with_the_exception(checked):
    verdict = checked({"util.py": UTIL.replace("import json\n", "from json import no_such_name\n")})
    outcome = import_outcome(verdict)
    assert not verdict.accepted and outcome.evidence.level is Level.REFUTED
    assert "ImportError" in outcome.evidence.detail and "no_such_name" in outcome.evidence.detail


def test_an_added_module_that_raises_at_import_is_refuted(checked):
    verdict = checked({"plugin.py": "VALUE = 1 // 0\n"})
    outcome = import_outcome(verdict, "plugin")
    assert outcome.evidence.level is Level.REFUTED and "ZeroDivisionError" in outcome.evidence.detail
    assert "new in the patch" in outcome.evidence.detail


def test_a_write_at_import_trips_the_audit_hook_as_a_violation(checked):
    outcome = import_outcome(checked({"util.py": add_lines("open('/etc/selfmod-probe', 'w')\n")}))
    assert outcome.evidence.level is Level.VIOLATION
    assert [v.rule for v in outcome.evidence.violations] == ["runtime-audit"]


def test_an_import_that_only_waits_is_not_refuted_by_the_wall_clock(checked):
    # No CPU burnt: waiting for the CPU on a loaded machine looks the same, so the answer is UNKNOWN.
    verdict = checked({"util.py": add_lines("import threading\nthreading.Event().wait()\n")})
    outcome = import_outcome(verdict)
    assert not verdict.accepted and outcome.evidence.level is Level.UNKNOWN, outcome.evidence.detail
    assert "wall-clock limit after only" in outcome.evidence.detail


def test_an_import_slower_than_call_timeout_by_the_wall_clock_alone_still_passes(checked):
    # A loaded machine stretches an import's wall time, not its CPU time: the import may take up
    # to three times call_timeout by the clock, and only call_timeout of CPU decides.
    verdict = checked({"util.py": add_lines(f"import threading\nthreading.Event().wait({CALL_TIMEOUT + 1})\n")})
    outcome = import_outcome(verdict)
    assert outcome.evidence.level is Level.PASSED, outcome.evidence.detail


def test_a_small_constant_table_passes(checked):
    verdict = checked({"util.py": add_lines("SQUARES = tuple(i * i for i in range(256))\n")})
    outcome = import_outcome(verdict)
    assert outcome.evidence.level is Level.PASSED, outcome.evidence.detail
    assert "new: imported in" in outcome.evidence.detail and "old: imported in" in outcome.evidence.detail


def test_a_new_module_with_a_cheap_decorator_passes(checked):
    plugin = ("REGISTRY = {}\n\n\ndef register(function):\n    REGISTRY[function.__name__] = function\n"
              "    return function\n\n\n@register\ndef halve(x: int) -> int:\n    return x // 2\n")
    verdict = checked({"plugin.py": plugin})
    outcome = import_outcome(verdict, "plugin")
    assert outcome.evidence.level is Level.PASSED, outcome.evidence.detail
    assert "the module is new in the patch" in outcome.evidence.detail


def test_every_touched_module_that_exists_after_the_patch_gets_one_import_obligation(checked):
    verdict = checked({"util.py": add_lines("EXTRA = 1\n"), "pkg/__init__.py": "", "pkg/mod.py": "X = 1\n"})
    imports = sorted((o.obligation.target, o.obligation.path, o.obligation.route)
                     for o in verdict.outcomes if o.obligation.kind is Kind.IMPORT)
    assert imports == [("pkg", "pkg/__init__.py", ("import",)), ("pkg.mod", "pkg/mod.py", ("import",)),
                       ("util", "util.py", ("import",))]
    assert verdict.accepted, verdict.summary()


def test_a_module_imported_by_an_earlier_one_is_measured_in_a_fresh_worker(repo):
    # `a` imports `b`: measured in path order, b is already in sys.modules -- a bogus 0 s.
    spin = "N = 0\nfor _ in range(300_000):\n    N += 1\n"
    (repo / "c.py").write_text(spin)
    after = {"a.py": "import b\n", "b.py": spin, "util.py": UTIL}
    with IsolatedExecutor(repo, {"util.py": UTIL}, after, timeout=20) as executor:
        first = executor.measure_import("new", "a")
        assert executor.call("new", "util:double", (2,), {}).value == 4
        b = executor.measure_import("new", "b")
        untouched = executor.measure_import("new", "c")  # not touched, asked after a call: fresh too
    assert first.kind is b.kind is untouched.kind is OutcomeKind.RETURNED
    assert not b.already and b.cpu_seconds is not None and b.cpu_seconds > 0.005, b
    assert not untouched.already and untouched.cpu_seconds is not None and untouched.cpu_seconds > 0.005
