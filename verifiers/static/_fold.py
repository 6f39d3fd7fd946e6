"""Constant folding of string expressions, so computed attribute names can be seen through.

``getattr(os, "sys" + "tem")`` must read as ``os.system``.  Folding answers the
set of strings an expression may evaluate to, or ``None`` when it cannot tell.
A name folds to the union of everything assigned to it (flow-insensitively).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from typing import Optional

import libcst as cst

__all__ = ["Folder", "Strings"]

Strings = Optional[frozenset[str]]

# Beyond this many candidate values the fold gives up rather than explode.
_LIMIT = 64
_STR_METHODS = frozenset({"lower", "upper", "strip", "lstrip", "rstrip", "title", "capitalize",
                          "casefold", "swapcase", "replace", "decode", "format"})


def _product(parts: list[frozenset[str]]) -> Strings:
    total = 1
    for part in parts:
        total *= max(len(part), 1)
    if total > _LIMIT:
        return None
    return frozenset("".join(combo) for combo in itertools.product(*parts))


class Folder:
    """Folds expressions to string constants; ``values_of`` gives a name's assigned expressions."""

    def __init__(self, values_of: Callable[[cst.Name], list[cst.BaseExpression] | None]) -> None:
        self._values_of = values_of
        self._busy: set[int] = set()

    def fold(self, node: cst.CSTNode) -> Strings:
        """Every string ``node`` may evaluate to, or ``None`` if that is not a small constant set."""
        if id(node) in self._busy:
            return None
        self._busy.add(id(node))
        try:
            return self._fold(node)
        finally:
            self._busy.discard(id(node))

    def integer(self, node: cst.BaseExpression | None) -> int | None:
        """The value of an integer literal (possibly negated), or ``None``."""
        if isinstance(node, cst.Integer):
            return int(node.evaluated_value)
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
            inner = self.integer(node.expression)
            return None if inner is None else -inner
        return None

    def _fold(self, node: cst.CSTNode) -> Strings:
        if isinstance(node, cst.SimpleString):
            value = node.evaluated_value
            return frozenset({value.decode("latin-1") if isinstance(value, bytes) else value})
        if isinstance(node, cst.ConcatenatedString):
            return self._concat([node.left, node.right])
        if isinstance(node, cst.FormattedString):
            return self._formatted(node)
        if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Add):
            return self._concat([node.left, node.right])
        if isinstance(node, cst.Name):
            return self._name(node)
        if isinstance(node, cst.Subscript):
            return self._slice(node)
        if isinstance(node, cst.Call):
            return self._call(node)
        return None

    def _concat(self, nodes: Iterable[cst.CSTNode]) -> Strings:
        parts = [self.fold(n) for n in nodes]
        if any(p is None for p in parts):
            return None
        return _product(parts)  # type: ignore[arg-type]

    def _formatted(self, node: cst.FormattedString) -> Strings:
        parts: list[cst.CSTNode] = []
        for part in node.parts:
            if isinstance(part, cst.FormattedStringText):
                parts.append(cst.SimpleString(repr(part.value)))
            elif part.format_spec or part.conversion:
                return None
            else:
                parts.append(part.expression)
        return self._concat(parts)

    def _name(self, node: cst.Name) -> Strings:
        values = self._values_of(node)
        if not values:
            return None
        found: set[str] = set()
        for value in values:
            folded = self.fold(value)
            if folded is None:
                return None
            found |= folded
        return frozenset(found) if len(found) <= _LIMIT else None

    def _slice(self, node: cst.Subscript) -> Strings:
        base = self.fold(node.value)
        if base is None or len(node.slice) != 1:
            return None
        index = node.slice[0].slice
        if isinstance(index, cst.Index):
            at = self.integer(index.value)
            if at is None or not all(-len(s) <= at < len(s) for s in base):
                return None
            return frozenset(s[at] for s in base)
        if not isinstance(index, cst.Slice):
            return None
        bounds = [index.lower, index.upper, index.step]
        ints = [self.integer(b) for b in bounds]
        if any(b is not None and i is None for b, i in zip(bounds, ints)) or ints[2] == 0:
            return None
        return frozenset(s[slice(*ints)] for s in base)

    def _call(self, node: cst.Call) -> Strings:
        func = node.func
        if isinstance(func, cst.Name) and func.value in ("chr", "str") and len(node.args) == 1:
            return self._chr_or_str(func.value, node.args[0].value)
        if not isinstance(func, cst.Attribute) or func.attr.value not in _STR_METHODS | {"join"}:
            return None
        base = self.fold(func.value)
        if base is None or any(a.star or a.keyword for a in node.args):
            return None
        if func.attr.value == "join":
            return self._join(base, node.args)
        args = [self.fold(a.value) for a in node.args]
        if any(a is None for a in args):
            return None
        return self._apply(func.attr.value, base, args)  # type: ignore[arg-type]

    def _chr_or_str(self, name: str, arg: cst.BaseExpression) -> Strings:
        if name == "str":
            return self.fold(arg)
        code = self.integer(arg)
        return None if code is None or not 0 <= code < 0x110000 else frozenset({chr(code)})

    def _join(self, separators: frozenset[str], args: tuple[cst.Arg, ...]) -> Strings:
        if len(args) != 1 or not isinstance(args[0].value, (cst.List, cst.Tuple)):
            return None
        items = [e.value for e in args[0].value.elements if not isinstance(e, cst.StarredElement)]
        parts = [self.fold(item) for item in items]
        if len(items) != len(args[0].value.elements) or any(p is None for p in parts):
            return None
        found: set[str] = set()
        for sep in separators:
            combos = _product([p for part in parts for p in (part, frozenset({sep}))][:-1] or [frozenset({""})])
            if combos is None:
                return None
            found |= combos
        return frozenset(found)

    @staticmethod
    def _apply(method: str, base: frozenset[str], args: list[frozenset[str]]) -> Strings:
        out: set[str] = set()
        for value in base:
            for combo in itertools.product(*args):
                try:
                    result = getattr(value.encode("latin-1") if method == "decode" else value, method)(*combo)
                except (TypeError, ValueError, IndexError, KeyError, UnicodeError, LookupError):
                    return None
                out.add(result)
        return frozenset(out) if len(out) <= _LIMIT else None
