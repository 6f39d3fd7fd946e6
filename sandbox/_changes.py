"""Change analysis: which definitions a patch adds, removes or modifies.

Each touched Python file is parsed on both sides and cut into definitions
(``sandbox._definitions``).  Two definitions are behaviourally the same when
their ``ast`` forms agree once docstrings are dropped; if only their text
differs, the change is cosmetic.
A changed module-level binding (constant, import, removed helper) marks every
function that reads the name as changed.  Only touched files are parsed, so
the cost follows the size of the change, not of the repository.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from properties import module_name

from sandbox._definitions import DefKind, Definition, definitions, require_utf8_source
from sandbox._patch import FileChange

__all__ = ["Change", "ChangeKind", "ChangeSet", "FileDiff", "analyse"]


class ChangeKind(enum.Enum):
    ADDED = "added"
    REMOVED = "removed"
    MODIFIED = "modified"
    COSMETIC = "cosmetic"


@dataclass(frozen=True, slots=True)
class Change:
    """What happened to one qualified name.  ``because`` lists changed names it reads."""

    target: str
    kind: DefKind
    change: ChangeKind
    path: str
    old: Definition | None
    new: Definition | None
    because: tuple[str, ...] = ()
    note: str = ""

    @property
    def lines(self) -> tuple[int, int] | None:
        side = self.new or self.old
        return side.lines if side else None


@dataclass(frozen=True, slots=True)
class FileDiff:
    """The changes in one touched file.

    ``module`` is ``None`` for non-Python files; ``names`` holds every qualified name
    defined on either side, so properties naming the file's definitions can be checked.
    """

    path: str
    status: str
    module: str | None
    changes: tuple[Change, ...] = ()
    names: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """Every touched file and, for Python files, every changed definition."""

    files: tuple[FileDiff, ...]

    def __iter__(self) -> Iterator[Change]:
        for diff in self.files:
            yield from diff.changes

    def get(self, target: str) -> Change | None:
        return next((c for c in self if c.target == target), None)


def analyse(changes: Sequence[FileChange]) -> ChangeSet:
    """Compare the before and after sides of every touched file."""
    return ChangeSet(tuple(_analyse_file(change) for change in changes))


def _analyse_file(change: FileChange) -> FileDiff:
    status = "added" if change.before is None else "deleted" if change.after is None else "modified"
    if change.renamed_from:
        status = "renamed"
    if not change.path.endswith(".py"):
        return FileDiff(change.path, status, None)
    module = module_name(change.path)
    for side in (change.before, change.after):
        require_utf8_source(side, change.path)
    old = definitions(change.before_text, change.path, module) if change.before is not None else {}
    new = definitions(change.after_text, change.path, module) if change.after is not None else {}
    return FileDiff(change.path, status, module, _compare(change.path, module, old, new), frozenset(old) | frozenset(new))


# ---------------------------------------------------------------- comparing


def _compare(path: str, module: str, old: dict[str, Definition], new: dict[str, Definition]) -> tuple[Change, ...]:
    changes: dict[str, Change] = {}
    for name in sorted(old.keys() | new.keys()):
        before, after = old.get(name), new.get(name)
        kind = (after or before).kind  # type: ignore[union-attr]
        if before is None:
            changes[name] = Change(name, kind, ChangeKind.ADDED, path, None, after)
        elif after is None:
            changes[name] = Change(name, kind, ChangeKind.REMOVED, path, before, None)
        elif before.kind != after.kind or before.docstring_free != after.docstring_free:
            changes[name] = Change(name, after.kind, ChangeKind.MODIFIED, path, before, after)
        elif before.own_source != after.own_source:
            note = "docstring only" if before.normal != after.normal else "formatting or comments only"
            changes[name] = Change(name, kind, ChangeKind.COSMETIC, path, before, after, note=note)
    _propagate(path, module, changes, new)
    return tuple(changes[name] for name in sorted(changes))


def _propagate(path: str, module: str, changes: dict[str, Change], new: dict[str, Definition]) -> None:
    """Mark unchanged functions that read a changed binding as modified, naming the binding."""
    changed_bindings = {
        name for name, change in changes.items()
        if change.change is not ChangeKind.COSMETIC and _is_binding(change)
    }
    if not changed_bindings:
        return
    for name, definition in new.items():
        if definition.kind not in (DefKind.FUNCTION, DefKind.METHOD):
            continue
        current = changes.get(name)
        if current is not None and current.change is not ChangeKind.COSMETIC:
            continue
        because = tuple(sorted(b for b in changed_bindings if _reads_binding(module, name, definition, b)))
        if because:
            old = current.old if current else definition
            changes[name] = Change(name, definition.kind, ChangeKind.MODIFIED, path, old, definition,
                                   because=because)


def _is_binding(change: Change) -> bool:
    """Bindings whose change is not covered by an obligation of their own."""
    if change.kind in (DefKind.CONSTANT, DefKind.IMPORT, DefKind.MODULE_CODE):
        return True
    return change.change in (ChangeKind.ADDED, ChangeKind.REMOVED)


def _reads_binding(module: str, reader: str, definition: Definition, binding: str) -> bool:
    scope, _, leaf = binding.rpartition(".")
    if not reader.startswith(scope + "."):
        return False
    if leaf == "<main block>":
        return False  # runs only as a script, never when the module is imported
    if leaf.startswith("<"):
        # Module code or class-body code can rebind anything in its scope.
        return True
    # A class attribute is read as self.X / cls.X as well as by name.
    return leaf in definition.reads or (scope != module and leaf in definition.attribute_reads)
