"""Scan only what a patch can have changed: unchanged top-level definitions become one-line stubs.

A change to one function of a 300-line module used to cost a scan (and libcst's scope and
qualified-name metadata) of all 300 lines, twice.  The scanner's findings in a top-level
``def`` or ``class`` depend on its own text and on what the module's names are bound to; when
the patch leaves that text alone *and* leaves the module's binding structure exactly as it was,
a full scan finds there exactly what it found before, which the policy discards as pre-existing.
So such a definition is replaced, in both versions, by ``def name(): pass`` on its first line and
blank lines for the rest: it still binds its name, every line number stays where it was, and the
findings of everything else are unchanged.

The structure must be exactly the same, or nothing is stubbed (the full scan runs): the same
sequence of top-level statements, each non-definition statement identical (imports, assignments,
``if``/``try`` blocks: whatever binds a name or runs at import), each definition of the same kind
and name in the same place, and no definition declaring ``global`` (a function that rebinds
module names changes what the others reach, and which holders the state rules see).  Even a constant's value must match: the scanner folds constants
(``getattr(os, NAMES[I])``), so a new value may change what an unchanged function reaches.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

__all__ = ["Reduced", "reduce"]

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
# ``str.splitlines`` also breaks at these, Python's tokenizer does not: line numbers would drift.
_OTHER_BREAKS = frozenset("\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


@dataclass(frozen=True, slots=True)
class Reduced:
    """The texts to scan (same line numbering as the originals) and how many definitions were stubbed."""

    after: str
    before: str | None
    stubbed: int


def reduce(after: str, before: str | None) -> Reduced:
    """``after``/``before`` with the definitions the patch left alone stubbed, when that is sound."""
    plain = before is not None and not (_OTHER_BREAKS & set(after) or _OTHER_BREAKS & set(before))
    unchanged = _unchanged(after, before) if plain and before is not None else None
    if not unchanged:
        return Reduced(after, before, 0)
    assert before is not None
    return Reduced(_stub(after, [new for new, _ in unchanged]), _stub(before, [old for _, old in unchanged]),
                   len(unchanged))


def _unchanged(after: str, before: str) -> list[tuple[ast.stmt, ast.stmt]] | None:
    """Pairs (new, old) of top-level definitions with the same text; None when the structure differs."""
    try:
        new_tree, old_tree = ast.parse(after), ast.parse(before)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None  # the scan reports what does not parse, with its own message
    if len(new_tree.body) != len(old_tree.body):
        return None
    if any(isinstance(node, ast.Global) for tree in (new_tree, old_tree) for node in ast.walk(tree)):
        return None  # a function binding module names: what other definitions reach depends on it
    new_lines, old_lines = after.splitlines(), before.splitlines()
    pairs = []
    for new, old in zip(new_tree.body, old_tree.body):
        if isinstance(new, _DEFS) or isinstance(old, _DEFS):
            if type(new) is not type(old) or new.name != old.name:  # type: ignore[union-attr]
                return None
            if _text(new, new_lines) == _text(old, old_lines):
                pairs.append((new, old))
        elif ast.dump(new) != ast.dump(old):
            return None
    return pairs


def _span(node: ast.stmt) -> tuple[int, int]:
    decorators = getattr(node, "decorator_list", ())
    first = min([node.lineno, *(d.lineno for d in decorators)])
    return first, node.end_lineno or node.lineno


def _text(node: ast.stmt, lines: list[str]) -> tuple[str, ...]:
    first, last = _span(node)
    return tuple(lines[first - 1:last])


def _stub(text: str, nodes: list[ast.stmt]) -> str:
    lines = text.splitlines(keepends=True)
    for node in nodes:
        first, last = _span(node)
        keyword = "class" if isinstance(node, ast.ClassDef) else "def"
        signature = "" if keyword == "class" else "()"
        lines[first - 1] = f"{keyword} {node.name}{signature}: pass\n"  # type: ignore[attr-defined]
        for index in range(first, last):
            lines[index] = "\n"
    return "".join(lines)
