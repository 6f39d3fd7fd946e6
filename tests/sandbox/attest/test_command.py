"""Black-box tests of ``keygen``, ``check/apply --attest`` and ``attest verify``, with real keys and files."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import stat
from pathlib import Path

import pytest

from sandbox._cli import main
from sandbox._ledger import Ledger

TRAIN = "LR = 3e-4\n\n\ndef clip(value: float, limit: float) -> float:\n    return max(-limit, min(limit, value))\n"
RETUNE = """--- a/train.py
+++ b/train.py
@@ -1,4 +1,4 @@
-LR = 3e-4
+LR = 6e-4
 
 
 def clip(value: float, limit: float) -> float:
"""
HOSTILE = """--- a/train.py
+++ b/train.py
@@ -1,3 +1,4 @@
+from subprocess import run as r
 LR = 3e-4
 
 
"""


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], out, err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def repo(make_repo):
    return make_repo({"train.py": TRAIN,
                      "sandbox_properties.py": "from properties import bounds\nbounds('train.LR', 1e-5, 1e-3)\n"})


@pytest.fixture
def keys(tmp_path):
    for name in ("gate", "second"):
        code, out, err = run("keygen", tmp_path / name)
        assert code == 0 and "key id" in out, err
    return tmp_path / "gate", tmp_path / "second"


def patch(tmp_path: Path, text: str = RETUNE) -> Path:
    path = tmp_path / "change.diff"
    path.write_text(text)
    return path


def attest(repo: Path, tmp_path: Path, *keys: Path, text: str = RETUNE) -> tuple[Path, str]:
    out = tmp_path / "verdict.intoto.json"
    code, _, err = run("check", "--repo", repo, "--patch", patch(tmp_path, text), "--attest", out,
                       *[arg for key in keys for arg in ("--key", key)])
    assert "attestation written" in err
    return out, err


def test_keygen_writes_mode_0600_and_refuses_to_overwrite(tmp_path):
    code, _, _ = run("keygen", tmp_path / "k")
    assert code == 0 and stat.S_IMODE((tmp_path / "k").stat().st_mode) == 0o600
    assert (tmp_path / "k.pub").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    code, _, err = run("keygen", tmp_path / "k")
    assert code == 2 and "already exists" in err


def test_attestation_is_an_in_toto_statement_that_verifies_and_check_writes_nothing(repo, tmp_path, keys):
    before = sorted(p.name for p in repo.iterdir())
    out, err = attest(repo, tmp_path, keys[0])
    assert sorted(p.name for p in repo.iterdir()) == before  # no ledger: check never writes in the repository
    envelope = json.loads(out.read_text())
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://selfmod-sandbox.dev/verdict/v1"
    [subject] = statement["subject"]
    assert subject == {"name": "train.py", "digest": {"sha256": hashlib.sha256(
        TRAIN.replace("3e-4", "6e-4", 1).encode()).hexdigest()}}
    predicate = statement["predicate"]
    assert predicate["accepted"] is True and predicate["seed"] == 0 and predicate["tool"]["version"]
    assert predicate["before"]["train.py"] == hashlib.sha256(TRAIN.encode()).hexdigest()
    assert {o["verifier"] for o in predicate["obligations"]} and all("level" in o for o in predicate["obligations"])
    assert hashlib.sha256(out.read_bytes()).hexdigest() in err
    code, text, _ = run("attest", "verify", out, "--pub", f"{keys[0]}.pub")
    assert code == 0 and text.startswith("attestation valid"), text
    code, text, _ = run("attest", "verify", out, "--pub", f"{keys[1]}.pub")
    assert code == 1 and "INVALID" in text  # a key that did not sign


def test_one_byte_edit_of_a_subject_file_is_caught_with_repo(repo, tmp_path, keys):
    out, _ = attest(repo, tmp_path, keys[0])
    (repo / "train.py").write_text(TRAIN.replace("3e-4", "6e-4", 1))  # the verified change, as applied
    assert run("attest", "verify", out, "--pub", f"{keys[0]}.pub", "--repo", repo)[0] == 0
    data = bytearray((repo / "train.py").read_bytes())
    data[-2] ^= 0x01
    (repo / "train.py").write_bytes(bytes(data))
    code, text, _ = run("attest", "verify", out, "--pub", f"{keys[0]}.pub", "--repo", repo)
    assert code == 1 and "train.py: on disk it has sha256" in text


@pytest.mark.parametrize("where", ["payload", "sig", "keyid"])
def test_one_byte_edit_of_the_envelope_is_caught(repo, tmp_path, keys, where):
    out, _ = attest(repo, tmp_path, keys[0])
    data = bytearray(out.read_bytes())
    start = data.index(f'"{where}":"'.encode()) + len(where) + 4
    data[start + 10] = ord("A") if data[start + 10] != ord("A") else ord("B")
    out.write_bytes(bytes(data))
    code, text, _ = run("attest", "verify", out, "--pub", f"{keys[0]}.pub")
    assert code == 1 and "INVALID" in text


def test_threshold_needs_distinct_keys(repo, tmp_path, keys):
    gate, second = keys
    pubs = ("--pub", f"{gate}.pub", "--pub", f"{second}.pub")
    out, _ = attest(repo, tmp_path, gate)
    assert run("attest", "verify", out, *pubs, "--threshold", "2")[0] == 1
    out, _ = attest(repo, tmp_path, gate, gate)  # the same key twice is one signature
    code, text, _ = run("attest", "verify", out, *pubs, "--threshold", "2")
    assert code == 1 and "1 of the 2 trusted key(s)" in text
    out, _ = attest(repo, tmp_path, gate, second)
    assert run("attest", "verify", out, *pubs, "--threshold", "2")[0] == 0
    code, _, err = run("attest", "verify", out, "--pub", f"{gate}.pub", "--pub", f"{gate}.pub", "--threshold", "2")
    assert code == 2 and "distinct" in err


def test_usage_errors_exit_2(repo, tmp_path, keys):
    assert run("attest", "verify", tmp_path / "missing.json", "--pub", f"{keys[0]}.pub")[0] == 2
    assert run("attest", "verify", tmp_path / "x")[0] == 2  # no --pub
    assert run("attest", "verify", tmp_path / "x", "--pub", keys[0])[0] == 2  # a private key given as --pub
    code, _, err = run("check", "--repo", repo, "--patch", patch(tmp_path), "--attest", tmp_path / "o")
    assert code == 2 and "--key" in err


def test_an_attested_rejection_does_not_verify(repo, tmp_path, keys):
    out, _ = attest(repo, tmp_path, keys[0], text=HOSTILE)
    code, text, _ = run("attest", "verify", out, "--pub", f"{keys[0]}.pub")
    assert code == 1 and "rejection" in text


def test_apply_records_the_attestation_digest_in_the_ledger(repo, tmp_path, keys):
    out = tmp_path / "applied.intoto.json"
    code, _, err = run("apply", patch(tmp_path), "--repo", repo, "--attest", out, "--key", keys[0])
    assert code == 0, err
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    [verdict] = [e for e in Ledger(repo / ".sandbox").entries() if e.kind == "verdict"]
    assert verdict.record["attestations"] == [digest]
    assert run("attest", "verify", out, "--pub", f"{keys[0]}.pub", "--repo", repo)[0] == 0
