"""Benchmark: the smt prover against concrete execution on many generated program pairs.

Runs the generator of ``tests/verifiers/test_smt_soundness.py`` with a large budget and
prints how many pairs were PROVEN, REFUTED and UNKNOWN, how many differ concretely, the
soundness violations (a PROVEN a run contradicts, a REFUTED that does not replay, an
ENCODER BUG the prover caught in itself: there must be none), and the time per pair.
Exits 1 on any violation.  ``python bench/prover_fuzz.py [PAIRS] [SEED] [all|scalars|sequences]``
(default 2000, 0, all: the str/list/tuple templates are among them).
"""

from __future__ import annotations

import collections
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

from tests.verifiers.test_smt_soundness import (  # noqa: E402
    SCALAR_TEMPLATES, SEQUENCE_TEMPLATES, TEMPLATES, Pair, Tally, judge, pairs,
)
from verifiers.smt import SmtProver  # noqa: E402


_FAMILIES = {"all": TEMPLATES, "scalars": SCALAR_TEMPLATES, "sequences": SEQUENCE_TEMPLATES}


def run(count: int, seed_: int, timeout: float = 2.0, family: str = "all") -> tuple[Tally, dict[str, collections.Counter]]:
    tally, prover = Tally(), SmtProver(timeout_cap=timeout)
    per_template: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)

    @seed(seed_)
    @settings(max_examples=count, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(pairs(_FAMILIES[family]))
    def fuzz(pair: Pair) -> None:
        before = dict(tally.levels)
        judge(pair, prover, tally, timeout)
        level = next(k for k, v in tally.levels.items() if v != before[k])
        per_template[pair.template.name][level] += 1
        if tally.pairs % 100 == 0:
            print(f"{tally.pairs} pairs, {len(tally.violations)} violations", file=sys.stderr, flush=True)

    fuzz()
    return tally, per_template


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 2000
    seed_ = int(argv[1]) if len(argv) > 1 else 0
    family = argv[2] if len(argv) > 2 else "all"
    started = time.perf_counter()
    tally, per_template = run(count, seed_, family=family)
    wall = time.perf_counter() - started
    print(f"pairs: {tally.pairs} (seed {seed_}, {wall:.1f}s in all)")
    print("levels: " + ", ".join(f"{k} {v}" for k, v in tally.levels.items() if k in ("PROVEN", "REFUTED", "UNKNOWN")))
    print(f"concrete differences found: {tally.differences}")
    print(f"soundness violations: {len(tally.violations)}")
    print(f"prover seconds per pair: median {statistics.median(tally.seconds):.3f}, "
          f"mean {statistics.mean(tally.seconds):.3f}, max {max(tally.seconds):.3f}")
    for name, levels in sorted(per_template.items()):
        print(f"  {name:15} " + ", ".join(f"{k} {levels[k]}" for k in ("PROVEN", "REFUTED", "UNKNOWN")))
    for violation in tally.violations:
        print("\n" + violation)
    return 1 if tally.violations else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
