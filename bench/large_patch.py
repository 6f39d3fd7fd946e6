"""Benchmark: a large patch costs time and memory in proportion to its size.

Builds a synthetic repository, writes a unified diff that adds N lines (new helper
functions) and modifies one function per file, and runs the gate's stages that come
before any worker starts: intake (``Patch.load``), ``resolve`` (applied in memory),
change analysis, planning and the static policy.  Each size runs in a fresh
subprocess, so its peak memory (``ru_maxrss``) is its own.

Two shapes: ``files`` spreads the lines over 300 files; ``big`` puts them in one file
(kept under the 1 MiB per-file limit).  Prints CPU seconds per stage (process time, so a
busy machine skews the ratios less than wall time would), the wall time, peak MB (and the
MB above the interpreter with its imports), and each size's ratios to the smallest: about
2x per doubling of the lines means linear.  Run ``python bench/large_patch.py``
(``--quick`` for smaller sizes, ``--shape files|big`` for one shape, ``--skip-static`` to leave
the policy stage out: it is the slowest, and belongs to ``verifiers/static``).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODULE = '''"""Synthetic module {i}."""

import math

SCALE = 1.5


def schedule(step: int) -> float:
    """Warmup then cosine."""
    if step < 100:
        return SCALE * (step + 1) / 100
    return SCALE * 0.5 * (1.0 + math.cos(math.pi * min(1.0, step / 10_000)))


def clamp(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))
'''

HELPER = '''

def helper_{j}(x: float) -> float:
    """Added helper {j}."""
    y = x * {j} + 1.0
    if y > 10.0:
        return y - 10.0
    return y
'''
HELPER_LINES = HELPER.count("\n")
SHAPES = {"files": 300, "big": 1}
SIZES = {"files": (25_000, 50_000, 100_000), "big": (10_000, 20_000, 40_000)}
QUICK = {"files": (5_000, 10_000, 20_000), "big": (5_000, 10_000, 20_000)}


def _file_diff(path: str, old: str, added: int, start: int) -> str:
    """A git diff of ``path``: ``clamp`` rewritten and ``added`` helper functions appended."""
    old_lines = old.splitlines(keepends=True)
    body = [HELPER.format(j=start + k) for k in range(added // HELPER_LINES)]
    new_tail = "".join(body).splitlines(keepends=True)
    clamp = len(old_lines) - 1  # the last line is clamp's return
    hunk = [f"@@ -{clamp - 2},4 +{clamp - 2},{4 + len(new_tail)} @@\n"]
    hunk += [" " + line for line in old_lines[clamp - 3:clamp]]
    hunk += ["-" + old_lines[clamp], "+    return min(hi, max(lo, x))\n"]
    hunk += ["+" + line for line in new_tail]
    return f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n" + "".join(hunk)


def build(root: Path, shape: str, lines: int) -> str:
    """Write the repository under ``root``; return the diff text of the patch."""
    files = SHAPES[shape]
    (root / "pkg").mkdir()
    (root / "pyproject.toml").write_text("[tool.sandbox]\nmax_patch_lines = 1000000\n"
                                         "max_patch_bytes = 100000000\n")
    parts = []
    for i in range(files):
        text = MODULE.format(i=i)
        (root / "pkg" / f"mod{i}.py").write_text(text)
        parts.append(_file_diff(f"pkg/mod{i}.py", text, lines // files, i * lines))
    return "".join(parts)


def measure(shape: str, lines: int, static_stage: bool = True) -> dict[str, float]:
    """Run the stages once in this process; seconds per stage and peak memory."""
    from sandbox import Gate, Patch
    from sandbox._changes import analyse
    from sandbox._planner import plan
    import verifiers
    from verifiers import Context

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        text = build(root, shape, lines)
        gate = Gate.from_repo(root)
        static = verifiers.get("static")
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        times: dict[str, float] = {}
        clock = time.process_time()
        started = time.perf_counter()

        def lap(stage: str) -> None:
            nonlocal clock
            now = time.process_time()
            times[stage] = now - clock
            clock = now

        patch = Patch.load(text.encode(), name="large.diff", limits=gate.config.limits)
        lap("load")
        files = patch.resolve(root)
        lap("resolve")
        changes = analyse(files)
        lap("analyse")
        before = {f.path: f.before_text for f in files if f.before_text is not None}
        after = {f.path: f.after_text for f in files if f.after_text is not None}
        planned = plan(changes, gate.properties, gate.config, gate.policy, before, after, root=root)
        lap("plan")
        context = Context(before, after, gate.policy, seed=0, timeout=30.0, executor=None)
        for obligation in planned.obligations if static_stage else ():
            if obligation.route == ("static",):
                static.check(obligation, context)
        lap("static")
        wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {**times, "total": sum(times.values()), "wall": wall, "peak_mb": peak, "above_mb": peak - baseline,
            "patch_mb": len(text) / 1e6, "obligations": len(planned.obligations)}


def _run(shape: str, lines: int, static_stage: bool) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--one", shape, str(lines), str(int(static_stage))],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main(argv: list[str]) -> None:
    stages = ("load", "resolve", "analyse", "plan", "static")
    static_stage = "--skip-static" not in argv
    chosen = argv[argv.index("--shape") + 1] if "--shape" in argv else None
    for shape, sizes in (QUICK if "--quick" in argv else SIZES).items():
        if chosen not in (None, shape):
            continue
        print(f"\nshape {shape!r}: {SHAPES[shape]} file(s); seconds per stage, peak memory")
        print(f"{'lines':>8}{'MB in':>7}" + "".join(f"{s:>9}" for s in stages)
              + f"{'cpu':>9}{'wall':>9}{'peak MB':>9}{'+MB':>8}{'x time':>8}{'x +MB':>7}")
        first = None
        for lines in sizes:
            row = _run(shape, lines, static_stage)
            first = first or row
            cells = "".join(f"{row[s]:>9.2f}" for s in stages)
            print(f"{lines:>8}{row['patch_mb']:>7.1f}{cells}{row['total']:>9.2f}{row['wall']:>9.2f}{row['peak_mb']:>9.0f}"
                  f"{row['above_mb']:>8.0f}{row['total'] / first['total']:>8.2f}"
                  f"{row['above_mb'] / max(first['above_mb'], 1):>7.2f}")
    print("\ncpu and wall in seconds; x time is cpu / the smallest size's cpu, x +MB the same for memory;"
          "\nlinear: the x ratios follow the line ratios (1, 2, 4)")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(measure(sys.argv[2], int(sys.argv[3]), sys.argv[4:5] != ["0"])))
    else:
        main(sys.argv[1:])
