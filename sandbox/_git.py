"""``sandbox check --base REV [--head REV]``: check a git range as a pre-merge gate.

The *before* tree is the base revision, not the work tree: configuration and
properties are read from it too, so a pull request cannot change what it is
checked against.  Only the touched files, ``pyproject.toml`` and the property
files are exported, into a temporary directory outside the repository.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

from sandbox._config import Config, sandbox_table
from sandbox._errors import GateError, PatchError
from sandbox._patch import Patch
from sandbox._verdict import Verdict

__all__ = ["check_revisions"]


def check_revisions(repo: Path, base: str, head: str | None, **overrides: Any) -> Verdict:
    """Judge the diff from ``base`` to ``head`` (or to the work tree) against ``base``."""
    from sandbox._gate import Gate

    repo = repo.resolve()
    diff = _git(repo, "diff", "--no-color", "--no-ext-diff", "-M", "--full-index", "--binary", base,
                *([head] if head else []), "--")
    if not diff.strip():
        raise PatchError(f"git diff {base}..{head or 'work tree'} is empty: nothing to check")
    patch = Patch.from_diff(diff)
    with tempfile.TemporaryDirectory(prefix="sandbox-base-") as scratch:
        root = Path(scratch)
        pyproject = _show(repo, base, "pyproject.toml")
        table = sandbox_table(pyproject.decode("utf-8", "replace")) if pyproject else None
        property_files = tuple((table or {}).get("properties", Config().properties))
        for path in {*patch.paths, "pyproject.toml", *property_files}:
            _export(repo, base, path, root)
        verdict = Gate.from_repo(root, worker_tree=repo, **overrides).check(patch)
    return _relabel(verdict, repo)


def _export(repo: Path, base: str, path: str, root: Path) -> None:
    mode = _git(repo, "ls-tree", base, "--", path).split(" ", 1)[0]
    if mode == "120000":
        raise PatchError("is a symlink in the base revision; the gate does not follow symlinks", path=path)
    content = _show(repo, base, path) if mode else None
    if content is not None:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def _show(repo: Path, rev: str, path: str) -> bytes | None:
    result = subprocess.run(["git", "-C", str(repo), "show", f"{rev}:{path}"], capture_output=True, check=False)
    return result.stdout if result.returncode == 0 else None


def _git(repo: Path, *args: str) -> str:
    try:
        result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise GateError("--base/--head needs git, which is not installed; use --patch FILE instead") from None
    if result.returncode != 0:
        raise GateError(f"git {' '.join(args[:1])} failed in {repo}: {result.stderr.strip()}")
    return result.stdout


def _relabel(verdict: Verdict, repo: Path) -> Verdict:
    import dataclasses

    return dataclasses.replace(verdict, repo=str(repo))
