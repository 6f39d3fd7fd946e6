"""Several candidates a round (``--candidates K``): K proposals, one batch check, the best one kept.

A round asks the proposer up to K times (stopping at the first None) and screens every proposal
as a one-proposal round does: a protected path named by any of them halts the run before
anything is checked. The rest are verified together by ``sandbox.batch.check_many``
(deduplicated, cheap stages first, on a process pool or Ray). A batch result is JSON only; the
verdict a kept change is applied with is always the gate's own, reached by ``Gate.check``
against the batch's verdict cache, so what the batch settled comes from the cache and nothing
is rebuilt from JSON. Every accepted candidate is measured on its own copy of the tree against
the same baseline; the best one that beats the noise goes on as a one-proposal round's would
(the implausible-gain tripwire, then kept or queued) and the others are rolled back.

Each candidate gets its own ``improve-round`` record, the chosen one last; the record written
last carries ``round_done`` (see ``sandbox.loop._history``). The rejection streak counts rounds
here: a round counts as rejected when none of its candidates was accepted and measured.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from models import BudgetExhausted, Proposal

from sandbox._errors import PatchError
from sandbox._gate import Gate
from sandbox._patch import Patch
from sandbox._verdict import Verdict, approval_needed
from sandbox.batch import BatchResult, check_many
from sandbox.loop._feedback import report_feedback, verdict_feedback
from sandbox.loop._loop import _overlay, rebuilt
from sandbox.loop._noise import Comparison, compare
from sandbox.loop._objective import ObjectiveError
from sandbox.loop._records import Round
from sandbox.loop._tripwires import Halt, Tripwire, gate_protected_touch, implausible_gain, rejection_streak

if TYPE_CHECKING:
    from sandbox.loop._loop import _Loop

__all__ = ["CandidateRound"]

# What ``Gate.record`` keeps of a verdict's report: a rejection the batch reached is recorded the same way.
_VERDICT_KEYS = ("accepted", "require", "seed", "obligations", "violations", "certificate", "quorum", "review",
                 "attestations")


@dataclass(slots=True)
class _Candidate:
    """One candidate on its way through the round; ``done`` is set once it is decided."""

    index: int
    proposal: Proposal
    patch: Patch | None = None
    verdict: Verdict | None = None
    done: Round | None = None
    entry: str | None = None  # the verdict's ledger entry
    comparison: Comparison | None = None
    after: tuple[float, ...] | None = None
    halt: Halt | None = None
    duplicate_of: int | None = None


class CandidateRound:
    """Round ``number`` of ``loop`` with ``loop.settings.candidates`` candidates; ``run`` as ``_Loop._round``."""

    def __init__(self, loop: _Loop, number: int) -> None:
        self.loop, self.number = loop, number
        self.size = loop.settings.candidates

    def run(self) -> Halt | None:
        found = self._propose()
        if isinstance(found, Halt):
            return found
        if not found:
            return None
        for candidate in found:
            self._screen(candidate)
        halt = _first_halt(found)
        if halt is None:
            self._verify([c for c in found if c.done is None])
            halt = _first_halt(found)
        if halt is not None:
            self._skip(found)
            self._write(found)
            return halt
        self._measure([c for c in found if c.done is None])
        return self._decide_round(found)

    # -- propose and screen -------------------------------------------------------------------

    def _propose(self) -> list[_Candidate] | Halt:
        found: list[_Candidate] = []
        for index in range(1, self.size + 1):
            try:
                proposal = self.loop.proposer.propose(self.loop._task(index, self.size))
            except BudgetExhausted as spent:
                # As in a one-proposal round: nothing of the round is recorded, so a resume does it again.
                return Halt(Tripwire.BUDGET, spent.message)
            if proposal is None:
                if not found:
                    self.loop._finished = True
                break
            self.loop.usage += proposal.usage
            found.append(_Candidate(index, proposal))
        return found

    def _screen(self, candidate: _Candidate) -> None:
        """The one-proposal round's screening (``_Loop._screen``), decided per candidate."""
        screened = self.loop._screen(candidate.proposal)
        candidate.patch, candidate.halt = screened.patch, screened.halt
        if screened.halt is not None:
            self._decide(candidate, "tripwire", screened.halt.message)
        elif screened.feedback:
            self._decide(candidate, "rejected", screened.feedback)

    # -- verify as one batch ------------------------------------------------------------------

    def _verify(self, pending: list[_Candidate]) -> None:
        if not pending:
            return
        with self._cache_gate() as gate:
            results = {r.id: r for r in self._batch(gate, pending)}
            by_id = {str(c.index): c for c in pending}
            for candidate in pending:
                result = results[str(candidate.index)]
                if result.duplicate_of is None:
                    self._judge(gate, candidate, result)
            for candidate in pending:
                result = results[str(candidate.index)]
                if result.duplicate_of is not None:
                    self._duplicate(candidate, by_id[result.duplicate_of], result)

    def _batch(self, gate: Gate, pending: list[_Candidate]) -> list[BatchResult]:
        settings = self.loop.settings
        assert gate.cache is not None
        patches = {str(c.index): c.patch for c in pending}
        try:
            return list(check_many(gate, patches, backend=settings.backend, workers=settings.workers,
                                   cache=gate.cache.directory))
        except ImportError as error:
            if settings.backend != "ray":
                raise
            raise ValueError(f"--backend ray needs Ray, which cannot be imported here ({error}); install it "
                             "(`pip install ray`) or use --backend local") from None

    @contextlib.contextmanager
    def _cache_gate(self) -> Iterator[Gate]:
        """The loop's gate with a verdict cache: its own, or a scratch one (outside the tree) for this round."""
        gate = self.loop.gate
        if gate.cache is not None:
            yield gate
            return
        with tempfile.TemporaryDirectory(prefix="sandbox-improve-cache-") as directory:
            yield rebuilt(gate, cache=directory)

    def _judge(self, gate: Gate, candidate: _Candidate, result: BatchResult) -> None:
        if result.report is None:
            return self._decide(candidate, "rejected", f"The gate could not check the patch: {result.error}")
        if not result.accepted:
            candidate.entry = self._record_report(candidate, result)
            return self._rejected(candidate, result.report.get("violations", ()), report_feedback(result.report))
        assert candidate.patch is not None
        try:
            # The gate's own verdict (what is applied), its obligations settled from the batch's cache.
            verdict = gate.check(candidate.patch)
        except PatchError as error:
            return self._decide(candidate, "rejected", f"The patch does not apply to the tree: {error}")
        candidate.verdict = verdict
        if not verdict.accepted:
            candidate.entry = self._record_verdict(candidate)
            return self._rejected(candidate, [v.to_json() for v in verdict.violations],
                                  "The batch accepted the change, but the gate's own check of it did not. "
                                  + verdict_feedback(verdict))
        return None

    def _rejected(self, candidate: _Candidate, violations: Any, feedback: str) -> None:
        candidate.halt = gate_protected_touch((v.get("rule"), v.get("path"), v.get("message")) for v in violations)
        if candidate.halt is not None:
            return self._decide(candidate, "tripwire", candidate.halt.message)
        return self._decide(candidate, "rejected", feedback)

    def _duplicate(self, candidate: _Candidate, original: _Candidate, result: BatchResult) -> None:
        candidate.duplicate_of = original.index
        self._decide(candidate, "duplicate", f"The same change as candidate {original.index} (it leaves the "
                     f"files the same), so it was checked and judged once, as candidate {original.index}; "
                     "see that candidate's outcome.", accepted=result.accepted)

    # -- measure and choose -------------------------------------------------------------------

    def _measure(self, accepted: list[_Candidate]) -> None:
        loop = self.loop
        if loop.objective is None:
            return
        for candidate in accepted:
            assert candidate.verdict is not None
            try:
                after = loop.objective.measure_many(loop.root, loop.settings.repeats, **_overlay(candidate.verdict))
            except ObjectiveError as error:
                candidate.entry = self._record_verdict(candidate, rolled_back=True)
                self._decide(candidate, "rejected", f"The gate accepted the change, but the objective failed "
                             f"on it, so it was rolled back: {error}", accepted=True)
                continue
            candidate.after = after
            candidate.comparison = compare(loop.baseline or (), after, loop.objective.direction,
                                           confidence=loop.settings.confidence)

    def _decide_round(self, found: list[_Candidate]) -> Halt | None:
        loop = self.loop
        accepted = [c for c in found if c.done is None]
        chosen = _best(accepted, measured=loop.objective is not None)
        for candidate in accepted:
            if candidate is not chosen:
                candidate.entry = self._record_verdict(candidate, rolled_back=True)
                self._decide(candidate, "rolled back", _not_chosen(candidate, chosen), accepted=True,
                             **self._measured(candidate))
        loop.streak = 0 if accepted else loop.streak + 1
        if chosen is None:
            self._write(found)
            return None if accepted else rejection_streak(loop.streak, loop.settings.max_rejections, per="round")
        assert chosen.verdict is not None and chosen.patch is not None
        comparison = chosen.comparison
        if comparison is not None and loop.objective is not None:
            halt = implausible_gain(comparison.before.mean, comparison.after.mean, loop.objective.direction,
                                    loop.settings.max_gain)
            if halt is not None:
                chosen.entry = self._record_verdict(chosen, rolled_back=True)
                self._decide(chosen, "tripwire", halt.message, accepted=True, **self._measured(chosen))
                self._write(found)
                return halt
        self._write([c for c in found if c is not chosen], last=False)
        base = {**self._base(chosen), "accepted": True, **self._measured(chosen)}
        extra = {"round_done": True}
        reserved = approval_needed(loop.gate.config.apply, chosen.verdict)
        if reserved:
            loop._queue(self.number, chosen.proposal, chosen.patch, chosen.verdict, base, reserved, comparison,
                        extra)
        else:
            loop._keep(self.number, chosen.proposal, chosen.patch, chosen.verdict, base, comparison, extra)
        return None

    def _skip(self, found: list[_Candidate]) -> None:
        """A tripwire halts the round: the candidates not decided yet are recorded as skipped."""
        tripped = next(c for c in found if c.halt is not None)
        why = f"candidate {tripped.index} tripped the {tripped.halt.tripwire.value} tripwire, which halts the run"
        for candidate in found:
            if candidate.done is not None:
                continue
            if candidate.verdict is not None:
                candidate.entry = self._record_verdict(candidate, rolled_back=True)
                self._decide(candidate, "skipped", f"Accepted by the gate, but neither measured nor kept: {why}.",
                             accepted=True)
            else:
                self._decide(candidate, "skipped", f"Not checked: {why}.")

    # -- records ------------------------------------------------------------------------------

    def _base(self, candidate: _Candidate) -> dict[str, Any]:
        return {"round": self.number, "source": candidate.proposal.source, "usage": candidate.proposal.usage,
                "proposal_digest": candidate.patch.digest if candidate.patch else None,
                "candidate": candidate.index}

    def _measured(self, candidate: _Candidate) -> dict[str, Any]:
        if candidate.after is None:
            return {}
        return {"before": self.loop.baseline, "after": candidate.after}

    def _decide(self, candidate: _Candidate, decision: str, feedback: str, **fields: Any) -> None:
        candidate.done = Round(**self._base(candidate), decision=decision, feedback=feedback, **fields)

    def _write(self, candidates: list[_Candidate], last: bool = True) -> None:
        """Record ``candidates`` in order; with ``last``, the final one ends the round (``round_done``)."""
        for number, candidate in enumerate(candidates, 1):
            assert candidate.done is not None
            extra: dict[str, Any] = {"duplicate_of": candidate.duplicate_of}
            if last and number == len(candidates):
                extra["round_done"] = True
            self.loop._record(candidate.proposal, candidate.patch, candidate.entry, candidate.done,
                              candidate.comparison, extra)

    def _tags(self, candidate: _Candidate) -> dict[str, Any]:
        return {"improve_run": self.loop.history.run, "improve_round": self.number,
                "improve_candidate": candidate.index}

    def _record_verdict(self, candidate: _Candidate, **extra: Any) -> str:
        assert candidate.verdict is not None
        return self.loop.gate.record(candidate.verdict, **self._tags(candidate), **extra).hash

    def _record_report(self, candidate: _Candidate, result: BatchResult) -> str:
        report = result.report or {}
        record = {key: report[key] for key in _VERDICT_KEYS if key in report}
        return self.loop.gate.ledger.append("verdict", {**record, **self._tags(candidate),
                                                        "batch_stage": result.stage}).hash


def _first_halt(found: list[_Candidate]) -> Halt | None:
    return next((c.halt for c in found if c.halt is not None), None)


def _best(accepted: list[_Candidate], *, measured: bool) -> _Candidate | None:
    """The significant candidate with the best mean (``delta`` is direction-aware, against the one
    baseline); the first accepted when there is no objective to rank them by."""
    if not measured:
        return accepted[0] if accepted else None
    significant = [c for c in accepted if c.comparison is not None and c.comparison.significant]
    return max(significant, key=lambda c: (c.comparison.delta, -c.index), default=None)  # type: ignore[union-attr]


def _not_chosen(candidate: _Candidate, chosen: _Candidate | None) -> str:
    comparison = candidate.comparison
    if comparison is None:
        assert chosen is not None
        return (f"Accepted by the gate but not kept: candidate {chosen.index}, the first accepted, was chosen "
                "(without an objective there is nothing to rank the candidates by).")
    if not comparison.significant:
        return f"Accepted by the gate but rolled back: {comparison.summary()}."
    assert chosen is not None
    return (f"Accepted by the gate and beat the noise, but beaten by candidate {chosen.index}, so it was "
            f"rolled back: {comparison.summary()}.")
