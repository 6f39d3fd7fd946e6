"""Repository-relative paths: normalise what a patch names, and read the current files safely."""

from __future__ import annotations

import errno
import os
import stat

from sandbox._errors import PatchError

__all__ = ["check_text", "normalise_path", "read_current", "unquote_git_path"]

_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


def normalise_path(raw: object, *, what: str = "path") -> str:
    """Return ``raw`` as a clean repository-relative POSIX path, or raise PatchError.

    Refuses empty paths, NUL and other control characters, backslashes, absolute paths,
    ``..`` components and anything inside ``.git``; drops ``.`` and empty components.
    """
    shown = repr(raw) if not isinstance(raw, str) or not raw.isprintable() else raw
    if not isinstance(raw, str):
        raise PatchError(f"the {what} must be a string, got {type(raw).__name__}", path=shown)
    problem = _syntax_problem(raw)
    if problem is None:
        parts = [part for part in raw.split("/") if part not in ("", ".")]
        problem = _parts_problem(parts)
    if problem is not None:
        raise PatchError(f"refusing {what} {shown}: {problem}; name a file inside the "
                         "repository with a relative POSIX path such as 'pkg/train.py'",
                         path=shown)
    return "/".join(parts)


def _syntax_problem(raw: str) -> str | None:
    if not raw:
        return "the path is empty"
    if "\0" in raw:
        return "it contains a NUL byte"
    if "\\" in raw:
        return "it contains a backslash"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in raw):
        return "it contains a control character"
    if raw.startswith("/"):
        return "it is absolute"
    return None


def _parts_problem(parts: list[str]) -> str | None:
    if not parts:
        return "it names the repository root, not a file"
    if ".." in parts:
        return "it contains a '..' component"
    if any(part.casefold() == ".git" for part in parts):
        return "it points inside .git"
    return None


def unquote_git_path(raw: str) -> str:
    """Undo git's C-style quoting (``"a/f\\303\\251.py"``); unquoted names pass through."""
    if len(raw) < 2 or not (raw.startswith('"') and raw.endswith('"')):
        return raw
    body, out, i = raw[1:-1], bytearray(), 0
    while i < len(body):
        ch = body[i]
        if ch != "\\" or i + 1 == len(body):
            out += ch.encode("utf-8")
            i += 1
        elif body[i + 1] in "01234567":
            out.append(int(body[i + 1:i + 4], 8) & 0xFF)
            i += 4
        else:
            out.append(_ESCAPES.get(body[i + 1], ord(body[i + 1])))
            i += 2
    return out.decode("utf-8", errors="surrogateescape")


def read_current(root: str | os.PathLike[str], path: str) -> bytes | None:
    """Bytes of ``root/path``, or None if it does not exist.

    Refuses a path that passes through a symlink (the file itself included), a directory,
    or anything that is not a regular file. Never follows a link, never writes.
    """
    current = os.fspath(root)
    parts = path.split("/")
    for depth, part in enumerate(parts, 1):
        current = os.path.join(current, part)
        shown = "/".join(parts[:depth])
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            return None
        _check_kind(info, path, shown, last=depth == len(parts))
    return _read_no_follow(current, path)


def _check_kind(info: os.stat_result, path: str, shown: str, *, last: bool) -> None:
    if stat.S_ISLNK(info.st_mode):
        raise PatchError(f"{shown} is a symlink; the sandbox never follows links, so patch "
                         "the file it points to by its real path", path=path)
    if last and stat.S_ISDIR(info.st_mode):
        raise PatchError("this path is a directory; a patch can only change files", path=path)
    if last and not stat.S_ISREG(info.st_mode):
        raise PatchError("this path is not a regular file; a patch can only change files",
                         path=path)
    if not last and not stat.S_ISDIR(info.st_mode):
        raise PatchError(f"{shown} is a file, not a directory; choose a path that does not "
                         "go through a file", path=path)


def _read_no_follow(full: str, path: str) -> bytes:
    try:
        fd = os.open(full, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise PatchError("this path is a symlink; the sandbox never follows links",
                             path=path) from None
        raise PatchError(f"cannot read the current file: {exc.strerror}", path=path) from None
    with os.fdopen(fd, "rb") as handle:
        return handle.read()


def check_text(data: bytes, path: str, *, what: str) -> str:
    """Decode ``data`` as UTF-8 text without NUL bytes, or raise PatchError naming ``path``."""
    if b"\0" in data:
        raise PatchError(f"{what} contains NUL bytes; the sandbox only handles text files, "
                         "so leave binary files out of the patch", path=path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PatchError(f"{what} is not valid UTF-8 (byte {exc.start}); re-encode it as "
                         "UTF-8 or leave it out of the patch", path=path) from None
