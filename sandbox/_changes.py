"""Change analysis: which definitions a patch adds, removes or modifies.

Each touched Python file is parsed on both sides and cut into definitions
(``sandbox._definitions``).  Two definitions are behaviourally the same when
their ``ast`` forms agree once docstrings are dropped; if only their text
differs, the change is cosmetic.
A changed module-level binding (constant, import, removed helper, a new binding
of a builtin name) marks every function that reads the name as changed; a star
import marks every function reading a name the module does not bind, and a
member added to a class marks its methods that look members up dynamically.  Only touched files are parsed, so
the cost follows the size of the change, not of the repository.
"""

from __future__ import annotations

import ast
import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from properties import module_name

from sandbox._definitions import DefKind, Definition, definitions, require_utf8_source
from sandbox._effects import dynamic_lookup
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

    ``module`` is ``None`` for non-Python files and symlinks (status ``"symlink"``); ``names``
    holds every qualified name defined on either side, so properties naming the file's
    definitions can be checked.
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
    if change.symlink:
        return FileDiff(change.path, "symlink", None)
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
    """Mark unchanged functions that read a changed binding as modified, naming the binding.

    Two more ways reach a function without naming a binding: a star import may bind
    any name the module does not bind itself, and a member added to (or dropped from)
    a class changes the methods that look its members up by a computed name.
    """
    changed_bindings = {
        name for name, change in changes.items()
        if change.change is not ChangeKind.COSMETIC and _is_binding(change)
    }
    if not changed_bindings:
        return
    members = _members_changed(module, changes, new)
    module_names = frozenset(q.rpartition(".")[2] for q in new if q.rpartition(".")[0] == module)
    index = _BindingIndex(changed_bindings)
    for name, definition in new.items():
        if definition.kind not in (DefKind.FUNCTION, DefKind.METHOD):
            continue
        current = changes.get(name)
        if current is not None and current.change is not ChangeKind.COSMETIC:
            continue
        because = {b for b in index.candidates(name, definition)
                   if _reads_binding(module, name, definition, b, module_names)}
        because |= _dynamic_because(module, name, definition, members)
        if because:
            old = current.old if current else definition
            changes[name] = Change(name, definition.kind, ChangeKind.MODIFIED, path, old, definition,
                                   because=tuple(sorted(because)))


class _BindingIndex:
    """The changed bindings a function may read, found by name, not by trying each binding.

    Trying every binding on every function costs functions x bindings: a file that gains
    5,000 helpers would take 25 million tries.  A binding named by a plain name can only be
    read by a function that reads that name; the others (``*``, ``<module code>``,
    ``<class body>``) can only reach functions in their own scope.
    """

    def __init__(self, bindings: set[str]) -> None:
        self._by_leaf: dict[str, list[str]] = {}
        self._by_scope: dict[str, list[str]] = {}
        for binding in bindings:
            scope, _, leaf = binding.rpartition(".")
            if leaf == "*" or leaf.startswith("<"):
                self._by_scope.setdefault(scope, []).append(binding)
            else:
                self._by_leaf.setdefault(leaf, []).append(binding)

    def candidates(self, reader: str, definition: Definition) -> Iterator[str]:
        """Every binding ``_reads_binding`` could accept for ``reader`` (and some it will refuse)."""
        for leaf in definition.reads | definition.attribute_reads:
            yield from self._by_leaf.get(leaf, ())
        parts = reader.split(".")
        for end in range(1, len(parts)):
            yield from self._by_scope.get(".".join(parts[:end]), ())


def _members_changed(module: str, changes: dict[str, Change], new: dict[str, Definition]) -> dict[str, set[str]]:
    """Per existing class, the members the patch adds or removes."""
    found: dict[str, set[str]] = {}
    for name, change in changes.items():
        owner = name.rpartition(".")[0]
        cls, own = new.get(owner), changes.get(owner)
        if (change.change in (ChangeKind.ADDED, ChangeKind.REMOVED) and owner != module and cls is not None
                and cls.kind is DefKind.CLASS and (own is None or own.change is not ChangeKind.ADDED)):
            found.setdefault(owner, set()).add(name)
    return found


def _dynamic_because(module: str, name: str, definition: Definition, members: dict[str, set[str]]) -> set[str]:
    """The members added to the method's class, or to a base class of the same module, it may see."""
    if definition.kind is not DefKind.METHOD:
        return set()
    owners = [name.rpartition(".")[0], *(f"{module}.{base}" for base in definition.class_bases)]
    added = set().union(*(members.get(owner, ()) for owner in owners))
    if not added:
        return set()
    leaves = frozenset(a.rpartition(".")[2] for a in added)
    return set(added) if dynamic_lookup(ast.parse(definition.source).body[0], leaves) else set()


def _is_binding(change: Change) -> bool:
    """Bindings whose change is not covered by an obligation of their own."""
    if change.kind in (DefKind.CONSTANT, DefKind.IMPORT, DefKind.MODULE_CODE):
        return True
    return change.change in (ChangeKind.ADDED, ChangeKind.REMOVED)


def _reads_binding(module: str, reader: str, definition: Definition, binding: str,
                   module_names: frozenset[str] = frozenset()) -> bool:
    scope, _, leaf = binding.rpartition(".")
    if not reader.startswith(scope + "."):
        return False
    if leaf == "<main block>":
        return False  # runs only as a script, never when the module is imported
    if leaf == "*":
        return bool(_free_reads(definition) - module_names)
    if leaf.startswith("<"):
        # Module code or class-body code can rebind anything in its scope.
        return True
    # A class attribute is read as self.X / cls.X as well as by name.
    return leaf in definition.reads or (scope != module and leaf in definition.attribute_reads)


def _free_reads(definition: Definition) -> frozenset[str]:
    """Names the function's code reads but does not bind itself: a star import may bind them.

    Annotations are left out: rebinding ``int`` changes what ``x: int`` says, not what runs.
    """
    tree = ast.parse(definition.source)
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            node.annotation = None
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.returns = None
        elif isinstance(node, ast.AnnAssign):
            node.annotation = ast.Constant(None)
    reads, bound = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (reads if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node is not tree.body[0]:
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
    return frozenset(reads - bound)
