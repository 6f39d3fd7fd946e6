"""``check-many --attest DIR --key FILE``: one signed in-toto attestation per candidate, in DIR.

The pool processes and Ray workers return each verdict's statement as data; only this process
holds the private keys and signs.  A duplicate shares the attestation of the candidate it
repeats (the same files left behind, checked once); a candidate the gate could not check has
none, and its record says why.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from sandbox._errors import SandboxError
from sandbox.batch._result import BatchResult

__all__ = ["BatchAttester"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class BatchAttester:
    """Signs the statement of each result with the ``--key`` files and writes ``DIR/<id>.intoto.json``."""

    def __init__(self, directory: str | Path, key_paths: Sequence[str], checkers: Sequence[str],
                 notes: IO[str] | None = None) -> None:
        from sandbox.attest._command import load_keys

        if not key_paths:
            raise SandboxError("--attest needs at least one --key FILE to sign with (make one: `sandbox keygen FILE`)")
        self.directory = Path(directory)
        if self.directory.exists() and not self.directory.is_dir():
            raise SandboxError(f"--attest {directory}: exists and is not a directory; with check-many, --attest "
                               "names a directory that receives one attestation per candidate")
        self.keys = load_keys(key_paths, checkers)
        self.notes = notes
        self._written: dict[str, dict[str, Any]] = {}
        self._names: set[str] = set()

    def attest(self, result: BatchResult) -> dict[str, Any] | None:
        """The record's ``attestation`` field: ``{"path", "sha256"}``, the original's for a duplicate,
        or ``{"path": None, "reason": ...}`` when there is nothing to sign."""
        from sandbox.attest._command import sign_statement

        if result.duplicate_of is not None and result.duplicate_of in self._written:
            return {**self._written[result.duplicate_of], "shared_with": result.duplicate_of}
        if result.statement is None:
            return {"path": None, "sha256": None, "reason": result.error or "no verdict was reached"}
        self.directory.mkdir(parents=True, exist_ok=True)
        out = self.directory / self._file_name(result.id)
        predicate = json.loads(result.statement).get("predicate", {})
        accepted_by = {c["checker"]: bool(c["accepted"]) for c in predicate.get("quorum", {}).get("checkers", ())}
        digest = sign_statement(result.statement, out, self.keys, accepted_by)
        if digest is None:
            record: dict[str, Any] = {"path": None, "sha256": None,
                                      "reason": "no key may sign it: every key is a checker's and none accepted"}
        else:
            record = {"path": str(out), "sha256": digest}
        self._written[result.id] = record
        return record

    def _file_name(self, identifier: str) -> str:
        """A file name from the id; ids that differ only in unsafe characters get a counter."""
        stem = _UNSAFE.sub("_", identifier).lstrip(".") or "candidate"
        name, number = f"{stem}.intoto.json", 1
        while name in self._names:
            number += 1
            name = f"{stem}-{number}.intoto.json"
        self._names.add(name)
        return name
