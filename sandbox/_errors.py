"""Typed errors of the gate.  Each says what went wrong, where, and what to do."""

from __future__ import annotations

__all__ = ["ApplyError", "ConfigError", "GateError", "PatchError", "PatchLimitError", "SandboxError",
           "StaleTreeError"]


class SandboxError(Exception):
    """Base class: a usage error or a failure of the gate itself (CLI exit code 2)."""


class PatchError(SandboxError):
    """The patch is malformed, does not apply, or would write outside the repository.

    ``path`` and ``hunk`` (1-based) locate the problem when known.
    """

    def __init__(self, message: str, *, path: str | None = None, hunk: int | None = None,
                 line: int | None = None) -> None:
        self.path, self.hunk, self.line, self.reason = path, hunk, line, message
        where = ""
        if path is not None:
            where = path
            if line is not None:
                where += f":{line}"
            if hunk is not None:
                where += f" (hunk {hunk})"
            where += ": "
        super().__init__(where + message)


class PatchLimitError(PatchError):
    """The patch, or one file it touches, is larger than a configured limit (checked before parsing).

    ``limit`` is the ``[tool.sandbox]`` key, ``maximum`` its value and ``size`` what was measured.
    """

    def __init__(self, message: str, *, limit: str, size: int, maximum: int, path: str | None = None) -> None:
        self.limit, self.size, self.maximum = limit, size, maximum
        super().__init__(message, path=path)


class ConfigError(SandboxError):
    """``[tool.sandbox]`` or the property file is invalid."""


class GateError(SandboxError):
    """The gate cannot run (e.g. an interrupted apply is pending)."""


class ApplyError(SandboxError):
    """An apply was refused or failed; the tree is as it was before."""


class StaleTreeError(ApplyError):
    """A touched file changed between check and apply; nothing was written."""
