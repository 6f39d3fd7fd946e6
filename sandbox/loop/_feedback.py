"""What the proposer is told about a rejected round: the rule broken, the counterexample, the UNKNOWN reason."""

from __future__ import annotations

from verifiers import Level

from sandbox._verdict import Verdict

__all__ = ["verdict_feedback"]

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
