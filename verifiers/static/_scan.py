"""One pass over one parsed file: every construct the policy forbids, with where and why."""

from __future__ import annotations

import sys
import unicodedata

import libcst as cst
import libcst.metadata as meta

from properties import RULES
from verifiers.static._code_strings import annotation_problem, format_reflection
from verifiers.static._names import COMPUTED, import_symbols, is_known
from verifiers.static._rules import OPENERS, Hit, Rulebook, names_harness, opens_for_writing
from verifiers.static._messages import describe
from verifiers.static._state import HOLDERS, StateScanner
from verifiers.static._where import Finding, Where

__all__ = ["Finding", "scan"]

_SETTERS = frozenset({"builtins.setattr", "builtins.delattr", "builtins.object.__setattr__",
                      "builtins.object.__delattr__", "builtins.type.__setattr__", "builtins.type.__delattr__"})
_GETTER_MAKERS = frozenset({"operator.attrgetter", "operator.methodcaller"})
_LOOKUPS = frozenset({"builtins.getattr", "builtins.hasattr"})
# A parameter defaulting to ``None`` resolves to ``builtins.None``; what is reached on it is a value's.
_VALUES = tuple(f"builtins.{n}." for n in ("None", "True", "False", "Ellipsis", "NotImplemented"))
# Standard-library modules that do something when imported.
_IMPORT_EFFECTS = frozenset({"antigravity", "this", "__hello__", "__phello__", "idlelib", "turtledemo"})


def _stdlib(module: str) -> bool:
    """Standard-library modules import without effects (bar a few listed ones); their uses are judged."""
    top = module.split(".")[0]
    return top in sys.stdlib_module_names and top not in _IMPORT_EFFECTS


def scan(source: str, rulebook: Rulebook) -> tuple[Finding, ...]:
    """Every finding in ``source``, in line order.  Raises ``libcst.ParserSyntaxError``."""
    # The module was parsed just now and is never shared, so libcst's defensive deep copy is waste.
    module = cst.parse_module(source)
    if not source.isascii():
        module = module.visit(_NfkcNames())
    wrapper = meta.MetadataWrapper(module, unsafe_skip_copy=True)
    where = Where(wrapper, rulebook)
    wrapper.module.visit(_Scanner(where))
    wrapper.module.visit(StateScanner(where))
    unique = {(f.rule, f.symbol, f.scope, f.line): f for f in where.findings}
    return tuple(sorted(unique.values(), key=lambda f: (f.line, f.rule, f.symbol)))


class _NfkcNames(cst.CSTTransformer):
    """Python NFKC-normalises identifiers (PEP 3131): ``ｅｖａｌ`` *is* ``eval`` to the interpreter."""

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        normal = unicodedata.normalize("NFKC", updated_node.value)
        return updated_node if normal == updated_node.value else updated_node.with_changes(value=normal)


def _walk(node: cst.CSTNode):
    yield node
    for child in node.children:
        yield from _walk(child)


class _Scanner(cst.CSTVisitor):
    """References, imports, calls and strings: named rules first, then the allow-list."""

    def __init__(self, where: Where) -> None:
        self._w = where
        self._inner: set[int] = set()
        self._attrs: set[int] = set()

    # -- imports ---------------------------------------------------------------------------
    def visit_Import(self, node: cst.Import) -> bool:
        self._imports(node)
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        self._imports(node)
        return False

    def _imports(self, node: cst.Import | cst.ImportFrom) -> None:
        for alias, full, _ in import_symbols(node):
            hits = [h for h in self._w.rules.hits(full, import_time=False)
                    if not (h.rule == "dynamic-import" and full == "importlib.import_module")]
            if not hits and not _stdlib(full):
                hits = self._unlisted(full)
            for hit in hits:
                self._w.add(hit.rule, full, alias, describe(hit, self._w.text(node), full, "imports"))

    def _unlisted(self, symbol: str) -> list[Hit]:
        denial = self._w.rules.unlisted(symbol)
        return [] if denial is None else [Hit(denial.rule, "allow-list", denial.reason)]

    # -- references ------------------------------------------------------------------------
    def visit_Annotation(self, node: cst.Annotation) -> None:
        if not any(isinstance(n, (cst.SimpleString, cst.ConcatenatedString)) for n in _walk(node.annotation)):
            return
        text = self._w.module.code_for_node(node.annotation)
        problem = annotation_problem(text)
        if problem:
            self._w.add("dynamic-code", "<annotation>", node,
                      f"the annotation `{self._w.text(node.annotation)}` {problem}; a string annotation is code once "
                      "anything evaluates it (typing.get_type_hints, dataclasses, pydantic): write it as a type "
                      "expression of names, subscripts and `|`")

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == "__file__" and self._w.context.get(node) is meta.ExpressionContext.LOAD:
            self._w.add("ambient-state", "__file__", node,
                      "`__file__` is where the module happens to live (the checker runs a copy elsewhere); "
                      + RULES["ambient-state"].summary)
        if node.value == "__builtins__" and id(node) not in self._attrs:
            self._w.add("dynamic-lookup", "__builtins__", node,
                      "`__builtins__` gives access to every builtin by name; " + RULES["dynamic-lookup"].summary)
        if id(node) not in self._inner and self._w.context.get(node) is meta.ExpressionContext.LOAD:
            self._chain(node)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self._inner.add(id(node.attr))
        self._attrs.add(id(node.attr))
        if id(node) in self._inner:
            return
        if self._w.context.get(node) in (meta.ExpressionContext.STORE, meta.ExpressionContext.DEL):
            self._attribute_write(node)
        else:
            self._chain(node)

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if id(node) in self._inner:
            return
        if self._w.context.get(node) in (meta.ExpressionContext.STORE, meta.ExpressionContext.DEL):
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
        import_time = self._w.import_time(head)
        seen: set[str] = set()
        found = len(self._w.findings)
        known = any(self._reaches_known(link) for _, link in links)
        for outer, link in links:
            self._link(outer, link, import_time, seen)
            if isinstance(link, cst.Call):
                self._call(link)
                if known:
                    for arg in link.args:
                        self._strings(arg.value)
            if isinstance(link, cst.Subscript) and known:
                for element in link.slice:
                    if isinstance(element.slice, cst.Index):
                        self._strings(element.slice.value)
        if len(self._w.findings) == found:
            self._judge_outermost(links)

    def _link(self, outer: cst.CSTNode | None, node: cst.BaseExpression, import_time: bool,
              seen: set[str]) -> None:
        for symbol in sorted(self._w.names.resolve(node), key=lambda s: (not is_known(s), s)):
            for hit in self._w.rules.hits(symbol, import_time):
                if hit.rule in seen or self._folded_import(hit, symbol, outer, node) \
                        or self._class_name(hit, symbol, outer):
                    continue
                seen.add(hit.rule)
                self._w.add(hit.rule, symbol, node, describe(hit, self._w.text(node), symbol))

    def _judge_outermost(self, links: list[tuple[cst.CSTNode | None, cst.BaseExpression]]) -> None:
        """The allow-list judges the longest name a chain reaches (``torch.nn.functional.relu``):
        the shorter ones (``torch.nn``) are namespaces of it.  Only when no named rule fired."""
        for outer, link in links:
            symbols = sorted(s for s in self._w.names.resolve(link) if is_known(s) and not s.startswith(_VALUES))
            if not symbols:
                continue
            for symbol in symbols:
                for hit in self._allowed(symbol, outer, link):
                    self._w.add(hit.rule, symbol, link, describe(hit, self._w.text(link), symbol))
            return

    def _allowed(self, symbol: str, outer: cst.CSTNode | None, node: cst.BaseExpression) -> list[Hit]:
        """The allow-list's word on a symbol no named rule catches, in the context it is used."""
        called = isinstance(outer, cst.Call) and outer.func is node
        if symbol == "importlib.import_module" and called and outer.args and \
                self._w.names.fold(outer.args[0].value) is not None:  # type: ignore[union-attr]
            return []  # judged as the import it folds to
        if symbol in _LOOKUPS:
            name = outer.args[1].value if called and len(outer.args) >= 2 else None  # type: ignore[union-attr]
            if name is None or self._w.names.fold(name) is None:
                return [Hit("dynamic-lookup", "computed-name")]
            return []
        hits = self._unlisted(symbol)
        if hits and called and self._w.rules.allowlist.with_only(symbol) and self._restored(outer):
            return []
        if not hits and not called and self._w.rules.allowlist.is_module(symbol) and self._passed_on(node):
            return [Hit("dynamic-lookup", "module-value")]
        return hits

    def _restored(self, call: cst.CSTNode) -> bool:
        """A mode switch entered with ``with`` (or as a decorator) is undone when the block ends."""
        return isinstance(self._w.parents.get(call), (cst.WithItem, cst.Decorator))

    def _passed_on(self, node: cst.CSTNode) -> bool:
        """A module handed on as a value: what is reached through it can no longer be followed.

        Aliases (``m = torch``) and parameter defaults are followed by the resolver;
        ``getattr(module, "name")`` with a constant name is resolved too.
        """
        parent = self._w.parents.get(node)
        if isinstance(parent, cst.Element):  # ``a, b = json, os`` and ``for m in (json, os)`` are followed
            node, parent = self._w.parents.get(parent), self._w.parents.get(self._w.parents.get(parent))
        if isinstance(parent, (cst.Attribute, cst.Param, cst.Expr, cst.For, cst.CompFor)):
            return False
        if isinstance(parent, cst.Assign):
            return False
        if isinstance(parent, cst.Arg) and isinstance(self._w.parents.get(parent), cst.ClassDef):
            return False  # a base class
        if isinstance(parent, cst.Arg):
            call = self._w.parents.get(parent)
            if isinstance(call, cst.Call) and call.args and call.args[0] is parent and any(
                    f in _LOOKUPS or f in _SETTERS or f.startswith("<getter>")
                    for f in self._w.names.resolve(call.func)):
                return False
        return True

    def _class_name(self, hit: Hit, symbol: str, outer: cst.CSTNode | None) -> bool:
        """``x.__class__.__name__`` reads a name, which is data: only the walk onwards is reflection."""
        return (hit.why == "any-base" and symbol.endswith(".__class__") and isinstance(outer, cst.Attribute)
                and outer.attr.value in ("__name__", "__qualname__"))

    def _folded_import(self, hit: Hit, symbol: str, outer: cst.CSTNode | None, node: cst.CSTNode) -> bool:
        """``importlib.import_module("json")`` is ``import json``: the call is judged by its module."""
        if hit.rule != "dynamic-import" or symbol != "importlib.import_module":
            return False
        if not isinstance(outer, cst.Call) or outer.func is not node or not outer.args:
            return False
        return self._w.names.fold(outer.args[0].value) is not None

    # -- calls that need their arguments ---------------------------------------------------
    def _call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Attribute) and node.func.attr.value in ("format", "format_map"):
            templates = self._w.names.fold(node.func.value) or ()
            if any(format_reflection(t) for t in templates):
                self._w.add("introspection", "str.format", node,
                          f"`{self._w.text(node)}` formats with a field that walks into private or dunder attributes "
                          "of its argument; " + RULES["introspection"].summary)
        funcs = self._w.names.resolve(node.func)
        positional = [a.value for a in node.args if not a.star and a.keyword is None]
        for func in sorted(funcs):
            if func in OPENERS or (func.endswith(".open") and not is_known(func)):
                self._open(node, func, positional)
            elif func in _SETTERS and positional:
                self._setter(node, self._w.names.resolve(positional[0]), positional[1:2])
            elif func.endswith((".__setattr__", ".__delattr__")) and is_known(func):
                self._setter(node, frozenset({func.rsplit(".", 1)[0]}), positional[:1])
            elif func in _GETTER_MAKERS and positional and self._w.names.fold(positional[0]) is None:
                self._w.add("dynamic-lookup", f"{func}(<computed>)", node,
                          f"`{self._w.text(node)}` looks up an attribute whose name is computed at run time; "
                          + RULES["dynamic-lookup"].summary)

    def _open(self, node: cst.Call, func: str, positional: list[cst.BaseExpression]) -> None:
        keyword = next((a.value for a in node.args if a.keyword and a.keyword.value == "mode"), None)
        at = 1 if is_known(func) else 0
        mode = keyword if keyword is not None else (positional[at] if len(positional) > at else None)
        starred = any(a.star for a in node.args)
        if mode is None and not (starred and is_known(func)):
            return
        modes = self._w.names.fold(mode) if mode is not None else None
        if not is_known(func) and modes is None:
            return
        if opens_for_writing(modes):
            shown = ", ".join(sorted(modes)) if modes else "not a constant"
            self._w.add("file-write", func, node, f"`{self._w.text(node)}` opens a file with mode {shown}, which "
                      + RULES["file-write"].summary)

    def _setter(self, node: cst.Call, bases: frozenset[str], name: list[cst.BaseExpression]) -> None:
        known = sorted(b for b in bases if is_known(b))
        if not known:
            return
        folded = self._w.names.fold(name[0]) if name else None
        attr = min(folded) if folded else COMPUTED
        self._w.mutation(node, f"{known[0]}.{attr}")

    # -- writes ----------------------------------------------------------------------------
    def _attribute_write(self, node: cst.Attribute) -> None:
        known = sorted(b for b in self._w.names.resolve(node.value) if is_known(b))
        if known:
            self._w.mutation(node, f"{known[0]}.{node.attr.value}")

    def _item_write(self, node: cst.Subscript) -> None:
        for base in sorted(self._w.names.resolve(node.value)):
            if base in HOLDERS or (base.endswith(".__dict__") and is_known(base)):
                self._w.mutation(node, base)
                return

    # -- strings ---------------------------------------------------------------------------
    # A word in a string is data (``row["hypothesis"]`` in an NLI dataset); it names the checker
    # only where it meets a capability (``"hypothesis" in sys.modules``, ``environ.get("PYTEST_...")``)
    # or becomes a module constant other code may use that way.
    def visit_Comparison(self, node: cst.Comparison) -> None:
        sides = [node.left, *(c.comparator for c in node.comparisons)]
        if any(self._reaches_known(side) for side in sides):
            for side in sides:
                self._strings(side)

    def visit_Assign(self, node: cst.Assign) -> None:
        if self._w.import_time(node) and isinstance(node.value, (cst.SimpleString, cst.ConcatenatedString,
                                                               cst.FormattedString, cst.BinaryOperation)):
            self._strings(node.value)

    def _reaches_known(self, node: cst.CSTNode) -> bool:
        """Whether ``node`` reaches a capability: a name the allow-list does not let through."""
        return any(is_known(s) and self._w.rules.unlisted(s) is not None for s in self._w.names.resolve(node))

    def _strings(self, node: cst.CSTNode) -> None:
        texts = set(self._w.names.fold(node) or ())
        if isinstance(node, cst.FormattedString):
            texts |= {p.value for p in node.parts if isinstance(p, cst.FormattedStringText)}
        for text in sorted(texts):
            if names_harness(text):
                self._harness(node, text)

    def _harness(self, node: cst.CSTNode, text: str) -> None:
        self._w.add("checker-reference", repr(text), node,
                  f"the string {text!r} names the checker or a test harness; " + RULES["checker-reference"].summary)
