"""The trusted side of multi-step kernel checks: planning the steps and judging trajectories."""

from __future__ import annotations

import numpy as np
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from verifiers.numeric._inputs import Case
from verifiers.numeric._steps import carry_paths, judge, later_steps


def _case(array: np.ndarray) -> Case:
    return Case("x", 3, ({"name": "x", "array": array, "float": True}, {"name": "ids", "array": np.arange(3),
                                                                       "float": False}),
                kwargs=(("lr", {"name": "lr", "value": 0.1}),))


@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4),
                  elements=st.floats(-1e3, 1e3)))
def test_later_steps_keep_shapes_signs_and_non_floats(array):
    steps = later_steps(_case(array), 4)
    assert len(steps) == 3
    for step in steps:
        x, ids = step.args
        assert isinstance(x["array"], np.ndarray) and x["array"].shape == array.shape
        assert np.array_equal(np.sign(x["array"]), np.sign(array))
        assert np.all(np.abs(x["array"]) <= 1.5 * np.abs(array))
        assert np.array_equal(ids["array"], np.arange(3)) and ids["float"] is False
        assert step.kwargs == (("lr", {"name": "lr", "value": 0.1}),)
    assert all(np.array_equal(a.args[0]["array"], b.args[0]["array"])
               for a, b in zip(steps, later_steps(_case(array), 4)))


def test_carry_paths_name_the_harness_outputs():
    assert carry_paths((("p", 0), ("m", "exp_avg"), ("t", None))) == {"p": "out[0]", "m": "out['exp_avg']",
                                                                       "t": "out"}


def _step(value: float) -> dict:
    item = {"path": "out", "tensor": True, "floating": True, "dtype": "float32", "shape": [2],
            "value": np.array([value, 1.0])}
    return {"outputs": [item], "state": [{**item, "path": "buf"}]}


def _trajectory(*values: float) -> dict:
    return {"pid": "w", "steps": [_step(v) for v in values]}


def test_a_trajectory_that_drifts_fails_at_the_first_step_out_of_bound():
    oracle, old = _trajectory(1.0, 2.0, 3.0), _trajectory(1.0, 2.0, 3.0)
    failures, _ = judge(oracle, old, _trajectory(1.0, 2.0, 3.5), None, dtype="float32", eps=2.0 ** -23,
                        factor=16, ulps=64)
    assert failures and failures[0].check == "state after several steps"
    assert "after step 3 of 3" in failures[0].message


def test_an_exact_trajectory_passes_with_the_last_steps_statistics():
    oracle = _trajectory(1.0, 2.0)
    failures, stats = judge(oracle, oracle, oracle, None, dtype="float32", eps=2.0 ** -23, factor=16, ulps=64)
    assert failures == [] and stats and all("after step 2 of 2" in s.what for s in stats)


def test_a_trajectory_cut_short_fails():
    failures, _ = judge(_trajectory(1.0, 2.0), _trajectory(1.0, 2.0), _trajectory(1.0), None, dtype="float32",
                        eps=2.0 ** -23, factor=16, ulps=64)
    assert failures and "1 of the 2 steps" in failures[0].message
