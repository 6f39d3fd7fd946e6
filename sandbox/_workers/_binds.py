"""A worker's view of the repository as bubblewrap mounts, not a copy: cost follows the change.

Copying the tree for every worker costs time and disk in proportion to the repository (the
same one-function patch took 6 s in 10 modules and 54 s in 5,000).  Under bubblewrap the
repository is bound read-only as the worker's tree and only the touched files are laid
over it:

- a file that exists in the repository and is changed is bound, as a file of its own,
  over the original (a mount point that exists needs no write access to its directory);
- a file the side adds or deletes changes a directory listing, and a new mount point
  cannot be made inside a read-only bind, so the nearest existing directory above it is
  *shadowed*: a fresh directory holding its files (copied: one directory, not a subtree),
  the side's new files, and empty mount points for its sub-directories, which are bound
  back from the repository;
- what the copy always left out (``.git``, the ledger, ``__pycache__``, virtual
  environments at the top) is covered with an empty tmpfs.

The work is one listing of the repository's top level plus one per shadowed directory:
independent of the size of the repository.  Without bubblewrap the tree is copied
(``_tree.copy_tree``), as before.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sandbox._workers._tree import MAX_FILE_BYTES, SKIPPED_DIRS

__all__ = ["Binds", "bindable", "plan_binds"]


@dataclass(frozen=True, slots=True)
class Binds:
    """bubblewrap arguments, in order: ``(host path, inside path)`` read-only binds, then tmpfs paths."""

    binds: tuple[tuple[str, str], ...]
    hidden: tuple[str, ...]

    def argv(self) -> list[str]:
        out: list[str] = []
        for source, dest in self.binds:
            out += ["--ro-bind", source, dest]
        for path in self.hidden:
            out += ["--tmpfs", path]
        return out


def bindable(repo: Path, *, dropped_uid: bool) -> str:
    """Why ``repo`` cannot be bound for the worker (``""`` when it can).

    A worker running as another uid must be able to read the repository's files in place;
    a repository directory closed to others (mode 0700) is copied instead, chowned.
    """
    if not dropped_uid:
        return ""
    try:
        mode = repo.stat().st_mode
    except OSError as error:
        return f"{repo}: {error.strerror}"
    if mode & 0o005 != 0o005:
        return f"{repo} is not readable by other users (mode {stat.S_IMODE(mode):o})"
    return ""


def plan_binds(repo: Path, scratch: Path, inside: str, written: Mapping[str, str],
               deleted: frozenset[str], ledger: str = ".sandbox") -> Binds:
    """The mounts that show ``inside`` as ``repo`` with ``written`` (path -> text) and without ``deleted``.

    ``scratch`` is a new host directory for the overlaid files and shadow directories.
    """
    scratch.mkdir(mode=0o755)
    touched: dict[str, str | None] = {}
    for rel, text in written.items():
        _safe(rel)
        if not _same_as_repo(repo / rel, text):
            touched[rel] = text
    for rel in deleted - set(written):
        _safe(rel)
        if (repo / rel).is_file() or (repo / rel).is_symlink():
            touched[rel] = None
    skipped = SKIPPED_DIRS | {ledger.strip("/")}
    shadowed = {_anchor(repo, rel) for rel, text in touched.items() if not _replaces_file(repo, rel, text)}
    binds: list[tuple[str, str]] = [(str(repo), inside)]
    # Parents before children: a shadow's bound-back sub-directory is covered by its own shadow.
    for number, directory in enumerate(sorted(shadowed, key=lambda d: (d.count("/") + bool(d), d))):
        host = scratch / "shadow" / str(number)  # not nested: a parent's shadow holds mount points only
        binds += _shadow(repo, host, inside, directory, touched, shadowed, skipped)
    for rel, text in sorted(touched.items()):
        if text is None or _anchor(repo, rel) in shadowed:
            continue  # left out of, or written into, a shadow
        host = scratch / "files" / rel
        host.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        host.write_text(text, encoding="utf-8")
        binds.append((str(host), f"{inside}/{rel}"))
    hidden = [] if "" in shadowed else [f"{inside}/{name}" for name in _hidden_top(repo, skipped)]
    return Binds(tuple(binds), tuple(hidden))


def _same_as_repo(path: Path, text: str) -> bool:
    """The side's text is what the repository holds already (the old side, usually): nothing to lay over."""
    try:
        return path.is_file() and not path.is_symlink() and path.read_bytes() == text.encode("utf-8")
    except (OSError, UnicodeEncodeError):
        return False


def _replaces_file(repo: Path, rel: str, text: str | None) -> bool:
    """A write over a regular file that exists, in real directories: a file bind does it."""
    if text is None:
        return False
    try:
        info = (repo / rel).lstat()
    except OSError:
        return False
    parent = str(PurePosixPath(rel).parent)
    return stat.S_ISREG(info.st_mode) and _anchor(repo, rel) == ("" if parent == "." else parent)


def _anchor(repo: Path, rel: str) -> str:
    """The deepest real directory above ``rel`` in the repository (``""`` for the root)."""
    parts = list(PurePosixPath(rel).parts[:-1])
    for depth in range(1, len(parts) + 1):
        candidate = repo.joinpath(*parts[:depth])
        if candidate.is_symlink() or not candidate.is_dir():
            return "/".join(parts[:depth - 1])
    return "/".join(parts)


def _shadow(repo: Path, host: Path, inside: str, directory: str, touched: Mapping[str, str | None],
            shadowed: set[str], skipped: frozenset[str]) -> list[tuple[str, str]]:
    """A fresh copy (at ``host``) of one directory level with the side's changes in it; its
    sub-directories bound back."""
    host.mkdir(mode=0o755, parents=True)
    here = f"{inside}/{directory}" if directory else inside
    back: list[tuple[str, str]] = []
    for entry in sorted(os.scandir(repo / directory if directory else repo), key=lambda e: e.name):
        rel = f"{directory}/{entry.name}" if directory else entry.name
        if entry.is_symlink():
            continue  # as the copy did: no links into or out of the tree
        if entry.is_dir():
            if (not directory and entry.name in skipped) or entry.name == "__pycache__" \
                    or os.path.exists(os.path.join(entry.path, "pyvenv.cfg")):
                continue
            (host / entry.name).mkdir(mode=0o755)
            if rel not in shadowed:
                back.append((entry.path, f"{here}/{entry.name}"))
        elif entry.is_file() and rel not in touched and entry.stat().st_size <= MAX_FILE_BYTES:
            shutil.copyfile(entry.path, host / entry.name)
    for rel, text in touched.items():
        if text is not None and _anchor(repo, rel) == directory:
            # The side's version of a file of this directory, or a new file in new directories below it.
            target = host / (PurePosixPath(rel).relative_to(directory) if directory else PurePosixPath(rel))
            target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    return [(str(host), here), *back]


def _hidden_top(repo: Path, skipped: frozenset[str]) -> list[str]:
    hidden = []
    for entry in sorted(os.scandir(repo), key=lambda e: e.name):
        if entry.is_dir(follow_symlinks=False) and (
                entry.name in skipped or os.path.exists(os.path.join(entry.path, "pyvenv.cfg"))):
            hidden.append(entry.name)
    return hidden


def _safe(rel: str) -> PurePosixPath:
    path = PurePosixPath(rel)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"touched path {rel!r} is not a relative path inside the repository")
    return path
