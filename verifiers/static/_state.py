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
from verifiers.static._where import Where

__all__ = ["HOLDERS", "Owner", "StateScanner", "assigned_names", "is_mutable_default", "is_mutator"]

# Another module's mutable state that a plain item write reaches (judged as module-mutation by the scanner).
HOLDERS = frozenset({"sys.modules", "builtins", "sys.path", "sys.meta_path", "sys.path_hooks"})

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


class StateScanner(cst.CSTVisitor):
    """Finds writes, in code that runs when called, to state that outlives the call."""

    def __init__(self, where: Where) -> None:
        self._where = where
        self._scopes = where.scopes
        self._parents = where.parents
        self._resolve = where.names.resolve

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if self._stored(node) and not any(is_known(b) for b in self._resolve(node.value)):
            self._write(node, node.value)  # writes on an imported object are module-mutation already

    def visit_Subscript(self, node: cst.Subscript) -> None:
        bases = self._resolve(node.value)
        if self._stored(node) and not any(b in HOLDERS or (b.endswith(".__dict__") and is_known(b)) for b in bases):
            self._write(node, node.value)

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Attribute) and is_mutator(node.func.attr.value):
            self._write(node, node.func.value)

    def visit_Global(self, node: cst.Global) -> None:
        function = self._parents.get(node)
        while function is not None and not isinstance(function, cst.FunctionDef):
            function = self._parents.get(function)
        if function is None:
            return
        written = assigned_names(function)
        for item in node.names:
            if item.name.value in written:
                self._where.add("ambient-state", item.name.value, node,
                                f"`global {item.name.value}` lets {function.name.value}() rebind a module global, "
                                "which outlives the call: behaviour could change after more calls than any test "
                                "makes; return the new value instead")

    def visit_Param(self, node: cst.Param) -> None:
        if node.default is not None and is_mutable_default(node.default, self._resolve):
            self._where.add("ambient-state", f"default of {node.name.value}", node,
                            f"the default `{self._where.text(node.default)}` of `{node.name.value}` is made once "
                            "and shared by every call, so a call that changes it changes later calls; use `None` "
                            "and build the value inside the function")

    def _stored(self, node: cst.CSTNode) -> bool:
        return self._where.context.get(node) in (meta.ExpressionContext.STORE, meta.ExpressionContext.DEL)

    def _write(self, node: cst.CSTNode, receiver: cst.BaseExpression) -> None:
        if self._where.import_time(node):
            return  # module code and class bodies build their own module's state
        found = self.owner(receiver)
        if found is None:
            return
        owner, what = found
        if owner is Owner.OTHER:
            self._where.mutation(node, what)
            return
        self._where.add("ambient-state", what, node,
                        f"`{self._where.text(node)}` changes {owner.value} (`{what}`), which outlives the call: "
                        "behaviour could change after more calls than any test makes; keep the state in an object "
                        "the caller passes in")

    def _is_module(self, symbol: str) -> bool:
        allowlist = self._where.rules.allowlist
        return allowlist.is_module(symbol) or allowlist.is_namespace(symbol)

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
