"""Atomic multi-file apply with a crash-safe journal.

One transaction, under an exclusive ``flock`` on ``state_dir/lock``:

1. every touched path must still hold the bytes that were verified (else ``StaleTreeError``);
2. the journal is written (state ``preparing``), naming every target, staged file, backup and
   new directory, before anything else is touched;
3. each new content is staged beside its target (same filesystem, so the rename is atomic) and
   each original is backed up into the journal directory; everything is fsynced;
4. the journal is marked ``prepared``: from here on the transaction is decided and will complete;
5. staged files are renamed over their targets, deleted files unlinked, directories fsynced;
6. the journal is marked ``committed`` and removed.

Recovery after a kill: ``preparing`` rolls back (no target was touched); ``prepared`` rolls
forward, or back from the backups if a staged file is missing or corrupt; ``rolling-back`` rolls
back; ``committed`` only cleans up.  Every step is idempotent, so a crash during recovery is
recovered by the next run.  An exception inside the apply rolls back in-process.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import stat
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from sandbox._errors import ApplyError, StaleTreeError

__all__ = ["FileWrite", "apply_atomically", "pending", "recover", "sha256"]

NEW_FILE_MODE = 0o644
_JOURNAL = "journal.json"
_NOT_A_FILE = "<not a regular file>"

Hook = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class FileWrite:
    """One verified change: ``path`` goes from ``before_sha256`` (None = absent) to ``after``
    (None = delete)."""

    path: str
    before_sha256: str | None
    after: bytes | None


def sha256(data: bytes) -> str:
    """Hex sha256 of ``data``: the content hash used by certificates, journals and the ledger."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class _Entry:
    path: str
    before: str | None
    after: str | None
    mode: int
    stage: str | None
    backup: str | None


@dataclass(slots=True)
class _Tx:
    directory: Path
    txid: str
    entries: list[_Entry]
    created_dirs: list[str]
    state: str = "new"
    written: bool = False


def _no_hook(step: str) -> None:
    del step


# ---------------------------------------------------------------------------------- public API


def apply_atomically(root: Path, writes: Sequence[FileWrite], *, state_dir: Path,
                     _hook: Hook | None = None) -> None:
    """Write ``writes`` to ``root`` all-or-nothing; raise ``StaleTreeError`` if the tree moved.

    A pending journal from an interrupted apply is recovered first.  On any exception the tree
    is rolled back to exactly its previous bytes and ``ApplyError`` is raised with the cause.
    """
    root, state_dir = Path(root).absolute(), Path(state_dir).absolute()
    with _locked(state_dir):
        _recover_locked(root, state_dir, _no_hook)
        tx, contents = _plan(root, state_dir, writes)
        if not tx.entries:
            return
        steps: list[str] = []

        def hook(step: str) -> None:
            steps.append(step)
            (_hook or _no_hook)(step)

        try:
            _execute(root, tx, contents, hook)
        except BaseException as exc:
            _abort(root, tx, exc, steps[-1] if steps else "start", hook)
            raise
        with contextlib.suppress(OSError):
            _discard(tx)  # committed: a leftover journal is only cleaned up by the next recover()


def pending(state_dir: Path) -> bool:
    """True when an interrupted apply left a journal that ``recover()`` must resolve."""
    journals = Path(state_dir) / "journal"
    return journals.is_dir() and any((d / _JOURNAL).is_file() for d in journals.iterdir())


def recover(root: Path, state_dir: Path, *, _hook: Hook | None = None) -> str | None:
    """Resolve any interrupted apply: ``"rolled forward"``, ``"rolled back"``, or None if none."""
    root, state_dir = Path(root).absolute(), Path(state_dir).absolute()
    if not (state_dir / "journal").is_dir():
        return None  # nothing was ever journalled; do not create the state directory to say so
    with _locked(state_dir):
        return _recover_locked(root, state_dir, _hook or _no_hook)


# ---------------------------------------------------------------------------------- planning


def _plan(root: Path, state_dir: Path, writes: Sequence[FileWrite]) -> tuple[_Tx, dict[str, bytes]]:
    txid = uuid.uuid4().hex
    entries, contents, stale, created = [], {}, [], []
    seen: set[str] = set()
    for write in writes:
        target = _target(root, state_dir, write.path, seen)
        _check_parents(root, target, write, created)
        current, mode = _read_current(target, write.path)
        if (None if current is None else sha256(current)) != write.before_sha256:
            stale.append(_stale_reason(write, current))
            continue
        if current is not None:
            contents["backup:" + write.path] = current
        if write.after is not None:
            contents[write.path] = write.after
        entries.append(_Entry(
            path=write.path, before=write.before_sha256,
            after=None if write.after is None else sha256(write.after),
            mode=NEW_FILE_MODE if mode is None else mode,
            stage=None if write.after is None else f".{target.name}.{txid[:16]}.stage",
            backup=None if current is None else f"backup-{len(entries)}"))
    if stale:
        raise StaleTreeError(
            f"{len(stale)} file(s) changed since the check: " + "; ".join(stale)
            + ". Nothing was written; re-run the check on the current tree and apply its new verdict.")
    return _Tx(state_dir / "journal" / txid, txid, entries, created), contents


def _target(root: Path, state_dir: Path, rel: str, seen: set[str]) -> Path:
    parts = rel.split("/")
    if not rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ApplyError(f"{rel!r}: not a normalised repository-relative POSIX path; refusing to write it")
    if rel in seen:
        raise ApplyError(f"{rel}: listed twice in one apply; merge the two writes into one")
    seen.add(rel)
    target = root.joinpath(*parts)
    if target == state_dir or state_dir in target.parents:
        raise ApplyError(f"{rel}: inside the sandbox state directory {state_dir}; it is never written by an apply")
    return target


def _check_parents(root: Path, target: Path, write: FileWrite, created: list[str]) -> None:
    for parent in reversed(target.relative_to(root).parents[:-1]):
        try:
            st = os.lstat(root / parent)
        except FileNotFoundError:
            if write.after is not None and parent.as_posix() not in created:
                created.append(parent.as_posix())
            continue
        if stat.S_ISLNK(st.st_mode):
            raise ApplyError(f"{write.path}: its directory {parent.as_posix()} is a symbolic link; "
                             "refusing to write through it (replace the link by a directory)")
        if not stat.S_ISDIR(st.st_mode):
            raise ApplyError(f"{write.path}: {parent.as_posix()} is not a directory")


def _read_current(target: Path, rel: str) -> tuple[bytes | None, int | None]:
    try:
        st = os.lstat(target)
    except (FileNotFoundError, NotADirectoryError):
        return None, None
    if stat.S_ISLNK(st.st_mode):
        raise ApplyError(f"{rel}: is a symbolic link; refusing to write through it. "
                         "Replace it by a regular file, then re-run the check.")
    if not stat.S_ISREG(st.st_mode):
        raise ApplyError(f"{rel}: is a directory or special file, not a regular file; refusing to replace it")
    fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as handle:
        return handle.read(), stat.S_IMODE(st.st_mode)


def _stale_reason(write: FileWrite, current: bytes | None) -> str:
    expected = "absent" if write.before_sha256 is None else f"sha256 {write.before_sha256[:12]}…"
    found = "absent" if current is None else f"sha256 {sha256(current)[:12]}…"
    return f"{write.path} (expected {expected}, found {found})"


# ---------------------------------------------------------------------------------- execution


def _execute(root: Path, tx: _Tx, contents: dict[str, bytes], hook: Hook) -> None:
    tx.directory.mkdir(parents=True)
    _fsync_dir(tx.directory.parent)
    _save(tx, "preparing")
    hook("journal-written")
    for rel in tx.created_dirs:
        os.mkdir(root / rel)
        _fsync_dir((root / rel).parent)
        hook(f"mkdir:{rel}")
    for entry in tx.entries:
        if entry.stage is not None:
            _write_file(_stage_path(root, entry), contents[entry.path], entry.mode, replace=False)
            hook(f"staged:{entry.path}")
    for entry in tx.entries:
        if entry.backup is not None:
            _write_file(tx.directory / entry.backup, contents["backup:" + entry.path], entry.mode)
            hook(f"backed-up:{entry.path}")
    _fsync_dirs(root, tx)
    _save(tx, "prepared")
    hook("prepared")
    for entry in tx.entries:
        _put(root, entry, hook, prefix="")
    _fsync_dirs(root, tx)
    _save(tx, "committed")
    hook("committed")


def _put(root: Path, entry: _Entry, hook: Hook, prefix: str) -> None:
    target = root / entry.path
    if entry.stage is None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(target)
        hook(f"{prefix}deleted:{entry.path}")
    else:
        os.replace(_stage_path(root, entry), target)
        hook(f"{prefix}renamed:{entry.path}")


def _abort(root: Path, tx: _Tx, exc: BaseException, step: str, hook: Hook) -> None:
    try:
        if tx.written:
            if tx.state != "preparing":
                _save(tx, "rolling-back")
            _roll_back(root, tx, lambda name: hook("abort:" + name.removeprefix("recover:")))
        _discard(tx)
    except BaseException as rollback_exc:
        raise ApplyError(
            f"apply failed after step {step!r} ({exc!r}) and the rollback failed too "
            f"({rollback_exc!r}); the journal in {tx.directory} is kept and the next apply or "
            "recover() will finish the rollback") from exc
    if isinstance(exc, Exception):
        raise ApplyError(f"apply failed after step {step!r}: {exc!r}; "
                         "the tree was rolled back to exactly its previous bytes") from exc


# ---------------------------------------------------------------------------------- recovery


def _recover_locked(root: Path, state_dir: Path, hook: Hook) -> str | None:
    journals = state_dir / "journal"
    if not journals.is_dir():
        return None
    outcome = None
    for directory in sorted(d for d in journals.iterdir() if d.is_dir() and not d.is_symlink()):
        tx = _load(directory)
        if tx is None:
            shutil.rmtree(directory)
            continue
        outcome = _recover_one(root, tx, hook)
    return outcome


def _recover_one(root: Path, tx: _Tx, hook: Hook) -> str:
    if tx.state == "committed":
        outcome = "rolled forward"
    elif tx.state == "prepared" and _roll_forward(root, tx, hook):
        outcome = "rolled forward"
    else:
        if tx.state == "prepared":
            _save(tx, "rolling-back")
            hook("recover:rolling-back")
        _roll_back(root, tx, hook)
        outcome = "rolled back"
    hook("recover:resolved")
    _discard(tx)
    hook("recover:done")
    return outcome


def _roll_forward(root: Path, tx: _Tx, hook: Hook) -> bool:
    for entry in tx.entries:
        if entry.after is not None and _hash_of(root / entry.path) != entry.after \
                and _hash_of(_stage_path(root, entry)) != entry.after:
            return False
    for entry in tx.entries:
        if entry.after is None or _hash_of(root / entry.path) != entry.after:
            _put(root, entry, hook, prefix="recover:")
        else:
            _unlink(_stage_path(root, entry))
    _fsync_dirs(root, tx)
    return True


def _roll_back(root: Path, tx: _Tx, hook: Hook) -> None:
    for entry in reversed(tx.entries):
        if tx.state != "preparing":
            _restore(root, tx, entry)
            hook(f"recover:restored:{entry.path}")
        if entry.stage is not None:
            _unlink(_stage_path(root, entry))
    for rel in reversed(tx.created_dirs):
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            _rmdir_if_empty(root / rel)
    _fsync_dirs(root, tx)


def _restore(root: Path, tx: _Tx, entry: _Entry) -> None:
    target = root / entry.path
    if entry.before is None:
        _unlink(target)
        return
    if _hash_of(target) == entry.before:
        return
    backup = tx.directory / (entry.backup or "")
    if entry.backup is None or _hash_of(backup) != entry.before:
        raise ApplyError(
            f"{entry.path}: cannot restore it, its backup {backup} is missing or corrupt. Restore the "
            f"file by hand (sha256 {entry.before}), then delete {tx.directory}")
    temp = target.with_name(f".{target.name}.{tx.txid[:16]}.restore")
    _write_file(temp, backup.read_bytes(), entry.mode)
    os.replace(temp, target)


def _rmdir_if_empty(path: Path) -> None:
    try:
        os.rmdir(path)
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
            raise


# ---------------------------------------------------------------------------------- journal + files


def _save(tx: _Tx, state: str) -> None:
    data = {"version": 1, "txid": tx.txid, "state": state, "created_dirs": tx.created_dirs,
            "entries": [asdict(entry) for entry in tx.entries]}
    temp = tx.directory / (_JOURNAL + ".tmp")
    _write_file(temp, json.dumps(data, sort_keys=True, indent=1).encode(), 0o644)
    os.replace(temp, tx.directory / _JOURNAL)
    _fsync_dir(tx.directory)
    tx.state, tx.written = state, True


def _load(directory: Path) -> _Tx | None:
    path = directory / _JOURNAL
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_bytes())
        entries = [_Entry(**entry) for entry in data["entries"]]
        return _Tx(directory, data["txid"], entries, list(data["created_dirs"]), data["state"], True)
    except (ValueError, KeyError, TypeError) as exc:
        raise ApplyError(f"the apply journal {path} is unreadable ({exc}); inspect the files it names, "
                         "fix the tree by hand, then delete that directory") from exc


def _discard(tx: _Tx) -> None:
    if tx.directory.exists():
        shutil.rmtree(tx.directory)
    with contextlib.suppress(FileNotFoundError):
        _fsync_dir(tx.directory.parent)


def _stage_path(root: Path, entry: _Entry) -> Path:
    return (root / entry.path).with_name(entry.stage or "")


def _hash_of(path: Path) -> str | None:
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not stat.S_ISREG(st.st_mode):
        return _NOT_A_FILE
    return sha256(path.read_bytes())


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        os.unlink(path)


def _write_file(path: Path, data: bytes, mode: int, *, replace: bool = True) -> None:
    if replace:
        _unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dirs(root: Path, tx: _Tx) -> None:
    directories = {(root / entry.path).parent for entry in tx.entries}
    directories.update((root / rel).parent for rel in tx.created_dirs)
    directories.add(tx.directory)
    for directory in sorted(directories):
        with contextlib.suppress(FileNotFoundError):
            _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    """Hold the exclusive lock ``state_dir/lock``; the file is removed again on every way out.

    Removing a lock file is safe only if nobody can hold a lock on an unlinked inode: a process
    that waited on the old file must notice it is gone.  So after ``flock`` succeeds the path
    must still name the locked inode, else the lock is retried on the new file; and the holder
    unlinks the file *before* releasing it.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "lock"
    fd = _acquire(path)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)


def _acquire(path: Path) -> int:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            held = os.fstat(fd)
            now = os.lstat(path)
        except FileNotFoundError:
            os.close(fd)
            continue
        except BaseException:
            os.close(fd)
            raise
        if (held.st_dev, held.st_ino) == (now.st_dev, now.st_ino):
            return fd
        os.close(fd)
