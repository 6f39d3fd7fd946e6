"""The objective runs confined on a fresh copy: no secrets, no network, no writes outside its copy."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from sandbox._workers import isolation_layers
from sandbox.loop import Objective, ObjectiveError
from sandbox.loop._objective import parse_metric
from tests.conftest import snapshot, write_tree

BUBBLEWRAP = pytest.mark.skipif("bubblewrap" not in isolation_layers(),
                                reason="needs bubblewrap (apt-get install bubblewrap): only it hides the live tree")


def test_the_last_number_printed_counts():
    assert parse_metric("epoch 1 loss 0.5\nepoch 2 loss 0.25\n") == 0.25
    assert parse_metric("score: -1.5e-3 (best)") == -1.5e-3
    assert parse_metric("acc=0.9 loss=0.3", r"acc=([0-9.]+)") == 0.9
    assert parse_metric("a 1\na 2\n", r"a \d") == 2.0


def test_no_number_or_no_match_is_a_clear_error():
    with pytest.raises(ObjectiveError, match="printed no number"):
        parse_metric("all done\n")
    with pytest.raises(ObjectiveError, match="matches nothing"):
        parse_metric("loss 3\n", r"acc=(\d+)")
    with pytest.raises(ObjectiveError, match="not a number"):
        parse_metric("acc=high\n", r"acc=(\w+)")


def test_a_failing_or_slow_objective_is_an_error_with_its_output(tmp_path):
    repo = write_tree(tmp_path / "repo", {"fail.py": "import sys\nprint('boom', file=sys.stderr)\nsys.exit(3)\n",
                                          "slow.py": "import time\ntime.sleep(30)\n"})
    with pytest.raises(ObjectiveError, match=r"(?s)exited with status 3.*boom"):
        Objective("python fail.py").measure(repo)
    with pytest.raises(ObjectiveError, match="ran past its time limit of 1 s"):
        Objective("python slow.py", timeout=1).measure(repo)


def test_it_runs_the_gates_interpreter_in_a_copy_with_the_overlay(tmp_path):
    repo = write_tree(tmp_path / "repo", {"obj.py": "import sys, os, value\nprint(sys.prefix)\n"
                                                    "print(os.environ['SANDBOX_REPEAT'])\nprint(value.V)\n",
                                          "value.py": "V = 1.0\n"})
    before = snapshot(repo)
    objective = Objective("python obj.py")
    assert objective.measure_many(repo, 2, overlay={"value.py": "V = 2.5\n"}) == (2.5, 2.5)
    assert snapshot(repo) == before


def test_the_repeat_index_reaches_the_objective(tmp_path):
    repo = write_tree(tmp_path / "repo", {"obj.py": "import os\nprint(float(os.environ['SANDBOX_REPEAT']))\n"})
    assert Objective("python obj.py").measure_many(repo, 3) == (0.0, 1.0, 2.0)


def test_no_secret_reaches_the_objective(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret-value")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "also-secret")
    hostile = ("import os\nseen = [k for k in os.environ if 'KEY' in k or 'SECRET' in k]\n"
               "leaked = 'sk-ant-secret-value' in open('/proc/self/environ').read()\n"
               "print(len(seen) + leaked)\n")
    repo = write_tree(tmp_path / "repo", {"obj.py": hostile})
    assert Objective("python obj.py").measure(repo) == 0.0


def test_the_objective_has_no_network(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(5)
    port = server.getsockname()[1]
    accepted: list[object] = []

    def serve() -> None:
        try:
            accepted.append(server.accept())
        except OSError:
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    hostile = (f"import socket\ns = socket.socket()\ns.settimeout(3)\n"
               f"try:\n    s.connect(('127.0.0.1', {port}))\n    print(1)\nexcept OSError:\n    print(0)\n")
    repo = write_tree(tmp_path / "repo", {"obj.py": hostile})
    try:
        assert Objective("python obj.py").measure(repo) == 0.0
    finally:
        server.close()
        thread.join(timeout=6)
    assert accepted == []


@BUBBLEWRAP
def test_writes_outside_the_copy_reach_nothing(tmp_path):
    repo = write_tree(tmp_path / "repo", {"data.txt": "original\n", "train.py": "X = 1\n"})
    outside = tmp_path / "outside.txt"
    targets = [str(repo / "data.txt"), str(repo / "train.py"), str(outside), "/etc/sbx-test", "/usr/sbx-test"]
    hostile = (f"for target in {targets!r}:\n"
               f"    try:\n        open(target, 'a').write('pwned')\n    except OSError:\n        pass\n"
               f"open('data.txt', 'w').write('changed in the copy')\nprint(0)\n")
    write_tree(repo, {"obj.py": hostile})
    before = snapshot(repo)
    assert Objective("python obj.py").measure(repo) == 0.0
    assert snapshot(repo) == before
    assert not outside.exists()
    assert not Path("/etc/sbx-test").exists() and not Path("/usr/sbx-test").exists()


def test_resource_limits_apply_to_the_objective(tmp_path):
    probe = ("import resource\ncpu = resource.getrlimit(resource.RLIMIT_CPU)[0]\n"
             "mem = resource.getrlimit(resource.RLIMIT_AS)[0]\nprint(cpu if mem == 512 * 1024 * 1024 else -1)\n")
    repo = write_tree(tmp_path / "repo", {"obj.py": probe})
    assert Objective("python obj.py", timeout=7, memory_mb=512).measure(repo) == 8.0
