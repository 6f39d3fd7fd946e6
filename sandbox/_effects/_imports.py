"""Who imports a module: the files a deleted or renamed module would break."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from sandbox._effects._index import RepoIndex

__all__ = ["importers", "resolve_from", "star_importers"]


def importers(index: RepoIndex, module: str) -> list[tuple[str, int]]:
    """``(path, line)`` of every import of ``module`` (or of something inside it) left in the tree."""
    found = []
    for path in _candidates(index, module):
        tree = index.tree(path)
        if tree is None:
            continue
        importer = index.module_of(path)
        is_package = path.endswith("__init__.py")
        found += [(path, line) for line in _lines_importing(tree, module, importer, is_package)]
    return found


def star_importers(index: RepoIndex, module: str) -> list[str]:
    """Files that ``from module import *``: every public name ``module`` gains lands in them too."""
    found = []
    for path in index.containing("import *"):
        tree = index.tree(path)
        if tree is None:
            continue
        importer, is_package = index.module_of(path), path.endswith("__init__.py")
        if any(isinstance(node, ast.ImportFrom) and [a.name for a in node.names] == ["*"]
               and resolve_from(node, importer, is_package) == module for node in ast.walk(tree)):
            found.append(path)
    return found


def _candidates(index: RepoIndex, module: str) -> Iterator[str]:
    """Files that name the module's last part, or sit in its top package and import relatively."""
    leaf, top = module.rpartition(".")[2], module.split(".")[0]
    inside = (f"{top}/", f"src/{top}/")
    for path in index.python_files():
        text = index.text(path) or ""
        if leaf in text or (path.startswith(inside) and "from ." in text):
            yield path


def _lines_importing(tree: ast.Module, module: str, importer: str, is_package: bool) -> Iterator[int]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            if any(_within(alias.name, module) for alias in node.names):
                yield node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = resolve_from(node, importer, is_package)
            if base is None:
                continue
            if _within(base, module) or any(_within(f"{base}.{a.name}", module) for a in node.names):
                yield node.lineno


def _within(name: str, module: str) -> bool:
    return name == module or name.startswith(module + ".")


def resolve_from(node: ast.ImportFrom, importer: str, is_package: bool) -> str | None:
    """The absolute module a ``from ... import`` reads, or None if it climbs above the top."""
    if not node.level:
        return node.module
    parts = importer.split(".")
    if not is_package:
        parts = parts[:-1]
    climb = node.level - 1
    if climb > len(parts) or (climb == len(parts) and not node.module):
        return None
    parts = parts[:len(parts) - climb]
    return ".".join([*parts, node.module] if node.module else parts)
