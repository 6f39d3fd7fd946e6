"""The teaching demos run offline, give the verdicts they promise, and leave their repos untouched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import snapshot

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_demo_01_policy_gate():
    repo = EXAMPLES / "01_policy_gate" / "repo"
    before = snapshot(repo)
    result = subprocess.run([sys.executable, str(EXAMPLES / "01_policy_gate" / "demo.py")],
                            capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "sandbox check: ACCEPTED" in out
    assert "[subprocess]" in out and "os.system" in out
    assert "'smt'" in out
    assert "ledger intact: 2 entries" in out
    assert out.rstrip().endswith("unprovable refactor refused with the reason.")
    assert snapshot(repo) == before
