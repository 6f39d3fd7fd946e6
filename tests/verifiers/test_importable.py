"""The import verifier's judgement, on synthetic measurements (no worker runs here)."""

from __future__ import annotations

import pytest

import verifiers
from properties import Kind, Obligation
from verifiers import Context, Level, OutcomeKind
from verifiers.importable import ImportMeasurement, ImportVerifier, Limits, judge

OK, RAISED, DIED = OutcomeKind.RETURNED, OutcomeKind.RAISED, OutcomeKind.DIED
LIMITS = Limits(cpu_slowdown=10.0, cpu_floor=1.0, memory_slowdown=10.0, memory_floor_mb=64.0)


def imported(cpu: float = 0.01, mb: float = 1.0) -> ImportMeasurement:
    return ImportMeasurement(OK, cpu_seconds=cpu, peak_mb=mb, wall_seconds=cpu)


def raised(error: str = "builtins.ImportError", message: str = "no module named 'x'") -> ImportMeasurement:
    return ImportMeasurement(RAISED, cpu_seconds=0.01, peak_mb=0.1, error_type=error, message=message)


def died(reason: str, cpu: float | None = None, message: str = "it died") -> ImportMeasurement:
    return ImportMeasurement(DIED, cpu_seconds=cpu, error_type=reason, message=message, wall_limit=10.0)


def test_similar_imports_pass_and_say_what_was_measured():
    ruling = judge("train", imported(0.02, 3.0), imported(0.01, 2.0), LIMITS)
    assert ruling.level is Level.PASSED
    assert "new: imported in 0.020 s CPU, peak memory +3.0 MB" in ruling.detail
    assert "old: imported in 0.010 s CPU" in ruling.detail


@pytest.mark.parametrize(("new_cpu", "level"), [(10.9, Level.PASSED), (11.1, Level.REFUTED)])
def test_cpu_may_grow_to_slowdown_times_old_plus_the_floor(new_cpu, level):
    ruling = judge("train", imported(new_cpu), imported(1.0), LIMITS)
    assert ruling.level is level
    if level is Level.REFUTED:
        assert f"{new_cpu:.3f} s of CPU" in ruling.detail and "the old version took 1.000 s" in ruling.detail
        assert "11.000 s allowed" in ruling.detail


@pytest.mark.parametrize(("new_mb", "level"), [(160.0, Level.PASSED), (170.0, Level.REFUTED)])
def test_peak_memory_may_grow_to_slowdown_times_old_plus_the_floor(new_mb, level):
    ruling = judge("train", imported(mb=new_mb), imported(mb=10.0), LIMITS)
    assert ruling.level is level
    if level is Level.REFUTED:
        assert f"grew peak memory by {new_mb:.1f} MB" in ruling.detail
        assert "164.0 MB allowed" in ruling.detail


def test_an_added_module_is_held_to_the_floors_alone():
    assert judge("new_mod", imported(0.9, 60.0), None, LIMITS).level is Level.PASSED
    slow = judge("new_mod", imported(1.5), None, LIMITS)
    assert slow.level is Level.REFUTED and "new in the patch" in slow.detail
    assert judge("new_mod", imported(mb=70.0), None, LIMITS).level is Level.REFUTED


def test_a_module_whose_old_version_did_not_import_is_held_to_the_floors():
    assert judge("m", imported(0.5), raised(), LIMITS).level is Level.PASSED
    ruling = judge("m", imported(2.0), raised(), LIMITS)
    assert ruling.level is Level.REFUTED and "the old version did not import" in ruling.detail


def test_the_default_floors_admit_a_new_module_that_imports_torch_and_jax():
    # Measured on this machine kind: torch 1.1 s / +213 MB, jax 1.1 s / +150 MB.
    assert judge("model", imported(2.2, 370.0), None).level is Level.PASSED


def test_new_side_raising_where_old_imported_is_refuted_with_the_exception():
    ruling = judge("train", raised("builtins.ImportError", "cannot import name 'nope'"), imported(), LIMITS)
    assert ruling.level is Level.REFUTED
    assert "builtins.ImportError: cannot import name 'nope'" in ruling.detail


def test_an_added_module_that_raises_is_refuted():
    ruling = judge("plugin", raised("builtins.RuntimeError", "boom"), None, LIMITS)
    assert ruling.level is Level.REFUTED and "new in the patch" in ruling.detail


def test_both_sides_raising_is_unknown_with_the_fix():
    ruling = judge("train", raised(), raised(), LIMITS)
    assert ruling.level is Level.UNKNOWN
    assert ruling.detail.startswith("neither version imports in a worker")
    assert "without network, files or missing packages" in ruling.detail


@pytest.mark.parametrize("reason", ["memory", "cpu", "exit", "signal"])
def test_deaths_the_import_caused_are_refuted(reason):
    ruling = judge("train", died(reason, message="MemoryError under the address-space limit"), imported(), LIMITS)
    assert ruling.level is Level.REFUTED and "MemoryError" in ruling.detail


def test_a_death_of_both_sides_is_unknown():
    assert judge("train", died("memory"), died("memory"), LIMITS).level is Level.UNKNOWN


def test_the_audit_hook_is_a_violation_of_rule_runtime_audit():
    ruling = judge("train", died("audit", message="open ('/etc/x', 'w')"), imported(), LIMITS)
    assert (ruling.level, ruling.rule) == (Level.VIOLATION, "runtime-audit") and "/etc/x" in ruling.detail
    mutation = judge("train", died("mutation"), imported(), LIMITS)
    assert (mutation.level, mutation.rule) == (Level.VIOLATION, "module-mutation")


def test_a_wall_clock_timeout_with_little_cpu_is_not_refuted():
    # The machine was loaded (or the import slept): the limit fired while it waited for the CPU.
    ruling = judge("train", died("timeout", cpu=0.4), imported(0.05), LIMITS)
    assert ruling.level is Level.UNKNOWN
    assert "wall-clock limit after only 0.400 s of CPU" in ruling.detail and "call_timeout" in ruling.detail
    assert judge("train", died("timeout", cpu=None), imported(), LIMITS).level is Level.UNKNOWN


def test_a_wall_clock_timeout_that_burned_the_cpu_is_refuted():
    ruling = judge("train", died("timeout", cpu=9.5), imported(0.05), LIMITS)
    assert ruling.level is Level.REFUTED and "burning 9.500 s of CPU" in ruling.detail
    # ... but only past what the import may take: 10x a slow old import + 1 s is 21 s.
    assert judge("train", died("timeout", cpu=9.5), imported(2.0), LIMITS).level is Level.UNKNOWN


def test_startup_and_protocol_failures_are_unknown():
    assert judge("train", died("startup"), imported(), LIMITS).level is Level.UNKNOWN
    assert judge("train", died("protocol"), imported(), LIMITS).level is Level.UNKNOWN


def test_an_already_imported_module_is_never_a_zero_second_pass():
    already = ImportMeasurement(OK, cpu_seconds=0.0, peak_mb=0.0, already=True)
    assert judge("train", already, imported(), LIMITS).level is Level.UNKNOWN
    assert judge("train", imported(), already, LIMITS).level is Level.UNKNOWN


class FakeExecutor:
    isolation = "fake"

    def __init__(self, **sides: ImportMeasurement | Exception) -> None:
        self.sides, self.asked = sides, []

    def call(self, side, target, args, kwargs, *, receiver=None):  # pragma: no cover - unused
        raise AssertionError("the import verifier only measures imports")

    def measure_import(self, side: str, module: str) -> ImportMeasurement:
        self.asked.append((side, module))
        answer = self.sides[side]
        if isinstance(answer, Exception):
            raise answer
        return answer


def obligation(path: str = "train.py") -> Obligation:
    return Obligation("train", Kind.IMPORT, path, "import", ("import",), module="train")


def test_the_verifier_asks_both_sides_when_the_module_existed():
    executor = FakeExecutor(new=imported(), old=imported())
    context = Context({"train.py": "X = 1\n"}, {"train.py": "X = 2\n"}, executor=executor)
    evidence = ImportVerifier().check(obligation(), context)
    assert evidence.level is Level.PASSED and evidence.verifier == "import"
    assert sorted(executor.asked) == [("new", "train"), ("old", "train")]


def test_the_verifier_asks_only_the_new_side_for_an_added_module():
    executor = FakeExecutor(new=raised("builtins.RuntimeError", "boom"))
    evidence = ImportVerifier().check(obligation(), Context({}, {"train.py": "raise RuntimeError"}, executor=executor))
    assert evidence.level is Level.REFUTED and executor.asked == [("new", "train")]
    assert evidence.counterexample is not None and evidence.counterexample.call == "import train"
    assert evidence.counterexample.new == "raised builtins.RuntimeError: boom"


def test_a_violation_names_its_rule_and_path():
    executor = FakeExecutor(new=died("audit", message="socket.connect"), old=imported())
    evidence = ImportVerifier().check(obligation(), Context({"train.py": ""}, {"train.py": ""}, executor=executor))
    assert evidence.level is Level.VIOLATION
    assert [(v.rule, v.path) for v in evidence.violations] == [("runtime-audit", "train.py")]


def test_without_an_import_capable_executor_the_answer_is_unknown():
    evidence = ImportVerifier().check(obligation(), Context({}, {"train.py": ""}))
    assert evidence.level is Level.UNKNOWN and "executor" in evidence.detail


def test_a_broken_executor_is_unknown_never_a_pass():
    executor = FakeExecutor(new=RuntimeError("executor bug"), old=imported())
    evidence = ImportVerifier().check(obligation(), Context({"train.py": ""}, {"train.py": ""}, executor=executor))
    assert evidence.level is Level.UNKNOWN and "executor bug" in evidence.detail


def test_the_registry_serves_the_import_verifier():
    assert isinstance(verifiers.get("import"), ImportVerifier)
