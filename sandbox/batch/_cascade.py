"""The cascade: every candidate through the cheap stage first, the survivors through the dearer ones.

Stage 1 runs only the policy (every behavioural kind deferred), stage 2 adds proofs and testing
(only ``kernel`` deferred), stage 3 is the full check.  All stages share one verdict cache, so
a later stage takes what an earlier one settled from it and runs only what is new: a candidate
accepted at stage 3 costs about what one full check costs, and one rejected at stage 1 costs a
policy check.  Jobs wait in one queue ordered by stage, so the pool always takes the cheapest
work first, and a result is yielded the moment its candidate is decided.
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from sandbox._gate import Gate
from sandbox._config import load_config
from sandbox._patch import Patch
from sandbox.batch._candidates import Candidate, as_candidates
from sandbox.batch._dedup import Intake, take_in
from sandbox.batch._local import LocalBackend, Lost
from sandbox.batch._result import BatchResult, ObligationLevel
from sandbox.batch._stages import STAGES, StageJob, StageOutcome, stage_defer

__all__ = ["STAGES", "check_many"]

Patches = Mapping[str, "str | Patch"] | Iterable["Candidate | Patch | str | tuple[str, str | Patch]"]


def check_many(gate_or_repo: Gate | str | os.PathLike[str], patches: Patches, *, backend: Any = "local",
               workers: int | None = None, cache: str | os.PathLike[str] | None = None,
               ray_address: str | None = None, max_retries: int = 3, attest: bool = False,
               **overrides: Any) -> Iterator[BatchResult]:
    """Check every candidate of ``patches``; yield each ``BatchResult`` as soon as it is decided.

    ``gate_or_repo``: a ``Gate`` (its repository, configuration and cache are used) or a
    repository path with ``overrides`` as ``Gate.from_repo`` takes them.  ``backend``:
    ``"local"`` (a process pool of ``workers``), ``"ray"`` (``ray_address``, or a local instance),
    or a backend object.  ``cache``: the verdict cache directory shared by every stage, worker
    and run (default: a temporary one for this batch).  Each verdict is the one ``Gate.check``
    reaches on the candidate alone; the obligations of a candidate rejected at an earlier stage
    that the cascade never ran have level None.  ``attest``: each result carries its verdict's
    in-toto statement (``BatchResult.statement``) for the caller to sign.
    """
    gate = gate_or_repo if isinstance(gate_or_repo, Gate) else Gate.from_repo(gate_or_repo, **overrides)
    candidates = as_candidates(patches)
    intake = take_in(candidates, gate.root, gate.config.limits)
    chosen = _backend(backend, workers, ray_address, max_retries)
    with _cache_dir(cache, gate) as directory:
        yield from _Cascade(gate, directory, intake, attest).run(chosen)


def _backend(backend: Any, workers: int | None, address: str | None, max_retries: int) -> Any:
    if backend == "local":
        return LocalBackend(workers, max_retries=max_retries)
    if backend == "ray":
        from sandbox.batch._ray import RayBackend

        return RayBackend(workers, address=address, max_retries=max_retries)
    if isinstance(backend, str):
        raise ValueError(f"unknown backend {backend!r}; use 'local' or 'ray'")
    return backend


@contextlib.contextmanager
def _cache_dir(cache: str | os.PathLike[str] | None, gate: Gate) -> Iterator[str]:
    if cache is not None:
        yield str(Path(cache).expanduser().resolve())
    elif gate.cache is not None:
        yield str(gate.cache.directory)
    else:
        with tempfile.TemporaryDirectory(prefix="sandbox-batch-cache-") as directory:
            yield directory


class _Cascade:
    def __init__(self, gate: Gate, cache: str, intake: tuple[Intake, ...], attest: bool = False) -> None:
        self.intake = intake
        self._attest = attest
        self.final_defer = gate.config.defer
        self._base = _overrides_of(gate)
        self._repo = str(gate.root)
        self._tree = None if gate.worker_tree == gate.root else str(gate.worker_tree)
        self._cache = cache
        self._copies: dict[int, list[Intake]] = {}
        for item in intake:
            if item.duplicate_of is not None:
                self._copies.setdefault(item.duplicate_of, []).append(item)
        self._spent: dict[int, list[float]] = {}

    def run(self, backend: Any) -> Iterator[BatchResult]:
        for item in self.intake:
            if item.error is not None:
                yield BatchResult(item.candidate.id, False, 0, 0.0, error=item.error, attempts=None)
        queue = [(1, item.index) for item in self.intake if item.patch is not None and item.duplicate_of is None]
        heapq.heapify(queue)
        if not queue:
            return
        with backend:
            running = 0
            while queue or running:
                while queue and running < backend.capacity:
                    stage, index = heapq.heappop(queue)
                    backend.submit(self._job(index, stage))
                    running += 1
                job, outcome, attempts = backend.next()
                running -= 1
                self._spent.setdefault(job.index, []).append(getattr(outcome, "seconds", 0.0))
                following = self._following(job.stage, outcome)
                if following is not None:
                    heapq.heappush(queue, (following, job.index))
                    continue
                result = self._result(job, outcome, attempts)
                yield result
                for copy in self._copies.get(job.index, ()):
                    yield dataclasses.replace(result, id=copy.candidate.id, duplicate_of=result.id, seconds=0.0,
                                              stage_seconds=(), attempts=None)

    def _job(self, index: int, stage: int) -> StageJob:
        item = self.intake[index]
        assert item.patch is not None
        overrides = (*self._base, ("defer", stage_defer(stage, self.final_defer)))
        return StageJob(index, item.candidate.id, stage, item.patch, self._repo, self._cache, overrides, self._tree,
                        attest=self._attest)

    def _following(self, stage: int, outcome: StageOutcome | Lost) -> int | None:
        """The next stage that would run something this one left deferred; None: decided here."""
        if isinstance(outcome, Lost) or outcome.accepted or not outcome.met_except_deferred:
            return None
        for later in range(stage + 1, len(STAGES) + 1):
            if set(outcome.deferred_kinds) - set(stage_defer(later, self.final_defer)):
                return later
        return None

    def _result(self, job: StageJob, outcome: StageOutcome | Lost, attempts: int | None) -> BatchResult:
        spent = tuple(self._spent.pop(job.index, ()))
        if isinstance(outcome, Lost):
            return BatchResult(job.id, False, job.stage, sum(spent), stage_seconds=spent, attempts=outcome.attempts,
                               error=f"system failure, retried {outcome.attempts - 1} times: {outcome.reason}")
        skipped = set(stage_defer(job.stage, self.final_defer)) - set(self.final_defer)
        levels = tuple(_level(o, skipped) for o in (outcome.report or {}).get("obligations", ()))
        return BatchResult(job.id, outcome.accepted, job.stage, sum(spent), levels, stage_seconds=spent,
                           attempts=attempts, error=outcome.error, met_except_deferred=outcome.met_except_deferred,
                           report=outcome.report, statement=outcome.statement)


def _level(obligation: Mapping[str, Any], skipped: set[str]) -> ObligationLevel:
    if obligation.get("deferred") and obligation["kind"] in skipped:
        return ObligationLevel(obligation["target"], obligation["kind"], None)
    return ObligationLevel(obligation["target"], obligation["kind"], obligation["level"], obligation["verifier"],
                           bool(obligation["ok"]), bool(obligation.get("cached")))


def _overrides_of(gate: Gate) -> tuple[tuple[str, Any], ...]:
    """The settings in which ``gate`` differs from its repository's configuration, so that every
    worker rebuilds exactly this gate (``defer`` is set per stage)."""
    written = load_config(gate.root)
    return tuple((f.name, getattr(gate.config, f.name)) for f in dataclasses.fields(gate.config)
                 if f.name != "defer" and getattr(gate.config, f.name) != getattr(written, f.name))
