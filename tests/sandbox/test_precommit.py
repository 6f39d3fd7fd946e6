"""The pre-commit hooks, driven by the real ``pre-commit`` tool on real git repositories.

The hooks are ``language: python``: pre-commit would pip-install this package and its
dependencies (torch, jax, libcst, ...) into an environment of its own, which needs the network
(libcst, unidiff, crosshair-tool and pyseccomp are on no local index here).  The tests take the
repository's own ``.pre-commit-hooks.yaml`` and change only ``language`` to ``system``, so
pre-commit runs the same entries, stages and options with the package already installed in the
test interpreter's environment: no network, nothing downloaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sandbox._staged import EMPTY_TREE, hook_revisions, main, staged_diff, staged_patch
from tests.conftest import write_tree

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

ROOT = Path(__file__).parents[2]

TRAIN = '''
def step(x: int) -> int:
    return x + 1


def scale(x: float) -> float:
    return x * 2.0
'''

HOSTILE = ("    return x + 1\n", "    import subprocess\n    subprocess.run(['true'])\n    return x + 1\n")
BENIGN = ("    return x * 2.0\n", "    return 2.0 * x\n")


@pytest.fixture(scope="session")
def env(tmp_path_factory) -> dict[str, str]:
    """One pre-commit home (cache) for the session; this interpreter's scripts first on PATH."""
    home = tmp_path_factory.mktemp("pre-commit-home")
    identity = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
                "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return {**os.environ, **identity, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never",
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
            "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(repo: Path, *args: str, env: dict[str, str]) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout


@pytest.fixture(scope="session")
def hooks(tmp_path_factory, env) -> Path:
    """A git repository holding the project's hooks, with ``language: system``."""
    repo = tmp_path_factory.mktemp("hooks")
    declared = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert {h["language"] for h in declared} == {"python"}
    local = [{**h, "language": "system"} for h in declared]
    (repo / ".pre-commit-hooks.yaml").write_text(yaml.safe_dump(local), encoding="utf-8")
    git(repo, "init", "-q", "-b", "main", env=env)
    git(repo, "add", "-A", env=env)
    git(repo, "commit", "-q", "-m", "hooks", env=env)
    return repo


@pytest.fixture
def target(tmp_path, env) -> Path:
    repo = write_tree(tmp_path / "lab", {"train.py": TRAIN, "sandbox_properties.py": "\n",
                                         "pyproject.toml": '[project]\nname = "lab"\n\n[tool.sandbox]\nseed = 1\n'})
    git(repo, "init", "-q", "-b", "main", env=env)
    git(repo, "add", "-A", env=env)
    git(repo, "commit", "-q", "-m", "start", env=env)
    return repo


def edit(repo: Path, old: str, new: str) -> None:
    text = (repo / "train.py").read_text()
    assert old in text
    (repo / "train.py").write_text(text.replace(old, new))


def try_repo(target: Path, hooks: Path, hook: str, env: dict[str, str], *extra: str):
    return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(hooks), hook, "--verbose", *extra],
                          cwd=target, capture_output=True, text=True, env=env, timeout=600)


def test_the_hooks_file_declares_a_fast_and_a_full_hook():
    declared = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))}
    assert set(declared) == {"sandbox-check", "sandbox-check-full"}
    for hook in declared.values():
        assert hook["pass_filenames"] is False and hook["language"] == "python" and hook["name"] and hook["entry"]
    assert declared["sandbox-check"]["stages"] == ["pre-commit"]
    assert set(declared["sandbox-check-full"]["stages"]) == {"pre-push", "manual"}


def test_pre_commit_accepts_the_hooks_file_as_a_manifest():
    result = subprocess.run([sys.executable, "-m", "pre_commit", "validate-manifest",
                             str(ROOT / ".pre-commit-hooks.yaml")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_a_hostile_staged_change_is_blocked_with_the_rule_in_the_output(target, hooks, env):
    edit(target, *HOSTILE)
    git(target, "add", "train.py", env=env)
    result = try_repo(target, hooks, "sandbox-check", env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Failed" in result.stdout and "[subprocess]" in result.stdout and "REJECTED" in result.stdout


@pytest.mark.slow
def test_a_benign_staged_change_passes(target, hooks, env):
    edit(target, *BENIGN)
    git(target, "add", "train.py", env=env)
    result = try_repo(target, hooks, "sandbox-check", env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Passed" in result.stdout and "ACCEPTED" in result.stdout


@pytest.mark.slow
def test_only_the_staged_change_is_checked_and_the_unstaged_one_is_left_alone(target, hooks, env):
    edit(target, *BENIGN)
    git(target, "add", "train.py", env=env)
    edit(target, *HOSTILE)  # in the work tree only: not part of the commit
    before = (target / "train.py").read_text()
    result = try_repo(target, hooks, "sandbox-check", env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (target / "train.py").read_text() == before  # pre-commit put the unstaged edit back


@pytest.mark.slow
def test_git_commit_is_blocked_by_the_installed_hook(target, hooks, env):
    sha = git(hooks, "rev-parse", "HEAD", env=env).strip()
    config = {"repos": [{"repo": str(hooks), "rev": sha, "hooks": [{"id": "sandbox-check"}]}]}
    (target / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    git(target, "add", ".pre-commit-config.yaml", env=env)
    git(target, "commit", "-q", "-m", "hooks", "--no-verify", env=env)
    subprocess.run([sys.executable, "-m", "pre_commit", "install"], cwd=target, check=True, env=env,
                   capture_output=True)
    head = git(target, "rev-parse", "HEAD", env=env)
    edit(target, *HOSTILE)
    git(target, "add", "train.py", env=env)
    result = subprocess.run(["git", "commit", "-m", "hostile"], cwd=target, capture_output=True, text=True, env=env)
    assert result.returncode != 0 and "[subprocess]" in result.stdout + result.stderr
    assert git(target, "rev-parse", "HEAD", env=env) == head


@pytest.mark.slow
def test_the_full_hook_checks_by_hand_what_is_staged(target, hooks, env):
    edit(target, *HOSTILE)
    git(target, "add", "train.py", env=env)
    result = try_repo(target, hooks, "sandbox-check-full", env, "--hook-stage", "manual")
    assert result.returncode == 1 and "[subprocess]" in result.stdout, result.stdout + result.stderr


def test_the_full_hook_checks_the_pushed_range_on_pre_push(target, env, capsys, monkeypatch):
    base = git(target, "rev-parse", "HEAD", env=env).strip()
    edit(target, *HOSTILE)
    git(target, "commit", "-q", "-am", "hostile", env=env)
    head = git(target, "rev-parse", "HEAD", env=env).strip()
    edit(target, "return x + 1", "return x + 1  # unrelated, unstaged")  # not pushed: must not matter
    monkeypatch.setenv("PRE_COMMIT_FROM_REF", base)
    monkeypatch.setenv("PRE_COMMIT_TO_REF", head)
    monkeypatch.chdir(target)
    assert main(["--format", "json"]) == 1
    assert '"rule": "subprocess"' in capsys.readouterr().out


def test_hook_revisions_fall_back_to_the_staged_change():
    assert hook_revisions({}) == ("HEAD", None)
    assert hook_revisions({"PRE_COMMIT_FROM_REF": "a" * 40, "PRE_COMMIT_TO_REF": "b" * 40}) == ("a" * 40, "b" * 40)
    # A deleted branch (no commit on one side) is not a range to check.
    assert hook_revisions({"PRE_COMMIT_FROM_REF": "0" * 40, "PRE_COMMIT_TO_REF": "b" * 40}) == ("HEAD", None)


def test_staged_diff_is_the_index_not_the_work_tree(target, env):
    edit(target, *BENIGN)
    git(target, "add", "train.py", env=env)
    edit(target, *HOSTILE)
    diff = staged_diff(target)
    assert "2.0 * x" in diff and "subprocess" not in diff
    assert staged_patch(target).paths == ("train.py",)


def test_staged_diff_before_the_first_commit_and_with_nothing_staged(tmp_path, env):
    from sandbox import PatchError

    repo = write_tree(tmp_path / "new", {"a.py": "X = 1\n"})
    git(repo, "init", "-q", "-b", "main", env=env)
    with pytest.raises(PatchError, match="nothing is staged"):
        staged_diff(repo)
    git(repo, "add", "a.py", env=env)
    assert "+X = 1" in staged_diff(repo) and EMPTY_TREE not in staged_diff(repo)
