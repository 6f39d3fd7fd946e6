"""The translator's rooms for ``str`` and sequences: ``for`` over items, ``sum``/``min``/``max`` of them, slices,
``in``, comparisons, ``startswith``/``endswith``, ``len``/``str``/``int``.

A mixin of ``Translator`` (``_translate.py``): it uses the translator's ``expr``, ``exit``,
``assume``, ``fork``/``join`` and ``loop_bound``.  A sequence whose length the path
condition does not bound is unrolled to ``sequence_bound`` items under an assumption
(``assume``), so a proof is not claimed past it while a counterexample within it is real.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

import z3

from verifiers.smt import _sequences as seqs
from verifiers.smt import _strings as strs
from verifiers.smt._types import BOOL, FLOAT, INT, NONE, STR, Sym, Unsupported, Value, as_int, element_kind, shape

if TYPE_CHECKING:
    from verifiers.smt._translate import State

__all__ = ["TextOps"]


class TextOps:
    """Strings, lists and tuples for ``Translator`` (see the module docstring)."""

    def for_items(self, node: ast.For, state: State) -> None:
        """``for x in items``: a tuple display is unrolled exactly, a sequence or str up to its length."""
        items = self.expr(node.iter, state)
        if isinstance(items, tuple):
            for item in items:
                self.assign(node.target, item, state)
                self.block(node.body, state)
            return
        if not self.sequences or not seqs.is_text(items):
            raise Unsupported(f"`for` over `{ast.unparse(node.iter)[:60]}` (only over range(...), a str, a list or "
                              "a tuple)", node.lineno)
        count, bound = self.items_bound(items, state, node.lineno, f"`for` over `{ast.unparse(node.iter)[:40]}`")
        for k in range(bound):
            inside = state.fork(count > k)
            _, item = seqs.index(items, z3.IntVal(k))
            self.assign(node.target, item, inside)
            self.block(node.body, inside)
            skipped = state.fork(z3.Not(count > k))
            self.join(state, inside, skipped, node.lineno)

    def items_bound(self, items: Sym, state: State, line: int, what: str) -> tuple[Any, int]:
        """How many items to unroll: all of them when the path bounds the length, else ``sequence_bound``,
        assuming no more (so a proof is not claimed, but a counterexample within the bound is real)."""
        count = seqs.length(items)
        bound = self.loop_bound(count, state.pc, self.sequence_bound)
        if bound is None:
            bound = self.sequence_bound
            self.assume(state, count <= bound, f"{what} (line {line}) was unrolled for at most {bound} items")
        return count, bound

    def e_List(self, node: ast.List, state: State) -> Value:
        if not self.sequences or any(isinstance(e, ast.Starred) for e in node.elts):
            raise Unsupported(f"the list display `{ast.unparse(node)[:40]}`", node.lineno)
        return seqs.display("list", [self.expr(e, state) for e in node.elts], self.ops.sort, node.lineno)

    def slice_of(self, base: Sym, index: ast.Slice, state: State, line: int) -> Value:
        if index.step is not None:
            step = self.expr(index.step, state)
            if not (isinstance(step, Sym) and step.kind == NONE) and not z3.eq(
                    z3.simplify(self.int_arg(step, "a slice step", line)), z3.IntVal(1)):
                raise Unsupported(f"the slice step `{ast.unparse(index.step)}` (only step 1 is encoded)", line)
        bounds = []
        for bound in (index.lower, index.upper):
            value = self.expr(bound, state) if bound is not None else Sym(NONE)
            bounds.append(None if isinstance(value, Sym) and value.kind == NONE else
                          self.int_arg(value, "a slice bound", line))
        return seqs.slice_(base, bounds[0], bounds[1])

    def no_float_items(self, items: tuple, what: str, line: int) -> None:
        if FLOAT in repr(shape(items)):
            raise Unsupported(f"{what} holding floats (Python compares items by identity first, so a NaN can equal "
                              "itself)", line)

    def contains(self, item: Value, container: Value, line: int) -> Any:
        if isinstance(container, tuple) and self.sequences:
            self.no_float_items(container + (item,), "`in` on a tuple", line)
            return z3.Or(*[self.compare("==", item, x, line) for x in container]) if container else z3.BoolVal(False)
        if not seqs.is_text(container):
            raise Unsupported(f"`in` on a {shape(container)} (only on a str, list or tuple)", line)
        return seqs.contains(item, container, line)

    def compare_text(self, op: str, a: Value, b: Value, line: int) -> Any:
        if op in ("==", "!="):
            same = seqs.equal(a, b, self.ops.sort, line)
            return same if op == "==" else z3.Not(same)
        if isinstance(a, Sym) and isinstance(b, Sym) and a.kind == b.kind == STR:
            return strs.compare(op, a.term, b.term)
        raise Unsupported(f"`{op}` between {shape(a)} and {shape(b)} (ordering is encoded for str only)", line)

    def method_call(self, func: ast.Attribute, node: ast.Call, state: State) -> Value:
        owner = self.expr(func.value, state)
        if not (isinstance(owner, Sym) and owner.kind == STR and func.attr in ("startswith", "endswith")):
            why = " (Unicode case mapping is not encoded)" if func.attr in ("upper", "lower", "casefold") else ""
            raise Unsupported(f"the method call `{ast.unparse(node)[:60]}`{why}", node.lineno)
        if len(node.args) != 1 or node.keywords:
            raise Unsupported(f"`{func.attr}` with other than one argument (start/end are not encoded)", node.lineno)
        affix = self.expr(node.args[0], state)
        if not (isinstance(affix, Sym) and affix.kind == STR):
            raise Unsupported(f"`{func.attr}` of a {shape(affix)} (only of one str)", node.lineno)
        test = z3.PrefixOf if func.attr == "startswith" else z3.SuffixOf
        return Sym(BOOL, test(affix.term, owner.term))

    def sequence_builtin(self, name: str, node: ast.Call, state: State) -> Value | None:
        """``len``, ``str``, ``int``, ``sum``, ``min`` and ``max`` of one argument (None: more arguments)."""
        if len(node.args) != 1:
            return None
        (arg,) = node.args
        self.not_shadowed(name, node.lineno)
        value = self.expr(arg, state)
        if name == "len":
            if isinstance(value, tuple):
                return Sym(INT, z3.IntVal(len(value)))
            if not seqs.is_text(value):
                raise Unsupported(f"`len` of a {shape(value)}", node.lineno)
            return Sym(INT, seqs.length(value))
        if name == "str" and isinstance(value, Sym):
            raises, text = strs.text_of(value, node.lineno)
            self.exit(state, raises, "ValueError")
            return text
        if name == "int" and isinstance(value, Sym) and value.kind == STR:
            raises, modelled, number = strs.int_of_text(value)
            self.assume(state, modelled, f"`{ast.unparse(node)[:40]}` (line {node.lineno}) was modelled only "
                                         "for text of the form [+-]?[0-9]+ and for malformed ASCII text")
            self.exit(state, raises, "ValueError")
            return number
        if name in ("sum", "min", "max") and seqs.is_text(value):
            return self.fold(name, value, state, node)
        if isinstance(value, tuple) or seqs.is_text(value) or name == "sum":
            raise Unsupported(f"`{ast.unparse(node)[:60]}` (of a {shape(value)})", node.lineno)
        return self.builtin_call(name, node, state, [value])

    def fold(self, name: str, items: Sym, state: State, node: ast.Call) -> Value:
        """``sum``/``min``/``max`` of a str or sequence, unrolled like a ``for`` loop."""
        element = STR if items.kind == STR else element_kind(items.kind)
        if (name == "sum" and element not in (INT, BOOL)) or (name != "sum" and element not in (INT, STR)):
            raise Unsupported(f"`{name}` of a {items.kind} (sum of int/bool, min/max of int/str items)", node.lineno)
        count, bound = self.items_bound(items, state, node.lineno, f"`{ast.unparse(node)[:40]}`")
        if name != "sum":
            self.exit(state, count == 0, "ValueError")
        result: Any = z3.IntVal(0) if name == "sum" else seqs.index(items, z3.IntVal(0))[1].term
        for k in range(bound):
            item = seqs.index(items, z3.IntVal(k))[1]
            term = as_int(item) if name == "sum" else item.term
            if name == "sum":
                result = z3.If(count > k, result + term, result)
            else:
                better = strs.compare("<" if name == "min" else ">", term, result) if element == STR else \
                    (term < result if name == "min" else term > result)
                result = z3.If(z3.And(count > k, better), term, result)
        return Sym(INT if name == "sum" else element, result)
