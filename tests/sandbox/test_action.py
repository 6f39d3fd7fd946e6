"""The composite GitHub action (``action.yml``) and the example workflow that uses it.

The action is parsed as GitHub reads it; its check step's script is then run with bash on a
real git repository, the way the runner would run it (inputs as environment variables,
``RUNNER_TEMP`` and ``GITHUB_OUTPUT`` files), so the script is tested, not only its text.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.conftest import write_tree

ROOT = Path(__file__).parents[2]
ACTION = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
STEPS = ACTION["runs"]["steps"]
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.S)


def expressions(value: object) -> list[str]:
    """Every ``${{ ... }}`` expression in a step, in any field."""
    if isinstance(value, dict):
        return [e for v in value.values() for e in expressions(v)]
    if isinstance(value, list):
        return [e for v in value for e in expressions(v)]
    return [m.strip() for m in EXPRESSION.findall(value)] if isinstance(value, str) else []


def test_the_action_is_composite_with_the_documented_inputs():
    assert ACTION["runs"]["using"] == "composite"
    assert set(ACTION["inputs"]) == {"base", "head", "require", "format", "args"}
    assert ACTION["inputs"]["format"]["default"] == "sarif"
    for spec in ACTION["inputs"].values():
        assert spec["description"] and spec["required"] is False


def test_every_step_references_only_declared_inputs():
    declared = set(ACTION["inputs"])
    used = {name for step in STEPS for e in expressions(step) for name in re.findall(r"\binputs\.([\w-]+)", e)}
    assert used and used <= declared
    assert used == declared  # and every input is used


def test_run_scripts_see_inputs_only_through_the_environment():
    # ${{ inputs.x }} inside `run` is pasted into the script: an input holding `"; curl ...` would run.
    for step in STEPS:
        if "run" in step:
            assert "inputs." not in step["run"] and "github.event" not in step["run"], step["name"]
            for var in set(re.findall(r"\$\{?(SANDBOX_\w+|PR_BASE|PUSH_BEFORE|ACTION_PATH|CODE)\b", step["run"])):
                assert var in step.get("env", {}), f"{step['name']}: ${var} is not in the step's env"
            assert step["shell"] == "bash"


def test_the_steps_install_check_upload_and_summarise():
    uses = [step.get("uses", "") for step in STEPS]
    assert any(u.startswith("actions/setup-python@") for u in uses)
    (upload,) = [s for s in STEPS if s.get("uses", "").startswith("github/codeql-action/upload-sarif@")]
    assert upload["with"]["sarif_file"] == "${{ steps.check.outputs.report }}" and "always()" in upload["if"]
    check = step_named("sandbox check")
    assert "--format \"$SANDBOX_FORMAT\" --output \"$report\"" in check["run"]
    assert "--base" in check["run"]
    assert "GITHUB_STEP_SUMMARY" in step_named("Job summary")["run"]
    assert any("pip install" in s.get("run", "") and "ACTION_PATH" in s.get("run", "") for s in STEPS)


def step_named(name: str) -> dict:
    (step,) = [s for s in STEPS if s.get("name") == name]
    return step


def test_the_example_workflow_uses_the_action_with_declared_inputs():
    workflow = yaml.safe_load((ROOT / "examples" / "github-workflow.yml").read_text(encoding="utf-8"))
    (job,) = workflow["jobs"].values()
    assert job["steps"][0]["uses"].startswith("actions/checkout@") and job["steps"][0]["with"]["fetch-depth"] == 0
    (gate,) = [s for s in job["steps"] if "selfmod-sandbox" in s.get("uses", "")]
    assert set(gate["with"]) <= set(ACTION["inputs"])
    assert workflow["permissions"]["security-events"] == "write"
    assert "examples/github-workflow.yml" in (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")


TRAIN = "def step(x: int) -> int:\n    return x + 1\n"


def run_check_step(repo: Path, tmp: Path, **inputs: str) -> tuple[int, dict[str, str], Path]:
    """The check step's script under bash, as the runner runs it (inputs with their defaults)."""
    step = step_named("sandbox check")
    values = {name: spec.get("default", "") for name, spec in ACTION["inputs"].items()} | inputs
    env = {k: str(EXPRESSION.sub(lambda m: values.get(m.group(1).strip().removeprefix("inputs."), ""), v))
           for k, v in step["env"].items()}
    output = tmp / "github_output"
    output.write_text("")
    env = {**os.environ, **env, "RUNNER_TEMP": str(tmp), "GITHUB_OUTPUT": str(output),
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
    result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=repo,
                            env=env, capture_output=True, text=True, timeout=600)
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    return result.returncode, outputs, Path(outputs.get("report", tmp / "none"))


@pytest.fixture
def pull_request(tmp_path):
    """A repository with a base commit; the test edits the work tree as a pull request would."""
    if shutil.which("git") is None:
        pytest.skip("needs git")
    repo = write_tree(tmp_path / "lab", {"train.py": TRAIN, "sandbox_properties.py": "\n"})
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@e", "GIT_CONFIG_GLOBAL": os.devnull}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "base"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, env=env, capture_output=True)
    base = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()
    return repo, base


@pytest.mark.slow
def test_the_check_step_rejects_a_hostile_pull_request_with_valid_sarif(pull_request, tmp_path):
    repo, base = pull_request
    (repo / "train.py").write_text(TRAIN.replace("    return", "    import socket\n    socket.socket()\n    return"))
    code, outputs, report = run_check_step(repo, tmp_path, base=base)
    assert code == 0  # the step records the verdict; the last step fails the job
    assert outputs["code"] == "1" and outputs["accepted"] == "false"
    sarif = json.loads(report.read_text())
    schema = json.loads((Path(__file__).with_name("sarif-2.1.0-rtm.5.json")).read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(schema).validate(sarif)
    network = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "network"]
    lines = (repo / "train.py").read_text().splitlines()
    assert network and all(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "train.py"
                           for r in network)
    assert "socket.socket()" in {lines[r["locations"][0]["physicalLocation"]["region"]["startLine"] - 1].strip()
                                 for r in network}
    assert "REJECTED" in (tmp_path / "sandbox-report.txt").read_text()


@pytest.mark.slow
def test_the_check_step_accepts_a_benign_pull_request_and_passes_args_through(pull_request, tmp_path):
    repo, base = pull_request
    (repo / "train.py").write_text(TRAIN.replace("x + 1", "1 + x"))
    code, outputs, report = run_check_step(repo, tmp_path, base=base, format="json", args="--seed 5 --jobs 1")
    assert (code, outputs["code"], outputs["accepted"]) == (0, "0", "true")
    verdict = json.loads(report.read_text())
    assert report.suffix == ".json" and verdict["accepted"] is True and verdict["seed"] == 5
    assert "ACCEPTED" in (tmp_path / "sandbox-report.txt").read_text()


def test_the_check_step_refuses_a_missing_base_and_an_unknown_format(pull_request, tmp_path):
    repo, _ = pull_request
    code, _, _ = run_check_step(repo, tmp_path)
    assert code == 2
    code, _, _ = run_check_step(repo, tmp_path, base="HEAD", format="xml")
    assert code == 2
