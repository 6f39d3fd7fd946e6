"""The ledger anchor: a head kept in git notes, so a deleted or cut ledger is detected.

Real git repositories in temporary directories (no network); the CLI is driven as a user would.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from sandbox._cli import main
from sandbox._git import NOTES_REF, read_anchors
from sandbox._ledger import Anchor, Ledger, canonical, entry_hash

TRAIN = "LR = 3e-4\n"
PROPS = "from properties import bounds\nbounds('train.LR', 1e-5, 1e-3)\n"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          check=True, capture_output=True, text=True).stdout


def retune(tmp_path: Path, old: str, new: str) -> str:
    path = tmp_path / f"retune-{new}.json"
    path.write_text(json.dumps({"edits": [{"path": "train.py", "old_str": f"LR = {old}", "new_str": f"LR = {new}"}]}))
    return str(path)


@pytest.fixture
def repo(make_repo):
    root = make_repo({"train.py": TRAIN, "sandbox_properties.py": PROPS, ".gitignore": ".sandbox/\n"})
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "base")
    return root


@pytest.fixture
def applied(repo, tmp_path):
    """The repository after two applies (the second on a later commit): four ledger entries."""
    code, out, err = run("apply", "--patch", retune(tmp_path, "3e-4", "5e-4"), "--repo", str(repo))
    assert code == 0, out + err
    assert "anchored in git notes refs/notes/sandbox" in out
    git(repo, "commit", "-q", "-am", "retune")
    code, out, err = run("apply", retune(tmp_path, "5e-4", "6e-4"), "--repo", str(repo))
    assert code == 0, out + err
    return repo


def verify(root: Path) -> tuple[int, str]:
    code, out, _ = run("log", "--verify", "--repo", str(root))
    return code, out


def test_apply_anchors_the_head_in_git_notes_and_verify_checks_it(applied):
    assert git(applied, "notes", f"--ref={NOTES_REF}", "list").count("\n") == 2  # one note per commit
    ledger = Ledger(applied / ".sandbox")
    note = json.loads(git(applied, "notes", f"--ref={NOTES_REF}", "show", "HEAD"))
    assert note == {".sandbox": {"count": 4, "head": ledger.head}}
    code, out = verify(applied)
    assert code == 0 and out.startswith("ledger intact: 4 entries") and "git note refs/notes/sandbox" in out
    assert git(applied, "status", "--porcelain") == " M train.py\n"  # notes never touch the work tree


def test_deleting_the_whole_state_directory_is_detected(applied):
    shutil.rmtree(applied / ".sandbox")
    code, out = verify(applied)
    assert code == 1 and "TAMPERED" in out
    assert "ledger.jsonl is missing, but git note refs/notes/sandbox" in out and "records 4 entries" in out


def test_truncating_the_ledger_and_rewriting_its_head_file_is_detected(applied):
    ledger = Ledger(applied / ".sandbox")
    first = ledger.path.read_bytes().splitlines(keepends=True)[:1]
    ledger.path.write_bytes(b"".join(first))
    entry = json.loads(first[0])
    ledger.head_path.write_bytes(canonical({"count": 1, "head": entry["hash"]}) + b"\n")
    assert Ledger(applied / ".sandbox").verify().ok  # self-consistent: only the anchor can tell
    code, out = verify(applied)
    assert code == 1 and "has 1 entries, but git note" in out and "entries were cut from its end" in out


def test_a_consistently_rewritten_ledger_of_the_same_length_is_detected(applied):
    ledger = Ledger(applied / ".sandbox")
    entries = [json.loads(line) for line in ledger.path.read_bytes().splitlines()]
    prev, lines = "0" * 64, []
    for entry in entries:  # forge: change a record, recompute every hash, keep the length
        entry["record"] = {"forged": True}
        entry["prev"] = prev
        entry["hash"] = entry_hash(entry)
        prev = entry["hash"]
        lines.append(canonical(entry) + b"\n")
    ledger.path.write_bytes(b"".join(lines))
    ledger.head_path.write_bytes(canonical({"count": len(entries), "head": prev}) + b"\n")
    code, out = verify(applied)
    assert code == 1 and "the ledger was rewritten up to that entry" in out


def test_entries_appended_after_the_anchor_are_fine(applied, tmp_path):
    # A verdict recorded through the Python API leaves the anchor behind; that is growth, not loss.
    Ledger(applied / ".sandbox").append("verdict", {"note": "appended without anchoring"})
    code, out = verify(applied)
    assert code == 0 and out.startswith("ledger intact: 5 entries")


def test_apply_refuses_to_append_to_a_ledger_that_lost_its_anchored_entries(applied, tmp_path):
    shutil.rmtree(applied / ".sandbox")
    before = (applied / "train.py").read_text()
    code, out, err = run("apply", retune(tmp_path, "6e-4", "7e-4"), "--repo", str(applied))
    assert code == 2 and "does not match its anchor" in err
    assert (applied / "train.py").read_text() == before and not (applied / ".sandbox" / "ledger.jsonl").exists()
    assert verify(applied)[0] == 1  # and the anchor still says so


def test_a_repository_without_git_is_unanchored_not_intact(make_repo, tmp_path):
    root = make_repo({"train.py": TRAIN, "sandbox_properties.py": PROPS})
    code, out, err = run("apply", retune(tmp_path, "3e-4", "5e-4"), "--repo", str(root))
    assert code == 0 and "the ledger head is not anchored" in err and "not in a git repository" in err
    code, out = verify(root)
    assert code == 0 and out.startswith("ledger unanchored: 2 entries")
    shutil.rmtree(root / ".sandbox")
    code, out = verify(root)  # nothing can tell: said plainly, never "intact"
    assert code == 0 and out.startswith("ledger unanchored: 0 entries")


def test_a_git_repository_without_a_commit_warns_and_stays_unanchored(make_repo, tmp_path):
    root = make_repo({"train.py": TRAIN, "sandbox_properties.py": PROPS})
    git(root, "init", "-q")
    code, out, err = run("apply", retune(tmp_path, "3e-4", "5e-4"), "--repo", str(root))
    assert code == 0 and "has no commit yet" in err
    assert verify(root)[1].startswith("ledger unanchored: 2 entries")


def test_two_ledgers_in_one_git_repository_keep_separate_anchors(make_repo, tmp_path):
    top = make_repo({"a/train.py": TRAIN, "a/sandbox_properties.py": PROPS,
                     "b/train.py": TRAIN, "b/sandbox_properties.py": PROPS})
    git(top, "init", "-q")
    git(top, "add", ".")
    git(top, "commit", "-q", "-m", "base")
    assert run("apply", retune(tmp_path, "3e-4", "5e-4"), "--repo", str(top / "a"))[0] == 0
    assert run("apply", retune(tmp_path, "3e-4", "4e-4"), "--repo", str(top / "b"))[0] == 0
    assert json.loads(git(top, "notes", f"--ref={NOTES_REF}", "show", "HEAD")).keys() == {"a/.sandbox", "b/.sandbox"}
    assert verify(top / "a")[0] == 0 and verify(top / "b")[0] == 0
    shutil.rmtree(top / "b" / ".sandbox")
    assert verify(top / "a")[0] == 0 and verify(top / "b")[0] == 1


def test_verify_with_explicit_anchors(tmp_path):
    ledger = Ledger(tmp_path / ".sandbox")
    entries = [ledger.append("verdict", {"n": n}) for n in range(3)]
    assert ledger.verify(anchors=[Anchor(2, entries[1].hash, "a ticket")]).ok
    assert ledger.verify(anchors=[Anchor(2, entries[1].hash, "a ticket")]).anchored == ("a ticket",)
    assert not ledger.verify(anchors=[Anchor(2, entries[0].hash, "a ticket")]).ok
    assert not ledger.verify(anchors=[Anchor(4, entries[2].hash, "a ticket")]).ok
    assert ledger.verify().anchored == ()
    assert read_anchors(tmp_path / ".sandbox") == ([], "not in a git repository (or git is not installed)")


def test_anchoring_works_without_a_configured_git_identity(repo, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.gitconfig: CI runners often have none
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(name, raising=False)
    code, out, err = run("apply", retune(tmp_path, "3e-4", "5e-4"), "--repo", str(repo))
    assert code == 0 and "anchored in git notes" in out, err
    code, out, _ = run("log", "--verify", "--repo", str(repo), "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["status"] == "intact" and report["anchored"]


def test_verify_in_json_names_the_status(applied, make_repo):
    assert json.loads(run("log", "--verify", "--repo", str(applied), "--format", "json")[1])["status"] == "intact"
    shutil.rmtree(applied / ".sandbox")
    code, out, _ = run("log", "--verify", "--repo", str(applied), "--format", "json")
    assert code == 1 and json.loads(out)["status"] == "tampered"
    plain = make_repo({"a.py": "A = 1\n"})
    assert json.loads(run("log", "--verify", "--repo", str(plain), "--format", "json")[1])["status"] == "unanchored"
