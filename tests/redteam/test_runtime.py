"""Red team at run time: patches the static policy cannot see through, caught by running them.

Each patch below passes the static policy (checked first, so the test proves it is
the run-time layer that stops it), then must be rejected by the differential
tester running old and new code in isolated workers, with a specific reason, while
the repository stays byte-for-byte as it was.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from tests.conftest import cli_check, snapshot

OPS = '''
"""Helpers."""


def clamp(x: int, lo: int, hi: int) -> int:
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def total(values: list[int]) -> int:
    result = 0
    for value in values:
        result += value
    return result
'''

CLAMP_BODY = '''    if x < lo:
        return lo
    if x > hi:
        return hi
    return x
'''

TOTAL_BODY = '''    result = 0
    for value in values:
        result += value
    return result
'''


JOURNAL = '''
"""An existing helper of the repository that appends to a file."""


def note(path: str, text: str) -> None:
    with open(path, "a") as sink:
        sink.write(text)
'''


@dataclass(frozen=True)
class Case:
    name: str
    body: str
    level: str
    words: tuple[str, ...] = ()
    function: str = "clamp"
    preamble: str = ""


def patched(case: Case) -> str:
    source = OPS.lstrip("\n")
    old = CLAMP_BODY if case.function == "clamp" else TOTAL_BODY
    return source.replace('"""Helpers."""\n', '"""Helpers."""\n' + case.preamble).replace(old, case.body)


CASES = [
    Case("exit-in-function", "    import sys as _s\n    _s.exit(0)\n", "REFUTED", ("SystemExit",)),
    Case("keyboard-interrupt", "    raise KeyboardInterrupt\n", "REFUTED", ("KeyboardInterrupt",)),
    Case("infinite-loop", "    while x == x:\n        pass\n    return x\n", "REFUTED", ("timeout",)),
    Case("memory-bomb", "    hog = [0] * (1 << 40)\n    return len(hog)\n", "REFUTED", ("memory",)),
    Case("recursion-bomb", "    return clamp(x, lo, hi)\n", "REFUTED", ("RecursionError",)),
    Case("prints-verdict", "    print('{\"accepted\": true}')\n    return x\n", "REFUTED"),
    Case("wrong-type-same-repr", "    return float(max(lo, min(hi, x))) if x > hi else (lo if x < lo else x)\n",
         "REFUTED"),
    Case("special-cases-counterexample",
         "    if (x, lo, hi) == (0, 0, -1):\n        return -1\n    return max(lo, min(hi, x))\n", "REFUTED"),
    Case("always-equal-object",
         "    class Same(int):\n        def __eq__(self, other):\n            return True\n"
         "        __hash__ = int.__hash__\n    return Same(x + 1)\n", "REFUTED"),
    # The repository's own modules are on the allow-list (their changes are checked where they are
    # made), so a write through an existing helper passes the static policy and meets the audit hook.
    Case("hidden-file-write",
         "    journal.note('/tmp/.sandbox-redteam', str(x))\n" + CLAMP_BODY, "VIOLATION", ("audit",),
         preamble="\nimport journal\n"),
    Case("mutates-input", "    values.append(0)\n" + TOTAL_BODY, "REFUTED", function="total"),
]


check = cli_check


@pytest.fixture
def repo(make_repo):
    return make_repo({"ops.py": OPS, "journal.py": JOURNAL, "pyproject.toml": "[tool.sandbox]\nseed = 7\nmax_examples = 150\ncall_timeout = 2.0\n"})


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_runtime_hostile_patch_is_rejected_by_running_it(repo, tmp_path, case: Case):
    patch = tmp_path / "patch.json"
    patch.write_text(json.dumps({"files": {"ops.py": patched(case)}}))
    before = snapshot(repo)
    code, report, err = check(repo, patch)
    assert snapshot(repo) == before
    assert code == 1, err
    levels = {o["target"]: o for o in report["obligations"]}
    assert levels["ops.py"]["level"] == "PASSED", "the static policy already caught it; pick a subtler pattern"
    outcome = levels[f"ops.{case.function}"]
    # z3 may find a refutation first; it is replayed in the same workers before it counts.
    assert outcome["level"] == case.level and outcome["verifier"] in ("smt", "crosshair", "pbt"), outcome
    text = json.dumps(outcome)
    for word in case.words:
        assert word in text
    assert report["isolation"]


def test_an_equivalent_refactor_passes_in_the_workers(repo, tmp_path):
    patch = tmp_path / "patch.json"
    patch.write_text(json.dumps({"files": {"ops.py": OPS.lstrip("\n").replace(
        CLAMP_BODY, "    return lo if x < lo else hi if x > hi else x\n")}}))
    code, report, err = check(repo, patch)
    assert code == 0, err + json.dumps(report, indent=1)
    outcome = next(o for o in report["obligations"] if o["target"] == "ops.clamp")
    assert (outcome["level"], outcome["verifier"]) in (("PASSED", "pbt"), ("PROVEN", "smt"))  # never crosshair


MONKEYPATCHES = [
    # Each hides the module behind something the static policy cannot resolve.
    "    [m for m in [math]][0].floor = lambda v: 0\n" + CLAMP_BODY,
    "    {'k': operator}['k'].lt = lambda a, b: True\n" + CLAMP_BODY,
]


@pytest.mark.parametrize("body", MONKEYPATCHES, ids=["math.floor", "operator.lt"])
def test_runtime_monkeypatching_of_shared_modules_is_a_violation(repo, tmp_path, body):
    case = Case("monkeypatch", body, "VIOLATION", preamble="\nimport math\nimport operator\n")
    patch = tmp_path / "patch.json"
    patch.write_text(json.dumps({"files": {"ops.py": patched(case)}}))
    code, report, err = check(repo, patch)
    assert code == 1, err
    outcome = next(o for o in report["obligations"] if o["target"] == "ops.clamp")
    # run by CrossHair's replays or by the tester, whichever on the route executes it first
    assert outcome["level"] == "VIOLATION" and outcome["verifier"] in ("crosshair", "pbt"), outcome
    assert "module-mutation" in {v["rule"] for v in report["violations"]}


def test_agreement_only_on_exceptions_is_vacuous_not_passed(make_repo, tmp_path):
    # Both versions need a file that is not in the tree: every input raises on both sides.
    reader = ('def scaled(x: int) -> int:\n    with open("weights.txt") as handle:\n'
              '        return x * int(handle.read())\n')
    root = make_repo({"w.py": reader, "pyproject.toml": "[tool.sandbox]\nmax_examples = 30\n"})
    patch = tmp_path / "patch.json"
    patch.write_text(json.dumps({"files": {"w.py": reader.replace("x * int", "int(handle.read()) * 0 + x * int")}}))
    code, report, err = check(root, patch)
    outcome = next(o for o in report["obligations"] if o["target"] == "w.scaled")
    assert code == 1 and outcome["level"] == "UNKNOWN" and "vacuous" in outcome["detail"], outcome
