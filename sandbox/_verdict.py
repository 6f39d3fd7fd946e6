"""The verdict: every obligation with its evidence, the exact bytes verified, a certificate."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from properties import Obligation
from verifiers import Evidence, Level, Violation

from sandbox._changes import ChangeSet
from sandbox._patch import FileChange

__all__ = ["Certificate", "Judgement", "Verdict", "sha256"]


def sha256(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class Judgement:
    """One obligation, the evidence it reached, and whether that meets the requirement."""

    obligation: Obligation
    evidence: Evidence
    ok: bool

    def to_json(self) -> dict[str, Any]:
        ob, ev = self.obligation, self.evidence
        out: dict[str, Any] = {
            "target": ob.target, "kind": ob.kind.value, "path": ob.path, "line": ob.line,
            "level": ev.level.value, "verifier": ev.verifier, "detail": ev.detail,
            "reason": ob.reason, "ok": self.ok, "seconds": round(ev.seconds, 6),
        }
        if ev.counterexample is not None:
            out["counterexample"] = ev.counterexample.to_json()
        return out


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

    @property
    def violations(self) -> tuple[Violation, ...]:
        return tuple(v for o in self.outcomes for v in o.evidence.violations)

    @property
    def failures(self) -> tuple[Judgement, ...]:
        return tuple(o for o in self.outcomes if not o.ok)

    @property
    def all_proven(self) -> bool:
        """Every behavioural obligation reached PROVEN (policy checks only need to pass)."""
        return all(o.ok and (o.evidence.level is Level.PROVEN or not o.obligation.kind.behavioural)
                   for o in self.outcomes)

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
                for c in self.changes
            ],
            "files": [{"path": d.path, "status": d.status} for d in self.changes.files],
            "unchecked": [{"path": p, "why": why} for p, why in self.unchecked],
            "obligations": [o.to_json() for o in self.outcomes],
            "violations": [v.to_json() for v in self.violations],
            "certificate": self.certificate.to_json(),
        }
