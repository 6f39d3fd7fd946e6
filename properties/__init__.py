"""How a user states what must hold of a change.

A repository's property file (default ``sandbox_properties.py``) calls these::

    from properties import equivalent, invariant, kernel, bounds

    invariant("train.lr_schedule", lambda step, out: 0.0 <= out <= 6e-4,
              pre=lambda step: 0 <= step <= 10_000)
    bounds("train.BATCH_SIZE", 8, 512)

This package imports nothing else of the project.
"""

from properties._obligation import Kind, Obligation, module_name
from properties._policy import DEFAULT_PROTECTED, RULES, Policy, Rule, path_matches
from properties._spec import (
    Bounds,
    Equivalent,
    Forbid,
    Invariant,
    Kernel,
    Property,
    Protected,
    bounds,
    collecting,
    equivalent,
    forbid,
    invariant,
    kernel,
    protected,
)

__all__ = [
    "DEFAULT_PROTECTED",
    "RULES",
    "Bounds",
    "Equivalent",
    "Forbid",
    "Invariant",
    "Kernel",
    "Kind",
    "Obligation",
    "Policy",
    "Property",
    "Protected",
    "Rule",
    "bounds",
    "collecting",
    "equivalent",
    "forbid",
    "invariant",
    "kernel",
    "module_name",
    "path_matches",
    "protected",
]
