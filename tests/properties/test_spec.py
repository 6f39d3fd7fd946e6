"""The property statements users write."""

from __future__ import annotations

import pytest

import properties
from properties import Kernel, Kind, Policy, bounds, collecting, equivalent, forbid, invariant, kernel, protected


def test_statements_are_collected_only_inside_a_collection():
    equivalent("train.f")  # outside: returned, not recorded anywhere
    with collecting() as found:
        spec = equivalent("train.f")
        bounds("train.LR", 0, 1)
    assert found == [spec, properties.Bounds("train.LR", 0, 1)]


@pytest.mark.parametrize("call", [
    lambda: equivalent(""),
    lambda: equivalent(".relative"),
    lambda: bounds("train.X", 2, 1),
    lambda: kernel("m.f", preset="loose"),
    lambda: kernel("m.f", steps=0),
    lambda: kernel("m.f", steps=2.5),
    lambda: kernel("m.f", carry={"m": 1.0}),
    lambda: kernel("m.f", carry={"not a name": 0}),
    lambda: protected(),
    lambda: forbid(),
])
def test_bad_statements_raise_value_errors(call):
    with pytest.raises(ValueError):
        call()


def test_invariant_needs_a_callable():
    with pytest.raises(TypeError):
        invariant("train.f", post=3)  # type: ignore[arg-type]


def test_kernel_presets():
    assert kernel("m.f") == Kernel("m.f", factor=16.0, ulps=64.0)
    strict = kernel("m.f", preset="strict")
    assert (strict.factor, strict.ulps) == (2.0, 4.0)


def test_kernel_carry_is_kept_in_order_and_hashable():
    spec = kernel("optim.adam", carry={"param": 0, "m": "exp_avg", "t": None}, steps=3)
    assert spec.carry == (("param", 0), ("m", "exp_avg"), ("t", None)) and spec.steps == 3
    assert hash(spec) == hash(kernel("optim.adam", carry={"param": 0, "m": "exp_avg", "t": None}, steps=3))


def test_behavioural_kinds():
    assert Kind.EQUIVALENT.behavioural and Kind.UNANALYSABLE.behavioural
    assert not Kind.POLICY.behavioural and not Kind.PROTECTED.behavioural


@pytest.mark.parametrize("path, pattern", [
    ("tests/test_x.py", "tests/**"),
    ("conftest.py", "**/conftest.py"),
    ("pkg/conftest.py", "**/conftest.py"),
    ("pkg/test_model.py", "**/test_*.py"),
    (".sandbox/ledger.jsonl", ".sandbox/**"),
])
def test_default_protected_paths(path, pattern):
    assert Policy().protected_by(path) == pattern


@pytest.mark.parametrize("path", ["train.py", "pkg/testing.py", "contest.py", "tests_helper.py"])
def test_ordinary_paths_are_not_protected(path):
    assert Policy().protected_by(path) is None


def test_module_names_follow_the_path_as_python_imports_it():
    from properties import module_name

    assert module_name("pkg/__init__.py") == "pkg" and module_name("src/pkg/mod.py") == "pkg.mod"
