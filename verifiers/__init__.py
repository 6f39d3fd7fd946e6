"""Verifiers judge obligations; each returns the same ``Evidence``.

Adding a verifier is one module with a ``Verifier`` subclass and one
``register`` call.  A verifier never starts a process: it runs untrusted code
only through the ``Executor`` in its ``Context``.
"""

from verifiers._contract import (
    Context,
    Counterexample,
    Evidence,
    Executor,
    Level,
    Outcome,
    OutcomeKind,
    Verifier,
    Violation,
)
from verifiers._registry import PLANNED, available, get, register

__all__ = [
    "PLANNED",
    "Context",
    "Counterexample",
    "Evidence",
    "Executor",
    "Level",
    "Outcome",
    "OutcomeKind",
    "Verifier",
    "Violation",
    "available",
    "get",
    "register",
]
