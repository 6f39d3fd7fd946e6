"""One Adam step, written functionally: it returns the new parameter and the new state."""

import torch


def adam_step(param: torch.Tensor, grad: torch.Tensor, exp_avg: torch.Tensor, exp_avg_sq: torch.Tensor,
              step: torch.Tensor):
    step = step + 1
    exp_avg = 0.9 * exp_avg + 0.1 * grad
    exp_avg_sq = 0.999 * exp_avg_sq + 0.001 * grad * grad
    corrected = exp_avg / (1 - 0.9 ** step)
    corrected_sq = exp_avg_sq / (1 - 0.999 ** step)
    return param - 1e-3 * corrected / (torch.sqrt(corrected_sq) + 1e-8), exp_avg, exp_avg_sq, step
