"""The codec on tensors and on values it cannot capture: content is data, or there is no answer."""

from __future__ import annotations

import collections
import datetime
import json
import threading

import numpy as np
import pytest

from verifiers._values import MAX_BYTES, DecodeError, Incomparable, Opaque, TensorData, Uncaptured, decode, encode, \
    same

torch = pytest.importorskip("torch")
jnp = pytest.importorskip("jax.numpy")

DTYPES = ["float32", "float64", "float16", "bfloat16", "int64", "bool"]
JAX_DTYPES = ["float32", "float16", "bfloat16", "int32", "bool"]  # 64-bit needs jax x64 mode
SPECIALS = [1.5, -0.0, float("nan"), float("inf"), 1e-3, -7.0]


def back(value):
    return decode(encode(value))


def torch_tensor(name: str):
    if name == "bool":
        return torch.tensor([True, False, True])
    if name == "int64":
        return torch.tensor([0, -1, 2 ** 40, -(2 ** 63)])
    return torch.tensor(SPECIALS, dtype=getattr(torch, name))


def jax_array(name: str):
    if name == "bool":
        return jnp.array([True, False, True])
    if name == "int32":
        return jnp.array([0, -1, 2 ** 31 - 1], dtype=name)
    return jnp.array(SPECIALS, dtype=name)


def bits(tensor) -> bytes:
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.view(torch.int16)
    return tensor.numpy().tobytes()


@pytest.mark.parametrize("name", DTYPES)
def test_torch_tensors_round_trip_bit_for_bit(name):
    tensor = torch_tensor(name)
    data = back(tensor)
    assert isinstance(data, TensorData) and (data.type, data.dtype) == ("torch.Tensor", name)
    assert data.attrs == (("device", "cpu"), ("requires_grad", False)) and data.array.shape == tuple(tensor.shape)
    stored = data.array if name != "bfloat16" else (data.array.view(np.uint32) >> 16).astype(np.uint16)
    assert stored.tobytes() == bits(tensor)
    assert same(data, back(tensor.clone()))


@pytest.mark.parametrize("name", JAX_DTYPES)
def test_jax_arrays_round_trip_bit_for_bit(name):
    array = jax_array(name)
    data = back(array)
    assert isinstance(data, TensorData) and data.dtype == name and ("device", "cpu") in data.attrs
    expected = np.asarray(array).astype(np.float32) if name == "bfloat16" else np.asarray(array)
    assert data.array.tobytes() == expected.tobytes()
    assert same(data, back(jnp.array(array)))


# The next value above 1.0 in each dtype: one bit of difference.
NEXT = {"float32": 1.0000001192092896, "float16": 1.0009765625, "bfloat16": 1.0078125, "float64": 1.0000000000000002}


@pytest.mark.parametrize("name", sorted(NEXT))
def test_one_changed_bit_nan_and_the_sign_of_zero(name):
    dtype = getattr(torch, name)
    base = torch.tensor([1.0, float("nan"), 0.0], dtype=dtype)
    assert same(back(base), back(base.clone()))  # NaN equals NaN
    assert not same(back(base), back(torch.tensor([NEXT[name], float("nan"), 0.0], dtype=dtype)))
    assert not same(back(base), back(torch.tensor([1.0, float("nan"), -0.0], dtype=dtype)))


def test_dtype_shape_type_and_attributes_are_part_of_the_value():
    base = torch.arange(6.0)
    assert not same(back(base), back(base.double()))
    assert not same(back(base), back(base.reshape(2, 3)))
    assert not same(back(base), back(base.clone().requires_grad_(True)))
    assert not same(back(base), back(torch.nn.Parameter(base.clone())))
    assert not same(back(base), back(base.numpy()))  # a numpy array is not a tensor
    assert not same(back(jnp.arange(3)), back(jnp.arange(3, dtype=jnp.int8)))
    plain = json.loads(encode(base))
    plain["attrs"][0][1] = "cuda"
    assert not same(back(base), decode(json.dumps(plain).encode()))


def test_views_conjugates_and_parameters_are_read_by_content():
    matrix = torch.arange(6.0).reshape(2, 3)
    assert same(back(matrix.T), back(matrix.T.contiguous()))
    assert same(back(torch.tensor([1 + 2j]).conj()), back(torch.tensor([1 - 2j])))
    parameter = back(torch.nn.Parameter(torch.ones(2)))
    assert parameter.type == "torch.nn.parameter.Parameter" and ("requires_grad", True) in parameter.attrs
    assert repr(parameter).startswith("torch.nn.parameter.Parameter([1., 1.], dtype=float32")


def test_tensors_nest_and_compare_inside_containers_and_objects():
    value = {"out": (torch.ones(2), [jnp.zeros(1)]), "n": 3}
    assert same(back(value), back({"out": (torch.ones(2), [jnp.zeros(1)]), "n": 3}))
    assert not same(back(value), back({"out": (torch.ones(2) * 2, [jnp.zeros(1)]), "n": 3}))


class Slotted:
    __slots__ = ("x",)

    def __init__(self, x):
        self.x = x


class Items(list):
    pass


class Grid(np.ndarray):
    pass


@pytest.mark.parametrize("make", [
    Slotted, lambda v: Items([v]), lambda v: collections.OrderedDict(k=v), lambda v: collections.deque([v]),
    lambda v: datetime.date(2020, 1, v), lambda v: np.float32(v), lambda v: np.array([[v]]).view(Grid),
    lambda v: {v: 0}.keys(), lambda v: {0: v}.items(), lambda v: collections.namedtuple("P", "x")(v),
])
def test_objects_whose_state_is_outside_their_dict_compare_by_content(make):
    assert same(back(make(1)), back(make(1))) and not same(back(make(1)), back(make(2)))


def generator():
    yield 1


@pytest.mark.parametrize("make", [
    generator, threading.Lock, lambda: (lambda: 1), lambda: json, lambda: int, lambda: open(__file__, "rb"),
    lambda: torch.zeros(2).to_sparse(), lambda: torch.zeros(2, dtype=torch.float8_e4m3fn),
    lambda: np.array([object()]),
])
def test_values_without_captured_content_are_incomparable_never_equal(make):
    a = captured(make)
    assert isinstance(a, Opaque) and isinstance(a.state, Uncaptured)
    with pytest.raises(Incomparable, match="cannot compare values of type .*; declare a kernel()") as raised:
        same(a, captured(make))
    assert raised.value.type_name == a.type
    for wrap in (lambda v: [v], lambda v: {"k": v}, lambda v: (1, v)):
        with pytest.raises(Incomparable):
            same(captured(make, wrap), captured(make, wrap))


def captured(make, wrap=lambda v: v):
    value = make()
    try:
        return back(wrap(value))
    finally:
        getattr(value, "close", lambda: None)()


def test_incomparable_inside_sets_and_keys_and_against_other_types():
    lock = threading.Lock()
    with pytest.raises(Incomparable):
        same(back(frozenset({(1, lock)})), back(frozenset({(1, lock)})))
    with pytest.raises(Incomparable):
        same(back({lock: 1}), back({lock: 1}))
    assert not same(back(generator()), back([1]))  # a real difference of type is still a difference
    assert not same(back([1, generator()]), back([2, generator()]))


def test_size_limits_hold_for_tensors():
    big = torch.zeros(MAX_BYTES // 4 + 1)
    data = encode([big])
    assert len(data) < MAX_BYTES and isinstance(decode(data)[0].state, Uncaptured)
    with pytest.raises(Incomparable):
        same(decode(data), decode(data))


@pytest.mark.parametrize("change", [
    {"dtype": "object"}, {"shape": [5]}, {"shape": [-1]}, {"data": "!!"}, {"attrs": [["device", [1]]]},
])
def test_malformed_tensors_are_decode_errors(change):
    plain = {**json.loads(encode(torch.ones(2))), **change}
    with pytest.raises(DecodeError):
        decode(json.dumps(plain).encode())


class _Returns:
    """An executor whose every call returns ``value`` (already decoded)."""

    def __init__(self, value):
        self.value = value

    def call(self, side, target, args, kwargs, receiver=None):
        from verifiers._contract import Outcome, OutcomeKind

        return Outcome(OutcomeKind.RETURNED, value=self.value)


def test_the_smt_replay_reports_incomparable_values_as_an_error_never_a_verdict():
    from types import SimpleNamespace

    from properties import Kind
    from verifiers.smt._check import Replayer

    obligation = SimpleNamespace(kind=Kind.EQUIVALENT, target="m.f", old_source="...", spec=None)
    plan = SimpleNamespace(obligation=obligation, new_info=SimpleNamespace(name="m"), names=["n"],
                           keyword_only=[False], omitted=())
    result = Replayer(plan, SimpleNamespace(executor=_Returns(back(generator())))).replay([1])
    assert not result.fails and "cannot compare values of type builtins.generator" in result.error
    result = Replayer(plan, SimpleNamespace(executor=_Returns(back(torch.ones(2))))).replay([1])
    assert not result.fails and not result.error
