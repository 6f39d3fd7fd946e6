"""Repository-relative paths as a model writes them, and the editable globs a task allows."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

__all__ = ["PathProblem", "matches", "normalise", "validate_pattern"]

# The text editor tool's examples use absolute paths; the model's view of the repository is /repo.
_ROOT_PREFIXES = ("/repo/",)


class PathProblem(ValueError):
    """A path a model or a caller gave that names nothing inside the repository."""


def normalise(raw: object) -> str:
    """``raw`` as a clean repository-relative POSIX path ('' for the root); raise PathProblem.

    A leading ``/repo/`` (or ``/repo`` alone) is accepted and dropped; ``.`` and empty
    components are dropped; backslashes, control characters, other absolute paths, ``..``
    and anything inside ``.git`` are refused.
    """
    if not isinstance(raw, str):
        raise PathProblem(f"the path must be a string, got {type(raw).__name__}")
    path = raw.strip()
    if path in ("/repo", "/repo/"):
        return ""
    for prefix in _ROOT_PREFIXES:
        if path.startswith(prefix):
            path = path[len(prefix):]
            break
    else:
        if path.startswith("/"):
            raise PathProblem(f"{raw!r} is absolute; give a path relative to the repository "
                              "root such as 'pkg/train.py' (or '/repo/pkg/train.py')")
    if "\\" in path or any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
        raise PathProblem(f"{raw!r} contains a backslash or a control character")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise PathProblem(f"{raw!r} contains a '..' component; stay inside the repository")
    if any(part.casefold() == ".git" for part in parts):
        raise PathProblem(f"{raw!r} points inside .git")
    return "/".join(parts)


def validate_pattern(pattern: object) -> str:
    """Check an editable pattern (a path, a directory ending in '/', or a glob) and return it."""
    if not isinstance(pattern, str) or not pattern.strip("/"):
        raise ValueError(f"an editable pattern must be a non-empty string, got {pattern!r}")
    if pattern.startswith("/") or ".." in pattern.split("/") or "\\" in pattern:
        raise ValueError(f"editable pattern {pattern!r} must be repository-relative "
                         "(no leading '/', no '..', no backslash)")
    _compile(pattern)
    return pattern


def matches(path: str, patterns: Iterable[str]) -> bool:
    """True if the normalised ``path`` is named by one of ``patterns``.

    ``*`` and ``?`` stay inside one path component, ``**`` spans any number of them,
    ``[...]`` is a character class, and a pattern ending in ``/`` names everything below it.
    """
    return bool(path) and any(_compile(pattern).fullmatch(path) for pattern in patterns)


@lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    # fnmatch lets '*' cross '/', so 'src/*.py' would admit 'src/deep/protected.py'.
    if pattern.endswith("/"):
        pattern += "**"
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:[^/]+/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif ch == "*":
            out.append("[^/]*")
            i += 1
        elif ch == "?":
            out.append("[^/]")
            i += 1
        elif ch == "[":
            end = pattern.find("]", i + 2)
            if end < 0:
                raise ValueError(f"editable pattern {pattern!r} has an unclosed '['")
            body = pattern[i + 1:end]
            body = "^" + body[1:] if body.startswith("!") else body
            out.append("(?!/)[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(ch))
            i += 1
    return re.compile("".join(out))
