"""The search: boundary combinations first, then hypothesis, which shrinks using the workers as oracles.

Hypothesis runs in the trusted process with no database (nothing is written
into the repository), the caller's seed, and quiet output.  The test body asks a
``Judge`` about each input; a disagreement raises ``Mismatch`` (an
``AssertionError``) so hypothesis shrinks it.  Running out of time, a worker's
death and a broken ``pre`` stop the search at once: they derive from
``BaseException``, which hypothesis does not treat as a test failure.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import hypothesis
import hypothesis.configuration
from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky, Unsatisfiable
from hypothesis.reporting import with_reporter

__all__ = ["Finding", "Judge", "SearchResult", "boundary_cases", "quiet_and_outside_repository", "search"]

MAX_BOUNDARY_CASES = 400
_SINGLES, _PAIRS, _SAMPLE = 200, 150, 50


@dataclass(frozen=True, slots=True)
class Finding:
    """An input on which the judge found a problem; ``fatal`` ones (deaths, a broken ``pre``) are not shrunk."""

    values: tuple[Any, ...]
    message: str
    old: Any = None
    new: Any = None
    fatal: bool = False
    level: Any = None


class Judge(Protocol):
    def admits(self, values: tuple[Any, ...]) -> bool: ...
    def judge(self, values: tuple[Any, ...]) -> Finding | None: ...


@dataclass(slots=True)
class SearchResult:
    """What the search saw; ``finding`` is the (shrunk, where possible) problem, if any."""

    finding: Finding | None = None
    examples: int = 0
    boundary_cases: int = 0
    rejected: int = 0
    budget_ended: bool = False
    shrunk: bool = False
    from_sweep: bool = False
    flaky: str = ""
    notes: list[str] = field(default_factory=list)


class Mismatch(AssertionError):
    """Old and new (or the property) disagree on this input."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


class _Stop(BaseException):
    def __init__(self, finding: Finding | None = None) -> None:
        super().__init__()
        self.finding = finding


class _OutOfTime(BaseException):
    pass


def boundary_cases(boundaries: Sequence[Sequence[Any]], simple: Sequence[Any],
                   specific: Sequence[Sequence[Any]] | None = None,
                   limit: int = MAX_BOUNDARY_CASES) -> Iterator[tuple[Any, ...]]:
    """All-simple, then one slot at a time, then pairs of slots, then (3+ slots) a seeded sample of whole rows.

    One slot at a time: each slot's boundaries in turn with the others simple, round-robin by
    rank.  Pairs: for every two slots, their ``specific`` values (the mined ones, most specific
    first; a slot's boundaries where it has none) by increasing rank sum, round-robin over the
    slot pairs.  Every case is distinct and there are at most ``limit``.
    """
    base = tuple(simple)
    picks = [list(s) or list(b) for s, b in zip(specific, boundaries)] if specific is not None else \
        [list(b) for b in boundaries]
    seen: set[int] = set()  # hashes of reprs: a sized case's repr can be long
    stages = (_singles(boundaries, base), _pairs(picks, base), _sample(picks))
    for stage, cap in zip(stages, (_SINGLES, _PAIRS, _SAMPLE)):
        taken = 0
        for case in stage:
            key = hash(repr(case))
            if key in seen:
                continue
            if len(seen) >= limit or taken >= cap:
                break
            seen.add(key)
            taken += 1
            yield case


def _singles(boundaries: Sequence[Sequence[Any]], base: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
    yield base
    for rank in range(max((len(b) for b in boundaries), default=0)):
        for slot, values in enumerate(boundaries):
            if rank < len(values) and repr(values[rank]) != repr(base[slot]):
                yield base[:slot] + (values[rank],) + base[slot + 1:]


def _pairs(picks: list[list[Any]], base: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
    slot_pairs = list(itertools.combinations(range(len(picks)), 2))
    longest = max((len(p) for p in picks), default=0)
    for total in range(2 * longest - 1):
        for i, j in slot_pairs:
            for r in range(max(0, total - len(picks[j]) + 1), min(total, len(picks[i]) - 1) + 1):
                a, b = picks[i][r], picks[j][total - r]
                if repr(a) != repr(base[i]) and repr(b) != repr(base[j]):
                    row = list(base)
                    row[i], row[j] = a, b
                    yield tuple(row)


def _sample(picks: list[list[Any]]) -> Iterator[tuple[Any, ...]]:
    if len(picks) < 3 or not all(picks):
        return
    rng = random.Random(len(picks))  # fixed: the same sources give the same rows
    for _ in range(4 * _SAMPLE):
        yield tuple(rng.choice(p) for p in picks)


def search(judge: Judge, strategies: Sequence[st.SearchStrategy[Any]] | st.SearchStrategy[Any],
           cases: Iterator[tuple[Any, ...]] | None, *, seed: int, max_examples: int, deadline: float) -> SearchResult:
    """Sweep ``cases`` (if any), then run hypothesis; a failure from either is shrunk by hypothesis."""
    result = SearchResult()
    start = _sweep(judge, cases, deadline, result) if cases is not None else None
    result.from_sweep = start is not None
    if result.finding is not None and result.finding.fatal or result.budget_ended:
        return result
    if isinstance(strategies, st.SearchStrategy):
        strategy = strategies
    elif start is not None:
        strategy = st.tuples(*(st.one_of(s, st.just(v)) for s, v in zip(strategies, start.values)))
    else:
        strategy = st.tuples(*strategies)
    _hypothesis(judge, strategy, result, seed=seed, max_examples=max_examples, deadline=deadline)
    if start is not None and (result.finding is None or result.flaky):
        result.finding, result.flaky = start, ""
        result.notes.append("hypothesis did not shrink the boundary case further")
    return result


def _sweep(judge: Judge, cases: Iterator[tuple[Any, ...]], deadline: float, result: SearchResult) -> Finding | None:
    for values in cases:
        if time.monotonic() > deadline:
            result.budget_ended = True
            return None
        if not judge.admits(values):
            result.rejected += 1
            continue
        result.boundary_cases += 1
        finding = judge.judge(values)
        if finding is not None:
            result.finding = finding
            return finding
    return None


def _hypothesis(judge: Judge, strategy: st.SearchStrategy[Any], result: SearchResult, *,
                seed: int, max_examples: int, deadline: float) -> None:
    seen: list[Finding] = []

    def body(values: tuple[Any, ...]) -> None:
        if time.monotonic() > deadline:
            raise _OutOfTime()
        if not judge.admits(values):
            result.rejected += 1
            hypothesis.reject()
        result.examples += 1
        finding = judge.judge(values)
        if finding is not None and finding.fatal:
            raise _Stop(finding)
        if finding is not None:
            seen.append(finding)
            raise Mismatch(finding)

    test = hypothesis.seed(seed)(_SETTINGS(max_examples=max(1, max_examples))(hypothesis.given(strategy)(body)))
    try:
        with _quiet(), _storage_outside_repository():
            test()
    except Mismatch as failure:
        result.finding, result.shrunk = failure.finding, len(seen) > 1
    except _Stop as stop:
        result.finding = stop.finding
    except _OutOfTime:
        result.budget_ended = True
        if seen:
            result.finding = seen[-1]
            result.notes.append("the time budget ended shrinking early")
    except Unsatisfiable:
        pass
    except Flaky as error:
        result.flaky = f"hypothesis could not reproduce the failure it found ({type(error).__name__})"
        result.finding = seen[-1] if seen else None


_SETTINGS: Callable[..., settings] = lambda max_examples: settings(  # noqa: E731
    database=None, deadline=None, derandomize=False, max_examples=max_examples,
    phases=(Phase.generate, Phase.shrink), suppress_health_check=list(HealthCheck),
    print_blob=False, verbosity=Verbosity.quiet, report_multiple_bugs=False,
)


@contextlib.contextmanager
def quiet_and_outside_repository() -> Iterator[None]:
    """Silence hypothesis's reporter and keep its storage out of the repository, e.g. to draw examples."""
    with _quiet(), _storage_outside_repository():
        yield


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with with_reporter(lambda *_: None):
        yield


@contextlib.contextmanager
def _storage_outside_repository() -> Iterator[None]:
    """Point hypothesis's storage (e.g. its Unicode table cache) at a temporary directory while we run.

    With ``database=None`` hypothesis writes no examples, but a user strategy over text may still
    cache Unicode tables under ``./.hypothesis``; the gate must never write into the repository.
    """
    config = hypothesis.configuration
    key = "__hypothesis_home_directory"
    previous = vars(config).get(key)
    with tempfile.TemporaryDirectory(prefix="sandbox-hypothesis-") as scratch:
        config.set_hypothesis_home_dir(scratch)
        try:
            yield
        finally:
            config.set_hypothesis_home_dir(previous)
