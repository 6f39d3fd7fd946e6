"""The tamper-evident ledger: an append-only, hash-chained record of verdicts and applies.

``ledger.jsonl`` holds one canonical JSON object per line (sorted keys, no spaces, ASCII).  Each
entry's ``hash`` is the sha256 of the canonical JSON of the entry without ``hash``; its ``prev`` is
the hash of the entry before it (64 zeros for the first); ``seq`` counts from 0.  ``ledger.head``
holds the entry count and the last hash, so a cut-off tail is noticed too.

What this does *not* protect against on its own: anyone who can write ``.sandbox/`` can rewrite
both files consistently (recompute every hash and the head), or delete them, and the chain will
verify.  The chain only makes tampering *evident* relative to an anchor kept elsewhere: in a git
repository ``sandbox apply`` writes the head as a git note (see ``sandbox._git``); anywhere, the
head hash printed after every append can be kept (CI logs, a ticket) and passed back as
``verify(expect_head=...)``.  ``verify(anchors=...)`` checks that the ledger still holds, at the
anchored position, the entry each anchor recorded: entries appended since are fine, a ledger that
is shorter or different there is not.  With no anchor, ``LedgerCheck.anchored`` is empty and a
deleted or cut ledger cannot be told from a young one -- the CLI says "unanchored", not "intact".
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sandbox._errors import GateError

__all__ = ["GENESIS", "Anchor", "Ledger", "LedgerCheck", "LedgerEntry", "canonical", "entry_hash"]

GENESIS = "0" * 64
_FIELDS = {"seq": int, "time": str, "kind": str, "record": dict, "prev": str, "hash": str}


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One line of the ledger."""

    seq: int
    time: str
    kind: str
    record: Mapping[str, Any]
    prev: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        """The entry as the plain dict that is written (``hash`` included)."""
        return {"seq": self.seq, "time": self.time, "kind": self.kind,
                "record": self.record, "prev": self.prev, "hash": self.hash}


@dataclass(frozen=True, slots=True)
class Anchor:
    """A ledger head recorded outside the ledger: ``count`` entries, the last one hashing to ``head``;
    ``where`` says where it was kept (shown in messages)."""

    count: int
    head: str
    where: str


@dataclass(frozen=True, slots=True)
class LedgerCheck:
    """The result of ``Ledger.verify()``: ``ok`` only when ``problems`` is empty.

    ``anchored`` names the anchors the ledger was checked against; empty means nothing outside
    the ledger vouched for it (``ok`` then only says the chain is self-consistent).
    """

    ok: bool
    count: int
    head: str
    problems: tuple[str, ...]
    anchored: tuple[str, ...] = ()


def canonical(value: Any) -> bytes:
    """The canonical JSON bytes of ``value``: sorted keys, no spaces, ASCII, no NaN."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False).encode("ascii")


def entry_hash(entry: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of ``entry`` without its ``hash`` field."""
    body = {key: value for key, value in entry.items() if key != "hash"}
    return hashlib.sha256(canonical(body)).hexdigest()


class Ledger:
    """The ledger stored in ``directory`` (e.g. ``<repo>/.sandbox``)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / "ledger.jsonl"
        self.head_path = self.directory / "ledger.head"

    @property
    def head(self) -> str:
        """The hash of the last entry (``GENESIS`` when the ledger is empty)."""
        lines = self._lines()
        if not lines:
            return GENESIS
        obj, problem = _parse(lines[-1])
        if obj is None:
            raise GateError(f"{self.path}: the last line {problem}; run `sandbox log --verify`")
        return obj["hash"]

    def tip(self) -> tuple[int, str]:
        """The entry count and the last hash, read from the last line (``(0, GENESIS)`` if empty)."""
        lines = self._lines()
        if not lines:
            return 0, GENESIS
        obj, problem = _parse(lines[-1])
        if obj is None:
            raise GateError(f"{self.path}: the last line {problem}; run `sandbox log --verify`")
        return obj["seq"] + 1, obj["hash"]

    def append(self, kind: str, record: Mapping[str, Any]) -> LedgerEntry:
        """Append one entry, fsync it, update ``ledger.head``, and return it."""
        if not isinstance(kind, str) or not kind:
            raise TypeError(f"ledger kind must be a non-empty str, got {kind!r}")
        if not isinstance(record, Mapping):
            raise TypeError(f"ledger record must be a mapping, got {type(record).__name__}")
        record = _plain(record, "record")
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._open_locked(os.O_WRONLY | os.O_APPEND | os.O_CREAT, fcntl.LOCK_EX) as fd:
            seq, prev = self._tail_for_append()
            body = {"seq": seq, "time": _now(), "kind": kind, "record": record, "prev": prev}
            entry = LedgerEntry(**body, hash=entry_hash(body))
            _write_all(fd, canonical(entry.to_json()) + b"\n")
            os.fsync(fd)
            if seq == 0:
                _fsync_dir(self.directory)
            self._write_head(seq + 1, entry.hash)
        return entry

    def entries(self) -> tuple[LedgerEntry, ...]:
        """Every entry in order; raises ``GateError`` on a line that is not a ledger entry."""
        result = []
        for number, line in enumerate(self._lines(), 1):
            obj, problem = _parse(line)
            if obj is None:
                raise GateError(f"{self.path}:{number}: {problem}; run `sandbox log --verify`")
            result.append(LedgerEntry(**obj))
        return tuple(result)

    def verify(self, expect_head: str | None = None, anchors: Sequence[Anchor] = ()) -> LedgerCheck:
        """Check the chain, the head file, the externally kept head hash and the anchors."""
        if not self.path.exists():
            problems = [] if not self.head_path.exists() else [
                f"{self.path.name} is missing but {self.head_path.name} exists: the ledger was deleted"]
            hashes: list[str] = []
            count, head = 0, GENESIS
        else:
            with self._open_locked(os.O_RDONLY, fcntl.LOCK_SH):
                data, head_text = self.path.read_bytes(), _read_text(self.head_path)
            problems, hashes = _check_chain(data)
            count, head = len(hashes), (hashes[-1] if hashes else GENESIS)
            problems += _check_head_file(head_text, count, head)
        problems += _check_anchors(anchors, hashes, self.path)
        return _finish(problems, count, head, expect_head, tuple(a.where for a in anchors))

    # ------------------------------------------------------------------------------ internals

    def _lines(self) -> list[bytes]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        return data.splitlines()

    def _tail_for_append(self) -> tuple[int, str]:
        data = self.path.read_bytes()
        if not data:
            if _head_values(_read_text(self.head_path))[0]:
                raise GateError(f"{self.path} is empty but {self.head_path.name} records entries: the "
                                "ledger was emptied; refusing to start a new chain over it. Restore it "
                                "from a backup, or move both files aside to start afresh.")
            return 0, GENESIS
        if not data.endswith(b"\n"):
            raise GateError(f"{self.path} ends with an incomplete line (an interrupted write or a "
                            "cut); refusing to append. Run `sandbox log --verify` and repair it.")
        obj, problem = _parse(data.splitlines()[-1])
        if obj is None:
            raise GateError(f"{self.path}: the last line {problem}; refusing to append. "
                            "Run `sandbox log --verify`.")
        count, head = _head_values(_read_text(self.head_path))
        recorded = (count, head)
        if recorded not in ((obj["seq"] + 1, obj["hash"]), (obj["seq"], obj["prev"])):
            raise GateError(f"{self.path} does not end where {self.head_path.name} says "
                            f"(head file: {recorded}, last entry: seq {obj['seq']}); refusing to "
                            "append. Run `sandbox log --verify`.")
        return obj["seq"] + 1, obj["hash"]

    def _write_head(self, count: int, head: str) -> None:
        temp = self.head_path.with_name(self.head_path.name + ".tmp")
        with open(temp, "wb") as handle:
            handle.write(canonical({"count": count, "head": head}) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, self.head_path)
        _fsync_dir(self.directory)

    @contextlib.contextmanager
    def _open_locked(self, flags: int, lock: int) -> Iterator[int]:
        fd = os.open(self.path, flags, 0o644)
        try:
            fcntl.flock(fd, lock)
            yield fd
        finally:
            os.close(fd)


# ---------------------------------------------------------------------------------- checking


def _check_chain(data: bytes) -> tuple[list[str], list[str]]:
    """Problems of the chain, and the hash of each entry in file order."""
    problems: list[str] = []
    lines = data.split(b"\n")
    if lines[-1]:
        problems.append(f"line {len(lines)}: incomplete last line (no newline): "
                        "an append was interrupted or the file was cut")
    expected_seq: int | None = 0
    prev: str | None = GENESIS
    hashes: list[str] = []
    for number, line in enumerate(lines[:-1], 1):
        obj, problem = _parse(line)
        if obj is None:
            problems.append(f"line {number}: {problem}")
            expected_seq = prev = None
            continue
        problems += _check_entry(obj, number, expected_seq, prev)
        expected_seq, prev = obj["seq"] + 1, obj["hash"]
        hashes.append(prev)
    return problems, hashes


def _check_entry(obj: dict[str, Any], number: int, expected_seq: int | None,
                 prev: str | None) -> list[str]:
    where = f"entry {obj['seq']} (line {number})"
    problems = []
    if entry_hash(obj) != obj["hash"]:
        problems.append(f"{where}: hash mismatch, its content was edited after it was written")
    if expected_seq is not None and obj["seq"] != expected_seq:
        problems.append(f"{where}: seq is {obj['seq']}, expected {expected_seq}: "
                        "entries were removed, inserted or reordered")
    if prev is not None and obj["prev"] != prev:
        problems.append(f"{where}: prev does not match the hash of the entry before it: "
                        "entries were removed, inserted or reordered")
    return problems


def _check_head_file(text: str | None, count: int, head: str) -> list[str]:
    if text is None:
        return ["ledger.head is missing, so a cut-off tail cannot be ruled out"] if count else []
    try:
        recorded_count, recorded_head = _head_values(text)
    except GateError as exc:
        return [str(exc)]
    if (recorded_count, recorded_head) != (count, head):
        return [f"ledger.head records {recorded_count} entries ending in {recorded_head[:16]}…, but "
                f"ledger.jsonl has {count} ending in {head[:16]}…: entries were cut from the end, "
                "or an append was interrupted before the head was updated"]
    return []


def _check_anchors(anchors: Sequence[Anchor], hashes: list[str], path: Path) -> list[str]:
    problems = []
    for anchor in anchors:
        if anchor.count > len(hashes):
            what = "is missing" if not path.exists() else f"has {len(hashes)} entries"
            problems.append(f"{path} {what}, but {anchor.where} records {anchor.count} entries ending in "
                            f"{anchor.head[:16]}…: the ledger was deleted, or entries were cut from its end "
                            "(and its head file rewritten). Restore .sandbox/ from a backup")
        elif anchor.count and hashes[anchor.count - 1] != anchor.head:
            problems.append(f"entry {anchor.count - 1} of {path} hashes to {hashes[anchor.count - 1][:16]}…, but "
                            f"{anchor.where} records {anchor.head[:16]}… there: the ledger was rewritten "
                            "up to that entry")
    return problems


def _finish(problems: list[str], count: int, head: str, expect_head: str | None,
            anchored: tuple[str, ...] = ()) -> LedgerCheck:
    if expect_head is not None:
        anchored += ("the head hash passed with --expect-head",)
        if head != expect_head:
            problems.append(f"head is {head}, expected {expect_head}: the ledger was rewritten, or "
                            "this is not the ledger whose head you recorded")
    return LedgerCheck(not problems, count, head, tuple(problems), anchored)


def _parse(line: bytes) -> tuple[dict[str, Any] | None, str]:
    try:
        obj = json.loads(line)
    except ValueError:
        return None, "is not valid JSON"
    if not isinstance(obj, dict) or set(obj) != set(_FIELDS):
        return None, f"is not a ledger entry (fields must be exactly {sorted(_FIELDS)})"
    for name, kind in _FIELDS.items():
        if not isinstance(obj[name], kind) or isinstance(obj[name], bool):
            return None, f"field {name!r} is not a {kind.__name__}"
    if canonical(obj) != line:
        return None, f"entry {obj['seq']} is not in canonical form: the line was edited"
    return obj, ""


def _head_values(text: str | None) -> tuple[int, str]:
    if text is None:
        return 0, GENESIS
    try:
        data = json.loads(text)
        return int(data["count"]), str(data["head"])
    except (ValueError, KeyError, TypeError) as exc:
        raise GateError(f"ledger.head is unreadable ({exc})") from exc


# ---------------------------------------------------------------------------------- helpers


def _plain(value: Any, where: str) -> Any:
    """``value`` as plain JSON data, or a TypeError naming the offending part."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError(f"{where} is {value!r}, which JSON cannot represent; store it as a string")
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(item, f"{where}[{index}]") for index, item in enumerate(value)]
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"{where} has a key {key!r} of type {type(key).__name__}; "
                                "ledger record keys must be str")
        return {key: _plain(item, f"{where}[{key!r}]") for key, item in value.items()}
    raise TypeError(f"{where} is a {type(value).__name__}, which is not JSON-serialisable; convert "
                    "it first (e.g. bytes -> .hex(), Path -> str, dataclass -> to_json())")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
