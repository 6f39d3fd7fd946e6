"""`sandbox improve` end to end on real git repositories: keeps, roll-backs, feedback and tripwires."""

from __future__ import annotations

import pytest

from tests.conftest import snapshot
from tests.sandbox.loop._fixtures import LOOP, improve, ledger_kinds, make_loop_repo, proposals, train_with, tree


@pytest.fixture
def repo(tmp_path):
    return make_loop_repo(tmp_path / "repo")


def test_a_significant_improvement_is_kept_and_recorded(repo, tmp_path):
    props = proposals(tmp_path / "p", {"files": {"train.py": train_with(20)}})
    code, report, err = improve(repo, "--proposals", str(props), "--rounds", "1", *LOOP)
    assert code == 0, err
    [done] = report["rounds"]
    assert done["decision"] == "kept" and done["accepted"] and done["applied"] and done["kept"]
    assert done["objective"]["before"]["samples"] == [10.0, 12.0, 14.0]
    assert done["objective"]["after"]["samples"] == [20.0, 22.0, 24.0]
    assert "improvement significant" in done["feedback"]
    assert (repo / "train.py").read_text() == train_with(20)
    kinds = ledger_kinds(repo)
    applied = [r for k, r in kinds if k == "apply"]
    assert len(applied) == 1 and applied[0]["files"] == ["train.py"]
    assert [r["decision"] for k, r in kinds if k == "improve-round"] == ["applying", "kept"]
    assert report["ledger_head"] == (repo / ".sandbox" / "ledger.head").read_text().split('"head":"')[1][:64]


def test_a_change_within_noise_is_rolled_back(repo, tmp_path):
    props = proposals(tmp_path / "p", {"files": {"train.py": train_with(11)}})
    before = tree(repo)
    code, report, err = improve(repo, "--proposals", str(props), "--rounds", "1", *LOOP)
    assert code == 1, err
    [done] = report["rounds"]
    assert done["decision"] == "rolled back" and done["accepted"] and not done["kept"]
    assert "improvement within noise: mean Δ +1" in done["feedback"] and "σ 1.63" in done["feedback"]
    assert tree(repo) == before
    assert not [k for k, _ in ledger_kinds(repo) if k == "apply"]


def test_editing_the_objective_script_is_a_tripwire_and_changes_nothing(repo, tmp_path):
    hack = "--- a/objective.py\n+++ b/objective.py\n@@ -5,1 +5,1 @@\n-print(float(train.N + 2 * int(os.environ[\"SANDBOX_REPEAT\"])))\n+print(1e9)\n"
    props = proposals(tmp_path / "p", hack, {"files": {"train.py": train_with(20)}})
    before = tree(repo)
    code, report, err = improve(repo, "--proposals", str(props), "--rounds", "2", *LOOP)
    assert code == 3, err
    assert report["halted"]["tripwire"] == "protected-path"
    assert "objective.py (one of the objective's files)" in report["halted"]["message"]
    assert len(report["rounds"]) == 1  # halted before the second proposal
    assert tree(repo) == before
    kinds = ledger_kinds(repo)
    assert kinds[-1][0] == "improve-halt"
    [round_] = [r for k, r in kinds if k == "improve-round"]
    assert round_["detail"]["proposal"]["text"] == hack  # the attempt is kept for a person to read


def test_a_module_the_objective_imports_outside_the_editable_paths_is_protected_too(tmp_path):
    repo = make_loop_repo(tmp_path / "repo", {
        "metric.py": "def report(value: float) -> float:\n    return value\n",
        "objective.py": "import os\nimport metric\nimport train\n"
                        "print(metric.report(float(train.N + 2 * int(os.environ['SANDBOX_REPEAT']))))\n"})
    props = proposals(tmp_path / "p", {"files": {"metric.py": "def report(value: float) -> float:\n    return value * 10\n"}})
    before = tree(repo)
    code, report, err = improve(repo, "--proposals", str(props), "--rounds", "1", *LOOP)
    assert code == 3, err
    assert "metric.py (one of the objective's files)" in report["halted"]["message"]
    assert tree(repo) == before


def test_an_implausible_gain_halts_without_keeping(repo, tmp_path):
    props = proposals(tmp_path / "p", {"files": {"train.py": train_with(60)}})
    before = tree(repo)
    code, report, err = improve(repo, "--proposals", str(props), "--rounds", "1", *LOOP)
    assert code == 3, err
    assert report["halted"]["tripwire"] == "implausible-gain"
    assert "improved 5.17x in one round" in report["halted"]["message"]
    assert tree(repo) == before
    # With a higher plausibility limit the same change is kept.
    code, report, err = improve(repo, "--proposals", str(props), "--rounds", "1", "--max-gain", "10", *LOOP)
    assert code == 0 and (repo / "train.py").read_text() == train_with(60)


def test_five_rejections_in_a_row_halt_the_loop_with_their_feedback(repo, tmp_path):
    steal = train_with(10) + "\n\ndef key() -> str:\n    import os\n    return os.environ['ANTHROPIC_API_KEY']\n"
    bodies = [{"files": {"train.py": steal}},
              {"files": {"train.py": train_with(500)}},  # out of the declared bounds
              {"files": {"train.py": train_with(10).replace("x * 2.0", "x * 2.0 + 1e-9")}},  # refuted
              "not a patch at all\n",
              {"files": {"train.py": train_with(10).replace("x * 2.0", "x + x + 1.0")}},
              {"files": {"train.py": train_with(20)}}]
    before = tree(repo)
    code, report, err = improve(repo, "--proposals", str(proposals(tmp_path / "p", *bodies)), "--rounds", "6", *LOOP)
    assert code == 3, err
    assert report["halted"]["tripwire"] == "rejections-in-a-row"
    assert [r["decision"] for r in report["rounds"]] == ["rejected"] * 5
    feedback = [r["feedback"] for r in report["rounds"]]
    assert "violation [" in feedback[0] and "train.py" in feedback[0]
    assert "train.N" in feedback[1]
    assert "counterexample train.scaled(" in feedback[2] and "old -> " in feedback[2]
    assert "not a patch the gate can read" in feedback[3]
    assert tree(repo) == before
    # A lower limit trips sooner.
    code, report, _ = improve(repo, "--proposals", str(proposals(tmp_path / "q", *bodies)), "--rounds", "6",
                              "--max-rejections", "2", *LOOP)
    assert code == 3 and len(report["rounds"]) == 2


def test_edits_outside_the_editable_paths_are_refused_with_feedback(tmp_path):
    repo = make_loop_repo(tmp_path / "repo", {"other.py": "Y = 1\n"})
    diff = "--- a/other.py\n+++ b/other.py\n@@ -1 +1 @@\n-Y = 1\n+Y = 2\n"
    code, report, err = improve(repo, "--proposals", str(proposals(tmp_path / "p", diff)), "--rounds", "1", *LOOP)
    assert code == 1, err
    [done] = report["rounds"]
    assert done["decision"] == "rejected"
    assert "other.py, outside the editable paths (train.py)" in done["feedback"]
    assert (repo / "other.py").read_text() == "Y = 1\n"


def test_text_report_and_log_show_the_rounds(repo, tmp_path):
    from tests.sandbox.loop._fixtures import cli

    props = proposals(tmp_path / "p", {"files": {"train.py": train_with(11)}}, {"files": {"train.py": train_with(20)}})
    code, out, err = cli("improve", "--repo", str(repo), "--goal", "raise N", "--proposals", str(props),
                         "--rounds", "2", *LOOP)
    assert code == 0, err
    assert "round 1: ROLLED BACK (objective 12 ± 2 (n=3) -> 13 ± 2 (n=3))" in out
    assert "round 2: KEPT" in out and "2 round(s), 1 change(s) kept" in out
    code, out, _ = cli("log", "--repo", str(repo), "--verify")
    assert code == 0 and "ledger intact" in out  # anchored in git notes after the run


def test_bad_input_is_exit_2(repo, tmp_path):
    from tests.sandbox.loop._fixtures import cli

    code, _, err = cli("improve", "--repo", str(repo), "--goal", "x", "--proposals", str(tmp_path / "none"))
    assert code == 2 and "not a directory" in err
    props = proposals(tmp_path / "p", {"files": {"train.py": train_with(20)}})
    code, _, err = cli("improve", "--repo", str(repo), "--goal", "x", "--proposals", str(props),
                       "--objective", "python objective.py")
    assert code == 2 and "--editable" in err
    code, _, err = cli("improve", "--repo", str(repo), "--goal", "x", "--proposals", str(props),
                       "--objective", "python missing.py", "--editable", "train.py")
    assert code == 2 and "fails on the unchanged tree" in err
    code, _, err = cli("improve", "--repo", str(repo), "--proposals", str(props))
    assert code == 2 and "--goal" in err


def test_a_missing_api_key_is_exit_2_with_how_to_set_it(repo, monkeypatch):
    from tests.sandbox.loop._fixtures import cli

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    code, _, err = cli("improve", "--repo", str(repo), "--goal", "faster")
    assert code == 2 and "ANTHROPIC_API_KEY" in err and "--replay FILE" in err


def test_a_ledger_cut_behind_its_anchor_is_restored_before_the_loop_appends(tmp_path):
    import shutil

    repo = make_loop_repo(tmp_path / "repo")
    first = proposals(tmp_path / "one", {"files": {"train.py": train_with(15)}})
    code, _, err = improve(repo, "--proposals", str(first), "--rounds", "1", *LOOP)
    assert code == 0, err
    shutil.rmtree(repo / ".sandbox")  # the anchor in git notes still names the head it had
    before = snapshot(repo)
    code, _, err = improve(repo, "--proposals", str(first), "--rounds", "1", *LOOP)
    assert code == 2 and "does not match its anchor" in err
    assert snapshot(repo) == before


@pytest.mark.parametrize("where", ["flag", "table"])
def test_the_confidence_level_decides_what_beats_the_noise(tmp_path, where):
    """N 10 -> 12: Welch's t is 1.22 on 4 degrees of freedom, below the 95% critical value (2.13) and
    above the 60% one (0.27), so the level given, on the command line or in the table, decides."""
    table = '[tool.sandbox.improve]\nconfidence = 0.6\n' if where == "table" else ""
    repo = make_loop_repo(tmp_path / "repo", {"pyproject.toml": table} if table else None)
    props = proposals(tmp_path / "p", {"files": {"train.py": train_with(12)}})
    flag = ["--confidence", "0.6"] if where == "flag" else []
    code, report, err = improve(repo, "--proposals", str(props), "--rounds", "1", *LOOP, *flag)
    assert code == 0, err
    assert report["rounds"][0]["decision"] == "kept"
    default = make_loop_repo(tmp_path / "default")
    code, report, err = improve(default, "--proposals", str(props), "--rounds", "1", *LOOP)
    assert code == 1 and report["rounds"][0]["decision"] == "rolled back", err


def test_a_confidence_outside_its_range_is_exit_2(repo, tmp_path):
    props = proposals(tmp_path / "p", {"files": {"train.py": train_with(20)}})
    code, _, err = improve(repo, "--proposals", str(props), *LOOP, "--confidence", "1.5")
    assert code == 2 and "--confidence must lie strictly between 0.5 and 1" in err
