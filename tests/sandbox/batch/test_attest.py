"""``check-many --attest DIR --key FILE``: one envelope per candidate, signed here, verifiable on its own."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from sandbox._cli import main
from tests.sandbox.batch.conftest import BATCH


def run(*argv: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def signed(repo, tmp_path_factory):
    """The batch of refactor, its duplicate, a hostile and a refuted candidate, attested with one key."""
    work = tmp_path_factory.mktemp("attest-batch")
    patches = work / "patches"
    patches.mkdir()
    for name in ("refactor", "again", "hostile", "refuted"):
        (patches / f"{name}.patch").write_text(BATCH[name])
    assert run("keygen", work / "gate.key")[0] == 0
    code, out, err = run("check-many", "--patches", patches, "--repo", repo, "--workers", "1",
                         "--attest", work / "out", "--key", work / "gate.key")
    assert code == 0, err
    return work, {r["id"]: r for r in map(json.loads, out.splitlines())}


def predicate(path: str) -> dict:
    import base64

    envelope = json.loads(Path(path).read_text())
    return json.loads(base64.b64decode(envelope["payload"]))["predicate"]


def test_every_checked_candidate_has_a_verifiable_attestation_of_its_own_verdict(signed):
    work, records = signed
    for name in ("again.patch", "hostile.patch", "refuted.patch"):
        attestation = records[name]["attestation"]
        assert attestation["path"] == str(work / "out" / f"{name}.intoto.json"), attestation
        code, out, _ = run("attest", "verify", attestation["path"], "--pub", work / "gate.key.pub")
        # A signed rejection is genuine but vouches for nothing: `attest verify` says so, exit 1.
        if records[name]["accepted"]:
            assert code == 0, out
        else:
            assert code == 1 and "signatures are genuine, but the verdict they sign is a rejection" in out
        assert predicate(attestation["path"])["accepted"] is records[name]["accepted"]
    assert predicate(records["again.patch"]["attestation"]["path"])["accepted"] is True
    assert predicate(records["hostile.patch"]["attestation"]["path"])["accepted"] is False


def test_a_duplicate_shares_the_attestation_of_the_candidate_it_repeats(signed):
    work, records = signed
    duplicate = records["refactor.patch"]
    assert duplicate["duplicate_of"] == "again.patch"
    assert duplicate["attestation"]["path"] == records["again.patch"]["attestation"]["path"]
    assert duplicate["attestation"]["shared_with"] == "again.patch"
    assert sorted(p.name for p in (work / "out").iterdir()) == [
        "again.patch.intoto.json", "hostile.patch.intoto.json", "refuted.patch.intoto.json"]


def test_one_byte_changed_in_an_attestation_fails_verification(signed, tmp_path):
    work, records = signed
    data = bytearray(Path(records["again.patch"]["attestation"]["path"]).read_bytes())
    at = data.index(b'"payload"') + 20
    data[at] = ord("A") if data[at] != ord("A") else ord("B")
    tampered = tmp_path / "tampered.json"
    tampered.write_bytes(bytes(data))
    code, out, _ = run("attest", "verify", tampered, "--pub", work / "gate.key.pub")
    assert code == 1 and "INVALID" in out


def test_the_record_says_why_a_candidate_that_could_not_be_read_has_no_attestation(repo, tmp_path):
    assert run("keygen", tmp_path / "k")[0] == 0
    batch = tmp_path / "batch.jsonl"
    batch.write_text(json.dumps({"id": "broken", "patch": "--- a/nothere.py\n+++ b/nothere.py\n@@ -1 +1 @@\n-a\n+b\n"})
                     + "\n" + json.dumps({"id": "ok", "patch": BATCH["inc"]}) + "\n")
    code, out, err = run("check-many", "--jsonl", batch, "--repo", repo, "--workers", "1",
                         "--attest", tmp_path / "out", "--key", tmp_path / "k")
    assert code == 0, err
    records = {r["id"]: r for r in map(json.loads, out.splitlines())}
    assert records["broken"]["attestation"]["path"] is None
    assert records["broken"]["attestation"]["reason"] == records["broken"]["error"]
    assert Path(records["ok"]["attestation"]["path"]).is_file()


@pytest.mark.parametrize("argv, message", [
    (["--key", "{k}"], "--key signs attestations: add --attest DIR"),
    (["--attest", "{tmp}/out"], "--attest needs at least one --key FILE"),
    (["--attest", "{k}", "--key", "{k}"], "exists and is not a directory"),
])
def test_attestation_options_used_wrongly_are_usage_errors(repo, tmp_path, argv, message):
    assert run("keygen", tmp_path / "k")[0] == 0
    patches = tmp_path / "patches"
    patches.mkdir()
    (patches / "inc.patch").write_text(BATCH["inc"])
    argv = [a.format(k=tmp_path / "k", tmp=tmp_path) for a in argv]
    code, out, err = run("check-many", "--patches", patches, "--repo", repo, *argv)
    assert code == 2 and message in err and out == ""
