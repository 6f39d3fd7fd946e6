"""Changes the gate accepted that ``apply = "proven" | "manual"`` reserves for a person.

Each waits as one JSON file under ``<ledger dir>/pending/`` (a protected path, so no patch can
add to or edit the queue): the patch text exactly as checked, its certificate, the verdict's
report, the loop's extra protected patterns (so the re-check at approval judges it the same way)
and the objective's measurements. ``sandbox pending`` lists them; ``sandbox apply --approve ID``
re-checks the patch, shows the verdict and the diff, and applies it, recording who approved.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sandbox._errors import SandboxError

__all__ = ["PendingChange", "Queue"]

_ID = re.compile(r"^[0-9a-f]{12}$")


@dataclass(frozen=True, slots=True)
class PendingChange:
    """One queued change (see the module docstring for what it holds)."""

    id: str
    record: dict[str, Any]

    @property
    def patch(self) -> str:
        return str(self.record["patch"])

    @property
    def protect(self) -> tuple[str, ...]:
        return tuple(self.record.get("protect", ()))

    def line(self) -> str:
        """One line for ``sandbox pending``."""
        files = ", ".join(self.record.get("files", [])) or "?"
        why = self.record.get("reserved", "")
        objective = self.record.get("objective") or {}
        measured = f"; objective {objective.get('summary')}" if objective.get("summary") else ""
        return (f"{self.id}  round {self.record.get('round')} of run {self.record.get('run')}: {files} "
                f"(queued {self.record.get('queued_at')}; apply mode reserves {why}){measured}")


class Queue:
    """The pending changes of one repository, stored under ``state_dir/pending``."""

    def __init__(self, state_dir: Path) -> None:
        self.directory = Path(state_dir) / "pending"

    def add(self, record: dict[str, Any]) -> PendingChange:
        """Store ``record`` (it must hold ``patch`` and ``patch_digest``); the ID is the digest's head."""
        ident = str(record["patch_digest"])[:12]
        record = {**record, "id": ident,
                  "queued_at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")}
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=f".{ident}.")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(record, out, indent=2, sort_keys=True)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.directory / f"{ident}.json")
        return PendingChange(ident, record)

    def list(self) -> tuple[PendingChange, ...]:
        """Every pending change, oldest first."""
        if not self.directory.is_dir():
            return ()
        found = [self._read(path) for path in self.directory.glob("*.json") if _ID.match(path.stem)]
        return tuple(sorted(found, key=lambda change: (str(change.record.get("queued_at")), change.id)))

    def get(self, ident: str) -> PendingChange:
        """The pending change ``ident``; a SandboxError that lists the queue if there is none."""
        path = self.directory / f"{ident}.json"
        if not _ID.match(ident) or not path.is_file():
            waiting = ", ".join(change.id for change in self.list()) or "none"
            raise SandboxError(f"no pending change {ident!r} in {self.directory} (pending: {waiting}); "
                               "`sandbox pending` lists them")
        return self._read(path)

    def remove(self, ident: str) -> None:
        (self.directory / f"{ident}.json").unlink(missing_ok=True)

    def _read(self, path: Path) -> PendingChange:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise SandboxError(f"{path}: the pending change is unreadable ({error}); remove it or restore "
                               "it from a backup") from None
        if not isinstance(record, dict) or not isinstance(record.get("patch"), str):
            raise SandboxError(f"{path}: not a pending change (no patch text); remove it")
        return PendingChange(path.stem, record)
