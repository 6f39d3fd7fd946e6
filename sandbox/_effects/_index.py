"""A lazy view of the repository's Python files, as the patch would leave them.

Nothing is read until a question needs it; the walk happens at most once, and
a substring prefilter keeps files that cannot matter from being parsed.
"""

from __future__ import annotations

import ast
import os
import subprocess
from collections.abc import Iterator, Mapping

from properties import module_name

__all__ = ["RepoIndex"]

SKIPPED = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__", ".sandbox"})
_MAX_BYTES = 2 * 1024 * 1024


class RepoIndex:
    """The repository under ``root`` with the patch's touched files (``after``: path -> text or None)."""

    def __init__(self, root: str | os.PathLike[str], after: Mapping[str, str | None] | None = None,
                 *, skip: tuple[str, ...] = ()) -> None:
        self.root = os.fspath(root)
        self._after = dict(after or {})
        self._skip = SKIPPED | {s.strip("/") for s in skip}
        self._files: tuple[str, ...] | None = None
        self._texts: dict[str, str | None] = {}
        self._trees: dict[str, ast.Module | None] = {}

    @property
    def walked(self) -> bool:
        """True once the repository has been listed (tests use it to check the cost)."""
        return self._files is not None

    def python_files(self) -> tuple[str, ...]:
        """Every ``.py`` file of the tree after the patch, repository-relative, sorted."""
        if self._files is None:
            found = set(self._walk())
            found |= {p for p, text in self._after.items() if p.endswith(".py") and text is not None}
            found -= {p for p, text in self._after.items() if text is None}
            self._files = tuple(sorted(found))
        return self._files

    def _walk(self) -> Iterator[str]:
        for dirpath, dirnames, filenames in os.walk(self.root):
            rel = os.path.relpath(dirpath, self.root).replace(os.sep, "/")
            rel = "" if rel == "." else rel + "/"
            dirnames[:] = sorted(d for d in dirnames if not self._skipped(rel + d, dirpath, d))
            yield from (rel + name for name in filenames if name.endswith(".py"))

    def _skipped(self, rel: str, dirpath: str, name: str) -> bool:
        full = os.path.join(dirpath, name)
        return (name in self._skip or rel in self._skip or os.path.islink(full)
                or os.path.exists(os.path.join(full, "pyvenv.cfg")))

    def text(self, path: str) -> str | None:
        """The file's text after the patch; None if absent, a link, too large or not UTF-8."""
        if path in self._after:
            return self._after[path]
        if path not in self._texts:
            self._texts[path] = self._read(path)
        return self._texts[path]

    def _read(self, path: str) -> str | None:
        full = os.path.join(self.root, *path.split("/"))
        try:
            if os.path.islink(full) or os.path.getsize(full) > _MAX_BYTES:
                return None
            with open(full, "rb") as handle:
                return handle.read().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def tree(self, path: str) -> ast.Module | None:
        """The parsed file, or None if it is absent or does not parse."""
        if path not in self._trees:
            text = self.text(path)
            try:
                self._trees[path] = None if text is None else ast.parse(text, filename=path)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                self._trees[path] = None
        return self._trees[path]

    def containing(self, *needles: str) -> Iterator[str]:
        """Python files whose text contains any of ``needles`` (a cheap prefilter before parsing).

        In a git work tree, ``git grep`` narrows the files read first (reading 10,000 files
        for ``import *`` costs more than the rest of a check); every file it names is still
        read and tested here, and the files git cannot vouch for (the patch's own, those of a
        nested repository) are read anyway, so the answer is the same as reading them all.
        """
        candidates = self._grep(needles)
        for path in self.python_files():
            if candidates is not None and path not in candidates and path not in self._after:
                continue
            text = self.text(path)
            if text is not None and any(n in text for n in needles):
                yield path

    def _grep(self, needles: tuple[str, ...]) -> set[str] | None:
        """The paths git finds the needles in, plus every path git does not list; None without git."""
        if not needles or not os.path.isdir(os.path.join(self.root, ".git")):
            return None
        patterns = [arg for needle in needles for arg in ("-e", needle)]
        try:
            found = _git(self.root, "grep", "-l", "-z", "-F", "--untracked", "--no-exclude-standard",
                         *patterns, "--", "*.py", ok=(0, 1))
            # Without --exclude-standard, `-o` lists every untracked file, ignored ones included.
            known = _git(self.root, "ls-files", "-z", "-c", "-o", "--", "*.py")
        except (OSError, subprocess.SubprocessError):
            return None
        listed = set(known.split("\0")) - {""}
        return (set(found.split("\0")) - {""}) | (set(self.python_files()) - listed)

    def exists(self, path: str) -> bool:
        """Whether ``path`` is a file after the patch (no walk: one lookup)."""
        if path in self._after:
            return self._after[path] is not None
        full = os.path.join(self.root, *path.split("/"))
        return os.path.isfile(full) and not os.path.islink(full)

    def has_python_dir(self, path: str) -> bool:
        """Whether directory ``path`` holds a ``.py`` file after the patch (a package, perhaps namespace)."""
        prefix = path.rstrip("/") + "/"
        if any(p.startswith(prefix) and p.endswith(".py") and t is not None for p, t in self._after.items()):
            return True
        full = os.path.join(self.root, *path.split("/"))
        try:
            names = os.listdir(full)
        except OSError:
            return False
        return not os.path.islink(full) and any(
            n.endswith(".py") and self._after.get(prefix + n, "") is not None for n in names)

    def module_file(self, module: str) -> str | None:
        """The repository file that defines ``module`` after the patch, if any (``src/`` layout too)."""
        base = module.replace(".", "/")
        for prefix in ("", "src/"):
            for candidate in (f"{prefix}{base}/__init__.py", f"{prefix}{base}.py"):
                if self.exists(candidate):
                    return candidate
        return None

    @staticmethod
    def module_of(path: str) -> str:
        """The dotted module name of a repository path."""
        return module_name(path)


def _git(root: str, *args: str, ok: tuple[int, ...] = (0,)) -> str:
    done = subprocess.run(["git", "-C", root, "-c", "core.quotePath=false", *args], capture_output=True,
                          timeout=60, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
    if done.returncode not in ok:
        raise subprocess.SubprocessError(done.stderr.decode(errors="replace"))
    return done.stdout.decode("utf-8", "surrogateescape")
