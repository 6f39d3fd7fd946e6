"""The in-toto Statement v1 of a verdict: the after-files as subjects, the verdict as the predicate."""

from __future__ import annotations

import json
from importlib import metadata
from typing import Any

from sandbox._verdict import Judgement, Verdict

__all__ = ["PREDICATE_TYPE", "STATEMENT_TYPE", "statement", "statement_bytes"]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
# Our own predicate: a verification summary of one patch by the gate.
PREDICATE_TYPE = "https://selfmod-sandbox.dev/verdict/v1"


def statement(verdict: Verdict) -> dict[str, Any]:
    """The statement: every file the patch leaves behind, by sha256, and what the gate found.

    A patch that only deletes leaves no file to name; its subject is then the patch itself
    (name ``"_"``, in-toto's "no meaningful name"), and the predicate lists the deleted paths.
    """
    after = dict(verdict.certificate.after)
    subjects = [{"name": path, "digest": {"sha256": digest}} for path, digest in sorted(after.items())
                if digest is not None]
    if not subjects:
        subjects = [{"name": "_", "digest": {"sha256": verdict.certificate.patch}}]
    return {"_type": STATEMENT_TYPE, "subject": subjects, "predicateType": PREDICATE_TYPE,
            "predicate": _predicate(verdict)}


def statement_bytes(verdict: Verdict) -> bytes:
    """The statement as signed: canonical JSON (sorted keys, no spaces, ASCII)."""
    return json.dumps(statement(verdict), sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _predicate(verdict: Verdict) -> dict[str, Any]:
    cert = verdict.certificate
    predicate: dict[str, Any] = {
        "accepted": verdict.accepted,
        "patch": {"sha256": cert.patch},
        "before": dict(cert.before),
        "after": dict(cert.after),
        "obligations": [_obligation(j) for j in verdict.outcomes],
        "config": {"sha256": cert.config},
        "properties": {"sha256": cert.properties},
        "require": verdict.require,
        "seed": verdict.seed,
        "tool": {"name": "selfmod-sandbox", "version": _version()},
    }
    if verdict.quorum_need:
        predicate["quorum"] = {"need": verdict.quorum_need, "met": verdict.quorum_met, "checkers": [
            {"checker": v.checker, "accepted": v.accepted, "obligations": [_obligation(j) for j in v.judgements]}
            for v in verdict.quorum]}
    if verdict.review is not None:
        predicate["review"] = verdict.review
    return predicate


def _obligation(judgement: Judgement) -> dict[str, Any]:
    ob, ev = judgement.obligation, judgement.evidence
    return {"target": ob.target, "kind": ob.kind.value, "path": ob.path, "level": ev.level.value,
            "verifier": ev.verifier, "ok": judgement.ok,
            "detail": ev.detail}


def _version() -> str:
    try:
        return metadata.version("selfmod-sandbox")
    except metadata.PackageNotFoundError:
        return "unknown"
