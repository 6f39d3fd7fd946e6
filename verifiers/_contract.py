"""The contract every verifier keeps: evidence levels, evidence, context, protocol."""

from __future__ import annotations

import abc
import enum
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from properties import Obligation, Policy

__all__ = [
    "Context",
    "Counterexample",
    "Evidence",
    "Executor",
    "Level",
    "Outcome",
    "OutcomeKind",
    "Verifier",
    "Violation",
]


class Level(enum.Enum):
    """How strongly an obligation was shown.  Ordered by ``rank``: weakest first."""

    REFUTED = "REFUTED"
    VIOLATION = "VIOLATION"
    UNKNOWN = "UNKNOWN"
    PASSED = "PASSED"
    PROVEN = "PROVEN"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def failed(self) -> bool:
        """A definite failure (as opposed to UNKNOWN, which is merely not a success)."""
        return self in (Level.REFUTED, Level.VIOLATION)

    @classmethod
    def weakest(cls, levels: "list[Level] | tuple[Level, ...]") -> "Level":
        return min(levels, key=lambda level: level.rank)


_RANK = {Level.REFUTED: 0, Level.VIOLATION: 0, Level.UNKNOWN: 1, Level.PASSED: 2, Level.PROVEN: 3}


@dataclass(frozen=True, slots=True)
class Violation:
    """A broken policy rule, located in the new version of a file."""

    rule: str
    path: str
    line: int | None
    message: str
    fix: str = ""
    symbol: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "path": self.path, "line": self.line, "message": self.message,
                "fix": self.fix, "symbol": self.symbol}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Violation":
        return cls(**{k: data[k] for k in ("rule", "path", "line", "message", "fix", "symbol")})


@dataclass(frozen=True, slots=True)
class Counterexample:
    """A concrete input on which old and new (or the property) disagree."""

    call: str
    old: str | None = None
    new: str | None = None
    replay: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"call": self.call, "old": self.old, "new": self.new, "replay": self.replay}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Counterexample":
        return cls(data["call"], data.get("old"), data.get("new"), data.get("replay", ""))


@dataclass(frozen=True, slots=True)
class Evidence:
    """A verifier's answer to one obligation."""

    level: Level
    verifier: str
    detail: str
    seconds: float = 0.0
    counterexample: Counterexample | None = None
    violations: tuple[Violation, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"level": self.level.value, "verifier": self.verifier,
                               "detail": self.detail, "seconds": round(self.seconds, 6)}
        if self.counterexample is not None:
            out["counterexample"] = self.counterexample.to_json()
        if self.violations:
            out["violations"] = [v.to_json() for v in self.violations]
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Evidence":
        cex = data.get("counterexample")
        return cls(
            level=Level(data["level"]),
            verifier=data["verifier"],
            detail=data["detail"],
            seconds=float(data.get("seconds", 0.0)),
            counterexample=Counterexample.from_json(cex) if cex else None,
            violations=tuple(Violation.from_json(v) for v in data.get("violations", ())),
        )


class OutcomeKind(enum.Enum):
    """How one call in a worker ended."""

    RETURNED = "returned"
    RAISED = "raised"
    DIED = "died"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a worker reported for one call: data, never a judgement.

    ``RETURNED``: ``value`` is the decoded return value (see ``verifiers._values``) and
    ``args_after`` the arguments as they were after the call (to see mutation).
    ``RAISED``: ``error_type`` is the exception's qualified type name, ``message`` its text.
    ``DIED``: the worker process is gone or broke the protocol; ``error_type`` is the reason
    (``timeout``, ``cpu``, ``memory``, ``audit``, ``mutation`` (it replaced attributes of a
    shared module such as ``math`` or ``builtins``), ``signal``, ``exit``, ``protocol``,
    ``startup``) and
    ``message`` says what happened.  A death is never a pass.  ``timeout`` means the call itself
    ran past the per-call wall-clock limit (starting the worker and importing the modules the
    call needs happen before that clock starts); ``startup`` means the worker could not be made
    ready -- it did not start, or an import or start-up call outlived its generous wall limit
    twice while using little CPU (a loaded machine), or a start-up call died -- which says
    nothing about the code under test, so a verifier never refutes on it.

    Calls that returned or raised carry what the call itself cost in the worker, as data the
    trusted side judges: ``cpu_seconds`` (CPU, not wall time), ``peak_mb`` (growth of the peak
    resident memory; exact when ``exact_peak``, else a lower bound), ``threads_left`` (threads
    alive after the call beyond those before) and ``first_call`` (the worker's first call, which
    pays its warm-up).  ``None`` where the worker could not measure it.  A ``DIED`` outcome
    carries ``cpu_seconds`` too where the trusted side could read it: the CPU the worker's
    process group burned in the request before it was stopped, which tells a busy loop (CPU
    near the wall-clock limit) from a process that waited or was starved (little CPU).
    """

    kind: OutcomeKind
    value: Any = None
    error_type: str = ""
    message: str = ""
    seconds: float = 0.0
    args_after: tuple[Any, ...] | None = None
    cpu_seconds: float | None = None
    peak_mb: float | None = None
    threads_left: int | None = None
    exact_peak: bool = False
    first_call: bool = False


@runtime_checkable
class Executor(Protocol):
    """Runs untrusted code for a verifier and returns only data.

    Implemented by the isolated workers in ``sandbox``; a verifier never starts a
    process itself.  ``side`` is ``"old"`` or ``"new"``; ``target`` is
    ``"module:Qual.name"``; arguments are plain data or ``Construct`` descriptions
    (see ``verifiers._values``) that the worker builds; ``receiver``, when given, is
    constructed first and ``target``'s last component is looked up on it.  ``call`` may be
    used from several threads: calls on one side run one at a time, the two sides in parallel.
    The per-call wall-clock limit covers the call alone, never the worker's start-up or the
    imports of the modules the call names (see ``Outcome`` for ``timeout`` and ``startup``).

    Optional method (not part of the protocol, so test doubles need not have it; callers use
    ``getattr(executor, "warm", None)`` and fall back to ``call``)::

        def warm(self, side: str, target: str, args: tuple[Any, ...],
                 kwargs: Mapping[str, Any]) -> Outcome: ...

    ``warm`` runs a start-up function -- one that imports heavy frameworks in its body, such as
    ``verifiers.numeric._harness:prepare`` -- judged as start-up rather than as the code under
    test: it may burn the per-call limit in CPU seconds, the wall clock stops it only at a
    multiple of that, a wall-clock death is retried once in a fresh worker, and any death
    (except ``audit`` and ``mutation``, which are the code's conduct) comes back as ``startup``
    with the figures.  A returned or raised ``warm`` is the same data ``call`` gives.  A start-up
    call that returned is repeated, under the same rules, by every worker the side starts later
    (after a death), before that worker's first call -- so it must be safe to repeat.
    """

    @property
    def isolation(self) -> str:
        """The isolation layers in force, for the report (e.g. "bubblewrap, seccomp, rlimits")."""
        ...

    def call(self, side: str, target: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], *,
             receiver: Any = None) -> Outcome: ...


@dataclass(frozen=True, slots=True)
class Context:
    """What a verifier may read: the touched files on both sides, the policy, the budget.

    ``before``/``after`` map repository-relative paths of touched files to their text
    (absent on the side where the file does not exist).  ``executor`` is ``None``
    when the gate offers no isolated execution.  ``slowdown`` and ``memory`` are the ratios of
    CPU time and peak memory by which a new version may exceed the old one (plus floors).
    """

    before: Mapping[str, str]
    after: Mapping[str, str]
    policy: Policy = field(default_factory=Policy)
    seed: int = 0
    timeout: float = 30.0
    executor: Executor | None = None
    max_examples: int = 200
    slowdown: float = 10.0
    memory: float = 10.0


class Verifier(abc.ABC):
    """Base class of every verifier: ``check`` is final, subclasses implement ``_check``.

    ``check`` never raises: a crash of the verifier is ``UNKNOWN`` evidence naming
    the exception, because a broken checker must never turn into a pass.
    """

    name: ClassVar[str]

    def check(self, obligation: Obligation, context: Context) -> Evidence:
        started = time.perf_counter()
        try:
            evidence = self._check(obligation, context)
            if not isinstance(evidence, Evidence):
                raise TypeError(f"{type(self).__name__}._check returned {type(evidence).__name__}, not Evidence")
        except Exception as error:  # noqa: BLE001 - the contract is to never raise
            last = traceback.extract_tb(error.__traceback__)[-1]
            evidence = Evidence(
                Level.UNKNOWN,
                self.name,
                f"the {self.name} verifier crashed on {obligation.target}: "
                f"{type(error).__name__}: {error} (at {last.filename}:{last.lineno}); "
                "this is a bug in the checker, please report it",
            )
        seconds = time.perf_counter() - started
        return Evidence(evidence.level, evidence.verifier, evidence.detail, seconds,
                        evidence.counterexample, evidence.violations)

    @abc.abstractmethod
    def _check(self, obligation: Obligation, context: Context) -> Evidence:
        """Answer one obligation.  May raise; ``check`` turns that into UNKNOWN."""
