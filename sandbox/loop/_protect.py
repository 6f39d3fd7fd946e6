"""The measuring apparatus (the objective's files), protected for the whole loop, and what stays editable.

The objective's files are the repository files its command names (``python eval.py``,
``python -m bench.run``, ``sh score.sh``) and, for Python ones, every repository module they
import, transitively, that lies outside the editable paths. Imports inside the editable paths are
what the loop improves; the imports are followed statically (``ast``), so a script that loads
code some other way (``importlib`` on a computed name, ``exec`` of a file) must name those files
with ``--protect``.
"""

from __future__ import annotations

import ast
import os
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from models._paths import matches

from sandbox._workers._tree import SKIPPED_DIRS

__all__ = ["Editable", "editable_paths", "objective_files", "repository_files"]


@dataclass(frozen=True, slots=True)
class Editable:
    """The patterns a proposer may edit, and the notes on how they were narrowed."""

    patterns: tuple[str, ...]
    notes: tuple[str, ...] = ()


def objective_files(command: str, root: Path, editable: Sequence[str] = ()) -> tuple[str, ...]:
    """The repository-relative files ``command`` runs, sorted (see the module docstring)."""
    root = Path(root).resolve()
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    found: set[str] = set()
    queue = [path for path in (_named(word, words, index, root) for index, word in enumerate(words)) if path]
    while queue:
        path = queue.pop()
        if path in found:
            continue
        found.add(path)
        if path.endswith(".py"):
            queue += [p for p in _imports(root, path) if p not in found and not matches(p, editable)]
    return tuple(sorted(found))


def editable_paths(root: Path, requested: Sequence[str], protected: Iterable[str],
                   is_protected: Callable[[str], bool] | None = None) -> Editable:
    """The editable patterns with every protected file left out.

    With no ``requested`` patterns, every Python file of the repository that is not protected.
    A requested pattern that covers a protected file is replaced by the explicit list of the
    files it covers that are not protected (it can then no longer create new files there).
    """
    protected = set(protected)
    check = is_protected or (lambda path: False)
    files = repository_files(Path(root))
    if not requested:
        chosen = tuple(p for p in files if p.endswith(".py") and p not in protected and not check(p))
        return Editable(chosen, ("--editable not given: every Python file that is not protected",))
    patterns: list[str] = []
    notes: list[str] = []
    for pattern in requested:
        covered = [p for p in files if matches(p, (pattern,))]
        refused = [p for p in covered if p in protected or check(p)]
        if not refused:
            patterns.append(pattern)
            continue
        kept = [p for p in covered if p not in refused]
        patterns += kept
        notes.append(f"--editable {pattern!r} covers protected file(s) {', '.join(refused)}; narrowed to "
                     f"{', '.join(kept) or 'nothing'}")
    return Editable(tuple(dict.fromkeys(patterns)), tuple(notes))


def _named(word: str, words: list[str], index: int, root: Path) -> str | None:
    if index and words[index - 1] == "-m":
        parts = word.split(".")
        for candidate in ("/".join(parts) + ".py", "/".join(parts) + "/__main__.py", "/".join(parts) + "/__init__.py"):
            if (root / candidate).is_file():
                return candidate
        return None
    return _inside(root, word)


def _inside(root: Path, word: str) -> str | None:
    if not word or word.startswith("-") or "\0" in word:
        return None
    candidate = (root / word).resolve() if not os.path.isabs(word) else Path(word).resolve()
    try:
        relative = candidate.relative_to(root)
    except ValueError:
        return None
    return relative.as_posix() if candidate.is_file() else None


def _imports(root: Path, path: str) -> list[str]:
    """Repository files that the module at ``path`` imports (statically)."""
    try:
        tree = ast.parse((root / path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return []
    package = PurePosixPath(path).parent.parts
    names: list[tuple[str, ...]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [tuple(alias.name.split(".")) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = tuple(node.module.split(".")) if node.module else ()
            if node.level:
                up = package[:len(package) - node.level + 1] if node.level - 1 <= len(package) else ()
                base = (*up, *base)
            names.append(base)
            names += [(*base, alias.name) for alias in node.names if alias.name != "*"]
    found = []
    for parts in names:
        found += _module_files(root, parts, PurePosixPath(path).parent)
    return found


def _module_files(root: Path, parts: tuple[str, ...], here: PurePosixPath) -> list[str]:
    """The files importing ``parts`` executes: each package's ``__init__`` and the module itself."""
    if not parts:
        return []
    out = []
    for base in dict.fromkeys((PurePosixPath(), PurePosixPath("src"), here)):
        for depth in range(1, len(parts) + 1):
            stem = base.joinpath(*parts[:depth])
            for candidate in (f"{stem}.py", f"{stem}/__init__.py"):
                if (root / candidate).is_file():
                    out.append(PurePosixPath(candidate).as_posix())
    return out


def repository_files(root: Path) -> list[str]:
    """Every file of the tree the workers would copy (no .git, .sandbox, caches or virtualenvs), sorted."""
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS and not d.startswith(".")
                             and not (here / d / "pyvenv.cfg").exists())
        files += [(here / name).relative_to(root).as_posix() for name in sorted(filenames)]
    return files
