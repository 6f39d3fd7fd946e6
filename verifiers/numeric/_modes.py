"""The run-time modes and thread counts a kernel comparison is repeated in, named for the trusted side.

A kernel can ask how it is being called -- ``torch.is_inference_mode_enabled()``,
``torch.is_grad_enabled()``, ``torch.get_num_threads()``, whether jax is tracing it --
and return other values exactly where the checker does not look.  So the forward pass
of old and new is repeated in every mode the framework has (``_frameworks`` enters
them inside the worker), each mode at both thread counts across the cases, and judged
against the same float64 oracle.  Gradients are taken in grad mode already.

The extra runs cost two worker calls each, so they run on the normal-magnitude cases
at the first dtype only (at most ``MAX_CASES`` of them, on every device); the report
says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from verifiers.numeric._inputs import Case

__all__ = ["ENABLED", "MAX_CASES", "THREADS", "Variant", "selected", "summary", "variants"]

# The same names as ``_frameworks.TORCH_MODES`` / ``JAX_MODES``, which the worker enters (that module
# cannot import this one: the worker keeps ``typing`` out of the modules the harness holds).
BASE = {"torch": "default", "jax": "eager"}
EXTRA = {"torch": ("no_grad", "inference_mode"), "jax": ("jit",)}
# Two intra-op thread counts (jax: XLA sizes its pool at start-up, so none to vary).
THREADS = {"torch": (1, 4), "jax": ()}
MAX_CASES = 4
# Off only to measure what the extra runs cost (``bench/kernels.py``); never off in a check.
ENABLED = True
_CALLED = {"default": "autograd on (the default)", "no_grad": "torch.no_grad()",
           "inference_mode": "torch.inference_mode()", "eager": "eagerly", "jit": "jax.jit"}


@dataclass(frozen=True, slots=True)
class Variant:
    """One way of calling the kernel beyond the plain call: a mode and (torch) an intra-op thread count."""

    mode: str
    threads: int | None = None

    def spec(self) -> dict[str, Any]:
        """The harness keys for this variant; forward only (gradients need grad mode, taken in the plain call)."""
        return {"mode": self.mode, "threads": self.threads, "grad": False}

    @property
    def label(self) -> str:
        return f"mode={self.mode}" + (f" threads={self.threads}" if self.threads is not None else "")

    @property
    def text(self) -> str:
        count = "" if self.threads is None else f" at {self.threads} intra-op thread{'s' * (self.threads != 1)}"
        return f"under {_CALLED[self.mode]}{count}"


def variants(framework: str, number: int) -> tuple[Variant, ...]:
    """The variants for the ``number``-th case the modes run on.

    torch: every mode, the thread counts alternating by case and mode, so two cases
    cover each mode at each count without running the full product on every case.
    """
    if framework == "jax":
        return tuple(Variant(mode) for mode in EXTRA["jax"])
    counts = THREADS["torch"]
    modes = (BASE["torch"], *EXTRA["torch"])
    return tuple(Variant(mode, counts[(number + k) % len(counts)]) for k, mode in enumerate(modes))


def selected(cases: list[Case]) -> set[int]:
    """Indices of the cases the extra modes run on: the normal-magnitude ones, at most ``MAX_CASES``."""
    if not ENABLED:
        return set()
    return set([i for i, case in enumerate(cases) if case.magnitude == "normal"][:MAX_CASES])


def summary(framework: str, ran: list[Variant], dtype: str, skipped: list[str]) -> list[str]:
    """The PASSED lines saying which modes and thread counts ran (each one run), and which were skipped and why."""
    modes = ", ".join((BASE[framework], *EXTRA[framework]))
    counts: dict[str, set[int]] = {}
    for variant in ran:
        counts.setdefault(variant.mode, set()).update([variant.threads] if variant.threads is not None else [])
    each = "; ".join(f"{mode} at {' and '.join(map(str, sorted(n)))} intra-op thread{'s' * (sorted(n) != [1])}"
                     if n else mode for mode, n in counts.items())
    threads = "" if THREADS[framework] else " (threads not varied: XLA fixes its thread pool at start-up)"
    lines = [f"modes: {modes}{threads}: {len(ran)} extra comparison(s) of the forward pass, old and new in the same "
             f"mode against the oracle, on the normal-magnitude cases at {dtype} (gradients in grad mode): "
             f"{each or 'none ran'}"]
    if skipped:
        lines.append(f"{len(skipped)} mode run(s) skipped because the old kernel raised in that mode too "
                     f"(first: {skipped[0]})")
    return lines
