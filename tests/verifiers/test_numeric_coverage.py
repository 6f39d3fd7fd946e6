"""Coverage of what a patch adds to a kernel: each new condition taken both ways by a compared case.

The thresholds miner reaches conditions on a tensor's size, rank, dtype or magnitude; these
kernels branch on something it does not mine (a computed statistic, a flag argument), so
the other side of the new condition runs only if a compared case happens to take it.  One
that never does is UNKNOWN naming the condition and its line; one the cases do take both
ways is PASSED and says so.
"""

from __future__ import annotations

import pytest

from tests.verifiers.kernel_support import check_kernel, kernel_workers
from verifiers import Level

HEAD = "import torch\n\n\n"
BEFORE = {"model.py": HEAD + (
    "def act(x: torch.Tensor) -> torch.Tensor:\n    return torch.relu(x)\n\n\n"
    "def scale(x: torch.Tensor) -> torch.Tensor:\n    return x * 2.0\n")}
AFTER = {"model.py": HEAD + (
    # a sleeper behind a statistic no case reaches: the first element's fractional digits
    "def act(x: torch.Tensor) -> torch.Tensor:\n"
    "    if float(x.reshape(-1)[0]) * 1e6 % 1.0 > 0.999999:\n        return x * 0.0\n"
    "    return torch.relu(x)\n\n\n"
    # a benign rewrite whose new condition every batch of normal inputs takes both ways
    "def scale(x: torch.Tensor) -> torch.Tensor:\n"
    "    return torch.where(x > 0, x + x, x * 2.0) if x.numel() > 0 else x * 2.0\n")}


@pytest.fixture(scope="module")
def executor(tmp_path_factory):
    with kernel_workers(tmp_path_factory.mktemp("coverage_repo"), BEFORE, AFTER) as ex:
        yield ex


@pytest.mark.slow
def test_a_new_condition_no_case_takes_is_unknown_with_its_line(executor):
    evidence = check_kernel(executor, BEFORE, AFTER, "model.act")
    assert evidence.level is Level.UNKNOWN, evidence.detail
    assert "the condition `float(x.reshape(-1)[0]) * 1000000.0 % 1.0 > 0.999999` (line 5) was never true" \
        in evidence.detail, evidence.detail
    assert "make_inputs" in evidence.detail


@pytest.mark.slow
def test_a_new_condition_the_cases_take_both_ways_passes_and_says_so(executor):
    evidence = check_kernel(executor, BEFORE, AFTER, "model.scale")
    assert evidence.level is Level.PASSED, evidence.detail
    assert "condition the patch adds to the kernel was taken both ways" in evidence.detail
