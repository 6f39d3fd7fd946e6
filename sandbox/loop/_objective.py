"""The user's objective: a command whose output yields one number, run confined on a copy of the tree."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sandbox._errors import SandboxError
from sandbox._workers._command import run_command

__all__ = ["Objective", "ObjectiveError", "parse_metric"]

# A decimal number as programs print them: 3, -0.25, 1e-3, .5 (never inf or nan).
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
_SHOWN = 600


class ObjectiveError(SandboxError):
    """The objective could not be measured: it failed, ran out of time, or printed no number."""


@dataclass(frozen=True, slots=True)
class Objective:
    """``command`` (run by ``/bin/sh`` in a fresh copy of the tree) and how to read its number.

    ``metric`` is a regular expression whose group 1 (or whole match, without groups) is the
    number (without groups: the last number inside the match), the last match counting; without
    it the last number printed on stdout counts.
    """

    command: str
    direction: str = "max"
    metric: str | None = None
    timeout: float = 300.0
    memory_mb: int = 4096
    strict: bool = False

    def __post_init__(self) -> None:
        if not self.command.strip():
            raise ValueError("the objective command is empty; give --objective 'python eval.py'")
        if self.direction not in ("min", "max"):
            raise ValueError(f"direction must be 'min' or 'max', got {self.direction!r}")
        if self.metric is not None:
            try:
                re.compile(self.metric)
            except re.error as error:
                raise ValueError(f"--metric {self.metric!r} is not a regular expression: {error}") from None

    def measure(self, repo: Path, *, overlay: Mapping[str, str] | None = None,
                deleted: frozenset[str] = frozenset(), repeat: int = 0) -> float:
        """One measurement on a fresh copy of ``repo`` (with ``overlay``); raise ObjectiveError.

        ``repeat`` is passed as ``SANDBOX_REPEAT``, so an objective can seed its k-th run with k:
        baseline and candidate then see the same seeds, and the spread is the seeds' spread.
        """
        result = run_command(self.command, repo, overlay=overlay, deleted=deleted, timeout=self.timeout,
                             memory_mb=self.memory_mb, strict=self.strict, env={"SANDBOX_REPEAT": str(repeat)})
        where = f"objective `{self.command}`"
        if result.timed_out:
            raise ObjectiveError(f"{where} ran past its time limit of {self.timeout:g} s and was killed; "
                                 f"make it faster or raise [tool.sandbox.improve] timeout{_output(result.stderr)}")
        if result.returncode != 0:
            raise ObjectiveError(f"{where} exited with status {result.returncode}"
                                 f"{_output(result.stderr or result.stdout)}")
        return parse_metric(result.stdout, self.metric, where=where)

    def measure_many(self, repo: Path, repeats: int, *, overlay: Mapping[str, str] | None = None,
                     deleted: frozenset[str] = frozenset()) -> tuple[float, ...]:
        """``repeats`` independent measurements, each on its own fresh copy."""
        return tuple(self.measure(repo, overlay=overlay, deleted=deleted, repeat=k) for k in range(repeats))


def parse_metric(output: str, metric: str | None = None, *, where: str = "the objective") -> float:
    """The objective's number: ``metric``'s group 1 (last match), or the last number in ``output``."""
    if metric is None:
        found = _NUMBER.findall(output)
        if not found:
            raise ObjectiveError(f"{where} printed no number on standard output; print the objective's "
                                 f"value last (e.g. `print(loss)`), or pass --metric REGEX{_output(output)}")
        return float(found[-1])
    matches = list(re.finditer(metric, output))
    if not matches:
        raise ObjectiveError(f"{where}: --metric {metric!r} matches nothing in its output{_output(output)}")
    last = matches[-1]
    text = last.group(1) if last.re.groups else (_NUMBER.findall(last.group(0)) or [last.group(0)])[-1]
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ObjectiveError(f"{where}: --metric {metric!r} matched {text!r}, which is not a number; "
                             "put the number in group 1 of the expression") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ObjectiveError(f"{where}: --metric {metric!r} matched {text!r}, which is not a finite number")
    return value


def _output(text: str) -> str:
    text = text.strip()
    return f"; its output ended with:\n{text[-_SHOWN:]}" if text else "; it printed nothing"
