"""The reports a reviewer reads: a one-screen summary first, details never cut, machine formats complete.

Most tests take a real verdict from the gate (a cheap, policy-only patch) and replace its
obligations with chosen evidence, so each report feature is shown on exactly the evidence it is
about; the CLI tests at the end run real checks.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import io
import json
import shlex
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from properties import Kind, Obligation
from sandbox import Gate, Patch
from sandbox._cli import main
from sandbox._report import progress_printer, render, render_text
from sandbox._verdict import NOT_RUN, Judgement, Progress, natural_key
from verifiers import Counterexample, Evidence, Level

NUMBERED = '''
def f2(x: int) -> int:
    return x + 1


def f10(x: int) -> int:
    return x + 2


def f1(x: int) -> int:
    return x + 3
'''

COVERAGE = ("no counterexample in 200 generated inputs and 12 boundary inputs (seed 0); "
            "pre rejected 775 of 984 inputs, so only 209 inputs were compared; "
            "branch `step < 10` taken both ways (line 5); shapes (1,), (3, 5); dtypes float32")


@pytest.fixture
def base(make_repo):
    """A verdict for a comment-only change of f2, f10 and f1 (static checks only: fast)."""
    root = make_repo({"train.py": NUMBERED, "sandbox_properties.py": "\n"})
    text = (root / "train.py").read_text()
    for name in ("f2", "f10", "f1"):
        text = text.replace(f"def {name}(x: int) -> int:\n", f"def {name}(x: int) -> int:\n    # {name}\n")
    return Gate.from_repo(root).check(Patch.from_files({"train.py": text}))


def judgement(target: str, level: Level, detail: str, *, kind: Kind = Kind.EQUIVALENT, verifier: str = "pbt",
              ok: bool | None = None, cex: Counterexample | None = None, gave_up: tuple[str, ...] = (),
              route: tuple[str, ...] = ("smt", "pbt")) -> Judgement:
    ob = Obligation(target, kind, "train.py", "why", route, new_lines=(3, 4))
    ok = level in (Level.PASSED, Level.PROVEN) if ok is None else ok
    return Judgement(ob, Evidence(level, verifier, detail, 0.5, counterexample=cex), ok, gave_up)


def with_outcomes(verdict, *outcomes):
    return dataclasses.replace(verdict, outcomes=tuple(outcomes), accepted=all(o.ok for o in outcomes))


def summary_part(text: str) -> str:
    return text.split("\nDetails\n")[0]


def test_summary_comes_first_with_the_verdict_what_changed_and_what_decided(base):
    verdict = with_outcomes(base, judgement("train.f2", Level.PASSED, COVERAGE),
                            judgement("train.f10", Level.REFUTED, "old and new disagree on train.f10(x=0)",
                                      verifier="smt"))
    text = render_text(verdict)
    summary = summary_part(text)
    assert text.startswith("sandbox check: REJECTED")
    assert "Verdict: rejected: 1 of 2 obligation(s) not met" in summary
    assert "train.py (modified): =train.f1, =train.f2, =train.f10" in summary
    rows = [line for line in summary.splitlines() if "by smt" in line or "by pbt" in line]
    # The rejecting obligation first, each with its level and deciding verifier.
    assert rows[0].split() == ["x", "REFUTED", "equivalent", "train.f10", "by", "smt"]
    assert rows[1].split() == ["ok", "PASSED", "equivalent", "train.f2", "by", "pbt"]
    assert len(summary.splitlines()) < 25  # one screen


def test_the_summary_of_many_obligations_still_fits_one_screen_and_the_details_keep_them_all(base):
    many = [judgement(f"train.g{i}", Level.PROVEN, f"proved g{i}", verifier="smt") for i in range(40)]
    text = render_text(with_outcomes(base, *many))
    assert len(summary_part(text).splitlines()) < 25
    assert "and 28 more obligation(s) met" in summary_part(text)
    assert all(f"proved g{i}" in text for i in range(40))


def test_details_are_never_cut_and_verbose_puts_each_clause_on_its_own_line(base):
    long = COVERAGE + "; " + "x" * 300
    verdict = with_outcomes(base, judgement("train.f2", Level.PASSED, long))
    plain = render_text(verdict)
    assert "      " + long in plain.splitlines()  # whole, on one line, not cut at 100 characters or at "; "
    verbose = render_text(verdict, verbose=True).splitlines()
    assert "      no counterexample in 200 generated inputs and 12 boundary inputs (seed 0)" in verbose
    assert "        pre rejected 775 of 984 inputs, so only 209 inputs were compared" in verbose
    assert "        shapes (1,), (3, 5)" in verbose and "        dtypes float32" in verbose


def test_verbose_does_not_split_inside_parentheses(base):
    detail = "old 1, new 2 (found after 3 boundary cases, seed 0; pre rejected 5 of 10 inputs)"
    verdict = with_outcomes(base, judgement("train.f2", Level.REFUTED, detail))
    lines = render_text(verdict, verbose=True).splitlines()
    assert "      " + detail in lines


def test_every_verifiers_reason_for_giving_up_is_shown(base):
    reasons = ("smt: z3 gave up: nonlinear arithmetic (line 4)", "pbt: the search stopped after 31 of 200 inputs")
    undecided = judgement("train.f2", Level.UNKNOWN, "; ".join(reasons), verifier="smt/pbt", gave_up=reasons)
    decided = judgement("train.f10", Level.PASSED, COVERAGE, gave_up=("smt: z3 timed out after 5 s",))
    verdict = with_outcomes(base, undecided, decided)
    plain = render_text(verdict).splitlines()
    assert "        - smt: z3 gave up: nonlinear arithmetic (line 4)" in plain
    assert "        - pbt: the search stopped after 31 of 200 inputs" in plain
    assert "      (smt gave up first; --verbose shows why)" in plain  # testing passed; the prover's reason waits
    verbose = render_text(verdict, verbose=True).splitlines()
    assert "        - smt: z3 timed out after 5 s" in verbose


def test_a_refutation_shows_both_results_the_replay_and_closed_parentheses(base):
    detail = ("differs on train.f2(x=3); old returned 4, new returned 5 (found after 12 boundary cases and 40 "
              "generated inputs, seed 0; pre rejected 5 of 45 inputs)")
    cex = Counterexample("train.f2(x=3)", "returned 4", "returned 5", "sandbox check --repo R --patch P --seed 0")
    text = render_text(with_outcomes(base, judgement("train.f2", Level.REFUTED, detail, cex=cex)))
    for line in text.splitlines():
        if "REFUTED" in line:
            assert line.count("(") == line.count(")"), line
    assert "      counterexample: train.f2(x=3)  old -> returned 4  new -> returned 5" in text
    assert "      replay: sandbox check --repo R --patch P --seed 0" in text


def test_a_counterexample_without_an_old_result_says_so_rather_than_none(base):
    cex = Counterexample("train.f2(x=3)", None, "returned 99 (post is false)")
    text = render_text(with_outcomes(base, judgement("train.f2", Level.REFUTED, "post fails", cex=cex,
                                                     kind=Kind.INVARIANT)))
    assert "old -> None" not in text and "old -> (not reported by the verifier)" in text


def test_changed_definitions_are_sorted_naturally(base):
    text = render_text(base)
    lines = [line.split()[1] for line in text.splitlines() if line.startswith("    = train.f")]
    assert lines == ["train.f1", "train.f2", "train.f10"]
    assert [c["target"] for c in base.to_json()["changes"]] == ["train.f1", "train.f2", "train.f10"]
    assert sorted(["f10", "f2", "f1", "g", "f2a"], key=natural_key) == ["f1", "f2", "f2a", "f10", "g"]


def test_sarif_has_a_rule_for_every_rule_id_and_a_driver_version(base):
    outcomes = [judgement(f"train.k{i}", level, "detail", kind=kind, ok=False)
                for i, (kind, level) in enumerate((k, lv) for k in Kind for lv in Level)]
    sarif = json.loads(render(with_outcomes(base, *outcomes), "sarif"))
    driver = sarif["runs"][0]["tool"]["driver"]
    assert driver["version"] == importlib.metadata.version("selfmod-sandbox")
    used = {r["ruleId"] for r in sarif["runs"][0]["results"]}
    assert "kernel-refuted" in used and len(used) == len(Kind) * len(Level)
    assert used <= {rule["id"] for rule in driver["rules"]}


def test_not_run_obligations_are_reported_as_such_in_every_format(base):
    stopped = Judgement(Obligation("train.f10", Kind.EQUIVALENT, "train.py", "why", ("smt",)),
                        Evidence(Level.UNKNOWN, "none", NOT_RUN), ok=False, ran=False)
    verdict = with_outcomes(base, judgement("train.f2", Level.REFUTED, "differs"), stopped)
    text = render_text(verdict)
    assert "1 not run (--fail-fast)" in summary_part(text) and "not run (--fail-fast)" in text.split("Checked")[1]
    assert json.loads(render(verdict, "json"))["obligations"][1]["ran"] is False
    sarif = json.loads(render(verdict, "sarif"))
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["equivalent-refuted"]
    suite = ET.fromstring(render(verdict, "junit"))
    assert (suite.get("failures"), suite.get("skipped")) == ("1", "1")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_prints_one_line_per_obligation_start_and_end(base):
    stream = _Terminal()
    show = progress_printer(stream)
    done = judgement("train.f[1]", Level.PASSED, "ok")  # brackets are names, not markup
    show(Progress(1, 2, done.obligation))
    show(Progress(1, 2, done.obligation, done))
    assert stream.getvalue().splitlines() == ["[1/2] equivalent train.f[1]: checking ...",
                                              "[1/2] equivalent train.f[1]: PASSED by pbt (0.5 s)"]


# ---------------------------------------------------------------------------------- through the CLI

HOSTILE = {"train.py": NUMBERED.replace("def f2", "import subprocess\n\n\ndef f2")
           .replace("return x + 1", "return x + 2")}


def run(*argv: str, stderr: io.StringIO | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), stderr or io.StringIO()
    code = main(list(argv), out, err)
    return code, out.getvalue(), err.getvalue()


def edits_file(tmp_path: Path, files: dict[str, str]) -> str:
    path = tmp_path / "change.json"
    path.write_text(json.dumps({"files": files}))
    return str(path)


@pytest.mark.parametrize("jobs", ["1", "3"])
def test_fail_fast_stops_at_the_first_rejection(make_repo, tmp_path, jobs):
    root = make_repo({"train.py": NUMBERED, "sandbox_properties.py": "\n"})
    patch = edits_file(tmp_path, HOSTILE)
    code, out, _ = run("check", "--repo", str(root), "--patch", patch, "--format", "json", "--fail-fast",
                       "--jobs", jobs)
    report = json.loads(out)
    assert code == 1 and report["accepted"] is False
    first = report["obligations"][0]
    assert first["kind"] == "policy" and first["level"] == "VIOLATION"
    not_run = [o for o in report["obligations"] if not o["ran"]]
    if jobs == "1":  # sequential: everything after the rejection is left
        assert len(not_run) == len(report["obligations"]) - 1
    assert all(o["detail"].startswith("not run (--fail-fast)") and o["ok"] is False for o in not_run)
    # The look-alike without --fail-fast runs every obligation.
    code, out, _ = run("check", "--repo", str(root), "--patch", patch, "--format", "json", "--jobs", jobs)
    assert code == 1 and all(o["ran"] for o in json.loads(out)["obligations"])


def test_progress_goes_to_stderr_only_on_a_terminal(make_repo, tmp_path, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    root = make_repo({"train.py": NUMBERED, "sandbox_properties.py": "\n"})
    patch = edits_file(tmp_path, {"train.py": NUMBERED.replace("x + 1", "1 + x")})
    code, out, err = run("check", "--repo", str(root), "--patch", patch)
    assert code == 0 and err == ""
    terminal = _Terminal()
    code, out, _ = run("check", "--repo", str(root), "--patch", patch, stderr=terminal)
    lines = terminal.getvalue().splitlines()
    total = int(lines[0].split("/")[1].split("]")[0])
    assert code == 0 and len(lines) == 2 * total
    assert sum(line.endswith("checking ...") for line in lines) == total
    assert any("equivalent train.f2: PROVEN by smt" in line for line in lines), lines
    assert out.startswith("sandbox check: ACCEPTED")  # the report itself is untouched


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          check=True, capture_output=True, text=True).stdout


def test_the_base_mode_replay_command_works_later(make_repo):
    root = make_repo({"train.py": NUMBERED, "sandbox_properties.py": "\n"})
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "base")
    (root / "train.py").write_text(NUMBERED.replace("return x + 1", "return x - 1"))
    _git(root, "commit", "-q", "-am", "head")
    code, out, _ = run("check", "--repo", str(root), "--base", "HEAD~1", "--head", "HEAD", "--format", "json")
    replay = json.loads(out)["obligations"]
    replay = next(o for o in replay if o["target"] == "train.f2")["counterexample"]["replay"]
    argv = shlex.split(replay)
    commits = _git(root, "rev-parse", "HEAD~1", "HEAD").split()
    assert code == 1 and argv[:2] == ["sandbox", "check"] and "sandbox-base-" not in replay
    assert argv[argv.index("--base") + 1] == commits[0] and argv[argv.index("--head") + 1] == commits[1]
    _git(root, "commit", "-q", "--allow-empty", "-m", "later")  # HEAD~1 now names another commit
    code, out, _ = run(*argv[1:], "--format", "json")
    again = next(o for o in json.loads(out)["obligations"] if o["target"] == "train.f2")
    assert code == 1 and again["level"] == "REFUTED"


@pytest.mark.parametrize("path", ["sandbox_properties.py", "props/extra.py", ".sandbox/ledger.head", "pyproject.toml"])
def test_the_allow_hint_is_never_offered_for_the_property_files_config_or_ledger(make_repo, path):
    root = make_repo({"train.py": NUMBERED, "sandbox_properties.py": "\n", "props/extra.py": "\n",
                      "pyproject.toml": '[tool.sandbox]\nproperties = ["sandbox_properties.py", "props/extra.py"]\n'})
    verdict = Gate.from_repo(root).check(Patch.from_files({path: "x = 1\n"}))
    text = render_text(verdict)
    failure = text.split("Why it was rejected")[1]
    assert not verdict.accepted and f"x {path} [protected-path]" in failure
    assert ":None" not in text and "allow = {" not in text and "no allowance is offered" in failure


def test_the_allow_hint_is_offered_for_other_protected_paths(make_repo):
    # The look-alike: a test file is protected by default, and a lab may choose to waive that.
    root = make_repo({"train.py": NUMBERED, "sandbox_properties.py": "\n"})
    verdict = Gate.from_repo(root).check(Patch.from_files({"tests/test_train.py": "x = 1\n"}))
    failure = render_text(verdict).split("Why it was rejected")[1]
    assert "x tests/test_train.py [protected-path]" in failure and ":None" not in failure
    assert 'allow = { "protected-path" = ["tests/test_train.py"] }' in failure


def test_fail_fast_in_parallel_cancels_what_has_not_started():
    import time

    from sandbox._gate import _in_parallel

    obligations = [Obligation(f"train.f{i}", Kind.EQUIVALENT, "train.py", "why", ("smt",)) for i in range(6)]
    started: list[int] = []

    def one(index: int, obligation: Obligation) -> Judgement:
        started.append(index)
        if index:
            time.sleep(0.2)
        level = Level.REFUTED if index == 0 else Level.PROVEN
        return Judgement(obligation, Evidence(level, "smt", "d"), ok=index != 0)

    outcomes = _in_parallel(one, obligations, 2, fail_fast=True)
    assert [o.obligation.target for o in outcomes] == [o.target for o in obligations]  # order kept
    assert outcomes[0].evidence.level is Level.REFUTED
    ran = [i for i, o in enumerate(outcomes) if o.ran]
    assert ran == sorted(started) and len(ran) <= 3  # the rejection stopped the rest
    assert all(o.evidence.detail == NOT_RUN and not o.ok for o in outcomes if not o.ran)
    everything = _in_parallel(one, obligations, 2, fail_fast=False)
    assert all(o.ran for o in everything)
