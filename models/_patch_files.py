"""The offline proposer: the patch files of a directory, one per round, with no model."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from models._errors import ProposerError
from models._paths import PathProblem, normalise
from models._proposal import Attempt, Proposal
from models._task import Task

__all__ = ["PatchFiles"]


class PatchFiles:
    """Proposes the files of a directory in sorted name order (or the given files), one per round.

    A JSON ``{"files": {path: text or null}}`` (or a bare ``{path: text or null}`` map)
    becomes whole-file edits, checked against the task's editable paths; anything else
    (a unified diff, a JSON list of str_replace edits) is passed on as ``diff`` text for the
    gate's own parser, which is the judge of its form and of the paths it names. Hidden
    files and subdirectories of the directory are skipped. Feedback is ignored.
    """

    def __init__(self, source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> None:
        self._paths: Iterator[Path] = iter(_listing(source))

    def propose(self, task: Task) -> Proposal | None:
        """The next file's proposal, or None when every file has been proposed."""
        path = next(self._paths, None)
        if path is None:
            return None
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ProposerError(f"{path}: cannot read the patch file ({error}); "
                                "patch files must be UTF-8 text") from None
        files = _whole_files(text)
        if files is None:
            return Proposal(source=str(path), diff=text)
        return _proposal(str(path), files, task)


def _listing(source: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[Path]:
    if isinstance(source, (str, os.PathLike)):
        directory = Path(source)
        if not directory.is_dir():
            raise ProposerError(f"{directory}: not a directory; --proposals takes a directory "
                                "whose files are patches, proposed in sorted name order")
        return sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))
    return [Path(p) for p in source]


def _whole_files(text: str) -> dict[str, str | None] | None:
    try:
        value = json.loads(text.removeprefix("\ufeff"))
    except json.JSONDecodeError:
        return None
    if isinstance(value, dict) and value.keys() == {"files"}:
        value = value["files"]
    elif isinstance(value, dict) and value.keys() & {"files", "edits"}:
        return None
    if isinstance(value, dict) and value and all(
            isinstance(key, str) and (content is None or isinstance(content, str))
            for key, content in value.items()):
        return value
    return None


def _proposal(source: str, files: dict[str, str | None], task: Task) -> Proposal:
    kept: dict[str, str | None] = {}
    outside: list[Attempt] = []
    for raw, content in files.items():
        try:
            path = normalise(raw)
        except PathProblem as problem:
            raise ProposerError(f"{source}: path {raw!r}: {problem}") from None
        if path in kept:
            raise ProposerError(f"{source}: {path} is named twice (after normalising {raw!r})")
        command = "delete" if content is None else "write"
        if path and task.may_edit(path):
            kept[path] = content
        else:
            outside.append(Attempt(path or raw, command, f"from {source}"))
    return Proposal(source=source, files=kept, outside=tuple(outside))
