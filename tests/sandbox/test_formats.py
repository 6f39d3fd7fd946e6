"""The machine formats CI consumes: SARIF that code scanning takes as it is, JUnit, workflow commands.

Every verdict here comes from the real gate on a temporary repository.  SARIF is validated
against the official SARIF 2.1.0 schema, vendored next to this file (see SARIF_SCHEMA_SOURCE.md).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from properties import RULES
from sandbox import Gate, Patch
from sandbox._report import render

SCHEMA = json.loads((Path(__file__).with_name("sarif-2.1.0-rtm.5.json")).read_text(encoding="utf-8"))

TRAIN = '''
def step(x: int) -> int:
    return x + 1


def scale(x: float) -> float:
    return x * 2.0


def untyped(x):
    return x
'''

KERNEL = '''
import torch


def act(x: torch.Tensor) -> torch.Tensor:
    return torch.relu(x)
'''


@pytest.fixture
def repo(make_repo):
    return make_repo({"train.py": TRAIN, "sandbox_properties.py": "\n"})


def check(root: Path, path: str, old: str, new: str):
    text = (root / path).read_text()
    assert old in text
    return Gate.from_repo(root).check(Patch.from_files({path: text.replace(old, new)}))


HOSTILE = ("    return x + 1\n", "    import subprocess\n    subprocess.run(['true'])\n    return x + 1\n")


@pytest.fixture
def verdicts(repo):
    """One real verdict of each kind a report must carry."""
    return {
        "accepted": check(repo, "train.py", "    return x * 2.0\n", "    return 2.0 * x\n"),
        "violation": check(repo, "train.py", *HOSTILE),
        "refuted": check(repo, "train.py", "return x + 1", "return x + 2"),
        "unknown": check(repo, "train.py", "    return x\n", "    return x + 0\n"),
    }


def levels(verdict) -> set[str]:
    return {o.evidence.level.value for o in verdict.outcomes}


def validate(sarif_text: str) -> dict:
    doc = json.loads(sarif_text)
    jsonschema.Draft4Validator(SCHEMA).validate(doc)
    return doc


def test_the_verdicts_are_of_the_kinds_the_tests_are_about(verdicts):
    assert verdicts["accepted"].accepted
    assert "VIOLATION" in levels(verdicts["violation"]) and not verdicts["violation"].accepted
    assert "REFUTED" in levels(verdicts["refuted"]) and not verdicts["refuted"].accepted
    assert "UNKNOWN" in levels(verdicts["unknown"]) and not verdicts["unknown"].accepted


def test_the_vendored_schema_rejects_what_is_not_sarif():
    validator = jsonschema.Draft4Validator(SCHEMA)
    assert not validator.is_valid({"version": "2.1.0", "runs": [{"tool": {}}]})  # a driver is required
    assert not validator.is_valid({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}},
                                                                 "results": [{"message": {}}]}]})


@pytest.mark.parametrize("kind", ["accepted", "violation", "refuted", "unknown"])
def test_sarif_validates_against_the_sarif_2_1_0_schema(verdicts, kind):
    doc = validate(render(verdicts[kind], "sarif"))
    results = doc["runs"][0]["results"]
    assert (results == []) == (kind == "accepted")


def test_a_hostile_change_points_at_the_file_and_line_with_a_stable_rule(verdicts, repo):
    doc = validate(render(verdicts["violation"], "sarif"))
    run = doc["runs"][0]
    (result,) = [r for r in run["results"] if r["ruleId"] == "subprocess" and "subprocess.run" in r["message"]["text"]]
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "train.py"
    lines = verdicts["violation"].files[0].after_text.splitlines()
    assert lines[location["region"]["startLine"] - 1] == "    subprocess.run(['true'])"
    rule = run["tool"]["driver"]["rules"][result["ruleIndex"]]
    assert rule["id"] == "subprocess" and rule["help"]["text"] and rule["helpUri"].endswith("ci.md#subprocess")


def test_every_rule_has_help_text_and_a_uri_that_docs_ci_md_has_a_heading_for(verdicts):
    driver = validate(render(verdicts["refuted"], "sarif"))["runs"][0]["tool"]["driver"]
    ids = [rule["id"] for rule in driver["rules"]]
    assert len(ids) == len(set(ids)) and set(RULES) <= set(ids) and "equivalent-refuted" in ids
    docs = (Path(__file__).parents[2] / "docs" / "ci.md").read_text(encoding="utf-8")
    anchors = {_anchor(line) for line in docs.splitlines() if line.startswith("#")}
    for rule in driver["rules"]:
        assert rule["help"]["text"].strip() and rule["shortDescription"]["text"].strip()
        assert rule["helpUri"].partition("#")[2] in anchors, rule["helpUri"]


def _anchor(heading: str) -> str:
    """The anchor GitHub gives a markdown heading."""
    text = heading.lstrip("#").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def test_refuted_and_unknown_results_carry_the_definition_s_region(verdicts):
    for kind, rule in (("refuted", "equivalent-refuted"), ("unknown", "equivalent-unknown")):
        results = validate(render(verdicts[kind], "sarif"))["runs"][0]["results"]
        (result,) = [r for r in results if r["ruleId"] == rule]
        region = result["locations"][0]["physicalLocation"]["region"]
        name = "step" if kind == "refuted" else "untyped"
        lines = verdicts[kind].files[0].after_text.splitlines()
        assert lines[region["startLine"] - 1].startswith(f"def {name}(")
        assert region["endLine"] > region["startLine"]


def test_fingerprints_survive_unrelated_lines_moving_and_differ_between_findings(make_repo):
    moved = "\n\ndef unrelated(y: int) -> int:\n    return y\n\n" + TRAIN
    first = check(make_repo({"train.py": TRAIN, "sandbox_properties.py": "\n"}), "train.py", *HOSTILE)
    second = check(make_repo({"train.py": moved, "sandbox_properties.py": "\n"}), "train.py", *HOSTILE)
    a, b = (validate(render(v, "sarif"))["runs"][0]["results"] for v in (first, second))
    assert len(a) == len(b) >= 1
    assert ([r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in a]
            != [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in b])
    prints = lambda results: sorted(r["partialFingerprints"]["sandboxFinding/v1"] for r in results)  # noqa: E731
    assert prints(a) == prints(b)
    other = check(make_repo({"train.py": TRAIN, "sandbox_properties.py": "\n"}), "train.py",
                  "    return x * 2.0\n", "    import socket\n    socket.socket()\n    return x * 2.0\n")
    assert not set(prints(a)) & set(prints(validate(render(other, "sarif"))["runs"][0]["results"]))
    refuted = [check(make_repo({"train.py": text, "sandbox_properties.py": "\n"}), "train.py",
                     "return x + 1", "return x + 2") for text in (TRAIN, moved)]
    assert prints(validate(render(refuted[0], "sarif"))["runs"][0]["results"]) == prints(
        validate(render(refuted[1], "sarif"))["runs"][0]["results"])


def test_fingerprints_leave_out_numbers_and_scratch_paths():
    from sandbox._report import _fingerprint

    one = _fingerprint("runtime-audit", "a.py", "a.f", "open('/tmp/sandbox-w-k3j9/x', 'w') after 0.51 s")
    two = _fingerprint("runtime-audit", "a.py", "a.f", "open('/tmp/sandbox-w-zz81/x', 'w') after 2.07 s")
    assert one == two != _fingerprint("runtime-audit", "a.py", "a.f", "socket.connect after 0.51 s")
    assert one != _fingerprint("runtime-audit", "b.py", "a.f", "open('/tmp/sandbox-w-k3j9/x', 'w') after 0.51 s")


def test_the_same_finding_twice_in_one_definition_is_two_alerts(repo):
    twice = "    import subprocess\n    subprocess.run(['true'])\n    subprocess.run(['true'])\n    return x + 1\n"
    verdict = check(repo, "train.py", "    return x + 1\n", twice)
    results = validate(render(verdict, "sarif"))["runs"][0]["results"]
    calls = [r for r in results if r["ruleId"] == "subprocess" and "subprocess.run" in r["message"]["text"]]
    assert len(calls) == 2
    assert len({r["partialFingerprints"]["sandboxFinding/v1"] for r in calls}) == 2


@pytest.mark.slow
def test_a_refuted_kernel_is_valid_sarif_at_the_kernel_s_lines(make_repo):
    pytest.importorskip("torch")
    root = make_repo({"model.py": KERNEL, "sandbox_properties.py": "\n"})
    verdict = check(root, "model.py", "return torch.relu(x)", "return torch.relu(x) * 1.01")
    assert {o.obligation.kind.value for o in verdict.failures} == {"kernel"}
    results = validate(render(verdict, "sarif"))["runs"][0]["results"]
    (result,) = results
    assert result["ruleId"] == f"kernel-{verdict.failures[0].evidence.level.value.lower()}"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 4


def test_junit_has_one_testcase_per_obligation_and_a_failure_for_each_unmet_one(verdicts):
    for kind, verdict in verdicts.items():
        suite = ET.fromstring(render(verdict, "junit"))
        assert suite.tag == "testsuite"
        cases = suite.findall("testcase")
        assert len(cases) == len(verdict.outcomes) == int(suite.get("tests"))
        failed = {c.get("name") for c in cases if c.find("failure") is not None}
        assert failed == {f"{o.obligation.kind.value} {o.obligation.target}" for o in verdict.failures}
        assert int(suite.get("failures")) == len(failed) and (kind == "accepted") == (not failed)
        for case in cases:
            assert case.get("classname") and float(case.get("time")) >= 0


def test_junit_failure_text_is_the_detail_even_with_markup_characters(verdicts):
    import dataclasses

    verdict = verdicts["refuted"]
    (outcome,) = verdict.failures
    detail = 'old <a & "b"> ]]> new'
    odd = dataclasses.replace(outcome, evidence=dataclasses.replace(outcome.evidence, detail=detail))
    suite = ET.fromstring(render(dataclasses.replace(verdict, outcomes=(odd,)), "junit"))
    (failure,) = [c.find("failure") for c in suite.findall("testcase")]
    assert failure.get("message") == "REFUTED" and failure.text == detail
    real = ET.fromstring(render(verdicts["violation"], "junit"))
    texts = [c.find("failure").text for c in real.findall("testcase") if c.find("failure") is not None]
    assert any("subprocess" in text for text in texts)


def test_github_commands_escape_percent_newlines_and_property_separators(verdicts):
    import dataclasses

    verdict = verdicts["violation"]
    outcome = next(o for o in verdict.outcomes if o.evidence.violations)
    tricky = dataclasses.replace(outcome.evidence.violations[0], path="dir,a:b/x.py",
                                 message="100% sure\r\nsecond: line, really")
    evidence = dataclasses.replace(outcome.evidence, violations=(tricky,))
    changed = dataclasses.replace(verdict, outcomes=(dataclasses.replace(outcome, evidence=evidence),))
    lines = render(changed, "github").splitlines()
    assert lines[0] == ("::error file=dir%2Ca%3Ab/x.py,line=" + str(tricky.line) +
                        ",title=subprocess::100%25 sure%0D%0Asecond: line, really")
    assert lines[-1].startswith("::notice title=sandbox::rejected: 1 obligations")
    assert len(lines) == 2  # a message's newline never starts a second command


def test_github_commands_of_a_real_refutation_are_one_line_each(verdicts):
    lines = render(verdicts["refuted"], "github").splitlines()
    assert all(line.startswith("::") for line in lines)
    assert any(line.startswith("::error file=train.py,line=1,title=equivalent REFUTED::train.step") for line in lines)
