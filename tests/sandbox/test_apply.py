"""Atomic apply: all-or-nothing writes, stale-tree refusal, rollback on error, recovery after kill."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox._apply import FileWrite, apply_atomically, pending, recover, sha256
from sandbox._errors import ApplyError, StaleTreeError
from tests.conftest import snapshot

PROJECT = Path(__file__).resolve().parents[2]
KILLED = 17

BEFORE = {"a.py": b"A = 1\n", "old.py": b"OLD = True\n", "keep.py": b"KEEP = 0\n"}
NEW_A = b"A = 2\n"
NEW_FILE = b"def f():\n    return 3\n"

# The step boundaries of the standard 3-file apply below, in order (test_steps_are_as_listed
# keeps this list honest, so the parametrised crash tests cover every step).
STEPS = [
    "journal-written", "mkdir:pkg", "mkdir:pkg/sub",
    "staged:a.py", "staged:pkg/sub/new.py",
    "backed-up:a.py", "backed-up:old.py",
    "prepared",
    "renamed:a.py", "renamed:pkg/sub/new.py", "deleted:old.py",
    "committed",
]
DECIDED = STEPS.index("prepared")


def three_writes() -> list[FileWrite]:
    """Replace a.py, create pkg/sub/new.py (new nested dirs), delete old.py."""
    return [
        FileWrite("a.py", sha256(BEFORE["a.py"]), NEW_A),
        FileWrite("pkg/sub/new.py", None, NEW_FILE),
        FileWrite("old.py", sha256(BEFORE["old.py"]), None),
    ]


def tree(root: Path) -> dict[str, str]:
    """The snapshot without the sandbox's own state directory."""
    return {k: v for k, v in snapshot(root).items() if k.split("/")[0] != ".sandbox"}


def journal_dirs(root: Path) -> list[Path]:
    journals = root / ".sandbox" / "journal"
    return sorted(journals.iterdir()) if journals.is_dir() else []


@pytest.fixture
def repo(make_repo: Callable[..., Path]) -> Path:
    root = make_repo(BEFORE)
    (root / "a.py").chmod(0o755)
    return root


@pytest.fixture
def after_state(make_repo: Callable[..., Path]) -> dict[str, str]:
    """The expected snapshot after the standard apply, computed once by a clean apply."""
    root = make_repo(BEFORE)
    (root / "a.py").chmod(0o755)
    apply_atomically(root, three_writes(), state_dir=root / ".sandbox")
    return tree(root)


def run_child(root: Path, mode: str, kill_at: str, writes: list[FileWrite] | None = None,
              raise_at: str | None = None) -> int:
    """Run apply or recover in a fresh interpreter that ``os._exit``s at step ``kill_at``
    (after raising an exception at step ``raise_at``, if given)."""
    spec = {"root": str(root), "mode": mode, "kill_at": kill_at, "raise_at": raise_at,
            "killed": KILLED, "writes": [
        {"path": w.path, "before": w.before_sha256,
         "after": None if w.after is None else base64.b64encode(w.after).decode()}
        for w in writes or []]}
    script = (
        "import base64, json, os, sys\n"
        "from pathlib import Path\n"
        "from sandbox._apply import FileWrite, apply_atomically, recover\n"
        "spec = json.loads(sys.argv[1])\n"
        "def hook(step):\n"
        "    if step == spec['kill_at']:\n"
        "        os._exit(spec['killed'])\n"
        "    if step == spec['raise_at']:\n"
        "        raise RuntimeError(step)\n"
        "root = Path(spec['root'])\n"
        "if spec['mode'] == 'apply':\n"
        "    writes = [FileWrite(w['path'], w['before'], None if w['after'] is None\n"
        "              else base64.b64decode(w['after'])) for w in spec['writes']]\n"
        "    apply_atomically(root, writes, state_dir=root / '.sandbox', _hook=hook)\n"
        "else:\n"
        "    recover(root, root / '.sandbox', _hook=hook)\n")
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    done = subprocess.run([sys.executable, "-c", script, json.dumps(spec)], env=env,
                          capture_output=True, timeout=60, check=False)
    assert done.returncode in (0, KILLED), done.stderr.decode()
    return done.returncode


# ---------------------------------------------------------------------------------- happy path


def test_multi_file_replace_create_delete(repo: Path) -> None:
    apply_atomically(repo, three_writes(), state_dir=repo / ".sandbox")
    assert (repo / "a.py").read_bytes() == NEW_A
    assert (repo / "pkg/sub/new.py").read_bytes() == NEW_FILE
    assert not (repo / "old.py").exists()
    assert (repo / "keep.py").read_bytes() == BEFORE["keep.py"]
    assert set(tree(repo)) == {"a.py", "keep.py", "pkg", "pkg/sub", "pkg/sub/new.py"}
    assert not pending(repo / ".sandbox")
    assert journal_dirs(repo) == []


def test_permissions_preserved_and_new_files_0644(repo: Path) -> None:
    old_umask = os.umask(0o077)
    try:
        apply_atomically(repo, three_writes(), state_dir=repo / ".sandbox")
    finally:
        os.umask(old_umask)
    assert (repo / "a.py").stat().st_mode & 0o7777 == 0o755
    assert (repo / "pkg/sub/new.py").stat().st_mode & 0o7777 == 0o644


def test_empty_apply_writes_nothing(repo: Path) -> None:
    before = tree(repo)
    apply_atomically(repo, [], state_dir=repo / ".sandbox")
    assert tree(repo) == before


def test_steps_are_as_listed(repo: Path) -> None:
    steps: list[str] = []
    apply_atomically(repo, three_writes(), state_dir=repo / ".sandbox", _hook=steps.append)
    assert steps == STEPS


# ---------------------------------------------------------------------------------- refusals


def test_stale_tree_refused_naming_every_stale_file(repo: Path) -> None:
    (repo / "a.py").write_bytes(b"A = 99\n")
    (repo / "pkg/sub").mkdir(parents=True)
    (repo / "pkg/sub/new.py").write_bytes(b"surprise\n")
    before = snapshot(repo)
    with pytest.raises(StaleTreeError) as excinfo:
        apply_atomically(repo, three_writes(), state_dir=repo / ".sandbox")
    message = str(excinfo.value)
    assert "a.py" in message and "pkg/sub/new.py" in message and "old.py (" not in message
    assert "re-run the check" in message
    assert tree(repo) == {k: v for k, v in before.items() if not k.startswith(".sandbox")}
    assert journal_dirs(repo) == []


def test_stale_when_expected_file_is_missing(repo: Path) -> None:
    (repo / "old.py").unlink()
    before = tree(repo)
    with pytest.raises(StaleTreeError, match=r"old\.py \(expected sha256 .*found absent\)"):
        apply_atomically(repo, three_writes(), state_dir=repo / ".sandbox")
    assert tree(repo) == before


def test_symlink_at_target_refused(repo: Path) -> None:
    (repo / "link.py").symlink_to("keep.py")
    before = tree(repo)
    writes = [FileWrite("a.py", sha256(BEFORE["a.py"]), NEW_A),
              FileWrite("link.py", sha256(BEFORE["keep.py"]), b"through the link\n")]
    with pytest.raises(ApplyError, match="link.py: is a symbolic link"):
        apply_atomically(repo, writes, state_dir=repo / ".sandbox")
    assert tree(repo) == before


def test_symlinked_parent_directory_refused(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (repo / "pkg").symlink_to(outside)
    with pytest.raises(ApplyError, match="symbolic link"):
        apply_atomically(repo, [FileWrite("pkg/x.py", None, b"x\n")], state_dir=repo / ".sandbox")
    assert list(outside.iterdir()) == []


def test_directory_at_target_refused(repo: Path) -> None:
    (repo / "adir").mkdir()
    before = tree(repo)
    with pytest.raises(ApplyError, match="adir: is a directory"):
        apply_atomically(repo, [FileWrite("adir", None, b"x")], state_dir=repo / ".sandbox")
    assert tree(repo) == before


@pytest.mark.parametrize("path", ["../escape.py", "/etc/passwd", "a/./b.py", "", ".sandbox/ledger.jsonl"])
def test_bad_paths_refused(repo: Path, path: str) -> None:
    before = tree(repo)
    with pytest.raises(ApplyError):
        apply_atomically(repo, [FileWrite(path, None, b"x")], state_dir=repo / ".sandbox")
    assert tree(repo) == before
    assert not (repo.parent / "escape.py").exists()


# ---------------------------------------------------------------------------------- exceptions


class Boom(RuntimeError):
    pass


@pytest.mark.parametrize("step", STEPS)
def test_exception_at_every_step_rolls_back(repo: Path, step: str) -> None:
    before = tree(repo)
    boom = Boom(step)

    def hook(name: str) -> None:
        if name == step:
            raise boom

    with pytest.raises(ApplyError) as excinfo:
        apply_atomically(repo, three_writes(), state_dir=repo / ".sandbox", _hook=hook)
    assert excinfo.value.__cause__ is boom
    assert step in str(excinfo.value)
    assert tree(repo) == before
    assert not pending(repo / ".sandbox")
    assert journal_dirs(repo) == []
    assert not (repo / ".sandbox" / "lock").exists()


def test_keyboard_interrupt_rolls_back_and_propagates(repo: Path) -> None:
    before = tree(repo)

    def hook(name: str) -> None:
        if name == "renamed:pkg/sub/new.py":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        apply_atomically(repo, three_writes(), state_dir=repo / ".sandbox", _hook=hook)
    assert tree(repo) == before
    assert not (repo / ".sandbox" / "lock").exists()


# ---------------------------------------------------------------------------------- the lock file


def test_no_lock_file_is_left_after_success_or_refusal(repo: Path) -> None:
    apply_atomically(repo, three_writes(), state_dir=repo / ".sandbox")
    assert not (repo / ".sandbox" / "lock").exists()
    with pytest.raises(StaleTreeError):
        apply_atomically(repo, three_writes(), state_dir=repo / ".sandbox")
    assert not (repo / ".sandbox" / "lock").exists()
    assert recover(repo, repo / ".sandbox") is None
    assert not (repo / ".sandbox" / "lock").exists()


def test_recover_without_state_creates_nothing(repo: Path) -> None:
    assert recover(repo, repo / ".sandbox") is None
    assert not (repo / ".sandbox").exists()


def test_a_lock_left_by_a_killed_apply_is_removed_by_the_next_command(repo: Path) -> None:
    assert run_child(repo, "apply", "prepared", three_writes()) == KILLED
    assert (repo / ".sandbox" / "lock").exists()  # a kill runs no clean-up
    assert recover(repo, repo / ".sandbox") == "rolled forward"
    assert not (repo / ".sandbox" / "lock").exists()


def test_the_lock_still_excludes_while_its_file_comes_and_goes(tmp_path: Path) -> None:
    # Each holder unlinks the file before releasing; a waiter that locked the unlinked file must
    # notice and retry, or two holders would overlap.
    import threading
    import time

    from sandbox._apply import _locked

    inside, worst, guard = [0], [0], threading.Lock()

    def work() -> None:
        for _ in range(40):
            with _locked(tmp_path):
                with guard:
                    inside[0] += 1
                    worst[0] = max(worst[0], inside[0])
                time.sleep(0.0005)
                with guard:
                    inside[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert worst[0] == 1 and not (tmp_path / "lock").exists()


# ---------------------------------------------------------------------------------- kills


@pytest.mark.parametrize("step", STEPS)
def test_kill_at_every_step_then_recover(repo: Path, after_state: dict[str, str], step: str) -> None:
    before = tree(repo)
    assert run_child(repo, "apply", step, three_writes()) == KILLED
    assert pending(repo / ".sandbox")
    outcome = recover(repo, repo / ".sandbox")
    decided = STEPS.index(step) >= DECIDED
    assert outcome == ("rolled forward" if decided else "rolled back")
    assert tree(repo) == (after_state if decided else before)
    assert not pending(repo / ".sandbox")
    assert journal_dirs(repo) == []
    assert recover(repo, repo / ".sandbox") is None


def test_next_apply_recovers_pending_journal_first(repo: Path, after_state: dict[str, str]) -> None:
    assert run_child(repo, "apply", "renamed:a.py", three_writes()) == KILLED
    apply_atomically(repo, [FileWrite("keep.py", sha256(BEFORE["keep.py"]), b"KEEP = 1\n")],
                     state_dir=repo / ".sandbox")
    assert (repo / "pkg/sub/new.py").read_bytes() == NEW_FILE
    assert not (repo / "old.py").exists()
    assert (repo / "keep.py").read_bytes() == b"KEEP = 1\n"
    assert not pending(repo / ".sandbox")


FORWARD_STEPS = ["recover:renamed:pkg/sub/new.py", "recover:deleted:old.py", "recover:resolved",
                 "recover:done"]


@pytest.mark.parametrize("step", FORWARD_STEPS)
def test_kill_during_roll_forward_is_recovered(repo: Path, after_state: dict[str, str],
                                               step: str) -> None:
    assert run_child(repo, "apply", "renamed:a.py", three_writes()) == KILLED
    assert run_child(repo, "recover", step) == KILLED
    expected = None if step == "recover:done" else "rolled forward"
    assert recover(repo, repo / ".sandbox") == expected
    assert tree(repo) == after_state
    assert not pending(repo / ".sandbox")


def corrupt_staged_new_file(root: Path) -> None:
    staged = [p for p in (root / "pkg/sub").iterdir() if p.name != "new.py"]
    assert len(staged) == 1 and staged[0].name.endswith(".stage")
    staged[0].write_bytes(b"corrupted\n")


def test_corrupt_staged_file_rolls_back_from_backups(repo: Path) -> None:
    before = tree(repo)
    assert run_child(repo, "apply", "renamed:a.py", three_writes()) == KILLED
    assert (repo / "a.py").read_bytes() == NEW_A
    corrupt_staged_new_file(repo)
    assert recover(repo, repo / ".sandbox") == "rolled back"
    assert tree(repo) == before
    assert not pending(repo / ".sandbox")


BACK_STEPS = ["recover:rolling-back", "recover:restored:old.py",
              "recover:restored:pkg/sub/new.py", "recover:restored:a.py", "recover:resolved",
              "recover:done"]


@pytest.mark.parametrize("step", BACK_STEPS)
def test_kill_during_roll_back_is_recovered(repo: Path, step: str) -> None:
    before = tree(repo)
    assert run_child(repo, "apply", "renamed:a.py", three_writes()) == KILLED
    corrupt_staged_new_file(repo)
    assert run_child(repo, "recover", step) == KILLED
    expected = None if step == "recover:done" else "rolled back"
    assert recover(repo, repo / ".sandbox") == expected
    assert tree(repo) == before
    assert not pending(repo / ".sandbox")


def test_missing_backup_is_reported_and_journal_kept(repo: Path) -> None:
    assert run_child(repo, "apply", "renamed:a.py", three_writes()) == KILLED
    corrupt_staged_new_file(repo)
    for backup in journal_dirs(repo)[0].glob("backup-*"):
        backup.unlink()
    with pytest.raises(ApplyError, match=r"^a\.py: cannot restore it"):
        recover(repo, repo / ".sandbox")
    assert pending(repo / ".sandbox")


@pytest.mark.parametrize("step", ["abort:restored:old.py", "abort:restored:pkg/sub/new.py",
                                  "abort:restored:a.py"])
def test_kill_during_in_process_rollback_is_recovered(repo: Path, step: str) -> None:
    before = tree(repo)
    assert run_child(repo, "apply", step, three_writes(), raise_at="committed") == KILLED
    assert recover(repo, repo / ".sandbox") == "rolled back"
    assert tree(repo) == before
    assert not pending(repo / ".sandbox")
