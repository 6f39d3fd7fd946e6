"""--defer: a fast hook leaves some kinds of obligation to the full check, and says so."""

from __future__ import annotations

import io
import json

import pytest

from sandbox import Gate, Patch
from sandbox._cli import main
from sandbox._errors import ConfigError

SOURCE = "def double(x: int) -> int:\n    return x * 2\n"
REFACTOR = "def double(x: int) -> int:\n    return x + x\n"
HOSTILE = "import os\n\n\ndef double(x: int) -> int:\n    os.system('true')\n    return x + x\n"


@pytest.fixture
def repo(make_repo):
    return make_repo({"calc.py": SOURCE})


def run(repo, tmp_path, text: str, *options: str) -> tuple[int, str, str]:
    patch = tmp_path / "p.json"
    patch.write_text(json.dumps({"calc.py": text}))
    out, err = io.StringIO(), io.StringIO()
    code = main(["check", "--repo", str(repo), "--patch", str(patch), *options], out, err)
    return code, out.getvalue(), err.getvalue()


def test_deferred_obligations_are_not_run_and_the_patch_is_not_accepted(repo):
    verdict = Gate.from_repo(repo, defer=("equivalent",)).check(Patch.from_files({"calc.py": REFACTOR}))
    deferred = [o for o in verdict.outcomes if o.deferred]
    assert [o.obligation.target for o in deferred] == ["calc.double"]
    assert not deferred[0].ran and not deferred[0].ok and "deferred (--defer equivalent)" in deferred[0].evidence.detail
    assert not verdict.accepted and verdict.met_except_deferred
    assert all(o.ok for o in verdict.outcomes if not o.deferred)


def test_the_fast_hook_exits_0_and_says_what_it_left(repo, tmp_path):
    code, out, _ = run(repo, tmp_path, REFACTOR, "--defer", "equivalent")
    assert code == 0
    assert "MET, SOME DEFERRED" in out.splitlines()[0]
    assert "1 (equivalent) were deferred (--defer) to the full check" in out
    assert "deferred  equivalent   calc.double" in out


def test_a_policy_violation_still_rejects_whatever_is_deferred(repo, tmp_path):
    code, out, _ = run(repo, tmp_path, HOSTILE, "--defer", "equivalent", "--defer", "import")
    assert code == 1 and "REJECTED" in out.splitlines()[0]


def test_defer_cannot_apply_and_cannot_name_policy(repo, tmp_path):
    code, _, err = run(repo, tmp_path, REFACTOR, "--defer", "equivalent", "--apply")
    assert code == 2 and "--defer leaves obligations unchecked" in err
    assert run(repo, tmp_path, REFACTOR, "--defer", "policy")[0] == 2
    with pytest.raises(ConfigError, match="policy checks always run"):
        Gate.from_repo(repo, defer=("policy",))


def test_json_marks_the_deferred_obligation(repo, tmp_path):
    code, out, _ = run(repo, tmp_path, REFACTOR, "--defer", "equivalent", "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["accepted"] is False
    assert [o["target"] for o in report["obligations"] if o["deferred"]] == ["calc.double"]
