"""The loop's history in the ledger: every run's settings, baselines, rounds and halt, so it survives a crash.

Kinds (each record carries the run id): ``improve-start`` (the settings), ``improve-baseline``
(the objective's samples on the tree as it is), ``improve-round`` (one per round; a round that
applies writes an ``applying`` record first, naming the hashes its files will have, and its final
record after), ``improve-halt`` (a tripwire; its record has the round's fields under ``detail``), ``improve-resume`` and ``improve-end``.
``--resume`` reads the last run back with ``last_run``.

With ``--candidates K`` a round writes one record per candidate (each names its ``candidate``),
the chosen one last; the record written last (or the chosen one's ``applying`` record) carries
``round_done``. A round without it was cut short before anything was applied: ``last_run``
leaves it out, so a resumed run does it again from its first proposal.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox._ledger import Ledger, LedgerEntry

__all__ = ["History", "RunState", "last_run", "tree_matches"]

START, BASELINE, ROUND, HALT, RESUME, END = ("improve-start", "improve-baseline", "improve-round",
                                             "improve-halt", "improve-resume", "improve-end")
APPLYING = "applying"


@dataclass(slots=True)
class RunState:
    """One run as the ledger holds it: its settings, its rounds (by number, the last record wins).

    ``candidates`` holds every candidate record of the finished rounds that had several, in the
    order written; ``rounds`` holds each finished round's last record.
    """

    run: str
    settings: dict[str, Any]
    rounds: dict[int, dict[str, Any]] = field(default_factory=dict)
    baseline: list[float] | None = None
    halted: dict[str, Any] | None = None
    ended: bool = False
    candidates: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    # Candidate records of rounds not finished yet, by round and candidate.
    _open: dict[int, dict[int, dict[str, Any]]] = field(default_factory=dict, repr=False)

    @property
    def done(self) -> list[dict[str, Any]]:
        """The rounds in order (each round's last record)."""
        return [self.rounds[number] for number in sorted(self.rounds)]

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every record of the finished rounds in order: a round's candidates, or its one record."""
        return [record for number in sorted(self.rounds)
                for record in self.candidates.get(number) or [self.rounds[number]]]

    def settle(self, number: int, final: dict[str, Any]) -> None:
        """Replace round ``number``'s last record (an ``applying`` one) with ``final``."""
        self.rounds[number] = final
        if number in self.candidates:
            self.candidates[number] = [final if r.get("candidate") == final.get("candidate") else r
                                       for r in self.candidates[number]]


class History:
    """Appends one run's records to the ledger."""

    def __init__(self, ledger: Ledger, run: str | None = None) -> None:
        self.ledger = ledger
        self.run = run or secrets.token_hex(6)

    def append(self, kind: str, record: Mapping[str, Any]) -> LedgerEntry:
        return self.ledger.append(kind, {"run": self.run, **record})

    def start(self, settings: Mapping[str, Any]) -> LedgerEntry:
        return self.append(START, {"settings": dict(settings)})

    def baseline(self, samples: tuple[float, ...], why: str) -> LedgerEntry:
        return self.append(BASELINE, {"samples": list(samples), "why": why})

    def round(self, record: Mapping[str, Any]) -> LedgerEntry:
        # The round's fields go under "detail": `sandbox log` reads a top-level "accepted" as a verdict.
        return self.append(ROUND, {"round": record["round"], "decision": record["decision"],
                                   "detail": dict(record)})

    def halt(self, record: Mapping[str, Any]) -> LedgerEntry:
        return self.append(HALT, record)


def last_run(ledger: Ledger) -> RunState | None:
    """The most recent run in the ledger, or None if the loop never ran here."""
    state: RunState | None = None
    for entry in ledger.entries():
        record = entry.record
        if entry.kind == START:
            state = RunState(str(record.get("run")), dict(record.get("settings", {})))
        elif state is not None and record.get("run") == state.run:
            _fold(state, entry.kind, record)
    return state


def _fold(state: RunState, kind: str, record: Mapping[str, Any]) -> None:
    if kind == BASELINE:
        state.baseline = [float(v) for v in record.get("samples", [])]
    elif kind == ROUND:
        _fold_round(state, int(record["round"]), dict(record.get("detail", {})))
    elif kind == HALT:
        state.halted = dict(record)
    elif kind == RESUME:
        state.halted, state.ended = None, False
        state._open.clear()  # a round cut short before this resume is done again after it
    elif kind == END:
        state.ended = True


def _fold_round(state: RunState, number: int, detail: dict[str, Any]) -> None:
    if detail.get("candidate") is None:
        state.rounds[number] = detail
        return
    seen = state._open.setdefault(number, {})
    seen[int(detail["candidate"])] = detail
    if detail.get("round_done"):
        state.rounds[number] = detail
        state.candidates[number] = list(seen.values())


def tree_matches(root: Path, hashes: Mapping[str, str | None]) -> bool:
    """True if every path under ``root`` has the content hash given (None: the file is absent)."""
    for path, digest in hashes.items():
        target = root / path
        if digest is None:
            if target.exists():
                return False
        elif not target.is_file() or hashlib.sha256(target.read_bytes()).hexdigest() != digest:
            return False
    return True
