"""Benchmark: batch verification throughput, candidates per minute, local pool and Ray, 1 and 2 workers.

A mixed batch like an evolutionary search produces, generated over a module of small integer
functions: scalar refactors (accepted, proved), exact repeats of earlier candidates (half of
them re-spelt as a unified diff: deduplicated, never checked), hostile ones (a subprocess, a
file read, dynamic code: rejected by the policy at stage 1) and a few refuted ones (a changed
result at one input: rejected at stage 2).

For each backend and worker count the batch runs cold (a fresh verdict cache), and the bench
prints candidates per minute and the measured cost of each stage (mean seconds a stage job took
in its worker), from which ``docs/batch.md`` derives its cluster estimate.

Run ``python bench/batch.py`` (200 candidates, a few minutes on two cores) or
``python bench/batch.py --small`` (24 candidates, under a minute).  ``--backends local`` skips
Ray.  Nothing here is asserted (see ``tests/sandbox/batch`` for what must hold).
"""

from __future__ import annotations

import argparse
import difflib
import json
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox._config import load_config  # noqa: E402
from sandbox.batch import check_many  # noqa: E402
from sandbox.batch._candidates import as_candidates  # noqa: E402
from sandbox.batch._dedup import take_in  # noqa: E402

FUNCTIONS = 20
CONFIG = "[tool.sandbox]\nseed = 1\nmax_examples = 50\n"
HOSTILE = ("    os.system('true')\n", "    open('/etc/passwd').read()\n", "    eval('1 + 1')\n",
           "    __import__('socket')\n")


def function(i: int, body: str) -> str:
    return f"def f{i}(x: int) -> int:\n    return {body}\n"


def original(i: int) -> str:
    return f"x * {i + 2} + {i}"


def module(bodies: dict[int, str], prefix: str = "") -> str:
    return prefix + "\n\n".join(function(i, bodies.get(i, original(i))) for i in range(FUNCTIONS))


def batch(size: int) -> dict[str, str]:
    """``size`` candidates: 30% refactors, 25% repeats, 35% hostile, 10% refuted (ids say which)."""
    base = module({})
    made: dict[str, str] = {}
    kinds = ["refactor"] * 6 + ["repeat"] * 5 + ["hostile"] * 7 + ["refuted"] * 2
    refactors: list[str] = []
    for n in range(size):
        kind = kinds[n % len(kinds)]
        i, variant = n % FUNCTIONS, n // FUNCTIONS
        a, b = i + 2, i
        if kind == "refactor" or (kind == "repeat" and not refactors):
            body = [f"{b} + x * {a}", f"x * {a} + {b} + 0", f"(x * {a}) + {b}", f"{a} * x + {b}",
                    f"x * ({a}) + {b}", f"({b}) + {a} * x"][variant % 6] + " * 1" * (variant // 6)
            made[f"{n:04d}-refactor"] = json.dumps({"calc.py": module({i: body})})
            refactors.append(f"{n:04d}-refactor")
        elif kind == "repeat":
            source = refactors[(n * 7) % len(refactors)]
            text = made[source]
            if n % 2:  # the same change as a unified diff: the fingerprint, not the text, matches
                after = json.loads(text)["calc.py"]
                text = "".join(difflib.unified_diff(base.splitlines(True), after.splitlines(True),
                                                    "a/calc.py", "b/calc.py"))
            made[f"{n:04d}-repeat"] = text
        elif kind == "hostile":
            body = function(i, original(i)).replace("    return", HOSTILE[variant % 4] + "    return")
            others = module({}).replace(function(i, original(i)), body)
            made[f"{n:04d}-hostile"] = json.dumps({"calc.py": f"import os\n# variant {variant}\n\n" + others})
        else:
            made[f"{n:04d}-refuted"] = json.dumps({"calc.py": module({i: f"{original(i)} + (x == {7 + variant})"})})
    return made


def run(repo: Path, candidates: dict[str, str], backend: str, workers: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="bench-batch-cache-") as cache:
        started = time.perf_counter()
        results = list(check_many(repo, candidates, backend=backend, workers=workers, cache=cache))
        seconds = time.perf_counter() - started
    stage_costs: dict[int, list[float]] = defaultdict(list)
    for result in results:
        for stage, spent in enumerate(result.stage_seconds, 1):
            stage_costs[stage].append(spent)
    decided = Counter(("duplicate" if r.duplicate_of else f"stage {r.stage}") for r in results)
    return {"backend": backend, "workers": workers, "candidates": len(results), "seconds": round(seconds, 2),
            "per_minute": round(len(results) / seconds * 60, 1),
            "accepted": sum(r.accepted for r in results), "errors": sum(r.error is not None for r in results),
            "decided": dict(sorted(decided.items())),
            "stage_mean_s": {s: round(statistics.mean(c), 3) for s, c in sorted(stage_costs.items())},
            "stage_jobs": {s: len(c) for s, c in sorted(stage_costs.items())}}


def intake_cost(repo: Path, candidates: dict[str, str]) -> float:
    """Seconds per candidate the driver spends alone (reading, resolving, fingerprinting): the serial part."""
    started = time.perf_counter()
    take_in(as_candidates(candidates), repo, load_config(repo).limits)
    return (time.perf_counter() - started) / len(candidates)


def start_ray() -> None:
    """One local Ray instance for every Ray run, started (and timed) before them: a cluster is up already."""
    import ray

    if ray.is_initialized():
        return
    started = time.perf_counter()
    ray.init(include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    print(f"ray.init (a local instance, {int(ray.cluster_resources().get('CPU', 0))} CPUs): "
          f"{time.perf_counter() - started:.1f} s, not counted below", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="24 candidates instead of 200")
    parser.add_argument("--size", type=int, help="the number of candidates")
    parser.add_argument("--backends", default="local,ray", help="comma-separated: local, ray")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    args = parser.parse_args()
    size = args.size or (24 if args.small else 200)
    candidates = batch(size)
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as directory:
        repo = Path(directory)
        (repo / "calc.py").write_text(module({}))
        (repo / "pyproject.toml").write_text(CONFIG)
        print(f"{size} candidates over {FUNCTIONS} functions; intake {intake_cost(repo, candidates) * 1000:.2f} ms "
              "per candidate in the driver", flush=True)
        rows = []
        for backend in args.backends.split(","):
            if backend == "ray":
                start_ray()
            for workers in map(int, args.workers.split(",")):
                row = run(repo, candidates, backend, workers)
                rows.append(row)
                print(f"{backend:5} workers={workers}: {row['per_minute']:7.1f} candidates/min "
                      f"({row['candidates']} in {row['seconds']} s; accepted {row['accepted']}; "
                      f"decided {row['decided']}; stage mean s {row['stage_mean_s']}; jobs {row['stage_jobs']}; "
                      f"errors {row['errors']})", flush=True)
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
