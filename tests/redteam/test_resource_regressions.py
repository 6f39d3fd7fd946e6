"""Red team: patches that keep every answer but cost far more, or leave threads behind, through the real gate.

Each hostile patch passes the static policy (its helpers are repository modules, which the
allow-list admits) and returns exactly what the old code returned, so only the workers'
measurements -- CPU seconds, peak memory, threads left running -- can tell it apart.
"""

from __future__ import annotations

import json

import pytest

from sandbox._config import load_config
from sandbox._errors import ConfigError
from tests.conftest import cli_check, snapshot

OPS = '''
"""Helpers."""

import helpers


def scale(values: list[int], k: int) -> list[int]:
    helpers.spin(20_000)
    out = []
    for value in values:
        out.append(value * k)
    return out
'''

BODY = '''    out = []
    for value in values:
        out.append(value * k)
    return out
'''
SPIN = "    helpers.spin(20_000)\n"  # the old version's own work: about a millisecond per call

HELPERS = '''
"""Existing helpers of the repository (unchanged by the patches)."""

import threading

_STOP = threading.Event()


def spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i & 1
    return total


def scratch(megabytes: int) -> int:
    buffer = bytearray(megabytes << 20)
    return len(buffer) - len(buffer)


def start_worker() -> None:
    threading.Thread(target=_STOP.wait, daemon=True).start()
'''

CONFIG = "[tool.sandbox]\nseed = 3\nmax_examples = 60\ncall_timeout = 5.0\n"


check = cli_check


@pytest.fixture
def repo(make_repo):
    return make_repo({"ops.py": OPS, "helpers.py": HELPERS, "pyproject.toml": CONFIG})


def run(repo, tmp_path, body: str) -> tuple[int, dict, dict, str]:
    patch = tmp_path / "patch.json"
    patch.write_text(json.dumps({"files": {"ops.py": OPS.lstrip("\n").replace(SPIN + BODY, body)}}))
    before = snapshot(repo)
    code, report, err = check(repo, patch)
    assert snapshot(repo) == before
    levels = {o["target"]: o for o in report["obligations"]}
    assert levels["ops.py"]["level"] == "PASSED", "the static policy already caught it; pick a subtler pattern"
    return code, report, levels["ops.scale"], err


HOSTILE = [
    ("burns-cpu", "    helpers.spin(10 ** 7)\n" + BODY, "REFUTED", ("of CPU over", "limit 10×", "old")),
    ("allocates-300-mb", SPIN + "    helpers.scratch(300)\n" + BODY, "REFUTED", ("peak memory", "MB", "limit 10× + 64 MB")),
    ("leaves-a-thread", SPIN + "    helpers.start_worker()\n" + BODY, "VIOLATION", ("thread", "running after the call")),
]


@pytest.mark.parametrize(("body", "level", "words"), [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_a_costly_look_alike_is_rejected_with_both_figures(repo, tmp_path, body, level, words):
    code, report, outcome, err = run(repo, tmp_path, body)
    assert code == 1, err
    assert (outcome["level"], outcome["verifier"]) == (level, "pbt"), outcome
    for word in words:
        assert word in outcome["detail"], outcome["detail"]
    if level == "VIOLATION":
        assert "ambient-state" in {v["rule"] for v in report["violations"]}


BENIGN = [
    ("twice-as-slow", "    helpers.spin(40_000)\n" + BODY),
    ("small-allocation", SPIN + "    helpers.scratch(4)\n" + BODY),
    ("faster", "    return [value * k for value in values]\n"),
]


@pytest.mark.parametrize("body", [c[1] for c in BENIGN], ids=[c[0] for c in BENIGN])
def test_a_modest_cost_passes_and_is_reported(repo, tmp_path, body):
    code, report, outcome, err = run(repo, tmp_path, body)
    assert code == 0, err + json.dumps(outcome, indent=1)
    assert (outcome["level"], outcome["verifier"]) == ("PASSED", "pbt"), outcome
    assert "s of CPU over" in outcome["detail"] and "peak memory growth" in outcome["detail"]


@pytest.mark.parametrize("key", ["slowdown", "memory"])
def test_the_ratios_are_settings_of_at_least_one(make_repo, key):
    assert getattr(load_config(make_repo({"pyproject.toml": f"[tool.sandbox]\n{key} = 2.5\n"})), key) == 2.5
    for bad in ("0.5", '"fast"', "inf"):
        with pytest.raises(ConfigError, match=key):
            load_config(make_repo({"pyproject.toml": f"[tool.sandbox]\n{key} = {bad}\n"}))


def test_the_slowdown_setting_reaches_the_judgement(repo, tmp_path):
    (repo / "pyproject.toml").write_text(CONFIG + "slowdown = 1.0\n")
    code, _, outcome, err = run(repo, tmp_path, "    helpers.spin(400_000)\n" + BODY)
    assert code == 1 and outcome["level"] == "REFUTED" and "limit 1×" in outcome["detail"], outcome
