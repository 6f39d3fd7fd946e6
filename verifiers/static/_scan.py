"""One pass over one parsed file: every construct the policy forbids, with where and why."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import libcst as cst
import libcst.metadata as meta

from properties import RULES
from verifiers.static._names import COMPUTED, Resolver, import_symbols, is_known
from verifiers.static._rules import OPENERS, Hit, Rulebook, names_harness, opens_for_writing

__all__ = ["Finding", "scan"]

_SETTERS = frozenset({"builtins.setattr", "builtins.delattr", "builtins.object.__setattr__",
                      "builtins.object.__delattr__", "builtins.type.__setattr__", "builtins.type.__delattr__"})
_GETTER_MAKERS = frozenset({"operator.attrgetter", "operator.methodcaller"})
_MUTABLE_HOLDERS = frozenset({"sys.modules", "builtins", "sys.path", "sys.meta_path", "sys.path_hooks"})


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


def scan(source: str, rulebook: Rulebook) -> tuple[Finding, ...]:
    """Every finding in ``source``, in line order.  Raises ``libcst.ParserSyntaxError``."""
    # The module was parsed just now and is never shared, so libcst's defensive deep copy is waste.
    module = cst.parse_module(source)
    if not source.isascii():
        module = module.visit(_NfkcNames())
    wrapper = meta.MetadataWrapper(module, unsafe_skip_copy=True)
    scanner = _Scanner(wrapper, rulebook)
    wrapper.module.visit(scanner)
    unique = {(f.rule, f.symbol, f.scope, f.line): f for f in scanner.findings}
    return tuple(sorted(unique.values(), key=lambda f: (f.line, f.rule, f.symbol)))


class _NfkcNames(cst.CSTTransformer):
    """Python NFKC-normalises identifiers (PEP 3131): ``ｅｖａｌ`` *is* ``eval`` to the interpreter."""

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        normal = unicodedata.normalize("NFKC", updated_node.value)
        return updated_node if normal == updated_node.value else updated_node.with_changes(value=normal)


def _is_main_guard(test: cst.BaseExpression) -> bool:
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return False
    target = test.comparisons[0]
    sides = [test.left, target.comparator]
    names = [s for s in sides if isinstance(s, cst.Name) and s.value == "__name__"]
    mains = [s for s in sides if isinstance(s, cst.SimpleString) and s.evaluated_value == "__main__"]
    return isinstance(target.operator, cst.Equal) and len(names) == 1 and len(mains) == 1


class _Scanner(cst.CSTVisitor):
    def __init__(self, wrapper: meta.MetadataWrapper, rulebook: Rulebook) -> None:
        self._module = wrapper.module
        self._rules = rulebook
        found = wrapper.resolve_many([meta.PositionProvider, meta.ExpressionContextProvider,
                                      meta.ParentNodeProvider, meta.ScopeProvider])
        self._lines = found[meta.PositionProvider]
        self._context = found[meta.ExpressionContextProvider]
        self._parents = found[meta.ParentNodeProvider]
        self._scopes = found[meta.ScopeProvider]
        self._names = Resolver(wrapper)
        self._inner: set[int] = set()
        self._attrs: set[int] = set()
        self.findings: list[Finding] = []

    # -- where a node is -------------------------------------------------------------------
    def _text(self, node: cst.CSTNode) -> str:
        text = " ".join(self._module.code_for_node(node).split())
        return text if len(text) <= 80 else text[:77] + "..."

    def _scope_name(self, node: cst.CSTNode) -> str:
        names: list[str] = []
        current: cst.CSTNode | None = node
        while current is not None:
            if isinstance(current, (cst.FunctionDef, cst.ClassDef)):
                names.append(current.name.value)
            current = self._parents.get(current)
        return ".".join(reversed(names)) or "<module>"

    def _import_time(self, node: cst.CSTNode) -> bool:
        scope = self._scopes.get(node)
        while isinstance(scope, (meta.ClassScope, meta.ComprehensionScope)):
            scope = scope.parent
        if not isinstance(scope, meta.GlobalScope):
            return False
        child, parent = node, self._parents.get(node)
        while parent is not None:
            if isinstance(parent, cst.If) and child is parent.body and _is_main_guard(parent.test):
                return False
            child, parent = parent, self._parents.get(parent)
        return True

    def _add(self, rule: str, symbol: str, node: cst.CSTNode, message: str) -> None:
        line = self._lines[node].start.line
        self.findings.append(Finding(rule, symbol, self._scope_name(node), line, message))

    # -- imports ---------------------------------------------------------------------------
    def visit_Import(self, node: cst.Import) -> bool:
        self._imports(node)
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        self._imports(node)
        return False

    def _imports(self, node: cst.Import | cst.ImportFrom) -> None:
        for alias, full, _ in import_symbols(node):
            for hit in self._rules.hits(full, import_time=False):
                if not (hit.rule == "dynamic-import" and full == "importlib.import_module"):
                    self._add(hit.rule, full, alias, self._message(hit, self._text(node), full, "imports"))

    # -- references ------------------------------------------------------------------------
    def visit_Name(self, node: cst.Name) -> None:
        if node.value == "__builtins__" and id(node) not in self._attrs:
            self._add("dynamic-lookup", "__builtins__", node,
                      "`__builtins__` gives access to every builtin by name; " + RULES["dynamic-lookup"].summary)
        if id(node) not in self._inner and self._context.get(node) is meta.ExpressionContext.LOAD:
            self._chain(node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._inner.add(id(node.attr))
        self._attrs.add(id(node.attr))
        if id(node) in self._inner:
            return
        if self._context.get(node) in (meta.ExpressionContext.STORE, meta.ExpressionContext.DEL):
            self._attribute_write(node)
        else:
            self._chain(node)

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if id(node) in self._inner:
            return
        if self._context.get(node) in (meta.ExpressionContext.STORE, meta.ExpressionContext.DEL):
            self._item_write(node)
        else:
            self._chain(node)

    def visit_Call(self, node: cst.Call) -> None:
        if id(node) not in self._inner:
            self._chain(node)

    def _chain(self, head: cst.BaseExpression) -> None:
        links: list[tuple[cst.CSTNode | None, cst.BaseExpression]] = []
        outer: cst.CSTNode | None = None
        node: cst.BaseExpression | None = head
        while isinstance(node, (cst.Name, cst.Attribute, cst.Subscript, cst.Call)):
            self._inner.add(id(node))
            links.append((outer, node))
            outer, node = node, getattr(node, "func", None) or getattr(node, "value", None)
            if isinstance(outer, cst.Name):
                break
        import_time = self._import_time(head)
        seen: set[str] = set()
        for outer, link in links:
            self._link(outer, link, import_time, seen)
            if isinstance(link, cst.Call):
                self._call(link)
            if isinstance(link, (cst.Call, cst.Subscript)):
                self._strings(link)

    def _link(self, outer: cst.CSTNode | None, node: cst.BaseExpression, import_time: bool,
              seen: set[str]) -> None:
        for symbol in sorted(self._names.resolve(node), key=lambda s: (not is_known(s), s)):
            for hit in self._rules.hits(symbol, import_time):
                if hit.rule in seen or self._folded_import(hit, symbol, outer, node):
                    continue
                seen.add(hit.rule)
                self._add(hit.rule, symbol, node, self._message(hit, self._text(node), symbol))

    def _folded_import(self, hit: Hit, symbol: str, outer: cst.CSTNode | None, node: cst.CSTNode) -> bool:
        """``importlib.import_module("json")`` is ``import json``: the call is judged by its module."""
        if hit.rule != "dynamic-import" or symbol != "importlib.import_module":
            return False
        if not isinstance(outer, cst.Call) or outer.func is not node or not outer.args:
            return False
        return self._names.fold(outer.args[0].value) is not None

    def _message(self, hit: Hit, text: str, symbol: str, verb: str = "resolves to") -> str:
        summary = RULES[hit.rule].summary
        attr = symbol.rsplit(".", 1)[-1]
        if hit.why == "unresolved" and is_known(symbol):
            base = symbol.rsplit(".", 1)[0]
            return f"`{text}` uses `.{attr}` on `{base}`, whose contents the checker does not know; that name {summary}"
        if hit.why == "unresolved":
            return f"`{text}` uses `.{attr}` on a value the checker cannot resolve; that name {summary}"
        if hit.why == "any-base":
            return f"`{text}` reaches `{attr}`, which {summary}"
        said = f"`{text}` {verb} `{symbol}`" if text != symbol else f"`{symbol}`"
        if hit.rule == "forbidden-name":
            return f"{said}, a name the repository's properties forbid: {hit.why}"
        if hit.rule == "exit-at-import":
            return f"{said} runs when the module is imported; move it under `if __name__ == \"__main__\":`"
        return f"{said}, which {summary}"

    # -- calls that need their arguments ---------------------------------------------------
    def _call(self, node: cst.Call) -> None:
        funcs = self._names.resolve(node.func)
        positional = [a.value for a in node.args if not a.star and a.keyword is None]
        for func in sorted(funcs):
            if func in OPENERS or (func.endswith(".open") and not is_known(func)):
                self._open(node, func, positional)
            elif func in _SETTERS and positional:
                self._setter(node, self._names.resolve(positional[0]), positional[1:2])
            elif func.endswith((".__setattr__", ".__delattr__")) and is_known(func):
                self._setter(node, frozenset({func.rsplit(".", 1)[0]}), positional[:1])
            elif func in _GETTER_MAKERS and positional and self._names.fold(positional[0]) is None:
                self._add("dynamic-lookup", f"{func}(<computed>)", node,
                          f"`{self._text(node)}` looks up an attribute whose name is computed at run time; "
                          + RULES["dynamic-lookup"].summary)

    def _open(self, node: cst.Call, func: str, positional: list[cst.BaseExpression]) -> None:
        keyword = next((a.value for a in node.args if a.keyword and a.keyword.value == "mode"), None)
        at = 1 if is_known(func) else 0
        mode = keyword if keyword is not None else (positional[at] if len(positional) > at else None)
        starred = any(a.star for a in node.args)
        if mode is None and not (starred and is_known(func)):
            return
        modes = self._names.fold(mode) if mode is not None else None
        if not is_known(func) and modes is None:
            return
        if opens_for_writing(modes):
            shown = ", ".join(sorted(modes)) if modes else "not a constant"
            self._add("file-write", func, node, f"`{self._text(node)}` opens a file with mode {shown}, which "
                      + RULES["file-write"].summary)

    def _setter(self, node: cst.Call, bases: frozenset[str], name: list[cst.BaseExpression]) -> None:
        known = sorted(b for b in bases if is_known(b))
        if not known:
            return
        folded = self._names.fold(name[0]) if name else None
        attr = min(folded) if folded else COMPUTED
        self._mutation(node, f"{known[0]}.{attr}")

    def _mutation(self, node: cst.CSTNode, symbol: str) -> None:
        what = f"`{self._text(node)}`" if isinstance(node, cst.Call) else f"writing to `{self._text(node)}`"
        self._add("module-mutation", symbol, node,
                  f"{what} changes `{symbol}`, which belongs to another module; " + RULES["module-mutation"].summary)

    # -- writes ----------------------------------------------------------------------------
    def _attribute_write(self, node: cst.Attribute) -> None:
        known = sorted(b for b in self._names.resolve(node.value) if is_known(b))
        if known:
            self._mutation(node, f"{known[0]}.{node.attr.value}")

    def _item_write(self, node: cst.Subscript) -> None:
        for base in sorted(self._names.resolve(node.value)):
            if base in _MUTABLE_HOLDERS or (base.endswith(".__dict__") and is_known(base)):
                self._mutation(node, base)
                return

    # -- strings ---------------------------------------------------------------------------
    def visit_SimpleString(self, node: cst.SimpleString) -> None:
        if not isinstance(self._parents.get(node), (cst.ConcatenatedString, cst.Expr)):
            self._strings(node)

    def visit_ConcatenatedString(self, node: cst.ConcatenatedString) -> None:
        if not isinstance(self._parents.get(node), (cst.ConcatenatedString, cst.Expr)):
            self._strings(node)

    def visit_FormattedString(self, node: cst.FormattedString) -> None:
        if not isinstance(self._parents.get(node), (cst.ConcatenatedString, cst.Expr)):
            self._strings(node)
            for part in node.parts:
                if isinstance(part, cst.FormattedStringText) and names_harness(part.value):
                    self._harness(node, part.value)

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if isinstance(node.operator, cst.Add) and not isinstance(self._parents.get(node), cst.BinaryOperation):
            self._strings(node)

    def _strings(self, node: cst.CSTNode) -> None:
        for text in sorted(self._names.fold(node) or ()):
            if names_harness(text):
                self._harness(node, text)

    def _harness(self, node: cst.CSTNode, text: str) -> None:
        self._add("checker-reference", repr(text), node,
                  f"the string {text!r} names the checker or a test harness; " + RULES["checker-reference"].summary)
