"""Demo 2: old and new code run side by side in isolated workers; hypothesis hunts for a difference.

Run it with ``.venv/bin/python examples/02_differential_testing/demo.py``.  Three patches to
``repo/ops.py`` (never modified):

1. an equivalent rewrite of ``clamp_all`` as a list comprehension -- accepted: no difference in
   hundreds of generated inputs, boundary values first (lists are outside the z3 prover's
   subset, so it answers UNKNOWN and the differential tester decides);
2. a "branch-free optimisation" of ``clamp_all`` -- refuted: it differs when ``lo > hi``, and the
   report shows the shrunk counterexample as a call, with old and new results;
3. a patch that quietly logs every input to a file, hidden behind ``functools.partial`` where
   the static policy cannot see it -- stopped at run time by the worker sandbox.

It exits non-zero if any verdict differs from the one expected, so it doubles as a test.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _runner import check_patches, finish  # noqa: E402

HERE = Path(__file__).resolve().parent

EXPECTED = {
    "01_equivalent_refactor.diff": 0,
    "02_branch_free_clamp.diff": 1,
    "03_logs_inputs_to_disk.diff": 1,
}


def demo() -> int:
    surprises = check_patches(HERE / "repo", HERE / "patches", EXPECTED)
    return finish(surprises, "Demo complete: the refactor passed, the optimisation was refuted with a shrunk "
                  "counterexample, and the hidden file write was stopped by the worker sandbox.")


if __name__ == "__main__":
    sys.exit(demo())
