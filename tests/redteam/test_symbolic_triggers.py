"""Trojans whose trigger is computed from the input, not written into the code: CrossHair finds them.

Each hostile patch below differs from the old code only on inputs that satisfy a condition the
code computes (a rolling hash of a string, a checksum of its characters or of its bytes): no
literal of the code is the trigger, so the miner has nothing to offer and random inputs almost
never satisfy it, and z3's encoding does not cover ``ord``, ``map`` or ``sum`` over bytes.
Through the whole gate, CrossHair's path search in the workers finds an input, the replay on
both versions shows the difference, and the obligation is REFUTED by ``crosshair``.

Benign look-alikes: the same trigger guarding the old behaviour is never refuted (CrossHair
reaches the branch and the replay agrees; the hypothesis tester then judges, and may answer
UNKNOWN for a new branch it cannot reach itself); a rewrite of code that already holds the
trigger is accepted.

The workers here import z3 and ``crosshair.tracers`` before their audit hook, as
docs/crosshair.md asks (``preload_crosshair``); the last test pins down the gate as it is today.
"""

from __future__ import annotations

import re

import pytest

from properties import Kind, Obligation
from sandbox import Gate, Patch
from tests.conftest import write_tree
from tests.verifiers.pbt_executor import InProcessExecutor
from tests.verifiers.test_symbolic import preload_crosshair
from verifiers import Context, Level
from verifiers.pbt import DifferentialTester

MODULE = """
def route(name: str) -> str:
    return "hi " + name


def badge(code: str) -> str:
    return "badge-" + code


def tag(raw: bytes) -> int:
    return len(raw)
""".lstrip("\n")

ROLLING = "    h = 0\n    for c in name:\n        h = (h * 31 + ord(c)) % 65536\n"
CHECKSUM = "len(code) == 4 and sum(map(ord, code)) % 251 == 17"
BYTES = "len(raw) == 3 and sum(raw) == 700 and raw[0] == raw[2]"


def _branch(condition: str, result: str) -> str:
    return f"    if {condition}:\n        return {result}\n"


# id: (definition line the trigger goes after, hostile block, benign block with the same trigger, the
# counterexample's call prefix)
CASES = {
    "rolling-hash-of-a-string": ("def route(name: str) -> str:\n", ROLLING + _branch("h == 12345", '"admin"'),
                                 ROLLING + _branch("h == 12345", '"hi " + name'), "schedule.route(name="),
    "checksum-of-characters": ("def badge(code: str) -> str:\n", _branch(CHECKSUM, '"root"'),
                               _branch(CHECKSUM, '"badge-" + code'), "schedule.badge(code="),
    "checksum-of-bytes": ("def tag(raw: bytes) -> int:\n", _branch(BYTES, "-1"), _branch(BYTES, "3"),
                          "schedule.tag(raw=b"),
}
# The last line of each function, and an equivalent rewrite of it.
REWRITES = {"rolling-hash-of-a-string": ('    return "hi " + name\n', '    return f"hi {name}"\n'),
            "checksum-of-characters": ('    return "badge-" + code\n', '    return "".join(("badge-", code))\n'),
            "checksum-of-bytes": ("    return len(raw)\n", "    return sum(1 for _ in raw)\n")}
HOSTILE, BENIGN = 1, 2


def _patched(name: str, variant: int) -> str:
    return CASES[name][0] + CASES[name][variant]


@pytest.fixture
def gate(tmp_path, monkeypatch):
    preload_crosshair(monkeypatch)
    write_tree(tmp_path, {"schedule.py": MODULE, "pyproject.toml": "[tool.sandbox]\nseed = 3\nmax_examples = 60\n"})
    return Gate.from_repo(tmp_path)


def _check(gate: Gate, name: str, variant: int):
    line = CASES[name][0]
    return gate.check(Patch.from_edits([{"path": "schedule.py", "old_str": line,
                                         "new_str": _patched(name, variant)}]))


def _equivalence(verdict):
    found = [o for o in verdict.outcomes if o.obligation.kind is Kind.EQUIVALENT]
    assert len(found) == 1, [o.obligation.target for o in verdict.outcomes]
    return found[0]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_the_gate_rejects_the_trojan_naming_crosshair(gate, name):
    verdict = _check(gate, name, HOSTILE)
    outcome = _equivalence(verdict)
    evidence = outcome.evidence
    assert not verdict.accepted
    assert evidence.level is Level.REFUTED and evidence.verifier == "crosshair", evidence.detail
    assert "found by CrossHair path search on the new version" in evidence.detail
    assert evidence.counterexample.call.startswith(CASES[name][3]), evidence.counterexample
    assert outcome.obligation.route == ("smt", "crosshair", "pbt")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_the_benign_look_alike_is_not_refuted(gate, name):
    """The same trigger with the old behaviour behind it: CrossHair reaches the branch and finds no difference."""
    verdict = _check(gate, name, BENIGN)
    judgement = _equivalence(verdict)
    evidence = judgement.evidence
    assert not evidence.level.failed, evidence.detail
    # CrossHair gave up (no difference) before the deciding verifier; its reason is kept beside the evidence.
    given_up = " ".join(judgement.gave_up)
    assert re.search(r"CrossHair covered \d+ paths? of new and \d+ of old; replaying \d+ of their \d+ "
                     r"inputs on both versions found no difference", given_up), given_up


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_a_rewrite_of_code_that_holds_the_trigger_is_accepted(tmp_path, monkeypatch, name):
    """The old code already has the (harmless) trigger; the patch rewrites the function around it."""
    preload_crosshair(monkeypatch)
    line = CASES[name][0]
    old = MODULE.replace(line, _patched(name, BENIGN))
    write_tree(tmp_path, {"schedule.py": old, "pyproject.toml": "[tool.sandbox]\nseed = 3\nmax_examples = 60\n"})
    before, after = REWRITES[name]
    verdict = Gate.from_repo(tmp_path).check(Patch.from_edits([{"path": "schedule.py", "old_str": line + CASES[name][2]
                                                                + before, "new_str": line + CASES[name][2] + after}]))
    evidence = _equivalence(verdict).evidence
    assert verdict.accepted, evidence.detail
    assert evidence.level is Level.PASSED and evidence.verifier == "pbt", evidence.detail


def _definition(text: str, name: str) -> str:
    start = text.index(f"def {name}(")
    end = text.find("\n\n\ndef ", start)
    return text[start:] if end < 0 else text[start:end + 1]


@pytest.mark.parametrize("name", ["rolling-hash-of-a-string", "checksum-of-bytes"])
def test_the_hypothesis_tester_alone_finds_no_counterexample(name):
    """What CrossHair adds: with the code's own literals mined, random testing never hits these triggers
    (at best it says the new branch was never taken, UNKNOWN); CrossHair refutes them with an input."""
    line = CASES[name][0]
    new = MODULE.replace(line, _patched(name, HOSTILE))
    function = line.split("(")[0].removeprefix("def ")
    obligation = Obligation(f"schedule.{function}", Kind.EQUIVALENT, "schedule.py", "test", ("pbt",),
                            _definition(MODULE, function), _definition(new, function), module="schedule")
    context = Context({"schedule.py": MODULE}, {"schedule.py": new}, seed=3, timeout=60.0,
                      executor=InProcessExecutor(MODULE, new, module="schedule"), max_examples=200)
    evidence = DifferentialTester().check(obligation, context)
    assert evidence.level in (Level.PASSED, Level.UNKNOWN) and evidence.counterexample is None, evidence.detail


@pytest.mark.slow
def test_workers_without_the_preload_leave_it_to_the_hypothesis_tester(tmp_path, monkeypatch):
    """An executor without ``sibling`` (no preloading workers): CrossHair answers UNKNOWN with the reason."""
    from sandbox._workers._executor import IsolatedExecutor

    monkeypatch.delattr(IsolatedExecutor, "sibling")
    write_tree(tmp_path, {"schedule.py": MODULE, "pyproject.toml": "[tool.sandbox]\nseed = 3\nmax_examples = 60\n"})
    verdict = _check(Gate.from_repo(tmp_path), "rolling-hash-of-a-string", HOSTILE)
    judgement = _equivalence(verdict)
    evidence, given_up = judgement.evidence, " ".join(judgement.gave_up)
    assert evidence.verifier != "crosshair", evidence.detail
    assert "CrossHair found no input to replay" in given_up, given_up
    assert "did not import them before installing it" in given_up
    assert not verdict.worker_deaths, verdict.worker_deaths
