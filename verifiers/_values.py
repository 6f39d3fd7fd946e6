"""The data that crosses the boundary between the trusted gate and a worker.

Workers run untrusted code, so what they send back is decoded here as *data*
only: JSON, with tagged forms for the Python values JSON lacks.  Decoding never
imports, calls or unpickles anything, so a hostile worker can at most lie about
a value, never run code in the gate.  Objects the codec does not know travel as
``Opaque`` (type name plus their encoded state), torch and jax arrays as
``TensorData`` (numpy arrays on the trusted side: decoding never imports torch or
jax), and comparison happens on those values, never through the candidate's own
``__eq__``.  A value whose content cannot be captured (code, a generator, a lock,
a file, a C object with no readable state, a graph too large) travels as an
``Opaque`` whose state is ``Uncaptured``, and ``same`` refuses to compare it by
raising ``Incomparable``: such values are never reported equal, nor different.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import itertools
import json
import math
import struct
import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Construct", "DecodeError", "Incomparable", "Opaque", "TensorData", "Uncaptured", "decode", "encode",
           "same", "to_plain"]

MAX_DEPTH = 64
MAX_NODES = 100_000
MAX_BYTES = 64 * 1024 * 1024
# Raw array and bytes content one encoded value may carry: base64 grows it by a third, and the
# whole message must stay under MAX_BYTES.
MAX_RAW_BYTES = MAX_BYTES // 2
_HEAPTYPE = 1 << 9
# Values that are code or machinery, not data: what they would compute is not their content.
_CODE = (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType, types.MethodType,
         types.GeneratorType, types.CoroutineType, types.AsyncGeneratorType, types.FrameType,
         types.CodeType, types.TracebackType)
# Views whose content is what they show, though pickle cannot describe them.
_VIEWS = (type({}.keys()), type({}.values()), type({}.items()), types.MappingProxyType)


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


@dataclass(frozen=True, slots=True)
class Uncaptured:
    """The state of an ``Opaque`` whose content the codec could not capture, and why."""

    reason: str


class Incomparable(Exception):
    """``same`` met values whose content was not captured, so it can say neither equal nor different."""

    def __init__(self, type_name: str, reason: str) -> None:
        super().__init__(f"cannot compare values of type {type_name}; declare a kernel() for tensor code, or "
                         f"return plain data (the codec could not capture its content: {reason})")
        self.type_name, self.reason = type_name, reason


@dataclass(frozen=True, slots=True, eq=False)
class TensorData:
    """A torch or jax array as data: its type, dtype name, attributes and elements as a numpy array.

    ``array`` has the dtype ``dtype`` names, except bfloat16, widened exactly to float32.
    Compare with ``same``; ``==`` is identity.
    """

    type: str
    dtype: str
    array: Any
    attrs: tuple[tuple[str, Any], ...] = ()
    state: Any = None

    def __repr__(self) -> str:
        import numpy

        body = numpy.array2string(self.array, threshold=24, separator=", ")
        attrs = "".join(f", {k}={v}" for k, v in self.attrs)
        return f"{self.type}({body}, dtype={self.dtype}, shape={tuple(self.array.shape)}{attrs})"


class _NotData(Exception):
    """Raised while encoding a value whose content cannot be captured; it travels as ``Uncaptured``."""


def encode(value: Any) -> bytes:
    """Encode plain data (and, for unknown objects, their state) as tagged JSON bytes."""
    return json.dumps(to_plain(value), separators=(",", ":"), allow_nan=False).encode()


def to_plain(value: Any) -> Any:
    """The JSON-ready tagged form of ``value``, at most ``MAX_NODES`` values large."""
    return _Plain().convert(value, 0, frozenset())


class _Plain:
    """One conversion, with node and byte budgets so a huge object graph cannot stall a worker."""

    def __init__(self) -> None:
        self.left, self.room = MAX_NODES, MAX_RAW_BYTES

    def convert(self, value: Any, depth: int, seen: frozenset[int]) -> Any:
        self.left -= 1
        if depth > MAX_DEPTH or self.left < 0:
            why = f"it is nested over {MAX_DEPTH} deep" if depth > MAX_DEPTH else f"it is over {MAX_NODES} values large"
            return _uncaptured(_qualname(value), why)
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int) and not isinstance(value, enum.Enum):
            return value if type(value) is int else {"$object": _qualname(value), "state": int(value)}
        if isinstance(value, float) and type(value) is float:
            return {"$float": value.hex()}
        if id(value) in seen:
            return _uncaptured(_qualname(value), "it holds a reference cycle")
        try:
            return self._container(value, depth + 1, seen | {id(value)})
        except Exception as error:  # noqa: BLE001 - content the codec cannot read is uncaptured, never an error
            why = str(error) if isinstance(error, _NotData) else f"reading it raised {type(error).__name__}: {error}"
            return _uncaptured(_qualname(value), why[:300])

    def spend(self, size: int) -> None:
        """Count ``size`` raw bytes against the budget of one value."""
        self.room -= size
        if self.room < 0:
            raise _NotData(f"its content is over the {MAX_RAW_BYTES}-byte limit of one encoded value")

    def _container(self, value: Any, down: int, seen: frozenset[int]) -> Any:
        kind = type(value)
        if kind is complex:
            return {"$complex": [value.real.hex(), value.imag.hex()]}
        if kind in (bytes, bytearray):
            self.spend(len(value))
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
        return self._object(value, down, seen)

    def _object(self, value: Any, down: int, seen: frozenset[int]) -> Any:
        plain = _array_plain(value, self)
        if plain is None:
            return {"$object": _qualname(value), "state": self.convert(_state(value), down, seen)}
        extra = getattr(value, "__dict__", None)
        if extra and "$tensor" in plain:
            plain["state"] = self.convert(dict(extra), down, seen)
        return plain


def _uncaptured(type_name: str, reason: str) -> dict[str, Any]:
    return {"$object": type_name, "state": {"$uncaptured": reason}}


# Array dtypes that travel as data; anything else (object, structured, datetime, float8) is uncaptured.
_NDARRAY_DTYPES = frozenset({
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128", "bfloat16"})


def _array_plain(value: Any, budget: _Plain) -> dict[str, Any] | None:
    """The tagged form of a numpy, torch or jax array, or None for any other value.

    torch and jax are never imported here: a value can only be their array if the code
    that made it imported them already.
    """
    if _qualname(value) == "numpy.ndarray":
        return _ndarray_plain(value, budget)
    torch, jax = sys.modules.get("torch"), sys.modules.get("jax")
    if torch is not None and isinstance(value, torch.Tensor):
        return _torch_plain(value, torch, budget)
    if jax is not None and isinstance(value, getattr(jax, "Array", ())):
        return _jax_plain(value, budget)
    return None


def _dtype_checked(name: str) -> str:
    if name not in _NDARRAY_DTYPES:
        raise _NotData(f"its dtype {name} is not one the codec captures ({', '.join(sorted(_NDARRAY_DTYPES))})")
    return name


def _ndarray_plain(value: Any, budget: _Plain) -> dict[str, Any]:
    """A numpy array as dtype name, shape and raw little-endian bytes (numpy is imported lazily)."""
    import numpy

    name = _dtype_checked(value.dtype.name)
    budget.spend(value.nbytes)
    raw = numpy.ascontiguousarray(value, dtype=value.dtype.newbyteorder("<")).tobytes()
    return {"$ndarray": base64.b64encode(raw).decode(), "dtype": name, "shape": list(value.shape)}


def _torch_plain(value: Any, torch: Any, budget: _Plain) -> dict[str, Any]:
    """A torch tensor (Parameter and subclasses too) by dtype, shape, elements, device type and requires_grad."""
    tensor = value.detach()
    if tensor.layout is not torch.strided:
        raise _NotData(f"a {tensor.layout} tensor has no plain elements the codec reads")
    name = _dtype_checked(str(tensor.dtype).removeprefix("torch."))
    attrs = [["device", tensor.device.type], ["requires_grad", bool(value.requires_grad)]]
    tensor = tensor.cpu().resolve_conj().resolve_neg().contiguous()
    array = (tensor.view(torch.int16) if name == "bfloat16" else tensor).numpy()
    return _tensor_plain(value, name, array, attrs, budget)


def _jax_plain(value: Any, budget: _Plain) -> dict[str, Any]:
    """A jax array by dtype, shape, elements, device platform and weak type."""
    import numpy

    name = _dtype_checked(str(value.dtype))
    attrs = [["device", next(iter(value.devices())).platform], ["weak_type", bool(value.weak_type)]]
    array = numpy.asarray(value)
    return _tensor_plain(value, name, array.view(numpy.int16) if name == "bfloat16" else array, attrs, budget)


def _tensor_plain(value: Any, name: str, array: Any, attrs: list[list[Any]], budget: _Plain) -> dict[str, Any]:
    """``array`` holds the elements, bfloat16 as their int16 bits; they travel as little-endian bytes."""
    import numpy

    budget.spend(array.nbytes)
    raw = numpy.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()
    return {"$tensor": _qualname(value), "dtype": name, "shape": list(array.shape),
            "data": base64.b64encode(raw).decode(), "attrs": attrs}


def _raw_array(data: Any, dtype: Any, shape: Any, name: str) -> Any:
    """The numpy array of ``dtype`` and ``shape`` that base64 ``data`` holds; checks shape and length."""
    import numpy

    if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
        raise ValueError(f"bad shape {shape!r}")
    raw = base64.b64decode(data, validate=True)
    if len(raw) != math.prod(shape) * dtype.itemsize:
        raise ValueError(f"{len(raw)} bytes do not fill shape {shape} of {name}")
    return numpy.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _ndarray_value(plain: Mapping[str, Any]) -> Any:
    """The numpy array an ``$ndarray`` form stands for; checks dtype, shape and length."""
    import numpy

    name = plain["dtype"]
    if name not in _NDARRAY_DTYPES:
        raise ValueError(f"dtype {name!r} is not allowed")
    if name == "bfloat16":
        import ml_dtypes

        dtype = numpy.dtype(ml_dtypes.bfloat16)
    else:
        dtype = numpy.dtype(name).newbyteorder("<")
    return _raw_array(plain["$ndarray"], dtype, plain["shape"], name)


def _tensor_value(plain: Mapping[str, Any], depth: int) -> TensorData:
    """The ``TensorData`` a ``$tensor`` form stands for; bfloat16 bits are widened exactly to float32."""
    import numpy

    name = plain["dtype"]
    if name not in _NDARRAY_DTYPES:
        raise ValueError(f"dtype {name!r} is not allowed")
    dtype = numpy.dtype("<u2" if name == "bfloat16" else name).newbyteorder("<")
    array = _raw_array(plain["data"], dtype, plain["shape"], name)
    if name == "bfloat16":
        array = (array.astype(numpy.uint32) << 16).view(numpy.float32)
    attrs = tuple((str(k), v) for k, v in plain["attrs"])
    if not all(isinstance(v, (str, bool)) for _, v in attrs):
        raise ValueError(f"bad attributes {attrs!r:.80}")
    state = _hashable(from_plain(plain["state"], depth)) if "state" in plain else None
    return TensorData(str(plain["$tensor"]), name, array, attrs, state)


def _state(value: Any) -> Any:
    """The data an object of a type the codec does not know consists of; ``_NotData`` where it is hidden."""
    if isinstance(value, _CODE):
        raise _NotData("it is code (a module, class, function, method or generator), not data")
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, BaseException):
        return [str(a) for a in value.args]
    if dataclasses.is_dataclass(value):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, _VIEWS):
        return dict(value) if isinstance(value, types.MappingProxyType) else list(value)
    if hasattr(value, "__dict__") and _dict_is_everything(type(value)):
        return dict(vars(value))
    return _reduced(value)


def _dict_is_everything(kind: type) -> bool:
    """Whether ``kind``'s instances keep all their state in ``__dict__``: no slots, and no C base below
    ``object`` (a static type, such as ``list`` or ``io.StringIO``, keeps its content elsewhere)."""
    return not any("__slots__" in c.__dict__ or not c.__flags__ & _HEAPTYPE for c in kind.__mro__[:-1])


def _reduced(value: Any) -> Any:
    """An object's state as pickle protocol 4 describes it (no pickling; iterators drained, within budget)."""
    try:
        reduced = value.__reduce_ex__(4)
    except Exception as error:  # noqa: BLE001 - a value pickle cannot describe has no readable state
        raise _NotData(f"its state is not visible to Python ({type(error).__name__}: {error})") from None
    if isinstance(reduced, str):
        return {"global": reduced}
    maker, args, state, items, pairs = (*reduced, None, None, None)[:5]
    return {"maker": _name(maker), "args": tuple(_name(a) if isinstance(a, type) else a for a in args),
            "state": state, "items": _drain(items), "pairs": _drain(pairs)}


def _name(thing: Any) -> str:
    return f"{getattr(thing, '__module__', None) or ''}.{getattr(thing, '__qualname__', None) or type(thing).__name__}"


def _drain(iterator: Any) -> list[Any] | None:
    return None if iterator is None else list(itertools.islice(iterator, MAX_NODES + 1))


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
        if tag == "$tensor":
            return _tensor_value(plain, depth)
        if tag == "$uncaptured":
            return Uncaptured(str(plain[tag]))
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
    """Equal as data: same types, floats bit for bit except NaN == NaN, containers element-wise.

    Arrays and tensors compare by type, dtype, shape, attributes and elements.  Raises
    ``Incomparable`` where it meets values of one type whose content was not captured:
    the answer would be a guess, so there is none.
    """
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, complex):
        return same(a.real, b.real) and same(a.imag, b.imag)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        _refuse_uncaptured([*a, *b])
        return len(a) == len(b) and all(k in b and same(v, b[k]) for k, v in a.items())
    if isinstance(a, (set, frozenset)):
        _refuse_uncaptured([*a, *b])
        return _sorted_plain(a) == _sorted_plain(b)
    if isinstance(a, Opaque):
        if a.type != b.type:
            return False
        _refuse_uncaptured([a, b], deep=False)
        return same(a.state, b.state)
    if isinstance(a, TensorData):
        return ((a.type, a.dtype, a.attrs) == (b.type, b.dtype, b.attrs) and same(a.state, b.state)
                and _same_array(a.array, b.array))
    if type(a).__name__ == "ndarray":
        return _same_array(a, b)
    if isinstance(a, Construct):
        return a == b
    if isinstance(a, Uncaptured):
        raise Incomparable("an uncaptured value", a.reason)
    return bool(a == b)


def _refuse_uncaptured(items: Any, *, deep: bool = True) -> None:
    """Raise ``Incomparable`` for the first uncaptured value in ``items`` (decoded, hashable values)."""
    for item in items:
        if isinstance(item, Opaque) and isinstance(item.state, Uncaptured):
            raise Incomparable(item.type, item.state.reason)
        if deep and isinstance(item, (tuple, frozenset, Opaque)):
            _refuse_uncaptured((item.state,) if isinstance(item, Opaque) else item)


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
