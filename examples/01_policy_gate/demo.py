"""Demo 1: the gate accepts a safe retune and stops a hostile patch, offline, in seconds.

Run it with ``make demo`` (or ``python examples/01_policy_gate/demo.py``).  It checks
three patches against the bundled ``repo/`` (which it never modifies), then applies
the accepted one to a temporary copy and verifies the ledger.  It exits non-zero if
any verdict differs from the one expected, so it doubles as a test.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _runner import check_patches, finish, run  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE / "repo"
PATCHES = HERE / "patches"

EXPECTED = {
    # A learning-rate retune inside the bounds the property file allows, a docstring
    # edit and a new helper: every obligation can be decided, so it is accepted.
    "01_retune_within_bounds.diff": 0,
    # Hides `os.system` behind an alias and a concatenated string: the static
    # policy sees through both and names the rule.
    "02_hostile_shell.diff": 1,
    # A refactor of clip() that looks equivalent -- min/max swapped around -- but is not
    # when the limit is negative: z3 finds a counterexample, and the isolated workers
    # replay it concretely before it is reported.
    "03_refactor_not_equivalent.diff": 1,
}


def demo() -> int:
    surprises = check_patches(REPO, PATCHES, EXPECTED)
    print("=== applying the accepted patch to a scratch copy, then checking the ledger ===")
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "repo"
        shutil.copytree(REPO, copy)
        for argv, expected in (
            (["apply", str(PATCHES / "01_retune_within_bounds.diff"), "--repo", str(copy)], 0),
            (["log", "--repo", str(copy)], 0),
            (["log", "--verify", "--repo", str(copy)], 0),
        ):
            code = run(argv)
            if code != expected:
                surprises.append(f"sandbox {argv[0]}: exit {code}, expected {expected}")
    return finish(surprises, "Demo complete: safe retune accepted and applied, hostile patch rejected with its "
                  "rule, subtly different refactor refuted with a counterexample.")


if __name__ == "__main__":
    sys.exit(demo())
