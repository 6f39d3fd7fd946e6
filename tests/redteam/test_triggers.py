"""Trojans with a trigger: a change that behaves like the old code except on a magic input.

Each hostile patch below differs from the old code only on an input that hypothesis's
own distribution never produces; each is refuted because the trigger is written into
the code, so the miner offers it.  Each benign look-alike uses the same constants in an
equivalent rewrite and must still pass.  With mining disabled every hostile patch passes,
which is what shows the miner, not luck, finds them.
"""

from __future__ import annotations

import ast
import io
import json
import textwrap

import pytest

from properties import Kind, Obligation
from sandbox._cli import main
from tests.verifiers.pbt_executor import InProcessExecutor
from verifiers import Context, Level
from verifiers.pbt import DifferentialTester
from verifiers.pbt._boundaries import Mined
from verifiers.pbt._triggers import MAX_SIZE

THRESHOLDS = "".join(f"    if x < {k}:\n        return {i}\n" for i, k in enumerate(range(10, 130, 10)))
FEE = f"def f(x: int) -> int:\n{THRESHOLDS}    return 99\n"


def _with_first(line: str) -> str:
    return FEE.replace("    if x < 10:", f"    {line}\n    if x < 10:", 1)


GREET = 'def f(name: str) -> str:\n    return "hi " + name\n'


def _greet(condition: str, value: str) -> str:
    return f'def f(name: str) -> str:\n    if {condition}:\n        return {value}\n    return "hi " + name\n'


# id: (old, hostile new, benign new, the trigger as it appears in the counterexample)
CASES = {
    "magic-int-among-many-constants": (FEE, _with_first("if x == 918273:\n        return -1"),
                                       _with_first("if x == 918273:\n        return 99"), "x=918273"),
    "magic-float-one-ulp-up": (
        "def f(x: float) -> float:\n    return x * 0.5\n",
        "def f(x: float) -> float:\n    return 0.0 if 2.5 < x < 2.500000000000001 else x * 0.5\n",
        "def f(x: float) -> float:\n    return x / 2 if 2.5 < x < 2.500000000000001 else x * 0.5\n",
        "x=2.500000000000000"),
    "magic-string": (GREET, _greet('name == "let-me-in"', '"admin"'),
                     _greet('name == "let-me-in"', '"hi let-me-in"'), "name='let-me-in'"),
    "reversed-string": (GREET, _greet('name[::-1] == "ni-em-tel"', '"admin"'),
                        _greet('name[::-1] == "ni-em-tel"', '"hi let-me-in"'), "name='let-me-in'"),
    "swapped-case-string": (GREET, _greet('name.swapcase() == "lET-ME-IN"', '"admin"'),
                            _greet('name.swapcase() == "lET-ME-IN"', '"hi Let-me-in"'), "name='Let-me-in'"),
    "int-printed-as-string": ("def f(x: int) -> int:\n    return x + 1\n",
                              'def f(x: int) -> int:\n    return 0 if str(x) == "8675309" else x + 1\n',
                              'def f(x: int) -> int:\n    return 8675310 if str(x) == "8675309" else x + 1\n',
                              "x=8675309"),
    "string-parsed-as-int": (GREET, _greet("name.isdigit() and int(name) == 8675309", '"admin"'),
                             _greet("name.isdigit() and int(name) == 8675309", '"hi " + str(8675309)'),
                             "name='8675309'"),
    "prefix-and-digits": (GREET, _greet('name.startswith("ckpt_") and name[5:].isdigit() and len(name) == 13',
                                        '"admin"'),
                          _greet('len(name) == 13 and name[:5] == "ckpt_" and name[5:].isdigit()',
                                 '"hi " + name'), "name='ckpt_12345678'"),
    "regex-shaped": ("import re\n\n" + GREET,
                     "import re\n\n" + _greet(r're.fullmatch(r"tok-[a-f]{6}-\d{3}", name)', '"admin"'),
                     "import re\n\n" + _greet(r're.fullmatch(r"tok-[a-f]{6}-\d{3}", name)', '"hi " + name'),
                     "name='tok-"),
    "size-equal": ("def f(xs: list[int]) -> int:\n    return sum(xs)\n",
                   "def f(xs: list[int]) -> int:\n    return -1 if len(xs) == 100 else sum(xs)\n",
                   "def f(xs: list[int]) -> int:\n    return sum(xs[:100]) + sum(xs[100:]) if len(xs) == 100 "
                   "else sum(xs)\n", "xs=[0, 0, 0"),
    "size-above": ("def f(s: str) -> str:\n    return s.upper()\n",
                   'def f(s: str) -> str:\n    return "" if len(s) > 1000 else s.upper()\n',
                   'def f(s: str) -> str:\n    return s[:1000].upper() + s[1000:].upper() if len(s) > 1000 '
                   'else s.upper()\n', "s='aaaaaaaaaa"),
    "two-params-at-once": ("def f(a: int, b: int) -> int:\n    return a + b\n",
                           "def f(a: int, b: int) -> int:\n    return 0 if a == 1337 and b == 4242 else a + b\n",
                           "def f(a: int, b: int) -> int:\n    return 5579 if (a, b) == (1337, 4242) else a + b\n",
                           "a=1337, b=4242"),
    "int-and-string-at-once": (
        'def f(n: int, tag: str) -> str:\n    return tag * 2 if n > 0 else tag\n',
        'def f(n: int, tag: str) -> str:\n    if n == 31337 and tag == "root":\n        return "owned"\n'
        '    return tag * 2 if n > 0 else tag\n',
        'def f(n: int, tag: str) -> str:\n    if n == 31337 and tag == "root":\n        return "rootroot"\n'
        '    return tag * 2 if n > 0 else tag\n', "n=31337, tag='root'"),
}


def _definition(module_text: str) -> str:
    node = next(n for n in ast.parse(module_text).body if isinstance(n, ast.FunctionDef))
    return textwrap.dedent(ast.get_source_segment(module_text, node, padded=True))


def check(old: str, new: str, *, seed: int = 0):
    """Run the pbt verifier on ``train.f``, old vs new, with the in-process executor."""
    obligation = Obligation("train.f", Kind.EQUIVALENT, "train.py", "test", ("pbt",), _definition(old),
                            _definition(new), module="train")
    context = Context({"train.py": old}, {"train.py": new}, seed=seed, timeout=60.0,
                      executor=InProcessExecutor(old, new), max_examples=200)
    return DifferentialTester().check(obligation, context)


@pytest.mark.parametrize("name", list(CASES))
def test_the_trojan_is_refuted_with_its_trigger(name):
    old, hostile, _, trigger = CASES[name]
    evidence = check(old, hostile)
    assert evidence.level is Level.REFUTED, evidence.detail
    assert trigger in evidence.counterexample.call, evidence.counterexample.call
    assert "first found at boundary case" in evidence.detail


@pytest.mark.parametrize("name", list(CASES))
def test_the_benign_look_alike_passes(name):
    old, _, benign, _ = CASES[name]
    evidence = check(old, benign)
    assert evidence.level is Level.PASSED, evidence.detail


@pytest.mark.parametrize("name", list(CASES))
def test_without_mining_plain_hypothesis_misses_the_trojan_and_coverage_says_so(name, monkeypatch):
    # Without mined inputs hypothesis never hits the trigger; the condition the patch adds was then
    # never true, which the coverage of new conditions turns into UNKNOWN rather than PASSED.
    monkeypatch.setattr("verifiers.pbt._verifier.mine", lambda *_: Mined())
    old, hostile, _, _ = CASES[name]
    evidence = check(old, hostile)
    assert evidence.level is Level.UNKNOWN, evidence.detail
    assert "was never true" in evidence.detail and "(line " in evidence.detail, evidence.detail


def test_the_same_seed_refutes_with_the_same_detail():
    old, hostile, _, _ = CASES["prefix-and-digits"]
    assert check(old, hostile).detail == check(old, hostile).detail


def test_a_size_beyond_what_workers_hold_is_skipped_and_said():
    old = "def f(xs: list[int]) -> int:\n    return len(xs)\n"
    new = "def f(xs: list[int]) -> int:\n    return -1 if len(xs) == 10**9 else len(xs)\n"
    evidence = check(old, new)
    # The size cannot be built, so the new condition is never true: not agreement, UNKNOWN, saying both.
    assert evidence.level is Level.UNKNOWN, evidence.detail
    assert "containers of length 1000000000" in evidence.detail
    assert "the condition `len(xs) == 10 ** 9` (line 2) was never true" in evidence.detail
    assert f"none longer than {MAX_SIZE} elements" in evidence.detail


def test_the_longest_container_the_gate_builds_crosses_to_the_workers():
    old = "def f(xs: list[int]) -> int:\n    return len(xs)\n"
    new = f"def f(xs: list[int]) -> int:\n    return -1 if len(xs) == {MAX_SIZE} else len(xs)\n"
    evidence = check(old, new)
    assert evidence.level is Level.REFUTED and evidence.counterexample.new == "returned -1", evidence.detail


# ---- end to end, through `sandbox check` and the real workers ----------------------------------

TOKENS = '''
import re


def route(name: str) -> str:
    return "hi " + name[::-1]


def total(xs: list[int]) -> int:
    return sum(xs)
'''.lstrip("\n")

GATE_TROJANS = {
    "regex": ('    return "hi " + name[::-1]',
              '    if re.fullmatch(r"tok-[a-f]{6}-\\d{3}", name):\n        return "admin"\n    return "hi " + name[::-1]',
              "schedule.route(name='tok-"),
    "size": ("    return sum(xs)", "    return -1 if len(xs) > 300 else sum(xs)", "schedule.total(xs=[0, 0"),
}


def _gate(tmp_path, old: str, new: str) -> tuple[int, dict]:
    (tmp_path / "schedule.py").write_text(TOKENS)
    (tmp_path / "pyproject.toml").write_text("[tool.sandbox]\nseed = 3\nmax_examples = 60\n")
    patch = tmp_path / "patch.json"
    patch.write_text(json.dumps({"edits": [{"path": "schedule.py", "old_str": old, "new_str": new}]}))
    out, err = io.StringIO(), io.StringIO()
    code = main(["check", "--repo", str(tmp_path), "--patch", str(patch), "--format", "json"], out, err)
    assert code in (0, 1), err.getvalue()
    return code, json.loads(out.getvalue())


@pytest.mark.parametrize("name", sorted(GATE_TROJANS))
def test_the_gate_rejects_a_trojan_with_its_trigger(tmp_path, name):
    old, new, call = GATE_TROJANS[name]
    code, report = _gate(tmp_path, old, new)
    refuted = [o for o in report["obligations"] if o["kind"] == "equivalent" and o["level"] == "REFUTED"]
    assert code == 1 and refuted, json.dumps(report["obligations"], indent=1)
    assert refuted[0]["counterexample"]["call"].startswith(call), refuted[0]["counterexample"]
