"""What a kernel parameter's annotation says: whether it takes an array, its dtype, its dims.

Read from the source with ``ast``; the kernel is never imported in the trusted process.
Arrays are ``torch.Tensor``, ``Tensor``, ``jax.Array``, ``jnp.ndarray`` (also inside
``Optional[...]``, ``... | None`` or a quoted annotation).  ``torch.LongTensor``,
``IntTensor``, ``ShortTensor``, ``ByteTensor`` and ``CharTensor`` (qualified or not)
are integer, ``BoolTensor`` boolean, ``FloatTensor``/``DoubleTensor``/``HalfTensor``
float.  jaxtyping's ``Dtype[array, "dims"]`` (``jaxtyping.``-qualified or not) takes
its dtype from the name: ``Bool``; ``Int``, ``Int64``, ``UInt8``, ``Integer``, ...;
``Float``, ``Float32``, ``BFloat16``, ``Inexact``; while ``Shaped``, ``Num`` and
``Real`` state no dtype.

A shape string is space-separated symbols: a name, a literal size, ``*name`` or ``...``
(a variadic group of dims), and ``""`` for a scalar.  The ``#``, ``_`` and ``?``
prefixes are dropped (a consistent size is valid for them too), ``name=size`` keeps
the size, and a lone ``_`` is a dim of its own.  Anything else (``dim-1``) leaves the
parameter without dims: it gets the case's shape, as an unannotated tensor does.

Sizes for one case come from that case's shape: names, in order of first appearance
across the signature, take its dims right-aligned (``"batch seq dim"`` on ``(4, 37,
96)`` gives 4, 37, 96); names beyond its rank take one of its dims at random; a
variadic group takes (up to two of) the leading dims left over, else 0-2 drawn ones.
Then the largest sizes are shrunk until every tensor has at most ``CAP`` elements.
Dims a caller pins (``fixed``: the threshold cases' ``{"dim": 4096}``) keep their size,
and the cap can be raised for them (``cap``); only the other dims shrink.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass

import numpy as np

__all__ = ["CAP", "Annotation", "Dims", "dotted", "read", "shapes"]

Dims = tuple[str | int, ...]
CAP = 20_000
_ARRAYS = ("torch.Tensor", "Tensor", "jax.Array", "jnp.ndarray", "jax.numpy.ndarray", "Array", "jnp.Array",
          "jaxtyping.Array")
_TYPED_TORCH = {"LongTensor": "int", "IntTensor": "int", "ShortTensor": "int", "ByteTensor": "int",
                "CharTensor": "int", "BoolTensor": "bool", "FloatTensor": "float", "DoubleTensor": "float",
                "HalfTensor": "float", "BFloat16Tensor": "float"}
_JAXTYPING = ((re.compile(r"Bool"), "bool"), (re.compile(r"U?Int\d*|Integer"), "int"),
              (re.compile(r"B?Float\d*|Inexact"), "float"), (re.compile(r"Shaped|Num|Real"), None))
_OPTIONAL = ("Optional", "typing.Optional", "Union", "typing.Union")


@dataclass(frozen=True, slots=True)
class Annotation:
    """An array annotation: ``dtype`` is "float", "int", "bool" or None (not stated); ``dims`` None if not stated."""

    dtype: str | None = None
    dims: Dims | None = None


def read(node: ast.expr | None, param: str) -> Annotation | None:
    """The array annotation ``node`` states for parameter ``param``, or None when it states no array."""
    found = _structured(_unwrap(node), param)
    if found is None and node is not None and _legacy(ast.unparse(node)):
        return Annotation()
    return found


def _structured(node: ast.expr | None, param: str) -> Annotation | None:
    name = dotted(node) if node is not None else ""
    last = name.rpartition(".")[2]
    if name in _ARRAYS:
        return Annotation()
    if last in _TYPED_TORCH and name.split(".")[0] in ("torch", last):
        return Annotation(_TYPED_TORCH[last])
    return _jaxtyping(node, param) if isinstance(node, ast.Subscript) else None


def _jaxtyping(node: ast.Subscript, param: str) -> Annotation | None:
    dtype = [d for pattern, d in _JAXTYPING if pattern.fullmatch(dotted(node.value).rpartition(".")[2])]
    parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else []
    if not dtype or len(parts) != 2 or dotted(parts[0]) not in _ARRAYS:
        return None
    shape = parts[1]
    text = shape.value if isinstance(shape, ast.Constant) and isinstance(shape.value, str) else None
    return Annotation(dtype[0], _dims(text, param) if text is not None else None)


def _legacy(note: str) -> bool:
    # The textual reading that came before parsing, kept so that nothing read as a tensor then is lost now.
    return any(note == t or note.endswith(f"[{t}]") or note.startswith(f"{t} |") or note.endswith(f"| {t}")
               for t in _ARRAYS + ("torch.FloatTensor",))


def _unwrap(node: ast.expr | None) -> ast.expr | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        try:
            node = ast.parse(node.value, mode="eval").body
        except SyntaxError:
            return None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _one(node.left, node.right)
    if isinstance(node, ast.Subscript) and dotted(node.value) in _OPTIONAL:
        return _one(*(node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]))
    return node


def _one(*options: ast.expr) -> ast.expr | None:
    kept = [o for o in options if not (isinstance(o, ast.Constant) and o.value is None)]
    return _unwrap(kept[0]) if len(kept) == 1 else None


def dotted(node: ast.expr) -> str:
    """`torch.nn.Module` for a name or attribute chain; "" for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = dotted(node.value)
        return f"{head}.{node.attr}" if head else ""
    return ""


def _dims(text: str, param: str) -> Dims | None:
    found: list[str | int] = []
    for index, raw in enumerate(text.split()):
        token = raw.rpartition("=")[2]
        bare = token.lstrip("*#_?")
        stars = token[:len(token) - len(bare)].count("*")
        if token == "..." or stars:
            if stars > 1 or (bare not in ("", "...") and not bare.isidentifier()):
                return None
            found.append("*" + (bare if bare.isidentifier() else "..."))
        elif bare.isascii() and bare.isdigit():  # "²".isdigit() is True; int("²") fails
            found.append(int(bare))
        elif bare.isidentifier():
            found.append(bare)
        elif token == "_":
            found.append(f"_{param}.{index}")  # unchecked: a size of its own, never shared
        else:
            return None
    return tuple(found)


def shapes(dims: dict[str, Dims], case: tuple[int, ...], rng: np.random.Generator,
           fixed: dict[str, int | tuple[int, ...]] | None = None,
           cap: int = CAP) -> tuple[dict[str, tuple[int, ...]], dict[str, int]]:
    """Each parameter's shape for one case, and the size of each named dim (see the module docstring).

    ``fixed`` pins named dims (``{"dim": 4096}``) and variadic groups (``{"*batch": (2, 3)}``)
    whatever the case's shape says; shrinking to ``cap`` elements never touches them.
    """
    fixed = fixed or {}
    pool = case or (1,)
    names = list(dict.fromkeys(d for ds in dims.values() for d in ds if isinstance(d, str) and d[0] != "*"))
    named = {name: pool[-i] if i <= len(case) else int(rng.choice(pool))
             for i, name in enumerate(reversed(names), 1)}
    leftover = tuple(case[:max(len(case) - len(names), 0)])[-2:]
    groups = {d: leftover or tuple(int(rng.choice(pool)) for _ in range(rng.integers(0, 3)))
              for ds in dims.values() for d in ds if isinstance(d, str) and d[0] == "*"}
    named.update({k: v for k, v in fixed.items() if isinstance(v, int) and k in named})
    groups.update({k: tuple(v) for k, v in fixed.items() if isinstance(v, tuple) and k in groups})
    for ds in dims.values():  # shrinking only ever lowers the other tensors' sizes too
        _fit(ds, named, groups, cap, set(fixed))
    return {p: _shape(ds, named, groups) for p, ds in dims.items()}, named


def _shape(dims: Dims, named: dict[str, int], groups: dict[str, tuple[int, ...]]) -> tuple[int, ...]:
    found: list[int] = []
    for dim in dims:
        if isinstance(dim, int):
            found.append(dim)
        else:
            found.extend(groups[dim] if dim in groups else (named[dim],))
    return tuple(found)


def _fit(dims: Dims, named: dict[str, int], groups: dict[str, tuple[int, ...]], cap: int,
         pinned: set[str]) -> None:
    while math.prod(_shape(dims, named, groups)) > cap:
        free = [(named[d], d, -1) for d in dims if d in named and d not in pinned]
        free += [(n, d, i) for d in dims if d in groups and d not in pinned for i, n in enumerate(groups[d])]
        size, key, at = max(free, default=(1, "", -1))
        if size <= 1:
            return
        if at < 0:
            named[key] = _half(size)
        else:
            groups[key] = groups[key][:at] + (_half(size),) + groups[key][at + 1:]


def _half(size: int) -> int:
    return max(1, (size // 2) | 1)  # stays odd: odd sizes are where vectorised tails go wrong
