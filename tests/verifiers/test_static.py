"""The static policy verifier: the red-team corpus, aliasing, introduced-only reporting, policy knobs."""

from __future__ import annotations

import keyword
import textwrap
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import verifiers.static
from properties import RULES, Kind, Obligation, Policy
from verifiers import Context, Evidence, Level, get
from verifiers.static import StaticPolicy

CORPUS = Path(__file__).parent / "static_corpus"
CORPUS_FILES = sorted(CORPUS.glob("*.py"))
FILE_RULES = {"protected-path", "removed-definition", "module-shadowing", "runtime-audit", "symlink"}


def expected_rules(path: Path) -> set[str]:
    """The ``# expect: a, b`` (or ``# expect: nothing``) header of a corpus file."""
    header = path.read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("# expect:"), f"{path.name} lacks an '# expect:' header"
    listed = header.split(":", 1)[1].strip()
    return set() if listed == "nothing" else {rule.strip() for rule in listed.split(",")}


def policy_ob(path: str = "train.py") -> Obligation:
    return Obligation(target=path, kind=Kind.POLICY, path=path, reason="the patch touches this file")


def check(after: str | None, before: str | None = None, path: str = "train.py",
          policy: Policy | None = None) -> Evidence:
    """Run the verifier on one file given its old and new text (``None``: absent on that side)."""
    def side(text: str | None) -> dict[str, str]:
        return {} if text is None else {path: textwrap.dedent(text).lstrip("\n")}
    context = Context(before=side(before), after=side(after), policy=policy or Policy())
    return StaticPolicy().check(policy_ob(path), context)


def rules_of(evidence: Evidence) -> set[str]:
    return {v.rule for v in evidence.violations}


# -- the public surface --------------------------------------------------------------------

def test_public_surface_is_exactly_the_verifier() -> None:
    assert verifiers.static.__all__ == ["StaticPolicy"]


def test_registry_returns_the_static_policy() -> None:
    verifier = get("static")
    assert isinstance(verifier, StaticPolicy)
    assert verifier.name == "static"


# -- the red-team corpus -------------------------------------------------------------------

@pytest.mark.parametrize("path", CORPUS_FILES, ids=[p.stem for p in CORPUS_FILES])
def test_corpus_example(path: Path) -> None:
    expected = expected_rules(path)
    evidence = StaticPolicy().check(policy_ob(), Context(before={}, after={"train.py": path.read_text()}))
    assert rules_of(evidence) == expected, evidence.detail
    assert evidence.level is (Level.VIOLATION if expected else Level.PASSED)


def test_corpus_covers_every_source_rule_with_hostile_and_benign_examples() -> None:
    hostile = set().union(*(expected_rules(p) for p in CORPUS_FILES))
    benign = [p for p in CORPUS_FILES if not expected_rules(p)]
    assert hostile | {"forbidden-name"} | FILE_RULES == set(RULES)
    assert len(benign) >= 15
    assert all(p.stem.startswith("benign_") == (not expected_rules(p)) for p in CORPUS_FILES)


# -- what a violation says -----------------------------------------------------------------

def test_violation_names_the_resolved_symbol_line_and_fix() -> None:
    evidence = check("""
        import json
        import os as o
        def clean():
            o.system("rm -rf /")
    """)
    assert evidence.level is Level.VIOLATION
    (violation,) = evidence.violations
    assert (violation.rule, violation.path, violation.line) == ("subprocess", "train.py", 4)
    assert "`o.system` resolves to `os.system`" in violation.message
    assert violation.fix == RULES["subprocess"].fix
    assert violation.symbol == "os.system"
    assert "subprocess at line 4" in evidence.detail


def test_passed_detail_counts_rules_and_names_the_file() -> None:
    evidence = check("import json\nVALUE = json.loads('1')\n")
    assert evidence.level is Level.PASSED
    assert evidence.detail.startswith("16 rules over train.py: no new forbidden construct, and every name the "
                                      "new code reaches is on the allow-list")
    assert evidence.verifier == "static"


def test_every_violation_carries_its_rules_fix() -> None:
    evidence = check("import socket\nimport ctypes\nimport hypothesis\n")
    assert rules_of(evidence) == {"network", "native-code", "checker-reference"}
    assert all(v.fix == RULES[v.rule].fix for v in evidence.violations)


# -- aliasing ------------------------------------------------------------------------------

@pytest.mark.parametrize("source, symbol", [
    ("import os\nf = os.system\n", "os.system"),
    ("import subprocess\ndef g(run=subprocess.run):\n    return run\n", "subprocess.run"),
    ("from subprocess import run as r\n", "subprocess.run"),
    ("import os\no = os\no.system('x')\n", "os.system"),
    ("import os\ns = os.system\n", "os.system"),
    ("import importlib\nm = importlib.import_module('o' + 's')\nm.system('x')\n", "os.system"),
    ("import os\nx = getattr(os, 'sys' + 'tem')\n", "os.system"),
    ("import os\nx = getattr(os, f\"{'sys'}tem\")\n", "os.system"),
    ("import os\nx = getattr(os, ''.join(['sy', 'stem']))\n", "os.system"),
    ("import os\nx = getattr(os, 'metsys'[::-1])\n", "os.system"),
    ("import os\nx = hasattr(os, 'SYSTEM'.lower())\n", "os.system"),
    ("import os\nN = 'system'\nx = getattr(os, N)\n", "os.system"),
    ("import operator, os\noperator.attrgetter('system')(os)\n", "os.system"),
    ("import operator, os\noperator.methodcaller('popen', 'id')(os)\n", "os.popen"),
    ("from os import *\nsystem('ls')\n", "os.system"),
    ("import sys\nsys.modules['os'].system('x')\n", "os.system"),
    ("import os\nvars(os)['system']('x')\n", "os.system"),
    ("def f(self):\n    self.os_mod.system('ls')\n", "?.os_mod.system"),
])
def test_aliases_are_seen_through(source: str, symbol: str) -> None:
    evidence = check(source)
    assert "subprocess" in rules_of(evidence), evidence.detail
    assert symbol in {v.symbol for v in evidence.violations if v.rule == "subprocess"}


def test_a_name_assigned_several_values_resolves_to_all_of_them() -> None:
    evidence = check("""
        import json, os
        backend = json
        def use(flag):
            global backend
            if flag:
                backend = os
            return backend.system("id")
    """)
    assert [v.line for v in evidence.violations if v.rule == "subprocess"] == [7]


@pytest.mark.parametrize("source, rule", [
    ("import builtins\nbuiltins.eval('1')\n", "dynamic-code"),
    ("x = __builtins__['eval']\n", "dynamic-code"),
    ("x = __builtins__\n", "dynamic-lookup"),
    ("x = globals()['__import__']\n", "dynamic-import"),
    ("x = globals()['__import__']\n", "dynamic-lookup"),
    ("import math\nx = vars(math)\n", "dynamic-lookup"),
    ("import math\nx = math.__dict__\n", "dynamic-lookup"),
    ("import os\ndef f(name):\n    return getattr(os, name)\n", "dynamic-lookup"),
    ("import builtins\ndef f(name):\n    return getattr(builtins, name)\n", "dynamic-lookup"),
    ("import operator\ndef f(name):\n    return operator.attrgetter(name)\n", "dynamic-lookup"),
])
def test_dynamic_lookups_are_caught(source: str, rule: str) -> None:
    assert rule in rules_of(check(source))


@pytest.mark.parametrize("source", [
    "def f(self):\n    return getattr(self, 'lr')\n",
    "def f(config):\n    return getattr(config, 'key', None), hasattr(config, 'key')\n",
    "import torch.nn as nn\nact = getattr(nn, 'ReLU')\n",
    "class A:\n    def f(self, **kw):\n        self.kw = dict(kw)\n",
    "def f(self):\n    return f'{self.__class__.__name__}()'\n",
])
def test_lookups_on_plain_objects_and_literal_names_are_fine(source: str) -> None:
    evidence = check(source)
    assert evidence.level is Level.PASSED, evidence.detail


@pytest.mark.parametrize("source, rule", [
    ("def f(self, name):\n    return getattr(self, name)\n", "dynamic-lookup"),
    ("def f(config, key):\n    return getattr(config, key, None)\n", "dynamic-lookup"),
    ("def f(config, key):\n    return hasattr(config, key)\n", "dynamic-lookup"),
    ("import functools\ndef f(obj, path):\n    return functools.reduce(getattr, path, obj)\n", "dynamic-lookup"),
    ("def f(objs, names):\n    return list(map(getattr, objs, names))\n", "dynamic-lookup"),
    ("class A:\n    def f(self, **kw):\n        self.__dict__.update(kw)\n", "dynamic-lookup"),
    ("def f(x):\n    return x.__class__.__mro__[-1].__subclasses__()\n", "introspection"),
    ("def f(fn):\n    return fn.__closure__[0].cell_contents\n", "introspection"),
    ("def f(fn):\n    return fn.__defaults__\n", "dynamic-lookup"),
])
def test_lookups_by_computed_names_and_reflection_on_any_object_are_caught(source: str, rule: str) -> None:
    assert rule in rules_of(check(source))


@pytest.mark.parametrize("source", [
    "import torch\ntorch.allclose = lambda *a, **k: True\n",
    "import math\nmath.pi = 3\n",
    "import torch\ntorch.Tensor.add = len\n",
    "import math\nsetattr(math, 'sqrt', abs)\n",
    "import math\ndelattr(math, 'sqrt')\n",
    "import math\ndef f(name):\n    setattr(math, name, abs)\n",
    "import sys\nsys.modules['x'] = object()\n",
    "import sys\ndef f(m):\n    sys.modules.update(x=m)\n",
    "import builtins\nbuiltins.print = len\n",
    "x = __builtins__\nx.print = len\n",
    "import math\nmath.pi += 1\n",
    "import math\ndel math.pi\n",
    "import math as m\nalias = m\nalias.e = 2\n",
    "import sys\nsys.path.insert(0, '/tmp')\n",
])
def test_module_mutation_is_caught(source: str) -> None:
    assert "module-mutation" in rules_of(check(source))


@pytest.mark.parametrize("source", [
    "class T:\n    def f(self, y):\n        self.x = y\n",
    "class Box:\n    pass\nobj = Box()\nobj.attr = 2\n",
    "import types\nns = types.SimpleNamespace()\nns.lr = 0.1\n",
    "d = {}\nd['k'] = 1\n",
])
def test_writes_to_local_objects_are_fine(source: str) -> None:
    assert check(source).level is Level.PASSED


@pytest.mark.parametrize("source, expected", [
    ("import platform\nplatform.system()\n", {"ambient-state"}),
    ("def f(model):\n    model.eval()\n", set()),
    ("import re\nre.compile('x')\n", set()),
    ("import sys\nsys.exit(1)\n", {"exit-at-import"}),
    ("import sys\ndef main():\n    sys.exit(1)\n", set()),
    ("import sys\nif __name__ == '__main__':\n    sys.exit(0)\n", set()),
    ("import sys\nif '__main__' == __name__:\n    sys.exit(0)\n", set()),
    ("import sys\nif __name__ != '__main__':\n    sys.exit(0)\n", {"exit-at-import"}),
    ("import os\nclass C:\n    os._exit(0)\n", {"exit-at-import", "process-control"}),
    ("import os\ndef f():\n    os._exit(0)\n", {"process-control"}),
    ("def f(p):\n    return open(p, 'rb').read()\n", {"unlisted-call"}),
    ("def f(p, **kw):\n    return open(p, **kw)\n", {"file-write"}),
    ("def f(p):\n    return open(p, 'r+')\n", {"file-write"}),
    ("import io\ndef f(p):\n    return io.open(p, 'x')\n", {"file-write"}),
    ("from pathlib import Path\ndef f(p):\n    return Path(p).open('w')\n", {"file-write"}),
])
def test_context_sensitive_rules(source: str, expected: set[str]) -> None:
    assert rules_of(check(source)) == expected


# -- introduced-only reporting -------------------------------------------------------------

OLD_WITH_SYSTEM = """
    import os
    def clean():
        os.system("make clean")
    def lr(step):
        return 0.1
"""


def test_preexisting_violation_in_unchanged_code_is_not_reported() -> None:
    new = OLD_WITH_SYSTEM.replace("return 0.1", "return 0.2")
    evidence = check(new, before=OLD_WITH_SYSTEM)
    assert evidence.level is Level.PASSED
    # clean() is unchanged, and so are the imports: it is not even rescanned.
    assert "1 top-level definition(s) the patch leaves unchanged were not rescanned" in evidence.detail


def test_preexisting_violation_in_a_changed_definition_is_not_reported() -> None:
    old = OLD_WITH_SYSTEM.replace("return 0.1", "os.system('true')\n        return 0.1")
    new = old.replace("return 0.1", "return 0.2")
    evidence = check(new, before=old)
    assert evidence.level is Level.PASSED
    assert "1 pre-existing finding(s) not re-reported" in evidence.detail


def test_the_same_file_reported_in_full_when_it_is_new() -> None:
    assert rules_of(check(OLD_WITH_SYSTEM, before=None)) == {"subprocess"}


def test_a_second_copy_of_a_preexisting_construct_is_reported_on_its_own_line() -> None:
    new = OLD_WITH_SYSTEM + "        os.system('rm -rf /')\n"
    evidence = check(new, before=OLD_WITH_SYSTEM)
    assert [(v.rule, v.line) for v in evidence.violations] == [("subprocess", 6)]


def test_moving_a_construct_into_another_function_is_reported() -> None:
    new = OLD_WITH_SYSTEM.replace('os.system("make clean")', "pass").replace(
        "return 0.1", 'os.system("make clean")\n        return 0.1')
    evidence = check(new, before=OLD_WITH_SYSTEM)
    assert [(v.rule, v.line) for v in evidence.violations] == [("subprocess", 5)]


def test_realiasing_an_import_makes_an_unchanged_line_a_violation() -> None:
    old = """
        import json as h
        def f(x):
            return h.system(x)
    """
    evidence = check(old.replace("import json as h", "import os as h"), before=old)
    assert [(v.rule, v.line, v.symbol) for v in evidence.violations] == [("subprocess", 3, "os.system")]
    assert "`h.system` resolves to `os.system`" in evidence.violations[0].message


def test_renaming_an_alias_of_preexisting_code_is_not_reported() -> None:
    new = OLD_WITH_SYSTEM.replace("import os", "import os as operating").replace("os.system", "operating.system")
    assert check(new, before=OLD_WITH_SYSTEM).level is Level.PASSED


def test_deleted_file_passes() -> None:
    evidence = check(None, before=OLD_WITH_SYSTEM)
    assert evidence.level is Level.PASSED
    assert "deleted" in evidence.detail


def test_unparsable_old_version_counts_every_finding_as_new() -> None:
    evidence = check(OLD_WITH_SYSTEM, before="def broken(:\n")
    assert rules_of(evidence) == {"subprocess"}
    assert "old version does not parse" in evidence.detail


# -- policy knobs --------------------------------------------------------------------------

WRITER = "def dump(p, text):\n    with open(p, 'w') as fh:\n        fh.write(text)\n"
ALLOW_SCRIPTS = Policy(allow={"file-write": ("scripts/*.py",)})


def test_allow_list_drops_the_rule_for_matching_paths_and_says_so() -> None:
    evidence = check(WRITER, path="scripts/dump.py", policy=ALLOW_SCRIPTS)
    assert evidence.level is Level.PASSED
    assert "allowed by policy: file-write at line 2 ('scripts/*.py')" in evidence.detail


def test_allow_list_does_not_apply_elsewhere() -> None:
    assert rules_of(check(WRITER, path="train.py", policy=ALLOW_SCRIPTS)) == {"file-write"}


def test_allow_list_drops_only_its_own_rule() -> None:
    evidence = check(WRITER + "import socket\n", path="scripts/dump.py", policy=ALLOW_SCRIPTS)
    assert rules_of(evidence) == {"network"}


FORBID_SLEEP = Policy(forbidden_names={"time.sleep": "it slows every training step",
                                       "math.factorial": "it slows every training step"})


@pytest.mark.parametrize("source", [
    "import time\ntime.sleep(1)\n",
    "from time import sleep as nap\n",
    "import time as t\npause = t.sleep\n",
    "import time\ngetattr(time, 'sl' + 'eep')(1)\n",
])
def test_forbidden_names_are_seen_through_aliases_with_their_reason(source: str) -> None:
    evidence = check(source, policy=FORBID_SLEEP)
    violations = [v for v in evidence.violations if v.rule == "forbidden-name"]
    assert violations and all("it slows every training step" in v.message for v in violations)
    assert violations[0].fix == RULES["forbidden-name"].fix


def test_forbidden_names_leave_neighbours_alone() -> None:
    assert check("import math\nt0 = math.sqrt(2)\n", policy=FORBID_SLEEP).level is Level.PASSED


def test_forbidden_names_are_not_applied_without_a_policy() -> None:
    assert check("import math\nmath.factorial(3)\n").level is Level.PASSED


# -- protected paths and removals ----------------------------------------------------------

def file_ob(kind: Kind, path: str, target: str | None = None, **extra: object) -> Obligation:
    return Obligation(target=target or path, kind=kind, path=path, reason="test", **extra)  # type: ignore[arg-type]


def test_touching_a_protected_path_is_a_violation_naming_the_pattern() -> None:
    evidence = StaticPolicy().check(file_ob(Kind.PROTECTED, "tests/test_train.py"), Context({}, {}))
    assert evidence.level is Level.VIOLATION
    (violation,) = evidence.violations
    assert violation.rule == "protected-path"
    assert "'tests/**'" in violation.message
    assert violation.fix == RULES["protected-path"].fix


def test_protected_path_can_be_allowed() -> None:
    policy = Policy(allow={"protected-path": ("tests/fixtures/*",)})
    evidence = StaticPolicy().check(file_ob(Kind.PROTECTED, "tests/fixtures/data.py"), Context({}, {}, policy))
    assert evidence.level is Level.PASSED


def test_removing_a_public_definition_is_a_violation() -> None:
    obligation = file_ob(Kind.REMOVAL, "train.py", "train.lr_schedule",
                         old_source="def lr_schedule(step):\n    return 0.1\n", old_lines=(3, 4))
    evidence = StaticPolicy().check(obligation, Context({}, {}))
    assert evidence.level is Level.VIOLATION
    (violation,) = evidence.violations
    assert (violation.rule, violation.line) == ("removed-definition", 3)
    assert "train.lr_schedule" in violation.message and "3-4" in violation.message


def test_removal_can_be_allowed_per_path() -> None:
    policy = Policy(allow={"removed-definition": ("legacy/*.py",)})
    evidence = StaticPolicy().check(file_ob(Kind.REMOVAL, "legacy/old.py", "legacy.old.f"), Context({}, {}, policy))
    assert evidence.level is Level.PASSED


# -- what the verifier does not judge ------------------------------------------------------

def test_other_kinds_are_unknown() -> None:
    evidence = StaticPolicy().check(file_ob(Kind.EQUIVALENT, "train.py", "train.lr"), Context({}, {}))
    assert evidence.level is Level.UNKNOWN
    assert "does not judge equivalent" in evidence.detail


def test_syntax_error_is_unknown_with_the_line() -> None:
    evidence = check("import os\n\ndef f(:\n    pass\n")
    assert evidence.level is Level.UNKNOWN
    assert evidence.detail.startswith("train.py:3: cannot parse")


def test_non_python_file_is_unknown() -> None:
    evidence = check("import os; os.system('x')", path="setup.cfg")
    assert evidence.level is Level.UNKNOWN


# -- properties of the verifier itself -----------------------------------------------------

_RESERVED = frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | {"os", "__builtins__"}
identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True).filter(lambda s: s not in _RESERVED)


@given(alias=identifiers, via=identifiers)
def test_any_alias_of_os_system_is_caught(alias: str, via: str) -> None:
    source = f"import os as {alias}\n{via} = {alias}\n{via}.system('x')\n"
    if alias == via:
        source = f"import os as {alias}\n{alias}.system('x')\n"
    evidence = check(source)
    assert [(v.rule, v.line) for v in evidence.violations][-1:] == [("subprocess", source.count("\n"))]


@given(alias=identifiers)
def test_any_alias_of_a_harmless_module_passes(alias: str) -> None:
    assert check(f"import json as {alias}\nv = {alias}.loads('1')\n").level is Level.PASSED


@given(prefix=st.lists(st.sampled_from([
    "import json\n", "X = 1\n", "def f(a):\n    return a + 1\n", "class C:\n    y = 2\n",
    "import os\n", "import os\nos.system('pre-existing')\n",
]), max_size=4), hostile=st.booleans())
def test_verdict_depends_only_on_what_the_patch_adds(prefix: list[str], hostile: bool) -> None:
    base = "".join(prefix)
    added = "import os\ndef g():\n    return os.popen('id')\n" if hostile else "def g():\n    return 2\n"
    evidence = check(base + added, before=base)
    assert rules_of(evidence) == ({"subprocess"} if hostile else set())


@pytest.mark.parametrize("path, why", [
    ("numpy.py", "installed module `numpy`"),
    ("math.py", "standard-library module `math`"),
    ("src/json/__init__.py", "standard-library module `json`"),
    ("tools/sitecustomize.py", "start-up"),
])
def test_new_module_shadowing_another_is_a_violation(path, why):
    evidence = check("x = 1\n", path=path)
    assert evidence.level is Level.VIOLATION
    assert [v.rule for v in evidence.violations] == ["module-shadowing"] and why in evidence.violations[0].message


@pytest.mark.parametrize("path", ["train_utils.py", "pkg/logging.py", "mypkg/__init__.py"])
def test_new_modules_with_their_own_names_or_inside_packages_pass(path):
    assert check("x = 1\n", path=path).level is Level.PASSED


def test_editing_an_existing_module_named_like_another_is_not_shadowing_anew():
    assert check("x = 2\n", before="x = 1\n", path="math.py").level is Level.PASSED


def test_a_new_package_named_like_the_checker_is_shadowing():
    evidence = check("x = 1\n", path="verifiers/__init__.py")
    assert [v.rule for v in evidence.violations] == ["module-shadowing"] and "checker" in evidence.violations[0].message
