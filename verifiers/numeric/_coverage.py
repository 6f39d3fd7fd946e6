"""Coverage of what the patch added to a kernel: each new condition taken both ways by a compared case.

A kernel that switches on its input (``if x.shape[-1] >= 4096``, ``if x.abs().max() > 1e4``)
hides its other side from a checker whose cases never cross the threshold.  After every
case agreed, the cases are replayed on the new side with jump tracing (the harness's
``cover``, which calls ``verifiers._trace``) until every condition the patch added
(``verifiers._branches``) was seen true and false; one that never was makes the
obligation ``UNKNOWN`` with the condition and its line.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from properties import Obligation
from verifiers._branches import Condition, Coverage, Unmeasurable, definition_lines, new_conditions, replay
from verifiers._contract import Context, Outcome

__all__ = ["KernelCoverage", "measure"]


@dataclass(frozen=True, slots=True)
class KernelCoverage:
    conditions: tuple[Condition, ...]
    gaps: tuple[tuple[Condition, str], ...] = ()
    replayed: int = 0
    problem: str = ""

    @property
    def complete(self) -> bool:
        return not self.gaps and not self.problem

    def summary(self) -> str:
        n = len(self.conditions)
        return (f"each of the {n} condition{'s' if n != 1 else ''} the patch adds to the kernel was taken both "
                f"ways (jump tracing of {self.replayed} replayed case{'s' if self.replayed != 1 else ''})")

    def why_unknown(self, target: str, compared: int) -> str:
        if self.problem:
            return (f"{target}: the {compared} comparisons agreed, but whether they reach the conditions the patch "
                    f"adds could not be measured: {self.problem}")
        shown = "; ".join(c.describe(m) for c, m in self.gaps[:4])
        more = f" (and {len(self.gaps) - 4} more)" if len(self.gaps) > 4 else ""
        return (f"{target}: the {compared} comparisons agreed, but {shown}{more} for any compared case (jump "
                f"tracing of {self.replayed} replayed cases): the kernel's code on the other side never ran, so "
                f"nothing says it agrees; state inputs that reach it with kernel('{target}', make_inputs=lambda "
                "rng: [...]) -- e.g. a case past the threshold")


def measure(obligation: Obligation, context: Context, qualname: str,
            specs: Sequence[dict[str, Any]], call: Callable[[dict[str, Any]], Outcome]) -> KernelCoverage | None:
    """Replay ``specs`` (harness run specs) traced on the new side; ``None`` if the patch adds no condition.

    ``call(spec)`` sends one ``cover`` request to the new worker and returns its outcome.
    """
    if obligation.old_source is not None and obligation.new_source is not None and \
            textwrap.dedent(obligation.old_source) == textwrap.dedent(obligation.new_source):
        return None  # the kernel itself is unchanged (compared for what it reads): it adds no condition
    text = context.after.get(obligation.path)
    if text is None:
        return KernelCoverage((), problem=f"the new text of {obligation.path} is not known")
    try:
        conditions = new_conditions(obligation.old_source, text, qualname, obligation.path)
        first, last = definition_lines(text, qualname)
    except Unmeasurable as error:
        return KernelCoverage((), problem=str(error))
    if not conditions:
        return None
    coverage = Coverage(conditions)
    trace = {"first": first, "last": last}
    return _report(coverage, replay(coverage, specs, lambda spec: call({**spec, "trace": trace})))


def _report(coverage: Coverage, problem: str = "") -> KernelCoverage:
    return KernelCoverage(coverage.conditions, tuple(coverage.missing()), coverage.inputs, problem)
