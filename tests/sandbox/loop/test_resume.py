"""History survives a crash: `--resume` continues the run the ledger records, from where it stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

import sandbox._gate
from models import PatchFiles
from sandbox import Gate
from sandbox.loop import Objective, Settings, improve as run_loop
from tests.sandbox.loop._fixtures import LOOP, improve, ledger_kinds, make_loop_repo, proposals, train_with

SLOW_AT_30 = '''
import os
import time

import train

if train.N == 30:
    time.sleep(60)
print(float(train.N + 2 * int(os.environ["SANDBOX_REPEAT"])))
'''


def test_kill_9_mid_round_then_resume(tmp_path):
    repo = make_loop_repo(tmp_path / "repo", {"objective.py": SLOW_AT_30})
    props = proposals(tmp_path / "p", {"files": {"train.py": train_with(20)}}, {"files": {"train.py": train_with(30)}},
                      {"files": {"train.py": train_with(40)}})
    argv = [sys.executable, "-m", "sandbox", "improve", "--repo", str(repo), "--goal", "raise N", "--proposals",
            str(props), "--rounds", "3", *LOOP, "--timeout", "60"]
    log = tmp_path / "first-run.stderr"
    with open(log, "wb") as stderr:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ledger = repo / ".sandbox" / "ledger.jsonl"
            if ledger.exists() and '"decision":"kept"' in ledger.read_text():
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"round 1 was never kept: {log.read_text()}")
        time.sleep(1.0)  # now inside round 2's measurement (its objective sleeps)
        assert proc.poll() is None, log.read_text()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert (repo / "train.py").read_text() == train_with(20)  # after round 1's apply, never between
    code, report, err = improve(repo, "--resume", "--proposals", str(props), "--timeout", "2", *LOOP)
    assert code == 0, err
    decisions = [(r["round"], r["decision"]) for r in report["rounds"]]
    assert decisions == [(1, "kept"), (2, "rejected"), (3, "kept")]
    assert "ran past its time limit" in report["rounds"][1]["feedback"]
    assert (repo / "train.py").read_text() == train_with(40)
    kinds = [k for k, _ in ledger_kinds(repo)]
    assert kinds.count("improve-start") == 1 and kinds.count("improve-resume") == 1
    assert kinds[-1] == "improve-end"
    code, _, err = improve(repo, "--resume", "--proposals", str(props), *LOOP)
    assert code == 2 and "finished" in err


def test_an_interrupted_apply_is_settled_on_resume(tmp_path, monkeypatch):
    repo = make_loop_repo(tmp_path / "repo")
    props = proposals(tmp_path / "p", {"files": {"train.py": train_with(20)}}, {"files": {"train.py": train_with(40)}})
    real_apply = sandbox._gate.Gate.apply

    def apply_then_die(self, verdict, **kwargs):
        real_apply(self, verdict, **kwargs)
        raise KeyboardInterrupt  # killed after the apply, before the round's final record

    monkeypatch.setattr(sandbox._gate.Gate, "apply", apply_then_die)
    objective = Objective("python objective.py")
    settings = Settings("raise N", rounds=2, editable=("train.py",))
    with pytest.raises(KeyboardInterrupt):
        run_loop(Gate.from_repo(repo), PatchFiles(props), settings, objective)
    monkeypatch.setattr(sandbox._gate.Gate, "apply", real_apply)
    assert (repo / "train.py").read_text() == train_with(20)
    files = sorted(props.iterdir())
    outcome = run_loop(Gate.from_repo(repo), PatchFiles(files[1:]), settings, objective, resume=True)
    assert [(r.round, r.decision) for r in outcome.rounds] == [(1, "kept"), (2, "kept")]
    assert "the apply had completed" in outcome.rounds[0].feedback
    assert outcome.exit_code == 0 and (repo / "train.py").read_text() == train_with(40)
    records = [r for k, r in ledger_kinds(repo) if k == "improve-round"]
    assert [r["decision"] for r in records] == ["applying", "kept", "applying", "kept"]
    assert json.dumps(records)  # plain JSON all the way down
