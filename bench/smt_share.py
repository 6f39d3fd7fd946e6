"""Benchmark: the share of scalar obligations z3 settles (PROVEN or REFUTED), before and after str/sequences.

A fixed corpus of old/new pairs of one function ``f`` (ints, floats, strings, tuples and
lists, loops, defaults; equivalent rewrites and trojans) is judged by ``SmtProver`` alone,
once with the string/sequence encoding off (``sequences=False``, the prover before issue
10 §4) and once with it on.  Prints per pair the two answers, then the settled share and
the median seconds of each.  A PROVEN trojan or a REFUTED equivalent pair is a wrong
answer and makes the exit status 1.  ``python bench/smt_share.py [--verbose]``.
"""

from __future__ import annotations

import ast
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from properties import Kind, Obligation  # noqa: E402
from tests.verifiers.pbt_executor import InProcessExecutor  # noqa: E402
from verifiers import Context, Level  # noqa: E402
from verifiers.smt import SmtProver  # noqa: E402

EQUIVALENT, TROJAN = "equivalent", "trojan"


def _f(signature: str, body: str) -> str:
    return f"def f({signature}):\n" + "".join(f"    {line}\n" for line in body.split("\n"))


# (name, expected, old, new)
CORPUS: list[tuple[str, str, str, str]] = [
    # ---- ints and bools
    ("int-refactor", EQUIVALENT, _f("x: int, y: int", "return x * 2 + y"), _f("x: int, y: int", "return y + x + x")),
    ("int-magic", TROJAN, _f("x: int", "return x + 1"), _f("x: int", "return 0 if x == 918273 else x + 1")),
    ("int-clamp", EQUIVALENT, _f("x: int", "return min(max(x, 0), 10)"),
     _f("x: int", "if x < 0:\n    return 0\nreturn x if x <= 10 else 10")),
    ("int-off-by-one", TROJAN, _f("x: int", "return min(x, 100)"), _f("x: int", "return x if x < 100 else 99")),
    ("int-boundary-same", EQUIVALENT, _f("x: int", "return x if x < 100 else 100"),
     _f("x: int", "return x if x <= 100 else 100")),
    ("bool-logic", EQUIVALENT, _f("a: bool, b: bool", "return not (a and b)"), _f("a: bool, b: bool", "return not a or not b")),
    ("int-floordiv", EQUIVALENT, _f("a: int, b: int", "return a // b"), _f("a: int, b: int", "return (a - a % b) // b")),
    # ---- floats
    ("float-scale", EQUIVALENT, _f("x: float", "return x * 2.0"), _f("x: float", "return x + x")),
    ("float-magic", TROJAN, _f("x: float", "return x * 0.5"), _f("x: float", "return 0.0 if x == 2.5 else x * 0.5")),
    ("float-assoc", TROJAN, _f("x: float, y: float, z: float", "return (x + y) + z"),
     _f("x: float, y: float, z: float", "return x + (y + z)")),
    ("float-warmup", EQUIVALENT, _f("step: int", "if step < 100:\n    return 0.001 * step / 100\nreturn 0.001"),
     _f("step: int", "return 0.001 * step / 100 if step < 100 else 0.001")),
    # ---- defaults
    ("default-same", EQUIVALENT, _f("x: int, k: int = 2", "return x * k"), _f("x: int, k: int = 2", "return k * x")),
    ("default-changed", TROJAN, _f("x: int, k: int = 2", "return x * k"), _f("x: int, k: int = 3", "return x * k")),
    ("default-str", TROJAN, _f("name: str = 'run'", "return len(name)"), _f("name: str = 'runs'", "return len(name)")),
    # ---- strings
    ("str-magic", TROJAN, _f("s: str", "return len(s)"), _f("s: str", "if s == 'deploy-now':\n    return 0\nreturn len(s)")),
    ("str-startswith", EQUIVALENT, _f("s: str", "return s.startswith('a')"), _f("s: str", "return s[:1] == 'a'")),
    ("str-endswith", EQUIVALENT, _f("s: str", "return s.endswith('.pt')"), _f("s: str", "return s[-3:] == '.pt'")),
    ("str-empty", EQUIVALENT, _f("s: str", "return len(s) == 0"), _f("s: str", "return not s")),
    ("str-structured", TROJAN, _f("s: str", "return s[:4]"),
     _f("s: str", "if s.startswith('run-') and s.endswith('!') and len(s) == 9:\n    return 'root'\nreturn s[:4]")),
    ("str-substring", TROJAN, _f("s: str", "return len(s) > 5"), _f("s: str", "return len(s) > 5 or 'sudo' in s")),
    ("str-substring-implied", EQUIVALENT, _f("s: str", "return len(s) > 3"),
     _f("s: str", "return len(s) > 3 or 'sudo' in s")),
    ("str-slice-neg", EQUIVALENT, _f("s: str", "return s[-3:]"), _f("s: str", "return s[len(s) - 3:] if len(s) >= 3 else s")),
    ("str-concat", EQUIVALENT, _f("a: str, b: str", "return a + '/' + b"), _f("a: str, b: str", "return a + ('/' + b)")),
    ("str-order", EQUIVALENT, _f("a: str, b: str", "return min(a, b)"), _f("a: str, b: str", "return a if a <= b else b")),
    ("str-of-int", TROJAN, _f("n: int", "return str(n)"), _f("n: int", "return 'ok' if str(n) == '31337' else str(n)")),
    ("str-index", TROJAN, _f("s: str", "return s[0]"), _f("s: str", "return s[:1]")),
    ("str-int-parse", TROJAN, _f("s: str", "return int(s)"), _f("s: str", "return int(s) if s != '-17' else 0")),
    # ---- tuples and lists
    ("tuple-fixed", EQUIVALENT, _f("p: tuple[int, int]", "return p[0] - p[1]"),
     _f("p: tuple[int, int]", "a, b = p\nreturn -(b - a)")),
    ("tuple-magic-length", TROJAN, _f("xs: tuple[int, ...]", "return len(xs)"),
     _f("xs: tuple[int, ...]", "if len(xs) == 7:\n    return 0\nreturn len(xs)")),
    ("tuple-in", EQUIVALENT, _f("xs: tuple[int, ...]", "return 3 in xs"), _f("xs: tuple[int, ...]", "return not (3 not in xs)")),
    ("list-copy", EQUIVALENT, _f("xs: list[int]", "return xs + []"), _f("xs: list[int]", "return xs[:]")),
    ("list-last", EQUIVALENT, _f("xs: list[str]", "return xs[-1] if xs else ''"),
     _f("xs: list[str]", "return xs[len(xs) - 1] if len(xs) > 0 else ''")),
    ("list-index-error", TROJAN, _f("xs: list[int]", "return xs[0] if xs else -1"), _f("xs: list[int]", "return xs[0]")),
    # ---- loops over sequences
    ("loop-vs-sum", EQUIVALENT, _f("xs: tuple[int, ...]", "t = 0\nfor x in xs:\n    t += x\nreturn t"),
     _f("xs: tuple[int, ...]", "return sum(xs)")),
    ("loop-magic-item", TROJAN, _f("xs: list[int]", "t = 0\nfor x in xs:\n    t += x\nreturn t"),
     _f("xs: list[int]", "t = 0\nfor x in xs:\n    t += x\n    if x == 4242:\n        t -= 1\nreturn t")),
    ("loop-max", EQUIVALENT, _f("xs: tuple[int, ...]", "return max(xs)"),
     _f("xs: tuple[int, ...]", "if not xs:\n    raise ValueError('empty')\nbest = xs[0]\nfor x in xs:\n"
                               "    best = x if x > best else best\nreturn best")),
    ("loop-max-empty", TROJAN, _f("xs: tuple[int, ...]", "return max(xs)"),
     _f("xs: tuple[int, ...]", "best = xs[0]\nfor x in xs:\n    best = x if x > best else best\nreturn best")),
    ("loop-range", EQUIVALENT, _f("x: int", "t = 0\nfor i in range(10):\n    t += x + i\nreturn t"), _f("x: int", "return 10 * x + 45")),
    ("loop-chars", TROJAN, _f("s: str", "n = 0\nfor c in s:\n    n += 1\nreturn n"),
     _f("s: str", "n = 0\nfor c in s:\n    n += 1 if c != '~' else 2\nreturn n")),
]


def _definition(text: str) -> tuple[str, tuple[int, int]]:
    node = next(n for n in ast.parse(text).body if getattr(n, "name", None) == "f")
    return ast.get_source_segment(text, node), (node.lineno, node.end_lineno)


def judge(prover: SmtProver, old: str, new: str) -> tuple[Level, float, str]:
    (old_src, old_lines), (new_src, new_lines) = _definition(old), _definition(new)
    obligation = Obligation("train.f", Kind.EQUIVALENT, "train.py", "bench", ("smt",), old_src, new_src, old_lines,
                            new_lines, module="train")
    context = Context({"train.py": old}, {"train.py": new}, timeout=10.0, executor=InProcessExecutor(old, new))
    started = time.perf_counter()
    evidence = prover.check(obligation, context)
    return evidence.level, time.perf_counter() - started, evidence.detail


def _wrong(expected: str, level: Level) -> bool:
    return (expected == TROJAN and level is Level.PROVEN) or (expected == EQUIVALENT and level is Level.REFUTED)


def main(argv: list[str]) -> int:
    verbose = "--verbose" in argv
    provers = {"before": SmtProver(sequences=False), "after": SmtProver()}
    settled = {k: 0 for k in provers}
    seconds: dict[str, list[float]] = {k: [] for k in provers}
    settling: dict[str, list[float]] = {k: [] for k in provers}  # seconds of the settled obligations only
    wrong: list[str] = []
    print(f"{'pair':22} {'expected':10} {'before':8} {'after':8}")
    for name, expected, old, new in CORPUS:
        answers = []
        for which, prover in provers.items():
            level, spent, detail = judge(prover, old, new)
            settled[which] += level in (Level.PROVEN, Level.REFUTED)
            seconds[which].append(spent)
            if level in (Level.PROVEN, Level.REFUTED):
                settling[which].append(spent)
            answers.append(level.value)
            if _wrong(expected, level):
                wrong.append(f"{name} ({which}): {level.value} for a pair that is {expected}: {detail}")
            if verbose and which == "after":
                print(f"    {detail[:160]}")
        print(f"{name:22} {expected:10} {answers[0]:8} {answers[1]:8}")
    total = len(CORPUS)
    for which in provers:
        print(f"{which}: settled {settled[which]}/{total} ({100 * settled[which] / total:.0f}%), "
              f"UNKNOWN {total - settled[which]}; seconds per obligation median "
              f"{statistics.median(seconds[which]):.3f} (settled ones {statistics.median(settling[which]):.3f}), "
              f"max {max(seconds[which]):.2f}")
    for line in wrong:
        print("WRONG: " + line)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
