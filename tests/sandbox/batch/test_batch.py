"""check_many: verdicts equal to checking each candidate alone, whatever the backend; duplicates
checked once; the cascade; lost processes retried; a candidate's own failure is its verdict."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

import sandbox.batch
from sandbox import Gate, Patch
from sandbox.batch import BatchResult, LocalBackend, check_many
from tests.sandbox.batch.conftest import BATCH

BEHAVIOURAL = ("equivalent", "import", "kernel", "invariant", "bounds")


def assert_same_as_alone(results: list[BatchResult], singles: dict[str, dict]) -> None:
    """Accepted as alone; every obligation the batch ran at the level it reached alone; an obligation
    left unrun only where an earlier stage had already rejected the candidate."""
    assert sorted(r.id for r in results) == sorted(BATCH)
    for result in results:
        alone = singles[result.id]
        assert result.accepted == alone["accepted"], result.id
        expected = {(o["target"], o["kind"]): o["level"] for o in alone["obligations"]}
        assert set(result.levels) == set(expected), result.id
        for key, level in result.levels.items():
            if level is None:
                assert not result.accepted and key[1] in BEHAVIOURAL and result.stage < 3, (result.id, key)
            else:
                assert level == expected[key], (result.id, key, level, expected[key])
        if result.accepted:
            assert result.levels == expected


class Counting(LocalBackend):
    """A local pool that records every stage job it was given."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.jobs: list[tuple[str, int]] = []

    def submit(self, job) -> None:
        self.jobs.append((job.id, job.stage))
        super().submit(job)


@pytest.fixture(scope="module")
def local_run(repo) -> tuple[list[BatchResult], Counting]:
    backend = Counting(2)
    return list(check_many(repo, BATCH, backend=backend)), backend


def test_the_public_surface_is_exactly_all():
    public = {name for name in dir(sandbox.batch) if not name.startswith("_")}
    assert public - {"annotations"} == set(sandbox.batch.__all__)


def test_local_batch_verdicts_equal_single_verdicts(local_run, singles):
    results, _ = local_run
    assert_same_as_alone(results, singles)
    assert {r.id for r in results if r.accepted} == {"refactor", "again", "inc"}


def test_a_duplicate_is_checked_once_and_shares_the_verdict(local_run):
    results, backend = local_run
    again = next(r for r in results if r.id == "again")
    assert again.duplicate_of == "refactor" and again.accepted and again.stage_seconds == ()
    assert "again" not in {job_id for job_id, _ in backend.jobs}
    assert backend.jobs.count(("refactor", 1)) == 1


def test_the_cascade_stops_a_hostile_candidate_at_the_policy_stage(local_run, singles):
    results, backend = local_run
    hostile = next(r for r in results if r.id == "hostile")
    assert hostile.stage == 1 and not hostile.accepted
    assert [job for job in backend.jobs if job[0] == "hostile"] == [("hostile", 1)]
    assert hostile.levels[("calc.py", "policy")] == "VIOLATION"
    assert all(level is None for (_, kind), level in hostile.levels.items() if kind != "policy")
    # Alone, the gate went on to run them: what the cascade saved.
    assert any(o["ran"] for o in singles["hostile"]["obligations"] if o["kind"] != "policy")
    # Cheap first: every candidate's policy stage was handed out before any dearer stage.
    stages = [stage for _, stage in backend.jobs]
    assert stages[:6] == [1] * 6 and 1 not in stages[6:], stages


def test_later_stages_reuse_what_earlier_ones_settled(local_run):
    results, _ = local_run
    refactor = next(r for r in results if r.id == "refactor")
    assert refactor.stage == 2 and len(refactor.stage_seconds) == 2
    policy = next(o for o in refactor.obligations if o.kind == "policy")
    assert policy.cached and policy.level == "PASSED"


def test_a_candidate_that_hangs_or_exhausts_memory_gets_that_verdict_without_a_retry(local_run):
    results, _ = local_run
    for name, death in (("hangs", "timeout"), ("exhausts", "memory")):
        result = next(r for r in results if r.id == name)
        assert not result.accepted and result.error is None and result.attempts == 1, result
        double = next(o for o in result.report["obligations"] if o["target"] == "calc.double")
        assert double["level"] == "REFUTED" and f"died ({death})" in double["detail"]


def test_a_gate_is_rebuilt_in_every_worker_with_its_own_settings(repo):
    gate = Gate.from_repo(repo, require="proven", seed=11)
    chosen = {name: BATCH[name] for name in ("refactor", "inc", "refuted")}
    results = {r.id: r for r in check_many(gate, chosen, workers=1)}
    for name, text in chosen.items():
        alone = gate.check(Patch.load(text, name=name))
        assert results[name].accepted == alone.accepted, name
        assert results[name].levels == {(o.obligation.target, o.obligation.kind.value): o.evidence.level.value
                                        for o in alone.outcomes}, name
        assert results[name].report["require"] == "proven" and results[name].report["seed"] == 11


def test_a_pool_process_killed_mid_batch_is_retried_and_the_batch_completes(repo, singles):
    backend = LocalBackend(2)
    results: list[BatchResult] = []
    victims: list[int] = []
    done = threading.Event()

    def kill_the_process_checking_the_slow_candidate() -> None:
        # "hangs" keeps its process busy for seconds at stage 2 (each call runs into the timeout):
        # killed half a second in, it is surely mid-check.
        while not victims and not done.is_set():
            for pid, job in backend.busy():
                if job.id == "hangs" and job.stage == 2:
                    time.sleep(0.5)
                    os.kill(pid, signal.SIGKILL)
                    victims.append(pid)
            time.sleep(0.005)

    killer = threading.Thread(target=kill_the_process_checking_the_slow_candidate, daemon=True)
    killer.start()
    for result in check_many(repo, BATCH, backend=backend):
        results.append(result)
    done.set()
    killer.join()
    assert victims
    assert_same_as_alone(results, singles)
    assert all(r.error is None for r in results)
    attempts = {r.id: r.attempts for r in results}
    assert attempts["hangs"] == 2 and all(n in (1, None) for name, n in attempts.items() if name != "hangs"), attempts


def test_a_lost_job_stops_being_retried_after_max_retries(repo):
    backend = LocalBackend(1, max_retries=1)
    stop = threading.Event()

    def kill_every_process() -> None:
        while not stop.is_set():
            for pid in backend.worker_pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)

    killer = threading.Thread(target=kill_every_process, daemon=True)
    killer.start()
    try:
        results = list(check_many(repo, {"refactor": BATCH["refactor"]}, backend=backend))
    finally:
        stop.set()
        killer.join()
    [result] = results
    assert not result.accepted and result.attempts == 2
    assert "system failure, retried 1 times" in result.error and "SIGKILL" in result.error


def test_ray_batch_verdicts_equal_single_verdicts(ray_instance, repo, singles):
    results = list(check_many(repo, BATCH, backend="ray", workers=2))
    assert_same_as_alone(results, singles)
    assert all(r.error is None for r in results)


def _ray_task_pids() -> list[int]:
    """Ray workers running our task: Ray titles the process ``ray::check_stage`` while it runs one."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().startswith(b"ray::check_stage"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def test_a_ray_worker_killed_mid_task_is_retried_and_the_batch_completes(ray_instance, repo, singles, tmp_path):
    killed: list[int] = []
    stop = threading.Event()

    def kill_a_worker_mid_task() -> None:
        # A worker seen running check_stage for 0.3 s without a break is mid-check (most stage jobs
        # take a tenth of that; "hangs" takes seconds): killed then, its task is lost mid-way.
        since: dict[int, float] = {}
        while not stop.is_set() and not killed:
            now, running = time.monotonic(), _ray_task_pids()
            since = {pid: since.get(pid, now) for pid in running}
            for pid, start in since.items():
                if now - start >= 0.3:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
            time.sleep(0.005)

    killer = threading.Thread(target=kill_a_worker_mid_task, daemon=True)
    killer.start()
    try:
        # A cache of its own: with the cache of the previous test every stage would be instant.
        results = list(check_many(repo, BATCH, backend="ray", workers=2, cache=tmp_path / "cache"))
    finally:
        stop.set()
        killer.join()
    assert killed, "no Ray worker was seen running a check"
    assert_same_as_alone(results, singles)
    assert all(r.error is None for r in results)
