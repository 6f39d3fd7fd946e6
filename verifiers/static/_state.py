"""Writes to state that outlives a call: module globals, class attributes, other modules' objects.

A function that counts its calls in a module global, a class attribute or a
mutable default behaves differently after more calls than any test makes, and
one that fills another module's table changes code the patch never touched.
Module-level code and class bodies build their own module's state and are not
judged here; what they *read* is judged like any introduced code.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable

import libcst as cst
import libcst.metadata as meta

from verifiers.static._names import is_known

__all__ = ["Owner", "StateWrites", "assigned_names", "is_mutable_default", "is_mutator"]

_MUTATORS = frozenset({"append", "extend", "insert", "remove", "pop", "popitem", "clear", "update", "setdefault",
                       "add", "discard", "sort", "reverse", "appendleft", "extendleft", "popleft", "rotate",
                       "__setitem__", "__delitem__", "__setattr__", "__iadd__"})
_MUTABLE_CALLS = frozenset({"builtins.list", "builtins.dict", "builtins.set", "builtins.bytearray",
                            "collections.defaultdict", "collections.deque", "collections.Counter",
                            "collections.OrderedDict"})
_CLASS_FIRST = frozenset({"__init_subclass__", "__new__", "__class_getitem__"})


class Owner(enum.Enum):
    """Whose state a write reaches."""

    MODULE = "a global of this module"
    CLASS = "a class attribute"
    OTHER = "an object of another module"


def is_mutator(name: str) -> bool:
    """Method names that change their receiver: container methods and torch's in-place ``x_``."""
    return name in _MUTATORS or (name.endswith("_") and not name.startswith("_") and len(name) > 1)


def is_mutable_default(value: cst.BaseExpression, resolve: Callable[[cst.CSTNode], frozenset[str]]) -> bool:
    """A default made once, at definition, and shared by every call that omits the argument."""
    if isinstance(value, (cst.List, cst.Dict, cst.Set, cst.ListComp, cst.DictComp, cst.SetComp)):
        return True
    return isinstance(value, cst.Call) and bool(resolve(value.func) & _MUTABLE_CALLS)


def assigned_names(function: cst.FunctionDef) -> set[str]:
    """Names a function body binds (assignment, augmented assignment, ``for``, ``with ... as``, ``del``)."""
    found: set[str] = set()

    class _Targets(cst.CSTVisitor):
        def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
            return node is function

        def visit_ClassDef(self, node: cst.ClassDef) -> bool:
            return False

        def visit_Name(self, node: cst.Name) -> None:
            pass

        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            found.update(_names(node.target))

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            found.update(_names(node.target))

        def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
            found.update(_names(node.target))

        def visit_For(self, node: cst.For) -> None:
            found.update(_names(node.target))

        def visit_AsName(self, node: cst.AsName) -> None:
            found.update(_names(node.name))

        def visit_Del(self, node: cst.Del) -> None:
            found.update(_names(node.target))

    function.visit(_Targets())
    return found


def _names(target: cst.CSTNode) -> Iterable[str]:
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _names(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from _names(target.value)


class StateWrites:
    """Whose state a receiver expression (``REGISTRY``, ``cls.count``, ``other.TABLE``) belongs to."""

    def __init__(self, scopes: meta.ScopeProvider, parents: dict, resolve: Callable[[cst.CSTNode], frozenset[str]],
                 is_module: Callable[[str], bool]) -> None:
        self._scopes = scopes
        self._parents = parents
        self._resolve = resolve
        self._is_module = is_module

    def owner(self, receiver: cst.BaseExpression) -> tuple[Owner, str] | None:
        """``(owner, what)`` for state that outlives the call, or ``None`` for the call's own objects."""
        base = receiver
        while isinstance(base, (cst.Attribute, cst.Subscript)):
            base = base.value
        if isinstance(base, cst.Call) and self._resolve(base.func) & {"builtins.type"}:
            return Owner.CLASS, "type(...)"
        if not isinstance(base, cst.Name):
            return None
        if self._class_parameter(base):
            return Owner.CLASS, base.value
        assignments = self._assignments(base)
        if assignments and all(isinstance(getattr(a, "node", None), (cst.Import, cst.ImportFrom))
                               for a in assignments):
            symbols = [s for s in self._resolve(receiver) if is_known(s)]
            if not symbols or all(self._is_module(s) for s in symbols):
                return None
            return Owner.OTHER, sorted(symbols)[0]
        if not assignments or any(not isinstance(a.scope, meta.GlobalScope) for a in assignments):
            return None
        if any(isinstance(a, meta.BuiltinAssignment) for a in assignments):
            return None
        return Owner.MODULE, base.value

    def _assignments(self, name: cst.Name) -> list[meta.BaseAssignment]:
        scope = self._scopes.get(name)
        if scope is None:
            return []
        try:
            return list(scope[name.value])
        except (KeyError, IndexError):
            return []

    def _class_parameter(self, name: cst.Name) -> bool:
        """``cls`` in a classmethod (or ``__init_subclass__``/``__new__``) is the class itself."""
        node = self._parents.get(name)
        while node is not None and not isinstance(node, cst.FunctionDef):
            node = self._parents.get(node)
        if node is None or not node.params.params:
            return False
        decorated = any(isinstance(d.decorator, cst.Name) and d.decorator.value == "classmethod"
                        for d in node.decorators)
        first = node.params.params[0].name.value
        return (decorated or node.name.value in _CLASS_FIRST) and first == name.value
