"""Shared by the verifiers that run calls: how a call that omits arguments is spelled, and when a timeout is a verdict."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

__all__ = ["WELL_WITHIN", "call_arguments", "finished_well_within"]

# A new version's timeout is its own fault only when the old one answered the same call in under
# this share of the time the new one was given: two calls both near the limit are decided by the
# machine's load, not by the code.
WELL_WITHIN = 0.25


def call_arguments(names: Sequence[str], keyword_only: Sequence[bool], values: Sequence[Any],
                   omitted: Collection[str]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Positional arguments up to the first omitted one, the rest by keyword; omitted ones left out."""
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    by_keyword = False
    for name, keyword, value in zip(names, keyword_only, values):
        if name in omitted:
            by_keyword = True
        elif keyword or by_keyword:
            kwargs[name] = value
        else:
            args.append(value)
    return tuple(args), kwargs


def finished_well_within(old_seconds: float, new_seconds: float) -> bool:
    """Whether the old call (``old_seconds``) ended far inside the time the new one ran before it was stopped."""
    return old_seconds <= WELL_WITHIN * new_seconds
