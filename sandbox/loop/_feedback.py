"""What the proposer is told about a rejected round: the rule broken, the counterexample, the UNKNOWN reason."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from verifiers import Level

from sandbox._verdict import Verdict

__all__ = ["report_feedback", "verdict_feedback"]

_ANALYSABLE = ("make the code analysable: annotate every parameter with a concrete type (int, float, "
               "str, bool, tuples/lists of these, torch.Tensor), avoid constructs the provers do not "
               "model, or state the function's inputs in the property file")
_LIMIT = 12


def verdict_feedback(verdict: Verdict) -> str:
    """The gate's rejection as instructions a model can act on (every failed obligation, in order)."""
    violations = [(v.rule, v.path, v.line, v.message, v.fix) for v in verdict.violations]
    failures = []
    for judgement in verdict.failures:
        evidence, obligation = judgement.evidence, judgement.obligation
        if evidence.violations:
            continue
        cex = evidence.counterexample
        failures.append((obligation.kind.value, obligation.target, obligation.path, evidence.level.value,
                         evidence.detail, (cex.call, cex.old, cex.new) if cex is not None else None))
    return _feedback(violations, failures)


def report_feedback(report: Mapping[str, Any]) -> str:
    """``verdict_feedback`` from a verdict's JSON report (a batch result's ``report``).

    Obligations the batch never ran (an earlier, cheaper stage had already rejected the
    candidate) are left out: they say nothing about the proposal.
    """
    violations = [(v.get("rule"), v.get("path"), v.get("line"), v.get("message"), v.get("fix"))
                  for v in report.get("violations", ())]
    failures = []
    for obligation in report.get("obligations", ()):
        if obligation.get("ok") or obligation.get("deferred") or obligation.get("level") == Level.VIOLATION.value:
            continue
        cex = obligation.get("counterexample")
        failures.append((obligation.get("kind"), obligation.get("target"), obligation.get("path"),
                         obligation.get("level"), obligation.get("detail"),
                         (cex.get("call"), cex.get("old"), cex.get("new")) if cex else None))
    return _feedback(violations, failures)


def _feedback(violations: list[tuple[Any, ...]], failures: list[tuple[Any, ...]]) -> str:
    """``violations``: (rule, path, line, message, fix); ``failures``: (kind, target, path, level,
    detail, (call, old, new) or None)."""
    lines = ["The gate REJECTED the proposal; nothing was applied."]
    for rule, path, line, message, fix in violations:
        where = f"{path}:{line}" if line else str(path)
        lines.append(f"- violation [{rule}] at {where}: {message}.{f' Fix: {fix}' if fix else ''}")
    for kind, target, path, level, detail, cex in failures:
        head = f"- {kind} of {target} ({path}): {level}"
        if cex is not None:
            lines.append(f"{head}: counterexample {cex[0]}: old -> {cex[1]}, new -> {cex[2]}. "
                         "Make the new code agree with the old on this input.")
        elif level == Level.UNKNOWN.value:
            lines.append(f"{head}: the gate could not decide ({detail}); {_ANALYSABLE}.")
        else:
            lines.append(f"{head}: {detail}")
    if len(lines) > _LIMIT + 1:
        lines = [*lines[:_LIMIT + 1], f"- ... and {len(lines) - _LIMIT - 1} more"]
    return "\n".join(lines)
