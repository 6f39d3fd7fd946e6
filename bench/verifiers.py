"""Benchmark: which verifier decides integer and float refactors and mutants, and how fast.

Each pair is one function of a small module, before and after; refactors must be
accepted and mutants rejected.  Prints, per pair, the level reached, the deciding
verifier and its seconds; then the fraction decided by z3 (PROVEN or REFUTED, not the
hypothesis fallback), the median proof time, and any accepted mutant (there must be
none).  Run with ``make bench``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox import Gate, Patch  # noqa: E402

REFACTORS = {
    "clamp-rewrite": ("def f(x: int, lo: int, hi: int) -> int:\n    if x < lo:\n        return lo\n    if x > hi:\n"
                      "        return hi\n    return x\n",
                      "def f(x: int, lo: int, hi: int) -> int:\n    return lo if x < lo else (hi if x > hi else x)\n"),
    "de-morgan": ("def f(a: bool, b: bool) -> bool:\n    return not (a and b)\n",
                  "def f(a: bool, b: bool) -> bool:\n    return (not a) or (not b)\n"),
    "double-int": ("def f(x: int) -> int:\n    return x * 2\n", "def f(x: int) -> int:\n    return x + x\n"),
    "double-float": ("def f(x: float) -> float:\n    return x * 2\n", "def f(x: float) -> float:\n    return x + x\n"),
    "index-arith": ("def f(i: int, n: int) -> int:\n    return i % n\n",
                    "def f(i: int, n: int) -> int:\n    return i - (i // n) * n\n"),
    "ceil-div": ("def f(n: int, m: int) -> int:\n    return (n + m - 1) // m\n",
                 "def f(n: int, m: int) -> int:\n    return -(-n // m) if m > 0 else (n + m - 1) // m\n"),
    "warmup-linear": ("def f(step: int) -> float:\n    if step < 100:\n        return 1e-3 * step / 100\n"
                      "    return 1e-3\n",
                      "def f(step: int) -> float:\n    return 1e-3 * step / 100 if step < 100 else 1e-3\n"),
    "early-return": ("def f(step: int, every: int) -> bool:\n    return every > 0 and step % every == 0\n",
                     "def f(step: int, every: int) -> bool:\n    if every <= 0:\n        return False\n"
                     "    return step % every == 0\n"),
}

MUTANTS = {
    "boundary": ("def f(x: int, hi: int) -> int:\n    return hi if x > hi else x\n",
                 "def f(x: int, hi: int) -> int:\n    return hi if x >= hi + 1 + 1 else x\n"),
    "off-by-one": ("def f(step: int) -> int:\n    return (step + 1) // 4\n",
                   "def f(step: int) -> int:\n    return step // 4\n"),
    "swapped-args": ("def f(a: int, b: int) -> int:\n    return a // b\n", "def f(a: int, b: int) -> int:\n    return b // a\n"),
    "constant": ("def f(x: float) -> float:\n    return x * 0.5\n", "def f(x: float) -> float:\n    return x * 0.55\n"),
    "float-assoc": ("def f(a: float, b: float, c: float) -> float:\n    return (a + b) + c\n",
                    "def f(a: float, b: float, c: float) -> float:\n    return a + (b + c)\n"),
    "floor-vs-trunc": ("def f(a: int, b: int) -> int:\n    return a // b\n",
                       "def f(a: int, b: int) -> int:\n    return int(a / b)\n"),
    "min-max-swap": ("def f(x: int, lo: int, hi: int) -> int:\n    return max(lo, min(hi, x))\n",
                     "def f(x: int, lo: int, hi: int) -> int:\n    return min(hi, max(lo, x))\n"),
    "signed-zero": ("def f(x: float) -> float:\n    return abs(x)\n",
                    "def f(x: float) -> float:\n    return x if x > 0 else -x\n"),
}


def run(name: str, old: str, new: str, scratch: Path) -> tuple[str, str, str, float, bool]:
    root = scratch / name
    root.mkdir()
    (root / "m.py").write_text(old)
    (root / "pyproject.toml").write_text("[tool.sandbox]\nmax_examples = 100\n")
    verdict = Gate.from_repo(root).check(Patch.from_files({"m.py": new}))
    outcome = next(o for o in verdict.outcomes if o.obligation.target == "m.f")
    return name, outcome.evidence.level.value, outcome.evidence.verifier, outcome.evidence.seconds, verdict.accepted


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for group, pairs in (("refactor", REFACTORS), ("mutant", MUTANTS)):
            for name, (old, new) in pairs.items():
                rows.append((group, *run(name, old, new, Path(scratch))))
    print(f"{'pair':<26}{'level':<10}{'verifier':<10}{'seconds':>8}")
    for group, name, level, verifier, seconds, _ in rows:
        print(f"{group + ':' + name:<26}{level:<10}{verifier:<10}{seconds:>8.3f}")
    by_smt = [r for r in rows if r[3] == "smt" and r[2] in ("PROVEN", "REFUTED")]
    proofs = [r[4] for r in rows if r[3] == "smt" and r[2] == "PROVEN"]
    print(f"\ndecided by z3: {len(by_smt)}/{len(rows)}; median z3 time {statistics.median(r[4] for r in by_smt):.3f} s"
          if by_smt else "\ndecided by z3: 0")
    if proofs:
        print(f"median proof time (PROVEN): {statistics.median(proofs):.3f} s over {len(proofs)} proofs")
    wrong = [r[1] for r in rows if (r[0] == "mutant") == r[5]]
    print("accepted mutants / rejected refactors: " + (", ".join(wrong) if wrong else "none"))


if __name__ == "__main__":
    main()
