"""apply = "manual" | "proven": the loop queues accepted changes; `sandbox apply --approve ID` applies them."""

from __future__ import annotations

import json

from tests.sandbox.loop._fixtures import LOOP, cli, improve, ledger_kinds, make_loop_repo, proposals, train_with, tree

MANUAL = '[tool.sandbox]\napply = "manual"\n'


def test_queued_change_round_trip(tmp_path):
    repo = make_loop_repo(tmp_path / "repo", {"pyproject.toml": MANUAL})
    props = proposals(tmp_path / "p", {"files": {"train.py": train_with(20)}})
    before = tree(repo)
    code, report, err = improve(repo, "--proposals", str(props), "--rounds", "1", *LOOP)
    assert code == 4, err  # accepted, measured, significant, and waiting for a person
    [done] = report["rounds"]
    assert done["decision"] == "queued" and done["accepted"] and not done["applied"]
    ident = done["queued"]
    assert report["queued"] == [ident] and tree(repo) == before

    code, out, _ = cli("pending", "--repo", str(repo))
    assert code == 0 and out.startswith(f"{ident}  round 1 of run {report['run']}: train.py")
    assert "improvement significant" in out
    code, out, _ = cli("pending", "--repo", str(repo), "--format", "json")
    assert [entry["id"] for entry in json.loads(out)] == [ident]

    code, out, err = cli("apply", "--repo", str(repo), "--approve", ident)
    assert code == 0, err
    assert "ACCEPTED" in out or "accepted" in out.lower()
    assert "-N = 10\n+N = 20\n" in out  # the diff is shown before it is applied
    assert f"applied pending change {ident}" in out
    assert (repo / "train.py").read_text() == train_with(20)
    applies = [r for k, r in ledger_kinds(repo) if k == "apply"]
    assert len(applies) == 1 and f"--approve {ident}" in applies[0]["approved_by"]
    assert [r["id"] for k, r in ledger_kinds(repo) if k == "improve-approved"] == [ident]
    code, out, _ = cli("pending", "--repo", str(repo))
    assert "no change is waiting" in out
    code, _, err = cli("apply", "--repo", str(repo), "--approve", ident)
    assert code == 2 and "no pending change" in err


def test_a_stale_pending_change_is_not_applied(tmp_path):
    repo = make_loop_repo(tmp_path / "repo", {"pyproject.toml": MANUAL})
    props = proposals(tmp_path / "p", {"files": {"train.py": train_with(20)}})
    code, report, _ = improve(repo, "--proposals", str(props), "--rounds", "1", *LOOP)
    ident = report["rounds"][0]["queued"]
    (repo / "train.py").write_text(train_with(30))  # the tree moved on since it was queued
    code, _, err = cli("apply", "--repo", str(repo), "--approve", ident)
    assert code == 2 and "changed since it was queued" in err
    assert (repo / "train.py").read_text() == train_with(30)


def test_apply_patch_approve_still_works(tmp_path):
    repo = make_loop_repo(tmp_path / "repo", {"pyproject.toml": MANUAL})
    patch = tmp_path / "p.json"
    patch.write_text(json.dumps({"files": {"train.py": train_with(20)}}))
    code, out, err = cli("apply", str(patch), "--repo", str(repo), "--approve")
    assert code == 0, err
    assert (repo / "train.py").read_text() == train_with(20)
    patch.write_text(json.dumps({"files": {"train.py": train_with(30)}}))
    code, out, err = cli("apply", "--repo", str(repo), "--approve", str(patch))
    assert code == 0, err
    assert (repo / "train.py").read_text() == train_with(30)
