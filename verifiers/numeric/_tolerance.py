"""The calibrated bound: new error <= factor * (old error + sensitivity) + ulps * eps(dtype) * scale.

Errors are measured against the oracle (the old kernel on float64 copies of the
inputs) over the positions where oracle, old and new are all finite; NaN/Inf
placement is a separate anti-cheat check.  ``scale`` is ``max|oracle|``.

``sensitivity`` is how far the oracle itself moves when every input is moved by up
to one ulp of the dtype (the old kernel in float64 on perturbed inputs): the error
any implementation may make just by rounding its inputs once.  DESIGN.md's floor
``ulps * eps * max|oracle|`` does not see input magnitude, so a logsumexp softmax on
inputs near 100 (which loses ``100 * eps`` in the exponent) failed it with ratio 1.2
although it is backward stable; an approximation (tanh-GELU, a dropped eps) still
fails, since its error does not shrink with the inputs' rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["LOW_PRECISION_EPS", "LOW_PRECISION_ULPS", "TINY", "Stats", "compare"]

# The smallest normal float32/bfloat16: differences below it are underflow noise, not error.
TINY = float(np.finfo(np.float32).tiny)
# In a 16-bit dtype one ulp is coarse (bfloat16: 2**-7, 0.8% of the value), so the default floor of
# 64 ulps would be half the output's scale: a kernel returning relu(x) * 0.5 in bfloat16 passed it.
# There the floor is at most 4 ulps (3% in bfloat16); the factor term, which grows with the old
# kernel's own rounding error, still admits rewrites that round differently.
LOW_PRECISION_EPS = 1e-4
LOW_PRECISION_ULPS = 4.0


@dataclass(frozen=True, slots=True)
class Stats:
    """Errors of old and new against the oracle for one output or gradient, and the bound."""

    what: str
    dtype: str
    old_max: float
    old_rmse: float
    new_max: float
    new_rmse: float
    scale: float
    bound: float
    sensitivity: float = 0.0

    @property
    def ratio(self) -> float:
        """new max error / bound; above 1 fails."""
        if self.bound > 0:
            return self.new_max / self.bound
        return 0.0 if self.new_max == 0 else math.inf

    @property
    def old_ratio(self) -> float:
        return self.old_max / self.bound if self.bound > 0 else 0.0

    @property
    def ok(self) -> bool:
        return self.new_max <= self.bound

    def line(self) -> str:
        return (f"{self.what} [{self.dtype}]: max abs error old {self.old_max:.3g} / new {self.new_max:.3g}, "
                f"RMSE old {self.old_rmse:.3g} / new {self.new_rmse:.3g}, bound {self.bound:.3g} "
                f"(scale {self.scale:.3g}, 1-ulp input sensitivity {self.sensitivity:.3g}), ratio to bound old {self.old_ratio:.3g} / new {self.ratio:.3g}")


def compare(what: str, dtype: str, eps: float, oracle: np.ndarray, old: np.ndarray, new: np.ndarray,
            factor: float, ulps: float, perturbed: np.ndarray | None = None, scale: float = 0.0) -> Stats:
    """Statistics of ``old`` and ``new`` against ``oracle`` (same shapes, float64).

    ``scale`` raises the scale to a shared one (gradients are judged norm-wise: the largest
    oracle gradient of the call, so a gradient that is exactly zero, as d/dx of a layer norm
    over a size-1 dimension, is not held to a zero bound).
    """
    finite = np.isfinite(oracle) & np.isfinite(old) & np.isfinite(new)
    moved = 0.0
    if perturbed is not None and perturbed.shape == oracle.shape:
        both = finite & np.isfinite(perturbed)
        moved = float(np.max(np.abs(perturbed[both] - oracle[both]), initial=0.0))
    truth = oracle[finite]
    old_err = np.abs(old[finite] - truth)
    new_err = np.abs(new[finite] - truth)
    scale = max(float(np.max(np.abs(truth))) if truth.size else 0.0, scale)
    old_max = float(old_err.max()) if old_err.size else 0.0
    new_max = float(new_err.max()) if new_err.size else 0.0
    if eps > LOW_PRECISION_EPS:
        ulps = min(ulps, LOW_PRECISION_ULPS)
    bound = factor * (old_max + moved) + ulps * (eps * scale + TINY)
    return Stats(what, dtype, old_max, _rmse(old_err), new_max, _rmse(new_err), scale, bound, moved)


def _rmse(errors: np.ndarray) -> float:
    return float(np.sqrt(np.mean(errors ** 2))) if errors.size else 0.0
