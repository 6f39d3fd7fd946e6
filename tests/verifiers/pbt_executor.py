"""A trusted, in-process stand-in for the isolated workers, for testing the pbt verifier only.

It ``exec``s the old and new module sources in this process (never do that with
untrusted code) but speaks the real protocol: arguments and results cross through
``verifiers._values`` exactly as they would over a worker's pipe, so objects come
back as ``Opaque`` and ``Construct`` descriptions are built on the callee's side.
``die(side, args, kwargs)`` may return a death reason to simulate a worker dying.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Mapping
from typing import Any

from verifiers import Outcome, OutcomeKind
from verifiers._values import Construct, decode, encode

Dies = Callable[[str, tuple[Any, ...], Mapping[str, Any]], "str | None"]


class InProcessExecutor:
    """Runs ``old``/``new`` module text as module ``module`` in this process; counts calls."""

    isolation = "in-process test double, no isolation"

    def __init__(self, old: str, new: str, module: str = "train", die: Dies | None = None) -> None:
        self.module = module
        self.sources = {"old": old, "new": new}
        self.die = die
        self.calls = 0
        self._namespaces: dict[str, types.ModuleType] = {}

    def _load(self, side: str) -> types.ModuleType:
        if side not in self._namespaces:
            module = types.ModuleType(self.module)
            with self._installed(module):
                exec(compile(self.sources[side], f"<{side} {self.module}>", "exec"), module.__dict__)  # noqa: S102
            self._namespaces[side] = module
        return self._namespaces[side]

    def _installed(self, module: types.ModuleType) -> "_Installed":
        return _Installed(self.module, module)

    def call(self, side: str, target: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], *,
             receiver: Any = None) -> Outcome:
        self.calls += 1
        args, kwargs, receiver = decode(encode((tuple(args), dict(kwargs), receiver)))
        if self.die is not None and (reason := self.die(side, args, kwargs)):
            return Outcome(OutcomeKind.DIED, error_type=reason, message=f"simulated {reason}")
        module = self._load(side)
        with self._installed(module):
            try:
                built_args = tuple(_build(module, a) for a in args)
                built_kwargs = {k: _build(module, v) for k, v in kwargs.items()}
                if target.startswith("verifiers."):  # a harness of ours (the coverage tracer), as in a worker
                    harness, _, name = target.partition(":")
                    function = getattr(importlib.import_module(harness), name)
                else:
                    function = _resolve(module, target, None if receiver is None else _build(module, receiver))
                value = function(*built_args, **built_kwargs)
            except Exception as error:  # noqa: BLE001 - the exception is the outcome
                kind = type(error)
                name = kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
                return Outcome(OutcomeKind.RAISED, error_type=name, message=str(error))
            return Outcome(OutcomeKind.RETURNED, value=decode(encode(value)),
                           args_after=decode(encode(built_args + tuple(built_kwargs.values()))))


class _Installed:
    """Temporarily registers the module in ``sys.modules`` (dataclasses and enums look it up)."""

    def __init__(self, name: str, module: types.ModuleType) -> None:
        self.name, self.module = name, module

    def __enter__(self) -> None:
        self.previous = sys.modules.get(self.name)
        sys.modules[self.name] = self.module

    def __exit__(self, *exc: object) -> None:
        if self.previous is None:
            sys.modules.pop(self.name, None)
        else:
            sys.modules[self.name] = self.previous


def _lookup(module: types.ModuleType, target: str) -> Any:
    _, _, qualname = target.partition(":")
    value: Any = module
    for part in qualname.split("."):
        value = getattr(value, part)
    return value


def _resolve(module: types.ModuleType, target: str, receiver: Any) -> Any:
    if receiver is None:
        return _lookup(module, target)
    return getattr(receiver, target.rpartition(".")[2])


def _build(module: types.ModuleType, value: Any) -> Any:
    if isinstance(value, Construct):
        maker = _lookup(module, value.target)
        return maker(*(_build(module, a) for a in value.args), **{k: _build(module, v) for k, v in value.kwargs})
    if isinstance(value, list):
        return [_build(module, v) for v in value]
    if isinstance(value, tuple):
        return tuple(_build(module, v) for v in value)
    if isinstance(value, dict):
        return {k: _build(module, v) for k, v in value.items()}
    return value
