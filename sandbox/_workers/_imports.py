"""Imports and start-up calls in a worker, judged as start-up rather than as the call's own time.

An import (measured for ``measure_import``, or made before a call that needs the module)
and a start-up call (``warm``) may burn ``timeout`` CPU seconds; the wall clock stops it
only at ``_IMPORT_WALL`` times that, so that waiting for the CPU on a loaded machine is not
a verdict.  ``_Importer`` is the part of ``IsolatedExecutor`` that does this; the state it
works on is the executor's (see ``IsolatedExecutor.__init__``).
"""

from __future__ import annotations

import time
from typing import Any

from sandbox._workers import _protocol, _startup
from sandbox._workers._launch import _CONDUCT, REASONS, SIDES, _Died, _Worker
from verifiers._contract import Outcome, OutcomeKind
from verifiers.importable import ImportMeasurement

__all__: list[str] = []

# An import may burn ``call_timeout`` CPU seconds; the wall clock stops it only at this many times
# that, so waiting for the CPU on a loaded machine is not a verdict.  Polled this often (seconds).
_IMPORT_WALL = 3.0
_CPU_POLL = 0.25
# Deaths of a module's import that a later call into the module would only repeat.
_IMPORT_DEATHS = frozenset({"timeout", "cpu", "memory", "exit", "signal", "audit", "mutation"})


class _Importer:
    """``IsolatedExecutor``'s imports and start-up calls (a mixin: the state is the executor's)."""

    # -- measured imports -------------------------------------------------------------------

    def measure_import(self, side: str, module: str) -> ImportMeasurement:
        """Import ``module`` on ``side`` and report what the import itself cost; never raises.

        A measurement means something only if the module's import is the first thing that
        happens to it in its process: a module imported by an earlier call measures "0 s", and
        an earlier call's memory peak hides the import's.  So the first worker of each side,
        when it starts, imports each touched module of its side (in the order of
        ``_touched_modules``), measured one by one (the worker resets its peak-memory mark
        before each), before it serves a single call; that costs nothing extra, since the
        calls would import the same modules anyway.  A module that is not touched, or that an
        earlier one had already imported as a side effect (``already``), is measured in a
        dedicated fresh worker that is stopped afterwards -- one process start, only then.
        """
        if side not in SIDES:
            raise ValueError(f"side must be 'old' or 'new', not {side!r}")
        with self._side_locks[side]:
            try:
                while module in self._pending[side]:
                    self._preflight(side, self._live(side))
            except _Died as death:
                return self._import_death(death, None)
            found = self._imports[side].get(module)
            if found is None or found.already or self._stopped_once(side, module, found):
                found = self._imports[side][module] = self._fresh_import(side, module)
            return found

    def _stopped_once(self, side: str, module: str, found: ImportMeasurement) -> bool:
        """Whether ``module``'s measurement died at the wall clock, under its CPU budget, and was not retried.

        A start-up matter (a loaded machine): it gets one more measurement, in a worker of its own.
        """
        if found.kind is not OutcomeKind.DIED or self._slow[side].get(module, 2) >= 2:
            return False
        if module in self._remeasured[side]:
            return False
        self._remeasured[side].add(module)
        return True

    def _preflight(self, side: str, worker: _Worker) -> bool:
        """Import and measure the side's pending touched modules; ``False`` if one killed the worker."""
        while self._pending[side]:
            module = self._pending[side].pop(0)
            found = self._imports[side][module] = self._import_one(side, worker, module)
            if found.kind is OutcomeKind.DIED:
                return False
            if found.kind is OutcomeKind.RETURNED:
                worker.modules.add(module)
        return True

    # -- imports before a call ----------------------------------------------------------------

    def _imported(self, side: str, modules: tuple[str, ...]) -> tuple[_Worker, Outcome | None]:
        """A live worker that has imported ``modules``, or the outcome that ends the call before it starts.

        Each import the wall clock stops gets a second try in a fresh worker (the first may have
        been the measured import of a touched module); a second stop is a ``startup`` death.
        """
        while True:
            worker = self._worker(side)
            missing = [module for module in modules if module not in worker.modules]
            if not missing:
                return worker, None
            module = missing[0]
            known = self._known_failure(side, module)
            if known is not None:
                return worker, known
            result = self._import_for_call(side, worker, module)
            if result is None:
                continue
            if isinstance(result, Outcome):
                return worker, result
            if result.wall is not None and self._slow[side][module] < 2:
                continue  # the death took the worker; the next turn starts a fresh one
            return worker, self._import_failed(side, module, result)

    def _known_failure(self, side: str, module: str) -> Outcome | None:
        """How importing ``module`` already died on this side, if it did: calling into it would only die again."""
        if module in self._import_failures[side]:
            return self._import_failures[side][module]
        found = self._imports[side].get(module)
        if found is not None and found.kind is OutcomeKind.DIED and self._slow[side].get(module, 0) >= 2:
            # Its measured import and the retry of that measurement were both stopped by the wall clock.
            stopped = _Died(found.error_type, found.message, found.cpu_seconds, _IMPORT_WALL * self._timeout)
            return self._import_failed(side, module, stopped)
        if (found is None or found.kind is not OutcomeKind.DIED or found.error_type not in _IMPORT_DEATHS
                or module in self._slow[side]):
            return None
        return Outcome(OutcomeKind.DIED, error_type=found.error_type, cpu_seconds=found.cpu_seconds,
                       message=f"importing {module} already died in this worker ({found.message})")

    def _import_for_call(self, side: str, worker: _Worker, module: str) -> Outcome | _Died | None:
        """Import ``module`` for a call: ``None`` when it imported, a ``RAISED`` outcome, or the death."""
        started = time.monotonic()
        try:
            answer = self._import_answer(side, worker, module, started)
        except _Died as death:
            if death.wall is not None:
                self._slow[side][module] = self._slow[side].get(module, 0) + 1
            return death
        if answer["kind"] == "raised":
            # What the call would have answered: its first step is this import.
            return Outcome(OutcomeKind.RAISED, error_type=str(answer.get("error_type", ""))[:300],
                           message=str(answer.get("message", ""))[:500], seconds=time.monotonic() - started)
        worker.modules.add(module)
        if module in self._slow[side]:
            self._slow[side][module] = 0
        return None

    def _import_failed(self, side: str, module: str, death: _Died) -> Outcome:
        """The outcome of a call whose module's import died; remembered when a later call would repeat it."""
        if death.wall is not None:
            text = _startup.loaded_text(side, f"importing {module}", death.wall, death.cpu,
                                        limit=_IMPORT_WALL * self._timeout, budget=self._timeout)
            outcome = Outcome(OutcomeKind.DIED, error_type="startup", message=text, cpu_seconds=death.cpu)
        else:
            outcome = Outcome(OutcomeKind.DIED, error_type=death.reason, cpu_seconds=death.cpu,
                              message=f"importing {module} (before the call) died: {death.detail}")
        if outcome.error_type in _IMPORT_DEATHS or outcome.error_type == "startup":
            self._import_failures[side][module] = outcome
        return outcome

    def _import_answer(self, side: str, worker: _Worker, module: str, started: float) -> dict[str, Any]:
        """The worker's ``imported`` or ``raised`` answer to importing ``module``; ``_Died`` otherwise."""
        answer = self._send(side, worker, {"op": "import", "module": module}, started, cpu_budget=self._timeout)
        kind = answer.get("kind")
        if kind == "died" and answer.get("reason") in REASONS:
            raise self._reap(side, worker, answer["reason"], str(answer.get("message", ""))[:500])
        if kind not in ("imported", "raised"):
            raise self._reap(side, worker, "protocol", f"unexpected answer kind {kind!r}")
        return answer

    def _fresh_import(self, side: str, module: str) -> ImportMeasurement:
        try:
            worker = self._spawn(side)
        except _Died as death:
            return self._import_death(death, None)
        try:
            return self._import_one(side, worker, module)
        finally:
            worker.kill()

    def _import_one(self, side: str, worker: _Worker, module: str) -> ImportMeasurement:
        started, cpu_before = time.monotonic(), worker.cpu
        try:
            answer = self._import_answer(side, worker, module, started)
            kind = answer["kind"]
        except _Died as death:
            if death.wall is not None:
                self._slow[side][module] = self._slow[side].get(module, 0) + 1
            return self._import_death(death, cpu_before)
        if module in self._slow[side]:
            self._slow[side][module] = 0
        figures = {k: answer.get(k) for k in ("import_cpu", "peak_kb", "wall")}
        if not all(isinstance(v, (int, float)) and v >= 0 for v in figures.values()):
            self._reap(side, worker, "protocol", f"malformed import figures {str(figures)[:200]}")
            return ImportMeasurement(OutcomeKind.DIED, error_type="protocol",
                                     message=f"malformed import figures {str(figures)[:200]}")
        return ImportMeasurement(
            OutcomeKind.RETURNED if kind == "imported" else OutcomeKind.RAISED,
            cpu_seconds=float(figures["import_cpu"]), peak_mb=float(figures["peak_kb"]) / 1024,
            wall_seconds=float(figures["wall"]), error_type=str(answer.get("error_type", ""))[:300],
            message=str(answer.get("message", ""))[:500], already=answer.get("already") is True,
            exact_peak=answer.get("exact_peak") is True, wall_limit=_IMPORT_WALL * self._timeout)

    def _import_death(self, death: _Died, cpu_before: float | None) -> ImportMeasurement:
        cpu = death.cpu
        if cpu is None and death.reason == "cpu" and cpu_before is not None:
            cpu = max(0.0, self._cpu_seconds - cpu_before)
        return ImportMeasurement(OutcomeKind.DIED, cpu_seconds=cpu, error_type=death.reason,
                                 message=death.detail, wall_limit=_IMPORT_WALL * self._timeout)

    # -- start-up work under a CPU budget ---------------------------------------------------

    def _receive_within_cpu(self, side: str, worker: _Worker, started: float, budget: float) -> dict[str, Any]:
        wall = started + _IMPORT_WALL * self._timeout
        while True:
            now = time.monotonic()
            try:
                return worker.reader.read(min(wall, now + _CPU_POLL))
            except _protocol.FrameTimeout:
                if time.monotonic() >= wall:
                    # Reaps with the CPU it burned, marked as stopped by the wall clock.
                    return self._receive(side, worker, wall, started, _IMPORT_WALL * self._timeout)
                used = self._burned(worker)
                if used is not None and used > budget:
                    raise self._reap(side, worker, "timeout", f"still importing after {used:.1f} s of CPU, over the "
                                     f"{budget:g} s budget (call_timeout); the worker's process group was killed",
                                     cpu=used) from None
            except _protocol.ProtocolError as error:
                return self._raise_exit(side, worker, str(error), time.monotonic() - started)

    def _warm_death(self, side: str, target: str, death: _Died) -> Outcome:
        """A death of a start-up call as a ``startup`` death with its figures (audit and mutation stay)."""
        if death.reason in _CONDUCT:
            return self._died(side, death, 0.0)
        if death.wall is not None:
            text = _startup.loaded_text(side, f"its start-up call {target}", death.wall, death.cpu,
                                        limit=_IMPORT_WALL * self._timeout, budget=self._timeout)
        else:
            text = _startup.died_text(side, f"its start-up call {target}", death.reason, death.detail, death.cpu,
                                      budget=self._timeout)
        return Outcome(OutcomeKind.DIED, error_type="startup", message=text, cpu_seconds=death.cpu)

    def _startup_of(self, side: str, outcome: Outcome) -> Outcome:
        """A call-ending import outcome before a start-up call, its deaths as ``startup`` (audit and mutation stay)."""
        if outcome.kind is not OutcomeKind.DIED or outcome.error_type in _CONDUCT or outcome.error_type == "startup":
            return outcome
        return Outcome(OutcomeKind.DIED, error_type="startup", cpu_seconds=outcome.cpu_seconds,
                       message=_startup.died_text(side, "an import before its start-up call", outcome.error_type,
                                                  outcome.message, outcome.cpu_seconds, budget=self._timeout))
