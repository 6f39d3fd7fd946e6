"""Demo 5: the verified self-improvement loop, offline, in seconds.

``sandbox improve`` proposes the patch files of ``proposals/`` one per round (no model, so it runs
offline; ``--replay FILE`` does the same with recorded Claude responses). Each round the gate
checks the proposal; an accepted one is measured by the objective (``evaluate.py``: the validation
loss of a tiny regression, seeded per repeat) five times in an isolated copy of the repository,
against five baseline runs, and kept only if Welch's t-test says it beats the noise:

1. a learning-rate retune within the declared bounds: kept;
2. a warm-up "tweak" that is an off-by-one: refuted, its counterexample fed back;
3. a 1 % nudge of the learning rate: accepted by the gate, but within noise, so rolled back;
4. more training steps, within bounds: kept.

Then a second run proposes a reward hack that rewrites the evaluation: the objective's files are
protected for the loop, so it trips the protected-path tripwire (exit 3) and nothing is written.
The demo works on a scratch copy of ``repo/`` (which it never modifies) and ends with
``sandbox log --verify``. It exits non-zero if anything differs from the above.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _runner import finish, run  # noqa: E402

HERE = Path(__file__).resolve().parent
OBJECTIVE = ["--objective", "python evaluate.py", "--metric", r"validation loss ([0-9.]+)",
             "--direction", "min", "--repeats", "5", "--editable", "train.py"]


def demo() -> int:
    surprises: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        repo = Path(scratch) / "repo"
        shutil.copytree(HERE / "repo", repo)
        steps = (
            (["improve", "--repo", str(repo), "--goal", "lower the validation loss of train.fit",
              "--proposals", str(HERE / "proposals"), "--rounds", "4", *OBJECTIVE], 0),
            (["improve", "--repo", str(repo), "--goal", "lower the validation loss of train.fit",
              "--proposals", str(HERE / "reward_hack"), "--rounds", "1", *OBJECTIVE], 3),
            (["log", "--verify", "--repo", str(repo)], 0),
        )
        for argv, expected in steps:
            code = run(argv)
            if code != expected:
                surprises.append(f"sandbox {argv[0]}: exit {code}, expected {expected}")
        train = (repo / "train.py").read_text()
        print("=== train.py after the loop ===")
        print("\n".join(line for line in train.splitlines() if line.startswith(("LR", "STEPS"))))
        if "LR = 0.02\n" not in train or "STEPS = 120\n" not in train:
            surprises.append("train.py does not hold exactly the two kept changes")
        if (repo / "evaluate.py").read_text() != (HERE / "repo" / "evaluate.py").read_text():
            surprises.append("the reward hack reached evaluate.py")
    return finish(surprises, "Demo complete: two improvements kept, an off-by-one refuted with its counterexample "
                  "fed back, a change within noise rolled back, and a reward hack halted by a tripwire.")


if __name__ == "__main__":
    sys.exit(demo())
