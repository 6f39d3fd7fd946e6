"""``ImportVerifier``: every module a patch touches must still import in a worker, and not much slower.

Default arguments, decorators, class bodies and module-level statements all run when a
module is imported, whether or not any function changed.  So each touched module is
imported in the isolated workers, on the new side and (when it existed) on the old side,
in parallel, and the worker measures the import itself: CPU seconds of its process (not
wall time, so that a loaded machine does not decide a verdict), growth of its peak
resident memory, and whether it raised.  Workers return those figures; the verdict is
made here, in the trusted process, by ``judge``.  A figure is meaningful only for an import
that is the first thing to happen to the module in its process; the executor guarantees it
(the gate's workers import every touched module, measured, before serving any call, and
use a fresh worker otherwise), and a measurement marked ``already`` is never a pass.

Limits (``Limits``): the new import may take at most ``slowdown`` times the old one plus a
``floor``, in CPU seconds and in peak memory; an added module (or one whose old version did
not import) is held to the floors alone.  ``slowdown = 10`` leaves room for real growth
(a new dependency) while a module-level loop or table costs orders of magnitude more.
The floors are what an added module that imports the usual tensor stack costs on the
project's machines (measured: ``import torch`` 1.1 s CPU and +213 MB, ``import jax`` 1.1 s
and +150 MB), with margin: 3 s of CPU and 512 MB.  A smaller floor (say 1 s, 64 MB) would
refute every new module that imports torch; a larger one lets more waste through.  Noise
in small imports (milliseconds) is far below either floor.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from properties import RULES, Obligation
from verifiers._contract import Context, Counterexample, Evidence, Level, OutcomeKind, Verifier, Violation

__all__ = ["ImportExecutor", "ImportMeasurement", "ImportVerifier", "Limits", "Ruling", "judge"]

# Deaths that are the import's own doing (consistent with the pbt verifier); a wall-clock
# ``timeout`` is judged by the CPU it had burned, see ``_timeout``.
_REFUTING_DEATHS = {"cpu": "exceeded the worker's CPU-time limit", "memory": "exceeded the worker's memory limit",
                    "exit": "ended the worker process", "signal": "killed the worker process"}
_FIX = "make the module importable without network, files or missing packages"


@dataclass(frozen=True, slots=True)
class ImportMeasurement:
    """What a worker reported for importing one module: data, never a judgement.

    ``kind`` is ``RETURNED`` (it imported), ``RAISED`` (``error_type``/``message``) or
    ``DIED`` (``error_type`` is the reason, as in ``Outcome``).  ``cpu_seconds`` is the CPU
    time the import used (for a death, what the trusted side saw the worker use in the
    call; ``None`` when unknown), ``peak_mb`` the growth of peak resident memory (a lower
    bound unless ``exact_peak``), ``wall_seconds`` the wall time.  ``already`` means the
    module was imported in that worker before, so the figures measure nothing.
    """

    kind: OutcomeKind
    cpu_seconds: float | None = None
    peak_mb: float | None = None
    wall_seconds: float = 0.0
    error_type: str = ""
    message: str = ""
    already: bool = False
    exact_peak: bool = True
    wall_limit: float | None = None

    def show(self) -> str:
        if self.kind is OutcomeKind.RETURNED:
            return f"imported in {_cpu(self.cpu_seconds)} CPU, peak memory +{_mb(self.peak_mb)}"
        if self.kind is OutcomeKind.RAISED:
            return f"raised {self.error_type}: {self.message}"[:300]
        return f"died ({self.error_type}): {self.message}"[:300]


@runtime_checkable
class ImportExecutor(Protocol):
    """An executor that can measure imports (the gate's isolated workers can)."""

    def measure_import(self, side: str, module: str) -> ImportMeasurement: ...


@dataclass(frozen=True, slots=True)
class Limits:
    """How much slower and bigger an import may get (see the module docstring for why)."""

    cpu_slowdown: float = 10.0
    cpu_floor: float = 3.0
    memory_slowdown: float = 10.0
    memory_floor_mb: float = 512.0

    def cpu(self, old: ImportMeasurement | None) -> float:
        base = (old.cpu_seconds or 0.0) if old is not None else 0.0
        return self.cpu_slowdown * base + self.cpu_floor

    def memory(self, old: ImportMeasurement | None) -> float:
        base = (old.peak_mb or 0.0) if old is not None else 0.0
        return self.memory_slowdown * base + self.memory_floor_mb


@dataclass(frozen=True, slots=True)
class Ruling:
    """``judge``'s answer: a level, why, and the policy rule for a ``VIOLATION``."""

    level: Level
    detail: str
    rule: str = ""


def judge(module: str, new: ImportMeasurement, old: ImportMeasurement | None, limits: Limits = Limits()) -> Ruling:
    """The verdict on importing ``module``: ``old`` is ``None`` when the module is new in the patch."""
    if new.already or (old is not None and old.already):
        side = "new" if new.already else "old"
        return Ruling(Level.UNKNOWN, f"{module} was already imported in a fresh {side} worker, so its import "
                                     "could not be measured: is it named like a standard-library module the worker "
                                     "itself loads (json, time, select, ...)? Rename it")
    if new.kind is OutcomeKind.DIED:
        return _died(module, new, old, limits)
    if new.kind is OutcomeKind.RAISED:
        return _raised(module, new, old)
    baseline = old if old is not None and old.kind is OutcomeKind.RETURNED else None
    cpu_allowed, memory_allowed = limits.cpu(baseline), limits.memory(baseline)
    against = _against(old, baseline, limits)
    if (new.cpu_seconds or 0.0) > cpu_allowed:
        return Ruling(Level.REFUTED, f"importing {module} took {_cpu(new.cpu_seconds)} of CPU{against}: over the "
                                     f"{_cpu(cpu_allowed)} allowed; move the work out of module level (into a "
                                     "function called when needed)")
    if (new.peak_mb or 0.0) > memory_allowed:
        return Ruling(Level.REFUTED, f"importing {module} grew peak memory by {_mb(new.peak_mb)}{against}: over the "
                                     f"{_mb(memory_allowed)} allowed; build large tables lazily, in a function")
    covered = f"new: {new.show()}" + (f"; old: {old.show()}" if old is not None else "; the module is new in the patch")
    lower = "" if new.exact_peak else " (peak memory is a lower bound: the worker could not reset its peak)"
    return Ruling(Level.PASSED, f"{module} imports in a worker within limits ({covered}; limits "
                                f"{_cpu(cpu_allowed)} CPU, +{_mb(memory_allowed)}){lower}")


def _against(old: ImportMeasurement | None, baseline: ImportMeasurement | None, limits: Limits) -> str:
    if baseline is not None:
        return (f", where the old version took {_cpu(baseline.cpu_seconds)} and +{_mb(baseline.peak_mb)} "
                f"(allowed: {limits.cpu_slowdown:g}x old + {limits.cpu_floor:g} s CPU, "
                f"{limits.memory_slowdown:g}x old + {limits.memory_floor_mb:g} MB)")
    why = "the module is new in the patch" if old is None else f"the old version did not import ({old.show()})"
    return (f" ({why}, so it is held to the floors: {limits.cpu_floor:g} s CPU, {limits.memory_floor_mb:g} MB)")


def _raised(module: str, new: ImportMeasurement, old: ImportMeasurement | None) -> Ruling:
    if old is None:
        return Ruling(Level.REFUTED, f"{module} is new in the patch and raises when imported: "
                                     f"{new.error_type}: {new.message}")
    if old.kind is OutcomeKind.RETURNED:
        return Ruling(Level.REFUTED, f"the new version of {module} raises when imported, where the old one "
                                     f"imported: {new.error_type}: {new.message}")
    return Ruling(Level.UNKNOWN, f"neither version imports in a worker: old {old.show()}; new {new.show()}; {_FIX}")


def _died(module: str, new: ImportMeasurement, old: ImportMeasurement | None, limits: Limits) -> Ruling:
    if new.error_type == "audit":
        return Ruling(Level.VIOLATION, f"importing {module} tripped the worker's audit hook: {new.message}",
                      "runtime-audit")
    if new.error_type == "mutation":
        return Ruling(Level.VIOLATION, f"importing {module} monkeypatched at run time: {new.message}",
                      "module-mutation")
    if old is not None and old.kind is not OutcomeKind.RETURNED:
        return Ruling(Level.UNKNOWN, f"neither version imports in a worker: old {old.show()}; new {new.show()}; "
                                     f"{_FIX}")
    if new.error_type == "timeout":
        return _timeout(module, new, old, limits)
    if new.error_type in _REFUTING_DEATHS:
        return Ruling(Level.REFUTED, f"importing {module} {_REFUTING_DEATHS[new.error_type]}: {new.message}"
                                     + _where_old(old))
    return Ruling(Level.UNKNOWN, f"the worker importing {module} failed ({new.error_type}: {new.message}), "
                                 "so the gate could not measure the import")


def _timeout(module: str, new: ImportMeasurement, old: ImportMeasurement | None, limits: Limits) -> Ruling:
    """A wall-clock timeout decides nothing by itself: only the CPU the import had burned does.

    If that already exceeds what the import may take, it is refuted (a CPU-bound loop burns
    CPU); if not, it was waiting -- for the CPU on a loaded machine, or on a sleep or lock --
    and the gate cannot tell, so the answer is UNKNOWN with what to do.
    """
    allowed = limits.cpu(old)
    limit = f"the {new.wall_limit:g} s" if new.wall_limit else "the"
    if new.cpu_seconds is not None and new.cpu_seconds > allowed:
        return Ruling(Level.REFUTED, f"importing {module} was stopped unfinished after burning "
                                     f"{_cpu(new.cpu_seconds)} of CPU, over the {_cpu(allowed)} allowed"
                                     f"{_where_old(old)}; an import must not loop or compute at length")
    used = "an unknown amount" if new.cpu_seconds is None else _cpu(new.cpu_seconds)
    return Ruling(Level.UNKNOWN, f"importing {module} hit {limit} wall-clock limit after only {used} of CPU "
                                 f"(it may take {_cpu(allowed)}): it was waiting -- on a sleep, a lock, or for the "
                                 "CPU on a loaded machine -- so the gate cannot tell whether the import is too "
                                 "slow; rerun on a quieter machine or raise [tool.sandbox] call_timeout, and make "
                                 "sure the module does not block at import")


def _where_old(old: ImportMeasurement | None) -> str:
    if old is None:
        return " (the module is new in the patch)"
    return f" (the old version {old.show()})"


def _cpu(seconds: float | None) -> str:
    return "? s" if seconds is None else f"{seconds:.3f} s"


def _mb(mb: float | None) -> str:
    return "? MB" if mb is None else f"{mb:.1f} MB"


class ImportVerifier(Verifier):
    """Imports the touched module on both sides in the workers and judges the figures.

    ``UNKNOWN`` when the context offers no executor that can measure imports.
    """

    name = "import"
    limits = Limits()

    def _check(self, obligation: Obligation, context: Context) -> Evidence:
        executor = context.executor
        if not isinstance(executor, ImportExecutor):
            return Evidence(Level.UNKNOWN, self.name, f"importing {obligation.module} needs an executor that can "
                                                      "measure imports, and the gate offered none")
        module = obligation.module or obligation.target
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="selfmod-import") as pool:
            new_call = pool.submit(executor.measure_import, "new", module)
            old = executor.measure_import("old", module) if obligation.path in context.before else None
            new = new_call.result()
        ruling = judge(module, new, old, self.limits)
        return self._evidence(obligation, ruling, new, old)

    def _evidence(self, obligation: Obligation, ruling: Ruling, new: ImportMeasurement,
                  old: ImportMeasurement | None) -> Evidence:
        if not ruling.level.failed:
            return Evidence(ruling.level, self.name, ruling.detail)
        cex = Counterexample(f"import {obligation.module or obligation.target}",
                             old.show() if old is not None else None, new.show())
        violations = ()
        if ruling.level is Level.VIOLATION:
            violations = (Violation(ruling.rule, obligation.path, None, f"{obligation.target}: {ruling.detail}",
                                    RULES[ruling.rule].fix, obligation.target),)
        return Evidence(ruling.level, self.name, ruling.detail, counterexample=cex, violations=violations)
