"""Demo 3: z3 proves what can be proved, and refutes with a counterexample it has replayed.

Run it with ``.venv/bin/python examples/03_proofs/demo.py``.  Three patches to ``repo/train.py``
(never modified):

1. a refactor of the learning-rate schedule ``lr_at`` (helper function, ``elif``, a temporary)
   -- accepted: z3 proves it equivalent to the old one for every integer step, in IEEE-754
   doubles, and the proof is cross-checked by running both versions on boundary inputs;
2. a retune of ``finetune_lr`` (longer warmup, higher rate) -- accepted: the property file
   declares ``0 <= out <= 1e-3`` for ``0 <= step <= 1500``, and z3 proves the new numbers keep it;
3. an off-by-one (``<`` became ``<=``) in ``lr_at`` -- refuted: z3 finds the step where the
   rate changes and the report shows it as a Python call, replayed in the isolated workers.

It exits non-zero if any verdict differs from the one expected, so it doubles as a test.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _runner import check_patches, finish  # noqa: E402

HERE = Path(__file__).resolve().parent

EXPECTED = {
    "01_refactor_schedule.diff": 0,
    "02_retune_within_invariant.diff": 0,
    "03_off_by_one.diff": 1,
}


def demo() -> int:
    surprises = check_patches(HERE / "repo", HERE / "patches", EXPECTED)
    return finish(surprises, "Demo complete: the refactor was proved equivalent, the retune proved within its "
                  "invariant, and the off-by-one refuted with a counterexample z3 found and the workers replayed.")


if __name__ == "__main__":
    sys.exit(demo())
