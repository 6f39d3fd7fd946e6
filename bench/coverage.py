"""Benchmark: what the coverage of new conditions costs a differential test, and what it catches.

Each pair is one scalar function of a small module, before and after, outside the z3
subset so that hypothesis decides.  Every pair is checked through the whole gate
(workers included) twice: as shipped, and with the coverage replay switched off.
Prints, per pair, the verdict and seconds of each run, then the median of the ratio.
The sleepers must be accepted without coverage (that is the gap it closes) and
rejected with it; the refactors accepted by both.  Run with ``python bench/coverage.py``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import verifiers.pbt._verifier as pbt_verifier  # noqa: E402
from sandbox import Gate, Patch  # noqa: E402

HEAD = "import math\n\n\n"
PAIRS = {
    "refactor:guard": ("def f(xs: list[int]) -> int:\n    return sorted(xs)[0] if xs else 0\n",
                       "def f(xs: list[int]) -> int:\n    if len(xs) == 0:\n        return 0\n    return min(xs)\n"),
    "refactor:early-return": ("def f(xs: list[int]) -> int:\n    return sum(xs)\n",
                              "def f(xs: list[int]) -> int:\n    if not xs:\n        return 0\n    return sum(xs)\n"),
    "refactor:or-default": ("def f(name: str) -> str:\n    return name if name else 'anon'\n",
                            "def f(name: str) -> str:\n    return name or 'anon'\n"),
    "sleeper:transcendental": ("def f(x: float) -> float:\n    return math.cos(x)\n",
                               "def f(x: float) -> float:\n    if math.sin(x * 1e3) > 0.9999999999:\n        return 0.0\n"
                               "    return math.cos(x)\n"),
    "sleeper:checksum": ("def f(s: str) -> int:\n    return len(s)\n",
                         "def f(s: str) -> int:\n    if sum(map(ord, s)) % 9973 == 4099:\n        return -1\n"
                         "    return len(s)\n"),
}


def run(name: str, old: str, new: str, scratch: Path) -> tuple[str, float, bool]:
    root = scratch / name.replace(":", "-")
    root.mkdir(parents=True, exist_ok=True)
    (root / "m.py").write_text(HEAD + old)
    (root / "pyproject.toml").write_text("[tool.sandbox]\nmax_examples = 100\nseed = 1\n")
    started = time.perf_counter()
    verdict = Gate.from_repo(root).check(Patch.from_files({"m.py": HEAD + new}))
    outcome = next(o for o in verdict.outcomes if o.obligation.target == "m.f")
    return outcome.evidence.level.value, time.perf_counter() - started, verdict.accepted


def main() -> None:
    rows, shipped = [], pbt_verifier.measure_coverage
    with tempfile.TemporaryDirectory() as scratch:
        for name, (old, new) in PAIRS.items():
            pbt_verifier.measure_coverage = shipped
            with_ = run(name, old, new, Path(scratch) / "on")
            pbt_verifier.measure_coverage = lambda *args, **kwargs: None
            without = run(name, old, new, Path(scratch) / "off")
            rows.append((name, with_, without))
    pbt_verifier.measure_coverage = shipped
    print(f"{'pair':<26}{'with coverage':<24}{'without':<24}{'ratio':>6}")
    for name, (level, seconds, _), (level_off, seconds_off, _) in rows:
        print(f"{name:<26}{level + f' {seconds:.2f}s':<24}{level_off + f' {seconds_off:.2f}s':<24}"
              f"{seconds / seconds_off:>6.2f}")
    print(f"\nmedian ratio of wall time (with / without): {statistics.median(r[1][1] / r[2][1] for r in rows):.2f}")
    wrong = [name for name, (_, _, accepted), _ in rows if name.startswith("sleeper") == accepted]
    gap = [name for name, _, (_, _, accepted) in rows if name.startswith("sleeper") and accepted]
    print("accepted sleepers / rejected refactors with coverage: " + (", ".join(wrong) if wrong else "none"))
    print("sleepers accepted without coverage: " + (", ".join(gap) if gap else "none"))


if __name__ == "__main__":
    main()
