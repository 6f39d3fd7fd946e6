"""Benchmark: the cost of a check follows the size of the change, not of the repository.

Builds synthetic repositories of 10, 1,000 and 10,000 modules (about 40 lines each),
checks the same one-file patches against each, and prints median wall times and
their ratio to the smallest repository (the target: at most 1.2 at 10,000 modules).
Under bubblewrap the workers see the repository through read-only binds with the
touched files laid over it, so no worker copies the tree.  Run with ``make bench``, or
``python bench/run.py [REPEATS] [SIZE ...]`` (e.g. ``python bench/run.py 3 10 100``).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox import Gate, Patch  # noqa: E402

MODULE = '''"""Synthetic module {i}."""

import math

SCALE_{i} = 1.5
LIMIT = {i}


def schedule(step: int) -> float:
    """Warmup then cosine."""
    if step < 100:
        return SCALE_{i} * (step + 1) / 100
    return SCALE_{i} * 0.5 * (1.0 + math.cos(math.pi * min(1.0, step / 10_000)))


def clamp(x: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, x))


class Counter:
    def __init__(self, start: int) -> None:
        self.value = start

    def bump(self, by: int) -> int:
        self.value += by
        return self.value
'''

PATCHES = {
    "retune (accepted)": lambda text: text.replace("SCALE_0 = 1.5", "SCALE_0 = 1.2"),
    "comment (accepted)": lambda text: text.replace("def clamp", "# clamp into [lo, hi]\ndef clamp"),
    "refactor (workers)": lambda text: text.replace("return max(lo, min(hi, x))", "return min(hi, max(lo, x))"),
    "hostile (rejected)": lambda text: text.replace("import math\n", "import math\nimport os as o\n")
    + "\n\ndef leak(x: int) -> None:\n    getattr(o, 'sys' + 'tem')('true')\n",
}


def build(root: Path, modules: int) -> None:
    (root / "pkg").mkdir()
    for i in range(modules):
        (root / "pkg" / f"mod{i}.py").write_text(MODULE.format(i=i))
    (root / "sandbox_properties.py").write_text(
        "from properties import bounds\nbounds('pkg.mod0.SCALE_0', 0.5, 2.0)\n"
    )
    (root / "pyproject.toml").write_text("[tool.sandbox]\nmax_examples = 50\n")
    # A git repository, as a lab's is: the effects' text searches go through `git grep`.
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "synthetic"]):
        subprocess.run(["git", "-C", str(root), "-c", "user.name=bench", "-c", "user.email=bench@example.com",
                        *args], check=True, capture_output=True)


def median_seconds(root: Path, patch: Patch, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        Gate.from_repo(root).check(patch)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main(repeats: int = 5, sizes: tuple[int, ...] = (10, 1000, 10000)) -> None:
    from sandbox._workers import isolation_layers

    print(f"median of {repeats} checks (Gate.from_repo + check), one-file patch, seconds; "
          f"workers: {'bound views (bubblewrap)' if 'bubblewrap' in isolation_layers() else 'copies of the tree'}")
    ratio = f"ratio {sizes[-1]}/{sizes[0]}"
    print(f"{'patch':<22}" + "".join(f"{f'{n} modules':>14}" for n in sizes) + f"{ratio:>18}")
    with tempfile.TemporaryDirectory() as scratch:
        roots = {}
        for n in sizes:
            roots[n] = Path(scratch) / f"repo{n}"
            roots[n].mkdir(mode=0o755)  # readable by the workers' uid: bound, not copied
            build(roots[n], n)
        for label, change in PATCHES.items():
            medians = []
            for n in sizes:
                text = (roots[n] / "pkg" / "mod0.py").read_text()
                patch = Patch.from_files({"pkg/mod0.py": change(text)})
                medians.append(median_seconds(roots[n], patch, repeats))
            cells = "".join(f"{m:>14.4f}" for m in medians)
            print(f"{label:<22}{cells}{medians[-1] / medians[0]:>18.2f}")
        cached_rerun(roots[sizes[-1]], repeats)


def cached_rerun(root: Path, repeats: int) -> None:
    """The same check again with the verdict cache: what a re-run of CI on the same pull request costs."""
    text = (root / "pkg" / "mod0.py").read_text()
    patch = Patch.from_files({"pkg/mod0.py": PATCHES["refactor (workers)"](text)})
    with tempfile.TemporaryDirectory() as cache:
        cold, warm = [], []
        for _ in range(repeats):
            for directory, times in ((Path(cache) / f"cold{len(cold)}", cold), (Path(cache) / "warm", warm)):
                started = time.perf_counter()
                Gate.from_repo(root, cache=directory).check(patch)
                times.append(time.perf_counter() - started)
        # The first warm run filled the cache; the others are re-runs.
        rerun = statistics.median(warm[1:] or warm)
        print(f"cached re-run of 'refactor' at {len(list((root / 'pkg').iterdir()))} modules: cold "
              f"{statistics.median(cold):.4f} s, re-run {rerun:.4f} s, speed-up {statistics.median(cold) / rerun:.1f}x")


if __name__ == "__main__":
    arguments = [int(a) for a in sys.argv[1:]]
    main(*(arguments[:1] or [5]), *([tuple(arguments[1:])] if len(arguments) > 1 else []))
