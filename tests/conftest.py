"""Fixtures shared by the whole suite: throw-away repositories and byte-for-byte snapshots."""

from __future__ import annotations

import hashlib
import io
import json
import os
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

# Every check in the suite works its evidence out afresh (subprocesses inherit this): the
# verdict cache is tested where a test asks for it, with a directory of its own.
os.environ["SANDBOX_CACHE"] = "off"


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
