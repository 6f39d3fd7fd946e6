"""Kernels that update their inputs in place (optimizer steps): the updated state is a result too."""

from __future__ import annotations

import numpy as np
import pytest

from properties import kernel
from tests.verifiers.kernel_support import check_kernel, kernel_workers
from verifiers import Level

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


def _module(template: str, variants: dict[str, str], rewritten: bool) -> str:
    """One function per variant: the reference body before the patch, the variant's body after it."""
    text = "import torch\n"
    for name, body in variants.items():
        function = template.format(name=name)
        text += "\n" + (function.split("\n")[1] + "\n" + body if rewritten else function)
    return text


BEFORE = {"optim.py": _module(REFERENCE, VARIANTS, False)}
AFTER = {"optim.py": _module(REFERENCE, VARIANTS, True)}


@pytest.fixture(scope="module")
def executor(tmp_path_factory):
    with kernel_workers(tmp_path_factory.mktemp("optim_repo"), BEFORE, AFTER) as ex:
        yield ex


def check(executor, name: str):
    return check_kernel(executor, BEFORE, AFTER, f"optim.{name}")


def test_a_rewritten_optimizer_step_passes(executor):
    evidence = check(executor, "sgd_rewritten")
    assert evidence.level is Level.PASSED, evidence.detail
    assert "input buf after the call" in evidence.detail


@pytest.mark.parametrize("name, words", [("sgd_no_state", "does not"), ("sgd_bad_state", "input buf after the call")])
def test_a_wrong_state_update_is_refuted_even_when_the_returned_value_is_right(executor, name, words):
    evidence = check(executor, name)
    assert evidence.level is Level.REFUTED, evidence.detail
    assert words in evidence.detail


# -- several steps -----------------------------------------------------------------------------
# A functional Adam returns its new state; ``carry`` feeds it into the next step.

ADAM = '''
def {name}(param: torch.Tensor, grad: torch.Tensor, m: torch.Tensor, v: torch.Tensor, t: torch.Tensor):
    t = t + 1
    m = 0.9 * m + 0.1 * grad
    v = 0.999 * v + 0.001 * grad * grad
    m_hat = m / (1 - 0.9 ** t)
    v_hat = v / (1 - 0.999 ** t)
    return param - 1e-3 * m_hat / (torch.sqrt(v_hat) + 1e-8), m, v, t
'''

ADAM_VARIANTS = {
    # The same step with lerp, a pre-divided learning rate and the bias correction moved into the denominator.
    "adam_rewritten": "    t = t + 1\n    m = torch.lerp(m, grad, 0.1)\n    v = v * 0.999 + grad.square() * 0.001\n"
                      "    step = 1e-3 / (1 - 0.9 ** t)\n    denom = v.sqrt() / torch.sqrt(1 - 0.999 ** t) + 1e-8\n"
                      "    return param - step * (m / denom), m, v, t\n",
    # The bias correction of the first step, forever: right at step 1, wrong from step 2 on.
    "adam_first_step_only": "    t = t + 1\n    m = 0.9 * m + 0.1 * grad\n    v = 0.999 * v + 0.001 * grad * grad\n"
                            "    return param - 1e-3 * (m / 0.1) / (torch.sqrt(v / 0.001) + 1e-8), m, v, t\n",
}


ADAM_BEFORE = {"adam.py": _module(ADAM, ADAM_VARIANTS, False)}
ADAM_AFTER = {"adam.py": _module(ADAM, ADAM_VARIANTS, True)}


@pytest.fixture(scope="module")
def adam_executor(tmp_path_factory):
    with kernel_workers(tmp_path_factory.mktemp("adam_repo"), ADAM_BEFORE, ADAM_AFTER) as ex:
        yield ex


def _adam_inputs(rng):
    # The step count is an integer: the gate's rescaled variants (large, wide, small) leave it at 0.
    return {"param": (4, 8), "grad": (4, 8), "m": np.zeros((4, 8)), "v": np.zeros((4, 8)),
            "t": np.zeros((), dtype=np.int64)}


def check_adam(executor, name: str, **options):
    spec = kernel(f"adam.{name}", make_inputs=_adam_inputs, grad=False, **options)
    return check_kernel(executor, ADAM_BEFORE, ADAM_AFTER, f"adam.{name}", spec)


CARRY = {"param": 0, "m": 1, "v": 2, "t": 3}


def test_a_rewritten_functional_optimizer_passes_over_several_steps(adam_executor):
    evidence = check_adam(adam_executor, "adam_rewritten", carry=CARRY)
    assert evidence.level is Level.PASSED, evidence.detail
    assert "state carried over 5 steps" in evidence.detail
    assert "after step 5 of 5" in evidence.detail


def test_a_bug_that_shows_only_from_the_second_step_is_refuted_there(adam_executor):
    evidence = check_adam(adam_executor, "adam_first_step_only", carry=CARRY)
    assert evidence.level is Level.REFUTED, evidence.detail
    assert "[state after several steps]" in evidence.detail and "after step 2 of 5" in evidence.detail


def test_one_step_alone_misses_that_bug(adam_executor):
    # The reason for several steps: the first step of this mutant is exact.
    evidence = check_adam(adam_executor, "adam_first_step_only", carry=CARRY, steps=1)
    assert evidence.level is Level.PASSED, evidence.detail


def test_a_carry_naming_no_output_is_unknown_with_the_outputs(adam_executor):
    evidence = check_adam(adam_executor, "adam_rewritten", carry={"m": 7})
    assert evidence.level is Level.UNKNOWN, evidence.detail
    assert "out[7]" in evidence.detail and "out[0]" in evidence.detail


def test_a_carry_naming_no_parameter_is_unknown_with_the_parameters(adam_executor):
    evidence = check_adam(adam_executor, "adam_rewritten", carry={"momentum": 1})
    assert evidence.level is Level.UNKNOWN, evidence.detail
    assert "momentum" in evidence.detail and "param" in evidence.detail


def test_in_place_state_is_carried_over_several_steps(executor):
    evidence = check(executor, "sgd_rewritten")
    assert "state carried over 5 steps" in evidence.detail


def test_without_carry_a_functional_optimizer_gets_one_call_and_a_hint(adam_executor):
    evidence = check_adam(adam_executor, "adam_rewritten")
    assert evidence.level is Level.PASSED, evidence.detail
    assert "state carried" not in evidence.detail
    assert "compared for one call only" in evidence.detail and "carry=" in evidence.detail
