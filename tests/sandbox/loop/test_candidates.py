"""`sandbox improve --candidates K`: K proposals a round, verified as one batch, the best one kept."""

from __future__ import annotations

import json

import pytest

import sandbox.loop._loop
from models import BudgetExhausted, PatchFiles, Task
from models.claude._prompt import first_message
from sandbox import Gate, Verdict
from sandbox.loop import Objective, Settings, improve as run_loop
from tests.sandbox.loop._fixtures import (LOOP, cli, improve, ledger_kinds, make_loop_repo, proposals, round_records,
                                          train_with, tree)

STEAL = train_with(10) + "\n\ndef key() -> str:\n    import os\n    return os.environ['ANTHROPIC_API_KEY']\n"
HACK = ("--- a/objective.py\n+++ b/objective.py\n@@ -5,1 +5,1 @@\n"
        "-print(float(train.N + 2 * int(os.environ[\"SANDBOX_REPEAT\"])))\n+print(1e9)\n")


def files(n: int) -> dict:
    return {"files": {"train.py": train_with(n)}}


@pytest.fixture
def repo(tmp_path):
    return make_loop_repo(tmp_path / "repo")


def decisions(report: dict) -> list[tuple[int, int | None, str]]:
    return [(r["round"], r["candidate"], r["decision"]) for r in report["rounds"]]


class Recording:
    """Serves a directory's patch files and keeps every task it was given."""

    def __init__(self, directory) -> None:
        self.inner, self.tasks = PatchFiles(directory), []

    def propose(self, task: Task):
        self.tasks.append(task)
        return self.inner.propose(task)


def test_the_best_candidate_is_kept_and_the_others_are_recorded(repo, tmp_path):
    # A hostile candidate (rejected by the gate), one within noise, one that beats it.
    props = proposals(tmp_path / "p", {"files": {"train.py": STEAL}}, files(11), files(20))
    before = tree(repo)
    code, report, err = improve(repo, "--proposals", str(props), "--rounds", "1", "--candidates", "3", *LOOP)
    assert code == 0, err
    after = tree(repo)
    assert {path for path in {*before, *after} if before.get(path) != after.get(path)} == {"train.py"}
    assert decisions(report) == [(1, 1, "rejected"), (1, 2, "rolled back"), (1, 3, "kept")]
    hostile, noise, best = report["rounds"]
    assert "violation [environment]" in hostile["feedback"] and not hostile["accepted"]
    assert noise["accepted"] and not noise["kept"] and "within noise" in noise["feedback"]
    assert noise["objective"]["after"]["samples"] == [11.0, 13.0, 15.0]
    assert best["kept"] and best["applied"] and best["objective"]["after"]["samples"] == [20.0, 22.0, 24.0]
    assert (repo / "train.py").read_text() == train_with(20)
    assert report["kept"] == 1 and report["baseline"]["samples"] == [20.0, 22.0, 24.0]
    records = round_records(repo)
    assert [(r["candidate"], r["decision"], bool(r.get("round_done"))) for r in records] == [
        (1, "rejected", False), (2, "rolled back", False), (3, "applying", True), (3, "kept", True)]
    kinds = ledger_kinds(repo)
    verdicts = [r for k, r in kinds if k == "verdict" and r.get("improve_candidate")]
    # Every candidate the gate judged has its verdict in the ledger, tagged with the candidate.
    assert sorted(v["improve_candidate"] for v in verdicts) == [1, 2]
    assert [v["accepted"] for v in sorted(verdicts, key=lambda v: v["improve_candidate"])] == [False, True]
    assert len([k for k, _ in kinds if k == "apply"]) == 1


def test_the_applied_verdict_is_the_gates_own_from_the_batch_cache(repo, tmp_path, monkeypatch):
    props = proposals(tmp_path / "p", files(11), files(20))
    applied = []
    real_apply = sandbox.loop._loop.Gate.apply

    def spy(self, verdict, **kwargs):
        applied.append(verdict)
        return real_apply(self, verdict, **kwargs)

    monkeypatch.setattr(sandbox.loop._loop.Gate, "apply", spy)
    outcome = run_loop(Gate.from_repo(repo), PatchFiles(props), Settings("raise N", rounds=1, candidates=2,
                       editable=("train.py",)), Objective("python objective.py"))
    assert [(r.candidate, r.decision) for r in outcome.rounds] == [(1, "rolled back"), (2, "kept")]
    [verdict] = applied
    assert isinstance(verdict, Verdict) and verdict.accepted
    assert [f.after_text for f in verdict.files] == [train_with(20)]
    # The re-check took what the batch settled from the shared cache: nothing was worked out twice.
    assert verdict.outcomes and all(o.cached for o in verdict.outcomes)


@pytest.mark.parametrize(("direction", "values", "best"), [("max", (15, 20), 20), ("min", (6, 4), 4)])
def test_the_best_of_two_significant_candidates_is_chosen(repo, tmp_path, direction, values, best):
    props = proposals(tmp_path / "p", *(files(n) for n in values))
    code, report, err = improve(repo, "--proposals", str(props), "--rounds", "1", "--candidates", "2",
                                "--direction", direction, "--max-gain", "10", *LOOP)
    assert code == 0, err
    other = 1 if values[1] == best else 2
    chosen = 3 - other
    assert {r["candidate"]: r["decision"] for r in report["rounds"]} == {other: "rolled back", chosen: "kept"}
    loser = next(r for r in report["rounds"] if r["candidate"] == other)
    assert f"beaten by candidate {chosen}" in loser["feedback"] and "improvement significant" in loser["feedback"]
    assert (repo / "train.py").read_text() == train_with(best)


def test_the_best_is_chosen_even_when_it_comes_first(repo, tmp_path):
    props = proposals(tmp_path / "p", files(20), files(15))
    code, report, err = improve(repo, "--proposals", str(props), "--rounds", "1", "--candidates", "2", *LOOP)
    assert code == 0, err
    # The chosen one is recorded last, so the round's last record is the one that is applied.
    assert decisions(report) == [(1, 2, "rolled back"), (1, 1, "kept")]
    assert "beaten by candidate 1" in report["rounds"][0]["feedback"]
    assert (repo / "train.py").read_text() == train_with(20)


def test_an_implausible_best_candidate_halts_and_nothing_is_kept(repo, tmp_path):
    props = proposals(tmp_path / "p", files(20), files(60))
    before = tree(repo)
    code, report, err = improve(repo, "--proposals", str(props), "--rounds", "1", "--candidates", "2", *LOOP)
    assert code == 3, err
    assert report["halted"]["tripwire"] == "implausible-gain"
    # The gain tripwire meets the one that would be kept; the runner-up is not kept in its place.
    assert decisions(report) == [(1, 1, "rolled back"), (1, 2, "tripwire")]
    assert "beaten by candidate 2" in report["rounds"][0]["feedback"]
    assert tree(repo) == before


def test_identical_candidates_are_checked_and_measured_once(repo, tmp_path):
    same_as_diff = "--- a/train.py\n+++ b/train.py\n@@ -1 +1 @@\n-N = 10\n+N = 20\n"  # the bytes files(20) writes
    props = proposals(tmp_path / "p", files(20), same_as_diff, files(11))
    code, report, err = improve(repo, "--proposals", str(props), "--rounds", "1", "--candidates", "3", *LOOP)
    assert code == 0, err
    assert decisions(report) == [(1, 2, "duplicate"), (1, 3, "rolled back"), (1, 1, "kept")]
    duplicate = report["rounds"][0]
    assert "The same change as candidate 1" in duplicate["feedback"] and duplicate["accepted"]
    assert duplicate["objective"]["after"] is None  # not measured again
    records = round_records(repo)
    assert next(r for r in records if r["candidate"] == 2)["duplicate_of"] == 1
    assert next(r for r in records if r["candidate"] == 2)["verdict_entry"] is None
    verdicts = [r for k, r in ledger_kinds(repo) if k == "verdict" and r.get("improve_candidate")]
    assert sorted(v["improve_candidate"] for v in verdicts) == [3]  # candidate 1's verdict is in its apply
    assert (repo / "train.py").read_text() == train_with(20)


def test_one_candidate_is_the_loop_as_before(repo, tmp_path):
    props = proposals(tmp_path / "p", files(11), files(20))
    code, report, err = improve(repo, "--proposals", str(props), "--rounds", "2", "--candidates", "1", *LOOP)
    assert code == 0, err
    assert decisions(report) == [(1, None, "rolled back"), (2, None, "kept")]
    assert [(r["decision"], "round_done" in r, "candidate" in r) for r in round_records(repo)] == [
        ("rolled back", False, True), ("applying", False, True), ("kept", False, True)]
    assert all(r["candidate"] is None for r in round_records(repo))


def test_a_protected_touch_by_any_candidate_halts_before_anything_is_checked(repo, tmp_path):
    props = proposals(tmp_path / "p", files(20), HACK, files(30), files(40))
    before = tree(repo)
    code, report, err = improve(repo, "--proposals", str(props), "--rounds", "2", "--candidates", "2", *LOOP)
    assert code == 3, err
    assert report["halted"]["tripwire"] == "protected-path"
    assert decisions(report) == [(1, 1, "skipped"), (1, 2, "tripwire")]
    assert "candidate 2 tripped the protected-path tripwire" in report["rounds"][0]["feedback"]
    assert tree(repo) == before
    assert not [r for k, r in ledger_kinds(repo) if k == "verdict"]  # halted before the batch
    assert round_records(repo)[-1]["round_done"] and round_records(repo)[-1]["proposal"]["text"] == HACK


def test_resume_after_a_round_of_candidates(repo, tmp_path):
    props = proposals(tmp_path / "p", files(20), HACK, files(11), files(20))
    code, report, err = improve(repo, "--proposals", str(props), "--rounds", "2", "--candidates", "2", *LOOP)
    assert code == 3, err
    # --resume continues at round 2 with the candidates not yet proposed, K from the recorded settings.
    code, report, err = improve(repo, "--resume", "--proposals", str(props), *LOOP)
    assert code == 0, err
    assert decisions(report) == [(1, 1, "skipped"), (1, 2, "tripwire"), (2, 1, "rolled back"), (2, 2, "kept")]
    assert (repo / "train.py").read_text() == train_with(20)
    kinds = [k for k, _ in ledger_kinds(repo)]
    assert kinds.count("improve-resume") == 1 and kinds[-1] == "improve-end"
    end = [r for k, r in ledger_kinds(repo) if k == "improve-end"][-1]
    assert end["rounds"] == 2


def test_a_round_cut_short_before_its_apply_is_done_again_on_resume(repo, tmp_path, monkeypatch):
    props = proposals(tmp_path / "p", files(11), files(20))
    settings = Settings("raise N", rounds=1, candidates=2, editable=("train.py",))
    objective = Objective("python objective.py")

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # after candidate 1's record, before the chosen one's

    monkeypatch.setattr(sandbox.loop._loop._Loop, "_keep", killed)
    with pytest.raises(KeyboardInterrupt):
        run_loop(Gate.from_repo(repo), PatchFiles(props), settings, objective)
    monkeypatch.undo()
    assert [r["candidate"] for r in round_records(repo)] == [1]
    assert (repo / "train.py").read_text() == train_with(10)
    outcome = run_loop(Gate.from_repo(repo), PatchFiles(props), settings, objective, resume=True)
    assert [(r.round, r.candidate, r.decision) for r in outcome.rounds] == [(1, 1, "rolled back"), (1, 2, "kept")]
    assert (repo / "train.py").read_text() == train_with(20)


def test_an_interrupted_apply_of_the_chosen_candidate_is_settled_on_resume(repo, tmp_path, monkeypatch):
    props = proposals(tmp_path / "p", files(11), files(20))
    settings = Settings("raise N", rounds=2, candidates=2, editable=("train.py",))
    objective = Objective("python objective.py")
    real_apply = sandbox.loop._loop.Gate.apply

    def apply_then_die(self, verdict, **kwargs):
        real_apply(self, verdict, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(sandbox.loop._loop.Gate, "apply", apply_then_die)
    with pytest.raises(KeyboardInterrupt):
        run_loop(Gate.from_repo(repo), PatchFiles(props), settings, objective)
    monkeypatch.undo()
    outcome = run_loop(Gate.from_repo(repo), PatchFiles([]), settings, objective, resume=True)
    assert [(r.round, r.candidate, r.decision) for r in outcome.rounds] == [(1, 1, "rolled back"), (1, 2, "kept")]
    assert "the apply had completed" in outcome.rounds[1].feedback
    assert (repo / "train.py").read_text() == train_with(20)


def test_the_next_round_is_told_every_candidates_outcome(repo, tmp_path):
    proposer = Recording(proposals(tmp_path / "p", {"files": {"train.py": STEAL}}, files(11), files(20)))
    settings = Settings("raise N", rounds=2, candidates=2, editable=("train.py",))
    outcome = run_loop(Gate.from_repo(repo), proposer, settings, Objective("python objective.py"))
    assert [(r.round, r.candidate, r.decision) for r in outcome.rounds] == [
        (1, 1, "rejected"), (1, 2, "rolled back"), (2, 1, "kept")]
    assert [(t.candidate, t.candidates) for t in proposer.tasks] == [(1, 2), (2, 2), (1, 2), (2, 2)]
    feedback = proposer.tasks[2].feedback
    assert len(feedback) == 2
    assert feedback[0].startswith("round 1, candidate 1 (rejected): ") and "violation [environment]" in feedback[0]
    assert feedback[1].startswith("round 1, candidate 2 (rolled back): ") and "within noise" in feedback[1]
    # The proposer ran out in round 2, so that round had one candidate.
    assert outcome.exit_code == 0 and (repo / "train.py").read_text() == train_with(20)


def test_rounds_whose_every_candidate_is_rejected_trip_the_rejection_streak(repo, tmp_path):
    props = proposals(tmp_path / "p", {"files": {"train.py": STEAL}}, files(500), "not a patch\n", files(500),
                      files(20), files(30))
    code, report, err = improve(repo, "--proposals", str(props), "--rounds", "3", "--candidates", "2",
                                "--max-rejections", "2", *LOOP)
    assert code == 3, err
    assert report["halted"]["tripwire"] == "rejections-in-a-row"
    assert "in 2 rounds in a row every candidate was rejected" in report["halted"]["message"]
    assert decisions(report) == [(1, 1, "rejected"), (1, 2, "rejected"), (2, 1, "rejected"), (2, 2, "rejected")]
    assert "not a patch the gate can read" in report["rounds"][2]["feedback"]
    assert (repo / "train.py").read_text() == train_with(10)


def test_with_apply_manual_only_the_chosen_candidate_is_queued(tmp_path):
    repo = make_loop_repo(tmp_path / "repo", {"pyproject.toml": '[tool.sandbox]\napply = "manual"\n'})
    props = proposals(tmp_path / "p", files(15), files(20))
    before = tree(repo)
    code, report, err = improve(repo, "--proposals", str(props), "--rounds", "1", "--candidates", "2", *LOOP)
    assert code == 4, err
    assert decisions(report) == [(1, 1, "rolled back"), (1, 2, "queued")]
    assert report["queued"] == [report["rounds"][1]["queued"]] and tree(repo) == before
    code, out, _ = cli("pending", "--repo", str(repo), "--format", "json")
    [pending] = json.loads(out)
    assert pending["round"] == 1 and "N = 20" in pending["patch"] and "N = 15" not in pending["patch"]


def test_a_budget_spent_mid_round_halts_with_nothing_of_the_round_recorded(repo, tmp_path):
    class SpentAtTheSecond(Recording):
        def propose(self, task):
            if len(self.tasks) == 1:
                raise BudgetExhausted("the token budget is spent (10 of 10 tokens used)")
            return super().propose(task)

    proposer = SpentAtTheSecond(proposals(tmp_path / "p", files(20), files(30)))
    settings = Settings("raise N", rounds=2, candidates=2, editable=("train.py",))
    outcome = run_loop(Gate.from_repo(repo), proposer, settings, Objective("python objective.py"))
    assert outcome.halted is not None and outcome.halted.tripwire.value == "budget" and outcome.exit_code == 3
    assert outcome.rounds == () and round_records(repo) == []
    assert (repo / "train.py").read_text() == train_with(10)


def test_the_text_report_shows_each_candidate(repo, tmp_path):
    props = proposals(tmp_path / "p", files(11), files(20))
    code, out, err = cli("improve", "--repo", str(repo), "--goal", "raise N", "--proposals", str(props),
                         "--rounds", "1", "--candidates", "2", *LOOP)
    assert code == 0, err
    assert "round 1, candidate 1: ROLLED BACK (objective 12 ± 2 (n=3) -> 13 ± 2 (n=3))" in out
    assert "round 1, candidate 2: KEPT" in out
    assert "1 round(s) (2 candidates), 1 change(s) kept" in out


def test_bad_candidate_counts_are_exit_2_with_a_clear_message(repo, tmp_path):
    props = proposals(tmp_path / "p", files(20))
    code, _, err = cli("improve", "--repo", str(repo), "--goal", "x", "--proposals", str(props), "--candidates", "0",
                       *LOOP)
    assert code == 2 and "--candidates must be a whole number of at least 1" in err and "got 0" in err
    code, _, err = cli("improve", "--repo", str(repo), "--goal", "x", "--proposals", str(props), "--candidates", "2",
                       "--workers", "0", *LOOP)
    assert code == 2 and "--workers must be at least 1" in err
    assert (repo / "train.py").read_text() == train_with(10)


def test_candidates_from_the_improve_table(tmp_path):
    repo = make_loop_repo(tmp_path / "repo", {"pyproject.toml": "[tool.sandbox.improve]\ncandidates = 2\n"})
    props = proposals(tmp_path / "p", files(11), files(20))
    code, report, err = improve(repo, "--proposals", str(props), "--rounds", "1", *LOOP)
    assert code == 0, err
    assert decisions(report) == [(1, 1, "rolled back"), (1, 2, "kept")]
    bad = make_loop_repo(tmp_path / "bad", {"pyproject.toml": "[tool.sandbox.improve]\ncandidates = 0\n"})
    code, _, err = improve(bad, "--proposals", str(props), *LOOP)
    assert code == 2 and "--candidates must be a whole number of at least 1" in err


def test_a_task_knows_its_candidate_and_the_prompt_says_so():
    task = Task("raise N", candidate=2, candidates=3)
    text = first_message(task, 1)["content"][0]["text"]
    assert "candidate 2 of 3" in text and "different attempt" in text
    assert "candidate" not in first_message(Task("raise N"), 1)["content"][0]["text"]
    for bad in ({"candidate": 0}, {"candidate": 3, "candidates": 2}, {"candidates": 0}):
        with pytest.raises(ValueError, match="a task is candidate 1 to candidates"):
            Task("raise N", **bad)
