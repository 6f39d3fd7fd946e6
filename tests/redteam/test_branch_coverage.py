"""Red team: sleepers in a branch no compared input enters, through the real gate and its workers.

Each hostile patch adds a condition whose trigger neither the mined inputs nor random
inputs reach (a transcendental, a checksum of a string, a product of parameters), and
returns the old answer everywhere else.  Agreement on every input tried says nothing
about the other side of that condition, so the gate must not say PASSED: the coverage of
new conditions makes it UNKNOWN naming the condition and its line (or a symbolic engine
finds the trigger and refutes it).  Each has a benign look-alike whose new conditions the
inputs do take both ways, which must be accepted with the coverage in its evidence.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import cli_check, snapshot

OPS = '''
"""Operations of a small training repository."""

import math


def damp(x: float) -> float:
    return x * 0.5


def checksum(s: str) -> int:
    return len(s)


def area(w: int, h: int) -> int:
    return w * h


def total(xs: list[int]) -> int:
    return sum(xs)


def label(name: str) -> str:
    return name if name else "anon"
'''

CONFIG = "[tool.sandbox]\nseed = 5\nmax_examples = 80\ncall_timeout = 5.0\n"


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("coverage-repo")
    (root / "ops.py").write_text(OPS.lstrip("\n"))
    (root / "pyproject.toml").write_text(CONFIG)
    return root


def replace(old: str, new: str) -> str:
    text = OPS.lstrip("\n")
    assert old in text
    return text.replace(old, new)


def run(repo, tmp_path, text: str, target: str) -> tuple[int, dict, str]:
    patch = tmp_path / "patch.json"
    patch.write_text(json.dumps({"files": {"ops.py": text}}))
    before = snapshot(repo)
    code, report, err = cli_check(repo, patch)
    assert snapshot(repo) == before
    levels = {o["target"]: o for o in report["obligations"]}
    assert levels["ops.py"]["level"] == "PASSED", "the static policy already caught it; pick a subtler pattern"
    return code, levels[target], err


HOSTILE = [
    ("transcendental-trigger",
     replace("    return x * 0.5\n", "    if math.sin(x * 1000.0) > 0.9999999999:\n        return 0.0\n"
             "    return x * 0.5\n"),
     "ops.damp", "math.sin(x * 1000.0) > 0.9999999999", "x="),
    ("checksum-of-a-string",
     replace("    return len(s)\n", "    if sum(map(ord, s)) % 9973 == 4099:\n        return -1\n    return len(s)\n"),
     "ops.checksum", "sum(map(ord, s)) % 9973 == 4099", "s="),
    ("product-of-parameters",
     replace("    return w * h\n", "    return 0 if w * h * 7 % 100003 == 77777 else w * h\n"),
     "ops.area", "w * h * 7 % 100003 == 77777", "w="),
]


@pytest.mark.parametrize(("text", "target", "condition", "argument"), [c[1:] for c in HOSTILE],
                         ids=[c[0] for c in HOSTILE])
def test_a_branch_no_input_enters_is_never_passed(repo, tmp_path, text, target, condition, argument):
    code, outcome, err = run(repo, tmp_path, text, target)
    assert code == 1, err + json.dumps(outcome, indent=1)
    if outcome["level"] == "REFUTED":  # a symbolic engine reached the trigger: refuted with the input
        assert argument in outcome["detail"], outcome
        return
    assert outcome["level"] == "UNKNOWN", outcome
    assert f"the condition `{condition}` (line " in outcome["detail"], outcome["detail"]
    assert "was never true" in outcome["detail"] and "state inputs that reach it" in outcome["detail"]


BENIGN = [
    ("a-new-guard-taken-both-ways", replace("    return x * 0.5\n", "    if x < 0:\n        return -(-x * 0.5)\n"
                                             "    return x * 0.5\n"), "ops.damp"),
    ("a-new-early-return", replace("    return sum(xs)\n", "    if not xs:\n        return 0\n    return sum(xs)\n"),
     "ops.total"),
    ("an-or-for-a-default", replace('    return name if name else "anon"\n', '    return name or "anon"\n'),
     "ops.label"),
]


@pytest.mark.parametrize(("text", "target"), [c[1:] for c in BENIGN], ids=[c[0] for c in BENIGN])
def test_new_conditions_the_inputs_take_both_ways_pass_and_say_so(repo, tmp_path, text, target):
    code, outcome, err = run(repo, tmp_path, text, target)
    assert code == 0, err + json.dumps(outcome, indent=1)
    if outcome["level"] == "PROVEN":
        return  # the prover settled it: no testing, so no coverage to report
    assert outcome["level"] == "PASSED", outcome
    assert "condition the patch adds was taken both ways" in outcome["detail"], outcome["detail"]
