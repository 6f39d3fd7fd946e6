"""Unified diffs: read them with unidiff into plain values, and apply hunks with strict context."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import unidiff

from sandbox._errors import PatchError
from sandbox._paths import normalise_path, unquote_git_path

__all__ = ["DiffHunk", "FileDiff", "NotADiffError", "apply_hunks", "parse_diff", "split_lines"]

_DEV_NULL = "/dev/null"
_ALLOWED_MODES = frozenset({None, "100644", "100755"})
# a/ b/ by default; git's diff.mnemonicPrefix writes c/ i/ o/ w/ pairs
_PREFIX_PAIRS = frozenset({("a", "b"), ("c", "i"), ("c", "w"), ("i", "w"), ("o", "w"), ("1", "2")})
_GIT_HEADERS = (re.compile(r"^diff --git (?P<source>\"?a/[^\t\n]+\"?) (?P<target>\"?b/[^\t\n]+\"?)"),
                re.compile(r"^diff --git (?P<source>[^\t\n]+) (?P<target>[^\t\n]+)"))
_HINT = "regenerate it with `git diff` (or `diff -u`) against the current tree"


class NotADiffError(PatchError):
    """The text is empty or has no file headers: not a diff at all (``Patch.load`` tries JSON)."""


@dataclass(frozen=True, slots=True)
class DiffHunk:
    """One hunk: ``old`` lines (context and removed) expected at 0-based ``start``, replaced by ``new``."""

    start: int
    old: tuple[str, ...]
    new: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FileDiff:
    """One file of a diff. ``old_path`` is None for a new file, ``new_path`` None for a deletion."""

    old_path: str | None
    new_path: str | None
    hunks: tuple[DiffHunk, ...]
    copy: bool = False

    @property
    def label(self) -> str:
        """The path to name in messages."""
        return self.new_path or self.old_path or "<diff>"


def parse_diff(text: str, *, name: str = "<diff>") -> tuple[FileDiff, ...]:
    """Parse ``text`` (as ``git diff`` or ``diff -u`` writes it) into FileDiffs; PatchError if malformed."""
    if not text.strip():
        raise NotADiffError(f"the patch is empty; {_HINT}", path=name)
    patchset = _parse(text, name)
    if not patchset:
        raise NotADiffError("no file headers found: a unified diff needs '--- a/PATH' and "
                         f"'+++ b/PATH' lines (or 'diff --git') before each file's hunks; {_HINT}",
                         path=name)
    _check_stray_lines(text, patchset)
    files = tuple(_convert_file(patched) for patched in patchset)
    _check_unique(files)
    return files


class _PartialPatchSet(unidiff.PatchSet):
    """A PatchSet that keeps what it parsed before an error, to say where the error lies."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.error: Exception | None = None
        try:
            super().__init__(lines)
        except (unidiff.UnidiffParseError, ValueError, IndexError) as exc:
            self.error = exc


def _parse(text: str, name: str) -> unidiff.PatchSet:
    read = [0]

    def lines() -> Iterator[str]:
        for read[0], line in enumerate(io.StringIO(text), 1):
            yield line

    if not text.endswith("\n"):
        text += "\n"  # a diff that lost its own final newline, as pasted text often does
    patchset = _PartialPatchSet(lines())
    if patchset.error is None:
        return patchset
    last = patchset[-1] if patchset else None
    in_hunk = str(patchset.error).startswith("Hunk")
    raise PatchError(f"the diff does not parse at its line {read[0]}: {patchset.error}; "
                     f"check that each hunk's line counts match its body, or {_HINT}",
                     path=_raw_label(last) if last is not None else name,
                     hunk=len(last) + 1 if last is not None and in_hunk else None)


def _raw_label(patched: unidiff.PatchedFile) -> str:
    return unquote_git_path(patched.path)


def _check_stray_lines(text: str, patchset: unidiff.PatchSet) -> None:
    """Refuse hunk-like lines outside every hunk: unidiff leaves the surplus of a miscounted hunk."""
    inside = {line.diff_line_no for patched in patchset for hunk in patched for line in hunk}
    starts = [patched.diff_line_no or 0 for patched in patchset]
    for number, line in enumerate(io.StringIO(text), 1):
        if line == "-- \n":  # mail signature of `git format-patch`
            return
        if number <= starts[0] or number in inside or line.startswith(("+++ ", "--- ")):
            continue
        if line[:1] in ("+", "-", " "):
            owner = patchset[sum(1 for start in starts if start < number) - 1]
            raise PatchError(f"line {number} of the diff ({line.rstrip()!r}) lies outside every "
                             "hunk: the hunk header's line counts are smaller than its body; "
                             f"fix the counts or {_HINT}",
                             path=_raw_label(owner), hunk=len(owner) or None)


def _convert_file(patched: unidiff.PatchedFile) -> FileDiff:
    label = _raw_label(patched)
    if patched.is_binary_file:
        raise PatchError("this is a binary patch; the sandbox only handles text files, so "
                         "leave binary files out of the patch", path=label)
    _check_modes(patched, label)
    old_path, new_path, copy = _paths_of(patched, label)
    hunks = tuple(_convert_hunk(hunk, number, new_path or label)
                  for number, hunk in enumerate(patched, 1))
    return FileDiff(old_path, new_path, hunks, copy)


def _check_modes(patched: unidiff.PatchedFile, label: str) -> None:
    for mode in (patched.source_mode, patched.target_mode):
        if mode in _ALLOWED_MODES:
            continue
        kind = {"120000": "a symlink", "160000": "a git submodule"}.get(mode, f"file mode {mode}")
        raise PatchError(f"the diff makes or changes {kind}; only regular files with mode "
                         "100644 or 100755 can be patched, so drop this file from the patch",
                         path=label)


def _paths_of(patched: unidiff.PatchedFile, label: str) -> tuple[str | None, str | None, bool]:
    info = [str(line) for line in patched.patch_info or ()]
    header = _git_header(info)
    source, target = header or (patched.source_file, patched.target_file)
    source, target = _strip_prefixes(unquote_git_path(source), unquote_git_path(target))
    extended = _extended(info)
    source = extended.get("rename from", extended.get("copy from", source))
    target = extended.get("rename to", extended.get("copy to", target))
    old = None if patched.source_file == _DEV_NULL else normalise_path(source)
    new = None if patched.target_file == _DEV_NULL else normalise_path(target)
    if old is None and new is None:
        raise PatchError("the diff names /dev/null on both sides", path=label)
    if old is not None and new is not None and old != new and header is None:
        raise PatchError(f"the headers name two different files ({old} and {new}) without git's "
                         "rename lines; use the same path after '---' and '+++'", path=new)
    return old, new, "copy from" in extended


def _git_header(info: Sequence[str]) -> tuple[str, str] | None:
    for pattern in _GIT_HEADERS:
        match = pattern.match(info[0]) if info else None
        if match:
            return match.group("source"), match.group("target")
    return None


def _extended(info: Sequence[str]) -> dict[str, str]:
    found = {}
    for line in info:
        for key in ("rename from", "rename to", "copy from", "copy to"):
            if line.startswith(key + " "):
                found[key] = unquote_git_path(line[len(key) + 1:].rstrip("\n"))
    return found


def _strip_prefixes(source: str, target: str) -> tuple[str, str]:
    if source == _DEV_NULL:
        return source, target[2:] if target.startswith("b/") else target
    if target == _DEV_NULL:
        return source[2:] if source.startswith("a/") else source, target
    if source[1:2] == "/" and target[1:2] == "/" and (source[0], target[0]) in _PREFIX_PAIRS:
        return source[2:], target[2:]
    return source, target


def _convert_hunk(hunk: unidiff.Hunk, number: int, path: str) -> DiffHunk:
    old: list[str] = []
    new: list[str] = []
    last: tuple[list[str], ...] = ()
    for line in hunk:
        if line.line_type == "\\":
            for side in last:
                side[-1] = side[-1].removesuffix("\n")
            continue
        if line.is_context:
            last = (old, new)
        elif line.is_removed:
            last = (old,)
        elif line.is_added:
            last = (new,)
        else:
            continue
        for side in last:
            side.append(line.value)
    if any("\0" in text for text in new):
        raise PatchError("an added line contains a NUL byte; the sandbox only handles text "
                         "files", path=path, hunk=number)
    if hunk.source_length and hunk.source_start < 1:
        raise PatchError("the hunk starts at line 0; hunks that remove or keep lines start at "
                         f"line 1 or later; {_HINT}", path=path, hunk=number)
    start = hunk.source_start - 1 if hunk.source_length else hunk.source_start
    return DiffHunk(start, tuple(old), tuple(new))


def _check_unique(files: Sequence[FileDiff]) -> None:
    seen: set[str] = set()
    for diff in files:
        for path in {diff.old_path, diff.new_path} - {None}:
            if diff.copy and path == diff.old_path:
                continue
            if path in seen:
                raise PatchError("the diff changes this file twice; merge its hunks into one "
                                 "file section", path=path)
            seen.add(path)


def split_lines(text: str) -> list[str]:
    """Split on ``\\n`` only, keeping the endings (``str.splitlines`` also splits on ``\\r`` etc.)."""
    return re.findall(r"[^\n]*\n|[^\n]+", text)


def apply_hunks(text: str, hunks: Sequence[DiffHunk], *, path: str) -> str:
    """Apply ``hunks`` to ``text`` exactly where they say: no offsets, no fuzz."""
    current = split_lines(text)
    out: list[str] = []
    position = 0
    for number, hunk in enumerate(hunks, 1):
        if hunk.start < position:
            raise PatchError("this hunk overlaps the previous one or comes before it; hunks "
                             f"must be in file order; {_HINT}", path=path, hunk=number)
        _check_hunk(current, hunk, number, path)
        out += current[position:hunk.start]
        out += hunk.new
        position = hunk.start + len(hunk.old)
    return "".join(out + current[position:])


def _check_hunk(current: Sequence[str], hunk: DiffHunk, number: int, path: str) -> None:
    if hunk.start > len(current):
        raise PatchError(f"the hunk starts after line {hunk.start}, but the file has only "
                         f"{len(current)} lines; {_HINT}", path=path, hunk=number,
                         line=hunk.start)
    for index, expected in enumerate(hunk.old, hunk.start):
        found = current[index] if index < len(current) else None
        if found != expected:
            seen = f"found {found!r}" if found is not None else f"the file has only {len(current)} lines"
            raise PatchError(f"expected line {index + 1} to be {expected!r}, but {seen}; the diff "
                             f"was made against a different version of the file: {_HINT}",
                             path=path, hunk=number, line=index + 1)
    ends_file = hunk.start + len(hunk.old) == len(current)
    open_lines = [line for line in hunk.new if not line.endswith("\n")]
    if open_lines and (not ends_file or open_lines != [hunk.new[-1]]):
        raise PatchError("a '\\ No newline at end of file' marker falls on a line that is not the "
                         f"last of the file; {_HINT}", path=path, hunk=number)
