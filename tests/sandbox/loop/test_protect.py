"""Which files are the measuring apparatus, and what stays editable once they are left out."""

from __future__ import annotations

import pytest

from sandbox.loop._protect import editable_paths, objective_files
from sandbox.loop._settings import improve_table
from sandbox._errors import ConfigError
from tests.conftest import write_tree


@pytest.fixture
def repo(tmp_path):
    return write_tree(tmp_path / "repo", {
        "eval/run.py": "from eval import metrics\nfrom .scoring import score\nimport train\n",
        "eval/__init__.py": "",
        "eval/metrics.py": "import helpers.stats\n",
        "eval/scoring.py": "",
        "helpers/__init__.py": "", "helpers/stats.py": "", "train.py": "import model\n", "model.py": "",
        "score.sh": "python eval/run.py\n", "other.py": "",
    })


def test_the_script_and_its_imports_outside_the_editable_paths(repo):
    found = objective_files("python eval/run.py --fast", repo, ("train.py", "model.py"))
    assert found == ("eval/__init__.py", "eval/metrics.py", "eval/run.py", "eval/scoring.py",
                     "helpers/__init__.py", "helpers/stats.py")
    # Without editable paths, everything it imports is apparatus, train.py and model.py included.
    assert {"train.py", "model.py"} <= set(objective_files("python eval/run.py", repo))


def test_modules_and_shell_scripts_are_found(repo):
    assert "eval/run.py" in objective_files("python -m eval.run", repo, ("train.py",))
    assert objective_files("sh score.sh", repo) == ("score.sh",)
    assert objective_files("echo 1", repo) == ()
    assert objective_files("python /etc/passwd", repo) == ()


def test_editable_globs_that_cover_protected_files_are_narrowed(repo):
    chosen = editable_paths(repo, ("*.py", "eval/"), ("eval/run.py", "eval/metrics.py"))
    assert "*.py" in chosen.patterns  # it covers no protected file (* stays inside one component)
    assert "eval/" not in chosen.patterns and "eval/scoring.py" in chosen.patterns
    assert "eval/run.py" not in chosen.patterns
    assert any("eval/" in note and "narrowed" in note for note in chosen.notes)


def test_the_default_is_every_python_file_not_protected(repo):
    chosen = editable_paths(repo, (), ("eval/run.py",), lambda path: path.startswith("helpers/"))
    assert "train.py" in chosen.patterns and "eval/run.py" not in chosen.patterns
    assert not any(p.startswith("helpers/") for p in chosen.patterns)


def test_the_improve_table_is_read_and_checked(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.sandbox.improve]\nobjective = "python eval.py"\neditable = "train.py"\nrepeats = 5\n')
    assert improve_table(tmp_path) == {"objective": "python eval.py", "editable": ("train.py",), "repeats": 5}
    (tmp_path / "pyproject.toml").write_text('[tool.sandbox.improve]\nrepeat = 5\n')
    with pytest.raises(ConfigError, match="unknown key 'repeat'"):
        improve_table(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.sandbox.improve]\nrepeats = "five"\n')
    with pytest.raises(ConfigError, match="wrong type"):
        improve_table(tmp_path)
