"""Patch intake: a proposed change as a value, and what it would do to a tree (computed, never written)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sandbox._diff import FileDiff, NotADiffError, apply_hunks, parse_diff
from sandbox._errors import PatchError, PatchLimitError
from sandbox._paths import check_text, normalise_path, read_current

__all__ = ["Edit", "FileChange", "Patch", "PatchLimits"]

_FORMS = ("use one of: a unified diff as `git diff` writes it; JSON {\"files\": {path: text or "
          "null}}; JSON {\"edits\": [{\"path\": ..., \"old_str\": ..., \"new_str\": ...}, ...]}; "
          "a bare JSON list of such edits; or a bare JSON map {path: text or null}")
_EDIT_KEYS = frozenset({"path", "old_str", "new_str"})


@dataclass(frozen=True, slots=True)
class PatchLimits:
    """The largest patch the gate takes on: intake refuses more before parsing, so cost stays bounded.

    ``max_patch_lines`` counts changed lines: the ``+``/``-`` lines of a diff (its file headers
    too, so no line escapes the count), every line of a new file content, the lines of each
    edit's ``old_str`` and ``new_str``, and the lines of a file deleted by name.
    ``max_file_bytes`` applies to both sides of every touched file; it matches the 1 MiB above
    which the workers do not copy a file, so a larger touched file could not be run anyway.
    Each str_replace edit searches its whole file, so edits may scan at most
    64 x ``max_patch_bytes`` bytes in all: the cost of intake stays linear
    in the patch, where 100,000 one-line edits to a 1 MiB file would scan 100 GB.
    """

    max_patch_bytes: int = 5_000_000
    max_patch_lines: int = 100_000
    max_file_bytes: int = 1024 * 1024

    def check_patch(self, size: int, lines: int, name: str) -> None:
        """Refuse a patch of more than ``max_patch_bytes`` bytes or ``max_patch_lines`` changed lines."""
        for limit, measured, unit in (("max_patch_bytes", size, "bytes"), ("max_patch_lines", lines, "changed lines")):
            maximum = getattr(self, limit)
            if measured > maximum:
                raise PatchLimitError(
                    f"the patch has {measured:,} {unit}, over the limit {limit} = {maximum:,}; split it into "
                    f"smaller patches, or raise the limit in pyproject.toml: [tool.sandbox] {limit} = {measured}",
                    limit=limit, size=measured, maximum=maximum, path=name)

    def check_file(self, path: str, size: int, what: str) -> None:
        """Refuse a touched file (``what``: which side) of more than ``max_file_bytes`` bytes."""
        if size > self.max_file_bytes:
            raise PatchLimitError(
                f"{what} is {size:,} bytes, over the limit max_file_bytes = {self.max_file_bytes:,} (the "
                "workers do not copy larger files, and analysing one costs more than a check should); "
                "leave this file out of the patch, or raise the limit in pyproject.toml: "
                f"[tool.sandbox] max_file_bytes = {size}",
                limit="max_file_bytes", size=size, maximum=self.max_file_bytes, path=path)


_DEFAULT_LIMITS = PatchLimits()
_EDIT_SCAN_FACTOR = 64


@dataclass(frozen=True, slots=True)
class FileChange:
    """What a patch does to one file: its bytes before (None: absent) and after (None: deleted)."""

    path: str
    before: bytes | None
    after: bytes | None
    renamed_from: str | None = None
    symlink: bool = False

    @property
    def before_text(self) -> str | None:
        """The current content as text, or None if the file does not exist yet."""
        return None if self.before is None else self.before.decode("utf-8")

    @property
    def after_text(self) -> str | None:
        """The new content as text, or None if the patch deletes the file."""
        return None if self.after is None else self.after.decode("utf-8")

    @property
    def created(self) -> bool:
        """True if the file does not exist yet."""
        return self.before is None

    @property
    def deleted(self) -> bool:
        """True if the patch deletes the file."""
        return self.after is None


@dataclass(frozen=True, slots=True)
class Edit:
    """One str_replace edit: ``old_str`` must occur exactly once; ``""`` creates the file."""

    path: str
    old_str: str
    new_str: str


@dataclass(frozen=True, slots=True)
class _Write:
    path: str
    content: bytes | None


@dataclass(frozen=True, slots=True)
class _Link:
    """A symlink the patch creates, changes or removes: carried to the planner as a rejection."""

    path: str
    content: bytes | None


_Operation = FileDiff | _Write | Edit | _Link
# git's extended header lines that make a path a symlink on either side
_LINK_MODE = re.compile(r"^(?:new file|deleted file|old|new) mode 120000[ \t]*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Patch:
    """A proposed change, validated as far as it can be without the tree. Build it with a ``from_*``."""

    _operations: tuple[_Operation, ...]
    # What intake measured and checked; resolve() checks the touched files against the same limits.
    _size: int = field(default=0, compare=False)
    _lines: int = field(default=0, compare=False)
    _limits: PatchLimits = field(default=_DEFAULT_LIMITS, compare=False)

    @classmethod
    def from_diff(cls, text: str, *, name: str = "<diff>", limits: PatchLimits | None = None) -> Patch:
        """A unified diff as ``git diff`` (any prefix style, renames) or ``diff -u`` writes it."""
        if not isinstance(text, str):
            raise PatchError(f"a diff must be text, got {type(text).__name__}", path=name)
        limits = limits or _DEFAULT_LIMITS
        size, lines = _byte_length(text), _diff_lines(text)
        limits.check_patch(size, lines, name)
        text, links = _split_links(text, name)
        return cls((*(parse_diff(text, name=name) if text or not links else ()), *links), size, lines, limits)

    @classmethod
    def from_files(cls, files: Mapping[str, str | bytes | None], *, limits: PatchLimits | None = None) -> Patch:
        """New contents by path (text or bytes); ``None`` deletes the file."""
        if not isinstance(files, Mapping) or not files:
            raise PatchError("from_files needs a non-empty mapping {path: text, bytes or None}",
                             path="<files>")
        limits = limits or _DEFAULT_LIMITS
        writes = [_write(raw, content, limits) for raw, content in files.items()]
        _check_unique(write.path for write in writes)
        contents = [write.content for write in writes if write.content is not None]
        size, lines = sum(map(len, contents)), sum(_line_count(content) for content in contents)
        limits.check_patch(size, lines, "<files>")
        return cls(tuple(writes), size, lines, limits)

    @classmethod
    def from_edits(cls, edits: Iterable[Edit | Mapping[str, str]], *, limits: PatchLimits | None = None) -> Patch:
        """str_replace edits, applied in order; several may edit the same file."""
        if isinstance(edits, (str, bytes, Mapping)) or not isinstance(edits, Iterable):
            raise PatchError("from_edits needs a list of edits {path, old_str, new_str}",
                             path="<edits>")
        checked = tuple(_edit(edit, number) for number, edit in enumerate(edits, 1))
        if not checked:
            raise PatchError("the list of edits is empty; give at least one edit", path="<edits>")
        limits = limits or _DEFAULT_LIMITS
        texts = [text for edit in checked for text in (edit.old_str, edit.new_str)]
        size, lines = sum(map(_byte_length, texts)), sum(_line_count(text) for text in texts)
        limits.check_patch(size, lines, "<edits>")
        return cls(checked, size, lines, limits)

    @classmethod
    def load(cls, data: str | bytes, *, name: str = "<patch>", limits: PatchLimits | None = None) -> Patch:
        """Read a patch file: a unified diff, or one of the JSON forms ``from_files``/``from_edits`` take.

        ``limits`` (default: ``PatchLimits()``) are checked on the raw bytes before anything is parsed.
        """
        limits = limits or _DEFAULT_LIMITS
        if isinstance(data, (str, bytes)):
            limits.check_patch(_byte_length(data), _diff_lines(data), name)
        text = _decode(data, name).removeprefix("\ufeff")
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            if text.lstrip().startswith(("{", "[")):
                raise PatchError(f"invalid JSON at line {exc.lineno} column {exc.colno}: "
                                 f"{exc.msg}; " + _FORMS, path=name) from None
            try:
                return cls.from_diff(text, name=name, limits=limits)
            except NotADiffError as error:
                raise PatchError(f"{error.reason}; or {_FORMS}", path=name) from None
        return cls._from_json(value, name, limits)

    @classmethod
    def _from_json(cls, value: object, name: str, limits: PatchLimits) -> Patch:
        if isinstance(value, list):
            return cls.from_edits(value, limits=limits)
        if isinstance(value, dict) and value.keys() == {"files"} and isinstance(value["files"], dict):
            return cls.from_files(value["files"], limits=limits)
        if isinstance(value, dict) and value.keys() == {"edits"} and isinstance(value["edits"], list):
            return cls.from_edits(value["edits"], limits=limits)
        if isinstance(value, dict) and value and not value.keys() & {"files", "edits"} and all(
                content is None or isinstance(content, str) for content in value.values()):
            return cls.from_files(value, limits=limits)
        raise PatchError("this is not a patch form the sandbox accepts; " + _FORMS, path=name)

    @property
    def paths(self) -> tuple[str, ...]:
        """Every path the patch names (both sides of renames and copies), sorted."""
        return tuple(sorted({path for op in self._operations for path in _paths_of(op)}))

    @property
    def digest(self) -> str:
        """SHA-256 (hex) of a canonical serialisation: equal patches have equal digests."""
        canonical = json.dumps([_canonical(op) for op in self._operations],
                               sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(canonical.encode("ascii")).hexdigest()

    def resolve(self, root: str | os.PathLike[str], *, limits: PatchLimits | None = None) -> tuple[FileChange, ...]:
        """Apply the patch in memory to the files under ``root``; return the changes sorted by path.

        Reads only; never writes. Raises PatchError if the patch does not apply or
        changes nothing, PatchLimitError if it, or a file it touches, is over ``limits``
        (default: the limits the patch was built with).
        """
        if not os.path.isdir(root):
            raise PatchError("the repository root is not a directory", path=os.fspath(root))
        limits = limits or self._limits
        if limits is not self._limits:
            limits.check_patch(self._size, self._lines, "the patch")
        tree = _Tree(root, limits, self._lines)
        for number, op in enumerate(self._operations, 1):
            _apply(tree, op, number)
        changes = tree.changes()
        if not changes:
            raise PatchError("the patch changes nothing: every file it names already has the "
                             "content it asks for", path=", ".join(self.paths))
        return changes


def _decode(data: str | bytes, name: str) -> str:
    if isinstance(data, str):
        return data
    if not isinstance(data, bytes):
        raise PatchError(f"a patch must be text or bytes, got {type(data).__name__}", path=name)
    return check_text(data, name, what="the patch file")


def _diff_lines(text: str | bytes) -> int:
    """The lines starting with ``+`` or ``-``: an upper bound of a diff's changed lines, cheap to count."""
    plus, minus, newline = ("+", "-", "\n") if isinstance(text, str) else (b"+", b"-", b"\n")
    return text.startswith((plus, minus)) + text.count(newline + plus) + text.count(newline + minus)


def _line_count(content: str | bytes) -> int:
    newline = "\n" if isinstance(content, str) else b"\n"
    return content.count(newline) + (bool(content) and not content.endswith(newline))


def _byte_length(text: str | bytes) -> int:
    # surrogatepass: a lone surrogate is refused later, with its own message; here it only has a size
    return len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))


def _write(raw: object, content: object, limits: PatchLimits) -> _Write:
    path = normalise_path(raw)
    if content is None:
        return _Write(path, None)
    if isinstance(content, str):
        content = _encode(content, path)
    if not isinstance(content, bytes):
        raise PatchError(f"new content must be str, bytes or None, got {type(content).__name__}",
                         path=path)
    limits.check_file(path, len(content), "the new content")
    check_text(content, path, what="the new content")
    return _Write(path, content)


def _encode(text: str, path: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise PatchError("the new content contains lone surrogates and cannot be written as "
                         "UTF-8", path=path) from None


def _check_unique(paths: Iterable[str]) -> None:
    seen: set[str] = set()
    for path in paths:
        if path in seen:
            raise PatchError("the patch names this file twice (after normalising the path); "
                             "give each file once", path=path)
        seen.add(path)


def _edit(edit: object, number: int) -> Edit:
    if isinstance(edit, Mapping):
        where = str(edit.get("path", f"<edit {number}>"))
        if edit.get("command", "str_replace") != "str_replace" or not _EDIT_KEYS <= set(edit) \
                or set(edit) - _EDIT_KEYS - {"command"}:
            raise PatchError(f"edit {number} must have exactly the keys path, old_str and new_str "
                             f"(got {sorted(edit)})", path=where)
        edit = Edit(edit["path"], edit["old_str"], edit["new_str"])
    if not isinstance(edit, Edit):
        raise PatchError(f"edit {number} must be an Edit or a mapping with path, old_str and "
                         f"new_str, got {type(edit).__name__}", path=f"<edit {number}>")
    path = normalise_path(edit.path)
    if not isinstance(edit.old_str, str) or not isinstance(edit.new_str, str):
        raise PatchError(f"edit {number}: old_str and new_str must be strings", path=path)
    check_text(_encode(edit.new_str, path), path, what=f"new_str of edit {number}")
    return Edit(path, edit.old_str, edit.new_str)


def _split_links(text: str, name: str) -> tuple[str, list[_Link]]:
    """Take the sections of a git diff that make or change a symlink out of the diff."""
    if not _LINK_MODE.search(text):
        return text, []
    kept, links = [], []
    for section in re.split(r"(?m)^(?=diff --git )", text):
        if section.startswith("diff --git ") and _LINK_MODE.search(section):
            links += _link_ops(section, name)
        else:
            kept.append(section)
    rest = "".join(kept)
    # What is left may be only a preamble (a commit message): no file headers, nothing to parse.
    return (rest if re.search(r"(?m)^(?:---|\+\+\+|diff) ", rest) else ""), links


def _link_ops(section: str, name: str) -> list[_Link]:
    # Parsed as a regular file, so its paths get the same checks (no `..`, no absolute path).
    as_file = _LINK_MODE.sub(lambda match: match.group(0).replace("120000", "100644"), section)
    links = []
    for diff in parse_diff(as_file, name=name):
        after = None
        if diff.new_path is not None:
            after = _encode("".join(line for hunk in diff.hunks for line in hunk.new), diff.new_path)
        paths = sorted({path for path in (diff.old_path, diff.new_path) if path is not None})
        links += [_Link(path, after if path == diff.new_path else None) for path in paths]
    return links


def _paths_of(op: _Operation) -> set[str]:
    if isinstance(op, FileDiff):
        return {path for path in (op.old_path, op.new_path) if path is not None}
    return {op.path}


def _canonical(op: _Operation) -> dict[str, object]:
    if isinstance(op, FileDiff):
        hunks = [[hunk.start, list(hunk.old), list(hunk.new)] for hunk in op.hunks]
        return {"diff": {"old": op.old_path, "new": op.new_path, "copy": op.copy, "hunks": hunks}}
    if isinstance(op, (_Write, _Link)):
        content = None if op.content is None else hashlib.sha256(op.content).hexdigest()
        return {"write" if isinstance(op, _Write) else "link": {"path": op.path, "sha256": content}}
    return {"edit": {"path": op.path, "old_str": op.old_str, "new_str": op.new_str}}


class _Tree:
    """The files a patch touches: their bytes on disk, and their content as the patch leaves them.

    The new content is kept as text while operations apply, and encoded once at the end: many
    edits to one file then cost one pass over the file each, not four.
    """

    def __init__(self, root: str | os.PathLike[str], limits: PatchLimits = _DEFAULT_LIMITS,
                 lines: int = 0) -> None:
        self._root = root
        self._limits = limits
        self._lines = lines
        self._scanned = 0
        self._before: dict[str, bytes | None] = {}
        self._after: dict[str, str | None] = {}
        self._renamed: dict[str, str] = {}
        self._links: set[str] = set()

    def text(self, path: str) -> str | None:
        """The file's text as earlier operations left it; None if it does not exist.

        A path that is itself a symlink reads as the link's target, and the change
        becomes a symlink change (a rejection, not an error); a path through a
        symlinked directory stays an error.
        """
        if path not in self._before:
            before = _leaf_link(self._root, path)
            if before is not None:
                self._links.add(path)
            else:
                self._limits.check_file(path, _size_on_disk(self._root, path), "the current file")
                before = read_current(self._root, path)
            decoded = None if before is None else check_text(before, path, what="the current file")
            self._before[path], self._after[path] = before, decoded
        return self._after[path]

    def set(self, path: str, text: str | bytes | None, *, renamed_from: str | None = None) -> None:
        """Record the file's new content (None: deleted); checked for NUL bytes and encoding at the end."""
        self.text(path)
        self._after[path] = text.decode("utf-8") if isinstance(text, bytes) else text
        if renamed_from is not None:
            self._renamed[path] = renamed_from

    def count_scan(self, edit: Edit, number: int, text: str) -> None:
        """Charge an edit's search of its whole file to the patch's scan budget."""
        self._scanned += len(text)
        budget = _EDIT_SCAN_FACTOR * self._limits.max_patch_bytes
        if self._scanned > budget:
            raise PatchLimitError(
                f"edit {number}: the edits so far search {self._scanned:,} bytes of file text (each edit "
                f"reads its whole file), over {_EDIT_SCAN_FACTOR} x max_patch_bytes = {budget:,}; for a change "
                "this large send a unified diff or {\"files\": {path: new text}}, or raise max_patch_bytes "
                "in pyproject.toml [tool.sandbox]",
                limit="max_patch_bytes", size=self._scanned, maximum=budget, path=edit.path)

    def count_whole(self, text: str) -> None:
        """A file deleted by name, renamed or copied changes all its lines, though the patch does not list them."""
        self._lines += _line_count(text)
        self._limits.check_patch(0, self._lines, "the patch (with the files it deletes, renames or copies)")

    def is_link(self, path: str) -> bool:
        """True if the patch touches ``path`` as a symlink (in the tree, or made by the patch)."""
        return path in self._links

    def link(self, path: str, content: bytes | None) -> None:
        """Record that the patch makes, changes or removes the symlink ``path``."""
        self.set(path, content)
        self._links.add(path)

    def changes(self) -> tuple[FileChange, ...]:
        """Every file whose content changes (and every symlink the patch touches), sorted by path."""
        found = []
        for path in sorted(self._before):
            after = self._content(path)
            if self._before[path] != after or path in self._links:
                found.append(FileChange(path, self._before[path], after, self._renamed.get(path),
                                        symlink=path in self._links))
        return tuple(found)

    def _content(self, path: str) -> bytes | None:
        text = self._after[path]
        if text is None:
            return None
        content = _encode(text, path)
        if path not in self._links:
            self._limits.check_file(path, len(content), "the new content")
        check_text(content, path, what="the new content")
        return content


def _size_on_disk(root: str | os.PathLike[str], path: str) -> int:
    """The size of ``root/path`` before reading it (0 when absent; read_current refuses odd kinds)."""
    try:
        return os.lstat(os.path.join(root, path)).st_size
    except OSError:
        return 0


def _leaf_link(root: str | os.PathLike[str], path: str) -> bytes | None:
    """The target of ``root/path`` when the path itself (not a directory on the way) is a symlink."""
    current = os.fspath(root)
    parts = path.split("/")
    for depth, part in enumerate(parts, 1):
        current = os.path.join(current, part)
        try:
            mode = os.lstat(current).st_mode
        except OSError:
            return None
        if stat.S_ISLNK(mode):
            return os.readlink(current).encode("utf-8", "backslashreplace") if depth == len(parts) else None
        if depth < len(parts) and not stat.S_ISDIR(mode):
            return None
    return None


def _apply(tree: _Tree, op: _Operation, number: int) -> None:
    if isinstance(op, FileDiff):
        _apply_diff(tree, op)
    elif isinstance(op, _Link):
        tree.link(op.path, op.content)
    elif isinstance(op, _Write):
        if op.content is None:
            tree.count_whole(_require(tree, op.path, "cannot delete it"))
        tree.set(op.path, op.content)
    else:
        _apply_edit(tree, op, number)


def _require(tree: _Tree, path: str, doing: str) -> str:
    text = tree.text(path)
    if text is None:
        raise PatchError(f"the file does not exist, so the patch {doing}; check the path "
                         "against the repository", path=path)
    return text


def _refuse_existing(tree: _Tree, path: str, fix: str) -> None:
    if tree.text(path) is not None:
        raise PatchError(f"the patch creates this file, but it already exists; {fix}", path=path)


def _apply_diff(tree: _Tree, diff: FileDiff) -> None:
    if diff.old_path is None:
        _refuse_existing(tree, diff.label, "diff against the current file instead")
        tree.set(diff.label, apply_hunks("", diff.hunks, path=diff.label))
        return
    text = _require(tree, diff.old_path, "cannot apply to it")
    if tree.is_link(diff.old_path):  # the hunks are against a link's target, not a file's text
        tree.link(diff.old_path, None if diff.new_path is None else text.encode("utf-8"))
        return
    result = apply_hunks(text, diff.hunks, path=diff.old_path)
    if diff.new_path is None:
        if result:
            raise PatchError("the patch deletes this file, but its content differs from what the "
                             "deletion lists; regenerate the diff against the current tree",
                             path=diff.old_path)
        tree.set(diff.old_path, None)
        return
    if diff.new_path != diff.old_path:
        _refuse_existing(tree, diff.new_path, "choose a new name or delete that file first")
        tree.count_whole(result)
        if not diff.copy:
            tree.set(diff.old_path, None)
    renamed_from = diff.old_path if diff.new_path != diff.old_path and not diff.copy else None
    tree.set(diff.new_path, result, renamed_from=renamed_from)


def _apply_edit(tree: _Tree, edit: Edit, number: int) -> None:
    if edit.old_str == "":
        _refuse_existing(tree, edit.path, f"give the text to replace in old_str of edit {number}")
        tree.set(edit.path, edit.new_str)
        return
    text = _require(tree, edit.path, f"cannot apply edit {number} (an empty old_str creates a file)")
    if tree.is_link(edit.path):
        tree.link(edit.path, _encode(edit.new_str, edit.path))
        return
    tree.count_scan(edit, number, text)
    starts = _occurrences(text, edit.old_str, at_most=2)
    if len(starts) != 1:
        raise PatchError(f"edit {number}: " + _count_problem(text, edit.old_str, _occurrences(text, edit.old_str)),
                         path=edit.path)
    index = starts[0]
    tree.set(edit.path, text[:index] + edit.new_str + text[index + len(edit.old_str):])


def _occurrences(text: str, needle: str, at_most: int | None = None) -> list[int]:
    found, index = [], text.find(needle)
    while index != -1 and len(found) != at_most:
        found.append(index)
        index = text.find(needle, index + 1)
    return found


def _count_problem(text: str, needle: str, starts: list[int]) -> str:
    if not starts:
        crlf = " (the file has CRLF line endings)" if "\r\n" in text and "\r\n" not in needle else ""
        return (f"old_str {_preview(needle)} not found in the current file{crlf}; copy it exactly, "
                "including whitespace, from the file as earlier edits left it")
    lines = ", ".join(str(text.count("\n", 0, start) + 1) for start in starts)
    return (f"old_str {_preview(needle)} occurs {len(starts)} times (at lines {lines}); it must "
            "occur exactly once, so include more surrounding lines in old_str")


def _preview(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")
