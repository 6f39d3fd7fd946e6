"""Red team: returned values are compared as data, or not at all.

Each patch changes a helper with a scalar-annotated parameter and no ``kernel()``
declaration, so the differential tester runs old and new in the workers and compares
what they return.  A tensor or array whose dtype, shape, elements, device or
``requires_grad`` changed must be REFUTED; an equal one (an equivalent rewrite) must
PASS; a value with no content to compare (a generator, a lock, a function) must be
UNKNOWN with a message saying what to declare instead -- never PASSED, never REFUTED
merely because its type is opaque.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from sandbox import Gate, Patch
from tests.conftest import snapshot
from verifiers._values import encode

CONFIG = "[tool.sandbox]\nseed = 7\nmax_examples = 30\ncall_timeout = 10.0\n"


@dataclass(frozen=True)
class Case:
    name: str
    head: str  # the module's imports and unchanged helpers
    old: str  # the body of ``value(n: int)`` before and after the patch
    new: str
    level: str


TORCH = "import torch\n"
NUMPY = "import numpy as np\n"
JAX = "import jax.numpy as jnp\n"
LOCKS = "import threading\n\n\ndef _lock():\n    return threading.Lock()\n"

REFUTED = [
    Case("torch-elements", TORCH, "torch.arange(n) * 2", "torch.arange(n) * 3", "REFUTED"),
    Case("torch-dtype", TORCH, "torch.arange(n) * 2", "torch.arange(n, dtype=torch.int32) * 2", "REFUTED"),
    Case("torch-shape", TORCH, "torch.arange(n) * 2", "(torch.arange(n) * 2).unsqueeze(0)", "REFUTED"),
    Case("torch-bfloat16-last-bit", TORCH, "torch.full((n,), 1.0, dtype=torch.bfloat16)",
         "torch.full((n,), 1.0078125, dtype=torch.bfloat16)", "REFUTED"),
    Case("torch-float16-last-bit", TORCH, "torch.full((n,), 1.0, dtype=torch.float16)",
         "torch.full((n,), 1.0009765625, dtype=torch.float16)", "REFUTED"),
    Case("torch-requires-grad", TORCH, "torch.zeros(n + 1)", "torch.zeros(n + 1, requires_grad=True)", "REFUTED"),
    Case("torch-parameter", TORCH, "torch.nn.Parameter(torch.arange(n) * 2.0)",
         "torch.nn.Parameter(torch.arange(n) * 3.0)", "REFUTED"),
    Case("numpy-elements", NUMPY, "np.arange(n) * 2", "np.arange(n) * 3", "REFUTED"),
    Case("numpy-dtype", NUMPY, "np.arange(n) * 2", "np.arange(n, dtype=np.int32) * 2", "REFUTED"),
    Case("jax-elements", JAX, "jnp.arange(n) * 2", "jnp.arange(n) * 3", "REFUTED"),
    Case("jax-shape", JAX, "jnp.arange(n) * 2", "(jnp.arange(n) * 2).reshape(1, -1)", "REFUTED"),
]

PASSED = [
    Case("torch-rewrite", TORCH, "torch.arange(n) * 2", "torch.arange(n) + torch.arange(n)", "PASSED"),
    Case("numpy-rewrite", NUMPY, "np.arange(n) * 2", "np.arange(n) + np.arange(n)", "PASSED"),
    Case("jax-rewrite", JAX, "jnp.arange(n) * 2", "jnp.arange(n) + jnp.arange(n)", "PASSED"),
]

UNCOMPARABLE = [
    Case("generator", "", "(k * 2 for k in [n])", "(k * 3 for k in [n])", "UNKNOWN"),
    Case("function", "", "lambda k: k * 2 + n", "lambda k: k * 3 + n", "UNKNOWN"),
    Case("lock", LOCKS, "_lock()", "_lock() if n > 0 else _lock()", "UNKNOWN"),
]


def module(case: Case, body: str) -> str:
    head = f'"""Helpers."""\n\n{case.head}\n\n' if case.head else '"""Helpers."""\n\n\n'
    return f"{head}def value(n: int):\n    n = n % 9\n    return {body}\n"


def judge(make_repo, case: Case):
    root = make_repo({"helpers.py": module(case, case.old), "pyproject.toml": CONFIG})
    before = snapshot(root)
    verdict = Gate.from_repo(root).check(Patch.from_files({"helpers.py": module(case, case.new)}))
    assert snapshot(root) == before
    outcomes = {o.obligation.target: o for o in verdict.outcomes}
    assert outcomes["helpers.py"].evidence.level.value == "PASSED", "the static policy caught it; pick another"
    return verdict, outcomes["helpers.value"].evidence


@pytest.mark.slow
@pytest.mark.parametrize("case", REFUTED + PASSED, ids=lambda c: c.name)
def test_returned_arrays_are_compared_by_content(make_repo, case: Case):
    verdict, evidence = judge(make_repo, case)
    assert evidence.level.value == case.level and evidence.verifier in ("crosshair", "pbt"), evidence.detail
    assert verdict.accepted is (case.level == "PASSED")


@pytest.mark.slow
@pytest.mark.parametrize("case", UNCOMPARABLE, ids=lambda c: c.name)
def test_values_without_content_are_unknown_with_what_to_declare(make_repo, case: Case):
    verdict, evidence = judge(make_repo, case)
    assert evidence.level.value == "UNKNOWN" and not verdict.accepted, evidence.detail
    assert "cannot compare values of type" in evidence.detail
    assert "declare a kernel()" in evidence.detail


def test_the_gate_decodes_tensors_without_importing_torch_or_jax():
    torch = pytest.importorskip("torch")
    data = encode([torch.arange(3.0), torch.ones(2, dtype=torch.bfloat16)])
    code = ("import sys; from verifiers._values import decode, same; "
            "a = decode(sys.stdin.buffer.read()); assert same(a, a); "
            "print(sorted(m for m in ('torch', 'jax') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == b"[]"
