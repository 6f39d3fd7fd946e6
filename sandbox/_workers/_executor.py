"""The trusted side: starts workers, sends calls, and turns whatever comes back into an ``Outcome``."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from properties import module_name
from sandbox._errors import GateError
from sandbox._workers import _binds, _isolation, _protocol, _startup, _tree
from verifiers._contract import Outcome, OutcomeKind
from verifiers._values import DecodeError, decode, encode
from verifiers.importable import ImportMeasurement

__all__ = ["IsolatedExecutor", "IsolationError", "isolation_layers"]

SIDES = ("old", "new")
MAX_STARTS = 20
STARTUP_SECONDS = 30.0
# An import may burn ``call_timeout`` CPU seconds; the wall clock stops it only at this many times
# that, so waiting for the CPU on a loaded machine is not a verdict.  Polled this often (seconds).
_IMPORT_WALL = 3.0
_CPU_POLL = 0.25
TAIL_BYTES = 2000
# Deaths a worker may report about itself (the others the trusted side observes).
REASONS = frozenset({"memory", "audit", "mutation", "protocol"})
# Deaths of a module's import that a later call into the module would only repeat.
_IMPORT_DEATHS = frozenset({"timeout", "cpu", "memory", "exit", "signal", "audit", "mutation"})
# Deaths that are what the code did, not how long it took: never turned into ``startup``.
_CONDUCT = frozenset({"audit", "mutation"})


class IsolationError(GateError):
    """Strict isolation was requested but is unavailable, or a worker cannot start."""


def isolation_layers() -> tuple[str, ...]:
    """The isolation layers detected on this machine, e.g. ``("bubblewrap", "uid-drop", ...)``."""
    return _isolation.detect()[0]


class _Died(Exception):
    """A worker that did not answer: ``cpu`` is what it burned in the request (``None``: unknown),
    ``wall`` the wall-clock seconds after which the wall clock (not the CPU budget) stopped it."""

    def __init__(self, reason: str, detail: str, cpu: float | None = None, wall: float | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail, self.cpu, self.wall = reason, detail, cpu, wall


class _Worker:
    """One live worker process and its pipes."""

    def __init__(self, proc: subprocess.Popen[bytes], req: int, resp: int, out: Path, err: Path) -> None:
        self.proc, self.req, self.reader = proc, req, _protocol.FrameReader(resp)
        self.out, self.err = out, err
        self.seq, self.cpu, self.facts = 0, 0.0, {}
        # Modules this process has imported (so a call into them starts its clock at once), the
        # start-up calls (``warm``) it has made, and whether it has repeated the side's start-up.
        self.modules: set[str] = set()
        self.warmed: set[str] = set()
        self.started = False

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        for fd in (self.req, self.reader.fd):
            try:
                os.close(fd)
            except OSError:
                pass


class IsolatedExecutor:
    """Runs old and new code in isolated, reused worker processes; implements ``verifiers.Executor``."""

    def __init__(self, repo: Path, before: Mapping[str, str], after: Mapping[str, str], *,
                 timeout: float = 10.0, memory_mb: int = 4096, cpu_seconds: int = 60,
                 strict: bool = False, preload: tuple[str, ...] = (),
                 _layers: tuple[str, ...] | None = None) -> None:
        self._repo = Path(repo).resolve()
        self._preload = tuple(preload)
        self._siblings: dict[tuple[str, ...], IsolatedExecutor] = {}
        self._before, self._after = dict(before), dict(after)
        self._timeout, self._memory_mb, self._cpu_seconds = timeout, memory_mb, cpu_seconds
        if _layers is None:
            self._layers, self._notes = _isolation.detect()
        else:
            self._layers, self._notes = tuple(_layers), ("layers forced by the caller",)
        missing = [name for name in ("bubblewrap", "seccomp") if name not in self._layers]
        if strict and missing:
            raise IsolationError(
                f"strict isolation requested but {' and '.join(missing)} unavailable on this machine "
                f"({'; '.join(self._notes) or 'not detected'}); install with `apt-get install "
                "bubblewrap` and `pip install pyseccomp`, or set isolation to non-strict to run with "
                "reduced isolation")
        self._strict = strict
        self._warnings: list[str] = []
        self._workers: dict[str, _Worker] = {}
        self._starts = {side: 0 for side in SIDES}
        self._last_death: dict[str, _Died] = {}
        self._deaths: list[str] = []
        self._root: Path | None = None
        # Per side, the mounts that show the repository as its tree (under bubblewrap).
        self._views: dict[str, _binds.Binds] = {}
        self._finalizer: weakref.finalize | None = None
        # One caller per side at a time (a side's pipe carries one request and its answer);
        # the two sides run in parallel.  The gate calls from several threads when jobs > 1.
        self._side_locks = {side: threading.Lock() for side in SIDES}
        self._setup_lock = threading.Lock()
        # Workers are started from one long-lived thread of ours: bubblewrap's --die-with-parent
        # (PR_SET_PDEATHSIG) fires when the *thread* that started it exits, and callers may call
        # from short-lived threads (the gate's pool, a verifier's own).
        self._spawner: ThreadPoolExecutor | None = None
        # Touched modules each side imports, measured, before it serves any call (see measure_import).
        self._touched = {"new": _touched_modules(self._after, self._before, own=True),
                         "old": _touched_modules(self._before, self._after, own=False)}
        self._pending = {side: list(modules) for side, modules in self._touched.items()}
        self._imports: dict[str, dict[str, ImportMeasurement]] = {side: {} for side in SIDES}
        # Modules an import of which the wall clock stopped (a start-up matter), each mapped to the
        # stops since it last imported (two end the tries); and deaths of imports made for calls,
        # which later calls would only repeat.
        self._slow: dict[str, dict[str, int]] = {side: {} for side in SIDES}
        self._import_failures: dict[str, dict[str, Outcome]] = {side: {} for side in SIDES}
        self._remeasured: dict[str, set[str]] = {side: set() for side in SIDES}
        # What every fresh worker repeats before its first call (see ``_start_up``): the side's
        # start-up calls by key, and the steps dropped from that because they failed.
        self._warmups: dict[str, dict[str, dict[str, Any]]] = {side: {} for side in SIDES}
        self._dropped: dict[str, dict[str, int]] = {side: {} for side in SIDES}

    # -- public surface -------------------------------------------------------------------

    @property
    def isolation(self) -> str:
        return _isolation.describe(self._layers, self._notes, tuple(self._warnings))

    @property
    def deaths(self) -> tuple[str, ...]:
        return tuple(self._deaths)

    def call(self, side: str, target: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], *,
             receiver: Any = None) -> Outcome:
        """Run ``target`` on ``side`` with the given inputs; never raises for anything the worker does.

        The wall clock (``timeout``) covers the call alone: the worker is started and the modules
        the call needs (see ``_startup.call_modules``) are imported first, each under a CPU budget
        of ``timeout`` seconds with ``_IMPORT_WALL`` times that of wall clock.  An import the wall
        clock stops (it waited: for the CPU on a loaded machine, or on a sleep) is retried once in
        a fresh worker and is then a ``startup`` death, never a ``timeout``; an import over its CPU
        budget, or that dies otherwise, is a death with its own reason, as the call's would be.
        """
        request, modules = self._request(side, target, args, kwargs, receiver)
        with self._side_locks[side]:
            try:
                worker, early = self._imported(side, modules)
                if early is not None:
                    return early
            except _Died as death:
                return self._died(side, death, 0.0)
            started = time.monotonic()
            try:
                return self._exchange(side, worker, request, started)
            except _Died as death:
                return self._died(side, death, time.monotonic() - started)

    def warm(self, side: str, target: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Outcome:
        """Run a start-up function (one that imports heavy frameworks in its body) on ``side``.

        Like ``call``, but judged as start-up: it may burn ``timeout`` CPU seconds, the wall
        clock stops it only at ``_IMPORT_WALL`` times that, a wall-clock death is retried once
        in a fresh worker, and a death is reported with reason ``startup`` and its figures --
        except ``audit`` and ``mutation``, which are what the code did, not how long it took.
        Optional in ``verifiers.Executor``: callers use ``getattr(executor, "warm", None)``.
        """
        request, modules = self._request(side, target, args, kwargs, None)
        with self._side_locks[side]:
            retried = False
            while True:
                try:
                    worker, early = self._imported(side, modules)
                    if early is not None:
                        return self._startup_of(side, early)
                    started = time.monotonic()
                    answer = self._send(side, worker, dict(request), started, cpu_budget=self._timeout)
                    outcome = self._outcome(side, worker, answer, time.monotonic() - started)
                    if outcome.kind is OutcomeKind.RETURNED:
                        key = _warm_key(request)
                        self._warmups[side].setdefault(key, request)
                        worker.warmed.add(key)
                    return outcome
                except _Died as death:
                    if death.wall is not None and not retried:
                        retried = True
                        continue
                    return self._warm_death(side, target, death)

    def _request(self, side: str, target: str, args: tuple[Any, ...], kwargs: Mapping[str, Any],
                 receiver: Any) -> tuple[dict[str, Any], tuple[str, ...]]:
        if side not in SIDES:
            raise ValueError(f"side must be 'old' or 'new', not {side!r}")
        request = {"op": "call", "target": target, "args": encode(tuple(args)).decode(),
                   "kwargs": encode(dict(kwargs)).decode(),
                   "receiver": None if receiver is None else encode(receiver).decode()}
        return request, _startup.call_modules(target, tuple(args), kwargs, receiver)

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

    def sibling(self, preload: tuple[str, ...]) -> "IsolatedExecutor":
        """An executor over the same two trees whose workers import ``preload`` before the audit hook.

        For a harness of ours that loads native code at import (CrossHair: z3 and its tracer),
        which the hook refuses once installed.  Its own workers, so the ordinary ones never
        show that harness to the code under test; the same limits and isolation layers; made
        once per ``preload`` and closed with this executor.
        """
        key = tuple(preload)
        with self._setup_lock:
            found = self._siblings.get(key)
            if found is None:
                found = self._siblings[key] = IsolatedExecutor(
                    self._repo, self._before, self._after, timeout=self._timeout, memory_mb=self._memory_mb,
                    cpu_seconds=self._cpu_seconds, strict=self._strict, preload=key, _layers=self._layers)
                found._notes = self._notes
            return found

    def close(self) -> None:
        """Kill every worker and delete the temporary trees."""
        for sibling in list(self._siblings.values()):
            sibling.close()
        self._siblings.clear()
        _kill_all(self._workers)
        if self._spawner is not None:
            self._spawner.shutdown(wait=False)
            self._spawner = None
        if self._finalizer is not None:
            self._finalizer()
        self._root = None

    def __enter__(self) -> "IsolatedExecutor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _worker_pid(self, side: str) -> int | None:
        worker = self._workers.get(side)
        return None if worker is None else worker.proc.pid

    # -- one call ---------------------------------------------------------------------------

    def _exchange(self, side: str, worker: _Worker, request: dict[str, Any], started: float) -> Outcome:
        answer = self._send(side, worker, request, started)
        return self._outcome(side, worker, answer, time.monotonic() - started)

    def _send(self, side: str, worker: _Worker, request: dict[str, Any], started: float, *,
              cpu_budget: float | None = None) -> dict[str, Any]:
        """One request and its (validated) answer; ``_Died`` when the worker did not answer properly.

        With ``cpu_budget`` (imports) the request may burn that many CPU seconds, and the wall
        clock only stops it at ``_IMPORT_WALL`` times the call timeout: an import that waits for
        the CPU on a loaded machine is not stopped by the load.
        """
        worker.seq += 1
        request.update(seq=worker.seq, token=secrets.token_hex(16))
        try:
            _protocol.write_frame(worker.req, request)
        except OSError as error:
            raise self._reap(side, worker, "protocol", f"could not send the call: {error}") from None
        if cpu_budget is None:
            answer = self._receive(side, worker, started + self._timeout, started, self._timeout)
        else:
            answer = self._receive_within_cpu(side, worker, started, cpu_budget)
        if answer.get("seq") != request["seq"] or answer.get("token") != request["token"]:
            raise self._reap(side, worker, "protocol",
                             f"answer out of order or forged (seq {answer.get('seq')!r}, expected {request['seq']})")
        if worker.reader.pending():
            raise self._reap(side, worker, "protocol", "extra bytes after the answer (a forged frame?)")
        if isinstance(answer.get("cpu"), (int, float)):
            worker.cpu = float(answer["cpu"])
        return answer

    def _receive(self, side: str, worker: _Worker, deadline: float, started: float, limit: float) -> dict[str, Any]:
        try:
            return worker.reader.read(deadline)
        except _protocol.FrameTimeout:
            # What the worker burned in this call tells a busy loop from a wait (or a loaded machine);
            # it reaches the Outcome as ``cpu_seconds``.
            used = self._burned(worker)
            spent = "" if used is None else f" after {used:.1f} s of CPU in this call"
            raise self._reap(side, worker, "timeout", f"no answer within {limit:g} s wall clock{spent}; "
                             "the worker's process group was killed", cpu=used,
                             wall=time.monotonic() - started) from None
        except _protocol.ProtocolError as error:
            return self._raise_exit(side, worker, str(error), time.monotonic() - started)

    @staticmethod
    def _burned(worker: _Worker) -> float | None:
        """CPU seconds the worker's process group used since its last answer; ``None`` if unreadable."""
        total = _group_cpu(worker.proc.pid)
        return None if total is None else max(0.0, total - worker.cpu)

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

    def _raise_exit(self, side: str, worker: _Worker, problem: str, elapsed: float) -> dict[str, Any]:
        try:
            code = worker.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            raise self._reap(side, worker, "protocol", problem) from None
        raise self._reap(side, worker, *_classify(code, worker.cpu + elapsed, self._cpu_seconds, problem))

    def _outcome(self, side: str, worker: _Worker, answer: dict[str, Any], seconds: float) -> Outcome:
        kind = answer.get("kind")
        if kind == "returned":
            try:
                value, args_after = decode(str(answer["value"]).encode()), decode(str(answer["args_after"]).encode())
            except (DecodeError, KeyError) as error:
                raise self._reap(side, worker, "protocol", f"undecodable result: {error}") from None
            if worker.cpu > self._cpu_seconds / 2:
                self._retire(side)
            return Outcome(OutcomeKind.RETURNED, value=value, seconds=seconds,
                           args_after=args_after if isinstance(args_after, tuple) else None, **_figures(answer))
        if kind == "raised":
            return Outcome(OutcomeKind.RAISED, error_type=str(answer.get("error_type", ""))[:300],
                           message=str(answer.get("message", ""))[:500], seconds=seconds, **_figures(answer))
        if kind == "died" and answer.get("reason") in REASONS:
            raise self._reap(side, worker, answer["reason"], str(answer.get("message", ""))[:500])
        raise self._reap(side, worker, "protocol", f"unexpected answer kind {kind!r}")

    def _died(self, side: str, death: _Died, seconds: float) -> Outcome:
        return Outcome(OutcomeKind.DIED, error_type=death.reason, message=death.detail, seconds=seconds,
                       cpu_seconds=death.cpu)

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

    def _reap(self, side: str, worker: _Worker, reason: str, detail: str, cpu: float | None = None,
              wall: float | None = None) -> _Died:
        worker.kill()
        if self._workers.get(side) is worker:
            del self._workers[side]
        tail = _tail(worker.err)
        if reason in ("startup", "exit", "signal", "protocol") and tail:
            detail += f"; stderr: ...{tail}"
        death = _Died(reason, detail, cpu, wall)
        self._last_death[side] = death
        self._deaths.append(f"{side}: {reason}: {detail}")
        return death

    def _retire(self, side: str) -> None:
        worker = self._workers.pop(side, None)
        if worker is not None:
            worker.kill()
            self._starts[side] -= 1

    # -- measured imports -------------------------------------------------------------------

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

    # -- starting workers ---------------------------------------------------------------------

    def _worker(self, side: str) -> _Worker:
        """A live, started-up worker for a call (see ``_start_up``).

        Raises the ``_Died`` of an audit or mutation in a repeated start-up step: that is what
        the code does, and the call that needed the step is where it shows.
        """
        while True:
            worker = self._live(side)
            if not self._preflight(side, worker):
                continue
            death = self._start_up(side, worker)
            if death is None:
                return worker
            if death.reason in _CONDUCT:
                raise death

    def _start_up(self, side: str, worker: _Worker) -> _Died | None:
        """Make a fresh worker what the side's first one was before its calls; the death if it died.

        The side's first worker imports (and measures) the touched modules before serving a call,
        and makes the start-up calls ``warm`` is given.  A worker started later -- after a death,
        or retired for the CPU it had used -- repeats those imports and calls, under the same
        start-up rules, so that its first call does not pay a framework's import on the call's
        clock (a torch import on a loaded machine is not the kernel being slow).  Best effort:
        a step that fails is dropped (one that the wall clock stopped, after a second stop), and
        the call that needs it meets the failure itself, under the rules for its own imports.
        """
        if worker.started:
            return None
        measured = self._imports[side]
        for module in self._touched[side]:
            found = measured.get(module)
            if (module in worker.modules or module in self._pending[side] or self._dropped_step(side, module)
                    or found is None or found.kind is not OutcomeKind.RETURNED):
                continue
            kind = self._replay(side, worker, module, {"op": "import", "module": module})
            if isinstance(kind, _Died):
                return kind
            if kind == "imported":
                worker.modules.add(module)
        for key, request in list(self._warmups[side].items()):
            if key in worker.warmed or self._dropped_step(side, key):
                continue
            kind = self._replay(side, worker, key, dict(request))
            if isinstance(kind, _Died):
                return kind
            if kind == "returned":
                worker.warmed.add(key)
        worker.started = True
        return None

    def _dropped_step(self, side: str, step: str) -> bool:
        return self._dropped[side].get(step, 0) >= 2

    def _replay(self, side: str, worker: _Worker, step: str, request: dict[str, Any]) -> str | _Died:
        """One start-up step in ``worker``: the answer's kind, or the death if the worker died of it."""
        try:
            answer = self._send(side, worker, request, time.monotonic(), cpu_budget=self._timeout)
            kind = str(answer.get("kind"))
            if kind == "died":
                raise self._reap(side, worker, str(answer.get("reason")) if answer.get("reason") in REASONS
                                 else "protocol", str(answer.get("message", ""))[:500])
        except _Died as death:
            self._dropped[side][step] = self._dropped[side].get(step, 0) + (1 if death.wall is not None else 2)
            return death
        if kind not in ("imported", "returned"):
            self._dropped[side][step] = 2  # it raised: repeating it would only raise again
        return kind

    def _live(self, side: str) -> _Worker:
        worker = self._workers.get(side)
        if worker is not None and worker.proc.poll() is None:
            return worker
        if worker is not None:
            code = worker.proc.poll() or 0
            self._reap(side, worker, *_classify(code, worker.cpu, self._cpu_seconds, "between calls"))
        if self._starts[side] >= MAX_STARTS:
            last = self._last_death.get(side, _Died("startup", "unknown"))
            raise _Died(last.reason, f"the {side} worker died {MAX_STARTS} times; not restarting "
                        f"(last death: {last.detail})")
        self._starts[side] += 1
        worker = self._spawn(side)
        self._workers[side] = worker
        return worker

    def _spawn(self, side: str) -> _Worker:
        """A started worker; a start the wall clock stopped (a loaded machine) is tried once more."""
        with self._setup_lock:
            if self._spawner is None:
                self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="selfmod-spawner")
            spawner = self._spawner
        try:
            return spawner.submit(self._start, side).result()
        except _Died as death:
            if death.wall is None:
                raise
            first = death
        try:
            return spawner.submit(self._start, side).result()
        except _Died as death:
            if death.wall is None:
                raise
            raise self._record(side, "startup", _startup.retried_start_text(side, first.detail, death.detail),
                               cpu=death.cpu) from None

    def _start(self, side: str) -> _Worker:
        work = self._prepare(side)
        inside = "bubblewrap" in self._layers
        base = Path(_isolation.INSIDE) if inside else work
        runtime = Path(_isolation.RUNTIME_INSIDE) if inside else self._root / "runtime"
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        config = {"req": req_r, "resp": resp_w, "tree": str(base / "tree"),
                  "protocol": str(runtime / "_protocol.py"), "codec": str(runtime / "_values.py"),
                  "seccomp": "seccomp" in self._layers, "memory_mb": self._memory_mb,
                  "cpu_seconds": self._cpu_seconds,
                  # A bound view is read-only: a write into it is refused by the hook, with its
                  # path, rather than failing alike on both sides as a read-only file system would.
                  "write_roots": [*([] if side in self._views else [str(base / "tree")]),
                                  str(base / "home"), str(base / "tmp")],
                  "lib_prefixes": [sys.prefix, sys.base_prefix], "preload": list(self._preload)}
        view = self._views.get(side)
        layout = _isolation.Layout(work, self._root / "runtime", self._repo, tuple(view.argv()) if view else ())
        argv = _isolation.worker_argv(self._layers, layout, [str(runtime / "_child.py"), _json(config)])
        out, err = work.parent / f"{side}.stdout", work.parent / f"{side}.stderr"
        with open(out, "ab") as stdout, open(err, "ab") as stderr:
            try:
                proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                        pass_fds=(req_r, resp_w), start_new_session=True,
                                        env=_environment(base), cwd=str(work / "tree"))
            except OSError as error:
                for fd in (req_r, req_w, resp_r, resp_w):
                    os.close(fd)
                raise self._record(side, "startup", f"could not start {argv[0]}: {error}") from None
        os.close(req_r)
        os.close(resp_w)
        worker = _Worker(proc, req_w, resp_r, out, err)
        self._handshake(side, worker)
        return worker

    def _handshake(self, side: str, worker: _Worker) -> None:
        limit = max(STARTUP_SECONDS, self._timeout)
        try:
            ready = worker.reader.read(time.monotonic() + limit)
        except _protocol.FrameTimeout:
            used = self._burned(worker)
            cpu = "an unknown amount of" if used is None else f"{used:.1f} s"
            raise self._reap(side, worker, "startup", f"it was not ready after {limit:g} s wall / {cpu} CPU "
                             "(machine loaded?)", cpu=used, wall=limit) from None
        except _protocol.ProtocolError as error:
            raise self._reap(side, worker, "startup", f"the worker never became ready ({error})") from None
        if ready.get("kind") != "ready" or ready.get("seq") != 0:
            raise self._reap(side, worker, "startup", f"bad ready frame {str(ready)[:200]}")
        worker.facts = ready
        if isinstance(ready.get("cpu"), (int, float)):
            worker.cpu = float(ready["cpu"])
        problems = []
        if "seccomp" in self._layers and ready.get("seccomp") != "on":
            problems.append(f"seccomp did not load in the {side} worker: {ready.get('seccomp')}")
        if "uid-drop" in self._layers and ready.get("uid") != _isolation.NOBODY:
            problems.append(f"the {side} worker runs as uid {ready.get('uid')}, not {_isolation.NOBODY}")
        for problem in problems:
            self._warn(problem)
        if problems and self._strict:
            raise self._reap(side, worker, "startup", "strict isolation: " + "; ".join(problems))

    def _warn(self, text: str) -> None:
        if text not in self._warnings:
            self._warnings.append(text)

    def _record(self, side: str, reason: str, detail: str, *, cpu: float | None = None) -> _Died:
        death = _Died(reason, detail, cpu)
        self._last_death[side] = death
        self._deaths.append(f"{side}: {reason}: {detail}")
        return death

    def _prepare(self, side: str) -> Path:
        """The side's private directory (``tree``, ``home``, ``tmp``), made once and reused."""
        with self._setup_lock:
            if self._root is None:
                self._root = Path(tempfile.mkdtemp(prefix="selfmod-workers-"))
                self._finalizer = weakref.finalize(self, _cleanup, self._workers, str(self._root))
                _install_runtime(self._root / "runtime")
        work = self._root / side
        if work.exists():
            return work
        owner = _isolation.NOBODY if "uid-drop" in self._layers else None
        work.mkdir(mode=0o755)
        # Each side is the repository with that side's version of every touched file, so the old
        # side is right even when `repo` is a work tree already at the new revision (`--base`).
        mine, theirs = (self._after, self._before) if side == "new" else (self._before, self._after)
        deleted = frozenset(theirs) - frozenset(mine)
        why_not = _binds.bindable(self._repo, dropped_uid=owner is not None)
        if "bubblewrap" in self._layers and not why_not:
            # The repository bound read-only with this side's files laid over it: no copy.
            (work / "tree").mkdir(mode=0o755)
            self._views[side] = _binds.plan_binds(self._repo, self._root / f"{side}-view",
                                                  f"{_isolation.INSIDE}/tree", mine, deleted)
        else:
            if "bubblewrap" in self._layers:
                self._warn(f"the {side} worker's tree is a copy of the repository: {why_not}")
            _tree.copy_tree(self._repo, work / "tree", mine, deleted, owner=owner)
        _tree.private_dirs(work, owner)
        return work


def _touched_modules(mine: Mapping[str, str], theirs: Mapping[str, str], *, own: bool) -> list[str]:
    """The importable touched modules of one side, in the order its worker imports them.

    Modules on both sides come first, in path order, so that both sides import them in the
    same state (a dependency pulled in by the first is charged to the first on both sides);
    then, if ``own``, those only this side has (the new side's added modules; the old side
    skips its deleted ones, which nothing measures).
    """
    paths = sorted(p for p in mine if p.endswith(".py") and p in theirs)
    paths += sorted(p for p in mine if p.endswith(".py") and p not in theirs) if own else []
    names = (module_name(path) for path in paths)
    return list(dict.fromkeys(n for n in names if all(part.isidentifier() for part in n.split("."))))


def _warm_key(request: Mapping[str, Any]) -> str:
    """A start-up call's identity: its target and encoded inputs (not its sequence number or token)."""
    return "warm " + _json({k: request.get(k) for k in ("target", "args", "kwargs")})


def _figures(answer: Mapping[str, Any]) -> dict[str, Any]:
    """The call's measured resources from a worker's answer; a missing or malformed figure stays ``None``."""
    def number(key: str) -> float | None:
        value = answer.get(key)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < float("inf")
        return float(value) if ok else None

    peak_kb, threads = number("call_peak_kb"), number("threads_left")
    return {"cpu_seconds": number("call_cpu"), "peak_mb": None if peak_kb is None else peak_kb / 1024,
            "threads_left": None if threads is None else int(threads),
            "exact_peak": answer.get("exact_peak") is True, "first_call": answer.get("first_call") is True}


def _group_cpu(pgid: int) -> float | None:
    """CPU seconds used so far by the processes of group ``pgid`` (bubblewrap and the worker in it)."""
    total, found = 0, False
    try:
        entries = [e.name for e in os.scandir("/proc") if e.name.isdigit()]
    except OSError:
        return None
    for pid in entries:
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                fields = stat.read().rpartition(b")")[2].split()
        except OSError:
            continue
        if len(fields) > 12 and fields[2] == str(pgid).encode():
            total, found = total + int(fields[11]) + int(fields[12]), True
    return total / os.sysconf("SC_CLK_TCK") if found else None


def _kill_all(workers: dict[str, _Worker]) -> None:
    for worker in workers.values():
        worker.kill()
    workers.clear()


def _cleanup(workers: dict[str, _Worker], root: str) -> None:
    """Also run when an executor is garbage-collected without ``close()``."""
    _kill_all(workers)
    shutil.rmtree(root, ignore_errors=True)


def _install_runtime(runtime: Path) -> None:
    """Copy the worker's own files where the worker can see them (the live repo is hidden)."""
    import verifiers._values as values

    runtime.mkdir(mode=0o755)
    here = Path(__file__).parent
    for source in (here / "_child.py", here / "_protocol.py", Path(values.__file__)):
        shutil.copyfile(source, runtime / source.name)
        (runtime / source.name).chmod(0o644)
    runtime.parent.chmod(0o755)


def _environment(base: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1", "HOME": str(base / "home"), "TMPDIR": str(base / "tmp")}


def _json(config: dict[str, Any]) -> str:
    import json

    return json.dumps(config)


def _classify(code: int, cpu_used: float, cpu_limit: int, problem: str) -> tuple[str, str]:
    """The death reason for a worker that exited with ``code`` (a ``Popen`` return code)."""
    number = -code if code < 0 else code - 128 if 128 < code < 128 + 65 else 0
    if number:
        name = _signal_name(number)
        if number == signal.SIGXCPU or (number == signal.SIGKILL and cpu_used >= cpu_limit):
            return "cpu", f"killed by {name} after about {cpu_used:.1f} s of CPU (limit {cpu_limit} s)"
        return "signal", f"killed by {name} ({problem})"
    return "exit", f"the worker exited with status {code} without answering ({problem})"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _tail(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, handle.seek(0, os.SEEK_END) - TAIL_BYTES))
            return handle.read().decode(errors="replace").strip()[-500:]
    except OSError:
        return ""
