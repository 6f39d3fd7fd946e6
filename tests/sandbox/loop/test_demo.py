"""Demo 5 runs offline, gives the rounds it promises, and leaves its repository untouched."""

from __future__ import annotations

from tests.test_examples import run_demo


def test_demo_05_self_improvement():
    out = run_demo("05_self_improvement")
    assert "round 1: KEPT" in out and "round 4: KEPT" in out
    assert "round 2: REJECTED" in out and "counterexample train.lr_at(step=10)" in out
    assert "round 3: ROLLED BACK" in out and "improvement within noise" in out
    assert "HALTED by the protected-path tripwire (exit 3)" in out and "evaluate.py" in out
    assert "LR = 0.02\nSTEPS = 120" in out
    assert out.rstrip().endswith("a reward hack halted by a tripwire.")
