"""The statements a property file makes: what must hold of which target.

Each function returns a frozen spec and, while a property file is being
loaded, records it with the active collector.  The specs hold the user's
callables (``pre``, ``post``, ``make_inputs``) as given; verifiers decide
how to use them.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Bounds",
    "Equivalent",
    "Forbid",
    "Invariant",
    "Kernel",
    "Property",
    "Protected",
    "bounds",
    "collecting",
    "equivalent",
    "forbid",
    "invariant",
    "kernel",
    "protected",
]


@dataclass(frozen=True, slots=True)
class Equivalent:
    """Old and new versions of ``target`` agree on every input satisfying ``pre``."""

    target: str
    pre: Callable[..., bool] | None = field(default=None, compare=False)
    inputs: Any = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Invariant:
    """``post(*args, out)`` holds for the new ``target`` on every input satisfying ``pre``."""

    target: str
    post: Callable[..., bool] = field(compare=False)
    pre: Callable[..., bool] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Kernel:
    """Numeric equivalence of a tensor function against a float64 oracle."""

    target: str
    make_inputs: Callable[..., Any] | None = field(default=None, compare=False)
    dtypes: tuple[str, ...] = ("float32",)
    grad: bool = True
    factor: float = 16.0
    ulps: float = 64.0
    steps: int = 5
    carry: tuple[tuple[str, int | str | None], ...] = ()


@dataclass(frozen=True, slots=True)
class Bounds:
    """A module constant may change, as long as it stays within ``[lo, hi]``."""

    target: str
    lo: float
    hi: float


@dataclass(frozen=True, slots=True)
class Protected:
    """Paths (glob patterns, relative to the repository) no patch may touch."""

    patterns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Forbid:
    """Dotted names (``time.sleep``, ``numpy.random.seed``) the changed code may not use."""

    names: tuple[str, ...]
    reason: str = ""


Property = Equivalent | Invariant | Kernel | Bounds | Protected | Forbid

_active: contextvars.ContextVar[list[Property] | None] = contextvars.ContextVar(
    "properties_collector", default=None
)


@contextlib.contextmanager
def collecting() -> Iterator[list[Property]]:
    """Collect every property stated while the block runs (used by the loader)."""
    found: list[Property] = []
    token = _active.set(found)
    try:
        yield found
    finally:
        _active.reset(token)


def _record(spec: Property) -> Property:
    found = _active.get()
    if found is not None:
        found.append(spec)
    return spec


def _target(target: object) -> str:
    if not isinstance(target, str) or not target or target.startswith("."):
        raise ValueError(
            f"a property target must be a dotted name like 'train.lr_schedule', got {target!r}"
        )
    return target


def equivalent(target: str, *, pre: Callable[..., bool] | None = None, inputs: Any = None) -> Equivalent:
    """State that a change of ``target`` must keep its behaviour (the default)."""
    return _record(Equivalent(_target(target), pre=pre, inputs=inputs))  # type: ignore[return-value]


def invariant(
    target: str, post: Callable[..., bool], *, pre: Callable[..., bool] | None = None
) -> Invariant:
    """Let ``target`` change as long as ``post(*args, out)`` holds; replaces equivalence."""
    if not callable(post):
        raise TypeError(f"invariant({target!r}, post): post must be callable, got {post!r}")
    return _record(Invariant(_target(target), post=post, pre=pre))  # type: ignore[return-value]


def kernel(
    target: str,
    *,
    make_inputs: Callable[..., Any] | None = None,
    dtypes: Sequence[str] = ("float32",),
    grad: bool = True,
    factor: float = 16.0,
    ulps: float = 64.0,
    preset: str | None = None,
    steps: int = 5,
    carry: Mapping[str, int | str | None] | None = None,
) -> Kernel:
    """State numeric equivalence of a tensor function; ``preset="strict"`` is factor 2, ulps 4.

    A kernel that carries state (an optimizer step) is also run for ``steps`` calls in a
    row and its outputs and state compared after each.  State updated in place is
    carried by itself; for a kernel returning its new state, ``carry`` maps each state
    parameter to the output that feeds it next step: a tuple index, a dict key, or
    ``None`` for the whole output, e.g. ``carry={"param": 0, "exp_avg": 1}``.
    """
    if preset == "strict":
        factor, ulps = 2.0, 4.0
    elif preset is not None:
        raise ValueError(f"kernel({target!r}): unknown preset {preset!r}; the only preset is 'strict'")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"kernel({target!r}, steps={steps!r}): steps must be a whole number of calls, at least 1")
    pairs = tuple((carry or {}).items())
    for name, output in pairs:
        if not isinstance(name, str) or not name.isidentifier() or not (
                output is None or isinstance(output, str) or (isinstance(output, int) and not isinstance(output, bool))):
            raise ValueError(f"kernel({target!r}, carry=...): {name!r}: {output!r} must map a parameter name to "
                             "an output index (int), an output dict key (str), or None for the whole output")
    spec = Kernel(_target(target), make_inputs=make_inputs, dtypes=tuple(dtypes), grad=grad,
                  factor=float(factor), ulps=float(ulps), steps=steps, carry=pairs)
    return _record(spec)  # type: ignore[return-value]


def bounds(target: str, lo: float, hi: float) -> Bounds:
    """Let a module constant be retuned within ``[lo, hi]``; replaces equivalence."""
    if not lo <= hi:
        raise ValueError(f"bounds({target!r}, {lo!r}, {hi!r}): lo must not exceed hi")
    return _record(Bounds(_target(target), lo, hi))  # type: ignore[return-value]


def protected(*patterns: str) -> Protected:
    """Add protected path patterns (globs relative to the repository root)."""
    if not patterns or not all(isinstance(p, str) and p for p in patterns):
        raise ValueError("protected() takes one or more non-empty glob patterns")
    return _record(Protected(tuple(patterns)))  # type: ignore[return-value]


def forbid(*names: str, reason: str = "") -> Forbid:
    """Forbid the changed code from using these dotted names (aliases are seen through)."""
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError("forbid() takes one or more dotted names such as 'time.sleep'")
    return _record(Forbid(tuple(names), reason))  # type: ignore[return-value]
