"""Calls that omit defaulted parameters: a changed default changes every call that leaves the argument out.

When the target has parameters with a default on either side, each input carries as its
last item the names of the parameters the call omits (``()``: none).  The sweep tries
every boundary case with nothing omitted, then some of them with every defaulted
parameter omitted and with each omitted alone; hypothesis draws any subset.  Omitted
arguments are simply not sent: the function in the worker evaluates its own default, as
a caller's call would, and a side without that default raises ``TypeError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from hypothesis import strategies as st

from properties import Kind, Obligation
from verifiers.pbt._signature import Param

__all__ = ["OMISSION_CASES", "defaulted_parameters", "mask_strategy", "masks", "omission_note",
           "with_omissions"]

OMISSION_CASES = 24


def defaulted_parameters(obligation: Obligation, new: Sequence[Param], old: Sequence[Param]) -> tuple[str, ...]:
    """Parameters with a default on either side: equivalence is also checked by calls omitting them.

    Invariants are not: ``post`` is called with every argument, and the trusted process never
    evaluates a default to supply the omitted one.
    """
    if obligation.kind is not Kind.EQUIVALENT:
        return ()
    defaulted = {p.name for p in [*new, *old] if p.has_default}
    return tuple(p.name for p in new if p.name in defaulted)


def omission_note(omitted: Sequence[str]) -> str:
    """How a counterexample's omitted arguments are shown next to its call."""
    return f" (omitting {', '.join(omitted)}, so each side uses its own default)" if omitted else ""


def masks(names: Sequence[str]) -> list[tuple[str, ...]]:
    """Nothing omitted, all defaulted parameters omitted, then each alone (when there are several)."""
    if not names:
        return []
    alone = [(name,) for name in names] if len(names) > 1 else []
    return [(), tuple(names), *alone]


def mask_strategy(names: Sequence[str]) -> st.SearchStrategy[tuple[str, ...]]:
    """The fixed masks first (hypothesis shrinks toward omitting nothing), then any subset."""
    ordered = list(names)
    subsets = st.sets(st.sampled_from(ordered)).map(lambda chosen: tuple(n for n in ordered if n in chosen))
    return st.one_of(st.sampled_from(masks(ordered)), subsets)


def with_omissions(cases: Iterable[tuple[Any, ...]], index: Mapping[str, int], simple: Sequence[Any],
                   names: Sequence[str], limit: int = OMISSION_CASES) -> Iterator[tuple[Any, ...]]:
    """``cases`` with nothing omitted, then up to ``limit`` distinct ones under each other mask.

    ``index`` maps a parameter name to its position in a case, ``simple`` the values put in
    omitted positions (they are not sent, but keep distinct cases distinct).
    """
    base = list(cases)
    yield from ((*values, ()) for values in base)
    for mask in masks(names)[1:]:
        blank = {index[name] for name in mask}
        seen: set[str] = set()
        for values in base:
            blanked = tuple(simple[i] if i in blank else v for i, v in enumerate(values))
            if repr(blanked) in seen:
                continue
            seen.add(repr(blanked))
            yield (*blanked, mask)
            if len(seen) >= limit:
                break
