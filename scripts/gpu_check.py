"""``make gpu-check``: the kernel comparisons of the demos and of the tests, both sides on a CUDA GPU.

On a CPU-only machine the numeric verifier leaves every kernel with a device branch
UNKNOWN ("the CUDA path ... was never executed here").  This script is where those
paths run: on a machine with a GPU it checks the kernel patches of
``examples/04_kernels`` and the kernels of the mode and red-team tests through the
gate, old and new on the CPU and on CUDA against the float64 oracle, and prints per
kernel the device each side ran on and the verdict.  Files with a device test are
checked a second time with CUDA hidden from the workers, so that a branch on
``torch.cuda.is_available()`` is taken both ways.  Sized to finish in under five
minutes on one GPU machine (not yet timed on one: with ``--without-gpu`` on a 2-core CPU
loaded four times over it took 8 minutes).

The gate's isolated workers cannot reach a GPU (bubblewrap mounts a fresh ``/dev``
without ``/dev/nvidia*`` and the address-space limit is below what CUDA reserves), so
here each side runs in a plain worker process of its own: the code checked is this
project's own demos and tests, not an untrusted patch (and since they measure no
imports, only the kernel obligations are judged).  Where no GPU is present
(``torch.cuda.is_available()`` false in a fresh interpreter; this process never
imports torch) it prints why it skips and exits 0.  It exits 1 if a demo's kernel
verdict is not the expected one.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox import Gate, Patch  # noqa: E402
from verifiers import Outcome, OutcomeKind  # noqa: E402

__all__ = ["main"]

DEMO = ROOT / "examples" / "04_kernels"
# The demo's expected verdicts (examples/04_kernels/demo.py): True = accepted.
DEMO_EXPECTED = {"01_fused_gelu.diff": True, "02_cached_output.diff": False, "03_bf16_internal.diff": False,
                 "04_adam_fused.diff": True, "05_adam_bias_correction_frozen.diff": False}
_PROBE = "import torch; print(torch.cuda.is_available() and torch.cuda.device_count() > 0)"

# Runs in each plain worker: length-prefixed pickles in and out; prints go to stderr.
_SERVER = r"""
import importlib, pickle, struct, sys, time
sys.path[:0] = [sys.argv[1], sys.argv[2]]
inp, out = sys.stdin.buffer, sys.stdout.buffer
sys.stdout = sys.stderr
while True:
    head = inp.read(8)
    if len(head) < 8:
        break
    target, args, kwargs = pickle.loads(inp.read(struct.unpack("<Q", head)[0]))
    module, _, name = target.partition(":")
    started = time.perf_counter()
    try:
        value, kind = getattr(importlib.import_module(module), name)(*args, **kwargs), "returned"
    except BaseException as error:
        value, kind = (f"{type(error).__module__}.{type(error).__qualname__}", str(error)[:400]), "raised"
    blob = pickle.dumps((kind, value, time.perf_counter() - started))
    out.write(struct.pack("<Q", len(blob)) + blob)
    out.flush()
"""


class _PlainWorkers:
    """One plain worker process per side over a copy of the repository with that side's files."""

    isolation = "plain worker processes (gpu-check: the project's own kernels, on the GPU)"

    def __init__(self, root: Path, before: Mapping[str, str], after: Mapping[str, str], env: dict[str, str]) -> None:
        self._scratch = Path(tempfile.mkdtemp(prefix="gpu-check-"))
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._locks = {"old": threading.Lock(), "new": threading.Lock()}
        self.deaths: list[str] = []
        for side, files in (("old", before), ("new", after)):
            tree = self._scratch / side
            shutil.copytree(root, tree, ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__", ".sandbox"))
            for path, text in files.items():
                (tree / path).parent.mkdir(parents=True, exist_ok=True)
                (tree / path).write_text(text)
            self._procs[side] = subprocess.Popen([sys.executable, "-c", _SERVER, str(tree), str(ROOT)],
                                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=tree, env=env)

    def call(self, side: str, target: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], *,
             receiver: Any = None) -> Outcome:
        proc = self._procs[side]
        if receiver is not None:  # only the numeric harness runs here, and it takes no receiver
            return Outcome(OutcomeKind.RAISED, error_type="NotImplementedError",
                           message="gpu-check's plain workers run plain functions only")
        with self._locks[side]:
            started = time.perf_counter()
            try:
                blob = pickle.dumps((target, tuple(args), dict(kwargs)))
                proc.stdin.write(struct.pack("<Q", len(blob)) + blob)  # type: ignore[union-attr]
                proc.stdin.flush()  # type: ignore[union-attr]
                head = proc.stdout.read(8)  # type: ignore[union-attr]
                kind, value, seconds = pickle.loads(proc.stdout.read(struct.unpack("<Q", head)[0]))  # type: ignore[union-attr]
            except (OSError, struct.error, EOFError, pickle.UnpicklingError) as error:
                self.deaths.append(f"{side}: {error}")
                return Outcome(OutcomeKind.DIED, error_type="exit", message=f"the plain worker died: {error}",
                               seconds=time.perf_counter() - started)
        if kind == "raised":
            return Outcome(OutcomeKind.RAISED, error_type=value[0], message=value[1], seconds=seconds)
        return Outcome(OutcomeKind.RETURNED, value, seconds=seconds)

    def close(self) -> None:
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.stdin.close()  # type: ignore[union-attr]
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        shutil.rmtree(self._scratch, ignore_errors=True)


class _GpuGate(Gate):
    """The gate, its workers replaced by plain ones that can reach the GPU (``env`` hides it when asked)."""

    env: dict[str, str] = {}

    @contextlib.contextmanager
    def _executor(self, obligations: Any, before: dict[str, str], after: dict[str, str]) -> Iterator[Any]:
        workers = _PlainWorkers(self.worker_tree, before, after, self.env)
        try:
            yield workers
        finally:
            workers.close()


def gpu_present(timeout: float = 180.0) -> tuple[bool, str]:
    """Whether a fresh interpreter sees a CUDA GPU through torch, and what it said."""
    try:
        done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as error:
        return False, f"probing torch failed: {error}"
    lines = done.stdout.strip().splitlines() or done.stderr.strip().splitlines() or ["no output"]
    said = lines[-1]
    return done.returncode == 0 and said == "True", f"torch.cuda.is_available() -> {said}"


def _suites() -> list[tuple[str, dict[str, str], dict[str, str], dict[str, str]]]:
    """(name, old files, new files, extra files of the repository) for each test repository checked."""
    from tests.redteam import test_kernel_modes as redteam
    from tests.verifiers import test_numeric_modes as modes

    return [
        ("tests/verifiers/test_numeric_modes.py", dict(modes.BEFORE), dict(modes.AFTER), {}),
        ("tests/redteam/test_kernel_modes.py",
         {"k.py": redteam.OLD, "kb.py": redteam.BENIGN_OLD, "jk.py": redteam.JAX_OLD, "jb.py": redteam.JAX_BENIGN_OLD},
         {"k.py": redteam.NEW, "kb.py": redteam.BENIGN_NEW, "jk.py": redteam.JAX_NEW, "jb.py": redteam.JAX_BENIGN_NEW},
         {"sandbox_properties.py": redteam.PROPERTIES}),
    ]


def _ran(detail: str) -> str:
    for line in detail.splitlines():
        if line.startswith("ran on: "):
            return line.removeprefix("ran on: ")
    found = detail.split(" device=")
    return f"old and new on {found[1].split()[0]}" if len(found) > 1 else "-"


def _report(label: str, verdict: Any, out: TextIO) -> None:
    for judgement in verdict.outcomes:
        if judgement.obligation.kind.value != "kernel":
            continue
        evidence = judgement.evidence
        print(f"  {label:<9} {judgement.obligation.target:<28} {evidence.level.value:<8} {_ran(evidence.detail)}",
              file=out)
        if evidence.level.value not in ("PASSED", "PROVEN"):
            print(f"  {'':<9} {'':<28} {evidence.detail.splitlines()[0][:220]}", file=out)


def _kernels_pass(verdict: Any) -> bool:
    """Every kernel obligation PASSED (the plain workers measure no imports, so other obligations are not judged)."""
    kernels = [o.evidence.level.value for o in verdict.outcomes if o.obligation.kind.value == "kernel"]
    return bool(kernels) and all(level == "PASSED" for level in kernels)


def _check(root: Path, patch: Patch, env: dict[str, str]) -> Any:
    gate = _GpuGate.from_repo(root)
    gate.env = env
    return gate.check(patch)


def _passes(before: Mapping[str, str], after: dict[str, str]) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    """The GPU pass over every file, and a pass with CUDA hidden over the files whose kernels test for a device."""
    from verifiers.numeric import _devices

    env = dict(os.environ)
    tested = {path: text for path, text in after.items()
              if any(_devices.branches("new", text, name) or _devices.branches("old", before.get(path, ""), name)
                     for name in _definitions(text))}
    hidden = [("cpu-only", {**env, "CUDA_VISIBLE_DEVICES": ""}, tested)] if tested else []
    return [("gpu", env, after), *hidden]


def _definitions(text: str) -> list[str]:
    import ast

    try:
        return [n.name for n in ast.parse(text).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    except SyntaxError:
        return []


def main(argv: list[str] | None = None, stdout: TextIO = sys.stdout) -> int:
    """Run the GPU check; 0 when it passed or skipped, 1 when a demo's verdict was not the expected one."""
    args = list(sys.argv[1:] if argv is None else argv)
    # --without-gpu: run everything on the CPU alone, to try this script where no GPU is.
    present, said = (True, "--without-gpu: CPU only") if "--without-gpu" in args else gpu_present()
    if not present:
        print(f"gpu-check: skipped: no CUDA GPU here ({said}); the CUDA paths of kernels stay UNKNOWN on this "
              "machine. Run `make gpu-check` on a machine with an NVIDIA GPU and a CUDA build of torch.", file=stdout)
        return 0
    started, wrong = time.perf_counter(), []
    print(f"gpu-check: {said}; old and new run on every device the workers see, against the float64 oracle",
          file=stdout)
    print(f"  {'pass':<9} {'kernel':<28} {'verdict':<8} devices each side ran on", file=stdout)
    for name, accepted in DEMO_EXPECTED.items():
        patch = Patch.from_diff((DEMO / "patches" / name).read_text(), name=name)
        print(f"demo {name} (expected {'accepted' if accepted else 'rejected'})", file=stdout)
        verdict = _check(DEMO / "repo", patch, dict(os.environ))
        _report("gpu", verdict, stdout)
        if _kernels_pass(verdict) != accepted:
            wrong.append(name)
    for name, before, after, extra in _suites():
        print(name, file=stdout)
        with tempfile.TemporaryDirectory() as scratch:
            root = Path(scratch)
            for path, text in {**before, **extra, "pyproject.toml": "[tool.sandbox]\n"}.items():
                (root / path).write_text(text)
            for label, env, files in _passes(before, after):
                _report(label, _check(root, Patch.from_files(files), env), stdout)
    print(f"gpu-check: done in {time.perf_counter() - started:.0f} s; demo verdicts not as expected: "
          f"{', '.join(wrong) or 'none'}", file=stdout)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
