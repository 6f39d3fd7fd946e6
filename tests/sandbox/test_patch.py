"""Patch intake: every form applies exactly, every bad input is refused by name, nothing is written."""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sandbox._errors import PatchError
from sandbox._patch import Edit, FileChange, Patch
from tests.conftest import snapshot, write_tree

_GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "core.autocrlf=false",
        "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"]


def _git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    done = subprocess.run([*_GIT, *args], cwd=root, env=env, check=True, capture_output=True)
    return done.stdout.decode("utf-8")


def git_diff(root: Path, before: Mapping[str, str | bytes], after: Mapping[str, str | bytes],
             *options: str) -> str:
    """Commit ``before`` under ``root``, stage ``after``, return git's diff; leave ``before`` on disk."""
    write_tree(root, before)
    _git(root, "init", "-q", ".")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "before")
    for rel in before:
        (root / rel).unlink()
    write_tree(root, after)
    _git(root, "add", "-A")
    for rel in after:
        (root / rel).unlink()
    write_tree(root, before)
    return _git(root, "diff", "--cached", *options)


def assert_refused(root: Path, build: Callable[[], Patch], *, path: str | None,
                   hunk: int | None = None, says: tuple[str, ...] = ()) -> PatchError:
    """Building or resolving the patch raises PatchError naming ``path``; the tree is untouched."""
    before = snapshot(root)
    with pytest.raises(PatchError) as caught:
        build().resolve(root)
    error = caught.value
    assert error.path == path, str(error)
    assert error.hunk == hunk, str(error)
    if path is not None:
        assert str(error).startswith(path)
    for text in says:
        assert text in str(error)
    assert snapshot(root) == before
    return error


def resolved(root: Path, patch: Patch) -> dict[str, FileChange]:
    """Resolve ``patch`` and check it wrote nothing."""
    before = snapshot(root)
    changes = patch.resolve(root)
    assert snapshot(root) == before
    assert [change.path for change in changes] == sorted(change.path for change in changes)
    return {change.path: change for change in changes}


# ---- git-generated diffs ----------------------------------------------------------------------

def test_multi_file_git_diff_applies(tmp_path: Path) -> None:
    before = {"train.py": "lr = 0.1\nsteps = 10\n\ndef f(x):\n    return x\n",
              "pkg/model.py": "".join(f"line {n}\n" for n in range(1, 40))}
    after = {"train.py": "lr = 0.01\nsteps = 10\n\ndef f(x):\n    return x + 1\n",
             "pkg/model.py": before["pkg/model.py"].replace("line 3\n", "LINE 3\n")
             .replace("line 30\n", "line 30\nline 30b\n")}
    text = git_diff(tmp_path, before, after)
    changes = resolved(tmp_path, Patch.from_diff(text))
    assert set(changes) == {"train.py", "pkg/model.py"}
    assert len(Patch.from_diff(text)._operations[0].hunks) == 2
    for path, change in changes.items():
        assert (change.before, change.after) == (before[path].encode(), after[path].encode())


def test_git_new_and_deleted_files(tmp_path: Path) -> None:
    text = git_diff(tmp_path, {"old.py": "x = 1\ny = 2\n", "keep.py": "k = 0\n"},
                    {"new.py": "z = 3\n", "keep.py": "k = 0\n", "empty.py": ""})
    changes = resolved(tmp_path, Patch.from_diff(text))
    assert changes["new.py"] == FileChange("new.py", None, b"z = 3\n")
    assert changes["new.py"].created and not changes["new.py"].deleted
    assert changes["old.py"] == FileChange("old.py", b"x = 1\ny = 2\n", None)
    assert changes["old.py"].deleted and changes["old.py"].after_text is None
    assert changes["empty.py"] == FileChange("empty.py", None, b"")


def test_pure_rename(tmp_path: Path) -> None:
    before = {"src/old_name.py": "def f():\n    return 1\n"}
    text = git_diff(tmp_path, before, {"src/new_name.py": before["src/old_name.py"]}, "-M")
    assert "rename from" in text and "@@" not in text
    patch = Patch.from_diff(text)
    assert patch.paths == ("src/new_name.py", "src/old_name.py")
    changes = resolved(tmp_path, patch)
    assert changes["src/old_name.py"] == FileChange("src/old_name.py", before["src/old_name.py"]
                                                    .encode(), None)
    assert changes["src/new_name.py"] == FileChange("src/new_name.py", None,
                                                    before["src/old_name.py"].encode(),
                                                    renamed_from="src/old_name.py")


def test_rename_with_edits(tmp_path: Path) -> None:
    body = "".join(f"x{n} = {n}\n" for n in range(20))
    before = {"a.py": body}
    text = git_diff(tmp_path, before, {"b.py": body.replace("x7 = 7", "x7 = 70")}, "-M")
    assert "rename from a.py" in text and "@@" in text
    changes = resolved(tmp_path, Patch.from_diff(text))
    assert changes["b.py"].after_text == body.replace("x7 = 7", "x7 = 70")
    assert changes["b.py"].renamed_from == "a.py" and changes["a.py"].deleted


def test_copy_creates_the_new_file_and_keeps_the_old(tmp_path: Path) -> None:
    body = "".join(f"x{n} = {n}\n" for n in range(20))
    text = git_diff(tmp_path, {"a.py": body}, {"a.py": body, "b.py": body + "y = 1\n"},
                    "-C", "--find-copies-harder")
    assert "copy from a.py" in text
    changes = resolved(tmp_path, Patch.from_diff(text))
    assert changes == {"b.py": FileChange("b.py", None, (body + "y = 1\n").encode())}


def test_mnemonic_prefixes(tmp_path: Path) -> None:
    text = git_diff(tmp_path, {"a.py": "x\n"}, {"a.py": "y\n"}, "--src-prefix=i/",
                    "--dst-prefix=w/")
    assert "--- i/a.py" in text
    assert resolved(tmp_path, Patch.from_diff(text))["a.py"].after == b"y\n"


def test_no_prefix_diff_keeps_a_directory_named_a(tmp_path: Path) -> None:
    before = {"a/x.py": "one\n", "b.py": "two\n"}
    text = git_diff(tmp_path, before, {"a/x.py": "ONE\n", "b.py": "TWO\n"}, "--no-prefix")
    assert "diff --git a/x.py a/x.py" in text
    changes = resolved(tmp_path, Patch.from_diff(text))
    assert {path: change.after for path, change in changes.items()} == {"a/x.py": b"ONE\n",
                                                                         "b.py": b"TWO\n"}


@pytest.mark.parametrize(("old", "new"), [("a\nb\nc", "a\nB\nc\n"), ("a\nb\nc\n", "a\nB\nc"),
                                          ("a\nb", "a\nb\nc"), ("x", "y")])
def test_no_newline_at_end_of_file(tmp_path: Path, old: str, new: str) -> None:
    text = git_diff(tmp_path, {"f.py": old}, {"f.py": new})
    assert "\\ No newline at end of file" in text
    assert resolved(tmp_path, Patch.from_diff(text))["f.py"].after == new.encode()


def test_crlf_file_keeps_its_line_endings(tmp_path: Path) -> None:
    old, new = b"one\r\ntwo\r\nthree\r\n", b"one\r\nTWO\r\nthree\r\nfour\r\n"
    text = git_diff(tmp_path, {"w.py": old}, {"w.py": new})
    assert resolved(tmp_path, Patch.load(text.encode()))["w.py"].after == new


def test_only_newline_ends_a_line(make_repo: Callable[..., Path]) -> None:
    root = make_repo({"f.py": b"a\x0cb\nx\ry\nz\n"})
    diff = "--- a/f.py\n+++ b/f.py\n@@ -1,3 +1,3 @@\n a\x0cb\n-x\ry\n+X\ry\n z\n"
    assert resolved(root, Patch.from_diff(diff))["f.py"].after == b"a\x0cb\nX\ry\nz\n"


def test_no_newline_marker_on_a_middle_line_is_refused(make_repo: Callable[..., Path]) -> None:
    root = make_repo({"f.py": "a\nb\nc\n"})
    diff = ("--- a/f.py\n+++ b/f.py\n@@ -1,2 +1,2 @@\n-a\n+A\n\\ No newline at end of file\n"
            " b\n")
    assert_refused(root, lambda: Patch.from_diff(diff), path="f.py", hunk=1,
                   says=("not the last",))


def test_adding_to_an_existing_empty_file_is_not_a_new_file(tmp_path: Path) -> None:
    text = git_diff(tmp_path, {"e.py": ""}, {"e.py": "now\n"})
    assert "@@ -0,0 +1 @@" in text
    assert resolved(tmp_path, Patch.from_diff(text))["e.py"] == FileChange("e.py", b"", b"now\n")


def test_quoted_non_ascii_path(tmp_path: Path) -> None:
    text = git_diff(tmp_path, {"café.py": "x = 1\n"}, {"café.py": "x = 2\n"})
    assert '"a/caf\\303\\251.py"' in text
    assert resolved(tmp_path, Patch.from_diff(text))["café.py"].after == b"x = 2\n"


@settings(max_examples=150, deadline=None)
@given(old=st.lists(st.sampled_from(["a\n", "b\n", "c\n", "\n", "a\r\n", "  d\n", "f\x0cg\rh\n"]), max_size=12),
       new=st.lists(st.sampled_from(["a\n", "b\n", "c\n", "\n", "e\r\n", "  d\n"]), max_size=12),
       old_end=st.sampled_from(["", "z"]), new_end=st.sampled_from(["", "z", "a"]),
       context=st.integers(0, 3))
def test_difflib_diffs_reproduce_the_new_text(old: list[str], new: list[str], old_end: str,
                                              new_end: str, context: int) -> None:
    old_lines, new_lines = old + ([old_end] if old_end else []), new + ([new_end] if new_end else [])
    assume(old_lines != new_lines)
    diff = "".join(_marked(line) for line in difflib.unified_diff(old_lines, new_lines,
                                                                  "a/f.txt", "b/f.txt",
                                                                  n=context))
    with tempfile.TemporaryDirectory() as root:
        Path(root, "f.txt").write_bytes("".join(old_lines).encode())
        (change,) = Patch.from_diff(diff).resolve(root)
    assert change.after == "".join(new_lines).encode()


def _marked(line: str) -> str:
    """difflib leaves a final line without its newline; say so the way diff and git do."""
    return line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"


# ---- files and edits --------------------------------------------------------------------------

def test_from_files_writes_creates_and_deletes(make_repo: Callable[..., Path]) -> None:
    root = make_repo({"a.py": "a = 1\n", "gone.py": "g = 1\n", "same.py": "s = 1\n"})
    patch = Patch.from_files({"a.py": "a = 2\n", "./pkg//new.py": b"n = 1\n", "gone.py": None,
                              "same.py": "s = 1\n"})
    assert patch.paths == ("a.py", "gone.py", "pkg/new.py", "same.py")
    changes = resolved(root, patch)
    assert list(changes) == ["a.py", "gone.py", "pkg/new.py"]
    assert changes["a.py"].before_text == "a = 1\n" and changes["a.py"].after_text == "a = 2\n"
    assert changes["gone.py"].deleted and changes["pkg/new.py"].created


def test_from_edits_applies_in_order(make_repo: Callable[..., Path]) -> None:
    root = make_repo({"t.py": "x = 1\ny = 2\n"})
    patch = Patch.from_edits([Edit("t.py", "x = 1", "x = 10"),
                              {"path": "t.py", "old_str": "x = 10\ny", "new_str": "x = 11\nz"},
                              {"command": "str_replace", "path": "n.py", "old_str": "",
                               "new_str": "new\n"},
                              Edit("n.py", "new", "newer")])
    changes = resolved(root, patch)
    assert changes["t.py"].after == b"x = 11\nz = 2\n"
    assert changes["n.py"] == FileChange("n.py", None, b"newer\n")


def test_load_accepts_each_form(make_repo: Callable[..., Path]) -> None:
    root = make_repo({"m.py": "v = 1\n"})
    edit = {"path": "m.py", "old_str": "1", "new_str": "2"}
    diff = "--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-v = 1\n+v = 2\n"
    forms = [json.dumps({"files": {"m.py": "v = 2\n"}}), json.dumps({"edits": [edit]}),
             json.dumps([edit]), json.dumps({"m.py": "v = 2\n"}).encode(), diff, diff.encode()]
    for data in forms:
        (change,) = Patch.load(data, name="p.json").resolve(root)
        assert change.after == b"v = 2\n", data


def test_digest_is_canonical() -> None:
    text = Patch.from_files({"a.py": "x\n"})
    assert text.digest == Patch.from_files({"./a.py": b"x\n"}).digest
    assert text.digest != Patch.from_files({"a.py": "y\n"}).digest
    assert text.digest != Patch.from_edits([Edit("a.py", "", "x\n")]).digest
    assert len(text.digest) == 64 and int(text.digest, 16) >= 0
    diff = "--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x\n+y\n"
    assert Patch.from_diff(diff).digest == Patch.from_diff(
        diff.replace("--- a/", "--- ").replace("+++ b/", "+++ ")).digest


def test_a_patch_that_changes_nothing_is_refused(make_repo: Callable[..., Path]) -> None:
    root = make_repo({"a.py": "x\n"})
    assert_refused(root, lambda: Patch.from_files({"a.py": "x\n"}), path="a.py",
                   says=("changes nothing",))


# ---- malformed diffs --------------------------------------------------------------------------

_GOOD = "--- a/f.py\n+++ b/f.py\n@@ -1,2 +1,2 @@\n a\n-b\n+B\n"


@pytest.mark.parametrize(("text", "path", "hunk", "says"), [
    ("", "p.diff", None, "empty"),
    ("hello, world\nthis is no diff\n", "p.diff", None, "no file headers"),
    ("@@ -1 +1 @@\n-a\n+b\n", "p.diff", None, "does not parse"),
    (_GOOD[:-7], "f.py", 1, "does not parse"),
    (_GOOD + "@@ -9,3 +9,3 @@\n x\n-y\n", "f.py", 2, "shorter than expected"),
    (_GOOD.replace("-1,2 +1,2", "-1,2 +1,1") + "+extra\n", "f.py", 1, "outside every hunk"),
    (_GOOD.replace("@@ -1,2", "@@ -1,9"), "f.py", 1, "does not parse"),
    (_GOOD.replace(" a\n", "?a\n"), "f.py", 1, "does not parse"),
    (_GOOD.replace("+B", "+B\0"), "f.py", 1, "NUL"),
    ("--- a/f.py\n+++ b/g.py\n@@ -1 +1 @@\n-a\n+b\n", "g.py", None, "two different files"),
])
def test_malformed_diffs_are_refused(make_repo: Callable[..., Path], text: str, path: str,
                                     hunk: int | None, says: str) -> None:
    root = make_repo({"f.py": "a\nb\n"})
    assert_refused(root, lambda: Patch.load(text, name="p.diff"), path=path, hunk=hunk,
                   says=(says,))


# ---- diffs that do not fit the tree -----------------------------------------------------------

_TWO_HUNKS = "".join(f"l{n}\n" for n in range(1, 21))


def _two_hunk_diff(second_old: str) -> str:
    return ("--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,2 @@\n-l1\n+L1\n l2\n"
            f"@@ -15,3 +15,3 @@\n l15\n-{second_old}\n+X\n l17\n")


def test_context_mismatch_names_expected_and_found(make_repo: Callable[..., Path]) -> None:
    root = make_repo({"m.py": _TWO_HUNKS})
    assert resolved(root, Patch.from_diff(_two_hunk_diff("l16")))["m.py"].after_text.count("X") == 1
    error = assert_refused(root, lambda: Patch.from_diff(_two_hunk_diff("other")), path="m.py",
                           hunk=2, says=("line 16", "'other\\n'", "'l16\\n'"))
    assert error.line == 16


def test_context_lines_are_checked_too(make_repo: Callable[..., Path]) -> None:
    root = make_repo({"m.py": _TWO_HUNKS.replace("l17", "changed")})
    assert_refused(root, lambda: Patch.from_diff(_two_hunk_diff("l16")), path="m.py", hunk=2,
                   says=("line 17", "'changed\\n'"))


def test_hunk_past_the_end_and_out_of_order(make_repo: Callable[..., Path]) -> None:
    root = make_repo({"m.py": "l1\nl2\n"})
    past = "--- a/m.py\n+++ b/m.py\n@@ -2,2 +2,2 @@\n l2\n-l3\n+X\n"
    assert_refused(root, lambda: Patch.from_diff(past), path="m.py", hunk=1, says=("only 2 lines",))
    twice = "--- a/m.py\n+++ b/m.py\n@@ -2 +2 @@\n-l2\n+X\n@@ -1 +1 @@\n-l1\n+Y\n"
    assert_refused(root, lambda: Patch.from_diff(twice), path="m.py", hunk=2, says=("file order",))


def test_diff_against_missing_existing_or_changed_files(make_repo: Callable[..., Path]) -> None:
    root = make_repo({"here.py": "a\n", "del.py": "a\nb\n"})
    missing = "--- a/nope.py\n+++ b/nope.py\n@@ -1 +1 @@\n-a\n+b\n"
    assert_refused(root, lambda: Patch.from_diff(missing), path="nope.py", says=("does not exist",))
    exists = "diff --git a/here.py b/here.py\nnew file mode 100644\n--- /dev/null\n+++ b/here.py\n" \
             "@@ -0,0 +1 @@\n+a\n"
    assert_refused(root, lambda: Patch.from_diff(exists), path="here.py", says=("already exists",))
    partial = "diff --git a/del.py b/del.py\ndeleted file mode 100644\n--- a/del.py\n+++ /dev/null\n" \
              "@@ -1 +0,0 @@\n-a\n"
    assert_refused(root, lambda: Patch.from_diff(partial), path="del.py", says=("differs",))


def test_rename_onto_an_existing_file(make_repo: Callable[..., Path]) -> None:
    root = make_repo({"a.py": "a\n", "b.py": "b\n"})
    text = "diff --git a/a.py b/b.py\nsimilarity index 100%\nrename from a.py\nrename to b.py\n"
    assert_refused(root, lambda: Patch.from_diff(text), path="b.py", says=("already exists",))


# ---- paths ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "says"), [
    ("/etc/passwd", "absolute"), ("../outside.py", "'..'"), ("pkg/../../x.py", "'..'"),
    (".git/hooks/pre-commit", ".git"), ("sub/.GIT/config", ".git"), ("", "empty"),
    ("a\0b.py", "NUL"), ("pkg\\x.py", "backslash"), ("./", "root"),
])
def test_bad_paths_are_refused_in_every_form(make_repo: Callable[..., Path], raw: str,
                                             says: str) -> None:
    root = make_repo({"ok.py": "x\n"})
    shown = raw if raw.isprintable() else repr(raw)
    assert_refused(root, lambda: Patch.from_files({raw: "y\n"}), path=shown, says=(says,))
    assert_refused(root, lambda: Patch.from_edits([Edit(raw, "", "y\n")]), path=shown,
                   says=(says,))
    if raw and "\0" not in raw and "\\" not in raw:
        diff = f"--- a/{raw}\n+++ b/{raw}\n@@ -1 +1 @@\n-x\n+y\n".replace("a//", "/").replace(
            "b//", "/")
        assert_refused(root, lambda: Patch.from_diff(diff), path=shown, says=(says,))


def test_paths_through_symlinks_are_refused(make_repo: Callable[..., Path],
                                            tmp_path: Path) -> None:
    root = make_repo({"real/x.py": "x\n", "f.py": "f\n"})
    (root / "linkdir").symlink_to("real")
    (root / "link.py").symlink_to("f.py")
    (root / "out").symlink_to(tmp_path)
    for path in ("linkdir/x.py", "out/new.py"):  # a path that is itself a link: tests/sandbox/test_effects.py
        assert_refused(root, lambda: Patch.from_files({path: "y\n"}), path=path,
                       says=("symlink",))
    diff = "--- a/linkdir/x.py\n+++ b/linkdir/x.py\n@@ -1 +1 @@\n-x\n+y\n"
    assert_refused(root, lambda: Patch.from_diff(diff), path="linkdir/x.py", says=("linkdir",))


def test_directories_and_files_as_directories(make_repo: Callable[..., Path]) -> None:
    root = make_repo({"pkg/x.py": "x\n"})
    assert_refused(root, lambda: Patch.from_files({"pkg": "y\n"}), path="pkg",
                   says=("directory",))
    assert_refused(root, lambda: Patch.from_files({"pkg/x.py/y.py": "y\n"}),
                   path="pkg/x.py/y.py", says=("not a directory",))


@pytest.mark.parametrize(("header", "says"), [
    ("old mode 100644\nnew mode 100600\n", "mode 100600"),
    ("new file mode 160000\n", "submodule"),
])
def test_symlinks_and_odd_modes_are_refused(make_repo: Callable[..., Path], header: str,
                                            says: str) -> None:
    root = make_repo({"f.py": "x\n"})
    text = f"diff --git a/f.py b/f.py\n{header}--- a/f.py\n+++ b/f.py\n@@ -1 +1 @@\n-x\n+y\n"
    if "new file" in header:
        text = text.replace("--- a/f.py", "--- /dev/null").replace("-1 +1", "-0,0 +1").replace(
            "-x\n", "")
    assert_refused(root, lambda: Patch.from_diff(text), path="f.py", says=(says, "100644"))


def test_executable_bit_is_accepted(make_repo: Callable[..., Path]) -> None:
    root = make_repo({"f.py": "x\n"})
    text = "diff --git a/f.py b/f.py\nold mode 100644\nnew mode 100755\n--- a/f.py\n+++ b/f.py\n" \
           "@@ -1 +1 @@\n-x\n+y\n"
    assert resolved(root, Patch.from_diff(text))["f.py"].after == b"y\n"


# ---- binary content ---------------------------------------------------------------------------

def test_git_binary_patches_are_refused(tmp_path: Path) -> None:
    text = git_diff(tmp_path, {"img.bin": b"\0\1\2"}, {"img.bin": b"\0\1\3\4"}, "--binary")
    assert "GIT binary patch" in text
    assert_refused(tmp_path, lambda: Patch.from_diff(text), path="img.bin", says=("binary",))
    plain = _git(tmp_path, "diff", "--cached")
    assert "Binary files" in plain
    assert_refused(tmp_path, lambda: Patch.from_diff(plain), path="img.bin", says=("binary",))


def test_binary_or_undecodable_content_is_refused(make_repo: Callable[..., Path]) -> None:
    root = make_repo({"latin.py": "caf\xe9\n".encode("latin-1"), "ok.py": "x\n"})
    assert_refused(root, lambda: Patch.from_files({"ok.py": b"x\0y\n"}), path="ok.py",
                   says=("NUL",))
    assert_refused(root, lambda: Patch.from_files({"ok.py": b"\xff\xfe"}), path="ok.py",
                   says=("UTF-8",))
    assert_refused(root, lambda: Patch.from_edits([Edit("ok.py", "x", "\0")]), path="ok.py",
                   says=("NUL",))
    diff = "--- a/latin.py\n+++ b/latin.py\n@@ -1 +1 @@\n-caf\n+cafe\n"
    assert_refused(root, lambda: Patch.from_diff(diff), path="latin.py",
                   says=("current file", "UTF-8"))
    assert_refused(root, lambda: Patch.load(b"--- a/ok.py\n+++ b/ok.py\n\xff"), path="<patch>",
                   says=("UTF-8",))


# ---- bad files, edits and load forms ----------------------------------------------------------

def test_from_files_refusals(make_repo: Callable[..., Path]) -> None:
    root = make_repo({"a.py": "a\n"})
    assert_refused(root, lambda: Patch.from_files({"gone.py": None}), path="gone.py",
                   says=("does not exist",))
    assert_refused(root, lambda: Patch.from_files({"a.py": "x\n", "./a.py": "y\n"}), path="a.py",
                   says=("twice",))
    assert_refused(root, lambda: Patch.from_files({}), path="<files>", says=("non-empty",))
    assert_refused(root, lambda: Patch.from_files({"a.py": 3}), path="a.py", says=("int",))


def test_edit_refusals(make_repo: Callable[..., Path]) -> None:
    root = make_repo({"t.py": "x = 1\ny = 1\nz = 1\n", "crlf.py": b"a\r\nb\r\n"})
    assert_refused(root, lambda: Patch.from_edits([Edit("t.py", "w = 1", "")]), path="t.py",
                   says=("edit 1", "not found"))
    assert_refused(root, lambda: Patch.from_edits([Edit("t.py", "y = 1", "y = 2"),
                                                   Edit("t.py", "= 1", "= 3")]),
                   path="t.py", says=("edit 2", "2 times", "lines 1, 3"))
    assert_refused(root, lambda: Patch.from_edits([Edit("t.py", "", "new\n")]), path="t.py",
                   says=("already exists",))
    assert_refused(root, lambda: Patch.from_edits([Edit("no.py", "a", "b")]), path="no.py",
                   says=("does not exist",))
    assert_refused(root, lambda: Patch.from_edits([Edit("crlf.py", "a\nb", "c")]),
                   path="crlf.py", says=("not found", "CRLF"))
    assert_refused(root, lambda: Patch.from_edits([{"path": "t.py", "old_str": "x"}]),
                   path="t.py", says=("keys",))
    assert_refused(root, lambda: Patch.from_edits([]), path="<edits>", says=("empty",))


@pytest.mark.parametrize("data", ["42", '"text"', '{"files": [1]}', '{"a.py": 1}', "[1]", "{}",
                                  '{"edits": "x"}'])
def test_load_refuses_other_json(make_repo: Callable[..., Path], data: str) -> None:
    root = make_repo({"a.py": "a\n"})
    before = snapshot(root)
    with pytest.raises(PatchError) as caught:
        Patch.load(data, name="p.json")
    assert str(caught.value).startswith(("p.json", "<edit 1>", "a.py"))
    assert snapshot(root) == before
    if not data.startswith("["):
        assert '"files"' in str(caught.value) and '"edits"' in str(caught.value)


def test_load_of_neither_diff_nor_json_lists_the_forms(make_repo: Callable[..., Path]) -> None:
    root = make_repo({"a.py": "a\n"})
    assert_refused(root, lambda: Patch.load("please change lr to 0.1\n", name="p.txt"),
                   path="p.txt", says=("unified diff", '"files"', '"edits"'))


def test_load_refuses_invalid_json(make_repo: Callable[..., Path]) -> None:
    root = make_repo({"a.py": "a\n"})
    assert_refused(root, lambda: Patch.load('{"a.py": ', name="p.json"), path="p.json",
                   says=("invalid JSON", "line 1", '"edits"'))


def test_resolve_needs_a_directory(tmp_path: Path) -> None:
    patch = Patch.from_files({"a.py": "x\n"})
    with pytest.raises(PatchError, match="not a directory"):
        patch.resolve(tmp_path / "missing")


def test_module_exports() -> None:
    import sandbox._diff
    import sandbox._patch
    import sandbox._paths

    assert sandbox._patch.__all__ == ["Edit", "FileChange", "Patch", "PatchLimits"]
    assert all(hasattr(module, name) for module in (sandbox._diff, sandbox._paths, sandbox._patch)
               for name in module.__all__)
