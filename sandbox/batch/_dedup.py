"""Intake and deduplication: each candidate read, resolved against the tree and fingerprinted,
before any check runs.

Two candidates are the same change when they leave the tree the same: the fingerprint is the
digest of the resolved after-files (path, content, rename), so a unified diff and JSON edits
that write the same bytes are checked once.  The verdict depends only on the before and after
files, which is what makes sharing it sound.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from sandbox._errors import SandboxError
from sandbox._patch import FileChange, Patch, PatchLimits
from sandbox.batch._candidates import Candidate

__all__ = ["Intake", "fingerprint", "take_in"]


@dataclass(frozen=True, slots=True)
class Intake:
    """A candidate after intake: its patch and fingerprint, or why it cannot be checked at all;
    ``duplicate_of`` is the index of the first candidate with the same fingerprint."""

    index: int
    candidate: Candidate
    patch: Patch | None
    fingerprint: str | None
    error: str | None = None
    duplicate_of: int | None = None


def fingerprint(files: tuple[FileChange, ...]) -> str:
    """The normalised content of a change: every touched file's path and after-bytes digest."""
    material = [[f.path, None if f.after is None else hashlib.sha256(f.after).hexdigest(), f.renamed_from, f.symlink]
                for f in sorted(files, key=lambda f: f.path)]
    return hashlib.sha256(json.dumps(material).encode()).hexdigest()


def take_in(candidates: tuple[Candidate, ...], root: Path, limits: PatchLimits) -> tuple[Intake, ...]:
    """Read and resolve every candidate (in memory; nothing is written) and mark the repeats."""
    first: dict[str, int] = {}
    taken = []
    for index, candidate in enumerate(candidates):
        item = _one(index, candidate, root, limits)
        if item.fingerprint is not None:
            original = first.setdefault(item.fingerprint, index)
            if original != index:
                item = Intake(index, candidate, item.patch, item.fingerprint, duplicate_of=original)
        taken.append(item)
    return tuple(taken)


def _one(index: int, candidate: Candidate, root: Path, limits: PatchLimits) -> Intake:
    try:
        patch = candidate.patch if isinstance(candidate.patch, Patch) else \
            Patch.load(candidate.patch, name=candidate.id, limits=limits)
        files = patch.resolve(root, limits=limits)
    except SandboxError as error:
        return Intake(index, candidate, None, None, error=f"the patch cannot be checked: {error}")
    return Intake(index, candidate, patch, fingerprint(files))
