"""What a git hook checks: the staged change (pre-commit), or the commits being pushed (pre-push).

Under pre-commit, ``sandbox check --base HEAD`` already checks exactly the staged change:
pre-commit stashes unstaged edits before it runs a hook, so the work tree then holds the index.
Outside pre-commit the work tree may differ from the index; ``staged_diff`` reads the index
itself (``git diff --cached``), for a ``sandbox check --staged`` that checks what ``git commit``
would record and nothing else.

``python -m sandbox._staged [check options]`` is the entry of the ``sandbox-check-full`` hook: on
``pre-push`` pre-commit names the pushed range in ``PRE_COMMIT_FROM_REF``/``PRE_COMMIT_TO_REF``,
and the work tree is not what is pushed, so the range is checked; run by hand (``--hook-stage
manual``) it checks the staged change like the fast hook.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from sandbox._errors import GateError, PatchError
from sandbox._patch import Patch, PatchLimits

__all__ = ["EMPTY_TREE", "hook_revisions", "main", "staged_diff", "staged_patch"]

# git's empty tree: the "before" of a repository's first commit, which has no HEAD yet.
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
_NO_COMMIT = "0" * 40  # what git hooks pass for "no such ref" (a branch created or deleted)


def staged_diff(repo: Path) -> str:
    """The staged change (index against HEAD, or against nothing before the first commit)."""
    repo = repo.resolve()
    base = "HEAD" if _git(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False) else EMPTY_TREE
    diff = _git(repo, "diff", "--cached", "--no-color", "--no-ext-diff", "-M", "--full-index", "--binary",
                base, "--")
    if not diff.strip():
        raise PatchError("nothing is staged: stage the change to check with `git add`, or check the work "
                         "tree with `sandbox check --base HEAD`", path=str(repo))
    return diff


def staged_patch(repo: Path, limits: PatchLimits | None = None) -> Patch:
    """``staged_diff`` as a ``Patch``, within ``limits``."""
    return Patch.from_diff(staged_diff(repo), name="git diff --cached", limits=limits)


def hook_revisions(environ: Mapping[str, str]) -> tuple[str, str | None]:
    """``(base, head)`` for ``sandbox check --base base [--head head]`` in the hook pre-commit runs.

    The pushed range when pre-commit names one (pre-push), else ``HEAD`` to the work tree, which
    under pre-commit is the staged change.
    """
    source, target = environ.get("PRE_COMMIT_FROM_REF", ""), environ.get("PRE_COMMIT_TO_REF", "")
    if source and target and _NO_COMMIT not in (source, target):
        return source, target
    return "HEAD", None


def main(argv: Sequence[str] | None = None, stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> int:
    """Run ``sandbox check`` on what the hook should check; extra ``argv`` goes to ``check``."""
    from sandbox._cli import main as cli

    base, head = hook_revisions(os.environ)
    extra = list(sys.argv[1:] if argv is None else argv)
    return cli(["check", "--base", base, *(["--head", head] if head else []), *extra], stdout, stderr)


def _git(repo: Path, *args: str, check: bool = True) -> str:
    try:
        result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise GateError("checking the staged change needs git, which is not installed") from None
    if result.returncode != 0 and check:
        raise GateError(f"git {args[0]} failed in {repo}: {result.stderr.strip()}; is it a git repository?")
    return result.stdout if result.returncode == 0 else ""


if __name__ == "__main__":
    sys.exit(main())
