"""Welch's one-sided t-test that decides whether a candidate beats the baseline's noise."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.loop import Samples, compare
from sandbox.loop._noise import t_quantile


@pytest.mark.parametrize(("df", "expected"), [(1, 6.313752), (2, 2.919986), (4, 2.131847), (10, 1.812461),
                                              (30, 1.697261)])
def test_t_quantile_matches_the_table(df, expected):
    assert t_quantile(0.95, df) == pytest.approx(expected, abs=1e-6)


def test_samples_report_mean_and_sample_sd():
    samples = Samples((1.0, 2.0, 3.0))
    assert samples.mean == 2.0 and samples.sd == 1.0
    assert str(samples) == "2 ± 1 (n=3)"
    with pytest.raises(ValueError, match="at least 2"):
        Samples((1.0,))
    with pytest.raises(ValueError, match="finite"):
        Samples((1.0, math.nan))


def test_a_clear_improvement_is_significant_both_ways():
    up = compare([10.0, 10.2, 9.9], [12.0, 12.1, 11.8], "max")
    assert up.significant and up.delta == pytest.approx(1.9333333)
    down = compare([10.0, 10.2, 9.9], [8.0, 8.1, 7.9], "min")
    assert down.significant and down.delta > 0


def test_a_change_in_the_wrong_direction_is_never_kept():
    assert not compare([10.0, 10.2, 9.9], [12.0, 12.1, 11.8], "min").significant
    assert not compare([10.0, 10.2, 9.9], [8.0, 8.1, 7.9], "max").significant


def test_a_difference_smaller_than_the_noise_is_within_noise():
    result = compare([10.0, 11.0, 9.0], [10.3, 11.2, 9.4], "max")
    assert not result.significant
    assert result.summary().startswith("improvement within noise: mean Δ +0.3")
    # Welch by hand: se = sqrt(1/3 + 0.81/3) = 0.7767..., df = Welch-Satterthwaite.
    assert result.sigma == pytest.approx(math.sqrt(1 / 3 + 0.81 / 3))
    assert result.t == pytest.approx(0.3 / result.sigma)
    var_a, var_b = 1 / 3, 0.81 / 3
    assert result.df == pytest.approx((var_a + var_b) ** 2 / (var_a ** 2 / 2 + var_b ** 2 / 2))


def test_noise_free_measurements_keep_any_improvement_and_no_tie():
    assert compare([5.0, 5.0], [5.5, 5.5], "max").significant
    assert not compare([5.0, 5.0], [5.0, 5.0], "max").significant
    assert compare([5.0, 5.0], [5.0, 5.0], "max").to_json()["t"] == 0.0


def test_bad_direction_or_confidence_is_refused():
    with pytest.raises(ValueError, match="direction"):
        compare([1.0, 2.0], [1.0, 2.0], "up")
    with pytest.raises(ValueError, match="confidence"):
        compare([1.0, 2.0], [1.0, 2.0], "max", confidence=1.5)


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
batches = st.lists(finite, min_size=2, max_size=8)


@settings(max_examples=200, deadline=None)
@given(batches, batches, st.sampled_from(["min", "max"]), st.floats(min_value=-1e3, max_value=1e3),
       st.floats(min_value=0.01, max_value=100))
def test_the_decision_is_invariant_under_shift_and_scale(before, after, direction, shift, scale):
    plain = compare(before, after, direction)
    moved = compare([shift + scale * v for v in before], [shift + scale * v for v in after], direction)
    if abs(plain.t) < 1e9 and abs(plain.t - plain.critical) > 1e-6 * max(1.0, abs(plain.t)):
        assert moved.significant == plain.significant


@settings(max_examples=200, deadline=None)
@given(batches, batches)
def test_min_and_max_are_mirror_images(before, after):
    as_max = compare(before, after, "max")
    as_min = compare([-v for v in before], [-v for v in after], "min")
    assert as_max.significant == as_min.significant
    assert as_max.delta == pytest.approx(as_min.delta, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(batches)
def test_a_candidate_identical_to_the_baseline_is_never_significant(values):
    assert not compare(values, values, "max").significant
    assert not compare(values, values, "min").significant
