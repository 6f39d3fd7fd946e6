"""Signed attestations of verdicts (in-toto Statement v1 in a DSSE envelope, Ed25519) and the quorum
of independent checkers.  ``sandbox keygen``, ``--attest OUT --key FILE`` and ``sandbox attest verify``
are in ``sandbox.attest._command``.

The names load on first use: ``cryptography`` is imported only when an attestation is made or
checked, never by a plain ``sandbox check``.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["PAYLOAD_TYPE", "PREDICATE_TYPE", "STATEMENT_TYPE", "AttestError", "AttestationCheck", "Envelope",
           "EnvelopeError", "generate", "key_id", "load_private", "load_public", "pae", "sign", "statement",
           "statement_bytes", "verify_attestation"]

_HOME = {
    **dict.fromkeys(("PAYLOAD_TYPE", "Envelope", "EnvelopeError", "pae", "sign"), "_dsse"),
    **dict.fromkeys(("AttestError", "generate", "key_id", "load_private", "load_public"), "_keys"),
    **dict.fromkeys(("PREDICATE_TYPE", "STATEMENT_TYPE", "statement", "statement_bytes"), "_statement"),
    **dict.fromkeys(("AttestationCheck", "verify_attestation"), "_verify"),
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'sandbox.attest' has no attribute {name!r}")
    return getattr(importlib.import_module(f"sandbox.attest.{_HOME[name]}"), name)


def __dir__() -> list[str]:
    return sorted(__all__)
