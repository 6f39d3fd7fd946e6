"""Is a candidate's objective better than the baseline's by more than the noise? Welch's t-test.

The test is one-sided (only an improvement is kept) at 95 % by default: with means ``m``,
sample variances ``s²`` and sizes ``n``, ``t = (m_new - m_old) / sqrt(s²_new/n_new + s²_old/n_old)``
with the Welch–Satterthwaite degrees of freedom; for ``direction = "min"`` the sign is flipped so
that a larger ``t`` is always better. Significant when ``t`` exceeds the Student-t quantile at the
confidence level. When both sides have zero spread the measurement has no noise, so any
improvement at all is significant (and no difference never is).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Comparison", "Samples", "compare", "t_quantile"]

DIRECTIONS = ("min", "max")


@dataclass(frozen=True, slots=True)
class Samples:
    """Repeated measurements of the objective on one version of the tree."""

    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.values) < 2:
            raise ValueError(f"at least 2 measurements are needed to estimate the noise, got "
                             f"{len(self.values)}; use --repeats 2 or more")
        if not all(math.isfinite(v) for v in self.values):
            raise ValueError(f"the measurements must be finite numbers, got {self.values}")

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def sd(self) -> float:
        """The sample standard deviation (n - 1 in the denominator)."""
        return statistics.stdev(self.values)

    def __str__(self) -> str:
        return f"{self.mean:.6g} ± {self.sd:.3g} (n={len(self.values)})"

    def to_json(self) -> dict[str, Any]:
        return {"samples": list(self.values), "mean": self.mean, "sd": self.sd}


@dataclass(frozen=True, slots=True)
class Comparison:
    """Baseline against candidate: the improvement (``delta``, positive = better), the test, the call."""

    before: Samples
    after: Samples
    direction: str
    delta: float
    sigma: float
    t: float
    df: float
    critical: float
    confidence: float
    significant: bool

    def summary(self) -> str:
        verdict = "significant" if self.significant else "within noise"
        t = "inf" if math.isinf(self.t) else f"{self.t:.3g}"
        return (f"improvement {verdict}: mean Δ {self.delta:+.6g} ({self.direction}imise), σ {self.sigma:.3g}; "
                f"Welch t = {t} vs {self.critical:.3g} (one-sided {self.confidence:.0%}, df {self.df:.3g}); "
                f"before {self.before}, after {self.after}")

    def to_json(self) -> dict[str, Any]:
        return {"before": self.before.to_json(), "after": self.after.to_json(), "direction": self.direction,
                "delta": self.delta, "sigma": self.sigma, "t": None if math.isinf(self.t) else self.t,
                "df": self.df, "critical": self.critical, "confidence": self.confidence,
                "significant": self.significant, "test": "welch-t, one-sided"}


def compare(before: Sequence[float], after: Sequence[float], direction: str = "max", *,
            confidence: float = 0.95) -> Comparison:
    """Welch's one-sided t-test of ``after`` improving on ``before`` in ``direction``."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'min' or 'max', got {direction!r}")
    if not 0.5 < confidence < 1:
        raise ValueError(f"confidence must lie between 0.5 and 1, got {confidence}")
    old, new = Samples(tuple(before)), Samples(tuple(after))
    sign = 1.0 if direction == "max" else -1.0
    delta = sign * (new.mean - old.mean)
    var_old, var_new = old.sd ** 2 / len(old.values), new.sd ** 2 / len(new.values)
    sigma = math.sqrt(var_old + var_new)
    if sigma == 0:
        df = float(len(old.values) + len(new.values) - 2)
        t = math.inf if delta > 0 else (-math.inf if delta < 0 else 0.0)
    else:
        t = delta / sigma
        # Welch-Satterthwaite, on variances scaled to at most 1 so that squaring cannot underflow.
        top = max(var_old, var_new)
        a, b = var_old / top, var_new / top
        df = (a + b) ** 2 / (_term(a, len(old.values)) + _term(b, len(new.values)))
    critical = t_quantile(confidence, df)
    return Comparison(old, new, direction, delta, sigma, t, df, critical, confidence, t > critical)


def _term(variance_of_mean: float, n: int) -> float:
    return variance_of_mean ** 2 / (n - 1)


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (scipy, a jax dependency)."""
    from scipy.stats import t as student_t

    return float(student_t.ppf(p, df))
