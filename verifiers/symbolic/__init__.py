"""CrossHair as a second symbolic engine: path search in the workers, inputs replayed and judged here.

Only ``_worker`` (run inside the isolated workers) imports CrossHair; the trusted side
imports neither CrossHair nor z3 for it.
"""

from verifiers.symbolic._verifier import Budget, PathSearch, found_inputs

__all__ = ["Budget", "PathSearch", "found_inputs"]
