"""PatchFiles: the files of a directory, proposed in sorted order, one per round."""

from __future__ import annotations

import json

import pytest

from models import Attempt, PatchFiles, Proposer, ProposerError, Task
from sandbox._patch import Patch

TASK = Task(goal="g", files={"src/a.py": "A = 1\n"}, editable=("src/*.py",))
DIFF = "--- a/src/a.py\n+++ b/src/a.py\n@@ -1 +1 @@\n-A = 1\n+A = 2\n"


def write(directory, name, content):
    (directory / name).write_text(content if isinstance(content, str) else json.dumps(content))


def test_files_are_proposed_in_sorted_order_then_none(tmp_path):
    write(tmp_path, "02.json", {"files": {"src/a.py": "A = 3\n"}})
    write(tmp_path, "01.diff", DIFF)
    write(tmp_path, "10.json", {"src/b.py": "B = 1\n", "src/old.py": None})
    write(tmp_path, ".hidden.json", {"files": {"src/a.py": "hidden\n"}})
    (tmp_path / "sub").mkdir()
    proposer = PatchFiles(tmp_path)
    assert isinstance(proposer, Proposer)
    first, second, third = (proposer.propose(TASK) for _ in range(3))
    assert first.diff == DIFF and dict(first.files) == {} and first.source.endswith("01.diff")
    assert dict(second.files) == {"src/a.py": "A = 3\n"} and second.diff is None
    assert dict(third.files) == {"src/b.py": "B = 1\n", "src/old.py": None}
    assert proposer.propose(TASK) is None


def test_proposals_convert_to_patches_the_gate_reads(tmp_path):
    write(tmp_path, "1.json", {"files": {"src/a.py": "A = 3\n", "src/b.py": "B\n"}})
    write(tmp_path, "2.diff", DIFF)
    proposer = PatchFiles(tmp_path)
    assert Patch.load(proposer.propose(TASK).to_patch()).paths == ("src/a.py", "src/b.py")
    assert Patch.load(proposer.propose(TASK).to_patch()).paths == ("src/a.py",)


def test_whole_files_outside_the_editable_paths_are_recorded_not_proposed(tmp_path):
    # 'src/*.py' must not admit a file one directory deeper: '*' stays inside one component.
    write(tmp_path, "1.json", {"files": {"src/a.py": "A = 2\n", "src/deep/eval.py": "x\n",
                                         "/repo/tests/t.py": None}})
    proposal = PatchFiles(tmp_path).propose(TASK)
    assert dict(proposal.files) == {"src/a.py": "A = 2\n"}
    assert [(a.path, a.command) for a in proposal.outside] == [("src/deep/eval.py", "write"),
                                                             ("tests/t.py", "delete")]


def test_a_file_that_only_touches_protected_paths_is_still_a_proposal(tmp_path):
    write(tmp_path, "1.json", {"files": {"eval.py": "SCORE = 100\n"}})
    proposal = PatchFiles(tmp_path).propose(TASK)
    assert proposal.outside == (Attempt("eval.py", "write", f"from {tmp_path / '1.json'}"),)


def test_edit_lists_and_malformed_json_go_to_the_gate_as_text(tmp_path):
    edits = json.dumps([{"path": "src/a.py", "old_str": "A = 1", "new_str": "A = 2"}])
    write(tmp_path, "1.json", edits)
    write(tmp_path, "2.json", '{"files": ')
    proposer = PatchFiles(tmp_path)
    assert proposer.propose(TASK).diff == edits
    assert proposer.propose(TASK).diff == '{"files": '


@pytest.mark.parametrize("files, expected", [
    ({"src/../../etc/passwd": "x"}, "'..' component"),
    ({"src/a.py": "x", "./src/a.py": "y"}, "named twice"),
])
def test_bad_paths_in_a_patch_file_are_refused(tmp_path, files, expected):
    write(tmp_path, "1.json", {"files": files})
    with pytest.raises(ProposerError, match=expected):
        PatchFiles(tmp_path).propose(TASK)


def test_a_missing_directory_or_unreadable_file_is_a_clear_error(tmp_path):
    with pytest.raises(ProposerError, match="not a directory"):
        PatchFiles(tmp_path / "absent")
    (tmp_path / "bin.diff").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ProposerError, match="must be UTF-8 text"):
        PatchFiles(tmp_path).propose(TASK)


def test_an_explicit_list_of_files_keeps_its_order(tmp_path):
    write(tmp_path, "b.diff", DIFF)
    write(tmp_path, "a.json", {"src/a.py": "A = 9\n"})
    proposer = PatchFiles([tmp_path / "b.diff", tmp_path / "a.json"])
    assert proposer.propose(TASK).diff == DIFF and proposer.propose(TASK).paths == ("src/a.py",)
