"""A greedy shrinker for the inputs CrossHair finds: simpler values that still show the difference.

CrossHair's model values are whatever its solver picked (``[400, 17869, -30057]``,
``hi=-30056``); a reader wants the smallest call that still differs.  Each candidate is
replayed on both versions in the workers (``still_differs``), so the shrunk call is as
confirmed as the one found; a candidate is taken only if it is strictly smaller, so the
loop ends, and the number of replays is bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from verifiers.symbolic._replay import Call

__all__ = ["shrink"]


def shrink(call: Call, still_differs: Callable[[Call], bool], budget: int = 60) -> tuple[Call, int]:
    """The simplest call found from ``call`` for which ``still_differs`` holds, and the replays spent."""
    spent = 0
    improved = True
    while improved and spent < budget:
        improved = False
        for position in range(len(call.args) + len(call.kwargs)):
            for candidate in _candidates(_get(call, position)):
                if spent >= budget:
                    break
                smaller = _set(call, position, candidate)
                spent += 1
                if still_differs(smaller):
                    call, improved = smaller, True
                    break
    return call, spent


def _get(call: Call, position: int) -> Any:
    if position < len(call.args):
        return call.args[position]
    return call.kwargs[position - len(call.args)][1]


def _set(call: Call, position: int, value: Any) -> Call:
    if position < len(call.args):
        return replace(call, args=(*call.args[:position], value, *call.args[position + 1:]))
    index = position - len(call.args)
    name = call.kwargs[index][0]
    return replace(call, kwargs=(*call.kwargs[:index], (name, value), *call.kwargs[index + 1:]))


def _size(value: Any) -> tuple[int, ...]:
    """An order in which every candidate below is strictly smaller than its origin."""
    if isinstance(value, bool):
        return (int(value),)
    if isinstance(value, int):
        return (abs(value), value < 0)
    if isinstance(value, float):
        if value == 0.0:
            return (0,)
        finite = value == value and abs(value) != float("inf")
        return (1, 0 if finite and value.is_integer() else 1, abs(value) if finite else float("inf"), value < 0)
    if isinstance(value, (str, bytes, list, tuple)):
        return (len(value), sum(_size(v)[0] for v in value) if isinstance(value, (list, tuple)) else
                sum(value if isinstance(value, bytes) else map(ord, value)))
    return (0,)


def _candidates(value: Any) -> Iterator[Any]:
    """Simpler values of the same type, smallest first, each strictly smaller by ``_size``."""
    origin = _size(value)
    for candidate in _raw(value):
        if type(candidate) is type(value) and _size(candidate) < origin:
            yield candidate


def _raw(value: Any) -> Iterator[Any]:
    if isinstance(value, bool):
        yield False
    elif isinstance(value, int):
        yield from (0, 1, -1, int(value / 2), value - (1 if value > 0 else -1))
    elif isinstance(value, float):
        finite = value == value and abs(value) != float("inf")
        yield from (0.0, 1.0, -1.0, *((float(round(value)), value / 2) if finite else ()))
    elif isinstance(value, (str, bytes)):
        yield from (value[:0], value[:1], value[:len(value) // 2], value[1:], value[:-1])
        if isinstance(value, str):
            yield "".join("a" if c.isalpha() else "0" if c.isdigit() else c for c in value)
    elif isinstance(value, (list, tuple)):
        kind = type(value)
        yield from (kind(), kind(value[:1]), kind(value[:len(value) // 2]), kind(value[1:]), kind(value[:-1]))
        for index, item in enumerate(value):
            for simpler in _candidates(item):
                yield kind([*value[:index], simpler, *value[index + 1:]])
