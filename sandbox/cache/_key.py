"""What a cached piece of evidence depends on, as one sha256.

The key of an obligation is the digest of: the tool (its own source and the versions of
the libraries that judge: z3, hypothesis, CrossHair, torch, jax, ...), the interpreter, the
configuration and property files, the seed, the old and new text of every touched file, the
content of the rest of the tree the workers import from, and the obligation itself (kind,
target, route, old and new source, the property it checks).  A change to any of these is a
different key: nothing is ever invalidated, it is simply never found again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from properties import Obligation

__all__ = ["CheckKey", "obligation_key", "tool_digest", "tree_digest"]

# Libraries whose version can change a verdict (a solver, a tester, the tensor stack).
_JUDGES = ("libcst", "z3-solver", "hypothesis", "crosshair-tool", "numpy", "torch", "jax", "jaxlib")
_PACKAGES = ("sandbox", "verifiers", "properties", "models")
# Never part of the tree's content: git's own files, caches, and virtual environments.
_SKIP_DIRS = frozenset({".git", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache", ".pytest_cache",
                        ".hypothesis", "node_modules"})


@dataclass(frozen=True, slots=True)
class CheckKey:
    """The part of every obligation's key that one check shares; ``for_(obligation)`` completes it."""

    digest: str

    @classmethod
    def of(cls, *, tree: str, config: str, properties: str, seed: int,
           before: Mapping[str, str], after: Mapping[str, str]) -> "CheckKey":
        material = {"tool": tool_digest(), "tree": tree, "config": config, "properties": properties,
                    "seed": seed, "before": _texts(before), "after": _texts(after)}
        return cls(_sha(material))

    def for_(self, obligation: Obligation) -> str:
        return obligation_key(self.digest, obligation)


def obligation_key(check: str, obligation: Obligation) -> str:
    """The key of one obligation within a check (``allowed_by`` is part of it: informational or not
    is decided afresh, but the comparison asked for must be the same)."""
    spec = obligation.spec
    material = {
        "check": check, "target": obligation.target, "kind": obligation.kind.value, "path": obligation.path,
        "route": list(obligation.route), "old": obligation.old_source, "new": obligation.new_source,
        "reason": obligation.reason, "module": obligation.module, "rule": obligation.rule,
        "allowed_by": obligation.allowed_by,
        # The spec's callables are covered by the property files' digest; its data by its repr.
        "spec": None if spec is None else f"{type(spec).__name__}:{_spec_data(spec)}",
    }
    return _sha(material)


@functools.lru_cache(maxsize=1)
def tool_digest() -> str:
    """The gate's own source and the judging libraries' versions: a new tool is a new key."""
    import importlib.metadata  # only a check that uses the cache pays for it

    digest = hashlib.sha256()
    digest.update(f"{sys.version}|{platform.machine()}|{platform.system()}".encode())
    for name in _JUDGES:
        try:
            version = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            version = "absent"
        digest.update(f"\0{name}={version}".encode())
    root = Path(__file__).resolve().parents[2]
    for package in _PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            digest.update(b"\0" + str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def tree_digest(root: Path, *, skip: Iterable[str] = ()) -> str:
    """The content of every file of the tree the workers see, as one digest.

    In a git work tree, git's index gives the blob of every clean tracked file without
    reading it; only files that differ from the index (and untracked ones) are hashed.
    Elsewhere every file is read.  ``skip`` names top-level directories left out (the ledger).
    """
    skipped = {s.strip("/") for s in skip if s}
    listed = _git_listing(root, skipped)
    if listed is None:
        listed = _walk_listing(root, skipped)
    return _sha(listed)


def _git_listing(root: Path, skipped: set[str]) -> list[str] | None:
    try:
        top = _git(root, "rev-parse", "--show-toplevel").strip()
        if Path(top).resolve() != root.resolve():
            return None  # a sub-directory of a repository: git's paths are not the tree's
        staged = _git(root, "ls-files", "-s", "-z")
        dirty = set(_git(root, "ls-files", "-m", "-o", "-d", "--exclude-standard", "-z").split("\0")) - {""}
    except (OSError, subprocess.SubprocessError):
        return None
    listed = []
    for record in staged.split("\0"):
        if not record:
            continue
        meta, _, path = record.partition("\t")
        if path not in dirty and not _skipped(path, skipped):
            listed.append(f"{path}\0{meta.split()[1]}")
    for path in sorted(dirty):
        if not _skipped(path, skipped):
            listed.append(f"{path}\0{_file_hash(root / path)}")
    return sorted(listed)


def _walk_listing(root: Path, skipped: set[str]) -> list[str]:
    listed = []
    for directory, dirs, files in os.walk(root):
        relative = os.path.relpath(directory, root)
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS and not _skipped(_join(relative, d), skipped))
        for name in files:
            path = _join(relative, name)
            listed.append(f"{path}\0{_file_hash(root / path)}")
    return sorted(listed)


def _join(relative: str, name: str) -> str:
    return name if relative == "." else f"{relative}/{name}".replace(os.sep, "/")


def _skipped(path: str, skipped: set[str]) -> bool:
    return any(path == s or path.startswith(s + "/") for s in skipped)


def _file_hash(path: Path) -> str:
    try:
        if path.is_symlink():
            return "link:" + os.readlink(path)
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "absent"
    except OSError as error:
        return f"unreadable:{error.errno}"


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
    if done.returncode != 0:
        raise subprocess.SubprocessError(done.stderr)
    return done.stdout


def _texts(texts: Mapping[str, str]) -> dict[str, str]:
    return {path: hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
            for path, text in sorted(texts.items())}


def _spec_data(spec: object) -> str:
    fields = getattr(spec, "__dataclass_fields__", {})
    return repr({name: getattr(spec, name) for name in fields if not callable(getattr(spec, name))})


def _sha(material: object) -> str:
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()
