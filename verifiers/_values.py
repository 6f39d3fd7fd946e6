"""The data that crosses the boundary between the trusted gate and a worker.

Workers run untrusted code, so what they send back is decoded here as *data*
only: JSON, with tagged forms for the Python values JSON lacks.  Decoding never
imports, calls or unpickles anything, so a hostile worker can at most lie about
a value, never run code in the gate.  Objects the codec does not know travel as
``Opaque`` (type name plus their encoded state), and comparison happens on
those values, never through the candidate's own ``__eq__``.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import math
import struct
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Construct", "DecodeError", "Opaque", "decode", "encode", "same", "to_plain"]

MAX_DEPTH = 64
MAX_NODES = 100_000
MAX_BYTES = 64 * 1024 * 1024


class DecodeError(ValueError):
    """The bytes are not a well-formed encoded value (a protocol violation by the sender)."""


@dataclass(frozen=True, slots=True)
class Opaque:
    """An object the codec does not know natively: its type's qualified name and its state."""

    type: str
    state: Any = None


@dataclass(frozen=True, slots=True)
class Construct:
    """An input a worker builds by calling ``target`` (``"module:Qual.name"``) of the tree under test.

    Used for dataclasses, enums and the receiver of a method; the trusted process
    only describes the object, the worker makes it.
    """

    target: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = field(default=())


def encode(value: Any) -> bytes:
    """Encode plain data (and, for unknown objects, their state) as tagged JSON bytes."""
    return json.dumps(to_plain(value), separators=(",", ":"), allow_nan=False).encode()


def to_plain(value: Any) -> Any:
    """The JSON-ready tagged form of ``value``, at most ``MAX_NODES`` values large."""
    return _Plain().convert(value, 0, frozenset())


class _Plain:
    """One conversion, with a node budget so a huge object graph cannot stall a worker."""

    def __init__(self) -> None:
        self.left = MAX_NODES

    def convert(self, value: Any, depth: int, seen: frozenset[int]) -> Any:
        self.left -= 1
        if depth > MAX_DEPTH or self.left < 0:
            return {"$truncated": "too deep" if depth > MAX_DEPTH else "too large"}
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int) and not isinstance(value, enum.Enum):
            return value if type(value) is int else {"$object": _qualname(value), "state": int(value)}
        if isinstance(value, float) and type(value) is float:
            return {"$float": value.hex()}
        if id(value) in seen:
            return {"$cycle": _qualname(value)}
        return self._container(value, depth + 1, seen | {id(value)})

    def _container(self, value: Any, down: int, seen: frozenset[int]) -> Any:
        kind = type(value)
        if kind is complex:
            return {"$complex": [value.real.hex(), value.imag.hex()]}
        if kind in (bytes, bytearray):
            return {"$bytes": base64.b64encode(bytes(value)).decode(), "mutable": kind is bytearray}
        if kind is list:
            return [self.convert(v, down, seen) for v in value]
        if kind is tuple:
            return {"$tuple": [self.convert(v, down, seen) for v in value]}
        if kind in (set, frozenset):
            items = sorted((self.convert(v, down, seen) for v in value), key=_sort_key)
            return {"$set" if kind is set else "$frozenset": items}
        if kind is dict:
            return {"$dict": [[self.convert(k, down, seen), self.convert(v, down, seen)] for k, v in value.items()]}
        if isinstance(value, Construct):
            return {"$construct": value.target, "args": self.convert(value.args, down, seen),
                    "kwargs": [[k, self.convert(v, down, seen)] for k, v in value.kwargs]}
        if isinstance(value, Opaque):
            return {"$object": value.type, "state": self.convert(value.state, down, seen)}
        if _qualname(value) == "numpy.ndarray":
            return _ndarray_plain(value)
        return {"$object": _qualname(value), "state": self.convert(_state(value), down, seen)}


# numpy dtypes an ``$ndarray`` may carry; anything else (object, structured, datetime) is refused.
_NDARRAY_DTYPES = frozenset({
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128", "bfloat16"})


def _ndarray_plain(value: Any) -> Any:
    """A numpy array as dtype name, shape and raw little-endian bytes (numpy is imported lazily)."""
    import numpy

    name = value.dtype.name
    if name not in _NDARRAY_DTYPES:
        return {"$object": "numpy.ndarray", "state": f"unsupported dtype {name}"}
    raw = numpy.ascontiguousarray(value, dtype=value.dtype.newbyteorder("<")).tobytes()
    return {"$ndarray": base64.b64encode(raw).decode(), "dtype": name, "shape": list(value.shape)}


def _ndarray_value(plain: Mapping[str, Any]) -> Any:
    """The numpy array an ``$ndarray`` form stands for; checks dtype, shape and length."""
    import numpy

    name, shape = plain["dtype"], plain["shape"]
    if name not in _NDARRAY_DTYPES:
        raise ValueError(f"dtype {name!r} is not allowed")
    if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
        raise ValueError(f"bad shape {shape!r}")
    if name == "bfloat16":
        import ml_dtypes

        dtype = numpy.dtype(ml_dtypes.bfloat16)
    else:
        dtype = numpy.dtype(name).newbyteorder("<")
    raw = base64.b64decode(plain["$ndarray"], validate=True)
    if len(raw) != math.prod(shape) * dtype.itemsize:
        raise ValueError(f"{len(raw)} bytes do not fill shape {shape} of {name}")
    return numpy.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _state(value: Any) -> Any:
    if isinstance(value, (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
        return f"{getattr(value, '__module__', None) or ''}.{getattr(value, '__qualname__', getattr(value, '__name__', '?'))}"
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, BaseException):
        return [str(a) for a in value.args]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    try:
        state = vars(value)
    except TypeError:
        return repr(value)[:200]
    return dict(state)


def _qualname(value: Any) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def _sort_key(plain: Any) -> str:
    return json.dumps(plain, sort_keys=True)


def decode(data: bytes) -> Any:
    """Decode bytes from ``encode``; raises ``DecodeError`` on anything malformed.  Runs no code."""
    if len(data) > MAX_BYTES:
        raise DecodeError(f"encoded value of {len(data)} bytes exceeds the {MAX_BYTES}-byte limit")
    try:
        plain = json.loads(data)
    except (ValueError, RecursionError) as error:
        raise DecodeError(f"not valid JSON: {error}") from None
    return from_plain(plain)


def from_plain(plain: Any, _depth: int = 0) -> Any:
    """The value a tagged JSON form stands for."""
    if _depth > MAX_DEPTH + 2:
        raise DecodeError("nested too deeply")
    if plain is None or isinstance(plain, (bool, int, str)):
        return plain
    if isinstance(plain, float):
        raise DecodeError("untagged float; floats travel as {'$float': hex}")
    if isinstance(plain, list):
        return [from_plain(v, _depth + 1) for v in plain]
    if not isinstance(plain, dict) or len(plain) == 0:
        raise DecodeError(f"unexpected JSON value {plain!r:.80}")
    return _tagged(plain, _depth + 1)


def _tagged(plain: Mapping[str, Any], depth: int) -> Any:
    tag = next(iter(plain))
    try:
        if tag == "$float":
            return float.fromhex(plain[tag])
        if tag == "$complex":
            re, im = plain[tag]
            return complex(float.fromhex(re), float.fromhex(im))
        if tag == "$bytes":
            raw = base64.b64decode(plain[tag], validate=True)
            return bytearray(raw) if plain.get("mutable") else raw
        if tag == "$tuple":
            return tuple(from_plain(v, depth) for v in plain[tag])
        if tag in ("$set", "$frozenset"):
            items = [from_plain(v, depth) for v in plain[tag]]
            return frozenset(_hashable(i) for i in items) if tag == "$frozenset" else {_hashable(i) for i in items}
        if tag == "$dict":
            return {_hashable(from_plain(k, depth)): from_plain(v, depth) for k, v in plain[tag]}
        if tag == "$object":
            return Opaque(str(plain[tag]), _hashable(from_plain(plain.get("state"), depth)))
        if tag == "$construct":
            kwargs = tuple((str(k), from_plain(v, depth)) for k, v in plain.get("kwargs", []))
            return Construct(str(plain[tag]), tuple(from_plain(plain.get("args", {"$tuple": []}), depth)), kwargs)
        if tag == "$ndarray":
            return _ndarray_value(plain)
        if tag in ("$cycle", "$truncated"):
            return Opaque(tag, str(plain[tag]))
    except (TypeError, ValueError, KeyError, OverflowError) as error:
        raise DecodeError(f"malformed {tag} value: {error}") from None
    raise DecodeError(f"unknown tag {tag!r}")


def _hashable(value: Any) -> Any:
    """Lists and dicts inside sets, keys or opaque state become tuples so they can be hashed."""
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple((_hashable(k), _hashable(v)) for k, v in value.items())
    if isinstance(value, (set, bytearray)):
        return frozenset(value) if isinstance(value, set) else bytes(value)
    return value


def same(a: Any, b: Any) -> bool:
    """Equal as data: same types, floats bit for bit except NaN == NaN, containers element-wise."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return len(a) == len(b) and all(k in b and same(v, b[k]) for k, v in a.items())
    if isinstance(a, (set, frozenset)):
        return _sorted_plain(a) == _sorted_plain(b)
    if isinstance(a, Opaque):
        return a.type == b.type and same(a.state, b.state)
    if type(a).__name__ == "ndarray":
        return _same_array(a, b)
    if isinstance(a, Construct):
        return a == b
    return bool(a == b)


def _same_array(a: Any, b: Any) -> bool:
    """Arrays as data: same dtype and shape, elements bit for bit except that NaN equals NaN."""
    import numpy as np

    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.tobytes() == b.tobytes():
        return True
    if a.dtype.kind not in "fc":
        return False
    return bool(np.array_equal(a, b, equal_nan=True) and np.array_equal(np.signbit(a), np.signbit(b)))


def _sorted_plain(items: Any) -> list[str]:
    return sorted(_sort_key(to_plain(i)) for i in items)
