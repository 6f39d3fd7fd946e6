"""``sandbox init``: a starter configuration and property file inferred from a repository.

Tensor functions become ``kernel(...)`` obligations, module-level numeric constants commented
``bounds(...)`` suggestions; nothing is ever overwritten, and what is written is what ``sandbox
check`` accepts (both files are loaded the way the check loads them before they are written).
Names are imported on first use, so building the CLI's parser stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["Constant", "Inference", "Plan", "Tensor", "TensorFunction", "infer", "plan", "render_properties",
           "render_table", "write"]

_HOME = {**dict.fromkeys(("Constant", "Inference", "Tensor", "TensorFunction", "infer"), "sandbox.init._infer"),
         **dict.fromkeys(("Plan", "plan", "render_properties", "render_table", "write"), "sandbox.init._write")}

if TYPE_CHECKING:
    from sandbox.init._infer import Constant, Inference, Tensor, TensorFunction, infer
    from sandbox.init._write import Plan, plan, render_properties, render_table, write


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'sandbox.init' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
