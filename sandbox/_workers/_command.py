"""One shell command (the loop's objective) run on a fresh private copy of the tree, confined.

The worker layers of ``_isolation`` apply as they do to workers: bubblewrap (own network, pid
and ipc namespaces, ``/`` read-only, the live repository and the home directories hidden, uid
65534 when the gate runs as root), else ``unshare --net --pid``; always a scrubbed environment
(no secrets: it is built from nothing, never filtered from ours), rlimits, a wall-clock limit and
a kill of the whole process group. Unlike a worker, a command may start processes (``python
train.py`` is one), so there is no audit hook and no seccomp filter: the namespaces and the
read-only root are the boundary.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sandbox._workers import _isolation, _tree

__all__ = ["CommandResult", "command_argv", "describe", "run_command"]

_TAIL = 64 * 1024
_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What the confined command did: exit status (None: killed at the time limit) and output tails."""

    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    isolation: str

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


def command_argv(layers: tuple[str, ...], layout: _isolation.Layout, command: str) -> list[str]:
    """The command line that runs ``command`` through ``/bin/sh -c`` inside the given layers."""
    shell = ["/bin/sh", "-c", command]
    if "bubblewrap" in layers:
        return _isolation._bwrap(layout, uid_drop="uid-drop" in layers) + shell
    if "unshare" in layers:
        return [shutil.which("unshare") or "unshare", "--net", "--pid", "--fork", "--mount-proc",
                "--kill-child", "--"] + shell
    return shell


def run_command(command: str, repo: Path, *, overlay: Mapping[str, str] | None = None,
                deleted: frozenset[str] = frozenset(), timeout: float = 300.0, memory_mb: int = 4096,
                strict: bool = False, env: Mapping[str, str] | None = None,
                _layers: tuple[str, ...] | None = None) -> CommandResult:
    """Copy ``repo`` (with ``overlay`` written and ``deleted`` removed), run ``command`` in the copy.

    The copy is the working directory and is thrown away afterwards, so nothing the command
    writes survives it. ``env`` adds variables to the scrubbed environment (never ours). ``strict`` refuses to run without bubblewrap (the only layer that
    keeps the live tree out of reach).
    """
    layers, notes = _isolation.detect() if _layers is None else (tuple(_layers), ("layers forced",))
    if strict and "bubblewrap" not in layers:
        from sandbox._workers._executor import IsolationError

        raise IsolationError("strict isolation requested but bubblewrap is unavailable "
                             f"({'; '.join(notes) or 'not detected'}); `apt-get install bubblewrap`, "
                             "or set isolation to non-strict to run the objective with reduced isolation")
    root = Path(tempfile.mkdtemp(prefix="selfmod-objective-"))
    try:
        work = _prepare(root, repo, overlay or {}, deleted, dropped="uid-drop" in layers)
        inside = Path(_isolation.INSIDE) if "bubblewrap" in layers else work
        layout = _isolation.Layout(work, root / "runtime", Path(repo).resolve())
        argv = command_argv(layers, layout, command)
        return _run(argv, work, {**_environment(inside), **(env or {})}, timeout, memory_mb, describe(layers))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def describe(layers: tuple[str, ...]) -> str:
    """The layers a command runs under, in words (seccomp and the audit hook are workers' only)."""
    if "bubblewrap" in layers:
        who = f"uid {_isolation.NOBODY}" if "uid-drop" in layers else f"uid {os.geteuid()}"
        return f"bubblewrap (net/pid/ipc namespaces, / read-only, repo and homes hidden, {who}), rlimits"
    if "unshare" in layers:
        return ("REDUCED: unshare (net/pid namespaces), rlimits only; without bubblewrap the command "
                "can see and write the live tree (`apt-get install bubblewrap`)")
    return "REDUCED: rlimits only; no network namespace and the live tree is reachable"


def _prepare(root: Path, repo: Path, overlay: Mapping[str, str], deleted: frozenset[str], *,
             dropped: bool) -> Path:
    root.chmod(0o755)
    (root / "runtime").mkdir(mode=0o755)
    work = root / "work"
    work.mkdir(mode=0o755)
    owner = _isolation.NOBODY if dropped else None
    _tree.copy_tree(Path(repo), work / "tree", overlay, deleted, owner=owner)
    _tree.private_dirs(work, owner)
    return work


def _environment(base: Path) -> dict[str, str]:
    # The gate's own interpreter first, so `python objective.py` runs in the gate's environment.
    return {"PATH": f"{os.path.dirname(sys.executable)}:/usr/bin:/bin", "LANG": "C.UTF-8",
            "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
            "HOME": str(base / "home"), "TMPDIR": str(base / "tmp")}


def _limits(memory_mb: int, cpu_seconds: int) -> dict[str, int]:
    return {"cpu": cpu_seconds, "as": memory_mb * _MIB, "fsize": 256 * _MIB, "core": 0, "nproc": 512}


def _with_limits(argv: list[str], limits: dict[str, int]) -> tuple[list[str], object]:
    """``argv`` run under ``limits``: through util-linux ``prlimit`` where it exists (no code of ours
    between fork and exec), else a ``preexec_fn`` (which Python warns is unsafe with threads)."""
    prlimit = shutil.which("prlimit")
    if prlimit is not None:
        return [prlimit, *(f"--{name}={value}" for name, value in limits.items()), "--", *argv], None
    names = {"cpu": resource.RLIMIT_CPU, "as": resource.RLIMIT_AS, "fsize": resource.RLIMIT_FSIZE,
             "core": resource.RLIMIT_CORE, "nproc": resource.RLIMIT_NPROC}

    def apply() -> None:
        for name, value in limits.items():
            hard = resource.getrlimit(names[name])[1]
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(names[name], (value, value))
    return argv, apply


def _run(argv: list[str], work: Path, env: dict[str, str], timeout: float, memory_mb: int,
         isolation: str) -> CommandResult:
    out, err = work.parent / "stdout", work.parent / "stderr"
    started = time.monotonic()
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        argv, preexec = _with_limits(argv, _limits(memory_mb, int(timeout) + 1))
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, env=env,
                                cwd=str(work / "tree"), start_new_session=True, preexec_fn=preexec)
        try:
            code: int | None = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            _kill_group(proc)
    return CommandResult(code, _tail(out), _tail(err), time.monotonic() - started, isolation)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill whatever the command left in its process group, then reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()


def _tail(path: Path) -> str:
    with open(path, "rb") as handle:
        handle.seek(max(0, handle.seek(0, os.SEEK_END) - _TAIL))
        return handle.read().decode(errors="replace")
