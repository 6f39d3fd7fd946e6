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
    lines = ["The gate REJECTED the proposal; nothing was applied."]
    for violation in verdict.violations:
        where = f"{violation.path}:{violation.line}" if violation.line else violation.path
        fix = f" Fix: {violation.fix}" if violation.fix else ""
        lines.append(f"- violation [{violation.rule}] at {where}: {violation.message}.{fix}")
    for judgement in verdict.failures:
        evidence, obligation = judgement.evidence, judgement.obligation
        if evidence.violations:
            continue
        head = f"- {obligation.kind.value} of {obligation.target} ({obligation.path}): {evidence.level.value}"
        cex = evidence.counterexample
        if cex is not None:
            lines.append(f"{head}: counterexample {cex.call}: old -> {cex.old}, new -> {cex.new}. "
                         "Make the new code agree with the old on this input.")
        elif evidence.level is Level.UNKNOWN:
            lines.append(f"{head}: the gate could not decide ({evidence.detail}); {_ANALYSABLE}.")
        else:
            lines.append(f"{head}: {evidence.detail}")
    if len(lines) > _LIMIT + 1:
        lines = [*lines[:_LIMIT + 1], f"- ... and {len(lines) - _LIMIT - 1} more"]
    return "\n".join(lines)


def report_feedback(report: Mapping[str, Any]) -> str:
    """``verdict_feedback`` from a verdict's JSON report (a batch result's ``report``).

    Obligations the batch never ran (an earlier, cheaper stage had already rejected the
    candidate) are left out: they say nothing about the proposal.
    """
    lines = ["The gate REJECTED the proposal; nothing was applied."]
    for violation in report.get("violations", ()):
        line = violation.get("line")
        where = f"{violation.get('path')}:{line}" if line else str(violation.get("path"))
        fix = f" Fix: {violation['fix']}" if violation.get("fix") else ""
        lines.append(f"- violation [{violation.get('rule')}] at {where}: {violation.get('message')}.{fix}")
    for obligation in report.get("obligations", ()):
        if obligation.get("ok") or obligation.get("deferred") or obligation.get("level") == Level.VIOLATION.value:
            continue
        head = (f"- {obligation.get('kind')} of {obligation.get('target')} ({obligation.get('path')}): "
                f"{obligation.get('level')}")
        cex = obligation.get("counterexample")
        if cex:
            lines.append(f"{head}: counterexample {cex.get('call')}: old -> {cex.get('old')}, new -> "
                         f"{cex.get('new')}. Make the new code agree with the old on this input.")
        elif obligation.get("level") == Level.UNKNOWN.value:
            lines.append(f"{head}: the gate could not decide ({obligation.get('detail')}); {_ANALYSABLE}.")
        else:
            lines.append(f"{head}: {obligation.get('detail')}")
    if len(lines) > _LIMIT + 1:
        lines = [*lines[:_LIMIT + 1], f"- ... and {len(lines) - _LIMIT - 1} more"]
    return "\n".join(lines)
