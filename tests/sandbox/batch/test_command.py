"""``sandbox check-many``: JSON Lines streamed as candidates finish, one array with --format json, exit 2 on bad input."""

from __future__ import annotations

import argparse
import io
import json

import pytest

from sandbox.batch._command import run
from sandbox.batch._parser import add_parser
from tests.sandbox.batch.conftest import BATCH

KEYS = {"id", "accepted", "stage", "seconds", "duplicate_of", "obligations", "violations", "met_except_deferred",
        "stage_seconds", "attempts", "error"}


def cli(*argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="sandbox")
    add_parser(parser.add_subparsers(dest="command", required=True))
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exit_:
        return (0 if exit_.code == 0 else 2), "", ""
    out, err = io.StringIO(), io.StringIO()
    return run(args, out, err), out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def patches(tmp_path_factory):
    directory = tmp_path_factory.mktemp("patches")
    for name in ("refactor", "hostile", "again", "refuted"):
        (directory / f"{name}.patch").write_text(BATCH[name])
    return directory


def test_jsonl_streams_one_record_per_candidate_cheapest_decisions_first(repo, patches, tmp_path):
    code, out, err = cli("check-many", "--patches", str(patches), "--repo", str(repo), "--workers", "1",
                         "--cache", str(tmp_path / "cache"))
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert all(set(r) == KEYS for r in records)
    ids = [r["id"] for r in records]
    assert sorted(ids) == ["again.patch", "hostile.patch", "refactor.patch", "refuted.patch"]
    # One process, cheapest stage first: the policy rejection is decided before any proof runs,
    # and a duplicate is reported right after the candidate it repeats.
    assert ids[0] == "hostile.patch" and records[0]["stage"] == 1
    # (Files are taken in natural order, so again.patch is the first of the two.)
    assert ids.index("refactor.patch") == ids.index("again.patch") + 1
    by_id = {r["id"]: r for r in records}
    assert by_id["refactor.patch"]["duplicate_of"] == "again.patch"
    assert by_id["refactor.patch"]["accepted"] and not by_id["refuted.patch"]["accepted"]
    assert {"target": "calc.double", "kind": "equivalent", "level": "REFUTED"}.items() <= \
        next(o for o in by_id["refuted.patch"]["obligations"] if o["kind"] == "equivalent").items()
    assert by_id["hostile.patch"]["violations"][0]["rule"]
    assert "4 candidate(s): 2 accepted, 2 not (1 duplicate(s), 0 could not be checked)" in err
    # --cache DIR is shared across runs: the second run settles everything from it.
    code, again, _ = cli("check-many", "--patches", str(patches), "--repo", str(repo), "--workers", "1",
                         "--cache", str(tmp_path / "cache"), "--format", "json")
    report = json.loads(again)
    assert code == 0 and isinstance(report, list) and len(report) == 4
    again_record = next(r for r in report if r["id"] == "again.patch")
    assert again_record["accepted"] and all(o["cached"] for o in again_record["obligations"])


def test_jsonl_input_and_a_candidate_that_does_not_apply(repo, tmp_path):
    source = tmp_path / "batch.jsonl"
    records = [{"id": "ok", "patch": BATCH["inc"]}, {"id": 7, "patch": "--- a/nope.py\n+++ b/nope.py\n@@ -1 +1 @@\n-a\n+b\n"}]
    source.write_text("\n".join(json.dumps(r) for r in records) + "\n\n")
    code, out, err = cli("check-many", "--jsonl", str(source), "--repo", str(repo), "--workers", "1")
    assert code == 0, err
    by_id = {r["id"]: r for r in map(json.loads, out.splitlines())}
    assert by_id["ok"]["accepted"] and by_id["ok"]["stage"] == 2
    assert by_id["7"]["stage"] == 0 and not by_id["7"]["accepted"] and "cannot be checked" in by_id["7"]["error"]


@pytest.mark.parametrize("line, message", [
    ('{"id": "a", "patch": "x"}\nnot json', ":2: not JSON"),
    ('{"id": "a"}', ':1: a record needs the keys "id" and "patch"'),
    ('{"id": "a", "patch": {"calc.py": "x"}}', ':1: "patch" must be the patch as text'),
    ('{"id": "a", "patch": "x"}\n{"id": "a", "patch": "y"}', ":2: id 'a' was already used on line 1"),
    ("", "no records in it"),
])
def test_a_bad_jsonl_record_exits_2_naming_its_line(repo, tmp_path, line, message):
    source = tmp_path / "bad.jsonl"
    source.write_text(line)
    code, out, err = cli("check-many", "--jsonl", str(source), "--repo", str(repo))
    assert code == 2 and out == "" and message in err, err


def test_bad_input_exits_2(repo, tmp_path, patches):
    assert cli("check-many", "--patches", str(tmp_path / "missing"), "--repo", str(repo))[0] == 2
    (tmp_path / "empty").mkdir()
    code, _, err = cli("check-many", "--patches", str(tmp_path / "empty"), "--repo", str(repo))
    assert code == 2 and "no patch files" in err
    code, _, err = cli("check-many", "--patches", str(patches), "--repo", str(tmp_path / "no-repo"))
    assert code == 2 and "not a directory" in err
    assert cli("check-many", "--patches", str(patches), "--workers", "0")[0] == 2
    assert cli("check-many", "--repo", str(repo))[0] == 2  # neither --patches nor --jsonl


def test_the_ray_backend_prints_only_records_on_stdout(ray_instance, repo, patches, capfd):
    code, out, err = cli("check-many", "--patches", str(patches), "--repo", str(repo), "--backend", "ray",
                         "--workers", "2")
    assert code == 0, err
    assert sorted(json.loads(line)["id"] for line in out.splitlines()) == \
        ["again.patch", "hostile.patch", "refactor.patch", "refuted.patch"]
    assert capfd.readouterr().out == ""
