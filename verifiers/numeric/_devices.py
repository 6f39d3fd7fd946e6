"""Branches on the device in a kernel's source, found with ``ast``, and whether this machine can take them.

A kernel that asks where it runs (``x.is_cuda``, ``x.device.type == "cuda"``,
``torch.cuda.is_available()``, ``jax.default_backend()``) has a path the CPU never
executes.  Comparing it on the CPU says nothing about that path, so such a kernel
is ``UNKNOWN`` unless the workers have the device (then every case runs on it too).
The kernel's definition is scanned with the functions of its module it calls
(transitively) and, for a method, its whole class: a helper is where a device switch
would hide.  Plain uses of a device (``torch.zeros(n, device=x.device)``) are no branch.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

__all__ = ["Branch", "branches", "unreached"]

_FLAGS = {"is_cuda": "CUDA", "is_mps": "MPS", "is_xpu": "XPU", "is_xla": "XLA"}
_CALLS = re.compile(r"(^|\.)((cuda|mps|xpu|npu)\.(is_available|device_count|is_initialized|current_device)"
                    r"|backends\.\w+\.is_available|get_default_device"
                    r"|jax\.(devices|local_devices|default_backend|device_count|local_device_count))$")
_BARE = {"is_available", "device_count", "default_backend", "local_devices"}
_NAMES = {"cuda": "CUDA", "gpu": "GPU", "mps": "MPS", "xpu": "XPU", "tpu": "TPU", "rocm": "GPU", "xla": "XLA"}
# Worker device names (torch device types, jax platforms) that run each kind of path.
_RUNS = {"CUDA": {"cuda", "gpu"}, "MPS": {"mps"}, "XPU": {"xpu"}, "TPU": {"tpu"}, "XLA": {"tpu", "gpu", "cuda"}}


@dataclass(frozen=True, slots=True)
class Branch:
    """A device test in ``definition`` at ``line`` of the module; ``device`` is the path it guards."""

    side: str
    definition: str
    line: int
    text: str
    device: str


def branches(side: str, module_text: str, qualname: str) -> list[Branch]:
    """The device tests in ``qualname`` of ``module_text`` and the module functions it calls."""
    try:
        tree = ast.parse(module_text)
    except SyntaxError:
        return []
    top = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    first = top.get(qualname.split(".")[0])
    if first is None:
        return []
    found: list[Branch] = []
    seen: set[str] = set()
    pending = [first]
    while pending:
        node = pending.pop()
        if node.name in seen:
            continue
        seen.add(node.name)
        found += _tests(side, node)
        pending += [top[name] for name in _called(node) if name in top and name not in seen]
    # One branch per line, the most specific kind: ``x.device.type == "cuda"`` is CUDA, not any GPU.
    best: dict[tuple[str, int], Branch] = {}
    for branch in found:
        key = (branch.definition, branch.line)
        if key not in best or best[key].device == "GPU":
            best[key] = branch
    return sorted(best.values(), key=lambda b: b.line)


def unreached(found: list[Branch], devices: list[str]) -> list[Branch]:
    """The branches whose device path none of ``devices`` (the workers' devices) runs."""
    here = set(devices)
    return [b for b in found if not (here & _RUNS[b.device] if b.device in _RUNS else here - {"cpu"})]


def _called(node: ast.AST) -> set[str]:
    return {n.func.id for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


def _tests(side: str, definition: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> list[Branch]:
    found = []
    for node in ast.walk(definition):
        device = _device_test(node)
        if device is not None:
            found.append(Branch(side, definition.name, getattr(node, "lineno", definition.lineno),
                                ast.unparse(node)[:80], device))
    return found


def _device_test(node: ast.AST) -> str | None:
    """The kind of device ``node`` tests for, or None when it is no device test."""
    if isinstance(node, ast.Attribute) and node.attr in _FLAGS:
        return _FLAGS[node.attr]
    if isinstance(node, ast.Attribute) and node.attr == "type" and _is_device(node.value):
        return "GPU"  # named more precisely by the comparison it sits in, which is found on its own
    if isinstance(node, ast.Attribute) and node.attr == "platform":
        return "GPU"
    if isinstance(node, ast.Compare) and any(_is_device(n) for side in [node.left, *node.comparators]
                                             for n in ast.walk(side)):
        return _named(node) or "GPU"
    if isinstance(node, ast.Call):
        name = ast.unparse(node.func)
        if _CALLS.search(name) or (isinstance(node.func, ast.Name) and name in _BARE):
            return _named(node) or "GPU"
    return None


def _is_device(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr in ("device", "platform")


def _named(node: ast.AST) -> str | None:
    text = ast.unparse(node).lower()
    return next((kind for word, kind in _NAMES.items() if word in text), None)
