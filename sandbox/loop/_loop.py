"""The loop: propose -> check -> (measure) -> keep, queue or roll back -> feedback -> next round.

A candidate is measured on a fresh copy of the tree holding exactly its verified bytes, before
anything is written; only a kept (or approved) change reaches the tree, through ``Gate.apply``
(atomic, journalled, in the ledger). A candidate that does not beat the noise is rolled back in
the only sense that leaves nothing to undo: the copy it ran in is thrown away, so a kill -9 at any
point of a round leaves the tree as it was before that round's apply or after it, never between.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import dataclass
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from models import BudgetExhausted, Proposal, Proposer, Task, Usage

from sandbox._config import Config
from sandbox._errors import PatchError
from sandbox._gate import Gate
from sandbox._patch import Patch
from sandbox._verdict import Verdict, approval_needed, sha256
from sandbox.loop._feedback import verdict_feedback
from sandbox.loop._history import APPLYING, History, RunState, last_run, tree_matches
from sandbox.loop._noise import Comparison, compare
from sandbox.loop._objective import Objective, ObjectiveError
from sandbox.loop._protect import editable_paths, objective_files, repository_files
from sandbox.loop._queue import Queue
from sandbox.loop._records import Outcome, Round, Settings
from sandbox.loop._tripwires import (Halt, budget_spent, gate_protected_touch, implausible_gain, protected_touch,
                                     rejection_streak)

__all__ = ["improve", "loop_gate"]

_READABLE_BYTES = 200_000


def loop_gate(root: str | Path, protect: Sequence[str] = (), **overrides: Any) -> Gate:
    """``Gate.from_repo`` with ``protect`` added to ``[tool.sandbox] protected`` for the loop's lifetime."""
    from sandbox._config import load_config

    base = load_config(Path(root).resolve()).with_overrides(**overrides)
    return Gate.from_repo(root, **{**overrides, "protected": tuple(dict.fromkeys((*base.protected, *protect)))})


def improve(gate: Gate, proposer: Proposer, settings: Settings | None = None, objective: Objective | None = None,
            *, resume: bool = False, proposer_state: Callable[[], dict[str, Any]] | None = None,
            report: Callable[[Round], None] | None = None, **options: Any) -> Outcome:
    """Run the loop on ``gate``'s repository; see the module docstring and docs/improve.md.

    ``improve(gate, proposer, objective=Objective("python eval.py"), goal="...", rounds=5,
    editable=("train.py",))``: without ``settings``, the keyword ``options`` make one.
    ``gate`` is rebuilt with the objective's files (and ``settings.protect``) protected.
    ``proposer_state`` is recorded with each round (what a resumed run must skip);
    ``report`` is called as each round ends. Raises ``ObjectiveError`` if the objective
    fails on the unchanged tree and lets ``ProposerError`` through (a spent budget is a halt).
    """
    if settings is None:
        settings = Settings(**options)
    elif options:
        raise TypeError(f"give either settings or keyword options, not both ({', '.join(options)})")
    return _Loop(gate, proposer, settings, objective, proposer_state, report).run(resume)


class _Loop:
    def __init__(self, gate: Gate, proposer: Proposer, settings: Settings, objective: Objective | None,
                 proposer_state: Callable[[], dict[str, Any]] | None,
                 report: Callable[[Round], None] | None) -> None:
        self.settings, self.objective, self.proposer = settings, objective, proposer
        self.state = proposer_state or (lambda: {})
        self.report = report or (lambda r: None)
        root = gate.root
        self.measured = objective_files(objective.command, root, settings.editable) if objective else ()
        self.protect = tuple(dict.fromkeys((*settings.protect, *self.measured)))
        self.gate = _with_protected(gate, self.protect)
        self.root = self.gate.root
        chosen = editable_paths(root, settings.editable, self.measured,
                                lambda path: self.gate.policy.protected_by(path) is not None)
        self.editable, self.notes = chosen.patterns, chosen.notes
        if objective is not None and not settings.editable:
            raise ValueError("with an objective, name what the proposer may change with --editable GLOB (or "
                             "[tool.sandbox.improve] editable): the objective's own files and the repository "
                             "modules it imports outside the editable paths are protected for the loop")
        if not self.editable:
            raise ValueError("nothing is editable: the editable paths are empty once the protected files "
                             "are left out; name what the proposer may change with --editable GLOB")
        self.history = History(self.gate.ledger)
        self.queue = Queue(self.gate.state_dir)
        self.rounds: list[Round] = []
        self.baseline: tuple[float, ...] | None = None
        self.usage = Usage()
        self.streak = 0
        self.started = time.monotonic()

    # -- the run ------------------------------------------------------------------------------

    def run(self, resume: bool) -> Outcome:
        self.gate.recover()
        first = self._resume() if resume else self._start()
        halt: Halt | None = None
        for number in range(first, self.settings.rounds + 1):
            halt = budget_spent(self.usage.total_tokens, time.monotonic() - self.started,
                                self.settings.budget_tokens, self.settings.budget_seconds)
            if halt is None:
                halt = self._round(number)
            if halt is not None or self._finished:
                break
        if halt is not None:
            self.history.halt({**halt.to_json(), "round": self._last_round()})
        else:
            self.history.append("improve-end", {"kept": sum(r.kept for r in self.rounds),
                                                "rounds": len({r.round for r in self.rounds})})
        return Outcome(self.history.run, tuple(self.rounds), halt, self.usage, self.gate.ledger.tip()[1],
                       self.baseline, self.notes)

    def _start(self) -> int:
        self._finished = False
        self.history.start(self._settings_record())
        self._measure_baseline("before the first round")
        return 1

    def _resume(self) -> int:
        self._finished = False
        state = last_run(self.gate.ledger)
        if state is None:
            raise ValueError(f"--resume: the ledger in {self.gate.state_dir} holds no `sandbox improve` run "
                             "to continue; run without --resume to start one")
        if state.ended:
            raise ValueError(f"--resume: run {state.run} finished ({len(state.rounds)} rounds); start a new "
                             "run without --resume")
        self.history.run = state.run
        self._settle_interrupted(state)
        self.rounds = [Round.from_json(r) for r in state.records]
        self.usage = sum((r.usage for r in self.rounds), Usage())
        self.history.append("improve-resume", {"after_round": self._last_round(),
                                               "halted": state.halted})
        self._measure_baseline("on resume (the tree as the last run left it)")
        return self._last_round() + 1

    def _settle_interrupted(self, state: RunState) -> None:
        """A round killed while applying: the journal decided it; record which way it went."""
        for number, record in list(state.rounds.items()):
            if record.get("decision") != APPLYING:
                continue
            applied = tree_matches(self.root, record.get("after_hashes", {}))
            final = {**record, "decision": "kept" if applied else "interrupted", "applied": applied,
                     "kept": applied, "feedback": record.get("feedback", "") + (
                         " (the loop was interrupted; the apply had completed)" if applied else
                         " (the loop was interrupted before the apply; nothing was written)")}
            self.history.round(final)
            state.settle(number, final)

    def _measure_baseline(self, why: str) -> None:
        if self.objective is None:
            return
        try:
            self.baseline = self.objective.measure_many(self.root, self.settings.repeats)
        except ObjectiveError as error:
            raise ObjectiveError(f"the objective fails on the unchanged tree, so nothing can be compared "
                                 f"with it: {error}") from None
        self.history.baseline(self.baseline, why)

    # -- one round ----------------------------------------------------------------------------

    def _round(self, number: int) -> Halt | None:
        if self.settings.candidates > 1:
            from sandbox.loop._candidates import CandidateRound  # it builds on this module's helpers

            return CandidateRound(self, number).run()
        try:
            proposal = self.proposer.propose(self._task())
        except BudgetExhausted as spent:
            from sandbox.loop._tripwires import Tripwire

            return Halt(Tripwire.BUDGET, spent.message)
        if proposal is None:
            self._finished = True
            return None
        self.usage += proposal.usage
        return self._judge(number, proposal)

    def _judge(self, number: int, proposal: Proposal) -> Halt | None:
        base = {"round": number, "source": proposal.source, "usage": proposal.usage}
        screened = self._screen(proposal)
        patch = screened.patch
        if screened.halt is not None:
            self._record(proposal, patch, None, Round(**base, proposal_digest=_digest(patch),
                                                     decision="tripwire", feedback=screened.halt.message))
            return screened.halt
        if screened.feedback:
            return self._reject(number, proposal, patch, base, screened.feedback)
        assert patch is not None
        try:
            verdict = self.gate.check(patch)
        except PatchError as error:
            return self._reject(number, proposal, patch, base, f"The patch does not apply to the tree: {error}")
        halt = gate_protected_touch((v.rule, v.path, v.message) for v in verdict.violations)
        if halt is not None:
            entry = self.gate.record(verdict, improve_run=self.history.run, improve_round=number)
            self._record(proposal, patch, entry.hash, Round(**base, proposal_digest=patch.digest,
                                                           decision="tripwire", feedback=halt.message))
            return halt
        if not verdict.accepted:
            entry = self.gate.record(verdict, improve_run=self.history.run, improve_round=number)
            return self._reject(number, proposal, patch, base, verdict_feedback(verdict), entry.hash)
        return self._accepted(number, proposal, patch, verdict, base)

    def _screen(self, proposal: Proposal) -> Screened:
        """What is decided before the gate runs: an unreadable proposal, a protected path (a
        tripwire), an edit outside the editable paths, no change at all; else the patch goes on."""
        try:
            patch = _parse(proposal, self.gate.config)
        except (PatchError, ValueError) as error:
            return Screened(None, f"The proposal is not a patch the gate can read: {error}")
        attempted = [*(patch.paths if patch else ()), *(a.path for a in proposal.outside)]
        halt = protected_touch(attempted, self._protected_by)
        if halt is not None:
            return Screened(patch, halt=halt)
        outside = Task(self.settings.goal, editable=self.editable).outside(attempted)
        if outside:
            return Screened(patch, f"The proposal edits {', '.join(outside)}, outside the editable paths "
                                   f"({', '.join(self.editable)}); nothing was checked or applied. Edit only "
                                   "files inside them.")
        if patch is None:
            return Screened(None, "The proposal changes nothing.")
        return Screened(patch)

    def _accepted(self, number: int, proposal: Proposal, patch: Patch, verdict: Verdict,
                  base: dict[str, Any]) -> Halt | None:
        self.streak = 0
        base = {**base, "proposal_digest": patch.digest, "accepted": True}
        comparison: Comparison | None = None
        if self.objective is not None:
            try:
                after = self.objective.measure_many(self.root, self.settings.repeats, **_overlay(verdict))
            except ObjectiveError as error:
                entry = self.gate.record(verdict, improve_run=self.history.run, improve_round=number,
                                         rolled_back=True)
                return self._reject(number, proposal, patch, {**base}, f"The gate accepted the change, "
                                    f"but the objective failed on it, so it was rolled back: {error}", entry.hash)
            comparison = compare(self.baseline or (), after, self.objective.direction,
                                 confidence=self.settings.confidence)
            base = {**base, "before": self.baseline, "after": after}
            if not comparison.significant:
                entry = self.gate.record(verdict, improve_run=self.history.run, improve_round=number,
                                         rolled_back=True)
                self._record(proposal, patch, entry.hash, Round(
                    **base, decision="rolled back",
                    feedback=f"Accepted by the gate but rolled back: {comparison.summary()}."), comparison)
                return None
            halt = implausible_gain(comparison.before.mean, comparison.after.mean, self.objective.direction,
                                    self.settings.max_gain)
            if halt is not None:
                entry = self.gate.record(verdict, improve_run=self.history.run, improve_round=number,
                                         rolled_back=True)
                self._record(proposal, patch, entry.hash, Round(**base, decision="tripwire",
                                                               feedback=halt.message), comparison)
                return halt
        reserved = approval_needed(self.gate.config.apply, verdict)
        if reserved:
            return self._queue(number, proposal, patch, verdict, base, reserved, comparison)
        return self._keep(number, proposal, patch, verdict, base, comparison)

    def _keep(self, number: int, proposal: Proposal, patch: Patch, verdict: Verdict, base: dict[str, Any],
              comparison: Comparison | None, extra: dict[str, Any] | None = None) -> None:
        hashes = {f.path: sha256(f.after) for f in verdict.files}
        measured = f": {comparison.summary()}" if comparison else " (no objective: accepted is kept)"
        kept = Round(**base, decision="kept", applied=True, kept=True, feedback=f"Kept{measured}.")
        intent = {**_round_record(kept, proposal, patch), "decision": APPLYING, "applied": False,
                  "kept": False, "after_hashes": hashes, "proposer_state": self.state(), **(extra or {})}
        self.history.round(intent)
        entry = self.gate.apply(verdict)
        self._record(proposal, patch, entry.hash, kept, comparison, extra)
        self._measure_baseline(f"after the change kept in round {number}")

    def _queue(self, number: int, proposal: Proposal, patch: Patch, verdict: Verdict, base: dict[str, Any],
               reserved: str, comparison: Comparison | None, extra: dict[str, Any] | None = None) -> None:
        entry = self.gate.record(verdict, awaiting_approval=True, improve_run=self.history.run,
                                 improve_round=number)
        pending = self.queue.add({
            "run": self.history.run, "round": number, "patch": proposal.to_patch(), "patch_digest": patch.digest,
            "certificate": verdict.certificate.to_json(), "files": [f.path for f in verdict.files],
            "protect": list(self.protect), "reserved": reserved, "summary": verdict.summary(),
            "objective": comparison.to_json() | {"summary": comparison.summary()} if comparison else None,
            "verdict_entry": entry.hash})
        self._record(proposal, patch, entry.hash, Round(
            **base, decision="queued", queued=pending.id,
            feedback=f"Accepted and queued for a person ([tool.sandbox] apply = {self.gate.config.apply!r} "
                     f"reserves {reserved}): `sandbox apply --approve {pending.id}`."), comparison, extra)

    def _reject(self, number: int, proposal: Proposal, patch: Patch | None, base: dict[str, Any],
                feedback: str, verdict_entry: str | None = None) -> Halt | None:
        del number
        self.streak += 1
        self._record(proposal, patch, verdict_entry, Round(**{"proposal_digest": _digest(patch), **base},
                                                           decision="rejected", feedback=feedback))
        return rejection_streak(self.streak, self.settings.max_rejections)

    def _record(self, proposal: Proposal, patch: Patch | None, verdict_entry: str | None, done: Round,
                comparison: Comparison | None = None, extra: dict[str, Any] | None = None) -> None:
        record = {**_round_record(done, proposal, patch), "verdict_entry": verdict_entry,
                  "proposer_state": self.state(),
                  "comparison": comparison.to_json() if comparison else None, **(extra or {})}
        self.history.round(record)
        self.rounds.append(done)
        self.report(done)

    # -- helpers ------------------------------------------------------------------------------

    def _protected_by(self, path: str) -> str | None:
        if path in self.measured:
            return "one of the objective's files"
        pattern = self.gate.policy.protected_by(path)
        return f"protected by the pattern {pattern!r}" if pattern else None

    def _last_round(self) -> int:
        return max((r.round for r in self.rounds), default=0)

    def _task(self, candidate: int = 1, candidates: int = 1) -> Task:
        feedback = tuple(f"round {r.round}{_candidate(r)} ({r.decision}): {r.feedback}" for r in self.rounds)
        return Task(self.settings.goal, files=self._readable(), editable=self.editable,
                    properties=self._properties(), feedback=feedback, candidate=candidate, candidates=candidates)

    def _readable(self) -> dict[str, str]:
        task = Task(self.settings.goal, editable=self.editable)
        files, total = {}, 0
        for path in repository_files(self.root):
            if not (task.may_edit(path) or path in self.measured):
                continue
            try:
                text = (self.root / path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            total += len(text)
            if total > _READABLE_BYTES:
                break
            files[path] = text
        return files

    def _properties(self) -> str:
        texts = []
        for name in self.gate.config.properties:
            path = self.root / name
            if path.is_file():
                texts.append(f"# {name}\n{path.read_text(encoding='utf-8', errors='replace')}")
        default = ("By default every changed function must behave exactly as before (same result and "
                   "exception for every input); an invariant() or bounds() below replaces that for its target.")
        return "\n\n".join([default, *texts])

    def _settings_record(self) -> dict[str, Any]:
        objective = dataclasses.asdict(self.objective) if self.objective else None
        return {**{k: v for k, v in dataclasses.asdict(self.settings).items()}, "objective": objective,
                "editable_effective": list(self.editable), "protected_for_loop": list(self.protect),
                "apply": self.gate.config.apply, "notes": list(self.notes)}


@dataclass(frozen=True, slots=True)
class Screened:
    """A proposal before the gate: its patch, and the rejection feedback or tripwire that ends it there."""

    patch: Patch | None
    feedback: str = ""
    halt: Halt | None = None


def _with_protected(gate: Gate, protect: Sequence[str]) -> Gate:
    if not protect:
        return gate
    return rebuilt(gate, protected=tuple(dict.fromkeys((*gate.config.protected, *protect))))


def rebuilt(gate: Gate, cache: str | None = None, **changes: Any) -> Gate:
    """``gate`` built again with exactly its configuration, but ``changes`` (and ``cache``, when given)."""
    config: Config = gate.config
    overrides = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)} | changes
    extra = {"cache": cache} if cache is not None else {}
    return Gate.from_repo(gate.root, worker_tree=gate.worker_tree, **extra, **overrides)


def _parse(proposal: Proposal, config: Config) -> Patch | None:
    if not proposal.files and proposal.diff is None:
        return None  # only refused attempts outside the editable paths
    return Patch.load(proposal.to_patch(), name=proposal.source, limits=config.limits)


def _overlay(verdict: Verdict) -> dict[str, Any]:
    overlay = {f.path: f.after_text for f in verdict.files if f.after is not None}
    deleted = frozenset(f.path for f in verdict.files if f.after is None)
    return {"overlay": overlay, "deleted": deleted}


def _candidate(done: Round) -> str:
    return "" if done.candidate is None else f", candidate {done.candidate}"


def _digest(patch: Patch | None) -> str | None:
    return patch.digest if patch is not None else None


def _round_record(done: Round, proposal: Proposal, patch: Patch | None) -> dict[str, Any]:
    text = proposal.to_patch() if (proposal.files or proposal.diff is not None) else None
    return {**done.to_json(), "proposal": {
        "text": text, "sha256": hashlib.sha256(text.encode()).hexdigest() if text else None,
        "rationale": proposal.rationale, "outside": [dataclasses.asdict(a) for a in proposal.outside],
        "paths": list(patch.paths) if patch else []}}
