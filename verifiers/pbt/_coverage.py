"""Coverage of what the patch added: each new condition taken both ways by some compared input.

After a search in which old and new agreed, the inputs it compared are replayed on
the new side with jump tracing (``verifiers._trace``, in the worker) until every
condition the patch added (``verifiers._branches``) has been seen true and false.
The replay stops as soon as that holds, so a patch whose new branches the search
reached costs a handful of traced calls; a patch that adds none costs nothing.
"""

from __future__ import annotations

import ast
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from properties import Obligation
from verifiers._branches import Condition, Coverage, Unmeasurable, definition_lines, new_conditions, replay
from verifiers._contract import Context

__all__ = ["CoverageReport", "measure"]

TRACER = "verifiers._trace:cover"
_ADMITS_NONE = frozenset({"None", "Optional", "Any", "object"})


@dataclass(frozen=True, slots=True)
class CoverageReport:
    """``gaps``: each new condition with the outcome no input gave; ``problem``: why it could not be measured."""

    conditions: tuple[Condition, ...]
    gaps: tuple[tuple[Condition, str], ...] = ()
    replayed: int = 0
    problem: str = ""
    notes: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return not self.gaps and not self.problem

    def summary(self) -> str:
        n = len(self.conditions)
        return (f"each of the {n} condition{'s' if n != 1 else ''} the patch adds was taken both ways "
                f"(jump tracing of {self.replayed} replayed input{'s' if self.replayed != 1 else ''})"
                + "".join(f"; {note}" for note in self.notes))

    def why_unknown(self, target: str, compared: int) -> str:
        if self.problem:
            return (f"old and new agree on the {compared} inputs compared, but whether they reach the conditions "
                    f"the patch adds to {target} could not be measured: {self.problem}")
        shown = "; ".join(c.describe(missing) for c, missing in self.gaps[:4])
        more = f" (and {len(self.gaps) - 4} more)" if len(self.gaps) > 4 else ""
        return (f"old and new agree on the {compared} inputs compared, but {shown}{more} for any of them "
                f"(jump tracing of {self.replayed} replayed inputs): the new code on the other side of that "
                f"condition never ran, so nothing says it agrees; state inputs that reach it (inputs= or pre= "
                f'in the property file, e.g. equivalent("{target}", inputs={{...}})), or write the condition so '
                "the prover can settle it")


def measure(obligation: Obligation, context: Context, callee: str,
            inputs: Sequence[tuple[Any, tuple[Any, ...], dict[str, Any]]],
            budget: float) -> CoverageReport | None:
    """Replay ``inputs`` (receiver, args, kwargs) traced on the new side; ``None`` if the patch adds no condition."""
    if obligation.old_source is not None and obligation.new_source is not None and \
            textwrap.dedent(obligation.old_source) == textwrap.dedent(obligation.new_source):
        return None  # the definition itself is unchanged (compared for what it reads): it adds no condition
    text = context.after.get(obligation.path)
    module = obligation.module or ""
    qualname = obligation.target[len(module) + 1:] if module and obligation.target.startswith(module + ".") else ""
    if text is None or not qualname:
        return CoverageReport((), problem=f"the new file {obligation.path} or the definition's name is not known")
    try:
        conditions = new_conditions(obligation.old_source, text, qualname, obligation.path)
        first, last = definition_lines(text, qualname)
    except Unmeasurable as error:
        return CoverageReport((), problem=str(error))
    if not conditions:
        return None
    report = _replay(context, callee, conditions, {"target": callee, "first": first, "last": last}, inputs,
                     time.monotonic() + budget)
    return _outside_the_types(report, *_annotations(obligation.new_source or ""))


def _annotations(source: str) -> tuple[frozenset[str], dict[str, str]]:
    """Parameters whose annotation admits no None (``int``; not ``Optional``, ``Any``, ``object``), and each annotation."""
    try:
        node = next(n for n in ast.walk(ast.parse(textwrap.dedent(source)))
                    if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
    except (SyntaxError, StopIteration):
        return frozenset(), {}
    args = [a for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs if a.annotation is not None]
    non_optional = frozenset(
        a.arg for a in args if not _ADMITS_NONE & {n.id for n in ast.walk(a.annotation) if isinstance(n, ast.Name)}
        and not any(isinstance(n, ast.Constant) and n.value is None for n in ast.walk(a.annotation)))
    return non_optional, {a.arg: ast.unparse(a.annotation) for a in args}


def _outside_the_types(report: CoverageReport, non_optional: frozenset[str],
                       annotations: dict[str, str]) -> CoverageReport:
    """The side of a type test that no input of the declared types can take is a note, not a gap.

    `p is None` for a parameter annotated without None cannot be true, `isinstance(p, T)` for
    one annotated exactly T cannot be false: the inputs compared are those of the declared types,
    and a caller passing anything else breaks the annotation, not the equivalence.
    """
    gaps, notes = [], list(report.notes)
    for condition, missing in report.gaps:
        name, kind, failing = condition.type_test
        if condition.none_test in non_optional and dict(condition.truth).get("N") == missing:
            notes.append(f"{condition.describe(missing)}: {condition.none_test} is annotated without None, so "
                         "that side is outside the compared types")
        elif name and annotations.get(name) == kind and missing == failing:
            notes.append(f"{condition.describe(missing)}: {name} is annotated {kind}, so that side is outside the "
                         "compared types")
        else:
            gaps.append((condition, missing))
    return CoverageReport(report.conditions, tuple(gaps), report.replayed, report.problem, tuple(notes))



def _replay(context: Context, callee: str, conditions: tuple[Condition, ...], spec: dict[str, Any],
            inputs: Sequence[tuple[Any, tuple[Any, ...], dict[str, Any]]], deadline: float) -> CoverageReport:
    coverage = Coverage(conditions)
    call = context.executor.call  # type: ignore[union-attr]
    problem = replay(coverage, inputs, lambda i: call("new", TRACER, (spec, *i), {}), deadline)
    if not problem and not coverage.traced and coverage.inputs:
        problem = (f"no replayed call ran the code of {callee} itself (it may be replaced or wrapped at import "
                   "time), so its conditions were never observed")
    return _report(coverage, problem)


def _report(coverage: Coverage, problem: str = "") -> CoverageReport:
    return CoverageReport(coverage.conditions, tuple(coverage.missing()), coverage.inputs, problem)
