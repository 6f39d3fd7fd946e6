"""Black-box tests of the command line: exit codes, output formats, nothing written on check."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sandbox._cli import main
from tests.conftest import snapshot

TRAIN = '''
import math

LR = 3e-4


def clip(value: float, limit: float) -> float:
    return max(-limit, min(limit, value))
'''

RETUNE = """--- a/train.py
+++ b/train.py
@@ -1,6 +1,6 @@
 import math
 
-LR = 3e-4
+LR = 6e-4
 
 
 def clip(value: float, limit: float) -> float:
"""

HOSTILE = """--- a/train.py
+++ b/train.py
@@ -1,4 +1,5 @@
 import math
+from subprocess import run as r
 
 LR = 3e-4
 
"""


@pytest.fixture
def repo(make_repo):
    return make_repo({
        "train.py": TRAIN,
        "sandbox_properties.py": "from properties import bounds\nbounds('train.LR', 1e-5, 1e-3)\n",
    })


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def patch_file(tmp_path: Path, text: str, name: str = "change.diff") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_accepted_patch_exits_0_with_a_readable_report(repo, tmp_path):
    before = snapshot(repo)
    code, out, err = run("check", "--repo", str(repo), "--patch", patch_file(tmp_path, RETUNE))
    assert code == 0, out + err
    assert out.startswith("sandbox check: ACCEPTED")
    assert "train.LR" in out and "PROVEN" in out and "lies within" in out
    assert snapshot(repo) == before


def test_hostile_patch_exits_1_and_names_the_rule_in_json(repo, tmp_path):
    before = snapshot(repo)
    code, out, _ = run("check", "--repo", str(repo), "--patch", patch_file(tmp_path, HOSTILE), "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert report["accepted"] is False
    assert {"rule": "subprocess", "path": "train.py", "line": 2} == {k: report["violations"][0][k] for k in ("rule", "path", "line")}
    assert set(report) >= {"accepted", "obligations", "violations", "seconds", "certificate"}
    assert snapshot(repo) == before


@pytest.mark.parametrize("text", [
    "this is not a diff\n",
    "--- a/train.py\n+++ b/train.py\n@@ -1,2 +1,2 @@\n-not the right context\n+x\n",
    "--- a/../outside.py\n+++ b/../outside.py\n@@ -0,0 +1 @@\n+x = 1\n",
    "--- /dev/null\n+++ b/broken.py\n@@ -0,0 +1 @@\n+def f(:\n",
])
def test_malformed_patches_exit_2_naming_the_problem_and_write_nothing(repo, tmp_path, text):
    before = snapshot(repo)
    code, out, err = run("check", "--repo", str(repo), "--patch", patch_file(tmp_path, text))
    assert code == 2 and out == ""
    assert err.startswith("sandbox check: error:")
    assert snapshot(repo) == before
    code, out, _ = run("check", "--repo", str(repo), "--patch", patch_file(tmp_path, text), "--format", "json")
    error = json.loads(out)["error"]
    assert code == 2 and error["type"] in ("PatchError", "SandboxError") and error["message"]
    assert snapshot(repo) == before


def test_patch_from_stdin_and_json_edits(repo, monkeypatch):
    edits = json.dumps([{"path": "train.py", "old_str": "LR = 3e-4", "new_str": "LR = 5e-4"}])
    monkeypatch.setattr(sys, "stdin", io.StringIO(edits))
    code, out, _ = run("check", "--repo", str(repo), "--patch", "-")
    assert code == 0, out


def test_output_file_and_machine_formats(repo, tmp_path):
    target = tmp_path / "report.sarif"
    code, out, _ = run("check", "--repo", str(repo), "--patch", patch_file(tmp_path, HOSTILE),
                       "--format", "sarif", "--output", str(target))
    assert code == 1 and out == ""
    sarif = json.loads(target.read_text())
    assert sarif["runs"][0]["results"][0]["ruleId"] == "subprocess"
    _, junit, _ = run("check", "--repo", str(repo), "--patch", patch_file(tmp_path, HOSTILE), "--format", "junit")
    suite = ET.fromstring(junit)
    assert suite.get("failures") == "1" and suite.find("testcase/failure") is not None
    _, github, _ = run("check", "--repo", str(repo), "--patch", patch_file(tmp_path, HOSTILE), "--format", "github")
    assert github.startswith("::error file=train.py,line=2,title=subprocess::")


def test_require_flag_is_validated(repo, tmp_path):
    code, _, err = run("check", "--repo", str(repo), "--patch", patch_file(tmp_path, RETUNE), "--require", "maybe")
    assert code == 2


def test_apply_then_log_then_tamper(repo, tmp_path):
    code, out, err = run("apply", patch_file(tmp_path, RETUNE), "--repo", str(repo))
    assert code == 0, out + err
    assert "LR = 6e-4" in (repo / "train.py").read_text()
    assert "applied 1 file(s)" in out
    code, out, _ = run("log", "--repo", str(repo))
    assert code == 0 and "verdict" in out and "apply" in out
    code, out, _ = run("log", "--verify", "--repo", str(repo))
    assert code == 0 and out.startswith("ledger unanchored: 2 entries")  # not a git repository: no anchor
    ledger = repo / ".sandbox" / "ledger.jsonl"
    ledger.write_text(ledger.read_text().replace('"accepted":true', '"accepted":false', 1))
    code, out, _ = run("log", "--verify", "--repo", str(repo))
    assert code == 1 and "TAMPERED" in out


def test_rejected_apply_is_recorded_and_writes_no_source(repo, tmp_path):
    code, _, _ = run("apply", patch_file(tmp_path, HOSTILE), "--repo", str(repo))
    assert code == 1
    assert "subprocess" not in (repo / "train.py").read_text()
    _, out, _ = run("log", "--repo", str(repo))
    assert "rejected" in out


def test_check_with_apply_flag(repo, tmp_path):
    code, out, _ = run("check", "--repo", str(repo), "--patch", patch_file(tmp_path, RETUNE), "--apply")
    assert code == 0 and "LR = 6e-4" in (repo / "train.py").read_text()


def test_usage_errors_exit_2(repo):
    assert run("check", "--repo", str(repo))[0] == 2
    assert run("frobnicate")[0] == 2
    code, _, err = run("check", "--repo", str(repo / "missing"), "--patch", "x.diff")
    assert code == 2
    code, _, err = run("improve", "--goal", "faster", "--repo", str(repo / "missing"))
    assert code == 2 and "not a directory" in err


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                   check=True, capture_output=True)


def test_base_head_checks_a_git_range_against_the_base_properties(repo):
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    # The head commit loosens the property file *and* retunes out of the old bounds.
    (repo / "sandbox_properties.py").write_text("from properties import bounds\nbounds('train.LR', 0, 1)\n")
    (repo / "train.py").write_text(TRAIN.lstrip("\n").replace("LR = 3e-4", "LR = 0.5"))
    _git(repo, "commit", "-q", "-am", "head")
    before = snapshot(repo)
    code, out, err = run("check", "--repo", str(repo), "--base", "HEAD~1", "--head", "HEAD", "--format", "json")
    assert code == 1, err
    report = json.loads(out)
    assert {v["rule"] for v in report["violations"]} == {"protected-path"}
    levels = {o["target"]: o["level"] for o in report["obligations"]}
    assert levels["train.LR"] == "REFUTED"  # judged by the base revision's bounds, not the head's
    assert report["repo"] == str(repo.resolve())
    assert snapshot(repo) == before


def test_python_dash_m_sandbox_works(repo, tmp_path):
    result = subprocess.run([sys.executable, "-m", "sandbox", "check", "--repo", str(repo),
                             "--patch", patch_file(tmp_path, RETUNE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_log_and_recover_work_even_when_the_property_file_is_broken(repo, tmp_path):
    assert run("apply", patch_file(tmp_path, RETUNE), "--repo", str(repo))[0] == 0
    (repo / "sandbox_properties.py").write_text("raise RuntimeError('broken')\n")
    code, out, _ = run("log", "--verify", "--repo", str(repo))
    assert code == 0 and "ledger unanchored: 2 entries" in out
    code, out, _ = run("recover", "--repo", str(repo))
    assert (code, out) == (0, "nothing to recover\n")
    code, _, err = run("check", "--repo", str(repo), "--patch", patch_file(tmp_path, RETUNE))
    assert code == 2 and "sandbox_properties.py:1" in err and "RuntimeError" in err


def test_log_of_a_repository_with_no_ledger(repo):
    code, out, _ = run("log", "--repo", str(repo))
    assert code == 0 and "empty" in out
    code, out, _ = run("log", "--verify", "--repo", str(repo))
    assert code == 0 and out.startswith("ledger unanchored: 0 entries")  # never "intact": nothing vouches for it
    assert "cannot be told" in out
    assert not (repo / ".sandbox").exists()


def test_base_head_runs_code_against_the_whole_tree_at_each_revision(make_repo):
    # clip() calls a helper in another module: the workers need the untouched files too.
    root = make_repo({
        "helpers.py": "def bound(limit: float) -> float:\n    return abs(limit)\n",
        "train.py": "from helpers import bound\n\n\ndef clip(value: float, limit: float) -> float:\n"
                    "    return max(-bound(limit), min(bound(limit), value))\n",
    })
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "base")
    (root / "train.py").write_text((root / "train.py").read_text().replace("value))", "value + 1))"))
    _git(root, "commit", "-q", "-am", "head")
    code, out, err = run("check", "--repo", str(root), "--base", "HEAD~1", "--head", "HEAD", "--format", "json")
    outcome = next(o for o in json.loads(out)["obligations"] if o["target"] == "train.clip")
    assert code == 1 and outcome["level"] == "REFUTED", outcome
    assert "returned" in outcome["counterexample"]["old"]  # the old side ran, with its helper


# ---------------------------------------------------------------------------------- apply: approval, --patch, lock

MANUAL = '[tool.sandbox]\napply = "manual"\n'


def no_lock(root: Path) -> bool:
    return not (root / ".sandbox" / "lock").exists()


def test_apply_waiting_for_approval_exits_4_writes_nothing_and_leaves_no_lock(repo, tmp_path):
    (repo / "pyproject.toml").write_text(MANUAL)
    before = (repo / "train.py").read_text()
    code, out, err = run("apply", "--patch", patch_file(tmp_path, RETUNE), "--repo", str(repo))
    assert code == 4, out + err
    assert "not applied" in out and "reserves every change for a person" in out and "--approve" in out
    assert (repo / "train.py").read_text() == before and no_lock(repo)
    _, log, _ = run("log", "--repo", str(repo))
    assert "awaiting approval, not applied" in log
    code, out, _ = run("apply", "--patch", patch_file(tmp_path, RETUNE), "--repo", str(repo), "--format", "json")
    assert code == 4 and json.loads(out)["accepted"] is True  # stdout stays one JSON object
    code, out, err = run("check", "--repo", str(repo), "--patch", patch_file(tmp_path, RETUNE), "--apply")
    assert code == 4 and (repo / "train.py").read_text() == before
    # The look-alike: a person approves, and it is applied.
    code, out, err = run("apply", "--patch", patch_file(tmp_path, RETUNE), "--repo", str(repo), "--approve")
    assert code == 0 and "LR = 6e-4" in (repo / "train.py").read_text() and no_lock(repo)


def test_apply_takes_the_patch_positionally_or_with_patch_but_not_both(repo, tmp_path):
    diff = patch_file(tmp_path, RETUNE)
    code, _, err = run("apply", diff, "--patch", diff, "--repo", str(repo))
    assert code == 2 and "name the patch once" in err
    code, _, err = run("apply", "--repo", str(repo))
    assert code == 2 and "name the patch once" in err
    code, out, err = run("apply", "--patch", diff, "--repo", str(repo))
    assert code == 0 and "applied 1 file(s)" in out, out + err


def test_no_command_leaves_a_lock_behind(repo, tmp_path, monkeypatch):
    diff = patch_file(tmp_path, RETUNE)
    assert run("apply", patch_file(tmp_path, HOSTILE, "hostile.diff"), "--repo", str(repo))[0] == 1 and no_lock(repo)
    assert run("apply", diff, "--repo", str(repo))[0] == 0 and no_lock(repo)
    assert run("apply", diff, "--repo", str(repo))[0] == 2 and no_lock(repo)  # stale: already applied
    assert run("recover", "--repo", str(repo))[0] == 0 and no_lock(repo)
    assert run("log", "--verify", "--repo", str(repo))[0] == 0 and no_lock(repo)

    def explode(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("sandbox._apply._execute", explode)
    (repo / "train.py").write_text(TRAIN.lstrip("\n"))
    code, _, err = run("apply", diff, "--repo", str(repo))
    assert code == 2 and "disk on fire" in err and no_lock(repo)
    assert "LR = 3e-4" in (repo / "train.py").read_text()


def test_a_check_the_prover_settles_imports_neither_the_other_commands_nor_the_tester(tmp_path):
    """Every `sandbox check` builds the whole command line; the loop, the batch machinery,
    hypothesis and CrossHair load only for the commands and obligations that use them."""
    (tmp_path / "calc.py").write_text("def double(x: int) -> int:\n    return x * 2\n")
    (tmp_path / "p.json").write_text(json.dumps({"calc.py": "def double(x: int) -> int:\n    return x + x\n"}))
    script = ("import sys, io; from sandbox._cli import main; "
              f"code = main(['check', '--repo', {str(tmp_path)!r}, '--patch', {str(tmp_path / 'p.json')!r}, "
              "'--no-cache'], io.StringIO(), sys.stderr); "
              "heavy = ('sandbox.loop._loop', 'sandbox.batch._cascade', 'models', 'hypothesis', 'crosshair'); "
              "print(code, sorted(m for m in sys.modules if m.split('.')[0] in ('hypothesis', 'crosshair', 'models') "
              "or m in heavy))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.stdout.strip() == "0 []", done.stdout + done.stderr
