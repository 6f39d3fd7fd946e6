"""The resource judgement on synthetic figures: ratios, floors, warm-up, noise, threads."""

from __future__ import annotations

import random

import pytest

from verifiers._contract import Outcome, OutcomeKind
from verifiers.pbt._resources import (CPU_FLOOR, CPU_FLOOR_PER_CALL, MEMORY_FLOOR_MB, Usage, cpu_limit,
                                      excess_memory, new_threads)


def call(cpu: float | None = 0.0, peak: float | None = 0.0, threads: int | None = 0, *, first: bool = False,
         exact: bool = True) -> Outcome:
    return Outcome(OutcomeKind.RETURNED, value=0, cpu_seconds=cpu, peak_mb=peak, threads_left=threads,
                   exact_peak=exact, first_call=first)


def feed(usage: Usage, pairs) -> str | None:
    found = None
    for old, new in pairs:
        found = found or usage.add(old, new)
    return found


def test_the_cpu_limit_is_the_ratio_plus_the_larger_floor():
    assert cpu_limit(0.0, 1, 10.0) == CPU_FLOOR
    assert cpu_limit(1.0, 10, 10.0) == pytest.approx(10.0 + CPU_FLOOR)
    assert cpu_limit(0.0, 1000, 10.0) == pytest.approx(CPU_FLOOR_PER_CALL * 1000)


def test_a_much_slower_version_is_refuted_with_both_figures():
    usage = Usage()
    why = feed(usage, [(call(0.0002), call(0.0115)) for _ in range(200)])
    assert why is not None
    assert "of CPU over" in why and "the old" in why and "limit 10×" in why and "slowdown" in why
    assert usage.new_cpu > 10 * usage.old_cpu + CPU_FLOOR


def test_noisy_tiny_functions_are_never_refuted():
    rng = random.Random(0)
    for _ in range(20):
        usage = Usage()
        # microsecond calls with millisecond hiccups on either side (gc, a page fault, scheduling)
        pairs = [(call(rng.random() * 1e-5 + (rng.random() < 0.05) * 0.004),
                  call(rng.random() * 1e-4 + (rng.random() < 0.2) * 0.004)) for _ in range(400)]
        assert feed(usage, pairs) is None


def test_a_twice_as_slow_refactor_passes():
    assert feed(Usage(), [(call(0.01), call(0.02)) for _ in range(300)]) is None


def test_each_workers_first_call_pays_warm_up_and_is_left_out():
    usage = Usage()
    assert usage.add(call(0.001, first=True), call(5.0, first=True)) is None
    assert usage.calls == 0 and usage.new_cpu == 0.0
    assert feed(usage, [(call(0.001), call(0.002)) for _ in range(10)]) is None


def test_unmeasured_calls_are_counted_but_never_judged():
    usage = Usage()
    assert usage.add(call(None), call(9.0)) is None
    assert usage.unmeasured == 1 and "1 of the calls could not be measured" in usage.summary()


def test_the_slowdown_setting_moves_the_limit():
    pairs = [(call(0.01), call(0.05)) for _ in range(100)]
    assert feed(Usage(slowdown=10.0), pairs) is None
    assert feed(Usage(slowdown=2.0), pairs) is not None


def test_summary_reports_both_figures():
    usage = Usage()
    feed(usage, [(call(0.01, 1.0), call(0.02, 2.0)) for _ in range(5)])
    text = usage.summary()
    assert "0.10 s of CPU over 5 calls" in text and "the old 0.05 s" in text and "2.0 MB new, 1.0 MB old" in text


def test_memory_is_judged_per_call_against_ratio_and_floor():
    assert excess_memory(call(peak=0.0), call(peak=MEMORY_FLOOR_MB - 1), 10.0) is None
    why = excess_memory(call(peak=0.5), call(peak=300.0), 10.0)
    assert why is not None and "300.0 MB" in why and "0.5 MB" in why and "limit 10× + 64 MB" in why
    assert excess_memory(call(peak=100.0), call(peak=900.0), 10.0) is None
    assert excess_memory(call(peak=100.0), call(peak=900.0), 2.0) is not None


def test_memory_lower_bounds_and_warm_up_are_not_compared():
    assert excess_memory(call(peak=0.0, exact=False), call(peak=300.0, exact=False), 10.0) is None
    assert excess_memory(call(peak=0.0, first=True), call(peak=300.0, first=True), 10.0) is None
    assert excess_memory(call(peak=None), call(peak=300.0), 10.0) is None


def test_only_threads_the_old_version_did_not_leave_count():
    assert new_threads(call(threads=0), call(threads=0)) is None
    assert new_threads(call(threads=1), call(threads=1)) is None
    assert new_threads(call(threads=2), call(threads=1)) is None
    assert new_threads(call(threads=None), call(threads=3)) is None
    why = new_threads(call(threads=0), call(threads=2))
    assert why is not None and "2 more threads running after the call" in why
