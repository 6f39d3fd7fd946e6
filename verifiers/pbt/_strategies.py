"""Annotation -> input domain: a hypothesis strategy, boundary values tried first, and a simple value.

Every strategy mixes the boundary values in, ``one_of(general, sampled_from(boundaries))``:
general first, because hypothesis shrinks a ``one_of`` toward its earlier branch, so a
failure first hit at a boundary still shrinks into the general strategy.
"""

from __future__ import annotations

import ast
import itertools
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from verifiers._values import Construct
from verifiers.pbt._boundaries import Mined, float_boundaries, int_boundaries, int_specific
from verifiers.pbt._triggers import lengths, structured, transforms, unique
from verifiers.pbt._signature import ModuleTypes, Unsupported

__all__ = ["Domain", "domain"]

# A fixed alphabet: st.text()'s default computes Unicode tables and caches them on disk.
_ALPHABET = "abcAZ09 _-.\n\t\x00éßİΩ中\u200b😀"
_MAX_BOUNDARIES = 64
_MAX_SPECIFIC = 24
_DEPTH = 6
_SIMPLE_NAMES = {"List": "list", "Tuple": "tuple", "Dict": "dict", "Set": "set", "FrozenSet": "frozenset",
                 "Sequence": "list", "MutableSequence": "list", "Mapping": "dict", "MutableMapping": "dict",
                 "AbstractSet": "frozenset", "Optional": "Optional", "Union": "Union", "Literal": "Literal"}


@dataclass(frozen=True, slots=True)
class Domain:
    """The inputs of one parameter: how to generate them, which to try first, and the simplest one.

    ``specific`` are the boundaries taken from the code (no generic 0, ±1 or empty values),
    most specific first: the values combined with other parameters' in pairs.
    """

    strategy: st.SearchStrategy[Any]
    boundaries: tuple[Any, ...]
    simple: Any
    specific: tuple[Any, ...] = ()


def domain(annotation: ast.expr | None, types: ModuleTypes, mined: Mined, _depth: int = 0) -> Domain:
    """The domain of ``annotation``; raises ``Unsupported`` naming the annotation if there is none."""
    if annotation is None:
        raise Unsupported("it has no annotation")
    if _depth > _DEPTH:
        raise Unsupported(f"`{ast.unparse(annotation)}` nests too deeply")
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            annotation = ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            raise Unsupported(f"the string annotation {annotation.value!r} does not parse") from None
    if isinstance(annotation, ast.Constant) and annotation.value is None:
        return Domain(st.none(), (None,), None)
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        return _union([annotation.left, annotation.right], types, mined, _depth)
    if isinstance(annotation, ast.Subscript):
        return _generic(annotation, types, mined, _depth)
    name = _name(annotation)
    if name in _SCALARS:
        return _SCALARS[name](mined)
    if name in types.enums:
        return _enum(f"{types.module}:{name}", types.enums[name])
    if name in types.dataclasses:
        return _record(f"{types.module}:{name}", types, mined, _depth)
    raise Unsupported(f"the gate has no strategy for `{ast.unparse(annotation)}`")


def _name(node: ast.expr) -> str:
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return _SIMPLE_NAMES.get(name, name)


def _cap(values: list[Any]) -> tuple[Any, ...]:
    return tuple(values[:_MAX_BOUNDARIES])


def _mixed(general: st.SearchStrategy[Any], boundaries: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    return st.one_of(general, st.sampled_from(boundaries)) if boundaries else general


def _specific(values: list[Any], generic: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(v for v in unique(values) if not any(type(v) is type(g) and repr(v) == repr(g) for g in generic))[
        :_MAX_SPECIFIC]


def _int(mined: Mined) -> Domain:
    bounds = _cap(int_boundaries(mined))
    exact = int_specific(mined)
    neighbours = [n + d for n in exact for d in (1, -1)]
    return Domain(_mixed(st.integers(), bounds), bounds, 0, _specific([*exact, *neighbours], (0,)))


def _float(mined: Mined) -> Domain:
    bounds = _cap(float_boundaries(mined))
    exact = [float(n) for n in mined.numbers if abs(n) <= 1e308]
    return Domain(_mixed(st.floats(), bounds), bounds, 0.0, _specific([*exact, *bounds[11:]], (0.0,)))


def _texts(mined: Mined) -> list[str]:
    """The str parameter's mined values: literals, prefix+digits, regex matches, transforms, printed ints, sizes."""
    sizes = lengths(mined.sizes)[0]
    return unique([*mined.strings, *structured(mined.prefixes, mined.sizes),
                   *[m for m in mined.matches if isinstance(m, str)], *transforms(mined.strings),
                   *[str(n) for n in mined.numbers if isinstance(n, int) and abs(n) < 10**20], *["a" * n for n in sizes]])


def _str(mined: Mined) -> Domain:
    texts = _texts(mined)
    bounds = _cap(unique(["", "a", *texts]))
    return Domain(_mixed(st.text(alphabet=_ALPHABET, max_size=20), bounds), bounds, "", _specific(texts, ("",)))


def _bytes(mined: Mined) -> Domain:
    blobs = unique([*mined.blobs, *[m for m in mined.matches if isinstance(m, bytes)], *transforms(mined.blobs),
                    *[b"\x00" * n for n in lengths(mined.sizes)[0]]])
    bounds = _cap(unique([b"", b"\x00", *blobs]))
    return Domain(_mixed(st.binary(max_size=20), bounds), bounds, b"", _specific(blobs, (b"",)))


def _sized(kind: Any, item: Domain, mined: Mined) -> list[Any]:
    """Containers of each mined length (and one either side), filled with the item's simple value."""
    return [kind([item.simple] * n) for n in lengths(mined.sizes)[0]]


_SCALARS = {
    "int": _int,
    "float": _float,
    "bool": lambda mined: Domain(st.booleans(), (False, True), False, (True,)),
    "str": _str,
    "bytes": _bytes,
    "None": lambda mined: Domain(st.none(), (None,), None),
    "NoneType": lambda mined: Domain(st.none(), (None,), None),
}


def _union(options: list[ast.expr], types: ModuleTypes, mined: Mined, depth: int) -> Domain:
    parts = [domain(o, types, mined, depth + 1) for o in options]
    has_none = any(p.simple is None and p.boundaries == (None,) for p in parts)
    bounds = _unique([None] if has_none else [], *(p.boundaries for p in parts))
    simple = None if has_none else parts[0].simple
    specific = tuple(unique(itertools.chain(*(p.specific for p in parts))))[:_MAX_SPECIFIC]
    return Domain(st.one_of(*(p.strategy for p in parts)), _cap(bounds), simple, specific)


def _unique(first: list[Any], *groups: tuple[Any, ...]) -> list[Any]:
    out = list(first)
    for value in itertools.chain(*groups):
        if not any(type(v) is type(value) and repr(v) == repr(value) for v in out):
            out.append(value)
    return out


def _generic(node: ast.Subscript, types: ModuleTypes, mined: Mined, depth: int) -> Domain:
    name = _name(node.value)
    args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
    if name == "Optional":
        return _union([*args, ast.Constant(None)], types, mined, depth)
    if name == "Union":
        return _union(args, types, mined, depth)
    if name == "Literal":
        try:
            values = [ast.literal_eval(a) for a in args]
        except ValueError:
            raise Unsupported(f"`{ast.unparse(node)}` has a value that is not a literal") from None
        return Domain(st.sampled_from(values), _cap(values), values[0], tuple(values[1:_MAX_SPECIFIC + 1]))
    if name == "tuple":
        return _tuple(node, args, types, mined, depth)
    if name in ("list", "set", "frozenset"):
        item = domain(args[0], types, mined, depth + 1)
        kind = {"list": list, "set": set, "frozenset": frozenset}[name]
        maker = st.lists if name == "list" else st.sets if name == "set" else st.frozensets
        general = maker(item.strategy, max_size=8)
        sized = _sized(kind, item, mined) if kind is list else []
        bounds = [kind()] + _singletons(kind, item.boundaries) + sized
        specific = sized + _singletons(kind, item.specific[:8])
        return Domain(_mixed(general, _cap(bounds)), _cap(bounds), kind(), tuple(specific[:_MAX_SPECIFIC]))
    if name == "dict":
        key, value = (domain(a, types, mined, depth + 1) for a in args)
        bounds = [{}] + [{k: value.simple} for k in key.boundaries[:8] if _hashable(k)]
        return Domain(_mixed(st.dictionaries(key.strategy, value.strategy, max_size=8), _cap(bounds)), _cap(bounds), {})
    raise Unsupported(f"the gate has no strategy for `{ast.unparse(node)}`")


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _singletons(kind: type, items: tuple[Any, ...]) -> list[Any]:
    return [kind([i]) for i in items[:16] if kind is list or _hashable(i)]


def _tuple(node: ast.Subscript, args: list[ast.expr], types: ModuleTypes, mined: Mined, depth: int) -> Domain:
    if len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is Ellipsis:
        item = domain(args[0], types, mined, depth + 1)
        sized = _sized(tuple, item, mined)
        bounds = [()] + [(b,) for b in item.boundaries[:16]] + sized
        specific = tuple([*sized, *((b,) for b in item.specific[:8])][:_MAX_SPECIFIC])
        return Domain(_mixed(st.lists(item.strategy, max_size=8).map(tuple), _cap(bounds)), _cap(bounds), (),
                      specific)
    if len(args) == 1 and isinstance(args[0], ast.Tuple) and not args[0].elts:
        return Domain(st.just(()), ((),), ())
    parts = [domain(a, types, mined, depth + 1) for a in args]
    simple = tuple(p.simple for p in parts)
    bounds = [simple] + [simple[:i] + (b,) + simple[i + 1:] for i, p in enumerate(parts) for b in p.boundaries]
    specific = [simple[:i] + (b,) + simple[i + 1:] for i, p in enumerate(parts) for b in p.specific]
    return Domain(_mixed(st.tuples(*(p.strategy for p in parts)), _cap(bounds)), _cap(bounds), simple,
                  tuple(specific[:_MAX_SPECIFIC]))


def _enum(target: str, values: list[object]) -> Domain:
    if not values:
        raise Unsupported(f"enum {target} has no members the gate can read")
    members = tuple(Construct(target, (v,)) for v in values)
    return Domain(st.sampled_from(members), members[:_MAX_BOUNDARIES], members[0], members[1:_MAX_SPECIFIC + 1])


def _record(target: str, types: ModuleTypes, mined: Mined, depth: int) -> Domain:
    fields = types.dataclasses[target.partition(":")[2]]
    parts = {}
    for f in fields:
        try:
            parts[f.name] = domain(f.annotation, types, mined, depth + 1)
        except Unsupported as error:
            raise Unsupported(f"field {f.name!r} of dataclass {target}: {error}") from None
    names = list(parts)

    def build(values: tuple[Any, ...]) -> Construct:
        return Construct(target, (), tuple(zip(names, values)))

    simple = tuple(p.simple for p in parts.values())
    bounds = [simple] + [simple[:i] + (b,) + simple[i + 1:] for i, p in enumerate(parts.values()) for b in p.boundaries]
    boundaries = tuple(build(b) for b in _cap(bounds))
    return Domain(_mixed(st.tuples(*(p.strategy for p in parts.values())).map(build), boundaries),
                  boundaries, build(simple))
