"""The numeric verifier against real isolated workers: safe rewrites pass, unsafe ones are refuted by name.

One repository holds every kernel: the old ``model.py``/``jmodel.py`` define the
reference version under each name, the new ones the rewrite under test, so one
pair of workers (torch and jax imported once) serves the whole module.
"""

from __future__ import annotations

import sys
import textwrap

import numpy as np
import pytest

from properties import Kernel, Kind, Obligation, kernel
from tests.verifiers.kernel_support import check_kernel, kernel_workers
from verifiers import Context, Level
from verifiers.numeric import KernelComparator
import verifiers.numeric as numeric

OLD_TORCH = '''
import math
import torch
import torch.nn as nn
import torch.nn.functional as F


def _gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def _softmax(x):
    m = x.max(dim=-1, keepdim=True).values
    e = torch.exp(x - m)
    return e / e.sum(dim=-1, keepdim=True)


def _layer_norm(x, weight, bias, eps):
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def gelu(x: torch.Tensor) -> torch.Tensor:
    return _gelu(x)


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    return _gelu(x)


def gelu_bf16(x: torch.Tensor) -> torch.Tensor:
    return _gelu(x)


def gelu_cached(x: torch.Tensor) -> torch.Tensor:
    return _gelu(x)


def gelu_global(x: torch.Tensor) -> torch.Tensor:
    return _gelu(x)


def gelu_inplace(x: torch.Tensor) -> torch.Tensor:
    return _gelu(x)


def gelu_flaky(x: torch.Tensor) -> torch.Tensor:
    return _gelu(x)


def gelu_write(x: torch.Tensor) -> torch.Tensor:
    return _gelu(x)


def detach_copy(x: torch.Tensor) -> torch.Tensor:
    return x.clone()


def gelu_autograd(x: torch.Tensor) -> torch.Tensor:
    return _gelu(x)


def gelu_grad_gated(x: torch.Tensor) -> torch.Tensor:
    return _gelu(x)


def gelu_into_buffer(x: torch.Tensor) -> torch.Tensor:
    return _gelu(x)


def doubled_t(x: torch.Tensor) -> torch.Tensor:
    return (x * 2).transpose(-1, -2).contiguous()


def rms_norm(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * weight


def rms_norm_eps_outside(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * weight


def gelu_matmul_precision(x: torch.Tensor) -> torch.Tensor:
    return _gelu(x)


def gelu_rewind(x: torch.Tensor) -> torch.Tensor:
    return _gelu(x)


def gelu_dropout(x: torch.Tensor, p: float = 0.1) -> torch.Tensor:
    return F.dropout(_gelu(x), p)


def softmax(x: torch.Tensor) -> torch.Tensor:
    return _softmax(x)


def softmax_naive(x: torch.Tensor) -> torch.Tensor:
    return _softmax(x)


def softmax_axis(x: torch.Tensor) -> torch.Tensor:
    return _softmax(x)


def layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    return _layer_norm(x, weight, bias, eps)


def layer_norm_no_eps(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    return _layer_norm(x, weight, bias, eps)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return _softmax(scores) @ v


def masked_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return _softmax(scores.masked_fill(~mask, float("-inf"))) @ v


def reduce_dim(x: torch.Tensor, dim: int) -> torch.Tensor:
    return x.sum(dim)


def fused_2d(x: torch.Tensor) -> torch.Tensor:
    return torch.log1p(x.abs())


def square_only(x: torch.Tensor) -> torch.Tensor:
    if x.shape[-1] != 3 or x.shape[-2] != 3:
        raise ValueError("3x3 only")
    return x @ x


class Norm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _layer_norm(x, self.weight, self.bias, self.eps)


class NormNoEps(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _layer_norm(x, self.weight, self.bias, self.eps)
'''

NEW_TORCH = '''
import math
import torch
import torch.nn as nn
import torch.nn.functional as F

_CACHE = {}
_LAST = []
_CALLS = []


def _gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def _softmax(x):
    m = x.max(dim=-1, keepdim=True).values
    e = torch.exp(x - m)
    return e / e.sum(dim=-1, keepdim=True)


def _layer_norm(x, weight, bias, eps):
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


def gelu(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x)


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x, approximate="tanh")


def gelu_bf16(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x.to(torch.bfloat16)).to(x.dtype)


def gelu_cached(x: torch.Tensor) -> torch.Tensor:
    key = (tuple(x.shape), x.dtype)
    if key not in _CACHE:
        _CACHE[key] = F.gelu(x)
    return _CACHE[key].clone()  # fresh memory, stale values


def gelu_global(x: torch.Tensor) -> torch.Tensor:
    if not _LAST or _LAST[0].shape != x.shape:
        _LAST[:] = [F.gelu(x)]
    return _LAST[0]


def gelu_inplace(x: torch.Tensor) -> torch.Tensor:
    return x.mul_(0.5 * (1.0 + torch.erf(x / math.sqrt(2.0))))


def gelu_flaky(x: torch.Tensor) -> torch.Tensor:
    _CALLS.append(1)
    return F.gelu(x) * (1.0 + 1e-3 * (len(_CALLS) % 2))


def gelu_write(x: torch.Tensor) -> torch.Tensor:
    open("/etc/numeric_test_owned", "w")
    return F.gelu(x)


def detach_copy(x: torch.Tensor) -> torch.Tensor:
    return x


def gelu_autograd(x: torch.Tensor) -> torch.Tensor:
    out = F.gelu(x)
    if x.requires_grad:  # another forward exactly when training: the gradient is unchanged
        return out + 1e-2
    return out


class _GatedGelu(torch.autograd.Function):
    """Right forward; a backward that drops the gradient where |x| > 50 (a "saturated" shortcut)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return F.gelu(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        slope = 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0))) + x * torch.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
        return g * slope * (x.abs() < 50)


def gelu_grad_gated(x: torch.Tensor) -> torch.Tensor:
    return _GatedGelu.apply(x)


_BUFFERS = {}


def gelu_into_buffer(x: torch.Tensor) -> torch.Tensor:
    # "Saves allocations": every call writes into one buffer per shape, which the caller still holds.
    out = _BUFFERS.setdefault((tuple(x.shape), x.dtype), torch.empty_like(x))
    return out.copy_(F.gelu(x))


def doubled_t(x: torch.Tensor) -> torch.Tensor:
    return (x * 2).transpose(-1, -2)


def rms_norm(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return weight * (x / torch.sqrt(torch.mean(x * x, dim=-1, keepdim=True) + 1e-6))


def rms_norm_eps_outside(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return x / (x.pow(2).mean(-1, keepdim=True).sqrt() + 1e-6) * weight


def gelu_matmul_precision(x: torch.Tensor) -> torch.Tensor:
    torch.set_float32_matmul_precision("medium")  # "faster": every later matmul of training in bf16
    return F.gelu(x)


def gelu_rewind(x: torch.Tensor) -> torch.Tensor:
    torch.manual_seed(torch.initial_seed())  # rewinds the training run's random stream
    return F.gelu(x)


def gelu_dropout(x: torch.Tensor, p: float = 0.1) -> torch.Tensor:
    return F.dropout(F.gelu(x), p)


def softmax(x: torch.Tensor) -> torch.Tensor:
    return torch.exp(x - torch.logsumexp(x, dim=-1, keepdim=True))


def softmax_naive(x: torch.Tensor) -> torch.Tensor:
    e = torch.exp(x)
    return e / e.sum(dim=-1, keepdim=True)


def softmax_axis(x: torch.Tensor) -> torch.Tensor:
    return torch.softmax(x, dim=0)


def layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    return F.layer_norm(x, x.shape[-1:], weight, bias, eps)


def layer_norm_no_eps(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    return _layer_norm(x, weight, bias, 0.0)


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return F.scaled_dot_product_attention(q, k, v)


def masked_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


def reduce_dim(x: torch.Tensor, dim: int) -> torch.Tensor:
    return x.sum(dim)


def fused_2d(x: torch.Tensor) -> torch.Tensor:
    if x.ndim > 2:
        raise RuntimeError("the fused kernel handles 2-D inputs only")
    return torch.log1p(x.abs())


def square_only(x: torch.Tensor) -> torch.Tensor:
    return x @ x


class Norm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, x.shape[-1:], self.weight, self.bias, self.eps)


class NormNoEps(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _layer_norm(x, self.weight, self.bias, 0.0)
'''

OLD_JAX = '''
import math
import jax
import jax.numpy as jnp


def gelu(x: jax.Array) -> jax.Array:
    return 0.5 * x * (1.0 + jax.scipy.special.erf(x / math.sqrt(2.0)))


def gelu_tanh(x: jax.Array) -> jax.Array:
    return 0.5 * x * (1.0 + jax.scipy.special.erf(x / math.sqrt(2.0)))


def softmax(x: jax.Array) -> jax.Array:
    e = jnp.exp(x - jnp.max(x, axis=-1, keepdims=True))
    return e / jnp.sum(e, axis=-1, keepdims=True)


def gelu_traced(x: jax.Array) -> jax.Array:
    return 0.5 * x * (1.0 + jax.scipy.special.erf(x / math.sqrt(2.0)))
'''

NEW_JAX = '''
import jax
import jax.numpy as jnp


def gelu(x: jax.Array) -> jax.Array:
    return jax.nn.gelu(x, approximate=False)


def gelu_tanh(x: jax.Array) -> jax.Array:
    return jax.nn.gelu(x, approximate=True)


def softmax(x: jax.Array) -> jax.Array:
    return jax.nn.softmax(x, axis=-1)


def gelu_traced(x: jax.Array) -> jax.Array:
    out = jax.nn.gelu(x, approximate=False)
    if isinstance(x, jax.core.Tracer):  # another forward exactly under jax.grad
        return out + 1e-2
    return out
'''

BEFORE = {"model.py": textwrap.dedent(OLD_TORCH), "jmodel.py": textwrap.dedent(OLD_JAX)}
AFTER = {"model.py": textwrap.dedent(NEW_TORCH), "jmodel.py": textwrap.dedent(NEW_JAX)}


@pytest.fixture(scope="module")
def executor(tmp_path_factory):
    with kernel_workers(tmp_path_factory.mktemp("numeric_repo"), BEFORE, AFTER) as ex:
        yield ex


def check(executor, target: str, spec: Kernel | None = None, seed: int = 0):
    return check_kernel(executor, BEFORE, AFTER, target, spec, seed)


def test_public_surface():
    assert numeric.__all__ == ["KernelComparator"]


def test_the_trusted_side_never_imports_torch_or_jax():
    import subprocess

    code = ("import sys, verifiers.numeric, verifiers.numeric._verifier; "
            "print(sorted(m for m in ('torch', 'jax') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# At a size-1 normalised dim d/dx is exactly 0 in the oracle and F.layer_norm's backward leaves
# rounding noise; the gradient floor is relative to the kernel's gradient scale over all cases.
@pytest.mark.parametrize("target", ["model.gelu", "model.softmax", "model.layer_norm", "model.attention",
                                    "model.rms_norm",
                                    "jmodel.gelu", "jmodel.softmax", "model.Norm.forward"])
def test_safe_rewrites_pass_with_statistics(executor, target):
    evidence = check(executor, target)
    assert evidence.level is Level.PASSED, evidence.detail
    assert "worst ratio to bound" in evidence.detail and "devices cpu" in evidence.detail
    assert "gradient d/d" in evidence.detail
    assert "transposed" in evidence.detail or target.startswith("jmodel")


def test_a_random_kernel_draws_the_same_numbers_in_old_and_new(executor):
    # Dropout in both: the generators are seeded alike before every call, so this is comparable.
    evidence = check(executor, "model.gelu_dropout")
    assert evidence.level is Level.PASSED, evidence.detail


def test_gelu_passes_in_bfloat16_too(executor):
    evidence = check(executor, "model.gelu", kernel("model.gelu", dtypes=("float32", "bfloat16")))
    assert evidence.level is Level.PASSED, evidence.detail
    assert "[bfloat16]" in evidence.detail and "[float32]" in evidence.detail


def test_make_inputs_with_a_boolean_mask(executor):
    def make(rng):
        mask = rng.random((2, 5, 5)) < 0.7
        mask[..., 0] = True
        return {"q": (2, 5, 8), "k": (2, 5, 8), "v": (2, 5, 8), "mask": mask}

    evidence = check(executor, "model.masked_attention", kernel("model.masked_attention", make_inputs=make))
    assert evidence.level is Level.PASSED, evidence.detail


@pytest.mark.parametrize(("target", "check_name", "statistic"), [
    ("model.gelu_tanh", "calibrated error bound", "exceeds the bound"),
    ("jmodel.gelu_tanh", "calibrated error bound", "exceeds the bound"),
    ("model.gelu_bf16", "calibrated error bound", "exceeds the bound"),
    ("model.softmax_axis", "calibrated error bound", "exceeds the bound"),
    ("model.softmax_naive", "NaN/Inf placement", "large-magnitude inputs"),
    ("model.layer_norm_no_eps", "NaN/Inf placement", "non-finite"),
    ("model.NormNoEps.forward", "calibrated error bound", "exceeds the bound"),
    ("model.gelu_cached", "output dtype and shape", "gradients differ"),  # a stale output has no gradient
    ("model.gelu_inplace", "input mutation", "in place"),
    ("model.gelu_grad_gated", "calibrated error bound", "gradient d/dx"),  # only |x| > 50 shows it
    ("model.rms_norm_eps_outside", "calibrated error bound", "small-magnitude"),  # eps matters at |x| ~ 1e-3
    ("model.gelu_into_buffer", "output memory reused across calls", "preallocated"),
    ("model.gelu_matmul_precision", "process-wide settings (precision, RNG, modes)", "float32_matmul_precision"),
    ("model.gelu_rewind", "process-wide settings (precision, RNG, modes)", "torch random state"),
    ("model.detach_copy", "output aliasing inputs", "shares memory"),
    ("model.gelu_flaky", "determinism (same input twice)", "second call"),
])
def test_unsafe_rewrites_are_refuted_by_name(executor, target, check_name, statistic):
    evidence = check(executor, target)
    assert evidence.level is Level.REFUTED, evidence.detail
    assert f"[{check_name}]" in evidence.detail and statistic in evidence.detail
    assert evidence.counterexample is not None and "dtype=float32 device=cpu" in evidence.counterexample.call


@pytest.mark.parametrize(("target", "check_name", "words"), [
    ("model.gelu_cached", "cached results (fresh inputs per call)", "stale"),  # a copy of an earlier result
    ("model.gelu_global", "output memory reused across calls", "cached result"),  # the earlier result itself
])
def test_cached_outputs_are_refuted_by_the_named_check_forward_only(executor, target, check_name, words):
    evidence = check(executor, target, kernel(target, grad=False))
    assert evidence.level is Level.REFUTED, evidence.detail
    assert f"[{check_name}]" in evidence.detail and words in evidence.detail


@pytest.mark.parametrize("target", ["model.gelu_autograd", "jmodel.gelu_traced"])
def test_a_forward_that_changes_when_autograd_is_on_is_refuted(executor, target):
    # The plain forward and the gradient are both right; only the training-time forward is not.
    evidence = check(executor, target)
    assert evidence.level is Level.REFUTED, evidence.detail
    assert "[same forward with autograd on]" in evidence.detail and "with autograd on" in evidence.detail
    forward_only = check(executor, target, kernel(target, grad=False))
    if target.startswith("jmodel"):
        # A tracer is what jax.jit passes too: without gradients the jit mode catches it.
        assert forward_only.level is Level.REFUTED, forward_only.detail
        assert "[same values in every run-time mode and thread count] under jax.jit" in forward_only.detail
    else:
        # Forward only, the comparison never makes inputs that require grad: the branch the patch adds
        # on x.requires_grad never ran, so this is not PASSED (the coverage of new conditions says why).
        assert forward_only.level is Level.UNKNOWN, forward_only.detail
        assert "the condition `x.requires_grad` (line" in forward_only.detail and "was never true" in forward_only.detail


def test_a_strided_output_passes_with_a_note(executor):
    # Loud downstream (.view raises), and legitimate for fused kernels: a note, not a failure.
    evidence = check(executor, "model.doubled_t")
    assert evidence.level is Level.PASSED, evidence.detail
    assert "note: output out is not contiguous" in evidence.detail


def test_the_refutation_names_old_and_new_error(executor):
    evidence = check(executor, "model.gelu_tanh")
    assert "RMSE old" in evidence.detail and "16 x (old error" in evidence.detail
    assert evidence.counterexample.old.startswith("max abs error")


def test_layer_norm_passes_off_size_1_dims_and_strict_is_tighter(executor):
    make = lambda rng: [{"x": (4, 9), "weight": rng.standard_normal(9), "bias": rng.standard_normal(9)},  # noqa: E731
                        {"x": (2, 3, 16), "weight": (16,), "bias": (16,)}]
    default = check(executor, "model.layer_norm", kernel("model.layer_norm", make_inputs=make))
    strict = check(executor, "model.layer_norm", kernel("model.layer_norm", make_inputs=make, preset="strict"))
    assert default.level is Level.PASSED, default.detail
    assert "bound = 2 x (old error + 1-ulp input sensitivity) + 4 ulps" in strict.detail


def test_same_seed_same_answer(executor):
    a, b = check(executor, "model.gelu_tanh", seed=3), check(executor, "model.gelu_tanh", seed=3)
    assert a.level is b.level is Level.REFUTED and a.detail == b.detail


def test_a_scalar_parameter_without_inputs_is_unknown_with_the_fix(executor):
    evidence = check(executor, "model.reduce_dim")
    assert evidence.level is Level.UNKNOWN and "make_inputs" in evidence.detail


def test_make_inputs_gives_the_scalar(executor):
    spec = kernel("model.reduce_dim", make_inputs=lambda rng: {"x": (3, 4), "dim": 1})
    assert check(executor, "model.reduce_dim", spec).level is Level.PASSED


def test_inputs_outside_the_old_domain_are_skipped_and_then_unknown(executor):
    evidence = check(executor, "model.square_only")
    assert evidence.level is Level.UNKNOWN and "ValueError" in evidence.detail and "make_inputs" in evidence.detail


def test_make_inputs_in_the_old_domain_pass(executor):
    spec = kernel("model.square_only", make_inputs=lambda rng: [{"x": (3, 3)}, {"x": rng.standard_normal((2, 3, 3))}])
    evidence = check(executor, "model.square_only", spec)
    assert evidence.level is Level.PASSED, evidence.detail


def test_a_new_kernel_raising_where_the_old_returned_is_refuted(executor):
    evidence = check(executor, "model.fused_2d")
    assert evidence.level is Level.REFUTED and "raised builtins.RuntimeError" in evidence.detail
    assert "x: float[5, 1, 9]" in evidence.counterexample.call


def test_without_an_executor_it_is_unknown():
    obligation = Obligation("model.gelu", Kind.KERNEL, "model.py", "", ("numeric",), "def gelu(x): ...",
                            "def gelu(x): ...", module="model")
    evidence = KernelComparator().check(obligation, Context(before={}, after={}))
    assert evidence.level is Level.UNKNOWN and "executor" in evidence.detail


def test_other_obligation_kinds_are_unknown(executor):
    obligation = Obligation("model.gelu", Kind.EQUIVALENT, "model.py", "", ("numeric",), "x", "y", module="model")
    assert KernelComparator().check(obligation, Context(before={}, after={}, executor=executor)).level \
        is Level.UNKNOWN


@pytest.mark.slow
def test_a_new_kernel_writing_outside_the_sandbox_is_a_violation(executor):
    evidence = check(executor, "model.gelu_write")
    assert evidence.level is Level.VIOLATION, evidence.detail
    assert "audit" in evidence.detail
    assert check(executor, "model.gelu").level is Level.PASSED  # the next check gets a fresh worker


def test_tolerance_is_calibrated_not_fixed():
    from verifiers.numeric._tolerance import compare

    oracle = np.array([1.0, 2.0, 4.0])
    loose_old = oracle + 1e-3
    stat = compare("out", "float32", 2.0 ** -23, oracle, loose_old, oracle + 1e-2, 16.0, 64.0)
    assert stat.ok and stat.bound == pytest.approx(16e-3 + 64 * 2.0 ** -23 * 4.0)
    exact_old = compare("out", "float32", 2.0 ** -23, oracle, oracle, oracle + 1e-4, 16.0, 64.0)
    assert not exact_old.ok and exact_old.ratio > 1
