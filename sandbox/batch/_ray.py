"""The ``ray`` backend: one Ray task per stage job, on a local instance or a cluster.

Imported only when ``--backend ray`` is chosen, so the rest of the gate never pays for Ray.
Ray schedules; it does not isolate: each task builds a ``Gate`` and runs the gate's usual
isolated workers.  Retries cover system failures only (``max_retries`` for a lost worker or
node, ``retry_exceptions=False``): the task never raises for a candidate's own crash, timeout
or violation, which are its verdict.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import ray
from ray.exceptions import RayError, RayTaskError

from sandbox.batch._local import Lost
from sandbox.batch._stages import StageJob, StageOutcome, run_stage

__all__ = ["RayBackend", "check_stage"]


def check_stage(job: StageJob) -> StageOutcome:
    """The task body (its name is the worker's process title while it runs: ``ray::check_stage``)."""
    return run_stage(job)


class RayBackend:
    """Connect to ``address`` (or start a local instance); at most ``workers`` tasks in flight
    (default: the cluster's CPUs), so the cascade's cheap-stages-first order holds."""

    name = "ray"

    def __init__(self, workers: int | None = None, *, address: str | None = None, max_retries: int = 3,
                 temp_dir: str | None = None) -> None:
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self.address = address
        self.max_retries = max_retries
        self.temp_dir = temp_dir or os.environ.get("SANDBOX_RAY_TMPDIR")
        self.capacity = workers or 1
        self._owned = False
        self._remote: Any = None
        self._refs: dict[Any, StageJob] = {}

    def __enter__(self) -> "RayBackend":
        if not ray.is_initialized():
            ray.init(**self._init_options())
            self._owned = True
        self.capacity = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._remote = ray.remote(num_cpus=1, max_retries=self.max_retries, retry_exceptions=False)(check_stage)
        return self

    def __exit__(self, *exc: object) -> None:
        for ref in self._refs:
            ray.cancel(ref, force=True)
        self._refs.clear()
        if self._owned:
            ray.shutdown()
            self._owned = False

    def submit(self, job: StageJob) -> None:
        self._refs[self._remote.remote(job)] = job

    def next(self) -> tuple[StageJob, StageOutcome | Lost, int | None]:
        """Block until a task ends: its outcome, or ``Lost`` once Ray's own retries are spent."""
        ready, _ = ray.wait(list(self._refs), num_returns=1)
        job = self._refs.pop(ready[0])
        try:
            return job, ray.get(ready[0]), None
        except RayTaskError as error:  # the task raised: a bug, reported, never retried away
            return job, StageOutcome(False, False, (), None, 0.0, error=f"the Ray task failed: {error}"), None
        except RayError as error:
            return job, Lost(f"Ray lost the task {self.max_retries + 1} times: {type(error).__name__}: {error}",
                             self.max_retries + 1), None

    def _init_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING,
                                   "configure_logging": True}
        if self.address:
            options["address"] = self.address
        else:
            # A local instance: no dashboard, nothing printed on our stdout.
            options.update(include_dashboard=False, num_cpus=self.workers or None)
            if self.temp_dir:
                options["_temp_dir"] = self.temp_dir
        return options
