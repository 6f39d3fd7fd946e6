"""What a patch does beyond its touched files, asked of the repository only when a change needs it."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping

from sandbox._definitions import Definition, definitions
from sandbox._effects._bases import override_problem
from sandbox._effects._imports import importers, star_importers
from sandbox._effects._index import RepoIndex
from sandbox._effects._readers import Reader, data_readers, doc_readers, name_readers
from sandbox._effects._registrations import Registration, registrations
from sandbox._effects._shadow import shadowing
from sandbox._errors import PatchError

__all__ = ["Effects"]


class Effects:
    """Questions about the rest of the repository; the tree is walked on the first one that needs it."""

    def __init__(self, root: str | os.PathLike[str], after: Mapping[str, str | None], *, ledger: str = "",
                 not_readers: Callable[[str], object] = lambda path: False) -> None:
        """``not_readers(path)`` is true for files whose functions are never checked as readers (tests)."""
        self.index = RepoIndex(root, after, skip=(ledger,) if ledger else ())
        self._not_readers = not_readers
        self._definitions: dict[str, dict[str, Definition] | str] = {}

    def broken_importers(self, path: str) -> list[tuple[str, int]]:
        """Imports left in the tree of the module ``path``, which the patch deletes (or renames away)."""
        module = self.index.module_of(path)
        if self.index.module_file(module) is not None:
            return []  # something else still defines the module (utils.py became utils/__init__.py)
        return importers(self.index, module)

    def shadowing(self, path: str) -> str:
        """Why the new Python file ``path`` shadows a module of the repository, or ``""``."""
        return shadowing(self.index, path)

    def override_problem(self, path: str, owner: str, member: str) -> str:
        """Why a member added to class ``owner`` of ``path`` may override an inherited one, or ``""``."""
        return override_problem(self.index, path, owner, member)

    def data_readers(self, path: str) -> tuple[list[Reader], list[str]]:
        """The functions that name the non-Python file ``path``, and places the gate cannot follow."""
        return self._keep(*data_readers(self.index, path))

    def doc_readers(self) -> tuple[list[Reader], list[str]]:
        """The functions that read docstrings, and places the gate cannot follow."""
        return self._keep(*doc_readers(self.index))

    def registrations(self, path: str, before: str | None, after: str) -> list[Registration]:
        """Import-time calls ``path`` introduces into repository functions that write their module's globals."""
        return registrations(self.index, path, before, after)

    def star_readers(self, module: str, names: frozenset[str]) -> tuple[list[Reader], list[str]]:
        """The functions of modules that ``from module import *`` and read one of ``names``."""
        return self._keep(*name_readers(self.index, star_importers(self.index, module), names))

    def name_elsewhere(self, path: str, name: str) -> list[str]:
        """Other checked files that mention ``name`` as a word: readers the change analysis cannot see.

        Tests and other protected files are not readers.  Any mention counts (an import of
        the module through a parent package, a ``getattr`` with the name, even a comment),
        which errs on the side of keeping the constant's own obligation.
        """
        word = re.compile(rf"\b{re.escape(name)}\b")
        return sorted(p for p in self.index.containing(name)
                      if p != path and not self._not_readers(p) and word.search(self.index.text(p) or ""))

    def _keep(self, readers: list[Reader], problems: list[str]) -> tuple[list[Reader], list[str]]:
        return [r for r in readers if not self._not_readers(r.path)], problems

    def definition(self, reader: Reader) -> Definition | str:
        """The reader's definition as the patch leaves it, or why it cannot be had."""
        if reader.path not in self._definitions:
            text = self.index.text(reader.path) or ""
            try:
                self._definitions[reader.path] = definitions(text, reader.path, self.index.module_of(reader.path))
            except PatchError as error:
                self._definitions[reader.path] = f"{reader.path} cannot be analysed: {error}"
        found = self._definitions[reader.path]
        if isinstance(found, str):
            return found
        return found.get(reader.qualname) or f"the gate cannot find {reader.qualname} in {reader.path}"
