"""The quorum of independent checkers and the reviewer model (a replayed response, no network)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from sandbox._cli import main
from sandbox._config import load_config
from sandbox._errors import ConfigError
from sandbox._ledger import Ledger
from tests.models._api import message, tool_use

QUORUM = '[tool.sandbox]\nquorum = { checkers = ["smt", "pbt"], need = 2 }\n'
# The prover supports integer arithmetic but not sets: on SIZE it answers UNKNOWN, the tester PASSED.
CALC = "def double(x: int) -> int:\n    return x * 2\n\n\ndef size(x: int) -> int:\n    return len({x, x + 1})\n"
DOUBLE = """--- a/calc.py
+++ b/calc.py
@@ -1,2 +1,2 @@
 def double(x: int) -> int:
-    return x * 2
+    return x + x
"""
SIZE = """--- a/calc.py
+++ b/calc.py
@@ -4,3 +4,3 @@
 
 def size(x: int) -> int:
-    return len({x, x + 1})
+    return len({x + 1, x})
"""
HOSTILE = """--- a/calc.py
+++ b/calc.py
@@ -1,2 +1,3 @@
+import subprocess
 def double(x: int) -> int:
     return x * 2
"""


def run(*argv: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


def check(repo: Path, tmp_path: Path, text: str, *extra: object) -> tuple[int, dict, str]:
    path = tmp_path / "change.diff"
    path.write_text(text)
    code, out, err = run("check", "--repo", repo, "--patch", path, "--format", "json", *extra)
    return code, json.loads(out), err


@pytest.mark.parametrize("table, problem", [
    ('quorum = { checkers = [], need = 1 }', "distinct verifier names"),
    ('quorum = { checkers = ["smt", "smt"] }', "distinct verifier names"),
    ('quorum = { checkers = ["smt", "pbt"], need = 3 }', "from 1 to 2"),
    ('quorum = { checkers = ["smt"], needs = 1 }', "a table with checkers and need"),
])
def test_quorum_setting_is_validated(make_repo, table, problem):
    repo = make_repo({"pyproject.toml": f"[tool.sandbox]\n{table}\n"})
    with pytest.raises(ConfigError, match=problem):
        load_config(repo)


def test_quorum_accepts_when_both_checkers_accept_and_each_signs(make_repo, tmp_path):
    repo = make_repo({"pyproject.toml": QUORUM, "calc.py": CALC})
    for name in ("smt", "pbt"):
        assert run("keygen", tmp_path / name)[0] == 0
    out = tmp_path / "q.intoto.json"
    code, report, err = check(repo, tmp_path, DOUBLE, "--attest", out,
                              "--key", f"smt={tmp_path / 'smt'}", "--key", f"pbt={tmp_path / 'pbt'}")
    assert code == 0 and report["accepted"], err
    votes = {c["checker"]: c for c in report["quorum"]["checkers"]}
    assert votes["smt"]["obligations"][0]["level"] == "PROVEN" and votes["pbt"]["obligations"][0]["level"] == "PASSED"
    pubs = ("--pub", tmp_path / "smt.pub", "--pub", tmp_path / "pbt.pub")
    assert run("attest", "verify", out, *pubs, "--threshold", 2)[0] == 0


def test_quorum_with_one_dissenting_checker_rejects_and_the_dissenter_does_not_sign(make_repo, tmp_path):
    repo = make_repo({"pyproject.toml": QUORUM, "calc.py": CALC})
    for name in ("smt", "pbt"):
        assert run("keygen", tmp_path / name)[0] == 0
    out = tmp_path / "q.intoto.json"
    code, report, err = check(repo, tmp_path, SIZE, "--attest", out,
                              "--key", f"smt={tmp_path / 'smt'}", "--key", f"pbt={tmp_path / 'pbt'}")
    assert code == 1 and not report["accepted"]
    assert all(o["ok"] for o in report["obligations"])  # the usual route alone would have accepted
    votes = {c["checker"]: c for c in report["quorum"]["checkers"]}
    assert not votes["smt"]["accepted"] and votes["smt"]["obligations"][0]["level"] == "UNKNOWN"
    assert votes["pbt"]["accepted"] and not report["quorum"]["met"]
    assert "not signed by smt" in err and "quorum: NOT met" in err
    pubs = ("--pub", tmp_path / "smt.pub", "--pub", tmp_path / "pbt.pub")
    code, text, _ = run("attest", "verify", out, *pubs, "--threshold", 2)
    assert code == 1 and "1 of the 2 trusted key(s)" in text


def _replay(tmp_path: Path, decision: str, *reasons: str) -> Path:
    path = tmp_path / f"review-{decision}.json"
    answer = tool_use({"decision": decision, "reasons": list(reasons)}, name="review_change")
    path.write_text(json.dumps([message([answer], "tool_use")]))
    return path


def test_a_reviewer_objection_blocks_an_accepted_patch_and_is_recorded(make_repo, tmp_path):
    repo = make_repo({"calc.py": CALC})
    reviewer = _replay(tmp_path, "object", "double() now reads x twice; no reason is given for the change")
    path = tmp_path / "change.diff"
    path.write_text(DOUBLE)
    code, out, err = run("apply", path, "--repo", repo, "--format", "json", "--reviewer-replay", reviewer)
    report = json.loads(out)
    assert code == 1 and not report["accepted"] and all(o["ok"] for o in report["obligations"])
    assert report["review"]["decision"] == "object" and "reads x twice" in err
    assert (repo / "calc.py").read_text() == CALC
    [entry] = [e for e in Ledger(repo / ".sandbox").entries() if e.kind == "verdict"]
    assert entry.record["review"]["reasons"] == ["double() now reads x twice; no reason is given for the change"]


def test_a_reviewer_approval_never_accepts_a_rejected_patch(make_repo, tmp_path):
    repo = make_repo({"calc.py": CALC})
    code, report, err = check(repo, tmp_path, HOSTILE, "--reviewer-replay", _replay(tmp_path, "approve", "fine"))
    assert code == 1 and not report["accepted"] and report["review"]["decision"] == "approve"


def test_a_reviewer_approval_keeps_an_acceptance(make_repo, tmp_path):
    repo = make_repo({"calc.py": CALC})
    code, report, _ = check(repo, tmp_path, DOUBLE, "--reviewer-replay", _replay(tmp_path, "approve", "same value"))
    assert code == 0 and report["accepted"] and report["review"]["reasons"] == ["same value"]


def test_a_reviewer_that_cannot_answer_is_an_error_not_a_verdict(make_repo, tmp_path):
    repo = make_repo({"calc.py": CALC})
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    path = tmp_path / "change.diff"
    path.write_text(DOUBLE)
    code, _, err = run("check", "--repo", repo, "--patch", path, "--reviewer-replay", empty)
    assert code == 2 and "the reviewer could not answer" in err


def test_the_text_report_leads_with_the_quorum_and_the_review_and_says_why_it_rejected(make_repo, tmp_path):
    repo = make_repo({"pyproject.toml": QUORUM, "calc.py": CALC})
    path = tmp_path / "change.diff"
    path.write_text(SIZE)
    reviewer = _replay(tmp_path, "object", "size() is rewritten for no stated reason")
    code, out, _ = run("check", "--repo", repo, "--patch", path, "--reviewer-replay", reviewer)
    assert code == 1
    summary, _, details = out.partition("Details")
    assert "Quorum: NOT met: smt does not accept, pbt accepts; 2 of 2 checker(s) must accept" in summary
    assert "Reviewer (" in summary and "object: size() is rewritten for no stated reason (it blocks" in summary
    why = details.split("Why it was rejected", 1)[1]
    assert "x quorum not met" in why and "x the reviewer model objected" in why


def test_check_many_signs_each_candidate_with_the_checkers_that_accepted_it(make_repo, tmp_path):
    """The batch signs as `check` does: DOUBLE is vouched for by both checkers, SIZE only by the tester
    (the prover answers UNKNOWN on sets), so only DOUBLE holds with --threshold 2."""
    repo = make_repo({"pyproject.toml": QUORUM, "calc.py": CALC})
    for name in ("smt", "pbt"):
        assert run("keygen", tmp_path / name)[0] == 0
    patches = tmp_path / "patches"
    patches.mkdir()
    (patches / "double.diff").write_text(DOUBLE)
    (patches / "size.diff").write_text(SIZE)
    code, out, err = run("check-many", "--repo", repo, "--patches", patches, "--workers", 1,
                         "--attest", tmp_path / "out", "--key", f"smt={tmp_path / 'smt'}",
                         "--key", f"pbt={tmp_path / 'pbt'}")
    assert code == 0, err
    records = {r["id"]: r for r in map(json.loads, out.splitlines())}
    pubs = ("--pub", tmp_path / "smt.pub", "--pub", tmp_path / "pbt.pub")
    assert records["double.diff"]["accepted"]
    assert run("attest", "verify", records["double.diff"]["attestation"]["path"], *pubs, "--threshold", 2)[0] == 0
    size = records["size.diff"]
    assert not size["accepted"]
    assert size["attestation"]["path"] is not None  # the tester accepted, so its key signed
    code, text, _ = run("attest", "verify", size["attestation"]["path"], *pubs, "--threshold", 2)
    assert code == 1, text
