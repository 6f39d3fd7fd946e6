"""What a proposer is asked: the goal, what it may read, what it may edit, and what came before."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from models._paths import PathProblem, matches, normalise, validate_pattern

__all__ = ["Task"]


@dataclass(frozen=True, slots=True)
class Task:
    """One round's question to a proposer, as plain data.

    ``files`` maps repository-relative paths to their text in the trusted tree (what the
    model may read); ``editable`` names what it may change (paths, ``dir/`` prefixes or
    globs; the caller leaves protected paths out); ``properties`` summarises the
    properties in force; ``feedback`` holds the gate's answers to earlier rounds.
    When the loop asks for several candidates a round, ``candidate`` says which one this is
    (1 to ``candidates``), so a proposer can make each a different attempt.
    """

    goal: str
    files: Mapping[str, str] = field(default_factory=dict)
    editable: tuple[str, ...] = ()
    properties: str = ""
    feedback: tuple[str, ...] = ()
    candidate: int = 1
    candidates: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.goal, str) or not self.goal.strip():
            raise ValueError("a task needs a goal: a non-empty string saying what to improve")
        object.__setattr__(self, "files", MappingProxyType(_files(self.files)))
        if isinstance(self.editable, str):
            raise ValueError("editable must be a sequence of patterns, not one string; "
                             f"write ({self.editable!r},)")
        object.__setattr__(self, "editable", tuple(validate_pattern(p) for p in self.editable))
        if isinstance(self.feedback, str) or not all(isinstance(f, str) for f in self.feedback):
            raise ValueError("feedback must be a sequence of strings, one per earlier round")
        object.__setattr__(self, "feedback", tuple(self.feedback))
        if not isinstance(self.properties, str):
            raise ValueError("properties must be text summarising the properties in force")
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in (self.candidate, self.candidates)) \
                or not 1 <= self.candidate <= self.candidates:
            raise ValueError(f"candidate {self.candidate!r} of {self.candidates!r}: a task is candidate 1 to "
                             "candidates of its round (both whole numbers, candidates at least 1)")

    def may_edit(self, path: str) -> bool:
        """True if the normalised ``path`` lies inside the editable paths."""
        return matches(path, self.editable)

    def outside(self, paths: Iterable[str]) -> tuple[str, ...]:
        """The paths (e.g. a parsed patch's ``paths``) that lie outside the editable ones, sorted."""
        return tuple(sorted({path for path in paths if not self.may_edit(path)}))


def _files(files: Mapping[str, str]) -> dict[str, str]:
    if not isinstance(files, Mapping):
        raise ValueError("files must map repository-relative paths to their text")
    clean: dict[str, str] = {}
    for raw, text in files.items():
        try:
            path = normalise(raw)
        except PathProblem as problem:
            raise ValueError(f"task file {raw!r}: {problem}") from None
        if not path or not isinstance(text, str):
            raise ValueError(f"task file {raw!r} must be a file path with text content")
        if path in clean:
            raise ValueError(f"task file {raw!r} is given twice (as {path!r})")
        clean[path] = text
    return clean
