"""Mutants and refactors of realistic training-loop code, through `sandbox check --format json`.

Every mutant must be rejected (an accepted mutant is a soundness failure of the gate);
every refactor must be accepted (a rejected one is a usability failure).  The patches
change a single function each, the way a model tuning its own training code would.
"""

from __future__ import annotations

import io
import json

import pytest

from sandbox._cli import main

SCHEDULE = '''
import math

WARMUP = 100
TOTAL = 10_000
BASE_LR = 3e-4


def lr_at(step: int) -> float:
    if step < WARMUP:
        return BASE_LR * (step + 1) / WARMUP
    progress = (step - WARMUP) / max(1, TOTAL - WARMUP)
    return BASE_LR * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def batch_index(i: int, batch: int, world: int) -> int:
    return (i // batch) % world


def pad_to_multiple(n: int, multiple: int) -> int:
    if multiple <= 0:
        raise ValueError("multiple must be positive")
    return ((n + multiple - 1) // multiple) * multiple


def top_k(values: list[float], k: int) -> list[int]:
    order = sorted(range(len(values)), key=lambda i: (-values[i], i))
    return order[:k]


def should_log(step: int, every: int) -> bool:
    return every > 0 and step % every == 0
'''.lstrip("\n")

MUTANTS = {
    "warmup-boundary": ("if step < WARMUP:", "if step <= WARMUP:"),
    "warmup-off-by-one": ("BASE_LR * (step + 1) / WARMUP", "BASE_LR * step / WARMUP"),
    "cosine-constant": ("BASE_LR * 0.5 * (1.0", "BASE_LR * 0.55 * (1.0"),
    "swapped-arguments": ("return (i // batch) % world", "return (i // world) % batch"),
    "wrong-operator": ("return (i // batch) % world", "return (i % batch) // world"),
    "ceil-off-by-one": ("((n + multiple - 1) // multiple)", "((n + multiple) // multiple)"),
    "dropped-validation": ('    if multiple <= 0:\n        raise ValueError("multiple must be positive")\n', ""),
    "tie-break": ("key=lambda i: (-values[i], i)", "key=lambda i: (-values[i], -i)"),
    "one-too-many": ("return order[:k]", "return order[:k + 1]"),
    "guard-weakened": ("return every > 0 and step % every == 0", "return every >= 0 and step % every == 0"),
}

REFACTORS = {
    "ceil-by-negation": ("return ((n + multiple - 1) // multiple) * multiple", "return -(-n // multiple) * multiple"),
    "early-return": ("    return every > 0 and step % every == 0",
                     "    if every <= 0:\n        return False\n    return step % every == 0"),
    "divmod": ("return (i // batch) % world", "return divmod(i, batch)[0] % world"),
    "inline-sort": ("    order = sorted(range(len(values)), key=lambda i: (-values[i], i))\n    return order[:k]",
                    "    return sorted(range(len(values)), key=lambda i: (-values[i], i))[:k]"),
    "extract-helper": ("    progress = (step - WARMUP) / max(1, TOTAL - WARMUP)\n"
                       "    return BASE_LR * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))",
                       "    return _cosine((step - WARMUP) / max(1, TOTAL - WARMUP))\n\n\n"
                       "def _cosine(progress: float) -> float:\n"
                       "    return BASE_LR * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))"),
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("schedule")
    (root / "schedule.py").write_text(SCHEDULE)
    (root / "pyproject.toml").write_text("[tool.sandbox]\nseed = 11\nmax_examples = 120\n")
    return root


def check(repo, tmp_path, old: str, new: str) -> tuple[int, dict]:
    assert SCHEDULE.count(old) == 1, old
    patch = tmp_path / "patch.json"
    patch.write_text(json.dumps({"edits": [{"path": "schedule.py", "old_str": old, "new_str": new}]}))
    out, err = io.StringIO(), io.StringIO()
    code = main(["check", "--repo", str(repo), "--patch", str(patch), "--format", "json"], out, err)
    assert code in (0, 1), err
    return code, json.loads(out.getvalue())


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_every_mutant_is_refuted_with_a_counterexample(repo, tmp_path, name):
    code, report = check(repo, tmp_path, *MUTANTS[name])
    behavioural = [o for o in report["obligations"] if o["kind"] == "equivalent"]
    assert code == 1 and behavioural
    refuted = [o for o in behavioural if o["level"] == "REFUTED"]
    assert refuted, json.dumps(behavioural, indent=1)
    assert refuted[0]["counterexample"]["call"].startswith("schedule.")


@pytest.mark.parametrize("name", sorted(REFACTORS))
def test_every_refactor_is_accepted(repo, tmp_path, name):
    code, report = check(repo, tmp_path, *REFACTORS[name])
    assert code == 0, json.dumps(report["obligations"], indent=1)
    levels = {o["level"] for o in report["obligations"] if o["kind"] == "equivalent"}
    assert levels and levels <= {"PROVEN", "PASSED"}
