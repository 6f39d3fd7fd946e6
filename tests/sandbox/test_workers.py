"""The isolated executor: both sides see the right code, values cross intact, the live tree is untouched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import sandbox._workers as workers
from sandbox._workers import IsolatedExecutor, IsolationError, isolation_layers
from sandbox._workers import _launch, _tree
from tests.conftest import snapshot
from verifiers import Executor, OutcomeKind
from verifiers._values import Construct, Opaque

BEFORE = {
    "pkg/__init__.py": "",
    "pkg/calc.py": '''
        def inc(x):
            return x + 1

        def fail(x):
            raise ValueError(f"bad {x}")

        class Counter:
            def __init__(self, start):
                self.start = start

            def bump(self, by):
                return self.start + by

        def push(items, box):
            items.append(box.start)
            return len(items)

        def write_here(name):
            with open(name, "w") as handle:
                handle.write("scratch")
            return open(name).read()

        def threads():
            import threading
            out = []
            worker = threading.Thread(target=out.append, args=(7,))
            worker.start()
            worker.join()
            return out

        def hashes():
            return hash("abc")
    ''',
    "pkg/gone.py": "VALUE = 1\n",
}
NEW_CALC = BEFORE["pkg/calc.py"].replace("return x + 1", "return x + 2")
REDUCED = ("rlimits", "audit-hook")


@pytest.fixture
def repo(make_repo):
    return make_repo(BEFORE)


def _executor_for(repo: Path, **options) -> IsolatedExecutor:
    import textwrap

    before = {rel: (repo / rel).read_text() for rel in BEFORE}
    after = {"pkg/__init__.py": "", "pkg/calc.py": textwrap.dedent(NEW_CALC).lstrip("\n"),
             "pkg/fresh.py": "def hello():\n    return 'new module'\n"}
    return IsolatedExecutor(repo, before, after, timeout=10, **options)


@pytest.fixture
def executor(repo):
    with _executor_for(repo) as ex:
        yield ex


def test_public_surface_is_exact():
    assert workers.__all__ == ["IsolatedExecutor", "IsolationError", "isolation_layers"]
    assert issubclass(IsolationError, workers._executor.GateError)


def test_it_is_an_executor(executor):
    assert isinstance(executor, Executor)


def test_old_and_new_sides_run_their_own_code(executor):
    assert executor.call("old", "pkg.calc:inc", (1,), {}).value == 2
    assert executor.call("new", "pkg.calc:inc", (1,), {}).value == 3


def test_deleted_and_created_modules(executor):
    assert executor.call("old", "pkg.gone:VALUE.__class__", ("5",), {}).value == 5
    gone = executor.call("new", "pkg.gone:VALUE.__class__", ("5",), {})
    assert gone.kind is OutcomeKind.RAISED and gone.error_type == "builtins.ModuleNotFoundError"
    assert executor.call("new", "pkg.fresh:hello", (), {}).value == "new module"
    assert executor.call("old", "pkg.fresh:hello", (), {}).error_type == "builtins.ModuleNotFoundError"


@pytest.mark.parametrize("value", [None, True, -(2**70), 0.1, float("-inf"), -0.0, 1 + 2j, b"\x00",
                                   bytearray(b"ab"), "é", (1, [2, {3: (4,)}]), {1, 2}, frozenset({"a"})])
def test_values_round_trip(executor, value):
    outcome = executor.call("old", "builtins:tuple", ([value],), {})
    assert outcome.kind is OutcomeKind.RETURNED
    assert outcome.value == (value,) and type(outcome.value[0]) is type(value)


def test_exceptions_come_back_as_type_and_message(executor):
    outcome = executor.call("old", "pkg.calc:fail", (3,), {})
    assert (outcome.kind, outcome.error_type, outcome.message) == (OutcomeKind.RAISED, "builtins.ValueError", "bad 3")


def test_constructs_are_built_for_arguments_and_receivers(executor):
    method = executor.call("old", "pkg.calc:Counter.bump", (), {"by": 5}, receiver=Construct("pkg.calc:Counter", (10,)))
    assert method.value == 15
    pushed = executor.call("old", "pkg.calc:push", ([1], Construct("pkg.calc:Counter", (9,))), {})
    assert pushed.value == 2
    assert pushed.args_after[0] == [1, 9]
    assert pushed.args_after[1] == Opaque("pkg.calc.Counter", (("start", 9),))


def test_workers_are_reused_and_started_lazily(executor):
    assert executor._worker_pid("old") is None and executor._root is None
    executor.call("old", "pkg.calc:inc", (1,), {})
    pid = executor._worker_pid("old")
    for n in range(5):
        assert executor.call("old", "pkg.calc:inc", (n,), {}).value == n + 1
    assert executor._worker_pid("old") == pid
    assert executor._worker_pid("new") is None


def test_prestarted_workers_serve_the_first_calls_and_answer_as_lazily_started_ones(repo):
    with _executor_for(repo) as ex:
        ex.prestart()
        for thread in ex._prestarts:
            thread.join(timeout=60)
        pids = {side: ex._worker_pid(side) for side in ("old", "new")}
        assert None not in pids.values()
        assert ex.call("old", "pkg.calc:inc", (1,), {}).value == 2
        assert ex.call("new", "pkg.fresh:hello", (), {}).value == "new module"
        assert {side: ex._worker_pid(side) for side in ("old", "new")} == pids  # the same processes
        assert ex.deaths == ()


def test_closing_while_workers_prestart_leaves_no_worker_running(repo):
    ex = _executor_for(repo)
    ex.prestart()
    ex.close()  # at once: the starts are under way
    for thread in ex._prestarts:
        assert not thread.is_alive()
    assert ex._workers == {}
    assert ex._worker_pid("old") is None and ex._worker_pid("new") is None


def test_dead_worker_is_restarted_and_reported(executor):
    executor.call("old", "pkg.calc:inc", (1,), {})
    first = executor._worker_pid("old")
    died = executor.call("old", "os:_exit", (3,), {})
    assert died.kind is OutcomeKind.DIED and died.error_type == "exit"
    assert executor.call("old", "pkg.calc:inc", (1,), {}).value == 2
    assert executor._worker_pid("old") != first
    assert len(executor.deaths) == 1 and executor.deaths[0].startswith("old: exit:")


def test_restarts_are_limited(executor, monkeypatch):
    monkeypatch.setattr(_launch, "MAX_STARTS", 2)
    for _ in range(2):
        assert executor.call("old", "os:_exit", (0,), {}).error_type == "exit"
    limited = executor.call("old", "pkg.calc:inc", (1,), {})
    assert limited.kind is OutcomeKind.DIED and "not restarting" in limited.message


def test_live_tree_is_never_written(repo):
    before = snapshot(repo)
    with _executor_for(repo) as ex:
        first = ex.call("new", "pkg.calc:write_here", ("out.txt",), {})
        second = ex.call("old", "pkg.calc:write_here", ("pkg/calc.py",), {})
        if "bubblewrap" in isolation_layers():
            # The tree is the repository bound read-only: a write into it is refused, by path.
            for outcome, name in ((first, "out.txt"), (second, "pkg/calc.py")):
                assert (outcome.kind, outcome.error_type) == (OutcomeKind.DIED, "audit"), outcome
                assert name in outcome.message
        else:  # a private copy: the write lands there
            assert first.value == second.value == "scratch"
    assert snapshot(repo) == before


def test_close_removes_the_temporary_trees(repo):
    ex = _executor_for(repo)
    ex.call("old", "pkg.calc:inc", (1,), {})
    ex.call("new", "pkg.calc:inc", (1,), {})
    root = ex._root
    # The new side's added file: in its copy, or in the shadow of pkg/ laid over the bound repository.
    assert (root / "new" / "tree" / "pkg" / "fresh.py").is_file() or \
        any((root / "new-view" / "shadow").glob("*/fresh.py"))
    ex.close()
    assert not root.exists()
    assert ex._worker_pid("old") is None


def test_threads_work_and_hashing_is_deterministic(executor):
    assert executor.call("old", "pkg.calc:threads", (), {}).value == [7]
    assert executor.call("old", "pkg.calc:hashes", (), {}).value == executor.call("new", "pkg.calc:hashes", (), {}).value


def test_isolation_names_the_layers(executor):
    layers = isolation_layers()
    assert set(REDUCED) <= set(layers)
    text = executor.isolation
    for name in ("seccomp", "rlimits", "audit-hook"):
        assert (name in text) == (name in layers)
    if "bubblewrap" in layers and "seccomp" in layers:
        assert text.startswith("bubblewrap") and "REDUCED" not in text
    else:
        assert text.startswith("REDUCED")


def test_strict_mode_refuses_without_bubblewrap(repo):
    with pytest.raises(IsolationError, match="bubblewrap and seccomp unavailable.*apt-get install bubblewrap"):
        _executor_for(repo, strict=True, _layers=REDUCED)


@pytest.mark.skipif("bubblewrap" not in isolation_layers() or "seccomp" not in isolation_layers(),
                    reason="needs bubblewrap and seccomp")
def test_strict_mode_runs_when_everything_is_there(repo):
    with _executor_for(repo, strict=True) as ex:
        assert ex.call("new", "pkg.calc:inc", (1,), {}).value == 3
        assert ex.call("old", "os:getuid", (), {}).value == (65534 if os.geteuid() == 0 else os.geteuid())


@pytest.mark.parametrize("layers", [REDUCED, ("unshare", *REDUCED)])
def test_fallback_path_works_and_says_reduced(repo, layers):
    if "unshare" in layers and "unshare" not in isolation_layers() and "bubblewrap" not in isolation_layers():
        pytest.skip("unshare is not permitted here")
    with _executor_for(repo, _layers=layers) as ex:
        assert ex.isolation.startswith("REDUCED: no bubblewrap or seccomp")
        assert ex.call("new", "pkg.calc:inc", (1,), {}).value == 3
        assert ex.call("old", "pkg.calc:fail", (1,), {}).kind is OutcomeKind.RAISED
        assert ex.call("new", "socket:socket", (), {}).error_type == "audit"


def test_tree_copy_skips_what_it_should(tmp_path):
    repo = tmp_path / "repo"
    for rel in ("a.py", ".git/HEAD", ".sandbox/x", "venv/pyvenv.cfg", "venv/lib/x.py", "p/__pycache__/a.pyc",
                "node_modules/m.js", "p/b.py"):
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text("x")
    (repo / "big.bin").write_bytes(b"0" * (_tree.MAX_FILE_BYTES + 1))
    (repo / "link.py").symlink_to(repo / "a.py")
    (repo / "linkdir").symlink_to(repo / "p")
    count = _tree.copy_tree(repo, tmp_path / "copy", {"p/new.py": "y"}, frozenset({"p/b.py"}))
    files = sorted(p.relative_to(tmp_path / "copy").as_posix() for p in (tmp_path / "copy").rglob("*") if p.is_file())
    assert files == ["a.py", "p/new.py"] and count == 2
    with pytest.raises(ValueError, match="not a relative path"):
        _tree.copy_tree(repo, tmp_path / "copy2", {"../escape.py": ""})


def test_unknown_side_is_a_usage_error(executor):
    with pytest.raises(ValueError, match="side must be"):
        executor.call("middle", "pkg.calc:inc", (1,), {})


def test_forgotten_executor_cleans_up(repo):
    import gc

    ex = _executor_for(repo)
    ex.call("old", "pkg.calc:inc", (1,), {})
    root, proc = ex._root, ex._workers["old"].proc
    del ex
    gc.collect()
    assert not root.exists() and proc.poll() is not None


def test_the_worker_runs_this_interpreter_with_its_own_stdlib_and_packages(executor):
    # bubblewrap used to create the parents of bind mounts with mode 0700: the dropped uid then
    # fell back silently to another Python's standard library and lost the venv's packages.
    import sys

    probe = executor.call("old", "importlib.util:find_spec", ("pyseccomp",), {})
    assert probe.kind is OutcomeKind.RETURNED and probe.value is not None, probe
    assert "[" not in executor.isolation.split("audit-hook")[-1], executor.isolation  # no load warnings
    paths = executor.call("old", "sysconfig:get_paths", (), {}).value
    assert paths["stdlib"] == __import__("sysconfig").get_paths()["stdlib"]
    assert paths["purelib"] == __import__("sysconfig").get_paths()["purelib"] and sys.prefix in paths["purelib"]


def test_our_own_packages_are_reachable_inside_the_sandbox():
    # An editable install keeps them in the checkout, which may lie under the hidden /tmp or home.
    import sys

    import verifiers
    from sandbox._workers import _isolation

    here = os.path.realpath(verifiers.__path__[0])
    dirs = _isolation._interpreter_dirs()
    assert here in dirs or any(here.startswith(d + os.sep) for d in dirs if d.startswith(sys.prefix))


def test_concurrent_calls_each_get_their_own_answer(executor):
    # The gate runs obligations on threads (``jobs > 1``) against one executor: requests and
    # answers on a side's pipe must never interleave or reach another caller.
    from concurrent.futures import ThreadPoolExecutor

    def call(n: int) -> tuple[int, int, object, object]:
        side = ("old", "new")[n % 2]
        return n, n % 2, executor.call(side, "pkg.calc:inc", (n,), {}).value, side

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(call, range(200)))
    assert all(value == n + 1 + parity for n, parity, value, _ in answers), answers[:5]
    assert executor.deaths == ()


def test_a_worker_started_from_a_short_lived_thread_outlives_it(executor):
    # bubblewrap's --die-with-parent follows the thread that started it, not the process.
    import threading
    import time

    first = threading.Thread(target=executor.call, args=("old", "pkg.calc:inc", (1,), {}))
    first.start()
    first.join()
    time.sleep(0.3)
    assert executor.call("old", "pkg.calc:inc", (1,), {}).value == 2
    assert executor.deaths == ()
