"""The conditions a patch adds to a definition, and whether the compared inputs took each both ways.

A trojan or a sleeper hides in a branch that testing never enters: ``if n == 4242:``
behaves like the old code on every input but one.  Agreement on inputs that never
took a new condition both ways says nothing about what happens when it flips, so
the verifiers that test (hypothesis, the kernel comparator) ask this module which
conditions are new and, after their search, whether each one was seen true and
false.  One that was not makes the obligation ``UNKNOWN`` naming the condition and
its line.

Conditions are read from the *compiled* definition -- every conditional jump of its
bytecode (``if``, ``while``, ternaries, ``and``/``or``, comprehension filters,
``assert``) -- because that is exactly what the worker's tracer can observe
(``verifiers._trace``); a jump belongs to the smallest condition expression of the
source that contains its position.  It is new when no condition of the old
definition has the same expression (compared as ASTs, positions ignored).  The
source is compiled here, never executed: ``compile`` runs no code of the patch.
"""

from __future__ import annotations

import ast
import textwrap
import time
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from verifiers._contract import Outcome, OutcomeKind
from verifiers._trace import jump_table

_MAX_DEATHS = 2

__all__ = ["Condition", "Coverage", "Unmeasurable", "definition_lines", "new_conditions", "replay"]

# lineno, end_lineno, col_offset, end_col_offset (dis.Positions order), and the variant (see _trace.jump_table)
Span = tuple[int, int, int, int, int]

# The worker reports what each conditional jump saw of the value it tested (see ``_trace``):
# T / F (truthy, falsy) or N / S (None, something else).  A condition maps them to its truth.
_TRUTH = {"T": "true", "F": "false"}
_IS_NONE = {"N": "true", "S": "false"}
_IS_NOT_NONE = {"N": "false", "S": "true"}


class Unmeasurable(Exception):
    """The definition cannot be located or compiled, so its conditions cannot be listed."""


@dataclass(frozen=True, slots=True)
class Condition:
    """One tested expression the patch added: ``text`` at ``line``, observed as jumps at ``span``."""

    span: Span
    text: str
    line: int
    truth: tuple[tuple[str, str], ...]  # the worker's outcome token -> "true" / "false"
    operand: bool = False  # the jump tests an operand of ``and``/``or`` positioned at the whole expression
    none_test: str = ""  # for `name is None` / `name is not None`: the name tested
    # for `isinstance(name, T)` (or its `not`): the name, T as written, and the truth value
    # the condition has when the isinstance test fails
    type_test: tuple[str, str, str] = ("", "", "")

    def describe(self, missing: str) -> str:
        shown = self.text if len(self.text) <= 80 else self.text[:77] + "..."
        if self.operand:
            return f"an operand of `{shown}` (line {self.line}) was never {missing}"
        return f"the condition `{shown}` (line {self.line}) was never {missing}"


@dataclass(slots=True)
class Coverage:
    """Outcomes seen so far for each new condition of one definition."""

    conditions: tuple[Condition, ...]
    seen: dict[Span, set[str]] = field(default_factory=dict)
    inputs: int = 0
    traced: bool = False  # some replay ran the definition's own code

    def add(self, observations: Iterable[object]) -> int:
        """Record ``[lineno, end_lineno, col, end_col, variant, outcome]`` rows from the worker; returns the rows used.

        Rows are data from an untrusted process: anything malformed is ignored, which can
        only leave a condition uncovered (UNKNOWN), never cover one it did not see.
        """
        wanted = {c.span for c in self.conditions}
        used = 0
        for row in observations:
            if not (isinstance(row, (list, tuple)) and len(row) == 6 and all(type(v) is int for v in row[:5])
                    and isinstance(row[5], str)):
                continue
            span = tuple(row[:5])
            if span in wanted:
                self.seen.setdefault(span, set()).add(row[5])  # type: ignore[arg-type]
                used += 1
        self.inputs += 1
        return used

    def missing(self) -> list[tuple[Condition, str]]:
        """Each new condition with an outcome no input produced, in source order."""
        gaps = []
        for condition in self.conditions:
            truth = dict(condition.truth)
            seen = {truth[token] for token in self.seen.get(condition.span, set()) if token in truth}
            gaps += [(condition, outcome) for outcome in ("true", "false") if outcome not in seen]
        return gaps

    @property
    def complete(self) -> bool:
        return not self.missing()


def replay(coverage: Coverage, requests: Iterable[Any], call: Callable[[Any], Outcome],
           deadline: float | None = None) -> str:
    """Send traced replays (``call(request)``) until every condition was seen both ways; returns a problem or "".

    A worker death is tolerated once (the next request gets a fresh worker); a tracer that
    cannot run, a second death or the deadline end the replay with the reason, which the
    caller reports as UNKNOWN -- the coverage is then not known, which is not "covered".
    """
    deaths: list[str] = []
    for request in requests:
        if coverage.complete:
            return ""
        if deadline is not None and time.monotonic() > deadline:
            return (f"the time budget ended after {coverage.inputs} traced replays, before every new condition "
                    "was seen both ways; raise [tool.sandbox] timeout")
        outcome = call(request)
        value = outcome.value
        if outcome.kind is OutcomeKind.DIED:
            deaths.append(f"{outcome.error_type}: {outcome.message[:120]}")
            if len(deaths) >= _MAX_DEATHS:
                return f"the worker died during traced replays ({deaths[0]})"
            continue
        if outcome.kind is not OutcomeKind.RETURNED or not isinstance(value, dict) or "seen" not in value:
            detail = f"{outcome.error_type}: {outcome.message[:200]}" if outcome.kind is OutcomeKind.RAISED else \
                "the tracer returned no data"
            return f"the tracer could not run in the worker ({detail})"
        coverage.traced |= value.get("traced") is True
        coverage.add(value["seen"] if isinstance(value["seen"], list) else ())
    return ""


def definition_lines(text: str, qualname: str) -> tuple[int, int]:
    """The first line (its first decorator's, if any) and the last line of ``qualname`` in ``text``."""
    node = _find(ast.parse(text), qualname)
    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
    return first, node.end_lineno or node.lineno


def new_conditions(old_definition: str | None, new_text: str, qualname: str,
                   path: str = "<patch>") -> tuple[Condition, ...]:
    """The conditions of ``qualname`` in the file ``new_text`` with no counterpart in ``old_definition``.

    ``old_definition`` is the old version's source of the definition alone (any
    indentation); with none (a function the patch adds) every condition is new.  Raises
    ``Unmeasurable`` when the definition cannot be found or the file cannot be compiled.
    """
    try:
        new_tree = ast.parse(new_text)
        node = _find(new_tree, qualname)
        code = compile(new_tree, path, "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        raise Unmeasurable(f"cannot compile {path} to list the conditions of {qualname}: {error}") from None
    old_shapes: set[str] = set()
    if old_definition is not None:
        try:
            old_tree = ast.parse(textwrap.dedent(old_definition))
            old_shapes = {c.key for c in _condition_nodes(_find(old_tree, qualname.rpartition(".")[2]))}
        except (SyntaxError, Unmeasurable, RecursionError):
            old_shapes = set()  # nothing to match against: every condition counts as new
    candidates = _condition_nodes(node)
    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
    found: dict[Span, Condition] = {}
    for code_object in _codes_of(code, node.name, first):
        for offset, (span, token, _) in jump_table(code_object).items():
            if span in found:
                continue
            owner = _smallest_containing(candidates, span)
            if owner is None or owner.key in old_shapes:
                continue
            found[span] = Condition(span, _shown(owner, span[4]), span[0], _truth(token, owner), operand=owner.operand,
                                    none_test=_none_test(owner.node) if token in "NS" else "",
                                    type_test=_type_test(owner.node))
    return tuple(sorted(found.values(), key=lambda c: (c.span[0], c.span[2])))


def _shown(candidate: "_Candidate", variant: int) -> str:
    """The candidate's text; for one comparison of a chain ``a < x < b``, that comparison (in the chain)."""
    node = candidate.node
    if isinstance(node, ast.Compare) and len(node.ops) > 1 and variant < len(node.ops):
        sides = [node.left, *node.comparators]
        part = ast.Compare(sides[variant], [node.ops[variant]], [sides[variant + 1]])
        return f"{ast.unparse(part)}` of `{candidate.text}"
    return candidate.text


def _none_test(node: ast.AST) -> str:
    if (isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.Is, ast.IsNot))
            and isinstance(node.left, ast.Name) and isinstance(node.comparators[0], ast.Constant)
            and node.comparators[0].value is None):
        return node.left.id
    return ""


def _type_test(node: ast.AST) -> tuple[str, str, str]:
    if isinstance(node, (ast.If, ast.While)):
        node = node.test
    failing = "false"
    if _is_not(node):
        node, failing = node.operand, "true"  # type: ignore[attr-defined]
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance"
            and len(node.args) == 2 and not node.keywords and isinstance(node.args[0], ast.Name)):
        return node.args[0].id, ast.unparse(node.args[1]), failing
    return "", "", ""


def _truth(token: str, candidate: "_Candidate") -> tuple[tuple[str, str], ...]:
    """How the outcomes of a jump that jumps on ``token`` translate into the truth of the candidate's expression."""
    owner = candidate.node
    if token in "TF":
        flip = {"true": "false", "false": "true"}
        return tuple((k, flip[v] if candidate.negated else v) for k, v in _TRUTH.items())
    # `x is None` / `x is not None` compile to a None test of x: which way is "true" depends on the operator.
    negated = isinstance(owner, ast.Compare) and len(owner.ops) == 1 and isinstance(owner.ops[0], ast.IsNot)
    return tuple((_IS_NOT_NONE if negated else _IS_NONE).items())


def _find(tree: ast.AST, qualname: str) -> ast.FunctionDef | ast.AsyncFunctionDef:
    scope: list[ast.stmt] = list(getattr(tree, "body", []))
    node: ast.AST | None = None
    for part in qualname.split("."):
        node = next((n for n in scope if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and n.name == part), None)
        if node is None:
            raise Unmeasurable(f"no definition {qualname} in the file")
        scope = list(node.body)
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        raise Unmeasurable(f"{qualname} is not a function")
    return node


@dataclass(frozen=True, slots=True)
class _Candidate:
    """A source construct a jump can be positioned at: its span, the expression it tests, how to show it."""

    node: ast.AST  # whose span the jump's position falls in
    key: str  # ast.dump of what is tested: equal keys in old and new are the same condition
    text: str
    operand: bool = False
    negated: bool = False  # positioned at a ``not x``: the jump tests x


def _is_not(node: ast.AST) -> bool:
    return isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)


def _condition_nodes(root: ast.AST) -> list[_Candidate]:
    """Every construct of ``root`` whose value decides a jump, with the expression it tests.

    CPython positions a jump at the tested expression, except: ``if not x`` at the whole
    statement, a comprehension's filter at the whole comprehension, and an ``and``/``or``
    whose value is used (not branched on) at the whole expression.
    """
    found: list[_Candidate] = []
    for node in ast.walk(root):
        if isinstance(node, (ast.If, ast.While, ast.IfExp, ast.Assert)):
            found.append(_Candidate(node.test, ast.dump(node.test), ast.unparse(node.test)))
            if isinstance(node, (ast.If, ast.While)):
                found.append(_Candidate(node, ast.dump(node.test), ast.unparse(node.test), negated=_is_not(node.test)))
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            ifs = [i for g in node.generators for i in g.ifs]
            if ifs:
                text = " and ".join(ast.unparse(i) for i in ifs)
                found.append(_Candidate(node, "ifs:" + "|".join(ast.dump(i) for i in ifs), f"if {text} (a filter)"))
                found += [_Candidate(i, ast.dump(i), ast.unparse(i)) for i in ifs]
        elif isinstance(node, ast.BoolOp):
            found.append(_Candidate(node, ast.dump(node), ast.unparse(node), operand=True))
            found += [_Candidate(v, ast.dump(v), ast.unparse(v)) for v in node.values]
        elif isinstance(node, ast.match_case) and node.guard is not None:
            found.append(_Candidate(node.guard, ast.dump(node.guard), ast.unparse(node.guard)))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            found.append(_Candidate(node, ast.dump(node), ast.unparse(node), negated=True))
    return found


def _codes_of(module: types.CodeType, name: str, first: int) -> list[types.CodeType]:
    """The code object of the definition (by name and first line) and every code object nested in it."""
    def walk(code: types.CodeType) -> Iterable[types.CodeType]:
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                yield const
                yield from walk(const)

    roots = [c for c in walk(module) if c.co_name == name and c.co_firstlineno in (first,)]
    if not roots:
        roots = [c for c in walk(module) if c.co_name == name]
    out: list[types.CodeType] = []
    for root in roots[:1]:
        out += [root, *walk(root)]
    return out


def _smallest_containing(candidates: list[_Candidate], span: Span) -> _Candidate | None:
    best, best_size = None, None
    for candidate in candidates:
        node: Any = candidate.node
        start, end = (node.lineno, node.col_offset), (node.end_lineno, node.end_col_offset)
        if start <= (span[0], span[2]) and (span[1], span[3]) <= end:  # type: ignore[operator]
            size = ((end[0] or 0) - start[0], (end[1] or 0) - start[1])
            if best_size is None or size <= best_size:  # on a tie the deeper construct (found later) wins
                best, best_size = candidate, size
    return best
