"""An in-memory copy of the task's files that edits accumulate in; the disk is never touched."""

from __future__ import annotations

from dataclasses import dataclass

from models._paths import PathProblem, normalise
from models._proposal import Attempt
from models._task import Task

__all__ = ["EditError", "Listing", "Workspace"]


class EditError(Exception):
    """An edit or a view that cannot be done; its message goes back to the model as the result."""


@dataclass(frozen=True, slots=True)
class Listing:
    """The files below a directory, as a view of it answers."""

    entries: tuple[str, ...]


class Workspace:
    """The trusted snapshot plus the edits of one round.

    Reads see the round's own edits; writes are allowed only inside ``task.editable``, and
    a refused write is both an ``EditError`` (for the model) and an ``Attempt`` in
    ``outside`` (for the caller).
    """

    def __init__(self, task: Task) -> None:
        self._task = task
        self._files: dict[str, str] = dict(task.files)
        self.outside: list[Attempt] = []

    def path(self, raw: object, command: str | None = None) -> str:
        """Normalise a path the model gave, or raise EditError saying why it is refused.

        A write (``command`` given) to a path outside the repository is recorded in
        ``outside`` too: trying to escape the tree is at least as telling as a protected edit.
        """
        try:
            return normalise(raw)
        except PathProblem as problem:
            if command is not None:
                self.outside.append(Attempt(raw if isinstance(raw, str) else repr(raw), command,
                                            str(problem)))
            raise EditError(str(problem)) from None

    def read(self, path: str) -> str | Listing:
        """A file's current text, or the files below a directory ('' is the root)."""
        if path in self._files:
            return self._files[path]
        prefix = f"{path}/" if path else ""
        below = tuple(sorted(name for name in self._files if name.startswith(prefix)))
        if below:
            return Listing(below)
        raise EditError(f"{path or '/'} is not a file or directory this task lets you read; "
                        f"view the directory '/repo' to list the readable files")

    def text(self, path: str, command: str) -> str:
        """The current text of an existing file this task lets the model edit."""
        self.require_editable(path, command)
        if path not in self._files:
            raise EditError(f"{path} does not exist; use the create command to make a new file")
        return self._files[path]

    def write(self, path: str, text: str, command: str) -> None:
        """Replace or create ``path`` in memory."""
        self.require_editable(path, command)
        self._files[path] = text

    def require_editable(self, path: str, command: str, detail: str = "") -> None:
        """Raise EditError (and record the attempt) unless ``path`` is editable."""
        if self._task.may_edit(path):
            return
        self.outside.append(Attempt(path, command, detail))
        allowed = ", ".join(self._task.editable) or "nothing"
        raise EditError(f"{path} is outside the editable paths of this task ({allowed}); "
                        "it was not changed. Edit only files inside them.")

    def changes(self) -> dict[str, str]:
        """The new text of every file whose text differs from the snapshot (or is new), by path."""
        snapshot = self._task.files
        return {path: text for path, text in sorted(self._files.items())
                if snapshot.get(path) != text}

