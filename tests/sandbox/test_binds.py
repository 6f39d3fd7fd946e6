"""Workers see the repository through bubblewrap binds: the side's files over a read-only tree."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox._workers import IsolatedExecutor, isolation_layers
from sandbox._workers._binds import plan_binds
from tests.conftest import snapshot, write_tree
from verifiers import OutcomeKind

needs_bwrap = pytest.mark.skipif("bubblewrap" not in isolation_layers(), reason="bubblewrap is not usable here")

LISTER = '''\
import os


def listing() -> list:
    found = []
    for directory, dirs, files in os.walk("."):
        dirs.sort()
        found += sorted(os.path.join(directory, f)[2:] for f in files if not directory.startswith("./__pycache__"))
    return sorted(p for p in found if "__pycache__" not in p)


def read(path: str) -> str:
    with open(path) as handle:
        return handle.read()
'''


def view(root: Path, mine: dict[str, str], deleted: frozenset[str]) -> dict[str, str]:
    """The tree a worker sees, listed and read from inside bubblewrap (no Python: `find` and `cat`)."""
    scratch = root.parent / f"scratch-{len(list(root.parent.iterdir()))}"
    binds = plan_binds(root, scratch, "/tmp/v", mine, deleted)
    argv = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
            "--dir", "/tmp/v", *binds.argv(), "--chdir", "/tmp/v", "--",
            "sh", "-c", "find . -type f | sort | while read f; do printf '%s\\t' \"$f\"; cat \"$f\" | od -An -c | "
            "tr -d ' \\n'; echo; done"]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    out = {}
    for line in done.stdout.splitlines():
        path, _, content = line.partition("\t")
        out[path[2:]] = content
    return out


def expected(root: Path, mine: dict[str, str], deleted: frozenset[str], tmp: Path) -> dict[str, str]:
    """The same listing of a plain copy with the side's changes: what the binds must show."""
    from sandbox._workers._tree import copy_tree

    copy = tmp / f"copy-{len(list(tmp.iterdir()))}"
    copy_tree(root, copy, mine, deleted)
    done = subprocess.run(["sh", "-c", "find . -type f | sort | while read f; do printf '%s\\t' \"$f\"; "
                           "cat \"$f\" | od -An -c | tr -d ' \\n'; echo; done"],
                          cwd=copy, capture_output=True, text=True, check=True)
    return {line.partition("\t")[0][2:]: line.partition("\t")[2] for line in done.stdout.splitlines()}


@needs_bwrap
@pytest.mark.parametrize("mine, deleted", [
    ({"pkg/a.py": "A = 2\n"}, frozenset()),                                # changed in place: a file bind
    ({"pkg/new.py": "N = 1\n"}, frozenset()),                              # added: pkg/ shadowed
    ({"pkg/deep/er/x.py": "X = 1\n"}, frozenset()),                        # added in new directories
    ({"top.py": "T = 1\n"}, frozenset({"pkg/b.py"})),                      # root shadowed, a deletion
    ({"pkg/sub/c.py": "C = 3\n", "pkg/d.py": "D = 1\n"}, frozenset({"pkg/a.py"})),  # nested
])
def test_the_view_is_the_copy(tmp_path, mine, deleted):
    root = write_tree(tmp_path / "repo", {"pkg/__init__.py": "", "pkg/a.py": "A = 1\n", "pkg/b.py": "B = 1\n",
                                          "pkg/sub/c.py": "C = 1\n", "main.py": "M = 1\n",
                                          ".git/HEAD": "ref", ".sandbox/ledger.jsonl": "x"})
    before = snapshot(root)
    assert view(root, mine, deleted) == expected(root, mine, deleted, tmp_path)
    assert snapshot(root) == before


_names = st.sampled_from(["a.py", "b.py", "pkg/c.py", "pkg/d.py", "pkg/q/e.py", "new/f.py", "new/g/h.py"])


@needs_bwrap
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(existing=st.dictionaries(_names, st.sampled_from(["1\n", "2\n"]), min_size=1),
       mine=st.dictionaries(_names, st.sampled_from(["3\n", "4\n"])),
       deleted=st.frozensets(_names))
def test_any_side_is_shown_as_its_copy(tmp_path_factory, existing, mine, deleted):
    tmp = tmp_path_factory.mktemp("b")
    root = write_tree(tmp / "repo", {k: v.encode() for k, v in existing.items()})
    deleted = frozenset(d for d in deleted if d in existing and d not in mine)
    # A name cannot be a file and a directory at once: drop writes that would need one.
    mine = {k: v for k, v in mine.items() if not any(e.startswith(k + "/") for e in existing)
            and not any(k.startswith(e + "/") for e in existing)}
    assert view(root, mine, deleted) == expected(root, mine, deleted, tmp)


@needs_bwrap
def test_a_worker_on_a_bound_view_imports_the_side_and_cannot_write_the_tree(make_repo):
    root = make_repo({"pkg/__init__.py": "", "pkg/calc.py": LISTER + "\nVALUE = 1\n"})
    before = snapshot(root)
    text = (root / "pkg/calc.py").read_text()
    after = {"pkg/calc.py": text.replace("VALUE = 1", "VALUE = 2"), "pkg/extra.py": "E = 1\n"}
    with IsolatedExecutor(root, {"pkg/calc.py": text}, after) as ex:
        old, new = (ex.call(side, "pkg.calc:listing", (), {}) for side in ("old", "new"))
        assert old.value == ["pkg/__init__.py", "pkg/calc.py"]
        assert new.value == ["pkg/__init__.py", "pkg/calc.py", "pkg/extra.py"]
        assert "VALUE = 2" in ex.call("new", "pkg.calc:read", ("pkg/calc.py",), {}).value
        assert "VALUE = 1" in ex.call("old", "pkg.calc:read", ("pkg/calc.py",), {}).value
    assert snapshot(root) == before


def test_without_bubblewrap_the_tree_is_still_copied(make_repo):
    root = make_repo({"pkg/__init__.py": "", "pkg/calc.py": LISTER})
    with IsolatedExecutor(root, {}, {"pkg/more.py": "M = 1\n"}, _layers=("rlimits", "audit-hook")) as ex:
        assert ex.call("new", "pkg.calc:listing", (), {}).value == ["pkg/__init__.py", "pkg/calc.py", "pkg/more.py"]
        assert (ex._root / "new" / "tree" / "pkg" / "more.py").is_file()
