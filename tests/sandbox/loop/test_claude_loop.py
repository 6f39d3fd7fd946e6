"""The loop driven by Claude through the real SDK code path, served recorded responses (no network)."""

from __future__ import annotations

import json

from models.claude import Claude, Replay
from sandbox import Gate
from sandbox.loop import Objective, improve as run_loop
from tests.models import _api as api
from tests.sandbox.loop._fixtures import LOOP, improve, ledger_kinds, make_loop_repo, train_with, tree


def round_one() -> list[dict]:
    return [api.editor({"command": "view", "path": "/repo/train.py"}, say="Let me look."),
            api.editor({"command": "str_replace", "path": "/repo/train.py", "old_str": "N = 10",
                        "new_str": "N = 20"}),
            api.done("Raised N within its bounds.")]


def hack_round() -> list[dict]:
    return [api.editor({"command": "str_replace", "path": "/repo/objective.py", "old_str": "print(",
                        "new_str": "print(1e9 or "}),
            api.done("Made the score higher.")]


def test_a_replayed_claude_run_keeps_then_trips_on_the_evaluator(tmp_path):
    repo = make_loop_repo(tmp_path / "repo")
    replay = Replay(round_one() + hack_round())
    before_hack = None

    def remember(done):
        nonlocal before_hack
        if done.kept:
            before_hack = tree(repo)

    outcome = run_loop(Gate.from_repo(repo), Claude(client=replay.client()), objective=Objective("python objective.py"),
                       goal="raise N", rounds=3, editable=("train.py",), report=remember)
    assert [r.decision for r in outcome.rounds] == ["kept", "tripwire"]
    assert outcome.exit_code == 3 and outcome.halted.tripwire.value == "protected-path"
    assert (repo / "train.py").read_text() == train_with(20) and tree(repo) == before_hack
    assert outcome.usage.requests == 5 and outcome.usage.total_tokens == 5 * 15
    first, *_, hack = replay.requests
    context = first["system"][1]["text"]
    assert "raise N" in context and "objective.py" in context and "- train.py" in context
    # Round 2 was told what happened in round 1, and the refused edit went back as an error.
    assert "round 1 (kept)" in json.dumps(replay.requests[3]["messages"][0])
    [refused] = [b for b in hack["messages"][-1]["content"] if b["type"] == "tool_result"]
    assert refused["is_error"] and "outside the editable paths" in refused["content"]
    assert replay.remaining == 0


def test_the_cli_replays_a_file_and_a_token_budget_trips(tmp_path):
    repo = make_loop_repo(tmp_path / "repo")
    recorded = tmp_path / "run.json"
    recorded.write_text(json.dumps(round_one() + round_one()))
    code, report, err = improve(repo, "--replay", str(recorded), "--rounds", "2", "--budget-tokens", "40", *LOOP)
    assert code == 3, err
    assert report["halted"]["tripwire"] == "budget" and "token budget is spent" in report["halted"]["message"]
    assert [r["decision"] for r in report["rounds"]] == ["kept"]
    assert report["usage"]["requests"] == 3 and report["usage"]["input_tokens"] == 30
    rounds = [r["detail"] for k, r in ledger_kinds(repo) if k == "improve-round"]
    assert rounds[-1]["proposer_state"] == {"proposed": 1, "served": 3}
    assert rounds[-1]["source"].startswith("claude:claude-sonnet-4-5")


def test_resume_with_a_replay_skips_the_responses_already_served(tmp_path):
    repo = make_loop_repo(tmp_path / "repo")
    recorded = tmp_path / "run.json"
    second = [api.editor({"command": "str_replace", "path": "train.py", "old_str": "N = 20", "new_str": "N = 30"}),
              api.done()]
    recorded.write_text(json.dumps(round_one() + second))
    code, report, err = improve(repo, "--replay", str(recorded), "--rounds", "2", "--budget-tokens", "40", *LOOP)
    assert code == 3, err
    code, report, err = improve(repo, "--resume", "--replay", str(recorded), "--budget-tokens", "1000", *LOOP)
    assert code == 0, err
    assert [(r["round"], r["decision"]) for r in report["rounds"]] == [(1, "kept"), (2, "kept")]
    assert (repo / "train.py").read_text() == train_with(30)
