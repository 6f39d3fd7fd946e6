"""Demo 4: numeric equivalence of a training kernel, forward and backward, against a float64 oracle.

Run it with ``.venv/bin/python examples/04_kernels/demo.py``.  Three patches to the hand-written
GELU in ``repo/model.py`` (never modified):

1. a fused rewrite with ``F.gelu`` -- accepted: the report shows, per output and gradient, the
   new kernel's error against the oracle (the old kernel in float64) beside the old kernel's own
   error, and the ratio to the calibrated bound;
2. a kernel that "memoises" its output per shape -- rejected by the named anti-cheat check
   ``cached results``: inputs are fresh on every call, so a stale result cannot hide;
3. the same GELU computed internally in bfloat16 -- rejected by the calibrated error bound (its
   error is hundreds of times the old kernel's);
4. a fused rewrite of the Adam step in ``repo/optim.py`` -- accepted: ``sandbox_properties.py``
   says which outputs are the next step's state (``carry``), so parameter and state are compared
   after each of five steps;
5. the same step with the bias correction "precomputed" for step 1 -- exact at the first step,
   rejected by the check ``state after several steps`` at step 2.

torch is imported only inside the isolated workers.  It exits non-zero if any verdict differs
from the one expected, so it doubles as a test.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _runner import check_patches, finish  # noqa: E402

HERE = Path(__file__).resolve().parent

EXPECTED = {
    "01_fused_gelu.diff": 0,
    "02_cached_output.diff": 1,
    "03_bf16_internal.diff": 1,
    "04_adam_fused.diff": 0,
    "05_adam_bias_correction_frozen.diff": 1,
}


def demo() -> int:
    surprises = check_patches(HERE / "repo", HERE / "patches", EXPECTED)
    return finish(surprises, "Demo complete: the fused GELU passed with its error beside the old kernel's, the "
                  "cached output was caught by the named check, the bfloat16 shortcut exceeded the bound, and the "
                  "Adam step was compared over five steps, where a bug invisible at step 1 shows at step 2.")


if __name__ == "__main__":
    sys.exit(demo())
