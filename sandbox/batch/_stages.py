"""One stage of the cascade for one candidate, as a pool process or a Ray task runs it.

The job carries everything the gate needs (repository, configuration overrides, the shared
cache directory, the patch), so the process that runs it builds its own ``Gate`` and runs the
gate's usual isolated workers: a pool process or a Ray worker schedules, it never isolates.
"""

from __future__ import annotations

import os
import time
import traceback
from dataclasses import dataclass
from typing import Any

from sandbox._config import DEFERRABLE
from sandbox._errors import SandboxError
from sandbox._patch import Patch

__all__ = ["STAGES", "StageJob", "StageOutcome", "run_stage", "stage_defer"]

# What each stage runs; each later stage runs everything the earlier ones did (from the cache).
STAGES = ("policy", "proofs and testing", "numerics (the full check)")


def stage_defer(stage: int, final: tuple[str, ...]) -> tuple[str, ...]:
    """The kinds of obligation stage ``stage`` (1-based) leaves unrun; ``final`` is the user's own ``defer``."""
    cascade = {1: DEFERRABLE, 2: ("kernel",), 3: ()}[stage]
    return tuple(kind for kind in DEFERRABLE if kind in cascade or kind in final)


@dataclass(frozen=True, slots=True)
class StageJob:
    """Stage ``stage`` of candidate ``index`` (``id``): a gate built from ``repo`` with ``overrides``."""

    index: int
    id: str
    stage: int
    patch: Patch
    repo: str
    cache: str
    overrides: tuple[tuple[str, Any], ...]
    worker_tree: str | None = None
    # The outcome carries the verdict's in-toto statement (what `check-many --attest` signs).
    attest: bool = False


@dataclass(frozen=True, slots=True)
class StageOutcome:
    """What a stage found: the verdict's decision and report, or why the gate could not judge."""

    accepted: bool
    met_except_deferred: bool
    deferred_kinds: tuple[str, ...]
    report: dict[str, Any] | None
    seconds: float
    error: str | None = None
    pid: int = 0
    # The canonical in-toto statement of the verdict, when the job asked for it; the parent
    # signs it, so no private key ever reaches a pool process or a Ray worker.
    statement: bytes | None = None


def run_stage(job: StageJob) -> StageOutcome:
    """Check ``job.patch`` with the stage's gate.  Never raises: a gate error is the candidate's outcome
    (it would recur on any retry), so only a lost process is ever retried."""
    started = time.perf_counter()
    try:
        verdict = _gate(job).check(job.patch, replay=f"sandbox check-many candidate {job.id!r}")
    except SandboxError as error:
        return _failed(f"the gate could not check it: {error}", started)
    except Exception:  # noqa: BLE001 - a crash of the gate must never read as a verdict
        return _failed(f"internal error of the gate (a bug in the sandbox; please report it):\n"
                       f"{traceback.format_exc()}", started)
    deferred = tuple(sorted({o.obligation.kind.value for o in verdict.deferred}))
    statement = None
    if job.attest:
        from sandbox.attest._statement import statement_bytes

        statement = statement_bytes(verdict)
    return StageOutcome(verdict.accepted, verdict.met_except_deferred, deferred, verdict.to_json(),
                        time.perf_counter() - started, pid=os.getpid(), statement=statement)


def _failed(message: str, started: float) -> StageOutcome:
    return StageOutcome(False, False, (), None, time.perf_counter() - started, error=message, pid=os.getpid())


# One gate per stage per process: building one loads the property files, which every candidate shares.
_GATES: dict[tuple[Any, ...], Any] = {}


def _gate(job: StageJob) -> Any:
    from pathlib import Path

    from sandbox._gate import Gate

    key = (job.repo, job.worker_tree, job.cache, repr(job.overrides))
    if key not in _GATES:
        tree = Path(job.worker_tree) if job.worker_tree else None
        _GATES[key] = Gate.from_repo(job.repo, worker_tree=tree, cache=job.cache, **dict(job.overrides))
    return _GATES[key]
