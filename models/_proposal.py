"""The proposal type, the proposer protocol, and the offline patch-file proposer."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = ["PatchFiles", "Proposal", "Proposer"]


@dataclass(frozen=True, slots=True)
class Proposal:
    """A candidate change: a unified diff or JSON edits as text, and where it came from."""

    text: str
    source: str
    rationale: str = ""


@runtime_checkable
class Proposer(Protocol):
    """Anything that proposes changes toward a goal, given feedback on earlier proposals."""

    def propose(self, goal: str, feedback: Sequence[str]) -> Proposal | None:
        """The next proposal, or ``None`` when there is nothing more to propose."""
        ...


class PatchFiles:
    """Proposes the given patch files in order, one per round, ignoring feedback (offline, for demos)."""

    def __init__(self, paths: Sequence[str | Path]) -> None:
        self._paths: Iterator[Path] = iter([Path(p) for p in paths])

    def propose(self, goal: str, feedback: Sequence[str]) -> Proposal | None:
        path = next(self._paths, None)
        if path is None:
            return None
        return Proposal(path.read_text(encoding="utf-8"), source=str(path))
