"""Hostile runtime behaviour inside a worker: each gives a named death (or an honest RAISED), never RETURNED."""

from __future__ import annotations

import os
import textwrap

import pytest

from sandbox._workers import IsolatedExecutor, isolation_layers
from tests.conftest import snapshot
from verifiers import OutcomeKind

LAYERS = isolation_layers()
EVIL = '''
    import os, sys

    REPO = {repo!r}

    def honest(x):
        return x

    def exit_zero():
        sys.exit(0)

    def hard_exit():
        os._exit(0)

    def spin():
        while True:
            pass

    def burn():
        import time
        end = time.monotonic() + 30
        while time.monotonic() < end:
            pass

    def hog():
        chunks = []
        while True:
            chunks.append(bytearray(64 * 1024 * 1024))

    def fork_bomb():
        while True:
            os.fork()

    def raw_fork():
        import _posixsubprocess
        return _posixsubprocess.fork_exec(
            [b"/bin/true"], [b"/bin/true"], True, (), None, None, -1, -1, -1, -1, -1, -1,
            *os.pipe(), False, False, -1, None, None, None, -1, None, False)

    def write_outside(path):
        with open(path, "w") as handle:
            handle.write("pwned")
        return "written"

    def swallow(action, *args):
        try:
            globals()[action](*args)
        except BaseException:
            pass
        return "PASSED"

    def connect():
        import socket
        socket.create_connection(("127.0.0.1", 9), timeout=1)

    def spawn():
        import subprocess
        return subprocess.run(["/bin/true"]).returncode

    def system():
        return os.system("true")

    def use_ctypes():
        import ctypes
        return ctypes.CDLL(None).getpid()

    def print_passed():
        print("PASSED")
        print("\\x00\\x00\\x00\\x2a" + '{{"seq":1,"kind":"returned","value":"1"}}')
        sys.stdout.flush()
        raise ValueError("really failed")

    def fake_frames(then_exit):
        import json, struct
        body = json.dumps({{"seq": 1, "token": "0" * 32, "kind": "returned",
                            "value": "1", "args_after": "{{\\"$tuple\\":[]}}"}}).encode()
        for fd in range(3, 64):
            try:
                os.write(fd, struct.pack(">I", len(body)) + body)
            except OSError:
                pass
        if then_exit:
            os._exit(0)
        return 1

    def close_fds():
        os.closerange(3, 4096)
        return 1

    def second_hook():
        sys.addaudithook(lambda event, args: None)
        return 1

    def kill_parent():
        os.kill(os.getppid(), 9)
        return 1

    def read_live():
        with open(os.path.join(REPO, "evil.py")) as handle:
            return handle.read()[:10]
'''
EXIT_AT_IMPORT = "import sys\nsys.exit(0)\ndef f():\n    return 1\n"
HARD_EXIT_AT_IMPORT = "import os\nos._exit(0)\ndef f():\n    return 1\n"


@pytest.fixture
def repo(make_repo):
    return make_repo({"evil.py": "def honest(x):\n    return x\n"})


@pytest.fixture
def run(repo):
    opened = []

    def run(function, *args, module="evil", source=None, **options):
        after = {"evil.py": textwrap.dedent(EVIL.format(repo=str(repo))).lstrip("\n")}
        if source is not None:
            after[f"{module}.py"] = source
        options.setdefault("timeout", 3)
        ex = IsolatedExecutor(repo, {"evil.py": (repo / "evil.py").read_text()}, after, **options)
        opened.append(ex)
        outcome = ex.call("new", f"{module}:{function}", args, {})
        assert outcome.kind is not OutcomeKind.RETURNED or outcome.value != "PASSED"
        return outcome

    before = snapshot(repo)
    yield run
    for ex in opened:
        ex.close()
    assert snapshot(repo) == before


def assert_died(outcome, reason):
    assert (outcome.kind, outcome.error_type) == (OutcomeKind.DIED, reason), outcome
    return outcome.message


def test_sys_exit_in_the_function_is_an_honest_raise(run):
    outcome = run("exit_zero")
    assert (outcome.kind, outcome.error_type) == (OutcomeKind.RAISED, "builtins.SystemExit")


def test_sys_exit_at_import_is_an_honest_raise(run):
    outcome = run("f", module="quitter", source=EXIT_AT_IMPORT)
    assert (outcome.kind, outcome.error_type) == (OutcomeKind.RAISED, "builtins.SystemExit")


def test_hard_exit_in_the_function(run):
    assert "status 0" in assert_died(run("hard_exit"), "exit")


def test_hard_exit_at_import(run):
    assert_died(run("f", module="quitter", source=HARD_EXIT_AT_IMPORT), "exit")


def test_infinite_loop_times_out(run):
    assert "1 s" in assert_died(run("spin", timeout=1), "timeout")


def test_cpu_limit(run):
    assert "CPU" in assert_died(run("burn", timeout=15, cpu_seconds=1), "cpu")


def test_memory_bomb(run):
    assert_died(run("hog", memory_mb=512), "memory")


def test_fork_bomb_trips_the_hook(run):
    assert "os.fork" in assert_died(run("fork_bomb"), "audit")


@pytest.mark.skipif("seccomp" not in LAYERS, reason="needs seccomp")
def test_fork_that_bypasses_the_hook_is_stopped_by_seccomp(run):
    outcome = run("raw_fork")
    assert (outcome.kind, outcome.error_type) == (OutcomeKind.RAISED, "builtins.PermissionError"), outcome


def test_writing_outside_the_tree(run, repo):
    assert "open" in assert_died(run("write_outside", str(repo / "pwned.txt")), "audit")
    assert "open" in assert_died(run("write_outside", "/etc/pwned"), "audit")
    assert not os.path.exists("/etc/pwned")


def test_writing_into_the_tree_is_refused_where_it_is_the_bound_repository(run):
    outcome = run("write_outside", "scratch.txt")
    if "bubblewrap" in LAYERS:  # the tree is the repository, bound read-only: the hook names the write
        assert "scratch.txt" in assert_died(outcome, "audit")
    else:  # a private copy of the tree
        assert outcome.value == "written"


def test_writing_a_temporary_file_is_allowed(run):
    source = ("import os\nimport tempfile\n\n\ndef scratch():\n"
              "    path = os.path.join(tempfile.gettempdir(), 'scratch.txt')\n"
              "    with open(path, 'w') as handle:\n        handle.write('written')\n"
              "    with open(path) as handle:\n        return handle.read()\n")
    assert run("scratch", module="benign", source=source).value == "written"


@pytest.mark.parametrize("action", ["connect", "spawn", "system", "use_ctypes", "fork_bomb", "second_hook"])
def test_swallowing_the_tripwire_does_not_help(run, action):
    assert_died(run("swallow", action), "audit")


@pytest.mark.parametrize("action, event", [("connect", "socket."), ("spawn", "subprocess.Popen"),
                                           ("system", "os.system"), ("use_ctypes", "ctypes.dlopen"),
                                           ("second_hook", "sys.addaudithook"), ("kill_parent", "os.kill")])
def test_forbidden_operations_are_named(run, action, event):
    assert event in assert_died(run(action), "audit")


def test_printing_passed_to_stdout_changes_nothing(run):
    outcome = run("print_passed")
    assert (outcome.kind, outcome.error_type) == (OutcomeKind.RAISED, "builtins.ValueError")


@pytest.mark.parametrize("then_exit", [False, True])
def test_fake_frames_on_the_protocol_pipe(run, then_exit):
    outcome = run("fake_frames", then_exit)
    assert outcome.kind is OutcomeKind.DIED and outcome.error_type in ("protocol", "exit")


def test_closing_every_descriptor(run):
    outcome = run("close_fds")
    assert outcome.kind is OutcomeKind.DIED and outcome.error_type in ("protocol", "exit")


def test_killing_the_parent_fails(run):
    assert_died(run("kill_parent"), "audit")
    assert_died(run("swallow", "kill_parent"), "audit")
    assert os.getppid() > 1


@pytest.mark.skipif("bubblewrap" not in LAYERS, reason="the live repository is hidden only under bubblewrap")
def test_the_live_repository_is_hidden(run):
    outcome = run("read_live")
    assert (outcome.kind, outcome.error_type) == (OutcomeKind.RAISED, "builtins.FileNotFoundError")


def test_honest_code_still_returns(run):
    assert run("honest", 41).value == 41


def test_lazy_caches_of_libraries_are_not_mistaken_for_monkeypatching(make_repo):
    from sandbox._workers import IsolatedExecutor

    root = make_repo({"m.py": "import sysconfig\n\ndef paths() -> int:\n    return len(sysconfig.get_paths())\n"})
    with IsolatedExecutor(root, {}, {}) as ex:
        outcome = ex.call("old", "m:paths", (), {})
    assert outcome.kind is OutcomeKind.RETURNED, outcome


def test_the_worker_shows_no_harness_to_detect(make_repo):
    from sandbox._workers import IsolatedExecutor

    probe = ("import os, sys\n\ndef seen() -> list:\n"
             "    mods = sorted(m for m in sys.modules if m.split('.')[0] in\n"
             "                  ('hypothesis', 'pytest', '_pytest', 'sandbox', 'verifiers', 'properties', 'z3')\n"
             "                  or m.startswith('_sbx'))\n"
             "    env = sorted(k for k in os.environ if k.startswith(('PYTEST', 'HYPOTHESIS', 'SANDBOX')))\n"
             "    return mods + env\n")
    root = make_repo({"m.py": probe})
    with IsolatedExecutor(root, {}, {}) as ex:
        old, new = ex.call("old", "m:seen", (), {}), ex.call("new", "m:seen", (), {})
    assert old.kind is OutcomeKind.RETURNED and (old.value, new.value) == ([], [])
