"""Effects beyond the changed file: the repository index and what the planner asks of it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import sandbox._effects as effects_pkg
import sandbox._effects._index as index_module
from properties import Kind, Policy
from sandbox._changes import ChangeKind, analyse
from sandbox._config import Config
from sandbox._effects import Effects, RepoIndex, data_readers, doc_readers, importers, override_problem, shadowing
from sandbox._errors import PatchError
from sandbox._patch import Patch
from sandbox._planner import plan
from tests.conftest import write_tree


def test_public_surface_is_exactly_all():
    public = {n for n in vars(effects_pkg) if not n.startswith("_")}
    assert set(effects_pkg.__all__) == public - {"annotations"}


def planned(root: Path, files: dict, *, with_root: bool = True):
    changes = analyse(Patch.from_files(files).resolve(root))
    resolved = Patch.from_files(files).resolve(root)
    before = {f.path: f.before_text for f in resolved if f.before_text is not None}
    after = {f.path: f.after_text for f in resolved if f.after_text is not None}
    return plan(changes, (), Config(), Policy(), before, after, root=root if with_root else None).obligations


# ------------------------------------------------------------------ cost follows the change


def test_a_patch_that_deletes_nothing_and_exports_nothing_new_never_walks(make_repo, monkeypatch):
    root = make_repo({"a.py": "def f(x: int) -> int:\n    return x\n", "b.py": "import a\n"})

    def refuse(*args, **kwargs):
        raise AssertionError("the repository was walked")

    monkeypatch.setattr(index_module.os, "walk", refuse)
    found = planned(root, {"a.py": "def f(x: int) -> int:\n    return x + 0\n\n\ndef _g() -> int:\n    return 1\n"})
    assert {o.kind for o in found} >= {Kind.POLICY, Kind.EQUIVALENT}


def test_a_new_public_name_looks_for_star_importers(make_repo):
    """``from a import *`` elsewhere would bind it: the tree is read to find those modules."""
    root = make_repo({"a.py": "def f(x: int) -> int:\n    return x\n",
                      "b.py": "from a import *\n\n\ndef n(xs: list) -> int:\n    return len(xs)\n"})
    found = planned(root, {"a.py": "def f(x: int) -> int:\n    return x\n\n\ndef len(xs: list) -> int:\n"
                                   "    return 0\n"})
    readers = [o for o in found if o.target == "b.n"]
    assert readers and readers[0].kind is Kind.EQUIVALENT and "now exports" in readers[0].reason


def test_a_deletion_walks_and_skips_virtualenvs_caches_and_the_ledger(make_repo):
    root = make_repo({"m.py": "X = 1\n", **{f"{d}/user.py": "import m\n" for d in
                      (".venv", "venv", "node_modules", "__pycache__", ".sandbox", ".git", "env")}})
    write_tree(root, {"env/pyvenv.cfg": "home = /usr\n"})
    index = RepoIndex(root, {"m.py": None}, skip=(".sandbox",))
    assert not index.walked
    assert importers(index, "m") == []
    assert index.walked


# ------------------------------------------------------------------ importers


@pytest.mark.parametrize(("path", "text"), [
    ("a.py", "import pkg.mod\n"),
    ("a.py", "import pkg.mod.sub as s\n"),
    ("a.py", "from pkg.mod import x\n"),
    ("a.py", "from pkg import mod\n"),
    ("pkg/b.py", "from . import mod\n"),
    ("pkg/b.py", "from .mod import x\n"),
    ("pkg/inner/c.py", "from ..mod import x\n"),
    ("pkg/__init__.py", "from .mod import x\n"),
    ("a.py", "def f():\n    import pkg.mod\n"),
])
def test_every_import_form_counts(make_repo, path, text):
    root = make_repo({"pkg/__init__.py": "", "pkg/inner/__init__.py": "", path: text})
    assert importers(RepoIndex(root), "pkg.mod") == [(path, text.count("\n"))]


def test_relative_imports_that_never_name_the_module_count(make_repo):
    root = make_repo({"pkg/__init__.py": "x = 1\n", "pkg/inner/__init__.py": "",
                      "pkg/inner/c.py": "from .. import x\n"})
    assert importers(RepoIndex(root, {"pkg/__init__.py": None}), "pkg") == [("pkg/inner/c.py", 1)]


def test_look_alike_imports_do_not_count(make_repo):
    root = make_repo({"a.py": "import pkg.module\nfrom pkg import modx\nimport mod\n# import pkg.mod\n",
                      "pkg/__init__.py": ""})
    assert importers(RepoIndex(root), "pkg.mod") == []


def test_importers_fixed_or_deleted_by_the_patch_do_not_count(make_repo):
    root = make_repo({"a.py": "import m\n", "b.py": "import m\n"})
    assert importers(RepoIndex(root, {"a.py": "X = 1\n", "b.py": None}), "m") == []


def test_a_module_moved_into_a_package_of_the_same_name_breaks_nobody(make_repo):
    root = make_repo({"utils.py": "X = 1\n", "a.py": "import utils\n"})
    found = Effects(root, {"utils.py": None, "utils/__init__.py": "X = 1\n"}).broken_importers("utils.py")
    assert found == []


# ------------------------------------------------------------------ shadowing


@pytest.mark.parametrize(("existing", "new", "shadows"), [
    ("utils.py", "utils/__init__.py", True),
    ("a/b/utils.py", "a/b/utils/__init__.py", True),
    ("a/b/utils.py", "a/b/utils/deep/x.py", True),
    ("utils/__init__.py", "utils.py", True),
    ("a/utils/x.py", "a/utils.py", True),
    ("utils.py", "other/__init__.py", False),
    ("a/utils.py", "b/utils/__init__.py", False),
    ("utils/__init__.py", "utils/more.py", False),
])
def test_shadowing_at_any_level(make_repo, existing, new, shadows):
    root = make_repo({existing: "X = 1\n"})
    assert bool(shadowing(RepoIndex(root, {new: "Y = 2\n"}), new)) is shadows


# ------------------------------------------------------------------ readers of data and docstrings


def test_data_readers_follow_literals_constants_and_class_attributes(make_repo):
    root = make_repo({"r.py": (
        'PATH = "conf/cfg.json"\nOTHER = 1\n\n\ndef direct() -> str:\n    return open("cfg.json").read()\n\n\n'
        'def via_constant() -> str:\n    return PATH\n\n\ndef unrelated() -> int:\n    return OTHER\n\n\n'
        'class Loader:\n    name = "cfg.json"\n\n    def load(self) -> str:\n        return self.name\n')})
    readers, problems = data_readers(RepoIndex(root), "conf/cfg.json")
    assert {r.qualname for r in readers} == {"r.direct", "r.via_constant", "r.Loader.load"}
    assert problems == []


def test_data_read_by_module_code_or_an_unread_constant_is_a_problem(make_repo):
    root = make_repo({"r.py": 'import json\n\nprint(open("cfg.json").read())\nUNUSED = "cfg.json"\n'})
    _, problems = data_readers(RepoIndex(root), "cfg.json")
    assert any("r.py:3" in p for p in problems) and any("UNUSED" in p for p in problems)


def test_doc_readers(make_repo):
    root = make_repo({"d.py": "import inspect\n\n\ndef a(f) -> str:\n    return f.__doc__\n\n\n"
                              "def b(f) -> str:\n    return inspect.getdoc(f)\n\n\ndef c() -> int:\n    return 1\n"})
    readers, _ = doc_readers(RepoIndex(root))
    assert {r.qualname for r in readers} == {"d.a", "d.b"}


# ------------------------------------------------------------------ bases of a subclass


BASES = {
    "pkg/__init__.py": "",
    "pkg/base.py": "class Root:\n    def run(self) -> int:\n        return 1\n\n\n"
                   "class Mid(Root):\n    limit = 3\n\n\nclass Hook:\n    def peek(self, name: str) -> int:\n"
                   "        return getattr(self, name)\n",
    "pkg/sub.py": "from .base import Mid\nfrom . import base\nimport pkg.base as pb\nfrom outside import Thing\n\n\n"
                  "class A(Mid):\n    pass\n\n\nclass B(base.Hook):\n    pass\n\n\nclass C(pb.Root):\n    pass\n\n\n"
                  "class D(Thing):\n    pass\n\n\nclass E(Exception):\n    pass\n\n\nclass F(A):\n    pass\n",
}


@pytest.mark.parametrize(("owner", "member", "says"), [
    ("pkg.sub.A", "fresh", ""),
    ("pkg.sub.F", "fresh", ""),
    ("pkg.sub.C", "fresh", ""),
    ("pkg.sub.E", "fresh", ""),
    ("pkg.sub.A", "run", "Root (pkg/base.py:1) defines run"),
    ("pkg.sub.F", "limit", "Mid (pkg/base.py:6) defines limit"),
    ("pkg.sub.B", "fresh", "looks members up dynamically"),
    ("pkg.sub.D", "fresh", "cannot see the base class outside.Thing"),
    ("pkg.sub.E", "args", "builtins.Exception has a member args"),
])
def test_override_problem_follows_bases_through_the_repository(make_repo, owner, member, says):
    root = make_repo(BASES)
    problem = override_problem(RepoIndex(root), "pkg/sub.py", owner, member)
    assert (says in problem and problem) if says else problem == ""


def test_without_the_repository_a_member_on_a_subclass_is_rejected_as_before(make_repo):
    root = make_repo(BASES)
    new = BASES["pkg/sub.py"].replace("class A(Mid):\n    pass\n", "class A(Mid):\n    pass\n\n"
                                      "    def fresh(self) -> int:\n        return 1\n")
    without = [o for o in planned(root, {"pkg/sub.py": new}, with_root=False) if o.kind is Kind.UNANALYSABLE]
    assert [o.target for o in without] == ["pkg.sub.A.fresh"]
    assert not [o for o in planned(root, {"pkg/sub.py": new}) if o.kind is Kind.UNANALYSABLE]


# ------------------------------------------------------------------ changes inside the touched file


def test_an_added_star_import_marks_functions_reading_names_the_module_does_not_bind(make_repo):
    root = make_repo({"m.py": "K = 2\n\n\ndef uses_builtin(xs: list) -> int:\n    return len(xs)\n\n\n"
                              "def local_only(x: int) -> int:\n    y = x\n    return y * K\n"})
    text = "from helpers import *\n\n" + (root / "m.py").read_text()
    changes = analyse(Patch.from_files({"m.py": text}).resolve(root))
    assert changes.get("m.uses_builtin").change is ChangeKind.MODIFIED
    assert changes.get("m.uses_builtin").because == ("m.*",)
    assert changes.get("m.local_only") is None


@pytest.mark.parametrize("binding", ["len = 3\n", "def len(x) -> int:\n    return 0\n",
                                     "import os as len\n", "from os import sep as len\n"])
def test_a_new_module_binding_of_a_builtin_marks_its_readers(make_repo, binding):
    root = make_repo({"m.py": "def f(xs: list) -> int:\n    return len(xs)\n"})
    changes = analyse(Patch.from_files({"m.py": binding + "\n\n" + (root / "m.py").read_text()}).resolve(root))
    assert changes.get("m.f").because == ("m.len",)


@pytest.mark.parametrize(("body", "marked"), [
    ("return getattr(self, name)", True),
    ("return hasattr(self, 'extra')", True),
    ("return hasattr(self, 'other')", False),
    ("return len(vars(self))", True),
    ("return len(self.__dict__)", True),
    ("return len(dir(self))", True),
    ("return len(name)", False),
])
def test_an_added_member_marks_methods_with_dynamic_lookups(make_repo, body, marked):
    old = f"class C:\n    def look(self, name: str) -> object:\n        {body}\n"
    root = make_repo({"m.py": old})
    new = old + "\n    extra = 1\n"
    change = analyse(Patch.from_files({"m.py": new}).resolve(root)).get("m.C.look")
    assert (change is not None and change.because == ("m.C.extra",)) is marked


def test_a_member_added_to_a_base_marks_dynamic_methods_of_its_subclasses_in_the_file(make_repo):
    old = ("class C:\n    pass\n\n\nclass D(C):\n    def look(self, name: str) -> object:\n"
           "        return getattr(self, name)\n")
    root = make_repo({"m.py": old})
    new = old.replace("    pass\n", "    pass\n\n    extra = 1\n")
    change = analyse(Patch.from_files({"m.py": new}).resolve(root)).get("m.D.look")
    assert change is not None and change.because == ("m.C.extra",)


# ------------------------------------------------------------------ symlinks at intake


def test_symlink_diffs_resolve_to_symlink_changes_and_escapes_stay_errors(make_repo):
    root = make_repo({"a.py": "X = 1\n"})
    diff = "diff --git a/l.py b/l.py\nnew file mode 120000\n--- /dev/null\n+++ b/l.py\n@@ -0,0 +1 @@\n+a.py\n"
    (change,) = Patch.from_diff(diff).resolve(root)
    assert change.symlink and change.path == "l.py"
    assert analyse([change]).files[0].status == "symlink"
    with pytest.raises(PatchError):
        Patch.from_diff(diff.replace("l.py", "../l.py"))


def test_a_link_diff_after_a_commit_message_and_beside_a_file_diff(make_repo):
    root = make_repo({"a.py": "X = 1\n"})
    link = "diff --git a/l.py b/l.py\nnew file mode 120000\n--- /dev/null\n+++ b/l.py\n@@ -0,0 +1 @@\n+a.py\n"
    plain = "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-X = 1\n+X = 2\n"
    assert [c.path for c in Patch.from_diff("Subject: x\n\nmessage\n" + link).resolve(root)] == ["l.py"]
    changes = Patch.from_diff(plain + link).resolve(root)
    assert [(c.path, c.symlink) for c in changes] == [("a.py", False), ("l.py", True)]
    with pytest.raises(PatchError):
        Patch.from_diff("")


def test_writing_a_file_that_is_a_symlink_is_a_symlink_change(make_repo):
    root = make_repo({"a.py": "X = 1\n"})
    os.symlink("a.py", root / "l.py")
    (change,) = Patch.from_files({"l.py": "Y = 2\n"}).resolve(root)
    assert change.symlink and change.before == b"a.py"
    obligations = planned(root, {"l.py": "Y = 2\n"})
    assert [(o.kind, o.rule) for o in obligations] == [(Kind.PROTECTED, "symlink")]
