"""Resource regressions are differences: CPU time, peak memory and threads of old vs new, judged here.

The workers only measure (see ``Outcome``); the thresholds live in the trusted process.
CPU seconds are summed over the compared calls and judged on the totals, because one call
of a microsecond function is noise; the floors keep tiny noisy functions from ever tripping
the limit.  Each side's first call in a worker pays its warm-up (lazy imports, caches), so a
pair in which either call was its worker's first is left out of the totals.  Peak memory is
judged per call (it does not depend on the machine's load), against a floor of 64 MB.
"""

from __future__ import annotations

from dataclasses import dataclass

from verifiers._contract import Outcome

__all__ = ["CPU_FLOOR", "CPU_FLOOR_PER_CALL", "MEMORY_FLOOR_MB", "Usage", "cpu_limit", "excess_memory",
           "new_threads"]

CPU_FLOOR = 0.5  # seconds in all, so tiny noisy functions never trip the limit
CPU_FLOOR_PER_CALL = 0.005  # seconds per compared call (scheduling, cache and gc noise)
MEMORY_FLOOR_MB = 64.0


def cpu_limit(old_seconds: float, calls: int, slowdown: float) -> float:
    """The most CPU seconds the new version may use where the old used ``old_seconds`` over ``calls`` calls."""
    return slowdown * old_seconds + max(CPU_FLOOR, CPU_FLOOR_PER_CALL * calls)


@dataclass(slots=True)
class Usage:
    """Running CPU totals of old and new on the same inputs, and the largest per-call peaks seen."""

    slowdown: float = 10.0
    memory: float = 10.0
    calls: int = 0
    old_cpu: float = 0.0
    new_cpu: float = 0.0
    old_peak: float = 0.0
    new_peak: float = 0.0
    unmeasured: int = 0

    def add(self, old: Outcome, new: Outcome) -> str | None:
        """Count one compared pair; the refutation's text once the new total crosses the limit."""
        if old.cpu_seconds is None or new.cpu_seconds is None:
            self.unmeasured += 1
            return None
        if old.first_call or new.first_call:
            return None
        self.calls += 1
        self.old_cpu += old.cpu_seconds
        self.new_cpu += new.cpu_seconds
        self.old_peak = max(self.old_peak, old.peak_mb or 0.0)
        self.new_peak = max(self.new_peak, new.peak_mb or 0.0)
        if self.new_cpu <= cpu_limit(self.old_cpu, self.calls, self.slowdown):
            return None
        return (f"the new version is slower beyond the limit: it used {self.new_cpu:.2f} s of CPU over "
                f"{self.calls} calls, the old {self.old_cpu:.2f} s ({_ratio(self.new_cpu, self.old_cpu)}, limit "
                f"{self.slowdown:g}× + {cpu_limit(0.0, self.calls, 1.0):.2f} s); make it faster, or raise "
                "[tool.sandbox] slowdown if the cost is intended")

    def summary(self) -> str:
        """What was measured, for a PASSED report."""
        unmeasured = f"; {self.unmeasured} of the calls could not be measured" if self.unmeasured else ""
        if self.calls == 0:
            return "CPU and memory not compared (no measured calls besides each worker's first)" + unmeasured
        return (f"the new version used {self.new_cpu:.2f} s of CPU over {self.calls} calls, the old "
                f"{self.old_cpu:.2f} s (limit {self.slowdown:g}× + {cpu_limit(0.0, self.calls, 1.0):.2f} s); "
                f"peak memory growth per call at most {self.new_peak:.1f} MB new, {self.old_peak:.1f} MB old"
                + unmeasured)


def excess_memory(old: Outcome, new: Outcome, memory: float) -> str | None:
    """Why the new call's peak memory growth exceeds ``memory`` times the old one's plus the floor, if it does.

    Only exact peaks are compared: a fallback reading (``ru_maxrss``) is a lower bound on each
    side, and comparing two lower bounds proves nothing.
    """
    if old.peak_mb is None or new.peak_mb is None or not (old.exact_peak and new.exact_peak):
        return None
    if old.first_call or new.first_call:
        return None
    limit = memory * old.peak_mb + MEMORY_FLOOR_MB
    if new.peak_mb <= limit:
        return None
    return (f"the new version's peak memory grew by {new.peak_mb:.1f} MB during the call, the old one's by "
            f"{old.peak_mb:.1f} MB ({_ratio(new.peak_mb, old.peak_mb)}, limit {memory:g}× + "
            f"{MEMORY_FLOOR_MB:g} MB); allocate less, or raise [tool.sandbox] memory if the cost is intended")


def new_threads(old: Outcome, new: Outcome) -> str | None:
    """Why the new call left threads running that the old one did not, if it did."""
    if old.threads_left is None or new.threads_left is None or new.threads_left <= old.threads_left:
        return None
    extra = new.threads_left - old.threads_left
    return (f"the new version left {extra} more thread{'s' if extra > 1 else ''} running after the call than "
            f"the old one ({new.threads_left} vs {old.threads_left}); a thread that outlives its call is state "
            "the checker does not vary: join it before returning")


def _ratio(new: float, old: float) -> str:
    return f"{new / old:.0f}×" if old > 0 else "the old one's too small to measure"
