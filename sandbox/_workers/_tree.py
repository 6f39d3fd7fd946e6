"""Private copies of the repository, one per side, outside the live tree."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

__all__ = ["MAX_FILE_BYTES", "SKIPPED_DIRS", "copy_tree", "private_dirs"]

MAX_FILE_BYTES = 1024 * 1024
SKIPPED_DIRS = frozenset({".git", ".sandbox", "__pycache__", "node_modules"})


def copy_tree(repo: Path, dest: Path, overlay: Mapping[str, str] | None = None,
              deleted: frozenset[str] = frozenset(), *, owner: int | None = None) -> int:
    """Copy ``repo`` into the (new) directory ``dest``; return the number of files copied.

    Copies regular files only: no symlinks, nothing under ``.git``, ``.sandbox``,
    ``__pycache__``, ``node_modules`` or a virtualenv, no file over 1 MiB.  Then
    writes ``overlay`` (relative path -> text) and removes ``deleted``.  With
    ``owner``, every copied path is chowned to that uid/gid (for a dropped worker).
    """
    dest.mkdir(mode=0o755)
    count = 0
    for dirpath, dirnames, filenames in os.walk(repo):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if _keep_dir(here / d)]
        target_dir = dest / here.relative_to(repo)
        target_dir.mkdir(mode=0o755, exist_ok=True)
        for name in filenames:
            source = here / name
            if _keep_file(source):
                shutil.copyfile(source, target_dir / name, follow_symlinks=False)
                count += 1
    for rel in deleted:
        target = dest / _safe(rel)
        if target.is_file():
            target.unlink()
    for rel, text in (overlay or {}).items():
        target = dest / _safe(rel)
        target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    if owner is not None:
        _chown_all(dest, owner)
    return count


def private_dirs(work: Path, owner: int | None) -> None:
    """``home`` and ``tmp`` beside the tree, private to the worker (owned by ``owner`` when it is dropped)."""
    for name in ("home", "tmp"):
        (work / name).mkdir(mode=0o700)
        if owner is not None:
            os.chown(work / name, owner, owner)
    if owner is not None:
        os.chown(work, owner, owner)


def _keep_dir(path: Path) -> bool:
    if path.name in SKIPPED_DIRS or path.is_symlink():
        return False
    return not (path / "pyvenv.cfg").exists()


def _keep_file(path: Path) -> bool:
    try:
        info = path.lstat()
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size <= MAX_FILE_BYTES


def _safe(rel: str) -> PurePosixPath:
    path = PurePosixPath(rel)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"touched path {rel!r} is not a relative path inside the repository")
    return path


def _chown_all(root: Path, owner: int) -> None:
    os.chown(root, owner, owner)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), owner, owner, follow_symlinks=False)
