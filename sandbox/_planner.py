"""Obligation planning: from a ChangeSet and the repository's properties, what must be shown.

The defaults follow the design: a modified function must stay equivalent, a
changed constant must keep its value unless ``bounds`` lets it move, a removed
public definition is a violation, and anything the gate cannot analyse is an
obligation no verifier can discharge — so it is rejected, with the reason.
Effects beyond the touched files (``sandbox._effects``) add obligations of their
own: importers of a deleted module, a shadowed module, a symlink, and the
unchanged readers of a changed data file or docstring.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from properties import (
    Bounds, Equivalent, Invariant, Kernel, Kind, Obligation, Policy, Property, module_name, path_matches,
)

from sandbox._changes import Change, ChangeKind, ChangeSet, FileDiff
from sandbox._config import Config, sandbox_table
from sandbox._definitions import DefKind, Definition
from sandbox._effects import Effects
from sandbox._effects._plan import (
    docstring_readers, module_effects, reader_obligations, registration_effects, star_export_readers, symlink, unique,
)
from sandbox._errors import ConfigError

__all__ = ["Plan", "plan"]

_SCALAR = re.compile(
    r"^(int|float|bool|str|bytes|complex|None|list|tuple|dict|set|frozenset|Optional|Union|Literal"
    r"|typing\.\w+|Sequence|Mapping|\.\.\.|\d+|'[^']*'|\"[^\"]*\"|[\s\[\],|])+$"
)
_TENSOR = re.compile(r"\b(torch\.Tensor|Tensor|jax\.Array|jnp\.ndarray|jax\.numpy\.ndarray|Array|ArrayLike)\b")
_MODULE_BASES = re.compile(r"\b(nn\.Module|torch\.nn\.Module|Module)\b")
_SCALAR_ROUTE = ("smt", "crosshair", "pbt")


@dataclass(frozen=True, slots=True)
class Plan:
    """The obligations of a patch and the touched paths that need none (and why)."""

    obligations: tuple[Obligation, ...]
    unchecked: tuple[tuple[str, str], ...]


def plan(changes: ChangeSet, properties: Sequence[Property], config: Config, policy: Policy,
         before: dict[str, str], after: dict[str, str], root: str | os.PathLike[str] | None = None) -> Plan:
    """Every obligation of the patch, in file order.

    With the repository ``root``, effects beyond the touched files are followed too
    (importers of deleted modules, shadowed modules, readers of data files and
    docstrings, inherited members); the repository is read only when a change needs it.
    """
    by_target = {p.target: p for p in properties if hasattr(p, "target")}
    bounded = {p.target for p in properties if isinstance(p, Bounds)}
    effects = _effects(root, changes, before, after, config, policy)
    obligations: list[Obligation] = []
    unchecked: list[tuple[str, str]] = []
    for diff in changes.files:
        protected = _protection(diff.path, policy, before, after)
        if protected:
            obligations.append(Obligation(diff.path, Kind.PROTECTED, diff.path, protected, ("static",)))
        elif diff.status == "symlink":
            obligations.append(symlink(diff, before, after))
        elif diff.module is None:
            note = _non_python(diff, config, obligations, effects, by_target, bounded)
            if note:
                unchecked.append((diff.path, note))
        else:
            _check_targets(diff, properties)
            obligations.extend(_python_file(diff, by_target, bounded, effects, after.get(diff.path)))
            obligations.extend(module_effects(diff, effects))
            obligations.extend(registration_effects(diff, effects, before, after))
    if effects is not None:
        make = _reader_maker(by_target, bounded)
        obligations.extend(docstring_readers(changes, effects, make, before, after))
        obligations.extend(star_export_readers(changes, effects, make, before, after))
    return Plan(tuple(unique(obligations)), tuple(unchecked))


def _effects(root: str | os.PathLike[str] | None, changes: ChangeSet, before: dict[str, str],
             after: dict[str, str], config: Config, policy: Policy) -> Effects | None:
    if root is None:
        return None
    links = {d.path for d in changes.files if d.status == "symlink"}
    state = {path: None if path in links else after.get(path) for path in before.keys() | after.keys()}
    # Tests and other protected files check the code; they are not compared as readers.
    return Effects(root, state, ledger=config.ledger, not_readers=policy.protected_by)


def _reader_maker(by_target: dict[str, Property], bounded: set[str]) -> Callable[[Change], list[Obligation]]:
    return lambda change: _for_function(change, by_target.get(change.target), bounded)


def _check_targets(diff: FileDiff, properties: Sequence[Property]) -> None:
    """A property naming a definition of this file that exists on neither side is a typo."""
    assert diff.module is not None
    for prop in properties:
        target = getattr(prop, "target", None)
        owner = target.rpartition(".")[0] if target else ""
        if target is None or target in diff.names or (owner != diff.module and owner not in diff.names):
            continue
        close = difflib.get_close_matches(target, sorted(diff.names), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"the property file states {type(prop).__name__.lower()}({target!r}), but {diff.path} defines no "
            f"{target.rpartition('.')[2]!r}{hint}; fix the property file so it checks what you meant"
        )


def _protection(path: str, policy: Policy, before: dict[str, str], after: dict[str, str]) -> str:
    pattern = policy.protected_by(path)
    if pattern:
        return f"{path} is a protected path (pattern {pattern!r})"
    if path == "pyproject.toml" and sandbox_table(before.get(path)) != sandbox_table(after.get(path)):
        return "pyproject.toml: the patch changes the [tool.sandbox] configuration, which is protected"
    return ""


def _non_python(diff: FileDiff, config: Config, obligations: list[Obligation], effects: Effects | None,
                by_target: dict[str, Property], bounded: set[str]) -> str:
    if effects is not None:
        readers, problems = effects.data_readers(diff.path)
        if readers or problems:  # named by code: checked through its readers, unchecked glob or not
            obligations.extend(reader_obligations(readers, problems, diff.path, diff.path, effects,
                                                  _reader_maker(by_target, bounded)))
            return ""
    pattern = path_matches(diff.path, config.unchecked)
    if pattern:
        return f"not Python; listed as unchecked by {pattern!r}"
    obligations.append(Obligation(
        diff.path, Kind.UNANALYSABLE, diff.path,
        f"{diff.path} is not a Python file, so the gate cannot tell how it changes behaviour; "
        "if it cannot (documentation, say), add a matching glob to [tool.sandbox] unchecked",
    ))
    return ""


def _python_file(diff: FileDiff, by_target: dict[str, Property], bounded: set[str],
                 effects: Effects | None = None, text: str | None = None) -> list[Obligation]:
    found = [Obligation(diff.path, Kind.POLICY, diff.path, "the static policy applies to every changed Python file",
                        ("static",))] if diff.status != "deleted" else []
    classes = {c.target: c for c in diff.changes if c.kind is DefKind.CLASS}
    for change in diff.changes:
        implicit = _implicit_member(change, diff.module, classes, effects, diff.names)
        if implicit is not None:
            found.append(implicit)
        elif change.kind is DefKind.CONSTANT and change.change is ChangeKind.MODIFIED:
            found.extend(_for_constant(change, by_target.get(change.target),
                                       _invariant_readers(change, diff, text, by_target, effects)))
        else:
            found.extend(_for_change(change, by_target.get(change.target), bounded))
    if diff.status != "deleted" and all(part.isidentifier() for part in diff.module.split(".")):
        found.append(Obligation(diff.module, Kind.IMPORT, diff.path, "module-level code, decorators, defaults and "
                                "class bodies run at import: the module must import within limits, not much "
                                "slower or bigger than before", ("import",), module=diff.module))
    return found


def _implicit_member(change: Change, module: str, classes: dict[str, Change],
                     effects: Effects | None = None, names: frozenset[str] = frozenset()) -> Obligation | None:
    """An added or removed member that existing code may reach without naming it.

    Python calls dunder members implicitly (``a + b``, ``==``, ``del``), a module-level
    ``__getattr__`` answers every missing attribute, and a member added to (or dropped
    from) a class with base classes may override (or expose) an inherited one.  Any of
    these changes every caller, and no caller's source changes with it.  With the
    repository at hand, a new member whose bases are all visible and define nothing
    of that name (nor look members up dynamically) overrides nothing.
    """
    if change.change not in (ChangeKind.ADDED, ChangeKind.REMOVED) or change.kind is DefKind.MODULE_CODE:
        return None
    owner, _, leaf = change.target.rpartition(".")
    if owner == module:
        if leaf in _MODULE_HOOKS:
            return _obligation(change, Kind.UNANALYSABLE, (),
                               f"{change.change.value} module-level {leaf} changes every attribute lookup on the module")
        return None
    cls = classes.get(owner)
    if cls is not None and cls.change in (ChangeKind.ADDED, ChangeKind.REMOVED):
        return None  # the class itself is new (or gone): nothing existing reached the member implicitly
    definition = change.new or change.old
    assert definition is not None
    bases = [b for b in definition.class_bases if b != "object"]
    hook = next((h for h in _CLASS_HOOKS if f"{owner}.{h}" in names), None)
    if leaf.startswith("__") and leaf.endswith("__"):
        why = f"Python uses {leaf} implicitly, so every existing use of {owner} may change"
    elif hook is not None:
        why = (f"{owner} defines {hook}, so `{leaf}` is answered by {hook} on one side of the patch "
               "and by the member on the other")
    elif bases and effects is not None and change.change is ChangeKind.ADDED:
        problem = effects.override_problem(change.path, owner, leaf)
        if not problem:
            return None
        why = f"{problem}, and every caller of {owner}.{leaf} on {owner} may change"
    elif bases:
        why = (f"{owner} has base classes ({', '.join(bases)}), so the member may "
               f"{'override' if change.change is ChangeKind.ADDED else 'stop overriding'} an inherited one "
               "and change every caller; the gate cannot see the base classes")
    else:
        return None
    return _obligation(change, Kind.UNANALYSABLE, (),
                       f"{change.kind.value} {change.change.value}: {why}; keep existing classes' members as they "
                       "are, or put the new behaviour in a new function or class")


_MODULE_HOOKS = frozenset({"__getattr__", "__dir__"})
_CLASS_HOOKS = ("__getattr__", "__getattribute__")


def _for_change(change: Change, spec: Property | None, bounded: set[str]) -> list[Obligation]:
    if change.change is ChangeKind.COSMETIC:
        return []
    if change.kind is DefKind.IMPORT:
        if change.change is ChangeKind.MODIFIED and _is_public(change.target):
            return [_obligation(change, Kind.UNANALYSABLE, (),
                                f"the import bound to {change.target} changed, and other modules may import it "
                                f"from here (`from {change.target.rpartition('.')[0]} import "
                                f"{change.target.rpartition('.')[2]}`); the gate cannot compare the two objects: "
                                "import the new object under a new name instead")]
        return []
    if change.kind is DefKind.MODULE_CODE:
        if change.change is ChangeKind.ADDED and change.target.endswith(".<main block>"):
            return []  # a new script entry point: nothing that runs today runs it
        return [_obligation(change, Kind.UNANALYSABLE, (), _module_code_reason(change))]
    if change.change is ChangeKind.REMOVED:
        if _is_public(change.target):
            return [_obligation(change, Kind.REMOVAL, ("static",), f"public {change.kind.value} removed")]
        return []
    if change.change is ChangeKind.ADDED:
        return []
    if change.kind is DefKind.CONSTANT:
        return _for_constant(change, spec)
    if change.kind is DefKind.CLASS:
        return [_obligation(change, Kind.UNANALYSABLE, (),
                            f"the header of class {change.target} changed (bases, decorators or class-level "
                            "statements); the gate cannot analyse that yet: keep the header and change methods")]
    return _for_function(change, spec, bounded)


def _for_constant(change: Change, spec: Property | None, readers: tuple[str, ...] = ()) -> list[Obligation]:
    """A changed constant keeps its value, moves within ``bounds``, or moves under its readers' invariants.

    ``readers`` are the functions reading it when every one of them carries an ``invariant``
    (``_invariant_readers``): those invariants are checked as obligations of their own, so the
    value may move; old and new are still compared, and shown, for information.
    """
    if change.target.endswith(".__all__"):
        return []  # the export list changes only what `import *` binds
    if isinstance(spec, Bounds):
        return [_obligation(change, Kind.BOUNDS, ("literal",),
                            f"bounds({spec.target!r}, {spec.lo!r}, {spec.hi!r}) lets the value move within range",
                            spec)]
    if readers:
        allowed = ", ".join(f"invariant({r!r})" for r in readers)
        shown = _obligation(change, Kind.EQUIVALENT, ("literal",),
                            f"constant {change.target} changed; every function reading it states an invariant "
                            f"({allowed}), checked on its own, so the value may move: compared for information")
        return [dataclasses.replace(shown, allowed_by=allowed)]
    return [_obligation(change, Kind.EQUIVALENT, ("literal",),
                        f"constant {change.target} changed; its value must stay the same unless a bounds() "
                        "property lets it move, or every function of the repository reading it states an "
                        "invariant()")]


def _invariant_readers(change: Change, diff: FileDiff, text: str | None, by_target: dict[str, Property],
                       effects: Effects | None) -> tuple[str, ...]:
    """The readers of the changed constant when each states an ``invariant``, else ``()``.

    Every reader must be known: the functions of its module that read it (the change
    analysis marks them), no module-level code or class body of the module reading it, and
    no other file of the repository that names the constant (the repository must be at hand
    to tell).  One unknown reader and the constant must keep its
    value (or state ``bounds``), as before.
    """
    if effects is None or isinstance(by_target.get(change.target), Bounds) or diff.module is None:
        return ()
    leaf = change.target.rpartition(".")[2]
    # Unchanged readers are marked by the analysis; a function the patch edits too may read
    # the constant as well (a local of the same name counts: it errs towards an obligation).
    readers = tuple(sorted(c.target for c in diff.changes if change.target in c.because or (
        c.kind in (DefKind.FUNCTION, DefKind.METHOD) and c.new is not None
        and leaf in c.new.reads | c.new.attribute_reads)))
    if not readers or not all(isinstance(by_target.get(r), Invariant) for r in readers):
        return ()
    if change.target.rpartition(".")[0] != diff.module or text is None or _read_at_module_level(text, leaf):
        return ()
    if effects.name_elsewhere(diff.path, leaf):
        return ()
    return readers


def _read_at_module_level(text: str, name: str) -> bool:
    """Module code or a class body of the new file reads ``name`` (outside any function)."""
    def outside_functions(nodes: list[ast.stmt]) -> Iterator[ast.AST]:
        for node in nodes:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield from node.decorator_list
                yield from node.args.defaults
                yield from (d for d in node.args.kw_defaults if d is not None)
                continue
            if isinstance(node, ast.ClassDef):
                yield from node.bases
                yield from node.decorator_list
                yield from outside_functions(node.body)
                continue
            yield node
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return True
    for top in outside_functions(tree.body):
        for node in ast.walk(top):
            if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, ast.Load):
                return True
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("globals", "vars"):
                return True
    return False


def _for_function(change: Change, spec: Property | None, bounded: set[str]) -> list[Obligation]:
    """The obligation of a changed function, and the comparison shown for information beside it.

    Where an ``invariant`` (or the ``bounds`` of every constant it reads) lets the function's
    behaviour change, the gate still compares old and new with the usual verifiers and
    budget: a reviewer must see that a learning rate now sits at 0 even when it is allowed.
    """
    reason = _why(change)
    if change.because and not _textually_changed(change) and all(b in bounded for b in change.because) \
            and not isinstance(spec, (Invariant, Kernel)):
        allowed = ", ".join(f"bounds({b!r})" for b in change.because)
        shown = _compared(change, spec if isinstance(spec, Equivalent) else None, reason)
        return [dataclasses.replace(shown, allowed_by=allowed,
                                    reason=f"{reason}; {allowed} lets it change: compared for information")]
    if isinstance(spec, Invariant):
        held = _obligation(change, Kind.INVARIANT, _SCALAR_ROUTE, reason + "; invariant() replaces equivalence", spec)
        shown = _compared(change, Equivalent(change.target, pre=spec.pre), reason)
        allowed = f"invariant({change.target!r})"
        return [held, dataclasses.replace(shown, allowed_by=allowed,
                                          reason=f"{reason}; {allowed} lets it change: compared for information")]
    if isinstance(spec, Bounds):
        return [_obligation(change, Kind.UNANALYSABLE, (),
                            f"bounds() applies to module constants, not to {change.kind.value} {change.target}; "
                            "use invariant() for a function")]
    return [_compared(change, spec, reason)]


def _compared(change: Change, spec: Property | None, reason: str) -> Obligation:
    """Old and new must behave the same: scalar route, tensor comparison, or why neither can run."""
    route, problem = _route(change.new)  # type: ignore[arg-type]
    if isinstance(spec, Kernel) or route == ("numeric",):
        return _obligation(change, Kind.KERNEL, ("numeric",), reason, spec or Kernel(change.target))
    if problem:
        return _obligation(change, Kind.EQUIVALENT, (), f"{reason}; {problem}", spec)
    return _obligation(change, Kind.EQUIVALENT, route, reason, spec if isinstance(spec, Equivalent) else None)


def _route(definition: Definition) -> tuple[tuple[str, ...], str]:
    """Which verifiers can judge this function, from its parameter annotations."""
    function = ast.parse(definition.source).body[0]
    assert isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
    if isinstance(function, ast.AsyncFunctionDef):
        return (), f"{definition.qualname} is async; the gate cannot execute coroutines"
    params = [*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs]
    if definition.kind is DefKind.METHOD and not definition.is_static and params:
        params = params[1:]
        if function.name == "forward" and any(_MODULE_BASES.search(b) for b in definition.class_bases):
            return ("numeric",), ""
    for extra in (function.args.vararg, function.args.kwarg):
        if extra is not None:
            params.append(extra)
    annotations = []
    for param in params:
        if param.annotation is None:
            return (), (f"parameter {param.arg!r} of {definition.qualname} (line {definition.lines[0]}) has no type "
                        f"annotation, so the gate cannot generate its inputs; annotate it (e.g. `{param.arg}: int`) "
                        "or state its inputs with equivalent(..., inputs=...) in the property file")
        annotations.append(ast.unparse(param.annotation))
    if any(_TENSOR.search(a) for a in annotations):
        return ("numeric",), ""
    if all(_SCALAR.match(a) for a in annotations):
        return _SCALAR_ROUTE, ""
    return ("pbt",), ""


def _why(change: Change) -> str:
    if change.because and not _textually_changed(change):
        return f"{change.kind.value} reads changed {', '.join(change.because)}"
    reason = f"{change.kind.value} modified"
    if change.because:
        reason += f" and reads changed {', '.join(change.because)}"
    return reason


def _textually_changed(change: Change) -> bool:
    return change.old is not None and change.new is not None and change.old.docstring_free != change.new.docstring_free


def _module_code_reason(change: Change) -> str:
    lines = change.lines
    where = f" (lines {lines[0]}-{lines[1]})" if lines else ""
    return (f"module-level code of {change.path}{where} changed; it runs at import and the gate cannot verify it: "
            "move the logic into a function with annotated parameters")


def _is_public(target: str) -> bool:
    return not any(part.startswith("_") and not part.startswith("__") for part in target.split(".")[1:])


def _obligation(change: Change, kind: Kind, route: tuple[str, ...], reason: str,
                spec: Property | None = None) -> Obligation:
    old, new = change.old, change.new
    return Obligation(
        change.target, kind, change.path, reason, route,
        old.source if old else None, new.source if new else None,
        old.lines if old else None, new.lines if new else None, spec, module_name(change.path),
    )
