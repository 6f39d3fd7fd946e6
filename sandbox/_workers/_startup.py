"""What a call needs imported before its clock starts, and how a failed start-up is worded.

A call's wall-clock limit (``call_timeout``) is about the code under test.  Starting a worker
and importing the modules a call needs -- the target's, those of the ``Construct`` values
the worker builds, numpy for arrays -- are start-up: on a loaded machine they wait for the
CPU, and a verdict must not depend on that.  So the executor imports them first, each under
a CPU budget with a generous wall limit, and a start-up that runs out of wall clock while
using little CPU is retried once in a fresh worker and then reported as the death reason
``startup`` (which verifiers treat as UNKNOWN), with the figures, never as a ``timeout``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from verifiers._values import Construct, TensorData

__all__ = ["call_modules", "died_text", "loaded_text", "retried_start_text"]

# Containers the worker's ``_build`` walks looking for ``Construct`` values.
_CONTAINERS = (list, tuple, set, frozenset)


def call_modules(target: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], receiver: Any) -> tuple[str, ...]:
    """The modules the worker imports to serve this call, in the order it imports them.

    The target's module first, then the factories' modules of the arguments, keyword arguments
    and receiver (the order of ``_child._run``), then numpy if an array crosses: decoding one
    imports it.
    """
    found: dict[str, None] = {}
    arrays: list[bool] = []
    _add(found, target)
    for value in (tuple(args), dict(kwargs), receiver):
        _walk(value, found, arrays)
    if arrays:
        found.setdefault("numpy", None)
    return tuple(found)


def _add(found: dict[str, None], target: str) -> None:
    module = target.partition(":")[0]
    if module and all(part.isidentifier() for part in module.split(".")):
        found.setdefault(module, None)


def _walk(value: Any, found: dict[str, None], arrays: list[bool]) -> None:
    if isinstance(value, Construct):
        _add(found, value.target)
        _walk(value.args, found, arrays)
        for _, item in value.kwargs:
            _walk(item, found, arrays)
    elif isinstance(value, TensorData) or type(value).__module__.partition(".")[0] == "numpy":
        arrays.append(True)
    elif isinstance(value, _CONTAINERS):
        for item in value:
            _walk(item, found, arrays)
    elif isinstance(value, dict):
        for key, item in value.items():
            _walk(key, found, arrays)
            _walk(item, found, arrays)


def loaded_text(side: str, what: str, wall: float, cpu: float | None, *, limit: float, budget: float) -> str:
    """Why a start-up step that outlived its wall limit twice, using little CPU, is no verdict."""
    used = "an unknown amount of" if cpu is None else f"{cpu:.1f} s"
    return (f"the {side} worker could not start: {what} took {wall:.1f} s wall / {used} CPU, twice (a fresh "
            f"worker was tried), stopped at the {limit:g} s wall-clock limit while under the {budget:g} s CPU "
            "budget (machine loaded?); this says nothing about the patch: rerun on a quieter machine or raise "
            "[tool.sandbox] call_timeout, and make sure the code does not sleep or block at import")


def died_text(side: str, what: str, reason: str, detail: str, cpu: float | None, *, budget: float) -> str:
    """Why a start-up step that died (over its CPU budget, out of memory, ...) is a start-up failure."""
    used = "" if cpu is None else f" after {cpu:.1f} s of CPU"
    return (f"the {side} worker could not start: {what} died ({reason}){used}, the CPU budget being {budget:g} s: "
            f"{detail}; a start-up step is not the code under test, so this is no verdict: raise [tool.sandbox] "
            "call_timeout or memory_mb if the framework needs more")[:1000]


def retried_start_text(side: str, first: str, second: str) -> str:
    """Why a worker whose start timed out twice is a start-up failure, with both attempts' figures."""
    return (f"the {side} worker could not start: {first}; a second start: {second}; this says nothing about "
            "the patch: rerun on a quieter machine")
