"""A tiny training kernel: the activation of an MLP block."""

import math

import torch


def gelu(x: torch.Tensor) -> torch.Tensor:
    """Exact (erf) GELU, written out by hand."""
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
