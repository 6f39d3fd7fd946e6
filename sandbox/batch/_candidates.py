"""Where a batch's candidates come from: a directory of patch files, or a JSON Lines file."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sandbox._errors import SandboxError
from sandbox._patch import Patch
from sandbox._verdict import natural_key

__all__ = ["BatchInputError", "Candidate", "as_candidates", "read_jsonl", "read_patches_dir"]


class BatchInputError(SandboxError):
    """The batch itself cannot be read (a missing directory, a bad JSONL record): nothing is checked."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """One proposed change: its id in the batch and its patch (text as given, or a ``Patch``)."""

    id: str
    patch: str | Patch


def read_patches_dir(directory: str | Path) -> tuple[Candidate, ...]:
    """Every regular file of ``directory`` is a patch; its name is the id (``p2`` before ``p10``)."""
    root = Path(directory)
    if not root.is_dir():
        raise BatchInputError(f"--patches {directory}: not a directory; give a directory holding one patch file "
                              "per candidate")
    files = sorted((p for p in root.iterdir() if p.is_file() and not p.name.startswith(".")),
                   key=lambda p: natural_key(p.name))
    if not files:
        raise BatchInputError(f"--patches {directory}: no patch files in it (hidden files are skipped)")
    return tuple(Candidate(p.name, _read_text(p)) for p in files)


def read_jsonl(path: str | Path) -> tuple[Candidate, ...]:
    """Records ``{"id": ..., "patch": "<unified diff or JSON edits text>"}``, one a line (blank lines skipped)."""
    source = Path(path)
    if not source.is_file():
        raise BatchInputError(f"--jsonl {path}: no such file")
    candidates, seen = [], {}
    for number, line in enumerate(_read_text(source).splitlines(), 1):
        if not line.strip():
            continue
        candidate = _record(line, f"{path}:{number}")
        if candidate.id in seen:
            raise BatchInputError(f"{path}:{number}: id {candidate.id!r} was already used on line {seen[candidate.id]}; "
                                  "give every candidate its own id")
        seen[candidate.id] = number
        candidates.append(candidate)
    if not candidates:
        raise BatchInputError(f"--jsonl {path}: no records in it; write one {{\"id\": ..., \"patch\": ...}} a line")
    return tuple(candidates)


def as_candidates(patches: Mapping[str, str | Patch] | Iterable[Candidate | Patch | str | tuple[str, str | Patch]]
                  ) -> tuple[Candidate, ...]:
    """What ``check_many`` takes: ``{id: patch}``, candidates, ``(id, patch)`` pairs, or bare patches
    (their position in the batch is their id)."""
    items = patches.items() if isinstance(patches, Mapping) else patches
    candidates = []
    for index, item in enumerate(items):
        if isinstance(item, Candidate):
            candidates.append(item)
        elif isinstance(item, tuple) and len(item) == 2:
            candidates.append(Candidate(str(item[0]), item[1]))
        elif isinstance(item, (str, Patch)):
            candidates.append(Candidate(str(index), item))
        else:
            raise BatchInputError(f"candidate {index}: expected a Patch, patch text, Candidate or (id, patch), "
                                  f"got {type(item).__name__}")
    ids = [c.id for c in candidates]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise BatchInputError(f"candidate ids must be unique; repeated: {', '.join(repeated)}")
    return tuple(candidates)


def _record(line: str, where: str) -> Candidate:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as error:
        raise BatchInputError(f"{where}: not JSON ({error.msg} at column {error.colno}); each line must be "
                              "{\"id\": ..., \"patch\": ...}") from None
    if not isinstance(value, dict) or not {"id", "patch"} <= value.keys():
        got = sorted(value) if isinstance(value, dict) else type(value).__name__
        raise BatchInputError(f"{where}: a record needs the keys \"id\" and \"patch\" (got {got})")
    if not isinstance(value["id"], (str, int)) or isinstance(value["id"], bool) or str(value["id"]) == "":
        raise BatchInputError(f"{where}: \"id\" must be a non-empty string or an integer")
    if not isinstance(value["patch"], str):
        raise BatchInputError(f"{where}: \"patch\" must be the patch as text (a unified diff or JSON edits "
                              f"serialised as a string), got {type(value['patch']).__name__}")
    return Candidate(str(value["id"]), value["patch"])


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise BatchInputError(f"{path}: not UTF-8 text (byte {error.start}); patches are text files") from None
    except OSError as error:
        raise BatchInputError(f"{path}: cannot read it: {error.strerror}") from None
