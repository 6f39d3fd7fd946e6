"""How a call that omits some arguments is spelled: shared by the verifiers that run calls."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

__all__ = ["call_arguments"]


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
