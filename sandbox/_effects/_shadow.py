"""New modules that shadow a module of the repository: ``utils/`` next to ``utils.py``, or the reverse."""

from __future__ import annotations

import os

from sandbox._effects._index import RepoIndex

__all__ = ["shadowing"]


def shadowing(index: RepoIndex, path: str) -> str:
    """Why the new Python file ``path`` shadows a repository module, or ``""``.

    ``import utils`` finds one of ``utils/`` and ``utils.py``, and which one depends on
    the package layout, so code that imports the old one may silently get the new one.
    """
    parts = path.split("/")
    stem = parts[-1].removesuffix(".py")
    if stem != "__init__":
        package = "/".join([*parts[:-1], stem])
        if index.has_python_dir(package):
            return (f"{path} is a new module next to the existing package {package}/; "
                    f"`import {index.module_of(path)}` can no longer tell them apart")
    for depth in range(1, len(parts)):
        directory = "/".join(parts[:depth])
        module = directory + ".py"
        if index.exists(module) and not _had_python(index.root, directory):
            return (f"{path} makes {directory}/ a new package next to the existing module {module}; "
                    f"`import {index.module_of(module)}` can no longer tell them apart")
    return ""


def _had_python(root: str, directory: str) -> bool:
    full = os.path.join(root, *directory.split("/"))
    try:
        return any(name.endswith(".py") for name in os.listdir(full))
    except OSError:
        return False
