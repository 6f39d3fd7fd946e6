"""New top-level modules that would be imported instead of the module everyone expects.

A new ``numpy.py`` at the repository root is what ``import numpy`` finds first
when a script runs from there, and ``sitecustomize.py`` runs in every
interpreter that has it on its path: both change code the patch never touched.
"""

from __future__ import annotations

import functools
import importlib.metadata
import sys

__all__ = ["shadowed_module"]

_STARTUP = frozenset({"sitecustomize", "usercustomize"})
# The checker's own packages: workers import the numeric harness from them, after the tree.
_CHECKER = frozenset({"sandbox", "verifiers", "properties", "models"})


def shadowed_module(path: str) -> str | None:
    """Why the new file at ``path`` shadows another module, or ``None`` if it does not."""
    parts = path.split("/")
    stem = parts[-1].removesuffix(".py")
    if stem in _STARTUP:
        return f"{path} is `{stem}`, which Python imports automatically at start-up"
    if parts[0] == "src" and len(parts) > 1:
        parts = parts[1:]
    top = parts[0].removesuffix(".py")
    if len(parts) == 1 or (len(parts) == 2 and parts[1] == "__init__.py"):
        if top in _CHECKER:
            return f"{path} shadows the checker's own package `{top}`"
        if top in sys.stdlib_module_names or top in sys.builtin_module_names:
            return f"{path} shadows the standard-library module `{top}`"
        if top in _installed():
            return f"{path} shadows the installed module `{top}`"
    return None


@functools.cache
def _installed() -> frozenset[str]:
    return frozenset(importlib.metadata.packages_distributions())
