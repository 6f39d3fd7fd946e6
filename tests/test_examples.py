"""The teaching demos run offline, give the verdicts they promise, and leave their repos untouched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import snapshot

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_demo(name: str) -> str:
    """Run ``examples/<name>/demo.py``; it must succeed and leave its repository as it was."""
    repo = EXAMPLES / name / "repo"
    before = snapshot(repo)
    result = subprocess.run([sys.executable, str(EXAMPLES / name / "demo.py")],
                            capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert snapshot(repo) == before
    return result.stdout


def test_demo_01_policy_gate():
    out = run_demo("01_policy_gate")
    assert "sandbox check: ACCEPTED" in out
    assert "[subprocess]" in out and "os.system" in out
    assert "REFUTED" in out and "counterexample: train.clip(" in out and "limit=-" in out
    assert "ledger unanchored: 2 entries" in out
    assert out.rstrip().endswith("subtly different refactor refuted with a counterexample.")


def test_demo_02_differential_testing():
    out = run_demo("02_differential_testing")
    assert "PASSED    equivalent   ops.clamp_all                    pbt" in out
    assert "counterexample: ops.clamp_all(values=[0], lo=0, hi=-1)  old -> returned [-1]  new -> returned [0]" in out
    assert "[runtime-audit]" in out and "/tmp/.cache-stats" in out
    assert "Untrusted code ran in isolated workers:" in out


def test_demo_03_proofs():
    out = run_demo("03_proofs")
    assert "PROVEN    equivalent   train.lr_at" in out
    assert "PROVEN    invariant    train.finetune_lr" in out
    assert "counterexample: train.lr_at(step=100)" in out and "replayed concretely in the workers" in out


def test_demo_04_kernels():
    out = run_demo("04_kernels")
    assert "PASSED    kernel" in out and "REFUTED   kernel" in out
    assert "cached results" in out
