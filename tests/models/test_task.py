"""Tasks, paths, editable globs and proposals as plain data."""

from __future__ import annotations

import json

import pytest

from models import Proposal, Task, Usage
from models._paths import PathProblem, matches, normalise
from sandbox._patch import Patch


@pytest.mark.parametrize("raw, expected", [
    ("pkg/train.py", "pkg/train.py"), ("/repo/pkg/train.py", "pkg/train.py"),
    ("./pkg//train.py", "pkg/train.py"), ("/repo", ""), ("/repo/", ""),
])
def test_paths_are_repository_relative(raw, expected):
    assert normalise(raw) == expected


@pytest.mark.parametrize("raw, reason", [
    ("/etc/passwd", "is absolute"), ("/repository/x.py", "is absolute"),
    ("pkg/../../x", "'..' component"), (".git/config", "inside .git"), ("a\\b.py", "backslash"),
    ("a\nb.py", "control character"), (3, "must be a string"),
])
def test_paths_outside_the_repository_are_refused(raw, reason):
    with pytest.raises(PathProblem, match=reason):
        normalise(raw)


@pytest.mark.parametrize("path, patterns, expected", [
    ("src/a.py", ["src/*.py"], True),
    ("src/deep/a.py", ["src/*.py"], False),       # '*' does not cross '/'
    ("src/deep/a.py", ["src/**/*.py"], True),
    ("src/a.py", ["src/**/*.py"], True),
    ("src/a.pyc", ["src/*.py"], False),
    ("lib/x/y.txt", ["lib/"], True),
    ("library.py", ["lib/"], False),              # a directory prefix is a whole component
    ("lib", ["lib/"], False),
    ("train.py", ["train.py"], True),
    ("train.py.bak", ["train.py"], False),
    ("src/b.py", ["src/[ab].py"], True),
    ("src/c.py", ["src/[!ab].py"], True),
    ("", ["**"], False),
])
def test_editable_globs(path, patterns, expected):
    assert matches(path, patterns) is expected


def test_a_task_is_frozen_plain_data_and_validates_its_inputs():
    task = Task(goal="g", files={"/repo/a.py": "A\n"}, editable=["a.py"], feedback=["no"])
    assert dict(task.files) == {"a.py": "A\n"} and task.editable == ("a.py",) and task.feedback == ("no",)
    with pytest.raises(TypeError):
        task.files["b.py"] = "x"  # type: ignore[index]
    assert task.outside(["a.py", "b.py", "b.py"]) == ("b.py",)


@pytest.mark.parametrize("options, reason", [
    ({"goal": " "}, "needs a goal"),
    ({"editable": "src/*.py"}, "not one string"),
    ({"editable": ["/abs"]}, "repository-relative"),
    ({"editable": ["../x"]}, "repository-relative"),
    ({"editable": ["src/[ab.py"]}, "unclosed"),
    ({"files": {"../x": "t"}}, "'..' component"),
    ({"files": {"a.py": "1", "./a.py": "2"}}, "given twice"),
    ({"feedback": "one string"}, "sequence of strings"),
])
def test_bad_tasks_are_refused(options, reason):
    with pytest.raises(ValueError, match=reason):
        Task(**{"goal": "g", **options})


def test_a_proposal_converts_to_the_json_files_patch():
    proposal = Proposal(source="s", files={"b.py": None, "a.py": "A\n"}, usage=Usage(1, 2, 3, 4, 1))
    assert json.loads(proposal.to_patch()) == {"files": {"a.py": "A\n", "b.py": None}}
    assert Patch.load(proposal.to_patch()).paths == ("a.py", "b.py") and proposal.paths == ("a.py", "b.py")
    assert proposal.usage.to_json() == {"input_tokens": 1, "output_tokens": 2, "cache_read_input_tokens": 3,
                                        "cache_creation_input_tokens": 4, "requests": 1}


def test_a_proposal_must_change_something_and_carry_one_form():
    with pytest.raises(ValueError, match="must change something"):
        Proposal(source="s")
    with pytest.raises(ValueError, match="not both"):
        Proposal(source="s", files={"a.py": "x"}, diff="--- a\n")
