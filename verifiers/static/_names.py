"""Alias resolution: what dotted names an expression may stand for.

``import os as o; s = o.system; f = getattr(o, "sys" + "tem")`` — ``s`` and ``f``
both resolve to ``os.system``.  Resolution is flow-insensitive: a name assigned
several values resolves to all of them.  A value the resolver cannot name is
rooted at ``?`` (``self.os_mod.system`` -> ``?.os_mod.system``), so callers can
still look at the attribute names used on it.
"""

from __future__ import annotations

from collections import defaultdict

import libcst as cst
import libcst.metadata as meta
from libcst.helpers import get_full_name_for_node

from verifiers.static._fold import Folder

__all__ = ["COMPUTED", "UNKNOWN", "Resolver", "import_symbols", "is_known"]

UNKNOWN = "?"
COMPUTED = "<computed>"
_GLOBALS = "<globals>"
_GETTER = "<getter>"
_LOOKUPS = frozenset({"builtins.getattr", "builtins.hasattr", "builtins.object.__getattribute__",
                      "builtins.type.__getattribute__"})
_IMPORTERS = frozenset({"importlib.import_module", "builtins.__import__"})
_GETTER_MAKERS = frozenset({"operator.attrgetter", "operator.methodcaller"})
_Values = list[cst.BaseExpression | None]


def is_known(symbol: str) -> bool:
    """Whether ``symbol`` names something imported (rather than an unresolved local value)."""
    return not symbol.startswith((UNKNOWN, "<"))


def _join(base: str, attr: str) -> str:
    if base == _GLOBALS or base.startswith(_GETTER):
        return UNKNOWN
    return f"{base}{attr}" if base.endswith(".") else f"{base}.{attr}"


def import_symbols(node: cst.Import | cst.ImportFrom) -> list[tuple[cst.CSTNode, str, str | None]]:
    """``(alias node, imported dotted name, bound name)`` for each name an import statement binds.

    ``import a.b`` binds ``a`` but imports ``a.b``; a star import binds ``None``.
    """
    if isinstance(node, cst.Import):
        out = []
        for alias in node.names:
            full = get_full_name_for_node(alias.name) or ""
            bound = alias.evaluated_alias or full.split(".")[0]
            out.append((alias, full, bound))
        return out
    module = "." * len(node.relative) + (get_full_name_for_node(node.module) if node.module else "")
    if isinstance(node.names, cst.ImportStar):
        return [(node, module, None)]
    return [(alias, _join(module, alias.evaluated_name), alias.evaluated_alias or alias.evaluated_name)
            for alias in node.names]


def _bound_value(node: cst.Import | cst.ImportFrom, alias: cst.CSTNode, full: str) -> str:
    """What the bound name holds: ``import a.b`` binds the package ``a``, ``import a.b as c`` binds ``a.b``."""
    if isinstance(node, cst.Import) and isinstance(alias, cst.ImportAlias) and alias.asname is None:
        return full.split(".")[0]
    return full


class _Binder(cst.CSTVisitor):
    """Records, for each assigned ``Name`` node, the expressions assigned to it (``None``: unknown)."""

    def __init__(self) -> None:
        self.values: dict[cst.CSTNode, _Values] = defaultdict(list)
        self.star_modules: list[str] = []

    def bind(self, target: cst.BaseExpression, value: cst.BaseExpression | None) -> None:
        if isinstance(target, cst.Name):
            self.values[target].append(value)
        elif isinstance(target, (cst.Tuple, cst.List)):
            elements = value.elements if isinstance(value, (cst.Tuple, cst.List)) else ()
            items = [e.value for e in elements]
            pairs = len(items) == len(target.elements) and not any(
                isinstance(e, cst.StarredElement) for e in (*target.elements, *elements))
            for index, element in enumerate(target.elements):
                self.bind(element.value, items[index] if pairs else None)

    def bind_each(self, target: cst.BaseExpression, iterable: cst.BaseExpression) -> None:
        if isinstance(iterable, (cst.Tuple, cst.List, cst.Set)) and iterable.elements:
            for element in iterable.elements:
                self.bind(target, None if isinstance(element, cst.StarredElement) else element.value)
        else:
            self.bind(target, None)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self.bind(target.target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self.bind(node.target, node.value)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self.bind(node.target, None)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self.bind(node.target, node.value)

    def visit_For(self, node: cst.For) -> None:
        self.bind_each(node.target, node.iter)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self.bind_each(node.target, node.iter)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if isinstance(node.names, cst.ImportStar):
            self.star_modules.append(import_symbols(node)[0][1])


class Resolver:
    """Answers the dotted names an expression of one parsed module may stand for."""

    def __init__(self, wrapper: meta.MetadataWrapper) -> None:
        self._scopes = wrapper.resolve(meta.ScopeProvider)
        binder = _Binder()
        wrapper.module.visit(binder)
        self._values = binder.values
        self.star_modules = tuple(binder.star_modules)
        self.folder = Folder(self.values_of)
        self._memo: dict[int, frozenset[str]] = {}
        self._busy: set[int] = set()

    def fold(self, node: cst.CSTNode) -> frozenset[str] | None:
        """The constant strings ``node`` may evaluate to, or ``None``."""
        return self.folder.fold(node)

    def resolve(self, node: cst.CSTNode) -> frozenset[str]:
        """Every dotted name ``node`` may stand for; unresolvable parts are rooted at ``?``."""
        key = id(node)
        if key in self._memo:
            return self._memo[key]
        if key in self._busy:
            return frozenset({UNKNOWN})
        self._busy.add(key)
        try:
            result = frozenset(self._resolve(node)) or frozenset({UNKNOWN})
        finally:
            self._busy.discard(key)
        self._memo[key] = result
        return result

    def values_of(self, node: cst.Name) -> list[cst.BaseExpression] | None:
        """The expressions assigned to the variable ``node`` reads, or ``None`` if any is unknown."""
        found: list[cst.BaseExpression] = []
        for assignment in self._assignments(node, node.value):
            target = getattr(assignment, "node", None)
            values = self._values.get(target) if isinstance(target, cst.Name) else None
            if not values or any(v is None for v in values):
                return None
            found.extend(v for v in values if v is not None)
        return found or None

    def _assignments(self, node: cst.CSTNode, name: str) -> set[meta.BaseAssignment]:
        scope = self._scopes.get(node)
        if scope is None:
            return set()
        try:
            return set(scope[name])
        except (KeyError, IndexError):
            return set()

    def _resolve(self, node: cst.CSTNode) -> set[str]:
        if isinstance(node, cst.Name):
            return self._name(node, node.value)
        if isinstance(node, cst.Attribute):
            return {_join(base, node.attr.value) for base in self.resolve(node.value)}
        if isinstance(node, cst.Call):
            return self._call(node)
        if isinstance(node, cst.Subscript):
            return self._subscript(node)
        if isinstance(node, cst.IfExp):
            return set(self.resolve(node.body) | self.resolve(node.orelse))
        if isinstance(node, cst.BooleanOperation):
            return set(self.resolve(node.left) | self.resolve(node.right))
        if isinstance(node, cst.NamedExpr):
            return set(self.resolve(node.value))
        return {UNKNOWN}

    def _name(self, node: cst.CSTNode, name: str) -> set[str]:
        if name == "__builtins__":
            return {"builtins"}
        found: set[str] = set()
        assignments = self._assignments(node, name)
        for assignment in assignments:
            found |= self._assigned(assignment, name)
        if self.star_modules and (not assignments or any(
                isinstance(a, meta.BuiltinAssignment) for a in assignments)):
            found |= {_join(module, name) for module in self.star_modules}
        return found or {UNKNOWN}

    def _assigned(self, assignment: meta.BaseAssignment, name: str) -> set[str]:
        if isinstance(assignment, meta.BuiltinAssignment):
            return {f"builtins.{name}"}
        target = getattr(assignment, "node", None)
        if isinstance(target, (cst.Import, cst.ImportFrom)):
            return {_bound_value(target, alias, full) for alias, full, bound in import_symbols(target)
                    if bound == name} or {UNKNOWN}
        if isinstance(target, cst.Param):
            default = set(self.resolve(target.default)) if target.default is not None else set()
            return default | {UNKNOWN}
        if isinstance(target, cst.Name) and target in self._values:
            found: set[str] = set()
            for value in self._values[target]:
                found |= self.resolve(value) if value is not None else {UNKNOWN}
            return found
        return {UNKNOWN}

    def _names(self, node: cst.BaseExpression | None) -> frozenset[str]:
        folded = self.fold(node) if node is not None else None
        return folded if folded is not None else frozenset({COMPUTED})

    def _call(self, node: cst.Call) -> set[str]:
        args = [a.value for a in node.args if not a.star and a.keyword is None]
        found: set[str] = set()
        for func in self.resolve(node.func):
            found |= self._call_of(func, node, args)
        return found

    def _call_of(self, func: str, node: cst.Call, args: list[cst.BaseExpression]) -> set[str]:
        first = args[0] if args else None
        if func in _IMPORTERS:
            names = self.fold(first) if first is not None else None
            if names is None:
                return {UNKNOWN}
            tops = {n.split(".")[0] for n in names} if func == "builtins.__import__" else set()
            return set(names) | tops
        if func in _LOOKUPS and len(args) >= 2:
            return {_join(b, n) for b in self.resolve(args[0]) for n in self._names(args[1])}
        if func.endswith(".__getattribute__") and is_known(func) and first is not None:
            return {_join(func[: -len(".__getattribute__")], n) for n in self._names(first)}
        if func in _GETTER_MAKERS and first is not None:
            return {_GETTER + n for n in self._names(first)}
        if func.startswith(_GETTER) and first is not None:
            return {_join(b, func[len(_GETTER):]) for b in self.resolve(first)}
        if func == "builtins.vars" and first is not None:
            return {_join(b, "__dict__") for b in self.resolve(first)}
        if func == "builtins.globals":
            return {_GLOBALS}
        if func == "sys.modules.get" and first is not None:
            return set(self._names(first))
        return {UNKNOWN}

    def _subscript(self, node: cst.Subscript) -> set[str]:
        if isinstance(node.value, (cst.List, cst.Tuple, cst.Set)):
            return set().union(*(self.resolve(e.value) for e in node.value.elements), {UNKNOWN})
        if isinstance(node.value, cst.Dict):
            return set().union(*(self.resolve(e.value) for e in node.value.elements), {UNKNOWN})
        index = node.slice[0].slice if len(node.slice) == 1 else None
        keys = self._names(index.value) if isinstance(index, cst.Index) else frozenset({COMPUTED})
        found: set[str] = set()
        for base in self.resolve(node.value):
            found |= self._item(base, keys, node)
        return found

    def _item(self, base: str, keys: frozenset[str], node: cst.CSTNode) -> set[str]:
        if base == "sys.modules":
            return set(keys)
        if base == "builtins" or (base.endswith(".__dict__") and is_known(base)):
            stem = base[: -len(".__dict__")] if base.endswith(".__dict__") else base
            return {_join(stem, k) for k in keys}
        if base == _GLOBALS:
            return set().union(*(self._name(node, k) for k in keys if k != COMPUTED), {UNKNOWN})
        return {UNKNOWN}
