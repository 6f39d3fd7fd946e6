"""Machine load never decides a verdict: the demos' checks give the same verdicts beside CPU hogs.

A sample of the patches of ``examples/*/patches`` goes through ``Gate.check`` twice, on the
machine as it is and then with one busy process per core running beside it, and every
obligation must reach the same level.  ``call_timeout`` is set low (``_CALL_TIMEOUT``): under the
hogs a worker's torch import (about 1.3 s of CPU here) can take longer than that by the wall
clock, which must not matter, since start-up runs before a call's clock starts.  This is the
end-to-end check; ``test_startup.py`` has the deterministic ones (a slow import, a hung one, a
busy-looping one), which fail against an executor that counts start-up against the call.  To
fit the test's budget it checks one patch of each demo -- a refutation, and three passes by
different verifiers, which load could wrongly refute or weaken (``SAMPLE``) -- with fewer
examples than the demos configure; both runs use the same settings.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sandbox import Gate, Patch

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SAMPLE = (
    "01_policy_gate/03_refactor_not_equivalent.diff",     # REFUTED by the differential tester
    "02_differential_testing/01_equivalent_refactor.diff",  # PASSED by it: load must not refute
    "03_proofs/01_refactor_schedule.diff",                # PROVEN by z3 (which runs in the gate itself)
    "04_kernels/01_fused_gelu.diff",                      # a kernel PASSED against the float64 oracle
)
_CALL_TIMEOUT = 4.0
_MAX_EXAMPLES = 20


def _verdicts() -> dict[str, tuple[bool, tuple[tuple[str, str, str], ...]]]:
    """Per sampled patch: accepted, and each obligation's (target, kind, level)."""
    found = {}
    for name in SAMPLE:
        path = EXAMPLES / name.split("/")[0] / "patches" / name.split("/")[1]
        gate = Gate.from_repo(path.parent.parent / "repo", call_timeout=_CALL_TIMEOUT, max_examples=_MAX_EXAMPLES)
        verdict = gate.check(Patch.load(path.read_text(), name=str(path)))
        found[name] = (verdict.accepted, tuple(sorted((j.obligation.target, j.obligation.kind.value,
                                                       j.evidence.level.value) for j in verdict.outcomes)))
    return found


def _hogs() -> list[subprocess.Popen[bytes]]:
    """One busy process per core, at normal priority."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL)
            for _ in range(os.cpu_count() or 1)]


def _hog_cpu(hogs: list[subprocess.Popen[bytes]]) -> float:
    """CPU seconds the hogs have used, from /proc (what shows they really competed)."""
    total = 0
    for hog in hogs:
        with open(f"/proc/{hog.pid}/stat", "rb") as stat:
            fields = stat.read().rpartition(b")")[2].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def test_the_demos_verdicts_do_not_change_beside_one_cpu_hog_per_core():
    quiet = _verdicts()
    # The sample is what the demos promise.
    assert [accepted for accepted, _ in quiet.values()] == [False, True, True, True]
    hogs = _hogs()
    try:
        started = time.monotonic()
        loaded = _verdicts()
        running = [hog.poll() is None for hog in hogs]
        seconds, burned = time.monotonic() - started, _hog_cpu(hogs)
    finally:
        for hog in hogs:
            hog.kill()
        for hog in hogs:
            hog.wait()
    # The hogs ran throughout and competed (their share depends on what else runs on the machine).
    assert all(running) and burned > 0.05 * len(hogs) * seconds, (running, burned, seconds)
    changed = {name: (quiet[name], loaded[name]) for name in SAMPLE if quiet[name] != loaded[name]}
    assert not changed, changed
