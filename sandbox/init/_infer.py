"""What ``sandbox init`` reads from a repository: its tensor functions and its numeric constants.

Every Python file is parsed with ``ast`` (never imported); virtual environments, VCS and build
directories, tests and the property file itself are skipped.  A module-level function is a
*tensor function* when a parameter is annotated as an array (``torch.Tensor``, ``jax.Array``,
jaxtyping's ``Float[Tensor, "batch dim"]``, as the kernel verifier reads them) or when its body
calls into torch or jax (``torch.*``, ``jnp.*``, ``F.*`` through the module's imports).
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from properties import module_name
from verifiers.numeric import _annotations

__all__ = ["Constant", "Inference", "Tensor", "TensorFunction", "infer"]

# Directories never scanned: environments, VCS, caches, builds, and the project's tests.
_SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".venv", "venv", "env", ".env", "__pycache__", "node_modules",
                        "build", "dist", ".tox", ".nox", ".eggs", "site-packages", ".mypy_cache",
                        ".pytest_cache", ".hypothesis", ".sandbox", "tests", "test", "testing"})
_SKIP_FILES = re.compile(r"(test_.*|.*_test|conftest|sandbox_properties|setup|noxfile|tasks)\.py")
_TENSOR_ROOTS = frozenset({"torch", "jax", "jaxlib"})
_CONSTANT = re.compile(r"[A-Z][A-Z0-9_]*")
_MAX_FILE_BYTES = 1_000_000  # larger files are generated or data; not worth parsing for a starter file


@dataclass(frozen=True, slots=True)
class Tensor:
    """One required parameter of a tensor function: its jaxtyping dtype and dims, where stated."""

    name: str
    dtype: str | None  # "float", "int", "bool", or None (not stated)
    dims: tuple[str | int, ...] | None  # None: no dims stated (or not an array annotation)
    is_array: bool


@dataclass(frozen=True, slots=True)
class TensorFunction:
    """A module-level function that computes with tensors: the target of a ``kernel`` obligation."""

    target: str
    path: str
    line: int
    params: tuple[Tensor, ...]
    why: str


@dataclass(frozen=True, slots=True)
class Constant:
    """A module-level numeric constant (``LR = 3e-4``): a ``bounds`` suggestion."""

    target: str
    path: str
    line: int
    value: int | float


@dataclass(frozen=True, slots=True)
class Inference:
    """Everything ``infer`` found, in file order, and the files it could not read (path, why)."""

    kernels: tuple[TensorFunction, ...]
    constants: tuple[Constant, ...]
    modules: int
    unreadable: tuple[tuple[str, str], ...] = ()


def infer(root: Path) -> Inference:
    """Scan every Python module under ``root``."""
    root = root.resolve()
    kernels: list[TensorFunction] = []
    constants: list[Constant] = []
    unreadable: list[tuple[str, str]] = []
    paths = list(_python_files(root))
    for path in paths:
        rel = path.relative_to(root).as_posix()
        try:
            tree = _parse(path)
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError) as error:
            unreadable.append((rel, f"{type(error).__name__}: {error}"))
            continue
        module = module_name(rel)
        kernels += _kernels(tree, module, rel)
        constants += _constants(tree, module, rel)
    return Inference(tuple(kernels), tuple(constants), len(paths), tuple(unreadable))


def _python_files(root: Path) -> Iterator[Path]:
    for directory, dirnames, filenames in os.walk(root):
        here = Path(directory)
        # A virtual environment by any name holds pyvenv.cfg; hidden directories are tools' state.
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith(".")
                             and not (here / d / "pyvenv.cfg").exists())
        for name in sorted(filenames):
            path = here / name
            # Only files importable as modules: their paths become targets and comments in the starter file.
            parts = path.relative_to(root).with_suffix("").parts
            if (name.endswith(".py") and not _SKIP_FILES.fullmatch(name) and not path.is_symlink()
                    and all(part.isidentifier() and part.isascii() for part in parts)):
                yield path


def _parse(path: Path) -> ast.Module:
    if path.stat().st_size > _MAX_FILE_BYTES:
        raise ValueError(f"larger than {_MAX_FILE_BYTES} bytes")
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _kernels(tree: ast.Module, module: str, path: str) -> list[TensorFunction]:
    aliases = _aliases(tree)
    found = []
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or (node.name.startswith("__") and node.name.endswith("__")):
            continue
        params = _required(node)
        arrays = [p for p in params if p.is_array]
        calls = sorted({name for name in _calls(node, aliases) if name.split(".")[0] in _TENSOR_ROOTS})
        if not params or not (arrays or (calls and all(p.is_array or _unannotated(node, p.name) for p in params))):
            continue
        why = (f"parameter(s) {', '.join(p.name for p in arrays)} annotated as arrays" if arrays
               else f"calls {', '.join(calls[:3])}{' ...' if len(calls) > 3 else ''}")
        found.append(TensorFunction(f"{module}.{node.name}", path, node.lineno, tuple(params), why))
    return found


def _required(node: ast.FunctionDef) -> list[Tensor]:
    """The parameters a call must give (those with defaults keep them), as the verifier reads them."""
    positional = node.args.posonlyargs + node.args.args
    required = positional[:len(positional) - len(node.args.defaults)]
    required += [a for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults) if d is None]
    params = []
    for arg in required:
        note = _annotations.read(arg.annotation, arg.arg)
        params.append(Tensor(arg.arg, note.dtype if note else None, note.dims if note else None, note is not None))
    return params


def _unannotated(node: ast.FunctionDef, name: str) -> bool:
    return any(a.arg == name and a.annotation is None for a in node.args.posonlyargs + node.args.args
               + node.args.kwonlyargs)


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> dotted module or object, from the module's imports (``F`` -> ``torch.nn.functional``)."""
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                found[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return found


def _calls(node: ast.FunctionDef, aliases: dict[str, str]) -> set[str]:
    names = set()
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            name = _annotations.dotted(call.func)
            head, _, rest = name.partition(".")
            if head in aliases:
                names.add(aliases[head] + (f".{rest}" if rest else ""))
    return names


def _constants(tree: ast.Module, module: str, path: str) -> list[Constant]:
    found = []
    for node in tree.body:
        target, value = _assignment(node)
        if target and _CONSTANT.fullmatch(target):
            number = _number(value)
            if number is not None:
                found.append(Constant(f"{module}.{target}", path, node.lineno, number))
    return found


def _assignment(node: ast.stmt) -> tuple[str, ast.expr | None]:
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id, node.value
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
        return node.target.id, node.value
    return "", None


def _number(node: ast.expr | None) -> int | float | None:
    sign = 1
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign, node = (-1 if isinstance(node.op, ast.USub) else 1), node.operand
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        value = sign * node.value
        return value if value == value and abs(value) != float("inf") else None
    return None
