"""Where cached evidence lives: one JSON file per key, outside the repository.

Entries are written atomically (a temporary file, then ``os.replace``), so a crash or two
concurrent checks never leave half an entry; an entry that cannot be read is a miss, never
an error.  Only settled evidence is stored: ``UNKNOWN`` may come from a loaded machine or a
budget, and is always worked out again.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verifiers import Evidence, Level

__all__ = ["CachedEvidence", "VerdictCache", "default_dir"]

_FORMAT = 1


def default_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CACHE_HOME/selfmod-sandbox`` (``~/.cache/selfmod-sandbox`` when it is unset)."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "selfmod-sandbox"


@dataclass(frozen=True, slots=True)
class CachedEvidence:
    """Evidence found under a key, with what the verifiers before it said and when it was stored."""

    evidence: Evidence
    gave_up: tuple[str, ...]
    stored: float


class VerdictCache:
    """Evidence by key in ``directory`` (created on the first store)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory).expanduser().resolve()

    def get(self, key: str) -> CachedEvidence | None:
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
            if data.get("format") != _FORMAT or data.get("key") != key:
                return None
            evidence = Evidence.from_json(data["evidence"])
            if evidence.level is Level.UNKNOWN:
                return None
            return CachedEvidence(evidence, tuple(str(g) for g in data.get("gave_up", ())), float(data["stored"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, evidence: Evidence, gave_up: tuple[str, ...] = ()) -> bool:
        """Store settled evidence; returns whether it was stored (a full disk is not the check's failure)."""
        if evidence.level is Level.UNKNOWN:
            return False
        record: dict[str, Any] = {"format": _FORMAT, "key": key, "stored": time.time(),
                                  "evidence": evidence.to_json(), "gave_up": list(gave_up)}
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(record, handle)
            os.replace(temporary, path)
        except OSError:
            return False
        return True

    def _path(self, key: str) -> Path:
        if len(key) != 64 or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"a cache key is a sha256 hex digest, got {key!r}")
        return self.directory / key[:2] / f"{key}.json"
