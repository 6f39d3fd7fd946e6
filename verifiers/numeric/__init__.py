"""Numeric equivalence of torch and jax kernels, forward and backward, against a float64 oracle.

Only ``_harness`` and ``_frameworks`` (run inside the isolated workers) import torch
or jax; the trusted side generates inputs and judges results with numpy.
"""

from verifiers.numeric._verifier import KernelComparator

__all__ = ["KernelComparator"]
