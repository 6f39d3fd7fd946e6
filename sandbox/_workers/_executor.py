"""The trusted side: sends calls to the workers and turns whatever comes back into an ``Outcome``.

``IsolatedExecutor`` holds the state; two mixins hold the rest of its methods:
``_launch._Launcher`` starts the workers (and ``_launch`` holds the worker process
itself), ``_imports._Importer`` makes the imports and start-up calls, judged as start-up.
"""

from __future__ import annotations

import secrets
import subprocess
import threading
import time
import weakref
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from properties import module_name
from sandbox._errors import GateError
from sandbox._workers import _binds, _isolation, _protocol, _startup
from sandbox._workers._imports import _Importer
from sandbox._workers._launch import (REASONS, SIDES, _classify, _Died, _group_cpu, _json, _kill_all, _Launcher,
                                      _tail, _Worker)
from verifiers._contract import Outcome, OutcomeKind
from verifiers._values import DecodeError, decode, encode
from verifiers.importable import ImportMeasurement

__all__ = ["IsolatedExecutor", "IsolationError", "isolation_layers"]


class IsolationError(GateError):
    """Strict isolation was requested but is unavailable, or a worker cannot start."""


def isolation_layers() -> tuple[str, ...]:
    """The isolation layers detected on this machine, e.g. ``("bubblewrap", "uid-drop", ...)``."""
    return _isolation.detect()[0]


class IsolatedExecutor(_Importer, _Launcher):
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
        # The layers are probed (subprocesses, a tenth of a second) in the background while the
        # check parses, scans and proves, and settled when a worker first starts; strict isolation
        # needs the answer now, to refuse before anything runs.
        self._known: tuple[tuple[str, ...], tuple[str, ...]] | None = None
        if _layers is not None:
            self._known = (tuple(_layers), ("layers forced by the caller",))
        elif strict:
            self._known = _isolation.detect()
        else:
            _isolation.prefetch()
        missing = [name for name in ("bubblewrap", "seccomp") if name not in self._layers] if strict else []
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
        # ``prestart``'s threads, and whether ``close`` has begun (a worker a prestart finishes
        # starting after that is killed at once, never kept).
        self._prestarts: list[threading.Thread] = []
        self._closing = False

    # -- public surface -------------------------------------------------------------------

    def prestart(self) -> None:
        """Start both sides' workers now, in the background, so the first call finds them ready.

        The start (bubblewrap, the interpreter, the measured imports of the touched modules) is
        exactly the one the first call would make, with the same budgets, under the side's lock,
        so a call waits for it rather than racing it; a death is recorded as that call's start
        would record it, and the call then starts the worker afresh as it always does.  It
        overlaps the start-up with the gate's static and symbolic work instead of adding to it.
        """
        if self._prestarts or self._closing:
            return
        self._prestarts = [threading.Thread(target=self._prestart, args=(side,), name=f"selfmod-prestart-{side}",
                                            daemon=True) for side in SIDES]
        for thread in self._prestarts:
            thread.start()

    def _prestart(self, side: str) -> None:
        with self._side_locks[side]:
            if self._closing:
                return
            try:
                self._worker(side)
            except _Died:
                pass  # recorded by the start; the call that needs this side meets it again
            except Exception as error:  # noqa: BLE001 - a background start must never take the gate down
                self._warn(f"the {side} worker could not be started ahead of its first call: {error!r}")

    @property
    def _layers(self) -> tuple[str, ...]:
        return self._detected()[0]

    @property
    def _notes(self) -> tuple[str, ...]:
        return self._detected()[1]

    def _detected(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        if self._known is None:
            self._known = _isolation.detect()
        return self._known

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
                found._known = (self._layers, self._notes)
            return found

    def close(self) -> None:
        """Kill every worker and delete the temporary trees."""
        self._closing = True
        for sibling in list(self._siblings.values()):
            sibling.close()
        self._siblings.clear()
        _kill_all(self._workers)  # a prestart waiting on its worker's answer sees it die and ends
        for thread in self._prestarts:
            thread.join(timeout=30)
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
