"""Batch verification: many candidate patches, deduplicated, cheap stages first, on a pool or Ray.

::

    from sandbox.batch import check_many

    for result in check_many("path/to/repo", {"c1": text1, "c2": text2}, backend="local", workers=2):
        print(result.id, result.accepted, result.stage)

Every candidate's verdict is the one ``Gate.check`` reaches on it alone; the cascade only
skips the behavioural checks of a candidate an earlier, cheaper stage already rejected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox._exports import lazy_exports

# Where each public name lives.  Imported on first use (PEP 562), so that building the command
# line, which every `sandbox check` does, does not load the batch machinery.
_HOMES = {
    "BatchInputError": "sandbox.batch._candidates",
    "BatchResult": "sandbox.batch._result",
    "Candidate": "sandbox.batch._candidates",
    "LocalBackend": "sandbox.batch._local",
    "ObligationLevel": "sandbox.batch._result",
    "STAGES": "sandbox.batch._cascade",
    "check_many": "sandbox.batch._cascade",
    "read_jsonl": "sandbox.batch._candidates",
    "read_patches_dir": "sandbox.batch._candidates",
}
__all__ = [
    "STAGES", "BatchInputError", "BatchResult", "Candidate", "LocalBackend", "ObligationLevel", "check_many",
    "read_jsonl", "read_patches_dir",
]

if TYPE_CHECKING:
    from sandbox.batch._candidates import BatchInputError, Candidate, read_jsonl, read_patches_dir
    from sandbox.batch._cascade import STAGES, check_many
    from sandbox.batch._local import LocalBackend
    from sandbox.batch._result import BatchResult, ObligationLevel


__getattr__, __dir__ = lazy_exports(__name__, _HOMES, __all__)
