"""Obligations for effects beyond the touched files (the planner's side of ``sandbox._effects``).

Not exported from the package: it builds on ``sandbox._changes``, which itself
imports the package, so the planner imports this module directly.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator

from properties import Kind, Obligation, module_name

from sandbox._changes import Change, ChangeKind, ChangeSet, FileDiff
from sandbox._definitions import DefKind
from sandbox._effects._readers import Reader
from sandbox._effects._repo import Effects

__all__ = ["docstring_readers", "module_effects", "reader_obligations", "registration_effects", "star_export_readers",
           "symlink", "unique"]

Make = Callable[[Change], "list[Obligation]"]


def symlink(diff: FileDiff, before: dict[str, str], after: dict[str, str]) -> Obligation:
    """A symlink the patch makes, changes or removes: a ``symlink`` violation, never applied."""
    doing = ("creates" if diff.path not in before else "removes" if diff.path not in after else "changes")
    return Obligation(diff.path, Kind.PROTECTED, diff.path,
                      f"the patch {doing} a symbolic link at {diff.path}; the gate never "
                      "follows links, so it cannot check what the code would read through it", ("static",),
                      rule="symlink")


def module_effects(diff: FileDiff, effects: Effects | None) -> Iterator[Obligation]:
    """A deleted module its importers still need; a new module shadowing a repository module."""
    if effects is None:
        return
    if diff.status == "deleted":
        found = effects.broken_importers(diff.path)
        if found:
            module = module_name(diff.path)
            where = ", ".join(f"{path}:{line}" for path, line in found)
            yield Obligation(module, Kind.REMOVAL, diff.path,
                             f"module {module} ({diff.path}) is deleted or renamed, but {where} still "
                             f"import{'s' if len(found) == 1 else ''} it; keep the module (it may re-export "
                             "from the new place) or change every importer in the same patch", ("static",),
                             module=module)
    elif diff.status in ("added", "renamed"):
        why = effects.shadowing(diff.path)
        if why:
            yield Obligation(diff.path, Kind.PROTECTED, diff.path,
                             f"{why}; give the new module a name no module of the repository has", ("static",),
                             rule="module-shadowing")


def registration_effects(diff: FileDiff, effects: Effects | None, before: dict[str, str],
                         after: dict[str, str]) -> Iterator[Obligation]:
    """An import-time call the patch adds into repository code that writes another module's globals."""
    if effects is None or diff.path not in after:
        return
    for found in effects.registrations(diff.path, before.get(diff.path), after[diff.path]):
        rule = "ambient-state" if found.module == diff.module else "module-mutation"
        yield Obligation(f"{diff.path}:{found.line}", Kind.PROTECTED, diff.path,
                         f"`{found.call}` (line {found.line}) runs when the module is imported and calls "
                         f"{found.module}.{found.function}, which writes {found.written} (line {found.written_line} "
                         f"of its module); code that reads {found.written} changes though no function of it did, "
                         "and the gate cannot compare that: make the call from a function your code invokes, or "
                         "state the change in the module that owns the state", ("static",),
                         new_lines=(found.line, found.line), rule=rule)


def reader_obligations(readers: list[Reader], problems: list[str], cause: str, path: str, effects: Effects,
                       make: Make) -> Iterator[Obligation]:
    """Each reader, unchanged in source, must behave the same with the old and new ``cause`` (in ``path``)."""
    for problem in problems:
        yield Obligation(path, Kind.UNANALYSABLE, path, f"{cause} changed and {problem}")
    for reader in readers:
        definition = effects.definition(reader)
        if isinstance(definition, str):
            yield Obligation(reader.qualname, Kind.UNANALYSABLE, reader.path,
                             f"{reader.qualname} reads {cause} (line {reader.line}), but {definition}")
            continue
        if definition.kind not in (DefKind.FUNCTION, DefKind.METHOD):
            continue
        change = Change(reader.qualname, definition.kind, ChangeKind.MODIFIED, reader.path, definition,
                        definition, because=(cause,))
        yield from make(change)


def docstring_readers(changes: ChangeSet, effects: Effects, make: Make, before: dict[str, str],
                      after: dict[str, str]) -> Iterator[Obligation]:
    """A docstring-only change is behaviour once code of the repository reads ``__doc__``."""
    changed = [(c.target, c.path) for c in changes if c.change is ChangeKind.COSMETIC and c.note == "docstring only"]
    changed += [(f"module {d.module}", d.path) for d in changes.files
                if d.module and d.path in before and d.path in after
                and _module_doc(before[d.path]) != _module_doc(after[d.path])]
    if not changed:
        return
    readers, problems = effects.doc_readers()
    cause = f"docstring of {', '.join(target for target, _ in changed)}"
    yield from reader_obligations(readers, problems, cause, changed[0][1], effects, make)


def star_export_readers(changes: ChangeSet, effects: Effects, make: Make, before: dict[str, str],
                        after: dict[str, str]) -> Iterator[Obligation]:
    """A public name a module gains (or drops) reaches every module that star-imports it, untouched or not.

    ``from utils import *`` binds whatever ``utils`` exports: a new ``utils.len`` replaces the
    builtin in the importer, a new ``utils.LR`` a global it defined before the import.
    """
    for diff in changes.files:
        if not diff.module or diff.path not in before or diff.path not in after:
            continue
        old, new = _exports(before[diff.path]), _exports(after[diff.path])
        moved = old ^ new
        if not moved:
            continue
        readers, problems = effects.star_readers(diff.module, frozenset(moved))
        cause = (f"{', '.join(sorted(moved))}, which {diff.module} now exports (or stops exporting) to "
                 f"`from {diff.module} import *`")
        yield from reader_obligations(readers, problems, cause, diff.path, effects, make)


def _exports(text: str) -> set[str]:
    """What ``from module import *`` binds: a literal ``__all__``, else every public top-level name."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return set()
    names: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in stmt.targets):
            if isinstance(stmt.value, (ast.List, ast.Tuple)) and all(
                    isinstance(e, ast.Constant) and isinstance(e.value, str) for e in stmt.value.elts):
                return {e.value for e in stmt.value.elts}
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(stmt.name)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            names.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in stmt.names if a.name != "*")
    return {n for n in names if not n.startswith("_")}


def _module_doc(text: str) -> str | None:
    try:
        return ast.get_docstring(ast.parse(text), clean=False)
    except (SyntaxError, ValueError, RecursionError):
        return None


def unique(obligations: list[Obligation]) -> list[Obligation]:
    """A reader reached by several changes, or changed itself, is checked once."""
    real = {o.target for o in obligations if not _is_reader(o)}
    seen: set[str] = set()
    kept = []
    for obligation in obligations:
        if _is_reader(obligation):
            if obligation.target in real or obligation.target in seen:
                continue
            seen.add(obligation.target)
        kept.append(obligation)
    return kept


def _is_reader(obligation: Obligation) -> bool:
    return (obligation.kind.behavioural and obligation.old_source is not None
            and obligation.old_source == obligation.new_source and obligation.module != "")
