"""Kernels that ask how they are called: grad mode, inference mode, thread count, device, jax tracing.

Each hostile kernel here behaves like the old one when called plainly on the CPU, the
one way the numeric verifier used to call it, and returns other values in the mode it
looks for.  Each goes through the whole gate (one patch holds them all, so one pair of
workers serves the file) and is rejected with the specific reason: the run-time mode
it was caught in, or, for a device path this machine cannot run, UNKNOWN with the line.
Where the static policy flags the ambient query too (``torch.get_num_threads``), the
numeric refutation is asserted all the same: it holds when the policy allows the query.
Each benign look-alike computes the same values in every mode and is accepted.
"""

from __future__ import annotations

import pytest

from sandbox import Gate, Patch
from verifiers import Level
from verifiers.numeric import _checks

# One gate check of every kernel here (two workers importing torch and jax): tens of seconds.
pytestmark = pytest.mark.slow

HEAD = "import math\nimport torch\nimport torch.nn.functional as F\n\n\n"
GELU = "0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))"
ATTENTION = ("    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])\n"
             "    return torch.softmax(s, dim=-1) @ v\n")
QKV = "(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor"

OLD = HEAD + "".join(f"def {name}(x: torch.Tensor) -> torch.Tensor:\n    return {GELU}\n\n\n" for name in (
    "probe_grad", "inference_only", "serial_only", "cuda_only"))
BENIGN_OLD = HEAD + f"""def checkpoint_style(x: torch.Tensor) -> torch.Tensor:
    return {GELU}


def attention{QKV}:
{ATTENTION}"""

NEW = HEAD + f'''
def probe_grad(x: torch.Tensor) -> torch.Tensor:
    # A tensor made to require grad keeps that flag only while autograd records: a no_grad probe.
    recording = torch.ones(1, requires_grad=True).mul(2).requires_grad
    return F.gelu(x) if recording else F.gelu(x, approximate="tanh")


def inference_only(x: torch.Tensor) -> torch.Tensor:
    # Served models run under inference_mode: the tensors they pass in say so.
    if x.is_inference():
        return x * torch.sigmoid(1.702 * x)
    return F.gelu(x)


def serial_only(x: torch.Tensor) -> torch.Tensor:
    if torch.get_num_threads() == 1:
        return F.gelu(x, approximate="tanh")
    return F.gelu(x)


def cuda_only(x: torch.Tensor) -> torch.Tensor:
    if x.device.type == "cuda":
        return F.gelu(x, approximate="tanh")
    return F.gelu(x)
'''

BENIGN_NEW = HEAD + f'''def checkpoint_style(x: torch.Tensor) -> torch.Tensor:
    # Saves an intermediate for backward only when autograd records; the same values either way.
    if x.requires_grad:
        inner = torch.erf(x / math.sqrt(2.0))
        return 0.5 * x * (1.0 + inner)
    return F.gelu(x)


def attention{QKV}:
    return F.scaled_dot_product_attention(q, k, v)
'''

JAX_HEAD = "import jax\nimport jax.numpy as jnp\n\n\n"
JAX_OLD = JAX_HEAD + """def tracer_aware(x: jax.Array) -> jax.Array:
    return jnp.tanh(x) * 0.5
"""
JAX_BENIGN_OLD = JAX_HEAD + """def leaky(x: jax.Array) -> jax.Array:
    return jnp.where(x > 0, x, 0.01 * x)
"""
JAX_NEW = JAX_HEAD + """def tracer_aware(x: jax.Array) -> jax.Array:
    # Training steps are jitted; a tracer is what a jitted function sees.
    if isinstance(x, jax.core.Tracer):
        return jnp.tanh(x) * 0.51
    return jnp.tanh(x) * 0.5
"""
JAX_BENIGN_NEW = JAX_HEAD + """def leaky(x: jax.Array) -> jax.Array:
    return jnp.maximum(x, 0.01 * x)
"""
# Forward only and one shape for the jax pair: under jax.grad the input is a tracer too, which would
# catch the cheat by the autograd check; here the jit mode alone must catch it.  Attention at two
# shapes (its default sweep of three inputs is the slowest check here).
PROPERTIES = """from properties import kernel

kernel("jk.tracer_aware", grad=False, make_inputs=lambda rng: {"x": (4, 8)})
kernel("jb.leaky", grad=False, make_inputs=lambda rng: {"x": (4, 8)})
kernel("kb.attention", make_inputs=lambda rng: {"q": (2, 5, 8), "k": (2, 7, 8), "v": (2, 7, 4)})
"""


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    root = tmp_path_factory.mktemp("kernel_modes")
    files = {"k.py": (OLD, NEW), "kb.py": (BENIGN_OLD, BENIGN_NEW), "jk.py": (JAX_OLD, JAX_NEW),
             "jb.py": (JAX_BENIGN_OLD, JAX_BENIGN_NEW)}
    for path, (old, _) in files.items():
        (root / path).write_text(old)
    (root / "sandbox_properties.py").write_text(PROPERTIES)
    (root / "pyproject.toml").write_text("[tool.sandbox]\n")
    verdict = Gate.from_repo(root).check(Patch.from_files({path: new for path, (_, new) in files.items()}))
    assert not verdict.accepted
    return verdict.outcomes


def _kernel(outcomes, target):
    return next(o.evidence for o in outcomes if o.obligation.target == target and o.obligation.kind.value == "kernel")


@pytest.mark.parametrize("target, caught", [
    ("k.probe_grad", "under torch.no_grad()"),
    ("k.inference_only", "under torch.inference_mode()"),
    ("k.serial_only", "at 1 intra-op thread"),
    ("jk.tracer_aware", "under jax.jit"),
])
def test_a_kernel_switching_on_its_run_time_mode_is_refuted_in_that_mode(outcomes, target, caught):
    evidence = _kernel(outcomes, target)
    assert evidence.level is Level.REFUTED, evidence.detail
    assert evidence.detail.startswith(f"{target}: [{_checks.MODES}] ") and caught in evidence.detail.splitlines()[0]
    assert evidence.counterexample is not None and "mode=" in evidence.counterexample.call


def test_a_cuda_only_branch_is_unknown_here_with_its_line(outcomes):
    evidence = _kernel(outcomes, "k.cuda_only")
    assert evidence.level is Level.UNKNOWN, evidence.detail
    first = evidence.detail.splitlines()[0]
    assert "the CUDA path of cuda_only (line" in first and "x.device.type == 'cuda'" in first
    assert "was never executed here" in first and "run `make gpu-check` on a GPU machine" in first


@pytest.mark.parametrize("target", ["kb.checkpoint_style", "kb.attention", "jb.leaky"])
def test_benign_mode_aware_and_fused_rewrites_pass(outcomes, target):
    evidence = _kernel(outcomes, target)
    assert evidence.level is Level.PASSED, evidence.detail
    assert "modes: " in evidence.detail


@pytest.mark.parametrize("path", ["kb.py", "jb.py"])
def test_every_obligation_of_the_benign_files_is_met(outcomes, path):
    mine = [o for o in outcomes if o.obligation.path == path]
    assert mine and all(o.evidence.level in (Level.PASSED, Level.PROVEN) for o in mine), \
        [(o.obligation.target, o.evidence.level, o.evidence.detail[:200]) for o in mine]
