"""The ``$ndarray`` tag of the boundary codec: dtypes (bfloat16 included), shapes, and refusals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

from verifiers._values import DecodeError, Opaque, decode, encode


@pytest.mark.parametrize("array", [
    np.arange(6.0).reshape(2, 3), np.arange(6.0).reshape(2, 3).T, np.array([True, False]),
    np.arange(4, dtype=">i4"), np.zeros((0, 3), np.float32), np.array(1.5, dtype=ml_dtypes.bfloat16),
    np.array([np.nan, -0.0, np.inf], np.float16), np.arange(3, dtype=np.uint8), np.array([1 + 2j]),
])
def test_round_trip_keeps_dtype_shape_and_bits(array):
    back = decode(encode(array))
    assert back.dtype == array.dtype.newbyteorder("=") and back.shape == array.shape
    assert back.tobytes() == np.ascontiguousarray(array, dtype=back.dtype).tobytes()
    assert back.flags.writeable


def test_arrays_nest_in_containers():
    value = {"out": (np.ones(2), [np.zeros((1, 1), np.int64)])}
    back = decode(encode(value))
    assert np.array_equal(back["out"][0], np.ones(2)) and back["out"][1][0].dtype == np.int64


def test_object_arrays_are_not_encoded_as_data():
    assert isinstance(decode(encode(np.array([object()]))), Opaque)


@pytest.mark.parametrize("bad", [
    b'{"$ndarray":"AAAA","dtype":"object","shape":[1]}',
    b'{"$ndarray":"AAAA","dtype":"float64","shape":[1]}',
    b'{"$ndarray":"AAAAAAAAAAA=","dtype":"float64","shape":[-1]}',
    b'{"$ndarray":"!!","dtype":"float64","shape":[1]}',
])
def test_malformed_arrays_are_decode_errors(bad):
    with pytest.raises(DecodeError):
        decode(bad)


def test_the_codec_still_imports_without_numpy():
    path = Path(__file__).resolve().parents[2] / "verifiers" / "_values.py"
    code = ("import importlib.util, sys; sys.modules['numpy'] = None; "
            f"spec = importlib.util.spec_from_file_location('c', {str(path)!r}); "
            "m = importlib.util.module_from_spec(spec); sys.modules['c'] = m; spec.loader.exec_module(m); "
            "print(m.decode(m.encode([1.5, (2,)])))")
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[1.5, (2,)]"


def test_same_compares_arrays_as_data():
    import numpy as np

    from verifiers._values import same

    a = np.array([0.0, np.nan, 1.5])
    assert same(a, a.copy())
    assert not same(a, np.array([-0.0, np.nan, 1.5]))  # the sign of zero counts
    assert not same(a, a.astype(np.float32))
    assert not same(np.arange(3), np.arange(3).reshape(3, 1))
    assert same(np.arange(3), np.arange(3)) and not same(np.arange(3), np.arange(1, 4))
