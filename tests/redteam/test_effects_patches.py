"""Red team for effects beyond the changed file (issue 9, part 4), through `sandbox check`.

Each class of effect has hostile patches, rejected with their rule or reason, and a
benign look-alike that is accepted; after every check the tree is byte-for-byte as it was.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import cli_check, snapshot, write_tree

REPO = {
    "pyproject.toml": '[project]\nname = "victim"\n\n[tool.sandbox]\nseed = 1\nunchecked = ["*.md", "*.txt"]\n',
    "README.md": "# victim\n",
    "pkg/__init__.py": "",
    "pkg/utils.py": "def _norm(x: int) -> int:\n    return x\n",
    "app.py": "from pkg import utils\n\n\ndef run(x: int) -> int:\n    return utils._norm(x)\n",
    "tools.py": "import pkg.utils as pu\n\n\ndef go(x: int) -> int:\n    return pu._norm(x)\n",
    "lib/__init__.py": "",
    "lib/_helpers.py": "def _twice(x: int) -> int:\n    return 2 * x\n",
    "lib/core.py": "from ._helpers import _twice\n\n\ndef quad(x: int) -> int:\n    return _twice(_twice(x))\n",
    "_cfg.py": "_DEPTH = 3\n",
    "settings.py": "import _cfg\n\n\ndef depth() -> int:\n    return _cfg._DEPTH\n",
    "orphan/_scratch.py": "def _unused(x: int) -> int:\n    return x\n",
    "mathx.py": "def sum(xs: list) -> int:\n    return 0\n",
    "pure.py": "def double(x: int) -> int:\n    y = x * 2\n    return y\n",
    "calc.py": "def total(xs: list[int]) -> int:\n    return sum(xs)\n\n\ndef biggest(x: int, y: int) -> int:\n"
               "    return max(x, y)\n",
    "base.py": ('class Base:\n    def run(self) -> int:\n        """Run."""\n        return 1\n\n\n'
                'class Dyn:\n    def __getattr__(self, name: str) -> int:\n        return 0\n'),
    "shapes.py": ('from base import Base, Dyn\n\n\nclass Square(Base):\n    def area(self) -> int:\n'
                  '        """Four."""\n        return 4\n\n\nclass Ghost(Dyn):\n    pass\n\n\n'
                  'class Table(dict):\n    pass\n'),
    "registry.py": ('class Registry:\n    def names(self) -> list[str]:\n'
                    '        return sorted(k for k in dir(self) if k.startswith("op_"))\n\n'
                    '    def op_a(self) -> int:\n        return 1\n\n\n'
                    'class Plain:\n    def one(self) -> int:\n        return 1\n'),
    "data/limits.json": '{"max": 3}\n',
    "thresholds.txt": "7\n",
    "limits.py": ('import json\nimport pathlib\n\nHERE = pathlib.Path(__file__).parent\n'
                  'THRESHOLDS = "thresholds.txt"\n\n\ndef max_limit() -> int:\n'
                  '    return json.loads((HERE / "data" / "limits.json").read_text())["max"]\n\n\n'
                  'def threshold() -> int:\n    return int((HERE / THRESHOLDS).read_text())\n'),
}

DOCS = {
    "helpdoc.py": "import shapes\n\n\ndef describe() -> str:\n    return shapes.Square.area.__doc__ or ''\n",
}


def _diff(path: str, old: str, new: str) -> str:
    return f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1 +1 @@\n-{old}\n+{new}\n"


@dataclass(frozen=True)
class Case:
    name: str
    patch: object                  # JSON files map, or a diff (str)
    rules: frozenset = frozenset()
    says: tuple = ()               # substrings of some failed obligation's reason or detail
    level: str = ""
    exit: int = 1
    extra: dict = field(default_factory=dict)   # extra repository files


STARS = {
    "starlib.py": "def double(x: int) -> int:\n    return 2 * x\n",
    "starall.py": '__all__ = ["double", "scale"]\n\n\ndef double(x: int) -> int:\n    return 2 * x\n\n\n'
                  'def scale(x: int) -> int:\n    return 10 * x\n\n\ndef len(xs: list) -> int:\n    return 0\n',
    "user.py": ("LIMIT = 3\n\nfrom starlib import *\nfrom starall import *\n\n\n"
                "def steps(xs: list[int]) -> int:\n    return len(xs) + double(1)\n\n\n"
                "def cap(x: int) -> int:\n    return min(x, LIMIT)\n\n\n"
                "def scaled(x: int) -> int:\n    return scale(x)\n"),
}
REGISTRY = {
    "models.py": ('REGISTRY = {}\n\n\ndef register(fn):\n    REGISTRY[fn.__name__] = fn\n    return fn\n\n\n'
                  'def register_as(name):\n    def put(fn):\n        REGISTRY[name] = fn\n        return fn\n'
                  '    return put\n\n\ndef plain(fn):\n    return fn\n\n\n'
                  'def build(name: str, x: int) -> int:\n    return REGISTRY[name](x)\n\n\n'
                  '@register\ndef relu(x: int) -> int:\n    return max(0, x)\n'),
    "net.py": "from models import build, plain, register, register_as\nimport models\n\n\n"
              "def step(x: int) -> int:\n    return build('relu', x)\n",
}
NET = REGISTRY["net.py"]
SQUARE = REPO["shapes.py"]
VARS = REPO["registry.py"].replace("dir(self)", "vars(type(self))")
HOSTILE = [
    # Repository code called at import that writes its own module's globals changes its readers.
    Case("registration-decorator", {"net.py": NET + "\n\n@register\ndef relu(x: int) -> int:\n    return x\n"},
         frozenset({"module-mutation"}), says=("models.REGISTRY",), extra=REGISTRY),
    Case("registration-factory", {"net.py": NET + "\n\n@register_as('relu')\ndef fast(x: int) -> int:\n"
                                  "    return x\n"}, frozenset({"module-mutation"}), extra=REGISTRY),
    Case("registration-in-the-same-file", {"models.py": REGISTRY["models.py"] + "\n\n@register\ndef gelu(x: int) "
                                           "-> int:\n    return x\n"}, frozenset({"ambient-state"}),
         says=("models.REGISTRY",), extra=REGISTRY),
    Case("registration-at-module-level", {"net.py": NET + "\n\ndef relu(x: int) -> int:\n    return x\n\n\n"
                                          "models.register(relu)\n"}, frozenset({"module-mutation"}),
         extra=REGISTRY),
    # A name a module gains reaches every module that star-imports it, though their source is untouched.
    Case("star-export-shadows-builtin", {"starlib.py": STARS["starlib.py"] + "\n\ndef len(xs: list) -> int:\n"
                                         "    return 0\n"}, level="REFUTED", says=("user.steps",), extra=STARS),
    Case("star-export-overrides-global", {"starlib.py": STARS["starlib.py"] + "\nLIMIT = 100\n"},
         level="REFUTED", says=("user.cap",), extra=STARS),
    Case("all-drops-a-name", {"starall.py": STARS["starall.py"].replace('["double", "scale"]', '["double"]')},
         level="REFUTED", says=("user.scaled",), extra=STARS),
    Case("all-gains-a-name", {"starall.py": STARS["starall.py"].replace('"scale"]', '"scale", "len"]')},
         level="REFUTED", says=("user.steps",), extra=STARS),
    # 1. deleted or renamed modules that others import
    Case("delete-imported-private-module", {"pkg/utils.py": None}, frozenset({"removed-definition"}),
         says=("app.py:1", "tools.py:1")),
    Case("rename-relatively-imported-module",
         "diff --git a/lib/_helpers.py b/lib/_help.py\nsimilarity index 100%\nrename from lib/_helpers.py\n"
         "rename to lib/_help.py\n", frozenset({"removed-definition"}), says=("lib/core.py:1",)),
    Case("delete-top-level-module", {"_cfg.py": None}, frozenset({"removed-definition"}), says=("settings.py:1",)),
    # 2. new modules shadowing repository modules
    Case("package-next-to-module", {"pkg/utils/__init__.py": "X = 1\n"}, frozenset({"module-shadowing"})),
    Case("namespace-dir-next-to-module", {"base/extra.py": "X = 1\n"}, frozenset({"module-shadowing"})),
    Case("module-next-to-package", {"lib.py": "X = 1\n"}, frozenset({"module-shadowing"})),
    # 3. star imports and builtin rebinding
    Case("star-import-rebinds-sum", {"calc.py": "from mathx import *\n\n\n" + REPO["calc.py"]}, level="REFUTED",
         says=("calc.*",)),
    Case("def-shadows-builtin", {"calc.py": REPO["calc.py"] + "\n\ndef max(x: int, y: int) -> int:\n    return x\n"},
         level="REFUTED", says=("calc.max",)),
    Case("import-as-builtin", {"calc.py": "from operator import sub as max\n\n\n" + REPO["calc.py"]}, level="REFUTED",
         says=("calc.max",)),
    # 4. members added to classes with dynamic lookups
    Case("member-seen-by-dir", {"registry.py": REPO["registry.py"].replace(
        "    def op_a(self)", "    def op_b(self) -> int:\n        return 2\n\n    def op_a(self)")},
         says=("registry.Registry.op_b",)),
    Case("member-seen-by-vars",
         {"registry.py": VARS.replace("    def op_a(self)", "    op_c = 3\n\n    def op_a(self)")},
         says=("registry.Registry.op_c",), extra={"registry.py": VARS}),
    Case("member-seen-by-getattr-hook", {"registry.py": REPO["registry.py"].replace(
        "class Plain:\n", "class Plain:\n    def __getattr__(self, name: str) -> int:\n        return 0\n\n").replace(
        "    def one(self)", "    def two(self) -> int:\n        return 2\n\n    def one(self)")},
         extra={"registry.py": REPO["registry.py"].replace(
             "class Plain:\n", "class Plain:\n    def __getattr__(self, name: str) -> int:\n        return 0\n\n")},
         says=("defines __getattr__, so `two` is answered by __getattr__",)),
    # 6. members added to subclasses
    Case("override-repo-base", {"shapes.py": SQUARE.replace("        return 4\n", "        return 4\n\n"
                                "    def run(self) -> int:\n        return 2\n", 1)},
         says=("Base (base.py:1)", "defines run")),
    Case("base-with-getattr", {"shapes.py": SQUARE.replace("class Ghost(Dyn):\n    pass\n",
                               "class Ghost(Dyn):\n    def seen(self) -> int:\n        return 1\n")},
         says=("__getattr__",)),
    Case("override-builtin-base", {"shapes.py": SQUARE.replace("class Table(dict):\n    pass\n",
                                   "class Table(dict):\n    def get(self) -> int:\n        return 1\n")},
         says=("builtins.dict has a member get",)),
    # 5. data files read by code
    Case("data-changes-reader-result", {"data/limits.json": '{"max": 4}\n'}, level="REFUTED",
         says=("limits.max_limit",)),
    Case("data-through-constant", {"thresholds.txt": "8\n"}, level="REFUTED", says=("limits.threshold",)),
    Case("data-deleted", {"data/limits.json": None}, level="REFUTED", says=("limits.max_limit",)),
    # 8. docstrings read by code
    Case("docstring-read-by-__doc__", {"shapes.py": SQUARE.replace('"""Four."""', '"""Five."""')},
         level="REFUTED", says=("helpdoc.describe",), extra=DOCS),
    Case("docstring-read-by-getdoc", {"shapes.py": SQUARE.replace('"""Four."""', '"""Five."""')},
         level="REFUTED", says=("helpdoc.describe",),
         extra={"helpdoc.py": "import inspect\n\nimport shapes\n\n\ndef describe() -> str:\n"
                              "    return inspect.getdoc(shapes.Square.area) or ''\n"}),
    Case("module-docstring-read", {"shapes.py": '"""Shapes."""\n' + SQUARE}, level="REFUTED",
         says=("docstring of module shapes",),
         extra={"helpdoc.py": "import shapes\n\n\ndef describe() -> str:\n    return shapes.__doc__ or ''\n"}),
    Case("docstring-read-at-import", {"shapes.py": SQUARE.replace('"""Four."""', '"""Five."""')},
         says=("module-level code at helpdoc.py:3",),
         extra={"helpdoc.py": "import shapes\n\nprint(shapes.Square.area.__doc__)\n"}),
]

BENIGN = [
    Case("repo-decorator-without-state", {"net.py": NET + "\n\n@plain\ndef helper(x: int) -> int:\n"
                                          "    return x\n"}, exit=0, extra=REGISTRY),
    Case("star-export-nobody-reads", {"starlib.py": STARS["starlib.py"] + "\n\ndef triple(x: int) -> int:\n"
                                      "    return 3 * x\n"}, exit=0, extra=STARS),
    Case("delete-module-nobody-imports", {"orphan/_scratch.py": None}, exit=0),
    Case("fresh-package", {"pkg/fresh/__init__.py": "X = 1\n"}, exit=0),
    Case("star-import-into-self-contained-functions", {"pure.py": "from mathx import *\n\n\n" + REPO["pure.py"]},
         exit=0),
    Case("new-binding-of-a-non-builtin-name", {"calc.py": "maximum = 3\n\n\n" + REPO["calc.py"]}, exit=0),
    Case("member-on-plain-class", {"registry.py": REPO["registry.py"].replace(
        "    def one(self)", "    def two(self) -> int:\n        return 2\n\n    def one(self)")}, exit=0),
    Case("new-member-on-repo-subclass", {"shapes.py": SQUARE.replace("        return 4\n", "        return 4\n\n"
                                         "    def perimeter(self) -> int:\n        return 16\n", 1)}, exit=0),
    Case("data-same-result", {"data/limits.json": '{"max": 3, "min": 0}\n'}, exit=0),
    Case("docstring-nobody-reads", {"base.py": REPO["base.py"].replace('"""Run."""', '"""Run it."""')}, exit=0),
    Case("docstring-reader-unaffected", {"base.py": REPO["base.py"].replace('"""Run."""', '"""Run it."""')}, exit=0,
         extra=DOCS),
]


check = cli_check


def run_case(make_repo, tmp_path: Path, case: Case) -> dict:
    root = make_repo({**REPO, **case.extra})
    patch = tmp_path / "patch"
    patch.write_text(case.patch if isinstance(case.patch, str) else json.dumps({"files": case.patch}))
    before = snapshot(root)
    code, report, err = check(root, patch)
    assert snapshot(root) == before
    assert code == case.exit, err or json.dumps(report, indent=1)
    assert report is not None
    return report


@pytest.mark.parametrize("case", HOSTILE + BENIGN, ids=lambda c: c.name)
def test_effects_corpus(make_repo, tmp_path, case: Case):
    report = run_case(make_repo, tmp_path, case)
    rules = {v["rule"] for v in report["violations"]}
    assert case.rules <= rules, rules
    failed = [o for o in report["obligations"] if not o["ok"]]
    if case.level:
        assert case.level in {o["level"] for o in failed}, json.dumps(failed, indent=1)
    for words in case.says:
        assert any(words in o["reason"] + o["detail"] + o["target"] for o in failed), json.dumps(failed, indent=1)


SYMLINKS = {
    "create-link": "diff --git a/link.py b/link.py\nnew file mode 120000\n--- /dev/null\n+++ b/link.py\n"
                   "@@ -0,0 +1 @@\n+app.py\n\\ No newline at end of file\n",
    "delete-link": "diff --git a/current.json b/current.json\ndeleted file mode 120000\n--- a/current.json\n"
                   "+++ /dev/null\n@@ -1 +0,0 @@\n-data/limits.json\n\\ No newline at end of file\n",
    "file-becomes-link": "diff --git a/app.py b/app.py\nold mode 100644\nnew mode 120000\n",
    "write-through-link-file": json.dumps({"files": {"current.json": '{"max": 9}\n'}}),
    "edit-link-file": json.dumps({"edits": [{"path": "current.json", "old_str": "3", "new_str": "9"}]}),
    "plain-diff-against-link": "--- a/current.json\n+++ b/current.json\n@@ -1 +1 @@\n-{\"max\": 3}\n+{\"max\": 9}\n",
    "delete-link-by-file-map": json.dumps({"files": {"current.json": None}}),
}


@pytest.mark.parametrize("name", sorted(SYMLINKS))
def test_symlink_changes_are_rule_violations(make_repo, tmp_path, name):
    root = make_repo(REPO)
    os.symlink("data/limits.json", root / "current.json")
    patch = tmp_path / "patch"
    patch.write_text(SYMLINKS[name])
    before = snapshot(root)
    code, report, err = check(root, patch)
    assert snapshot(root) == before
    assert code == 1, err or json.dumps(report, indent=1)
    assert "symlink" in {v["rule"] for v in report["violations"]}


@pytest.mark.parametrize("patch", [
    json.dumps({"files": {"linked/app.py": "x = 1\n"}}),
    "diff --git a/../out b/../out\nnew file mode 120000\n--- /dev/null\n+++ b/../out\n@@ -0,0 +1 @@\n+x\n",
])
def test_escapes_stay_bad_input(make_repo, tmp_path, patch):
    root = make_repo(REPO)
    os.symlink(root / "lib", root / "linked")
    (tmp_path / "patch").write_text(patch)
    before = snapshot(root)
    code, report, err = check(root, tmp_path / "patch")
    assert snapshot(root) == before
    assert code == 2, err or json.dumps(report, indent=1)


def test_data_file_in_an_unchecked_glob_is_still_checked_through_its_readers(make_repo, tmp_path):
    report = run_case(make_repo, tmp_path, Case("txt", {"thresholds.txt": "9\n"}))
    assert any(o["target"] == "limits.threshold" and o["level"] == "REFUTED" for o in report["obligations"])
    assert "thresholds.txt" not in report.get("unchecked", {})


def test_tests_naming_a_data_file_are_not_readers(make_repo, tmp_path):
    extra = {"tests/test_notes.py": "def test_notes(tmp_path):\n    assert 'notes.txt'\n"}
    report = run_case(make_repo, tmp_path, Case("notes", {"notes.txt": "new\n"}, exit=0, extra=extra))
    assert not report["obligations"]


def test_data_file_nobody_names_keeps_the_unchecked_rule(make_repo, tmp_path):
    report = run_case(make_repo, tmp_path, Case("readme", {"README.md": "# victim\n\nMore.\n"}, exit=0))
    assert not report["obligations"]


def test_unnamed_data_file_outside_the_globs_stays_unanalysable(make_repo, tmp_path):
    report = run_case(make_repo, tmp_path, Case("ini", {"setup.cfg": "[x]\n"}))
    assert [o["level"] for o in report["obligations"]] == ["UNKNOWN"]


def test_new_repo_subclass_member_without_the_repository_is_rejected_as_before(make_repo, tmp_path):
    write_tree(tmp_path, {})
    case = BENIGN[4]
    report = run_case(make_repo, tmp_path, case)
    assert report["accepted"]
