"""Kernels that update their inputs in place (optimizer steps): the updated state is a result too."""

from __future__ import annotations

import pytest

from properties import Kind, Obligation
from sandbox._workers import IsolatedExecutor
from tests.conftest import write_tree
from verifiers import Context, Level
from verifiers.numeric import KernelComparator

REFERENCE = '''
def {name}(param: torch.Tensor, grad: torch.Tensor, buf: torch.Tensor) -> torch.Tensor:
    buf.mul_(0.9).add_(grad)
    param.add_(buf, alpha=-0.01)
    return param
'''

VARIANTS = {
    # A rewrite of the same SGD-with-momentum step: must pass.
    "sgd_rewritten": "    torch._foreach_mul_([buf], 0.9)\n    buf.add_(grad)\n    param.sub_(0.01 * buf)\n    return param\n",
    # The parameter update is right for this step, but the momentum buffer is never updated.
    "sgd_no_state": "    param.add_(buf * 0.9 + grad, alpha=-0.01)\n    return param\n",
    # The buffer is updated, but to a slightly wrong value: only the next step would show it.
    "sgd_bad_state": "    new = buf * 0.9 + grad\n    param.add_(new, alpha=-0.01)\n    buf.copy_(new * 1.001)\n"
                     "    return param\n",
}


def _module(bodies: dict[str, str] | None) -> str:
    text = "import torch\n"
    for name in VARIANTS:
        function = REFERENCE.format(name=name)
        if bodies is not None:
            head = function.split("\n")[1]
            function = "\n" + head + "\n" + bodies[name]
        text += "\n" + function
    return text


BEFORE = {"optim.py": _module(None)}
AFTER = {"optim.py": _module(VARIANTS)}


@pytest.fixture(scope="module")
def executor(tmp_path_factory):
    repo = write_tree(tmp_path_factory.mktemp("optim_repo"), BEFORE)
    with IsolatedExecutor(repo, before=BEFORE, after=AFTER, timeout=60.0) as ex:
        yield ex


def check(executor, name: str):
    obligation = Obligation(f"optim.{name}", Kind.KERNEL, "optim.py", "changed kernel", ("numeric",),
                            old_source=REFERENCE.format(name=name).strip(),
                            new_source=REFERENCE.format(name=name).split("\n")[1] + "\n" + VARIANTS[name], module="optim")
    return KernelComparator().check(obligation, Context(before=BEFORE, after=AFTER, executor=executor))


def test_a_rewritten_optimizer_step_passes(executor):
    evidence = check(executor, "sgd_rewritten")
    assert evidence.level is Level.PASSED, evidence.detail
    assert "input buf after the call" in evidence.detail


@pytest.mark.parametrize("name, words", [("sgd_no_state", "does not"), ("sgd_bad_state", "input buf after the call")])
def test_a_wrong_state_update_is_refuted_even_when_the_returned_value_is_right(executor, name, words):
    evidence = check(executor, name)
    assert evidence.level is Level.REFUTED, evidence.detail
    assert words in evidence.detail
