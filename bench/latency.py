"""Benchmark: end-to-end latency of a scalar patch, with the median of every stage.

A lab's pre-merge check is judged on the common case: one changed function in a module of a
few hundred lines.  This builds such a module (about 200 lines of schedules, clamps and
counters), checks three one-function patches several times, and prints the median of each
stage so a regression shows where it is:

- ``cli import``: ``python -c "import sandbox._cli"`` in a fresh interpreter (what every
  ``sandbox check`` pays before it reads a byte);
- ``setup``: ``Gate.from_repo`` (configuration, property files, policy);
- ``intake``, ``analysis``, ``planning``: the patch resolved against the tree, the libcst
  change analysis, the obligations;
- one column per verifier (``static``, ``smt``, ``crosshair``, ``pbt``, ``import``, ...):
  the seconds its evidence took, summed over the obligations it decided;
- ``total``: ``Gate.check`` end to end (workers started, every obligation discharged);
- ``end to end``: ``python -m sandbox check --no-cache`` in a fresh process, as a hook runs it.

Run ``python bench/latency.py [REPEATS]``.  The numbers are wall-clock medians on this
machine; nothing here is asserted (see ``tests/`` for what must hold).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox import Gate, Patch  # noqa: E402
from sandbox._changes import analyse  # noqa: E402
from sandbox._planner import plan  # noqa: E402

HEAD = '''"""Schedules and small numeric helpers of a training loop."""

import math

WARMUP = 100
MAX_LR = 1e-3

'''

BLOCK = '''

def schedule_{i}(step: int) -> float:
    """Warmup then cosine decay (variant {i})."""
    if step < WARMUP:
        return MAX_LR * (step + 1) / WARMUP
    progress = min(1.0, (step - WARMUP) / 10_000)
    return MAX_LR * 0.5 * (1.0 + math.cos(math.pi * progress))


def clamp_{i}(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))


def bucket_{i}(n: int, size: int) -> int:
    if size <= 0:
        return 0
    return (n + size - 1) // size
'''

PATCHES = {
    "clamp swap (refuted: lo > hi)": ("return max(lo, min(hi, x))", "return min(hi, max(lo, x))"),
    "bucket rewrite": ("return (n + size - 1) // size", "return -(-n // size)"),
    "schedule tweak": ("return MAX_LR * (step + 1) / WARMUP", "return MAX_LR * (1 + step) / WARMUP"),
}


def build(root: Path) -> str:
    text = HEAD + "".join(BLOCK.format(i=i) for i in range(10))
    (root / "train.py").write_text(text)
    (root / "pyproject.toml").write_text("[tool.sandbox]\nmax_examples = 100\n")
    return text


def cli_import_seconds() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import sandbox._cli"], check=True, cwd=ROOT)
    return time.perf_counter() - started


def one(root: Path, patch: Patch) -> dict[str, float]:
    stages: dict[str, float] = defaultdict(float)
    started = time.perf_counter()
    gate = Gate.from_repo(root, cache=False)
    stages["setup"] = time.perf_counter() - started
    mark = time.perf_counter()
    files = patch.resolve(root)
    stages["intake"] = time.perf_counter() - mark
    mark = time.perf_counter()
    changes = analyse(files)
    stages["analysis"] = time.perf_counter() - mark
    mark = time.perf_counter()
    before = {f.path: f.before_text for f in files if f.before_text is not None}
    after = {f.path: f.after_text for f in files if f.after_text is not None}
    plan(changes, gate.properties, gate.config, gate.policy, before, after, root=root)
    stages["planning"] = time.perf_counter() - mark
    mark = time.perf_counter()
    verdict = gate.check(patch)
    stages["total"] = time.perf_counter() - mark + stages["setup"]
    for outcome in verdict.outcomes:
        stages[outcome.evidence.verifier] += outcome.evidence.seconds
    stages["accepted"] = float(verdict.accepted)
    return stages


def bytecode() -> None:
    """Compile our packages first, as ``make`` and pip do at install: where PYTHONDONTWRITEBYTECODE
    is set, an editable checkout would otherwise compile them again in every fresh process."""
    import compileall

    fresh = all(compileall.compile_dir(str(ROOT / name), quiet=1) for name in ("sandbox", "verifiers", "properties",
                                                                                "models"))
    print(f"own packages' bytecode: {'current' if fresh else 'COULD NOT BE WRITTEN (imports compile source)'}")


def main(repeats: int = 5) -> None:
    bytecode()
    imports = statistics.median(cli_import_seconds() for _ in range(repeats))
    print(f"cli import (fresh interpreter): median {imports:.3f} s over {repeats}")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "repo"
        root.mkdir(mode=0o755)  # readable by the workers' uid: bound, not copied
        text = build(root)
        for label, (old, new) in PATCHES.items():
            patch = Patch.from_files({"train.py": text.replace(old, new, 1)})
            runs = [one(root, patch) for _ in range(repeats)]
            names = sorted({k for run in runs for k in run} - {"total", "accepted"})
            medians = {k: statistics.median(run.get(k, 0.0) for run in runs) for k in names}
            total = statistics.median(run["total"] for run in runs)
            accepted = all(run["accepted"] for run in runs)
            cells = ", ".join(f"{k} {v:.3f}" for k, v in medians.items())
            print(f"{label:<30} total {total:.3f} s ({'accepted' if accepted else 'REJECTED'}); {cells}")
            cli = statistics.median(cli_check_seconds(root, patch, Path(scratch) / "change.json")
                                    for _ in range(repeats))
            print(f"{'':<30} end to end, `sandbox check` in a fresh process: median {cli:.3f} s")


def cli_check_seconds(root: Path, patch: Patch, where: Path) -> float:
    """What a person or a hook waits for: interpreter start, CLI import, the check, the report."""
    where.write_text(json.dumps({f.path: f.after_text for f in patch.resolve(root)}))
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "sandbox", "check", "--repo", str(root), "--patch", str(where),
                           "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"sandbox check failed (exit {done.returncode}): {done.stderr}")
    return seconds


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
