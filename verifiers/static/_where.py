"""What every pass over a parsed file shares: its metadata, the resolver, and the findings so far."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import libcst as cst
import libcst.metadata as meta

from properties import RULES
from verifiers.static._names import Resolver
from verifiers.static._rules import Rulebook

__all__ = ["Finding", "Where"]


@dataclass(frozen=True, slots=True)
class Finding:
    """A forbidden construct: the rule, the symbol as resolved, the enclosing scope, the line."""

    rule: str
    symbol: str
    scope: str
    line: int
    message: str

    @property
    def key(self) -> tuple[str, str, str]:
        """What identifies the construct across versions of a file (lines move; this does not)."""
        return (self.rule, self.symbol, self.scope)


class Where:
    """One parsed file's metadata and resolver, the rulebook, and the findings the passes add."""

    def __init__(self, wrapper: meta.MetadataWrapper, rulebook: Rulebook) -> None:
        self.module = wrapper.module
        self.rules = rulebook
        # Positions take a render of the whole module; only a finding needs one, and a benign
        # patch has none, so they are resolved at the first finding.
        self._wrapper = wrapper
        found = wrapper.resolve_many([meta.ExpressionContextProvider, meta.ParentNodeProvider, meta.ScopeProvider])
        self.context = found[meta.ExpressionContextProvider]
        self.parents = found[meta.ParentNodeProvider]
        self.scopes = found[meta.ScopeProvider]
        self.names = Resolver(wrapper)
        self.findings: list[Finding] = []

    def text(self, node: cst.CSTNode) -> str:
        """The node's source on one line, cut at 80 characters."""
        text = " ".join(self.module.code_for_node(node).split())
        return text if len(text) <= 80 else text[:77] + "..."

    def scope_name(self, node: cst.CSTNode) -> str:
        names: list[str] = []
        current: cst.CSTNode | None = node
        while current is not None:
            if isinstance(current, (cst.FunctionDef, cst.ClassDef)):
                names.append(current.name.value)
            current = self.parents.get(current)
        return ".".join(reversed(names)) or "<module>"

    def import_time(self, node: cst.CSTNode) -> bool:
        """Whether ``node`` runs when the module is imported (module level or a class body, not a main block)."""
        scope = self.scopes.get(node)
        while isinstance(scope, (meta.ClassScope, meta.ComprehensionScope)):
            scope = scope.parent
        if not isinstance(scope, meta.GlobalScope):
            return False
        child, parent = node, self.parents.get(node)
        while parent is not None:
            if isinstance(parent, cst.If) and child is parent.body and _is_main_guard(parent.test):
                return False
            child, parent = parent, self.parents.get(parent)
        return True

    @functools.cached_property
    def lines(self) -> Any:
        """Each node's position in the file."""
        return self._wrapper.resolve(meta.PositionProvider)

    def add(self, rule: str, symbol: str, node: cst.CSTNode, message: str) -> None:
        line = self.lines[node].start.line
        self.findings.append(Finding(rule, symbol, self.scope_name(node), line, message))

    def mutation(self, node: cst.CSTNode, symbol: str) -> None:
        """``node`` changes ``symbol``, which belongs to another module."""
        what = f"`{self.text(node)}`" if isinstance(node, cst.Call) else f"writing to `{self.text(node)}`"
        self.add("module-mutation", symbol, node,
                 f"{what} changes `{symbol}`, which belongs to another module; " + RULES["module-mutation"].summary)


def _is_main_guard(test: cst.BaseExpression) -> bool:
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return False
    target = test.comparisons[0]
    sides = [test.left, target.comparator]
    names = [s for s in sides if isinstance(s, cst.Name) and s.value == "__name__"]
    mains = [s for s in sides if isinstance(s, cst.SimpleString) and s.evaluated_value == "__main__"]
    return isinstance(target.operator, cst.Equal) and len(names) == 1 and len(mains) == 1
