"""Behaviour shown even when allowed: an invariant or bounds lets a target change, and the
gate still compares old and new and puts what changed where a reviewer reads first."""

from __future__ import annotations

import io
import json

import pytest

from sandbox import Gate, Patch
from sandbox._cli import main
from tests.conftest import snapshot

TRAIN = '''\
MAX_LR = 0.001
WARMUP = 10


def lr_at(step: int) -> float:
    if step < 0:
        return 0.0
    if step < WARMUP:
        return MAX_LR * step / WARMUP
    return MAX_LR
'''

PROPS = '''\
from properties import invariant

invariant("train.lr_at", lambda step, out: 0.0 <= out <= 0.001)
'''

CONFIG = "[tool.sandbox]\nseed = 1\nmax_examples = 80\n"


@pytest.fixture
def repo(make_repo):
    return make_repo({"train.py": TRAIN, "sandbox_properties.py": PROPS, "pyproject.toml": CONFIG})


def check(root, text: str, **overrides):
    before = snapshot(root)
    verdict = Gate.from_repo(root, **overrides).check(Patch.from_files({"train.py": text}))
    assert snapshot(root) == before
    return verdict


def outcome(verdict, target: str, *, shown: bool):
    return next(o for o in verdict.outcomes if o.obligation.target == target and bool(o.obligation.allowed_by) == shown)


def test_a_learning_rate_pinned_at_zero_meets_the_invariant_and_the_report_says_it_changed(repo):
    verdict = check(repo, TRAIN.replace("    return MAX_LR\n", "    return 0.0\n"))
    assert verdict.accepted, verdict.summary()
    held = outcome(verdict, "train.lr_at", shown=False)
    assert held.obligation.kind.value == "invariant" and held.evidence.level.value in ("PROVEN", "PASSED")
    info = outcome(verdict, "train.lr_at", shown=True)
    assert info.informational and info.ok and info.evidence.level.value == "REFUTED"
    cex = info.evidence.counterexample
    assert cex is not None and cex.new == "returned 0.0" and cex.old == "returned 0.001", cex
    summary = verdict.summary()
    first = summary.index("behaviour changed (allowed by invariant('train.lr_at')): at train.lr_at(")
    assert first < summary.index("Changed:") < summary.index("Details")
    assert "old 0.001, new 0.0" in summary
    assert "1 comparison(s) shown for information" in summary
    assert "every obligation reached REFUTED" not in summary and "REFUTED" not in summary.split("\n")[2]


def test_a_warmup_off_by_one_is_shown_and_require_unchanged_rejects_it(repo):
    off_by_one = TRAIN.replace("MAX_LR * step / WARMUP", "MAX_LR * (step + 1) / WARMUP")
    verdict = check(repo, off_by_one)
    assert verdict.accepted, verdict.summary()
    info = outcome(verdict, "train.lr_at", shown=True)
    assert info.behaviour == "changed" and "train.lr_at(step=" in info.evidence.counterexample.call
    strict = check(repo, off_by_one, unchanged=("*",))
    assert not strict.accepted
    assert "rejected: --require unchanged, though invariant('train.lr_at') allows it" in strict.summary()
    # Only the named targets: another glob leaves the change informational.
    assert check(repo, off_by_one, unchanged=("other.*",)).accepted


def test_require_unchanged_from_the_command_line_exits_1_and_json_marks_the_comparison(repo, tmp_path):
    patch = tmp_path / "p.json"
    patch.write_text(json.dumps({"train.py": TRAIN.replace("    return MAX_LR\n", "    return 0.0\n")}))
    out = io.StringIO()
    assert main(["check", "--repo", str(repo), "--patch", str(patch), "--format", "json"], out, io.StringIO()) == 0
    report = json.loads(out.getvalue())
    shown = [o for o in report["obligations"] if o.get("allowed_by")]
    assert [(o["target"], o["informational"], o["behaviour"], o["ok"]) for o in shown] == [
        ("train.lr_at", True, "changed", True)]
    err = io.StringIO()
    code = main(["check", "--repo", str(repo), "--patch", str(patch), "--require", "proven", "--require",
                 "unchanged"], io.StringIO(), err)
    assert code == 1, err.getvalue()


def test_a_refactor_under_an_invariant_is_shown_unchanged(repo):
    verdict = check(repo, TRAIN.replace("return MAX_LR * step / WARMUP", "return step * MAX_LR / WARMUP"))
    assert verdict.accepted, verdict.summary()
    info = outcome(verdict, "train.lr_at", shown=True)
    # Float multiplication is not associative: either the prover shows the two agree, or it finds where not.
    assert info.behaviour in ("unchanged", "changed")
    assert f"behaviour {info.behaviour}" in verdict.summary()


def test_a_broken_invariant_still_rejects_whatever_the_comparison_says(repo):
    verdict = check(repo, TRAIN.replace("    return MAX_LR\n", "    return 0.5\n"))
    assert not verdict.accepted
    assert outcome(verdict, "train.lr_at", shown=False).evidence.level.value == "REFUTED"


def test_apply_proven_is_not_blocked_by_an_informational_refutation(make_repo):
    root = make_repo({"train.py": TRAIN, "sandbox_properties.py": PROPS,
                      "pyproject.toml": CONFIG + 'apply = "proven"\n'})
    verdict = check(root, TRAIN.replace("    return MAX_LR\n", "    return 0.0\n"))
    held = outcome(verdict, "train.lr_at", shown=False)
    assert verdict.accepted
    assert verdict.all_proven == (held.evidence.level.value == "PROVEN")


# -------------------------------------------------------------------- constants read under invariants


def test_a_constant_whose_only_reader_states_an_invariant_may_move_and_is_shown(repo):
    verdict = check(repo, TRAIN.replace("MAX_LR = 0.001", "MAX_LR = 0.0005"))
    assert verdict.accepted, verdict.summary()
    constant = outcome(verdict, "train.MAX_LR", shown=True)
    assert constant.informational and constant.evidence.level.value == "REFUTED"
    assert constant.obligation.allowed_by == "invariant('train.lr_at')"
    assert outcome(verdict, "train.lr_at", shown=False).obligation.kind.value == "invariant"
    assert "behaviour changed (allowed by invariant('train.lr_at')): at train.MAX_LR old 0.001, new 0.0005" \
        in verdict.summary()


def test_a_constant_moved_so_that_the_invariant_breaks_is_rejected(repo):
    verdict = check(repo, TRAIN.replace("MAX_LR = 0.001", "MAX_LR = 0.01"))
    assert not verdict.accepted
    assert outcome(verdict, "train.lr_at", shown=False).evidence.level.value == "REFUTED"


def test_a_constant_with_a_reader_without_an_invariant_keeps_its_obligation(make_repo):
    text = TRAIN + "\n\ndef peak() -> float:\n    return MAX_LR\n"
    root = make_repo({"train.py": text, "sandbox_properties.py": PROPS, "pyproject.toml": CONFIG})
    verdict = check(root, text.replace("MAX_LR = 0.001", "MAX_LR = 0.0005"))
    assert not verdict.accepted
    constant = outcome(verdict, "train.MAX_LR", shown=False)
    assert constant.evidence.level.value == "REFUTED" and "bounds(" in constant.evidence.detail


@pytest.mark.parametrize("elsewhere", [
    {"report.py": "from train import MAX_LR\n\n\ndef peak() -> float:\n    return MAX_LR\n"},
    {"report.py": "import train\n\n\ndef peak() -> float:\n    return getattr(train, 'MAX_LR')\n"},
])
def test_a_constant_named_in_another_module_keeps_its_obligation(make_repo, elsewhere):
    root = make_repo({"train.py": TRAIN, "sandbox_properties.py": PROPS, "pyproject.toml": CONFIG, **elsewhere})
    verdict = check(root, TRAIN.replace("MAX_LR = 0.001", "MAX_LR = 0.0005"))
    assert not verdict.accepted
    assert not outcome(verdict, "train.MAX_LR", shown=False).ok


def test_a_constant_read_by_module_code_keeps_its_obligation(make_repo):
    text = TRAIN + "\nDOUBLE = MAX_LR * 2\n"
    root = make_repo({"train.py": text, "sandbox_properties.py": PROPS, "pyproject.toml": CONFIG})
    verdict = check(root, text.replace("MAX_LR = 0.001", "MAX_LR = 0.0005"))
    assert not verdict.accepted
    assert not outcome(verdict, "train.MAX_LR", shown=False).ok


def test_a_test_file_naming_the_constant_is_not_a_reader(make_repo):
    tests = "from train import MAX_LR\n\n\ndef test_peak():\n    assert MAX_LR > 0\n"
    root = make_repo({"train.py": TRAIN, "sandbox_properties.py": PROPS, "pyproject.toml": CONFIG,
                      "tests/test_train.py": tests})
    assert check(root, TRAIN.replace("MAX_LR = 0.001", "MAX_LR = 0.0005")).accepted
