"""Checking an attestation: the envelope, M distinct trusted signatures, the statement, the files on disk."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sandbox.attest._dsse import PAYLOAD_TYPE, Envelope, EnvelopeError
from sandbox.attest._statement import PREDICATE_TYPE, STATEMENT_TYPE

__all__ = ["AttestationCheck", "verify_attestation"]


@dataclass(frozen=True, slots=True)
class AttestationCheck:
    """The result of ``verify_attestation``: ``ok`` only when ``problems`` is empty."""

    signers: tuple[str, ...]
    threshold: int
    problems: tuple[str, ...]
    statement: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        subjects = (self.statement or {}).get("subject", [])
        return {"ok": self.ok, "signers": list(self.signers), "threshold": self.threshold,
                "subjects": subjects, "problems": list(self.problems)}


def verify_attestation(data: bytes, keys: Sequence[Ed25519PublicKey], *, threshold: int = 1,
                       repo: Path | None = None) -> AttestationCheck:
    """Check envelope ``data`` against the trusted ``keys``: ``threshold`` distinct keys must have signed
    it, the statement must be ours and record an acceptance, and with ``repo`` every subject on disk
    must still have the digest that was attested."""
    try:
        envelope = Envelope.from_bytes(data)
    except EnvelopeError as error:
        return AttestationCheck((), threshold, (f"the envelope is invalid: {error}",))
    if envelope.payload_type != PAYLOAD_TYPE:
        return AttestationCheck((), threshold, (f"payloadType is {envelope.payload_type!r}, not {PAYLOAD_TYPE!r}",))
    signers = envelope.signed_by(keys)
    if len(signers) < threshold:
        return AttestationCheck(signers, threshold, (
            f"{len(signers)} of the {len(keys)} trusted key(s) signed it validly, and {threshold} distinct "
            f"signature(s) are needed: the envelope was altered, or signed by other keys",))
    try:
        statement = json.loads(envelope.payload)
    except ValueError as error:
        return AttestationCheck(signers, threshold, (f"the signed payload is not JSON ({error})",))
    problems = _statement_problems(statement)
    if not problems and repo is not None:
        problems = _disk_problems(statement, repo)
    return AttestationCheck(signers, threshold, tuple(problems), statement if isinstance(statement, dict) else None)


def _statement_problems(statement: Any) -> list[str]:
    if not isinstance(statement, dict) or statement.get("_type") != STATEMENT_TYPE:
        return [f"the payload is not an in-toto Statement v1 (_type {STATEMENT_TYPE})"]
    if statement.get("predicateType") != PREDICATE_TYPE:
        return [f"predicateType is {statement.get('predicateType')!r}, not the gate's verdict {PREDICATE_TYPE}"]
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or not subjects or not all(
            isinstance(s, dict) and isinstance(s.get("name"), str) and isinstance(s.get("digest"), dict)
            and isinstance(s["digest"].get("sha256"), str) for s in subjects):
        return ["the statement's subject is not a list of {name, digest: {sha256}}"]
    predicate = statement.get("predicate")
    if not isinstance(predicate, dict) or not isinstance(predicate.get("after"), dict):
        return ["the statement has no verdict predicate"]
    if predicate.get("accepted") is not True:
        return ["the signatures are genuine, but the verdict they sign is a rejection: the gate did not accept "
                "this change"]
    return []


def _disk_problems(statement: dict[str, Any], repo: Path) -> list[str]:
    """Each subject file must hold the attested bytes; each file the patch deleted must still be gone."""
    problems = []
    expected = {s["name"]: s["digest"]["sha256"] for s in statement["subject"] if s["name"] != "_"}
    deleted = [path for path, digest in statement["predicate"]["after"].items() if digest is None]
    for name in [*expected, *deleted]:
        relative = PurePosixPath(name)
        if relative.is_absolute() or ".." in relative.parts:
            problems.append(f"{name}: a subject outside the repository; refusing to read it")
            continue
        path = repo / relative
        if name in expected:
            try:
                actual = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError as error:
                problems.append(f"{name}: cannot read it in {repo} ({error.strerror or error})")
                continue
            if actual != expected[name]:
                problems.append(f"{name}: on disk it has sha256 {actual}, but {expected[name]} was attested: "
                                "the file changed after the check")
        elif path.exists():
            problems.append(f"{name}: the verified change deletes it, but it exists in {repo}")
    return problems
