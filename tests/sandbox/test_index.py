"""RepoIndex.containing: git grep narrows what is read, never what is found."""

from __future__ import annotations

import subprocess
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox._effects import RepoIndex
from tests.conftest import write_tree


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                   check=True, capture_output=True)


def _repo(root: Path, files: dict[str, str]) -> Path:
    write_tree(root, {".gitignore": "build/\n", **{k: v.encode() for k, v in files.items()}})
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "base", "--allow-empty")
    return root


def _read_all(root: Path, after: dict, needle: str) -> list[str]:
    index = RepoIndex(root, after)
    return [p for p in index.python_files() if needle in (index.text(p) or "")]


def test_tracked_untracked_ignored_nested_and_touched_files_are_all_found(tmp_path):
    root = _repo(tmp_path / "r", {"a.py": "from m import *\n", "b.py": "x = 1\n"})
    write_tree(root, {"new.py": b"from m import *\n", "build/gen.py": b"from m import *\n"})
    nested = root / "vendor"
    nested.mkdir()
    _git(nested, "init", "-q")
    write_tree(nested, {"lib.py": b"from m import *\n"})
    (root / "b.py").write_text("from m import *  # dirty, not committed\n")
    after = {"c.py": "from m import *\n", "a.py": "y = 2\n"}
    found = list(RepoIndex(root, after).containing("import *"))
    assert found == _read_all(root, after, "import *")
    assert found == ["b.py", "build/gen.py", "c.py", "new.py", "vendor/lib.py"]


_names = st.sampled_from(["a.py", "pkg/b.py", "pkg/c.py", "d.py"])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(committed=st.dictionaries(_names, st.sampled_from(["import *\n", "x = 1\n"])),
       dirty=st.dictionaries(_names, st.sampled_from(["import *\n", "x = 2\n"])),
       after=st.dictionaries(_names, st.sampled_from(["import *\n", "x = 3\n", None])))
def test_containing_with_git_equals_reading_every_file(tmp_path_factory, committed, dirty, after):
    root = _repo(tmp_path_factory.mktemp("g") / "r", committed)
    write_tree(root, {k: v.encode() for k, v in dirty.items()})
    assert list(RepoIndex(root, after).containing("import *")) == _read_all(root, after, "import *")


def test_in_a_git_tree_only_the_files_git_grep_names_are_read(tmp_path):
    """The point of the prefilter: 40 committed files without the needle are never opened.
    (An unknown git option once made every call fall back to reading the whole tree.)"""
    files = {f"pkg/m{i}.py": "x = 1\n" for i in range(40)}
    root = _repo(tmp_path / "r", {**files, "pkg/star.py": "from pkg.m0 import *\n"})
    write_tree(root, {"loose.py": b"y = 2\n"})  # untracked: git cannot vouch for it without listing it
    index = RepoIndex(root, {"pkg/m1.py": "z = 3\n"})
    assert index._grep(("import *",)) is not None
    assert list(index.containing("import *")) == ["pkg/star.py"]
    assert set(index._texts) == {"pkg/star.py"}
