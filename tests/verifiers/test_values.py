"""The boundary codec: round trips, bit-exact floats, and decoding that never runs code."""

from __future__ import annotations

import dataclasses
import enum
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifiers._values import Construct, DecodeError, Incomparable, Opaque, Uncaptured, decode, encode, same

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text() | st.binary() \
    | st.complex_numbers(allow_nan=False)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
    | st.dictionaries(st.integers() | st.text(max_size=3), inner, max_size=3)
    | st.frozensets(st.integers(), max_size=3),
    max_leaves=12,
)


@given(values)
def test_round_trip_is_the_same_value(value):
    assert same(decode(encode(value)), value)


@given(st.floats(allow_nan=True), st.floats(allow_nan=True))
def test_same_on_floats_is_bitwise_except_nan(a, b):
    expected = (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    assert same(a, b) is expected


def test_types_matter():
    assert not same(1, 1.0) and not same(True, 1) and not same((1,), [1]) and not same(b"a", bytearray(b"a"))


class Colour(enum.Enum):
    RED = 1


@dataclasses.dataclass
class Point:
    x: float
    y: float


class AlwaysEqual:
    def __eq__(self, other):
        return True

    __hash__ = object.__hash__


def test_objects_travel_as_opaque_state_and_compare_without_their_eq():
    point = decode(encode(Point(1.0, 2.0)))
    assert point == Opaque(f"{__name__}.Point", (("x", 1.0), ("y", 2.0)))
    assert decode(encode(Colour.RED)) == Opaque(f"{__name__}.Colour", "RED")
    liar = decode(encode(AlwaysEqual()))
    assert not same(liar, 3) and not same(liar, decode(encode(Point(0.0, 0.0))))


def test_cycles_and_depth_are_bounded():
    loop: list = []
    loop.append(loop)
    back = decode(encode(loop))[0]
    assert back.type == "builtins.list" and isinstance(back.state, Uncaptured) and "cycle" in back.state.reason
    deep: list = []
    for _ in range(200):
        deep = [deep]
    assert isinstance(decode(encode(deep)), list)


def test_construct_descriptions_round_trip_as_data():
    spec = Construct("train:Counter", (1,), (("step", 2.5),))
    assert decode(encode(spec)) == spec


@pytest.mark.parametrize("data", [
    b"not json", b"1.5", b'{"$eval": "1"}', b'{"$float": "zz"}', b'{"$bytes": "***"}', b"{}",
    b'{"$dict": [[1]]}', b"[" * 100000 + b"]" * 100000,
])
def test_malformed_input_is_a_decode_error_never_code(data):
    with pytest.raises(DecodeError):
        decode(data)


def test_modules_and_functions_are_uncaptured_and_huge_graphs_are_cut():
    import json as json_module

    for value in (json_module, decode, lambda: 1, len, int):
        back = decode(encode(value))
        assert isinstance(back, Opaque) and isinstance(back.state, Uncaptured), back
    wide = decode(encode([list(range(1000)) for _ in range(1000)]))
    assert wide[0] == list(range(1000)) and isinstance(wide[-1].state, Uncaptured)
    assert "too large" not in wide[-1].state.reason and "100000 values" in wide[-1].state.reason
    with pytest.raises(Incomparable):
        same(wide, decode(encode([list(range(1000)) for _ in range(1000)])))
