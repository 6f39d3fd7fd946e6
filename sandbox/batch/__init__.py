"""Batch verification: many candidate patches, deduplicated, cheap stages first, on a pool or Ray.

::

    from sandbox.batch import check_many

    for result in check_many("path/to/repo", {"c1": text1, "c2": text2}, backend="local", workers=2):
        print(result.id, result.accepted, result.stage)

Every candidate's verdict is the one ``Gate.check`` reaches on it alone; the cascade only
skips the behavioural checks of a candidate an earlier, cheaper stage already rejected.
"""

from sandbox.batch._candidates import BatchInputError, Candidate, read_jsonl, read_patches_dir
from sandbox.batch._cascade import STAGES, check_many
from sandbox.batch._local import LocalBackend
from sandbox.batch._result import BatchResult, ObligationLevel

__all__ = ["STAGES", "BatchInputError", "BatchResult", "Candidate", "LocalBackend", "ObligationLevel", "check_many",
           "read_jsonl", "read_patches_dir"]
