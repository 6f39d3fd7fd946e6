"""A proposal as data, the token usage behind it, and the proposer protocol."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from models._task import Task

__all__ = ["Attempt", "Proposal", "Proposer", "Usage"]


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens spent (as the Messages API counts them) and requests made."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    requests: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(*(a + b for a, b in zip(_values(self), _values(other))))

    @property
    def total_tokens(self) -> int:
        """Every token counted against a budget: input, output, cache reads and cache writes."""
        return (self.input_tokens + self.output_tokens + self.cache_read_input_tokens
                + self.cache_creation_input_tokens)

    def to_json(self) -> dict[str, int]:
        """The counts as a JSON object."""
        return dict(zip(Usage.__slots__, _values(self)))


def _values(usage: Usage) -> tuple[int, ...]:
    return tuple(getattr(usage, name) for name in Usage.__slots__)


@dataclass(frozen=True, slots=True)
class Attempt:
    """An edit the proposer tried outside the editable paths: refused, and kept for the caller."""

    path: str
    command: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Proposal:
    """A candidate change as data.

    ``files`` holds the new full text per path (``None`` deletes the file); ``diff`` holds a
    patch file's text instead when the proposer did not produce whole files (a unified diff
    as read from disk, left for the gate's parser to judge). ``outside`` lists the edits the
    proposer tried outside the editable paths; they are not in ``files``, and a proposal
    may consist of nothing else, so a caller can treat them as a tripwire.
    """

    source: str
    files: Mapping[str, str | None] = field(default_factory=dict)
    diff: str | None = None
    rationale: str = ""
    usage: Usage = Usage()
    outside: tuple[Attempt, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", MappingProxyType(dict(self.files)))
        if self.files and self.diff is not None:
            raise ValueError("a proposal carries either whole files or a diff, not both")
        if not self.files and self.diff is None and not self.outside:
            raise ValueError("a proposal must change something: give files, a diff, or the "
                             "refused attempts that are all it consists of")

    @property
    def paths(self) -> tuple[str, ...]:
        """The paths whose new text the proposal carries (empty for a diff), sorted."""
        return tuple(sorted(self.files))

    def to_patch(self) -> str:
        """The patch text the gate's ``Patch.load`` reads: JSON ``{"files": ...}`` or the diff."""
        if self.diff is not None:
            return self.diff
        if not self.files:
            refused = ", ".join(sorted({attempt.path for attempt in self.outside}))
            raise ValueError(f"this proposal only tried to edit paths outside the editable "
                             f"ones ({refused}); there is no patch to check")
        return json.dumps({"files": dict(sorted(self.files.items()))}, ensure_ascii=False)


@runtime_checkable
class Proposer(Protocol):
    """Anything that proposes a change for a task."""

    def propose(self, task: Task) -> Proposal | None:
        """The next proposal, or ``None`` when there is nothing more to propose."""
        ...
