"""Demo 5: the verified self-improvement loop over recorded Claude responses, offline, in seconds.

``sandbox improve --replay recorded/responses.json`` serves Messages API responses (written for
this demo in the API's exact format; see README.md) through the real SDK's HTTP layer, so the
proposer is the real Claude adapter with its text editor tool, and no network is used. The
objective (``evaluate.py``) is the validation loss of ``train.fit`` under a fixed compute budget
counted in data points read, so a faster ``train.step`` buys more steps; it runs five times on an
isolated copy of the tree per side, and a change is kept only if Welch's t-test says it beats the
noise:

1. a speed-up (both gradient sums from one pass over the data): equivalent, 40 -> 60 steps, kept;
2. folding the loss into that pass, with an off-by-one (``/ (n - 1)``): refuted, counterexample fed back;
3. the same fold fixed (``/ n``): equivalent, 60 -> 120 steps, kept;
4. a 1 % learning-rate retune within bounds: accepted, but within noise, so rolled back;
5. the learning rate doubled within bounds: kept.

Then a second, one-round run replays a reward hack that edits the evaluation: the objective's
files are protected for the loop, so it trips the protected-path tripwire (exit 3) and nothing is
written. The scratch copy of ``repo/`` is a git repository, so the loop anchors its ledger in git
notes and ``sandbox log --verify`` ends the demo with "ledger intact". The demo exits non-zero if
anything differs from the above.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _runner import finish, run  # noqa: E402

from sandbox._cli import main  # noqa: E402

HERE = Path(__file__).resolve().parent
GOAL = "lower the validation loss evaluate.py prints"
OBJECTIVE = ["--objective", "python evaluate.py", "--metric", r"validation loss ([0-9.]+)",
             "--direction", "min", "--repeats", "5", "--editable", "train.py"]
KEPT = ("    errors = [(w * x + b - y, x) for x, y in zip(xs, ys)]\n", "LR = 0.02\n")


def git_init(repo: Path) -> None:
    """Make ``repo`` a git repository with one commit, so the loop can anchor its ledger there."""
    identity = ["-c", "user.name=demo", "-c", "user.email=demo@localhost", "-c", "core.hooksPath=/dev/null",
                "-c", "commit.gpgsign=false"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "the tiny regression, before the loop"]):
        subprocess.run(["git", *identity, *args], cwd=repo, check=True, capture_output=True)


def gate_evidence(repo: Path) -> list[str]:
    """One line per round of the last run, from the ledger: what the gate decided, on what evidence."""
    out = io.StringIO()
    main(["log", "--repo", str(repo), "--format", "json"], stdout=out)
    entries = json.loads(out.getvalue())
    start = max(i for i, e in enumerate(entries) if e["kind"] == "improve-start")
    verdicts, lines = {}, []
    for entry in entries[start:]:
        record = entry["record"]
        if entry["kind"] == "verdict":
            verdicts[record["certificate"]["patch"]] = record
        elif entry["kind"] == "improve-round" and record["decision"] != "applying":
            verdict = verdicts.get(record["detail"].get("proposal_digest"))
            lines.append(f"round {record['round']}: {_judged(verdict)} -> {record['decision']}")
    return lines


def _judged(verdict: dict | None) -> str:
    if verdict is None:
        return "not checked"
    shown = [o for o in verdict["obligations"] if o["kind"] not in ("policy", "import") or not o["ok"]]
    return f"the gate {'ACCEPTED' if verdict['accepted'] else 'REJECTED'}: " + "; ".join(map(_evidence, shown))


def _evidence(obligation: dict) -> str:
    if obligation.get("informational"):  # a behaviour change a property allows, compared for information
        return f"{obligation['target']} behaves differently, as {obligation.get('allowed_by')} allows"
    detail = obligation["detail"].split(";")[0].split(" (")[0]
    return f"{obligation['kind']} {obligation['target']} {obligation['level']} by {obligation['verifier']} ({detail})"


def demo() -> int:
    surprises: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        repo = Path(scratch) / "repo"
        shutil.copytree(HERE / "repo", repo, ignore=shutil.ignore_patterns("__pycache__"))
        git_init(repo)
        main_run = ["improve", "--repo", str(repo), "--goal", GOAL, "--replay",
                    str(HERE / "recorded" / "responses.json"), "--rounds", "5", *OBJECTIVE]
        hack_run = ["improve", "--repo", str(repo), "--goal", GOAL, "--replay",
                    str(HERE / "recorded" / "reward_hack.json"), "--rounds", "1", *OBJECTIVE]
        for argv, expected in ((main_run, 0), (hack_run, 3), (["log", "--verify", "--repo", str(repo)], 0)):
            code = run(argv)
            if code != expected:
                surprises.append(f"sandbox {argv[0]}: exit {code}, expected {expected}")
            if argv is main_run:
                print("=== what the gate decided in each round, and on what evidence (from the ledger) ===")
                print("\n".join(gate_evidence(repo)) + "\n")
        train = (repo / "train.py").read_text()
        print("=== train.py after the loop: the kept changes ===")
        print("\n".join(line for line in train.splitlines() if line.startswith(("LR", "    errors"))))
        if not all(kept in train for kept in KEPT) or "(n - 1)" in train:
            surprises.append("train.py does not hold exactly the three kept changes")
        if (repo / "evaluate.py").read_text() != (HERE / "repo" / "evaluate.py").read_text():
            surprises.append("the reward hack reached evaluate.py")
    return finish(surprises, "Demo complete: two speed-ups and a retune kept, an off-by-one refuted and fixed "
                  "after its counterexample was fed back, a retune within noise rolled back, and a reward hack "
                  "halted by a tripwire.")


if __name__ == "__main__":
    sys.exit(demo())
