"""Verifier names mapped to the dotted paths that implement them, imported only when asked for.

Keeping paths rather than classes means z3, hypothesis, torch and jax are
imported only when an obligation is routed to the verifier that needs them.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from verifiers._contract import Verifier

__all__ = ["PLANNED", "available", "get", "register"]

_REGISTRY: dict[str, str] = {
    "static": "verifiers.static:StaticPolicy",
    "literal": "verifiers.literal:LiteralVerifier",
    "pbt": "verifiers.pbt:DifferentialTester",
    "smt": "verifiers.smt:SmtProver",
    "crosshair": "verifiers.symbolic:PathSearch",
    "numeric": "verifiers.numeric:KernelComparator",
    "import": "verifiers.importable:ImportVerifier",
}

# Verifiers the design routes obligations to that this version does not ship yet,
# with what they will do, so a rejection can say exactly what is missing.
PLANNED: Mapping[str, str] = {
}

_instances: dict[str, Verifier] = {}


def register(name: str, dotted_path: str) -> None:
    """Register ``"package.module:Class"`` under ``name`` (replacing any earlier entry)."""
    if ":" not in dotted_path:
        raise ValueError(f"register({name!r}, {dotted_path!r}): expected 'package.module:Class'")
    _REGISTRY[name] = dotted_path
    _instances.pop(name, None)


def available() -> tuple[str, ...]:
    """The names of the registered verifiers."""
    return tuple(sorted(_REGISTRY))


def get(name: str) -> Verifier | None:
    """The verifier registered as ``name``, imported on first use; ``None`` if there is none."""
    if name not in _REGISTRY:
        return None
    if name not in _instances:
        module_name, _, attr = _REGISTRY[name].partition(":")
        cls = getattr(importlib.import_module(module_name), attr)
        instance = cls()
        if not isinstance(instance, Verifier):
            raise TypeError(f"{_REGISTRY[name]} is not a Verifier subclass")
        _instances[name] = instance
    return _instances[name]
