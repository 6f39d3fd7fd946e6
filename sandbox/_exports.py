"""Public names of a subpackage imported on first use (PEP 562).

Every ``sandbox check`` builds the whole command line; a subpackage whose ``__init__`` imported
its machinery (the loop, the batch cascade) would load it for a command that never uses it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, homes: Mapping[str, str], public: Sequence[str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: each name of ``homes`` (name -> module) is
    imported from its module when first asked for, then kept in the package."""
    missing = sorted(set(public) ^ set(homes))
    if missing:
        raise ValueError(f"{package}: __all__ and the lazy names differ: {', '.join(missing)}")

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*public, *(n for n in vars(sys.modules[package]) if n.startswith("_"))})

    return __getattr__, __dir__
