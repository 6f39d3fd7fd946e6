"""One candidate's outcome in a batch: its verdict's decision and levels, where and how it was decided."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BatchResult", "ObligationLevel"]


@dataclass(frozen=True, slots=True)
class ObligationLevel:
    """An obligation of the verdict and the level it reached; ``level`` is None when the cascade
    never ran it (an earlier, cheaper stage had already rejected the candidate)."""

    target: str
    kind: str
    level: str | None
    verifier: str | None = None
    ok: bool = False
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "kind": self.kind, "level": self.level, "verifier": self.verifier,
                "ok": self.ok, "cached": self.cached}


@dataclass(frozen=True, slots=True)
class BatchResult:
    """The verdict on one candidate of a batch.

    ``stage`` is where it was decided: 1 policy, 2 proofs and testing, 3 numerics (the full
    check), 0 intake (the patch could not be read or does not apply).  ``duplicate_of`` names the
    candidate whose verdict this one shares: the same change, checked once.  ``attempts`` counts
    runs of the deciding stage (more than 1 only after a system failure; None where the backend
    does its own retries).  ``report`` is the deciding stage's ``Verdict.to_json()``.
    """

    id: str
    accepted: bool
    stage: int
    seconds: float
    obligations: tuple[ObligationLevel, ...] = ()
    duplicate_of: str | None = None
    stage_seconds: tuple[float, ...] = ()
    attempts: int | None = 1
    error: str | None = None
    # Every obligation that ran was met and only a kind the user deferred kept it from acceptance.
    met_except_deferred: bool = False
    report: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    # The deciding stage's in-toto statement (``check_many(..., attest=True)``), unsigned.
    statement: bytes | None = field(default=None, compare=False, repr=False)

    @property
    def levels(self) -> dict[tuple[str, str], str | None]:
        """``(target, kind) -> level`` (None: not run, the cascade stopped earlier)."""
        return {(o.target, o.kind): o.level for o in self.obligations}

    def to_json(self) -> dict[str, Any]:
        """The JSON Lines record ``sandbox check-many`` prints for this candidate."""
        violations = [{k: v.get(k) for k in ("rule", "path", "line", "message")}
                      for v in (self.report or {}).get("violations", ())]
        return {"id": self.id, "accepted": self.accepted, "stage": self.stage, "seconds": round(self.seconds, 6),
                "duplicate_of": self.duplicate_of, "obligations": [o.to_json() for o in self.obligations],
                "violations": violations, "met_except_deferred": self.met_except_deferred,
                "stage_seconds": [round(s, 6) for s in self.stage_seconds], "attempts": self.attempts,
                "error": self.error}
