"""The policy scans only what a patch can have changed: the stubbed scan reports what the full scan does."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import verifiers.static._verifier as static_verifier
from properties import Policy
from tests.verifiers.test_static import check, rules_of
from verifiers import Level
from verifiers.static._reduce import Reduced, reduce

IMPORTS = ["import os", "import math", "import os as math", "import subprocess", "from os import path",
           "import math as m"]
TOP = ["LIMIT = 3", "NAMES = ('path',)", "NAMES = ('system',)", "CACHE = {}", "if LIMIT:\n    import os"]
BODIES = ["return 1", "return math.floor(2.5)", "os.system('true')", "return getattr(os, NAMES[0])",
          "global math\nmath = 1", "CACHE['k'] = 1", "return subprocess.run(['ls'])", "return path.join('a')",
          "return m.sqrt(4)", "exec('1')", "return open('f', 'w')", "global STATE\nSTATE = {}",
          "STATE['k'] = 1", "return STATE", "import os\nreturn os.getcwd()"]


def _module(imports: list[str], top: list[str], bodies: list[str]) -> str:
    parts = [*imports, *top]
    parts += [f"def f{i}():\n{textwrap.indent(body, '    ')}" for i, body in enumerate(bodies)]
    return "\n\n".join(parts) + "\n"


def _full(after: str, before: str | None) -> Reduced:
    return Reduced(after, before, 0)


def _findings(evidence) -> set[tuple[str, int | None, str]]:
    return {(v.rule, v.line, v.symbol) for v in evidence.violations}


@settings(max_examples=300, deadline=None)
@given(imports=st.lists(st.sampled_from(IMPORTS), max_size=3), top=st.lists(st.sampled_from(TOP), max_size=2),
       bodies=st.lists(st.sampled_from(BODIES), min_size=1, max_size=4), data=st.data())
def test_the_reduced_scan_reports_exactly_what_the_full_scan_reports(imports, top, bodies, data):
    old = _module(imports, top, bodies)
    # One change of the kinds a patch makes: a body, an import, a top-level statement.
    kind = data.draw(st.sampled_from(["body", "import", "top"]))
    new_imports, new_top, new_bodies = list(imports), list(top), list(bodies)
    if kind == "body":
        new_bodies[data.draw(st.integers(0, len(bodies) - 1))] = data.draw(st.sampled_from(BODIES))
    elif kind == "import":
        new_imports.append(data.draw(st.sampled_from(IMPORTS)))
    else:
        new_top = [data.draw(st.sampled_from(TOP))] + new_top[1:]
    new = _module(new_imports, new_top, new_bodies)
    reduced = check(new, before=old)
    original = static_verifier.reduce
    static_verifier.reduce = _full
    try:
        full = check(new, before=old)
    finally:
        static_verifier.reduce = original
    assert reduced.level is full.level, (old, new, reduced.detail, full.detail)
    assert _findings(reduced) == _findings(full), (old, new)


def test_an_unchanged_function_is_stubbed_on_both_sides_with_its_lines_kept():
    old = "import os\n\n\ndef clean():\n    os.system('x')\n    return 1\n\n\ndef lr():\n    return 0.1\n"
    new = old.replace("0.1", "0.2")
    reduced = reduce(new, old)
    assert reduced.stubbed == 1
    assert reduced.after.splitlines()[3:6] == ["def clean(): pass", "", ""]
    assert len(reduced.after.splitlines()) == len(new.splitlines())
    assert reduced.after.splitlines()[8:] == new.splitlines()[8:]


@pytest.mark.parametrize("old, new", [
    # An import rebound under the same name: what the unchanged function reaches changed.
    ("import math\n\ndef f():\n    return math.floor(2.5)\n\ndef g():\n    return 1\n",
     "import os as math\n\ndef f():\n    return math.floor(2.5)\n\ndef g():\n    return 1\n"),
    # A function (changed or not) rebinding a module name with `global`.
    ("STATE = 0\n\ndef f():\n    global STATE\n    STATE = {}\n\ndef g():\n    return 1\n",
     "STATE = 0\n\ndef f():\n    global STATE\n    STATE = {}\n\ndef g():\n    STATE['k'] = 1\n"),
    ("import math\n\ndef f():\n    return math.floor(2.5)\n\ndef g():\n    return 1\n",
     "import math\n\ndef f():\n    return math.floor(2.5)\n\ndef g():\n    global math\n    math = 1\n"),
    # A constant the unchanged function reads.
    ("NAMES = ('path',)\n\ndef f():\n    return NAMES\n\ndef g():\n    return 1\n",
     "NAMES = ('system',)\n\ndef f():\n    return NAMES\n\ndef g():\n    return 2\n"),
    # A definition added, removed or renamed.
    ("def f():\n    return 1\n", "def f():\n    return 1\n\ndef g():\n    return 2\n"),
    ("def f():\n    return 1\n\ndef g():\n    return 2\n", "def f():\n    return 1\n\ndef h():\n    return 2\n"),
    # A form feed: str.splitlines and Python's tokenizer would count lines differently.
    ("def f():\n    return 1\n\x0c\ndef g():\n    return 2\n", "def f():\n    return 1\n\x0c\ndef g():\n    return 3\n"),
])
def test_nothing_is_stubbed_when_the_module_structure_changes(old, new):
    assert reduce(new, old).stubbed == 0


def test_an_import_alias_changed_under_an_unchanged_function_is_still_caught():
    old = "import math\n\n\ndef f():\n    return math.floor(2.5)\n\n\ndef g():\n    return 1\n"
    evidence = check(old.replace("import math", "import os as math"), before=old)
    assert evidence.level is Level.VIOLATION and "os.floor" in evidence.detail


def test_a_benign_change_beside_a_pre_existing_finding_is_accepted_and_says_what_it_skipped():
    old = "import os\n\n\ndef clean():\n    os.system('make clean')\n\n\ndef lr(step):\n    return 0.1\n"
    evidence = check(old.replace("0.1", "0.2"), before=old, policy=Policy())
    assert evidence.level is Level.PASSED and not rules_of(evidence)
    assert "not rescanned" in evidence.detail
