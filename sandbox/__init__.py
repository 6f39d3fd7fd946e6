"""selfmod-sandbox: a gate between an AI model and the code it wants to change.

The common path::

    from sandbox import Gate, Patch

    gate = Gate.from_repo("path/to/repo")
    verdict = gate.check(Patch.from_diff(text))
    print(verdict.summary())
    if verdict.accepted:
        gate.apply(verdict)

Names are imported on first use, so ``import sandbox`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    "ApplyError",
    "ConfigError",
    "Edit",
    "FileChange",
    "Gate",
    "GateError",
    "Patch",
    "PatchError",
    "SandboxError",
    "StaleTreeError",
    "Verdict",
]

_HOME = {
    "Gate": "sandbox._gate",
    "Patch": "sandbox._patch",
    "Edit": "sandbox._patch",
    "FileChange": "sandbox._patch",
    "Verdict": "sandbox._verdict",
    "ApplyError": "sandbox._errors",
    "ConfigError": "sandbox._errors",
    "GateError": "sandbox._errors",
    "PatchError": "sandbox._errors",
    "SandboxError": "sandbox._errors",
    "StaleTreeError": "sandbox._errors",
}

if TYPE_CHECKING:
    from sandbox._errors import ApplyError, ConfigError, GateError, PatchError, SandboxError, StaleTreeError
    from sandbox._gate import Gate
    from sandbox._patch import Edit, FileChange, Patch
    from sandbox._verdict import Verdict


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'sandbox' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
