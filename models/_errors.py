"""The one error type of the proposers, and the budget stop that derives from it."""

from __future__ import annotations

__all__ = ["BudgetExhausted", "ProposerError"]


class ProposerError(Exception):
    """A proposer could not produce a proposal: the message says what, where, and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BudgetExhausted(ProposerError):
    """A token or time budget ran out; the loop treats it as a tripwire, never as "finished".

    Raised rather than returned as ``None`` so that a caller cannot mistake a spent budget
    for a proposer with nothing more to say.
    """
