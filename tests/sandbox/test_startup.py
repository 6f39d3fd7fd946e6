"""Start-up is not the code under test: worker starts and imports never count against call_timeout.

A slow start (a loaded machine, an import that waits) is imported before the call's clock
starts, retried once in a fresh worker when the wall clock stops it, and is then a ``startup``
death, which no verifier refutes on; a start-up that burns CPU past its budget stays a death
with its own reason.  Each hostile or slow pattern has a quick look-alike that must run.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path

import pytest

from sandbox._workers import IsolatedExecutor, _imports, _isolation, _launch
from sandbox._workers._startup import call_modules
from verifiers import Executor, OutcomeKind
from verifiers._values import Construct, TensorData

FILES = {
    "quick.py": ("def f(x):\n    return x + 1\n\ndef unwrap(box):\n    return box.v\n\n"
                 "def lazy():\n    import sleepy\n    return sleepy.f(1)\n"),
    # Sleeps past call_timeout at import, using almost no CPU: what a loaded machine looks like.
    "sleepy.py": "import time\ntime.sleep(1.0)\n\ndef f(x):\n    return x + 1\n\n"
                 "class Box:\n    def __init__(self, v):\n        self.v = v\n",
    "hang.py": "import time\ntime.sleep(120)\n\ndef f(x):\n    return x\n",
    "spin.py": "while True:\n    pass\n",
    # Hangs at its first import on a side only (the side's temporary directory outlives workers):
    # a start-up that a retry in a fresh worker gets through.
    "once.py": ("import os, time\nMARK = os.path.join(os.environ['TMPDIR'], 'once-started')\n"
                "if not os.path.exists(MARK):\n    open(MARK, 'w').close()\n    time.sleep(120)\n\n"
                "def f(x):\n    return x * 3\n"),
    # Behaves at its first import on a side, runs a shell at the next: repeated start-ups must see it.
    "sleeper.py": ("import os\nMARK = os.path.join(os.environ['TMPDIR'], 'sleeper-seen')\n"
                   "if os.path.exists(MARK):\n    os.system('true')\nelse:\n    open(MARK, 'w').close()\n\n"
                   "def f(x):\n    return x\n"),
    "boot.py": ("import time\n\nSTATE = []\n\ndef nap(seconds):\n    time.sleep(seconds)\n    return 'ready'\n\n"
                "def prepare():\n    STATE.append(1)\n    time.sleep(1.0)\n    return 'ready'\n\n"
                "def prepared():\n    return len(STATE)\n\n"
                "def burn():\n    while True:\n        pass\n\n"
                "def shell():\n    import os\n    return os.system('true')\n"),
}


@pytest.fixture
def repo(make_repo) -> Path:
    return make_repo(FILES)


def _workers(repo: Path, timeout: float, touched: tuple[str, ...] = ()) -> IsolatedExecutor:
    """Workers for ``repo``; ``touched`` files differ between the sides (new adds a trailing comment)."""
    before = {name: FILES[name] for name in touched}
    after = {name: FILES[name] + "# new\n" for name in touched}
    return IsolatedExecutor(repo, before, after, timeout=timeout)


def _deaths(executor: IsolatedExecutor, side: str, reason: str) -> list[str]:
    return [d for d in executor.deaths if d.startswith(f"{side}: {reason}:")]


# -- what a call needs imported -----------------------------------------------------------------

def test_call_modules_are_the_target_then_the_factories_then_numpy_for_arrays():
    box = Construct("pkg.box:Box", (Construct("pkg.inner:Inner", (1,)),), (("tag", Construct("pkg.tag:Tag")),))
    assert call_modules("pkg.calc:inc", (box, [Construct("pkg.calc:Other")]), {"k": {1: box}},
                        Construct("pkg.recv:R")) == ("pkg.calc", "pkg.box", "pkg.inner", "pkg.tag", "pkg.recv")
    np = pytest.importorskip("numpy")
    assert call_modules("m:f", (np.zeros(2),), {}, None) == ("m", "numpy")
    assert call_modules("m:f", (TensorData("torch.Tensor", "float32", np.zeros(2)),), {}, None) == ("m", "numpy")
    assert call_modules("m:f", (1, "numpy"), {}, None) == ("m",)
    assert call_modules("bad target:f", (), {}, None) == ()


# -- slow imports are start-up, not the call --------------------------------------------------------

def test_an_untouched_module_slower_than_call_timeout_to_import_still_runs(repo):
    with _workers(repo, timeout=0.6) as executor:
        outcome = executor.call("new", "sleepy:f", (1,), {})
        assert outcome.kind is OutcomeKind.RETURNED and outcome.value == 2, outcome
        # The Outcome's seconds are the call's own, not the 1 s import before it.
        assert outcome.seconds < 0.6, outcome.seconds
        assert executor.deaths == ()


def test_a_touched_module_slower_than_call_timeout_to_import_still_runs(repo):
    # Its measured import comes first in the worker; that time is not the call's either.
    with _workers(repo, timeout=0.6, touched=("sleepy.py",)) as executor:
        for side in ("old", "new"):
            outcome = executor.call(side, "sleepy:f", (1,), {})
            assert outcome.kind is OutcomeKind.RETURNED and outcome.value == 2, outcome
        assert executor.deaths == ()


def test_a_factory_module_slow_to_import_is_imported_before_the_call(repo):
    with _workers(repo, timeout=0.6) as executor:
        outcome = executor.call("old", "quick:unwrap", (Construct("sleepy:Box", (7,)),), {})
        assert outcome.kind is OutcomeKind.RETURNED and outcome.value == 7, outcome


def test_a_quick_import_is_not_retried_or_reported(repo):
    with _workers(repo, timeout=1.0) as executor:
        assert executor.call("new", "quick:f", (1,), {}).value == 2
        pid = executor._worker_pid("new")
        assert executor.call("new", "quick:f", (2,), {}).value == 3
        assert executor._worker_pid("new") == pid and executor.deaths == ()


@pytest.mark.slow
def test_an_import_that_outlives_its_wall_limit_twice_is_a_startup_death(repo):
    with _workers(repo, timeout=0.5) as executor:
        outcome = executor.call("new", "hang:f", (1,), {})
        assert outcome.kind is OutcomeKind.DIED and outcome.error_type == "startup", outcome
        for part in ("could not start", "importing hang", "s wall", "CPU", "twice", "machine loaded?", "call_timeout"):
            assert part in outcome.message, (part, outcome.message)
        assert outcome.cpu_seconds is not None and outcome.cpu_seconds < 0.5, outcome
        # Tried in two workers, each stopped by the wall clock (1.5 s), and no more.
        assert len(_deaths(executor, "new", "timeout")) == 2, executor.deaths
        started = time.monotonic()
        again = executor.call("new", "hang:f", (2,), {})
        assert again == outcome and time.monotonic() - started < 1.0
        assert len(_deaths(executor, "new", "timeout")) == 2
        # The other side, and other modules on this side, are unaffected.
        assert executor.call("new", "quick:f", (1,), {}).value == 2


@pytest.mark.slow
def test_a_touched_module_whose_measured_import_hangs_gets_one_more_try_then_startup(repo):
    with _workers(repo, timeout=0.5, touched=("hang.py",)) as executor:
        measured = executor.measure_import("new", "hang")
        assert measured.kind is OutcomeKind.DIED and measured.error_type == "timeout", measured
        outcome = executor.call("new", "hang:f", (1,), {})
        assert outcome.kind is OutcomeKind.DIED and outcome.error_type == "startup", outcome
        assert len(_deaths(executor, "new", "timeout")) == 2, executor.deaths


def test_an_import_stopped_once_by_the_wall_clock_gets_through_on_the_retry(repo):
    with _workers(repo, timeout=0.5) as executor:
        outcome = executor.call("new", "once:f", (2,), {})
        assert outcome.kind is OutcomeKind.RETURNED and outcome.value == 6, outcome
        assert len(_deaths(executor, "new", "timeout")) == 1, executor.deaths


def test_a_touched_module_whose_measurement_was_stopped_once_is_measured_again(repo):
    with _workers(repo, timeout=0.5, touched=("once.py",)) as executor:
        measured = executor.measure_import("new", "once")
        assert measured.kind is OutcomeKind.RETURNED and not measured.already, measured
        assert executor.call("new", "once:f", (1,), {}).value == 3
        assert len(_deaths(executor, "new", "timeout")) == 1, executor.deaths


def test_an_import_that_busy_loops_past_its_cpu_budget_is_a_timeout_death_not_startup(repo, monkeypatch):
    # A wide wall limit, so the CPU budget decides even when other tests load this machine.
    monkeypatch.setattr(_imports, "_IMPORT_WALL", 30.0)
    with _workers(repo, timeout=0.5) as executor:
        outcome = executor.call("new", "spin:f", (1,), {})
        assert outcome.kind is OutcomeKind.DIED and outcome.error_type == "timeout", outcome
        assert "importing spin" in outcome.message and "budget" in outcome.message, outcome.message
        assert outcome.cpu_seconds is not None and outcome.cpu_seconds > 0.5, outcome
        # Its own doing: not retried, and a later call does not burn the budget again.
        assert len(executor.deaths) == 1, executor.deaths
        assert executor.call("new", "spin:f", (2,), {}) == outcome and len(executor.deaths) == 1


def test_a_touched_module_that_busy_loops_at_import_keeps_its_death(repo, monkeypatch):
    monkeypatch.setattr(_imports, "_IMPORT_WALL", 30.0)
    with _workers(repo, timeout=0.5, touched=("spin.py",)) as executor:
        outcome = executor.call("new", "spin:f", (1,), {})
        assert outcome.kind is OutcomeKind.DIED and outcome.error_type == "timeout", outcome
        assert "already died" in outcome.message and len(executor.deaths) == 1, executor.deaths


def test_an_import_that_raises_is_the_calls_answer(make_repo):
    repo = make_repo({"broken.py": "raise LookupError('no config')\n"})
    with IsolatedExecutor(repo, {}, {}, timeout=1.0) as executor:
        outcome = executor.call("new", "broken:f", (), {})
        assert outcome.kind is OutcomeKind.RAISED and outcome.error_type == "builtins.LookupError", outcome
        assert "no config" in outcome.message and executor.deaths == ()


# -- a call's own timeout ---------------------------------------------------------------------------

def test_a_call_timeout_carries_the_cpu_it_burned(repo):
    with _workers(repo, timeout=1.0) as executor:
        busy = executor.call("new", "boot:burn", (), {})
        idle = executor.call("new", "boot:nap", (30,), {})
    for outcome in (busy, idle):
        assert outcome.kind is OutcomeKind.DIED and outcome.error_type == "timeout", outcome
        assert outcome.cpu_seconds is not None, outcome
    # A busy loop burns what CPU it gets (less on a loaded machine), a sleep next to none.
    assert idle.cpu_seconds < 0.05 and busy.cpu_seconds > max(0.05, 5 * idle.cpu_seconds), (busy, idle)


# -- worker start ---------------------------------------------------------------------------------

def _slow_first_starts(monkeypatch, count: int, seconds: float) -> None:
    """The first ``count`` worker starts wait ``seconds`` before exec'ing the worker (little CPU)."""
    real, starts = _isolation.worker_argv, []

    def argv(*args, **kwargs):
        starts.append(1)
        command = real(*args, **kwargs)
        if len(starts) > count:
            return command
        return ["/bin/sh", "-c", f'sleep {seconds}; exec "$@"', "sh", *command]

    monkeypatch.setattr(_isolation, "worker_argv", argv)
    monkeypatch.setattr(_launch, "STARTUP_SECONDS", 2.0)


def test_a_start_that_times_out_is_retried_once(repo, monkeypatch):
    _slow_first_starts(monkeypatch, count=1, seconds=30)
    with _workers(repo, timeout=0.5) as executor:
        outcome = executor.call("new", "quick:f", (1,), {})
        assert outcome.kind is OutcomeKind.RETURNED and outcome.value == 2, outcome
        startups = _deaths(executor, "new", "startup")
        assert len(startups) == 1 and "not ready after 2 s wall" in startups[0], executor.deaths


@pytest.mark.slow
def test_a_start_that_times_out_twice_is_a_startup_death_with_both_figures(repo, monkeypatch):
    _slow_first_starts(monkeypatch, count=2, seconds=30)
    with _workers(repo, timeout=0.5) as executor:
        outcome = executor.call("new", "quick:f", (1,), {})
    assert outcome.kind is OutcomeKind.DIED and outcome.error_type == "startup", outcome
    assert outcome.message.count("not ready after 2 s wall") == 2 and "a second start" in outcome.message, outcome


# -- warm: start-up calls ----------------------------------------------------------------------------

def test_warm_is_optional_in_the_executor_protocol(repo):
    class Double:
        isolation = "none"

        def call(self, side, target, args, kwargs, *, receiver=None):
            raise NotImplementedError

    assert isinstance(Double(), Executor) and getattr(Double(), "warm", None) is None
    with _workers(repo, timeout=1.0) as executor:
        assert isinstance(executor, Executor) and callable(executor.warm)


def test_warm_lets_a_start_up_call_wait_past_call_timeout(repo):
    with _workers(repo, timeout=0.6) as executor:
        assert executor.call("new", "boot:nap", (1.0,), {}).error_type == "timeout"
        warmed = executor.warm("new", "boot:nap", (1.0,), {})
        assert warmed.kind is OutcomeKind.RETURNED and warmed.value == "ready", warmed
        # Once warm, the same worker serves calls.
        pid = executor._worker_pid("new")
        assert executor.call("new", "boot:nap", (0,), {}).value == "ready" and executor._worker_pid("new") == pid


@pytest.mark.slow
def test_a_restarted_worker_repeats_the_start_up_before_its_first_call(repo):
    # The touched module sleeps 1 s at import, the start-up call 1 s: both past call_timeout.
    with _workers(repo, timeout=0.6, touched=("sleepy.py",)) as executor:
        assert executor.warm("new", "boot:prepare", (), {}).value == "ready"
        assert executor.call("new", "quick:lazy", (), {}).value == 2
        assert executor.call("new", "os:_exit", (3,), {}).error_type == "exit"
        # A fresh worker: it imports sleepy and makes the start-up call again before this call.
        assert executor.call("new", "boot:prepared", (), {}).value == 1
        lazy = executor.call("new", "quick:lazy", (), {})
        assert lazy.kind is OutcomeKind.RETURNED and lazy.value == 2, lazy
        assert [d.split(":")[1].strip() for d in executor.deaths] == ["exit"], executor.deaths


def test_an_audit_trip_in_a_repeated_start_up_is_the_calls_death(repo):
    with _workers(repo, timeout=1.0, touched=("sleeper.py",)) as executor:
        assert executor.call("new", "sleeper:f", (5,), {}).value == 5
        assert executor.call("new", "os:_exit", (3,), {}).error_type == "exit"
        outcome = executor.call("new", "quick:f", (1,), {})
        assert outcome.kind is OutcomeKind.DIED and outcome.error_type == "audit", outcome
        assert "os.system" in outcome.message, outcome.message


def test_warm_that_burns_past_its_cpu_budget_is_startup_with_figures(repo, monkeypatch):
    monkeypatch.setattr(_imports, "_IMPORT_WALL", 30.0)
    with _workers(repo, timeout=0.5) as executor:
        outcome = executor.warm("old", "boot:burn", (), {})
    assert outcome.kind is OutcomeKind.DIED and outcome.error_type == "startup", outcome
    assert outcome.cpu_seconds is not None and outcome.cpu_seconds > 0.5, outcome
    assert "start-up call boot:burn" in outcome.message and "timeout" in outcome.message, outcome.message


@pytest.mark.slow
def test_warm_that_outlives_its_wall_limit_is_retried_once_then_startup(repo):
    with _workers(repo, timeout=0.5) as executor:
        outcome = executor.warm("new", "boot:nap", (60,), {})
        assert outcome.kind is OutcomeKind.DIED and outcome.error_type == "startup", outcome
        assert "twice" in outcome.message and "machine loaded?" in outcome.message, outcome.message
        assert len(_deaths(executor, "new", "timeout")) == 2, executor.deaths


def test_warm_keeps_an_audit_death(repo):
    with _workers(repo, timeout=1.0) as executor:
        outcome = executor.warm("new", "boot:shell", (), {})
    assert outcome.kind is OutcomeKind.DIED and outcome.error_type == "audit", outcome


# -- verifiers never refute on start-up ---------------------------------------------------------------

@pytest.mark.parametrize("module", ["verifiers.pbt._verifier", "verifiers.numeric._verifier", "verifiers.importable"])
def test_no_verifier_refutes_on_a_startup_death(module):
    assert "startup" not in importlib.import_module(module)._REFUTING_DEATHS
    # Nor can a worker claim it: only the trusted side observes a start-up failure.
    assert "startup" not in _launch.REASONS
