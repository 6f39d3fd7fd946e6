"""The allow-list of safe APIs: what code a patch introduces may reach.

One reviewed table per package (``_python``, ``_numpy``, ``_torch``, ``_jax``,
``_others``); ``AllowList`` joins them with the repository's own modules and its
``allow-calls`` patterns.  ``docs/policy.md`` lists the tables for users.
"""

from verifiers.static._allowlist._jax import JAX
from verifiers.static._allowlist._module_names import MODULES
from verifiers.static._allowlist._numpy import NUMPY
from verifiers.static._allowlist._others import OTHERS
from verifiers.static._allowlist._python import BUILTINS, STDLIB
from verifiers.static._allowlist._table import AllowList, Denial, Table
from verifiers.static._allowlist._torch import TORCH

__all__ = ["MODULES", "TABLES", "AllowList", "Denial", "Table"]

#: The tables that ship with the tool, in the order docs/policy.md lists them.
TABLES: tuple[Table, ...] = (BUILTINS, STDLIB, NUMPY, TORCH, JAX, OTHERS)
