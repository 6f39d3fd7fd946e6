"""Starting isolated workers: the worker process, its deaths, and how a fresh one is made ready.

``_Worker`` is one live worker process and its pipes, ``_Died`` a worker that did not
answer.  ``_Launcher`` is the part of ``IsolatedExecutor`` that starts workers -- the
private tree, the process under the isolation layers, the ready handshake, and the repeat
of the side's start-up in a fresh worker; the state it works on is the executor's (see
``IsolatedExecutor.__init__``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sandbox._workers import _binds, _isolation, _protocol, _startup, _tree
from verifiers._contract import OutcomeKind

__all__ = ["MAX_STARTS", "REASONS", "SIDES", "STARTUP_SECONDS", "TAIL_BYTES"]

SIDES = ("old", "new")
MAX_STARTS = 20
STARTUP_SECONDS = 30.0
TAIL_BYTES = 2000
# Deaths a worker may report about itself (the others the trusted side observes).
REASONS = frozenset({"memory", "audit", "mutation", "protocol"})
# Deaths that are what the code did, not how long it took: never turned into ``startup``.
_CONDUCT = frozenset({"audit", "mutation"})


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


class _Launcher:
    """``IsolatedExecutor``'s starting of workers (a mixin: the state is the executor's)."""

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
        if self._closing:  # a prestart's start that finished after close began
            worker.kill()
            raise _Died("startup", "the executor was closed while this worker started")
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
    # One at a time: a prestart thread may add its worker while this runs.
    while workers:
        _, worker = workers.popitem()
        worker.kill()


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
