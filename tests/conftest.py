"""Fixtures shared by the whole suite: throw-away repositories and byte-for-byte snapshots."""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import io
import json
import os
import sys
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

# Every check in the suite works its evidence out afresh (subprocesses inherit this): the
# verdict cache is tested where a test asks for it, with a directory of its own.
os.environ["SANDBOX_CACHE"] = "off"

# The tensor stack is installed with the package on Python 3.11 only (the `tensor` extra
# elsewhere).  A test module that imports it, or the numeric verifier whose kernel checks run
# it in the workers, is reported as skipped, with the reason, where it is missing, so the
# scalar, policy and pre-merge tests run on every Python (make test-pythons).
_TENSOR_STACK = ("torch", "jax")
_NEEDS_TENSOR_STACK = ("verifiers.numeric", "tests.verifiers.kernel_support")


@functools.cache
def _missing_tensor_stack() -> tuple[str, ...]:
    return tuple(name for name in _TENSOR_STACK if importlib.util.find_spec(name) is None)


def _skip_reason(what: str) -> str:
    missing = _missing_tensor_stack()
    return (f"{what} needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed "
            f"on Python {sys.version_info.major}.{sys.version_info.minor} (pip install -e '.[tensor]' to run it)")


def _tensor_imports(path: Path) -> list[str]:
    """The imports of torch, jax or the numeric verifier at the top level of the module at ``path``."""
    names: list[str] = []
    for node in ast.parse(path.read_bytes(), filename=str(path)).body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return [name for name in names
            if name.split(".")[0] in _TENSOR_STACK
            or any(name == dep or name.startswith(dep + ".") for dep in _NEEDS_TENSOR_STACK)]


# Tests whose module imports neither, but whose checked repository does: its workers import
# torch or jax (the allow-list's module table is generated from them).  A node-id prefix each;
# an entry naming a test its file no longer defines is an error, so a rename cannot drop a skip.
_RUN_TENSOR_CODE = (
    "tests/sandbox/test_gate.py::test_tensor_function_is_routed_to_the_numeric_verifier",
    "tests/sandbox/test_init.py::test_check_accepts_a_benign_change_after_init",
    "tests/verifiers/test_allowlist.py::test_the_module_table_matches_the_installed_libraries",
    "tests/redteam/test_values_as_data.py::test_returned_arrays_are_compared_by_content[torch-",
    "tests/redteam/test_values_as_data.py::test_returned_arrays_are_compared_by_content[jax-",
)


class _SkippedModule(pytest.Module):
    """A test module reported as skipped, with ``skip_reason``, instead of being imported."""

    skip_reason = ""

    def collect(self):
        pytest.skip(self.skip_reason)


def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    needs = _tensor_imports(module_path) if _missing_tensor_stack() else []
    if not needs:
        return None
    module = _SkippedModule.from_parent(parent, path=module_path)
    module.skip_reason = _skip_reason(f"{module_path.name} (it imports {', '.join(dict.fromkeys(needs))})")
    return module


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not _missing_tensor_stack():
        return
    reason = _skip_reason("the code this test checks")
    for prefix in _RUN_TENSOR_CODE:
        path, function = prefix.split("::")
        if f"def {function.split('[')[0]}(" not in (config.rootpath / path).read_text():
            raise pytest.UsageError(f"tests/conftest.py: _RUN_TENSOR_CODE names {function!r}, which {path} "
                                    "no longer defines; rename or remove the entry")
        for item in items:
            if item.nodeid.startswith(prefix):
                item.add_marker(pytest.mark.skip(reason=reason))


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Write ``files`` (relative path -> text, dedented, or bytes) under ``root``."""
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    return root


def cli_check(root: Path, patch: Path) -> tuple[int, dict | None, str]:
    """``sandbox check --format json`` on ``patch``: the exit code, the parsed report and standard error."""
    from sandbox._cli import main

    out, err = io.StringIO(), io.StringIO()
    code = main(["check", "--repo", str(root), "--patch", str(patch), "--format", "json"], out, err)
    return code, (json.loads(out.getvalue()) if out.getvalue() else None), err.getvalue()


def snapshot(root: Path) -> dict[str, str]:
    """Every file and symlink under ``root`` with a hash of its bytes (or link target) and mode."""
    state: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                state[rel] = "link:" + os.readlink(path)
            elif path.is_file():
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                state[rel] = f"{digest}:{oct(path.stat().st_mode)}"
            else:
                state[rel] = "dir"
    return state


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., Path]:
    """``make_repo({"train.py": "..."})`` writes a fresh repository and returns its root."""
    counter = 0

    def make(files: Mapping[str, str | bytes] | None = None) -> Path:
        nonlocal counter
        counter += 1
        root = tmp_path / f"repo{counter}"
        root.mkdir()
        return write_tree(root, files or {})

    return make
