"""Which confinement layers this machine offers, and the command that applies them.

Layers, strongest first: ``bubblewrap`` (namespaces, read-only ``/``, hidden repo
and home directories), ``uid-drop`` (root only: ``setpriv`` to uid 65534 inside
bubblewrap, which is what makes ``RLIMIT_NPROC`` bite), ``unshare`` (net/pid
namespaces when bubblewrap is missing), ``seccomp`` (pyseccomp over libseccomp,
loaded by the worker), ``rlimits`` and ``audit-hook`` (always).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

__all__ = ["INSIDE", "NOBODY", "Layout", "detect", "describe", "prefetch", "worker_argv"]

NOBODY = 65534
INSIDE = "/tmp/sbx"          # where the worker's private directory appears under bubblewrap
RUNTIME_INSIDE = "/tmp/sbx-rt"
ALWAYS = ("rlimits", "audit-hook")
HIDDEN_HOMES = ("/root", "/home")
_SECCOMP_PROBE = "import pyseccomp as s; s.SyscallFilter(defaction=s.ALLOW)"


@dataclass(frozen=True)
class Layout:
    """Host paths of one worker: its private directory (``tree``, ``home``, ``tmp``) and runtime."""

    work: Path
    runtime: Path
    repo: Path
    # bubblewrap arguments that lay the repository over ``tree`` instead of a copy (``_binds``).
    view: tuple[str, ...] = ()


def worker_argv(layers: tuple[str, ...], layout: Layout, script_args: list[str]) -> list[str]:
    """The full command line for a worker given the layers in force."""
    python = [sys.executable, "-s", "-P", *script_args]
    if "bubblewrap" in layers:
        return _bwrap(layout, uid_drop="uid-drop" in layers) + python
    if "unshare" in layers:
        return [shutil.which("unshare") or "unshare", "--net", "--pid", "--fork", "--mount-proc",
                "--kill-child", "--"] + python
    return python


def _bwrap(layout: Layout, *, uid_drop: bool) -> list[str]:
    root = os.geteuid() == 0
    ns = (["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
          if root else ["--unshare-all"])
    argv = [shutil.which("bwrap") or "bwrap", *ns, "--die-with-parent", "--ro-bind", "/", "/",
            "--dev", "/dev", "--proc", "/proc", "--perms", "1777", "--tmpfs", "/tmp"]
    hidden = [h for h in (*HIDDEN_HOMES, str(layout.repo.resolve())) if os.path.isdir(h)]
    for path in hidden:
        argv += ["--tmpfs", path]
    for keep in _interpreter_dirs():
        argv += _traversable_parents(keep, ["/tmp", *hidden]) + ["--ro-bind", keep, keep]
    argv += ["--bind", str(layout.work), INSIDE, *layout.view, "--ro-bind", str(layout.runtime), RUNTIME_INSIDE,
             "--chdir", f"{INSIDE}/tree", "--"]
    if uid_drop:
        argv += [shutil.which("setpriv") or "setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
                 "--clear-groups", "--no-new-privs"]
    return argv


def _traversable_parents(path: str, tmpfs_roots: list[str]) -> list[str]:
    """``--dir`` the parents of ``path`` that live on one of our tmpfs mounts, mode 0755.

    bubblewrap creates missing parents of a bind mount with mode 0700, which the
    unprivileged uid cannot traverse: the interpreter under ``/root`` would silently be
    replaced by whatever ``/usr`` holds, and the venv's packages would vanish.
    """
    argv: list[str] = []
    parts = path.strip("/").split("/")
    for depth in range(1, len(parts)):
        parent = "/" + "/".join(parts[:depth])
        if any(parent.startswith(root + "/") for root in tmpfs_roots):
            argv += ["--perms", "0755", "--dir", parent]
    return argv


def _interpreter_dirs() -> list[str]:
    dirs = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix),
            os.path.dirname(os.path.realpath(sys.executable)), *_own_packages()}
    return sorted(d for d in dirs if os.path.isdir(d))


def _own_packages() -> list[str]:
    """Our packages' directories, for harnesses workers import (e.g. the numeric one).

    An editable install leaves them in the source checkout, which may sit under a
    directory the sandbox hides (``/tmp``, a home directory); only the package
    directories themselves are bound, read-only, never the checkout around them.
    """
    found = []
    for name in ("sandbox", "properties", "verifiers", "models"):
        # Found, not imported: importing ``models`` would load the SDK-facing code for nothing.
        module = sys.modules.get(name)
        spec = None if module is not None else importlib.util.find_spec(name)
        paths = getattr(module, "__path__", None) if module is not None else (
            spec.submodule_search_locations if spec is not None else None)
        found += [os.path.realpath(path) for path in paths or ()]
    return found


_DETECTING = threading.Lock()


def detect() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(layers, notes)``: the layers that work here, and why any is missing (probed once a process)."""
    with _DETECTING:  # a caller arriving while ``prefetch``'s probe runs waits for its answer
        return _detect()


def prefetch() -> None:
    """Start ``detect`` in the background: its probes are subprocesses, so they overlap the parsing
    and scanning a check does first instead of adding to it (a tenth of a second per ``sandbox check``)."""
    if _detect.cache_info().currsize == 0:
        threading.Thread(target=detect, name="isolation-probe", daemon=True).start()


@functools.lru_cache(maxsize=1)
def _detect() -> tuple[tuple[str, ...], tuple[str, ...]]:
    layers: list[str] = []
    notes: list[str] = []
    if _bwrap_works(notes):
        layers.append("bubblewrap")
        if os.geteuid() == 0:
            layers.append("uid-drop")
    elif _unshare_works():
        layers.append("unshare")
    if _probe([sys.executable, "-s", "-P", "-c", _SECCOMP_PROBE]):
        layers.append("seccomp")
    else:
        notes.append("no seccomp: `pip install pyseccomp` and `apt-get install libseccomp2`")
    return (*layers, *ALWAYS), tuple(notes)


def _bwrap_works(notes: list[str]) -> bool:
    if shutil.which("bwrap") is None:
        notes.append("no bubblewrap: `apt-get install bubblewrap`")
        return False
    uid_drop = os.geteuid() == 0
    if uid_drop and shutil.which("setpriv") is None:
        notes.append("bubblewrap unused: running as root and `setpriv` (util-linux) is missing")
        return False
    probe = Path(os.environ.get("TMPDIR", "/tmp"))
    layout = Layout(probe, probe, Path("/nonexistent-repo"))
    argv = _bwrap(layout, uid_drop=uid_drop)
    argv[argv.index("--chdir") + 1] = "/"
    result = _probe(argv + [sys.executable, "-s", "-P", "-c", "import sys"], report=True)
    if result is not True:
        notes.append(f"bubblewrap present but a worker could not start in it "
                     f"(interpreter {sys.executable} unreachable by uid {NOBODY}?): {result}")
        return False
    return True


def _unshare_works() -> bool:
    unshare = shutil.which("unshare")
    return unshare is not None and _probe([unshare, "--net", "--pid", "--fork", "--mount-proc", "true"]) is True


def _probe(argv: list[str], *, report: bool = False) -> bool | str:
    try:
        done = subprocess.run(argv, capture_output=True, timeout=20, env=_probe_env(), check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return str(error) if report else False
    if done.returncode == 0:
        return True
    return done.stderr.decode(errors="replace").strip()[-300:] if report else False


def _probe_env() -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def describe(layers: tuple[str, ...], notes: tuple[str, ...], warnings: tuple[str, ...] = ()) -> str:
    """A one-line summary for the report, with any reduction spelled out."""
    parts = []
    if "bubblewrap" in layers:
        who = f"uid {NOBODY}" if "uid-drop" in layers else f"uid {os.geteuid()}"
        parts.append(f"bubblewrap (net/pid/ipc namespaces, / read-only, repo and homes hidden, {who})")
    elif "unshare" in layers:
        parts.append("unshare (net/pid namespaces)")
    parts += [name for name in ("seccomp", "rlimits", "audit-hook") if name in layers]
    text = ", ".join(parts)
    if "bubblewrap" not in layers or "seccomp" not in layers:
        missing = [n for n in ("bubblewrap", "seccomp") if n not in layers]
        text = f"REDUCED: no {' or '.join(missing)}; {text} only"
        if os.geteuid() == 0 and "bubblewrap" not in layers:
            text += " (workers run as root, RLIMIT_NPROC not enforced)"
    extra = [*notes, *warnings]
    return text + (f" [{'; '.join(extra)}]" if extra else "")
