"""Kernels compared in every run-time mode, at two thread counts, jit and eager; device branches; start-up deaths.

One repository holds every kernel (``m.py`` torch, ``j.py`` jax), so one pair of real
workers serves the module.  The start-up and timeout rules are tested with executors
that fake or rewrite what the workers report.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from properties import Kernel
from tests.verifiers.kernel_support import check_kernel, kernel_workers
from verifiers import Level, Outcome, OutcomeKind
from verifiers.numeric import _checks, _devices, _frameworks, _modes

GELU = "0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))"
NAMES = ["grad_off", "inference_on", "inference_tensor", "one_thread", "many_threads", "cuda_flag", "cuda_helper",
         "device_used", "lean_no_grad", "grad_penalty"]

OLD = "import math\nimport torch\nimport torch.nn.functional as F\n\n\n" + "".join(
    f"def {name}(x: torch.Tensor) -> torch.Tensor:\n    return {GELU}\n\n\n" for name in NAMES[:-1]) + '''
def grad_penalty(x: torch.Tensor) -> torch.Tensor:
    with torch.enable_grad():
        y = x.detach().requires_grad_(True)
        (g,) = torch.autograd.grad((y ** 3).sum(), y)
    return g
'''

NEW = '''
import math
import torch
import torch.nn.functional as F


def _exact(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def grad_off(x: torch.Tensor) -> torch.Tensor:
    if not torch.is_grad_enabled():
        return F.gelu(x, approximate="tanh")
    return F.gelu(x)


def inference_on(x: torch.Tensor) -> torch.Tensor:
    if torch.is_inference_mode_enabled():
        return x * torch.sigmoid(1.702 * x)
    return F.gelu(x)


def inference_tensor(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x) * (1.001 if x.is_inference() else 1.0)


def one_thread(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x, approximate="tanh") if torch.get_num_threads() == 1 else F.gelu(x)


def many_threads(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x, approximate="tanh") if torch.get_num_threads() >= 4 else F.gelu(x)


def cuda_flag(x: torch.Tensor) -> torch.Tensor:
    if x.is_cuda:
        return F.gelu(x, approximate="tanh")
    return F.gelu(x)


def _fast_path_available():
    return torch.cuda.is_available()


def cuda_helper(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x, approximate="tanh") if _fast_path_available() else F.gelu(x)


def device_used(x: torch.Tensor) -> torch.Tensor:
    half = torch.full_like(x, 0.5, device=x.device)
    return half * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def lean_no_grad(x: torch.Tensor) -> torch.Tensor:
    if torch.is_grad_enabled():
        inner = torch.erf(x / math.sqrt(2.0))
        return 0.5 * x * (1.0 + inner)
    return F.gelu(x)


def grad_penalty(x: torch.Tensor) -> torch.Tensor:
    with torch.enable_grad():
        leaf = x.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(leaf.pow(3).sum(), leaf)
    return g
'''

JAX_HEAD = "import math\nimport jax\nimport jax.numpy as jnp\n\n\n"
JAX_OLD = JAX_HEAD + '''
def traced(x: jax.Array) -> jax.Array:
    return jnp.tanh(x) * 2.0


def where(x: jax.Array) -> jax.Array:
    return jnp.where(x > 0, x, 0.1 * x)


def python_if(x: jax.Array) -> jax.Array:
    if float(x.sum()) > 0:
        return x * 2.0
    return x
'''
JAX_NEW = JAX_HEAD + '''
def traced(x: jax.Array) -> jax.Array:
    if isinstance(x, jax.core.Tracer):
        return jnp.tanh(x) * 2.001
    return jnp.tanh(x) * 2.0


def where(x: jax.Array) -> jax.Array:
    return jnp.maximum(x, 0.1 * x)


def python_if(x: jax.Array) -> jax.Array:
    if float(x.sum()) > 0:
        return x + x
    return x
'''

BEFORE = {"m.py": OLD, "j.py": textwrap.dedent(JAX_OLD)}
AFTER = {"m.py": textwrap.dedent(NEW), "j.py": textwrap.dedent(JAX_NEW)}
# The jit mode alone (gradients are traced too), at one shape: eager jax compiles every primitive per shape.
FORWARD = Kernel("", grad=False, make_inputs=lambda rng: {"x": (4, 8)})
ONE_SHAPE = Kernel("", make_inputs=lambda rng: {"x": (4, 8)})


@pytest.fixture(scope="module")
def executor(tmp_path_factory):
    with kernel_workers(tmp_path_factory.mktemp("modes_repo"), BEFORE, AFTER) as ex:
        yield ex


def check(executor, target: str, spec: Kernel | None = None):
    return check_kernel(executor, BEFORE, AFTER, target, spec)


@pytest.mark.parametrize("target, words, call", [
    ("m.grad_off", "under torch.no_grad()", "mode=no_grad"),
    ("m.inference_on", "under torch.inference_mode()", "mode=inference_mode"),
    ("m.inference_tensor", "under torch.inference_mode()", "mode=inference_mode"),
    ("m.many_threads", "at 4 intra-op threads", "threads=4"),
])
def test_a_kernel_that_asks_how_it_is_called_is_refuted_in_that_mode(executor, target, words, call):
    evidence = check(executor, target)
    assert evidence.level is Level.REFUTED, evidence.detail
    assert f"[{_checks.MODES}]" in evidence.detail and words in evidence.detail
    assert evidence.counterexample is not None and call in evidence.counterexample.call


def test_a_kernel_that_asks_for_one_thread_is_refuted(executor):
    evidence = check(executor, "m.one_thread")
    assert evidence.level is Level.REFUTED, evidence.detail
    # On a one-core machine the worker's default is already one thread and the plain call catches it.
    assert "threads=1" in evidence.detail or f"[{_checks.MODES}]" not in evidence.detail


def test_the_modes_and_thread_counts_are_reported(executor):
    evidence = check(executor, "m.lean_no_grad")
    assert evidence.level is Level.PASSED, evidence.detail
    line = next(x for x in evidence.detail.splitlines() if x.startswith("modes:"))
    assert line.startswith("modes: default, no_grad, inference_mode: ") and "float32" in line
    assert line.endswith(": default at 1 and 4 intra-op threads; no_grad at 1 and 4 intra-op threads; "
                         "inference_mode at 1 and 4 intra-op threads")
    assert int(line.split(": ")[2].split()[0]) >= 3 * 2  # every mode on at least two cases
    assert "ran on: old cpu; new cpu" in evidence.detail


def test_a_kernel_the_old_code_cannot_run_in_inference_mode_skips_that_mode_with_a_note(executor):
    evidence = check(executor, "m.grad_penalty")
    assert evidence.level is Level.PASSED, evidence.detail
    assert "mode run(s) skipped because the old kernel raised in that mode too" in evidence.detail
    assert "torch.inference_mode()" in evidence.detail and "does not require grad" in evidence.detail


@pytest.mark.parametrize("target, definition, text", [
    ("m.cuda_flag", "cuda_flag", "`x.is_cuda`"),
    ("m.cuda_helper", "_fast_path_available", "`torch.cuda.is_available()`"),
])
def test_a_device_branch_this_machine_cannot_take_is_unknown_with_where(executor, target, definition, text):
    evidence = check(executor, target, ONE_SHAPE)
    assert evidence.level is Level.UNKNOWN, evidence.detail
    first = evidence.detail.splitlines()[0]
    assert f"the CUDA path of {definition} (line " in first and text in first
    assert "was never executed here" in first and "make gpu-check" in first
    assert "no numeric difference" in evidence.detail  # what did run is kept


def test_using_the_input_device_is_no_branch(executor):
    evidence = check(executor, "m.device_used", ONE_SHAPE)
    assert evidence.level is Level.PASSED, evidence.detail


@pytest.mark.slow
def test_jax_traced_and_eager_are_compared(executor):
    refuted = check(executor, "j.traced", FORWARD)
    assert refuted.level is Level.REFUTED, refuted.detail
    assert f"[{_checks.MODES}] under jax.jit" in refuted.detail and "mode=jit" in refuted.detail
    passed = check(executor, "j.where", FORWARD)
    assert passed.level is Level.PASSED, passed.detail
    assert "modes: eager, jit (threads not varied" in passed.detail
    assert any(line.startswith("modes: ") and line.endswith(": jit") for line in passed.detail.splitlines())


def test_a_jax_kernel_the_old_code_cannot_jit_skips_jit_with_a_note(executor):
    evidence = check(executor, "j.python_if", FORWARD)
    assert evidence.level is Level.PASSED, evidence.detail
    assert "skipped because the old kernel raised in that mode too" in evidence.detail and "jax.jit" in evidence.detail


# -- device branches, from source alone -----------------------------------------------------------

@pytest.mark.parametrize("test, kind", [
    ("x.device.type == 'cuda'", "CUDA"), ("x.device == torch.device('mps')", "MPS"), ("str(x.device) != 'cpu'", "GPU"),
    ("torch.backends.mps.is_available()", "MPS"), ("jax.default_backend() == 'gpu'", "GPU"),
    ("len(jax.devices('gpu')) > 0", "GPU"), ("x.is_cuda", "CUDA"),
])
def test_device_tests_are_found_and_named(test, kind):
    text = f"def f(x):\n    if {test}:\n        return x\n    return -x\n"
    found = _devices.branches("new", text, "f")
    assert [(b.line, b.device) for b in found] == [(2, kind)]
    assert _devices.unreached(found, ["cpu"]) == found
    assert _devices.unreached(found, ["cpu", {"MPS": "mps"}.get(kind, "cuda")]) == []


def test_plain_device_uses_are_not_device_tests():
    text = "def f(x):\n    y = torch.zeros(3, device=x.device).to(x.device)\n    return x.cpu() + y\n"
    assert _devices.branches("new", text, "f") == []


# -- start-up and timeouts: fake and rewritten executors ------------------------------------------

class _DiesInPrepare:
    """An executor whose workers die in ``prepare``: every time, or only the first time."""

    isolation = "fake"

    def __init__(self, times: int = 99) -> None:
        self.times, self.calls = times, []

    def call(self, side, target, args, kwargs, *, receiver=None):
        self.calls.append((side, target.rpartition(":")[2]))
        prepares = sum(1 for s, f in self.calls if s == side and f == "prepare")
        if target.endswith(":prepare") and prepares <= self.times:
            return Outcome(OutcomeKind.DIED, error_type="timeout", seconds=12.5,
                           message="no answer within 10 s wall clock; still importing torch")
        if target.endswith(":prepare"):
            return Outcome(OutcomeKind.RETURNED, {"pid": side, "versions": {}, "devices": ["cpu"]})
        return Outcome(OutcomeKind.RAISED, error_type="RuntimeError", message="fake executor: no kernel here")


class _WarmDies(_DiesInPrepare):
    def warm(self, side, target, args, kwargs):
        self.calls.append((side, "warm"))
        return Outcome(OutcomeKind.DIED, error_type="startup", seconds=31.0, message="importing torch took 31 s")


def test_a_death_while_preparing_is_retried_once_then_unknown_never_refuted():
    fake = _DiesInPrepare()
    evidence = check(fake, "m.grad_off")
    assert evidence.level is Level.UNKNOWN, evidence.detail
    assert "the worker could not start: preparing torch" in evidence.detail and "took 12.5 s" in evidence.detail
    assert "not a verdict on the patch" in evidence.detail
    assert fake.calls.count(("new", "prepare")) == 2 or fake.calls.count(("old", "prepare")) == 2


def test_a_death_while_preparing_that_a_retry_cures_goes_on():
    fake = _DiesInPrepare(times=1)
    evidence = check(fake, "m.grad_off")
    assert "could not start" not in evidence.detail
    assert fake.calls.count(("old", "prepare")) == 2 and fake.calls.count(("new", "prepare")) == 2
    assert ("old", "run") in fake.calls


def test_prepare_goes_through_warm_when_the_executor_has_it():
    fake = _WarmDies()
    evidence = check(fake, "m.grad_off")
    assert evidence.level is Level.UNKNOWN and "could not start" in evidence.detail, evidence.detail
    assert "startup: importing torch took 31 s" in evidence.detail
    assert not any(f == "prepare" for _, f in fake.calls)


class _NewTimesOut:
    """Real workers, except that the new side's third ``run`` call is reported as a timeout after 8 s."""

    def __init__(self, real, old_seconds: float | None) -> None:
        self.real, self.old_seconds, self.runs = real, old_seconds, 0
        self.isolation = real.isolation

    def call(self, side, target, args, kwargs, *, receiver=None):
        if side == "new" and target.endswith(":run"):
            self.runs += 1
            if self.runs == 3:
                return Outcome(OutcomeKind.DIED, error_type="timeout", seconds=8.0, message="no answer within 8 s")
        outcome = self.real.call(side, target, args, kwargs)
        if side == "old" and self.old_seconds is not None and target.endswith(":run"):
            return dataclasses.replace(outcome, seconds=self.old_seconds)
        return outcome


@pytest.mark.slow
def test_a_call_timeout_is_refuted_only_when_the_old_side_was_well_within_the_limit(executor):
    quick = check(_NewTimesOut(executor, None), "m.device_used", ONE_SHAPE)
    assert quick.level is Level.REFUTED, quick.detail
    assert "after 8.0 s, where the old kernel finished the same call in" in quick.detail
    slow = check(_NewTimesOut(executor, 3.0), "m.device_used", ONE_SHAPE)
    assert slow.level is Level.UNKNOWN, slow.detail
    assert "the old kernel took 3.00 s, more than a quarter of that" in slow.detail
    assert "a loaded machine cannot be ruled out" in slow.detail


def test_variants_cover_every_mode_at_both_thread_counts_in_two_cases():
    combos = {(v.mode, v.threads) for n in (0, 1) for v in _modes.variants("torch", n)}
    assert combos == {(m, t) for m in ("default", "no_grad", "inference_mode") for t in (1, 4)}
    assert [v.mode for v in _modes.variants("jax", 0)] == ["jit"]


def test_the_trusted_side_names_the_modes_the_worker_enters():
    assert (_modes.BASE["torch"], *_modes.EXTRA["torch"]) == _frameworks.TORCH_MODES
    assert (_modes.BASE["jax"], *_modes.EXTRA["jax"]) == _frameworks.JAX_MODES


# -- make gpu-check --------------------------------------------------------------------------------

@pytest.mark.slow
def test_gpu_check_skips_cleanly_without_a_gpu():
    probe = "import torch; print(torch.cuda.is_available())"
    if subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip() == "True":
        pytest.skip("a GPU is present: `make gpu-check` would run (minutes), not skip")
    script = Path(__file__).resolve().parents[2] / "scripts" / "gpu_check.py"
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gpu-check: skipped: no CUDA GPU here"), done.stdout
    assert "torch.cuda.is_available() -> False" in lines[0] and "make gpu-check" in lines[0]
    assert "Traceback" not in done.stderr
