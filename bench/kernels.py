"""Benchmark: the wall time of a kernel check on the CPU, and whether each pair was judged right.

Each pair is one tensor function of a small repository, before and after; safe
rewrites must be accepted and unsafe ones rejected.  Every check goes through the
whole gate (``Gate.check``), so its wall time includes starting the two isolated
workers and importing torch or jax in each; that import is also timed on its own
(a bare ``python -c "import torch"``) to show what a warm pair of workers saves.
Prints, per pair, the verdict, the wall time and the deciding check; then the
median, and any wrongly judged pair (there must be none).  Then the added cost of
the extra run-time modes and thread counts (``verifiers.numeric._modes``): every
pair checked again with them switched off, wall time per check with and without,
medians and their ratio.  Run with ``make bench``.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox import Gate, Patch  # noqa: E402
from verifiers.numeric import _modes  # noqa: E402

HEAD = "import math\nimport torch\nimport torch.nn.functional as F\n\n\n"
JAX_HEAD = "import math\nimport jax\nimport jax.numpy as jnp\n\n\n"
GELU = "def f(x: torch.Tensor) -> torch.Tensor:\n    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))\n"
SOFTMAX = ("def f(x: torch.Tensor) -> torch.Tensor:\n    e = torch.exp(x - x.max(dim=-1, keepdim=True).values)\n"
           "    return e / e.sum(dim=-1, keepdim=True)\n")
NORM = ("def f(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:\n"
        "    mean = x.mean(dim=-1, keepdim=True)\n    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)\n"
        "    return (x - mean) / torch.sqrt(var + 1e-5) * weight + bias\n")
ATTENTION = ("def f(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:\n"
             "    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])\n    return torch.softmax(s, dim=-1) @ v\n")
SGD = ("def f(param: torch.Tensor, grad: torch.Tensor, buf: torch.Tensor) -> torch.Tensor:\n"
       "    buf.mul_(0.9).add_(grad)\n    param.add_(buf, alpha=-0.01)\n    return param\n")
RMS = ("def f(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:\n"
       "    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * weight\n")
JAX_GELU = "def f(x: jax.Array) -> jax.Array:\n    return 0.5 * x * (1.0 + jax.scipy.special.erf(x / math.sqrt(2.0)))\n"

SAFE = {
    "gelu-erf-to-F.gelu": (GELU, "def f(x: torch.Tensor) -> torch.Tensor:\n    return F.gelu(x)\n"),
    "softmax-logsumexp": (SOFTMAX, "def f(x: torch.Tensor) -> torch.Tensor:\n"
                                   "    return torch.exp(x - torch.logsumexp(x, dim=-1, keepdim=True))\n"),
    "layer-norm-fused": (NORM, "def f(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:\n"
                               "    return F.layer_norm(x, x.shape[-1:], weight, bias, 1e-5)\n"),
    "attention-sdpa": (ATTENTION, "def f(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:\n"
                                  "    return F.scaled_dot_product_attention(q, k, v)\n"),
    "sgd-momentum-foreach": (SGD, "def f(param: torch.Tensor, grad: torch.Tensor, buf: torch.Tensor) -> torch.Tensor:\n"
                                  "    torch._foreach_mul_([buf], 0.9)\n    buf.add_(grad)\n"
                                  "    param.sub_(0.01 * buf)\n    return param\n"),
    "rms-norm-rewritten": (RMS, "def f(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:\n"
                                "    return weight * (x / torch.sqrt(torch.mean(x * x, dim=-1, keepdim=True) + 1e-6))\n"),
    "rms-norm-F.rms_norm": (RMS, "def f(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:\n"
                                 "    return F.rms_norm(x, x.shape[-1:], weight, eps=1e-6)\n"),
    "layer-norm-rsqrt": (NORM, "def f(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:\n"
                               "    xc = x - x.mean(dim=-1, keepdim=True)\n"
                               "    return xc * torch.rsqrt(xc.pow(2).mean(dim=-1, keepdim=True) + 1e-5) * weight + bias\n"),
    "gelu-autograd-only-fast-path": (GELU, "def f(x: torch.Tensor) -> torch.Tensor:\n"
                                           "    return F.gelu(x) if not x.requires_grad else "
                                           "0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))\n"),
    "jax-gelu": (JAX_HEAD + JAX_GELU, JAX_HEAD + "def f(x: jax.Array) -> jax.Array:\n"
                                                "    return jax.nn.gelu(x, approximate=False)\n"),
}

UNSAFE = {
    "gelu-tanh": (GELU, "def f(x: torch.Tensor) -> torch.Tensor:\n    return F.gelu(x, approximate='tanh')\n"),
    "gelu-bf16": (GELU, "def f(x: torch.Tensor) -> torch.Tensor:\n    return F.gelu(x.bfloat16()).to(x.dtype)\n"),
    "softmax-naive": (SOFTMAX, "def f(x: torch.Tensor) -> torch.Tensor:\n    e = torch.exp(x)\n"
                               "    return e / e.sum(dim=-1, keepdim=True)\n"),
    "layer-norm-no-eps": (NORM, "def f(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:\n"
                                "    return F.layer_norm(x, x.shape[-1:], weight, bias, 0.0)\n"),
    "attention-no-scale": (ATTENTION, "def f(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:\n"
                                      "    return torch.softmax(q @ k.transpose(-1, -2), dim=-1) @ v\n"),
    "sgd-no-state": (SGD, "def f(param: torch.Tensor, grad: torch.Tensor, buf: torch.Tensor) -> torch.Tensor:\n"
                          "    param.add_(buf * 0.9 + grad, alpha=-0.01)\n    return param\n"),
    "rms-norm-eps-outside-sqrt": (RMS, "def f(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:\n"
                                       "    return x / (x.pow(2).mean(-1, keepdim=True).sqrt() + 1e-6) * weight\n"),
    "layer-norm-eps-moved": (NORM, "def f(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:\n"
                                   "    mean = x.mean(dim=-1, keepdim=True)\n"
                                   "    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)\n"
                                   "    return (x - mean) / (torch.sqrt(var) + 1e-5) * weight + bias\n"),
    "matmul-precision-medium": (ATTENTION, "def f(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:\n"
                                           "    torch.set_float32_matmul_precision('medium')\n"
                                           "    return F.scaled_dot_product_attention(q, k, v)\n"),
    "gelu-preallocated-buffer": (GELU, "_OUT = {}\n\n\ndef f(x: torch.Tensor) -> torch.Tensor:\n"
                                       "    out = _OUT.setdefault((x.shape, x.dtype), torch.empty_like(x))\n"
                                       "    return out.copy_(F.gelu(x))\n"),
    "gelu-inference-only": (GELU, "def f(x: torch.Tensor) -> torch.Tensor:\n"
                                  "    return F.gelu(x, approximate='tanh') if x.is_inference() else F.gelu(x)\n"),
    "gelu-no-grad-only": (GELU, "def f(x: torch.Tensor) -> torch.Tensor:\n"
                                "    recording = torch.ones(1, requires_grad=True).mul(2).requires_grad\n"
                                "    return F.gelu(x) if recording else F.gelu(x, approximate='tanh')\n"),
    "gelu-autograd-only": (GELU, "def f(x: torch.Tensor) -> torch.Tensor:\n"
                                 "    return F.gelu(x) + (1e-2 if x.requires_grad else 0.0)\n"),
}


def run(name: str, old: str, new: str, scratch: Path) -> tuple[str, bool, float, float, str]:
    root = scratch / name
    root.mkdir()
    head = "" if old.startswith("import") else HEAD
    (root / "k.py").write_text(head + old)
    (root / "pyproject.toml").write_text("[tool.sandbox]\n")
    gate = Gate.from_repo(root)
    start = time.perf_counter()
    verdict = gate.check(Patch.from_files({"k.py": ("" if new.startswith("import") else HEAD) + new}))
    wall = time.perf_counter() - start
    outcome = next(o for o in verdict.outcomes if o.obligation.target == "k.f")
    first = outcome.evidence.detail.splitlines()[0]
    check = first[first.find("["):first.find("]") + 1] if "[" in first else outcome.evidence.level.value
    if outcome.evidence.level.value not in ("PASSED", "REFUTED"):
        check = f"{outcome.evidence.level.value}: {first[:300]}"
    return name, verdict.accepted, wall, outcome.evidence.seconds, check


def _import_seconds(module: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
    return time.perf_counter() - start


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for group, pairs in (("safe", SAFE), ("unsafe", UNSAFE)):
            for name, (old, new) in pairs.items():
                rows.append((group, *run(name, old, new, Path(scratch))))
    width = max(len(group + name) for group, name, *_ in rows) + 3
    print(f"{'pair':<{width}}{'verdict':<10}{'wall s':>8}  deciding check")
    for group, name, accepted, wall, _, check in rows:
        print(f"{group + ':' + name:<{width}}{'accepted' if accepted else 'rejected':<10}{wall:>8.2f}  {check}")
    torch_import = statistics.median(_import_seconds("torch") for _ in range(3))
    jax_import = statistics.median(_import_seconds("jax") for _ in range(3))
    print(f"\nmedian wall time per kernel check: {statistics.median(r[3] for r in rows):.2f} s "
          f"(torch pairs {statistics.median(r[3] for r in rows if not r[1].startswith('jax')):.2f} s); "
          f"a bare import costs torch {torch_import:.2f} s, jax {jax_import:.2f} s, in each of the two workers")
    wrong = [r[1] for r in rows if (r[0] == "unsafe") == r[2]]
    print("accepted unsafe / rejected safe kernels: " + (", ".join(wrong) if wrong else "none"))
    _modes_cost(rows)


def _modes_cost(rows: list[tuple[Any, ...]]) -> None:
    """Every pair again without the extra modes and thread counts: what they add to a check's wall time."""
    _modes.ENABLED = False
    try:
        with tempfile.TemporaryDirectory() as scratch:
            bare = {name: run(name, old, new, Path(scratch))
                    for group, pairs in (("safe", SAFE), ("unsafe", UNSAFE)) for name, (old, new) in pairs.items()}
    finally:
        _modes.ENABLED = True
    print(f"\n{'pair':<34}{'with modes s':>13}{'without s':>11}{'ratio':>7}  verdict without modes")
    for group, name, accepted, wall, _, _ in rows:
        without = bare[name]
        note = "" if without[1] == accepted else f"  (differs: {'accepted' if without[1] else 'rejected'})"
        print(f"{group + ':' + name:<34}{wall:>13.2f}{without[2]:>11.2f}{wall / without[2]:>7.2f}{note}")
    with_modes, without = statistics.median(r[3] for r in rows), statistics.median(b[2] for b in bare.values())
    safe = [r for r in rows if r[0] == "safe"]
    print(f"median wall time per check: {with_modes:.2f} s with the extra modes and thread counts, {without:.2f} s "
          f"without (ratio {with_modes / without:.2f}); safe pairs, which run every mode: "
          f"{statistics.median(r[3] for r in safe):.2f} s vs {statistics.median(bare[r[1]][2] for r in safe):.2f} s")


if __name__ == "__main__":
    main()
