"""The loop's results as values: its settings, one record per round, and the run's outcome."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from models import Usage

from sandbox.loop._noise import Samples
from sandbox.loop._tripwires import Halt

__all__ = ["Outcome", "Round", "Settings", "samples_json"]


@dataclass(frozen=True, slots=True)
class Settings:
    """How the loop runs (the CLI's options; ``[tool.sandbox.improve]`` supplies defaults)."""

    goal: str
    rounds: int = 3
    repeats: int = 3
    editable: tuple[str, ...] = ()
    protect: tuple[str, ...] = ()
    max_rejections: int = 5
    max_gain: float = 2.0
    confidence: float = 0.95
    budget_tokens: int | None = None
    budget_seconds: float | None = None
    # --candidates K: proposals asked for each round, verified as one batch (``sandbox.batch``)
    # on ``backend`` with ``workers`` processes; 1 is the one-proposal round.
    candidates: int = 1
    backend: str = "local"
    workers: int | None = None

    def __post_init__(self) -> None:
        if not self.goal.strip():
            raise ValueError("the loop needs a goal: --goal 'make train() faster'")
        if self.rounds < 1:
            raise ValueError(f"--rounds must be at least 1, got {self.rounds}")
        if not 0.5 < self.confidence < 1.0:
            raise ValueError(f"--confidence must lie strictly between 0.5 and 1 (e.g. 0.95), got {self.confidence}")
        if self.repeats < 2:
            raise ValueError(f"--repeats must be at least 2 (the noise is estimated from the spread), "
                             f"got {self.repeats}")
        if isinstance(self.candidates, bool) or not isinstance(self.candidates, int) or self.candidates < 1:
            raise ValueError(f"--candidates must be a whole number of at least 1 (the proposals asked for in "
                             f"each round; 1 is one proposal a round), got {self.candidates!r}")
        if self.backend not in ("local", "ray"):
            raise ValueError(f"--backend must be 'local' (a process pool here) or 'ray', got {self.backend!r}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"--workers must be at least 1 (processes checking candidates at once), "
                             f"got {self.workers}")


@dataclass(frozen=True, slots=True)
class Round:
    """One round's outcome, as the JSON report and the ledger show it.

    With ``--candidates K`` (K > 1) there is one ``Round`` per candidate of a round, and
    ``candidate`` is its index in the round (1 to K, in the order proposed); otherwise None.
    """

    round: int
    source: str
    proposal_digest: str | None
    decision: str
    feedback: str
    accepted: bool = False
    applied: bool = False
    kept: bool = False
    queued: str | None = None
    before: tuple[float, ...] | None = None
    after: tuple[float, ...] | None = None
    usage: Usage = Usage()
    candidate: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"round": self.round, "candidate": self.candidate, "source": self.source,
                "proposal_digest": self.proposal_digest, "decision": self.decision, "accepted": self.accepted,
                "applied": self.applied, "kept": self.kept, "queued": self.queued, "feedback": self.feedback,
                "objective": {"before": samples_json(self.before), "after": samples_json(self.after)},
                "usage": self.usage.to_json()}

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> Round:
        objective = record.get("objective") or {}
        values = {key: tuple(objective[key]["samples"]) if objective.get(key) else None
                  for key in ("before", "after")}
        return cls(int(record["round"]), str(record.get("source", "")), record.get("proposal_digest"),
                   str(record.get("decision", "")), str(record.get("feedback", "")),
                   bool(record.get("accepted")), bool(record.get("applied")), bool(record.get("kept")),
                   record.get("queued"), values["before"], values["after"],
                   Usage(**{k: int(v) for k, v in (record.get("usage") or {}).items()}),
                   None if record.get("candidate") is None else int(record["candidate"]))


@dataclass(frozen=True, slots=True)
class Outcome:
    """The loop's summary: every round, why it stopped, and the ledger head after it."""

    run: str
    rounds: tuple[Round, ...]
    halted: Halt | None
    usage: Usage
    ledger_head: str
    baseline: tuple[float, ...] | None = None
    notes: tuple[str, ...] = ()

    @property
    def kept(self) -> int:
        return sum(r.kept for r in self.rounds)

    @property
    def round_count(self) -> int:
        """Rounds run (with ``--candidates K``, ``rounds`` holds one entry per candidate)."""
        return len({r.round for r in self.rounds})

    @property
    def queued(self) -> tuple[str, ...]:
        return tuple(r.queued for r in self.rounds if r.queued)

    @property
    def exit_code(self) -> int:
        """3 halted by a tripwire; 0 a change kept; 4 none kept but some await a person; 1 none kept."""
        if self.halted is not None:
            return 3
        return 0 if self.kept else 4 if self.queued else 1

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run, "rounds": [r.to_json() for r in self.rounds],
                "halted": self.halted.to_json() if self.halted else None, "kept": self.kept,
                "queued": list(self.queued), "usage": self.usage.to_json(), "ledger_head": self.ledger_head,
                "baseline": samples_json(self.baseline), "notes": list(self.notes)}


def samples_json(values: tuple[float, ...] | None) -> dict[str, Any] | None:
    return Samples(tuple(values)).to_json() if values and len(values) >= 2 else None


