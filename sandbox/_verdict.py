"""The verdict: every obligation with its evidence, the exact bytes verified, a certificate."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from properties import Obligation
from verifiers import Evidence, Level, Violation

from sandbox._changes import ChangeSet
from sandbox._patch import FileChange

__all__ = ["Certificate", "CheckerVote", "DEFERRED", "Judgement", "NOT_RUN", "Progress", "Verdict", "approval_needed", "natural_key",
           "sha256"]

# The detail of an obligation that ``fail_fast`` left unchecked (an earlier one was rejected).
NOT_RUN = "not run (--fail-fast): an earlier obligation was already rejected, so the check stopped"
# ... and of one that ``--defer`` left to a later, fuller check (a pre-push hook, CI).
DEFERRED = ("deferred (--defer {kind}): not checked here; the full check (run without --defer, e.g. the "
            "sandbox-check-full hook on pre-push) decides it")


def sha256(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class Judgement:
    """One obligation, the evidence it reached, and whether that meets the requirement."""

    obligation: Obligation
    evidence: Evidence
    ok: bool
    # What each verifier that answered UNKNOWN before the deciding one said ("smt: ..."): a
    # PASSED from testing must not hide that the prover gave up, and why.
    gave_up: tuple[str, ...] = ()
    ran: bool = True
    # A comparison of old and new shown for information: a property (``obligation.allowed_by``)
    # lets the behaviour change, and nothing requires it unchanged, so it cannot reject.
    informational: bool = False
    # The evidence came from the verdict cache: an earlier check of exactly this obligation.
    cached: bool = False
    # Not run because ``--defer`` names its kind (``ran`` is false too).
    deferred: bool = False

    @property
    def behaviour(self) -> str:
        """For an informational comparison: ``changed``, ``unchanged`` or ``not established``."""
        level = self.evidence.level
        if level is Level.REFUTED:
            return "changed"
        return "unchanged" if level in (Level.PROVEN, Level.PASSED) else "not established"

    def to_json(self) -> dict[str, Any]:
        ob, ev = self.obligation, self.evidence
        out: dict[str, Any] = {
            "target": ob.target, "kind": ob.kind.value, "path": ob.path, "line": ob.line,
            "level": ev.level.value, "verifier": ev.verifier, "detail": ev.detail,
            "reason": ob.reason, "ok": self.ok, "seconds": round(ev.seconds, 6),
            "ran": self.ran, "gave_up": list(self.gave_up), "cached": self.cached, "deferred": self.deferred,
        }
        if ob.allowed_by:
            out["allowed_by"] = ob.allowed_by
            out["informational"] = self.informational
            out["behaviour"] = self.behaviour
        if ev.counterexample is not None:
            out["counterexample"] = ev.counterexample.to_json()
        return out


@dataclass(frozen=True, slots=True)
class Progress:
    """One step of a check, for a progress display: obligation ``index`` of ``total`` starts
    (``judgement`` is None) or ends with its judgement.  Reported from the gate's threads."""

    index: int
    total: int
    obligation: Obligation
    judgement: Judgement | None = None


@dataclass(frozen=True, slots=True)
class Certificate:
    """Content hashes of what was verified: the patch, and every touched file before and after."""

    patch: str
    before: tuple[tuple[str, str | None], ...]
    after: tuple[tuple[str, str | None], ...]
    config: str
    properties: str

    def to_json(self) -> dict[str, Any]:
        return {"patch": self.patch, "before": dict(self.before), "after": dict(self.after),
                "config": self.config, "properties": self.properties}


@dataclass(frozen=True, slots=True)
class CheckerVote:
    """One checker of ``[tool.sandbox] quorum``, run on its own: its judgements and its vote.

    It accepts only when it judged at least one obligation and met every one it judged
    (UNKNOWN is not acceptance, and a checker that judged nothing has vouched for nothing).
    """

    checker: str
    judgements: tuple[Judgement, ...]

    @property
    def accepted(self) -> bool:
        return bool(self.judgements) and all(j.ok for j in self.judgements)

    def to_json(self) -> dict[str, Any]:
        return {"checker": self.checker, "accepted": self.accepted,
                "obligations": [j.to_json() for j in self.judgements]}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The gate's decision on one patch.  Immutable; ``Gate.apply`` writes exactly ``files``."""

    accepted: bool
    repo: str
    outcomes: tuple[Judgement, ...]
    changes: ChangeSet
    files: tuple[FileChange, ...]
    unchecked: tuple[tuple[str, str], ...]
    certificate: Certificate
    require: str
    seed: int
    seconds: float
    isolation: str = ""
    worker_deaths: tuple[str, ...] = ()
    # Protected paths no allowance should be suggested for: the property files, the
    # configuration and the ledger (waiving them would let a patch rewrite its own judge).
    sealed: tuple[str, ...] = ()
    # [tool.sandbox] quorum: each named checker's own run, and how many of them must accept.
    quorum: tuple[CheckerVote, ...] = ()
    quorum_need: int = 0
    # The reviewer model's answer ({"decision", "reasons", "model"}), when one was asked.
    review: dict[str, Any] | None = None
    # sha256 of every attestation envelope issued for this verdict (recorded in the ledger).
    attestations: tuple[str, ...] = ()

    @property
    def quorum_met(self) -> bool:
        """At least ``quorum_need`` checkers accepted (true when no quorum is configured)."""
        return sum(vote.accepted for vote in self.quorum) >= self.quorum_need

    @property
    def violations(self) -> tuple[Violation, ...]:
        return tuple(v for o in self.outcomes for v in o.evidence.violations)

    @property
    def failures(self) -> tuple[Judgement, ...]:
        return tuple(o for o in self.outcomes if not o.ok)

    @property
    def all_proven(self) -> bool:
        """Every behavioural obligation reached PROVEN (policy checks only need to pass)."""
        return all(o.ok and (o.evidence.level is Level.PROVEN or not o.obligation.kind.behavioural
                             or o.informational) for o in self.outcomes)

    @property
    def behaviour_shown(self) -> tuple[Judgement, ...]:
        """The comparisons run for information where a property allows behaviour to change."""
        return tuple(o for o in self.outcomes if o.obligation.allowed_by and o.ran)

    @property
    def not_run(self) -> tuple[Judgement, ...]:
        return tuple(o for o in self.outcomes if not o.ran and not o.deferred)

    @property
    def deferred(self) -> tuple[Judgement, ...]:
        return tuple(o for o in self.outcomes if o.deferred)

    @property
    def met_except_deferred(self) -> bool:
        """Every obligation that ran was met, and only ``--defer`` kept this from an acceptance.

        The quorum judges only once every obligation is met, so with some deferred it has not run
        (no votes): it is deferred with them, not failed.  A quorum that ran and fell short is a failure.
        """
        quorum_pending_or_met = not self.quorum or self.quorum_met
        return (not self.accepted and bool(self.deferred) and all(o.ok or o.deferred for o in self.outcomes)
                and quorum_pending_or_met and (self.review or {}).get("decision") != "object")

    def summary(self) -> str:
        """The report a person reads: what changed, what was checked, why, what to do."""
        from sandbox._report import render_text

        return render_text(self)

    def to_json(self) -> dict[str, Any]:
        """The design's JSON report (``sandbox check --format json``)."""
        return {
            "accepted": self.accepted,
            "repo": self.repo,
            "require": self.require,
            "seed": self.seed,
            "seconds": round(self.seconds, 6),
            "isolation": self.isolation or None,
            "worker_deaths": list(self.worker_deaths),
            "changes": [
                {"target": c.target, "kind": c.kind.value, "change": c.change.value, "path": c.path,
                 "lines": list(c.lines) if c.lines else None, "because": list(c.because), "note": c.note}
                for c in sorted(self.changes, key=lambda c: (natural_key(c.path), natural_key(c.target)))
            ],
            "files": [{"path": d.path, "status": d.status} for d in self.changes.files],
            "unchecked": [{"path": p, "why": why} for p, why in self.unchecked],
            "obligations": [o.to_json() for o in self.outcomes],
            "violations": [v.to_json() for v in self.violations],
            "certificate": self.certificate.to_json(),
            # Present only when used, so the reports of a plain check keep their exact shape.
            **({"quorum": {"need": self.quorum_need, "met": self.quorum_met,
                           "checkers": [v.to_json() for v in self.quorum]}} if self.quorum_need else {}),
            **({"review": self.review} if self.review is not None else {}),
            **({"attestations": list(self.attestations)} if self.attestations else {}),
        }


def approval_needed(mode: str, verdict: Verdict) -> str:
    """Why ``[tool.sandbox] apply = mode`` reserves this accepted verdict for a person ("" if not)."""
    if mode == "manual":
        return "every change"
    if mode == "proven" and not verdict.all_proven:
        return "changes not proved in full"
    return ""


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key under which ``f2`` comes before ``f10`` (digit runs compare as numbers)."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in _DIGITS.split(text) if part)


_DIGITS = re.compile(r"(\d+)")
