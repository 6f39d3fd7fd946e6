"""The ``local`` backend: a pool of processes on this machine, one stage job at a time each.

Not ``concurrent.futures.ProcessPoolExecutor``: when one of its processes dies the whole pool
breaks and every pending job fails with it, with no way to tell whose job was lost.  Here each
process has its own pipe, so a death is charged to the one job it was running, that job is
retried on a fresh process (a system failure: the candidate's own code never runs in these
processes, only in the gate's isolated workers below them), and the batch goes on.
"""

from __future__ import annotations

import collections
import os
import pickle
import signal
import subprocess
import sys
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path

from sandbox.batch._stages import StageJob, StageOutcome, run_stage

__all__ = ["LocalBackend", "Lost", "default_workers", "serve"]


def default_workers() -> int:
    """Half the CPUs this process may use, at least 1 and at most 8: each check runs two isolated
    workers of its own (old and new code), so a pool the size of the machine would oversubscribe it."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 2
    return max(1, min(8, cpus // 2))


@dataclass(frozen=True, slots=True)
class Lost:
    """A job whose process was lost ``attempts`` times: a system failure, not a verdict."""

    reason: str
    attempts: int


class _Process:
    """One pool process: ``python -c`` running ``serve`` on two pipes of its own.

    Started with ``subprocess``, not ``multiprocessing``: the spawn method re-runs the caller's
    main module in every child, which breaks any script without an ``if __name__ == "__main__"``
    guard; fork would copy the locks of the parent's threads (the gate's, Ray's) mid-use.
    """

    def __init__(self) -> None:
        jobs_in, jobs_out = os.pipe()
        results_in, results_out = os.pipe()
        root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))}
        self.popen = subprocess.Popen(
            [sys.executable, "-c", f"from sandbox.batch._local import serve; serve({jobs_in}, {results_out})"],
            pass_fds=(jobs_in, results_out), stdin=subprocess.DEVNULL, stdout=sys.__stderr__ or subprocess.DEVNULL,
            env=env, start_new_session=True)
        os.close(jobs_in)
        os.close(results_out)
        self.send = Connection(jobs_out, readable=False)
        self.receive = Connection(results_in, writable=False)
        self.sentinel = os.pidfd_open(self.popen.pid)
        self.job: StageJob | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, wait_s: float = 5.0) -> None:
        """Wait up to ``wait_s`` for the process to end, then kill it."""
        try:
            self.popen.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()

    def close(self) -> None:
        for channel in (self.send, self.receive):
            channel.close()
        self.stop()
        os.close(self.sentinel)


class LocalBackend:
    """``workers`` processes (default ``default_workers()``); a lost job is retried ``max_retries`` times."""

    name = "local"

    def __init__(self, workers: int | None = None, *, max_retries: int = 3) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.capacity = workers or default_workers()
        self.max_retries = max_retries
        self._pool: list[_Process] = []
        self._queue: collections.deque[StageJob] = collections.deque()
        self._attempts: dict[tuple[int, int], int] = {}

    def __enter__(self) -> "LocalBackend":
        self._pool = [_Process() for _ in range(self.capacity)]
        return self

    def __exit__(self, *exc: object) -> None:
        for worker in self._pool:
            worker.close()  # the closed pipe is the signal to stop
        self._pool = []

    def worker_pids(self) -> tuple[int, ...]:
        """The pool's processes (a test kills one to show a lost job is retried)."""
        return tuple(w.pid for w in self._pool)

    def busy(self) -> tuple[tuple[int, StageJob], ...]:
        """The pool's processes that hold a job now, with the job."""
        return tuple((w.pid, w.job) for w in self._pool if w.job is not None)

    def submit(self, job: StageJob) -> None:
        self._queue.append(job)
        self._dispatch()

    def next(self) -> tuple[StageJob, StageOutcome | Lost, int]:
        """Block until a job ends: its outcome (or ``Lost``) and how many attempts it took."""
        while True:
            busy = [w for w in self._pool if w.job is not None]
            if not busy:
                raise RuntimeError("LocalBackend.next() with no job submitted")
            ready = set(wait([w.receive for w in busy] + [w.sentinel for w in busy]))
            for worker in busy:
                if worker.receive in ready or worker.sentinel in ready:
                    ended = self._collect(worker)
                    if ended is not None:
                        return ended

    def _collect(self, worker: _Process) -> tuple[StageJob, StageOutcome | Lost, int] | None:
        job = worker.job
        assert job is not None
        key = (job.index, job.stage)
        try:
            if worker.receive.poll():
                outcome = worker.receive.recv()
                worker.job = None
                self._dispatch()
                return job, outcome, self._attempts.pop(key, 0) + 1
            if worker.alive():
                return None
        except (EOFError, OSError, pickle.UnpicklingError):
            # The pipe closed or carried garbage: the process is dying, or must not go on.
            worker.stop()
        return self._lost(worker, job, key)

    def _lost(self, worker: _Process, job: StageJob, key: tuple[int, int]) -> tuple[StageJob, Lost, int] | None:
        reason = _death(worker)
        self._replace(worker)
        attempts = self._attempts.get(key, 0) + 1
        if attempts > self.max_retries:
            self._attempts.pop(key, None)
            self._dispatch()
            return job, Lost(reason, attempts), attempts
        self._attempts[key] = attempts
        self._queue.appendleft(job)
        self._dispatch()
        return None

    def _replace(self, dead: _Process) -> None:
        dead.close()
        self._pool[self._pool.index(dead)] = _Process()

    def _dispatch(self) -> None:
        for worker in self._pool:
            if not self._queue:
                return
            if worker.job is None:
                worker.job = self._queue.popleft()
                try:
                    worker.send.send(worker.job)
                except OSError:
                    pass  # the process just died: next() sees its sentinel and retries the job


def _death(worker: _Process) -> str:
    code = worker.popen.returncode
    how = f"signal {signal.Signals(-code).name}" if code is not None and code < 0 else f"exit status {code}"
    return f"the pool process (pid {worker.pid}) checking it died with {how}"


def serve(jobs: int, results: int) -> None:
    """The pool process's loop: a job in, its ``StageOutcome`` out, until the parent closes the pipe."""
    receive, send = Connection(jobs, writable=False), Connection(results, readable=False)
    while True:
        try:
            job = receive.recv()
        except EOFError:
            return
        send.send(run_stage(job))
