"""Git, where the gate uses it: checking a revision range, and anchoring the ledger.

``sandbox check --base REV [--head REV]`` checks a git range as a pre-merge gate.  The
*before* tree is the base revision, not the work tree: configuration and properties are read
from it too, so a pull request cannot change what it is checked against.  Only the touched
files, ``pyproject.toml`` and the property files are exported, into a temporary directory
outside the repository.

The ledger anchor: after ``sandbox apply`` the ledger's head (entry count and last hash) is
written as a git note (``refs/notes/sandbox``) on the current commit, so a ledger that is later
deleted, truncated or rewritten together with its head file no longer matches something git
keeps outside ``.sandbox/``.  Notes travel with ``git push origin refs/notes/sandbox``, can be
inspected with ``git log --notes=sandbox``, and never touch the work tree or the commits.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from sandbox._config import Config, load_config, sandbox_table
from sandbox._errors import GateError, PatchError, SandboxError
from sandbox._ledger import Anchor
from sandbox._patch import Patch
from sandbox._verdict import Verdict

__all__ = ["NOTES_REF", "check_anchor", "check_revisions", "read_anchors", "resolve_revision", "write_anchor"]

NOTES_REF = "refs/notes/sandbox"


def resolve_revision(repo: Path, rev: str) -> str:
    """The commit ``rev`` names now, so a replay command still means the same range later."""
    try:
        return _git(repo.resolve(), "rev-parse", "--verify", "--quiet", "--end-of-options",
                    f"{rev}^{{commit}}").strip()
    except GateError:
        raise GateError(f"{rev!r} does not name a commit in {repo}; pass a branch, tag or commit hash") from None


def check_revisions(repo: Path, base: str, head: str | None, *, replay: str | None = None,
                    fail_fast: bool = False, progress: Any = None, **overrides: Any) -> Verdict:
    """Judge the diff from ``base`` to ``head`` (or to the work tree) against ``base``."""
    from sandbox._gate import Gate

    repo = repo.resolve()
    diff = _git(repo, "diff", "--no-color", "--no-ext-diff", "-M", "--full-index", "--binary", base,
                *([head] if head else []), "--")
    if not diff.strip():
        raise PatchError(f"git diff {base}..{head or 'work tree'} is empty: nothing to check")
    with tempfile.TemporaryDirectory(prefix="sandbox-base-") as scratch:
        root = Path(scratch)
        pyproject = _show(repo, base, "pyproject.toml")
        table = sandbox_table(pyproject.decode("utf-8", "replace")) if pyproject else None
        property_files = tuple((table or {}).get("properties", Config().properties))
        _export(repo, base, "pyproject.toml", root)
        # The base revision's own limits decide what size of diff is taken on.
        patch = Patch.from_diff(diff, limits=load_config(root).limits)
        for path in {*patch.paths, *property_files}:
            _export(repo, base, path, root)
        gate = Gate.from_repo(root, worker_tree=repo, **overrides)
        # Replayable later: the real repository, not this scratch export (callers pass commit hashes).
        default = shlex.join(["sandbox", "check", "--repo", str(repo), "--base", base,
                              *(["--head", head] if head else []), "--seed", str(gate.config.seed)])
        verdict = gate.check(patch, replay=replay or default, fail_fast=fail_fast, progress=progress)
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


# ---------------------------------------------------------------------------------- ledger anchor


def _toplevel(directory: Path) -> Path | None:
    """The git work tree holding ``directory``, or None (no git, or not a repository)."""
    probe = directory if directory.is_dir() else directory.parent
    while not probe.is_dir():
        probe = probe.parent
    try:
        result = _run(probe, "rev-parse", "--show-toplevel")
    except FileNotFoundError:
        return None
    return Path(result.stdout.strip()).resolve() if result.returncode == 0 else None


def _ledger_key(top: Path, ledger_dir: Path) -> str:
    return ledger_dir.resolve().relative_to(top).as_posix()


def write_anchor(ledger_dir: Path, count: int, head: str) -> str:
    """Record ``count``/``head`` of the ledger in ``ledger_dir`` as a note on HEAD.

    Returns where it was written, or raises ``GateError`` saying why it could not be (not a git
    repository, no commit yet, git failed); the caller reports that, the apply stands.
    """
    top = _toplevel(ledger_dir)
    if top is None:
        raise GateError(f"{ledger_dir.parent} is not in a git repository, so the ledger head cannot be "
                        "anchored in git notes; keep the printed head hash and pass it to "
                        "`sandbox log --verify --expect-head HASH`")
    commit = _run(top, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    if commit.returncode != 0:
        raise GateError(f"the git repository {top} has no commit yet, so there is nothing to attach the "
                        "ledger anchor to; commit once, and the next apply anchors the ledger")
    key = _ledger_key(top, ledger_dir)
    existing = _run(top, "notes", f"--ref={NOTES_REF}", "show", "HEAD")
    notes = _parse_note(existing.stdout) if existing.returncode == 0 else {}
    notes[key] = {"count": count, "head": head}
    body = json.dumps(notes, sort_keys=True)
    result = _run(top, "notes", f"--ref={NOTES_REF}", "add", "-f", "-m", body, "HEAD", identity=True)
    if result.returncode != 0:
        raise GateError(f"git notes failed in {top}: {result.stderr.strip()}; the ledger head is not anchored")
    return f"git notes {NOTES_REF} on commit {commit.stdout.strip()[:12]}"


def check_anchor(ledger_dir: Path, ledger: Any) -> None:
    """Raise when the ledger no longer matches its anchor (appending would hide the tampering)."""
    anchors, _ = read_anchors(ledger_dir)
    result = ledger.verify(anchors=anchors) if anchors else None
    if result is not None and not result.ok:
        raise SandboxError(f"the ledger in {ledger_dir} does not match its anchor ({'; '.join(result.problems)}); "
                           "nothing was checked or applied. Run `sandbox log --verify`, and restore the ledger first")


def read_anchors(ledger_dir: Path) -> tuple[list[Anchor], str]:
    """Every anchor git notes hold for this ledger, and "" -- or [] and why there can be none."""
    top = _toplevel(ledger_dir)
    if top is None:
        return [], "not in a git repository (or git is not installed)"
    listing = _run(top, "notes", f"--ref={NOTES_REF}", "list")
    if listing.returncode != 0 or not listing.stdout.strip():
        return [], f"no git note in {NOTES_REF} records this ledger"
    pairs = [line.split() for line in listing.stdout.splitlines() if line.strip()]
    batch = _run(top, "cat-file", "--batch", stdin="".join(f"{note}\n" for note, _ in pairs))
    key = _ledger_key(top, ledger_dir)
    anchors = []
    for (_, commit), body in zip(pairs, _batch_bodies(batch.stdout)):
        entry = _parse_note(body).get(key)
        if isinstance(entry, dict) and isinstance(entry.get("count"), int) and isinstance(entry.get("head"), str):
            anchors.append(Anchor(entry["count"], entry["head"], f"git note {NOTES_REF} on commit {commit[:12]}"))
    return anchors, "" if anchors else f"no git note in {NOTES_REF} records the ledger {key}"


def _parse_note(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _batch_bodies(output: str) -> list[str]:
    """The object bodies of ``git cat-file --batch`` output, in order."""
    bodies, rest = [], output
    while rest:
        header, _, rest = rest.partition("\n")
        fields = header.split()
        if len(fields) != 3:  # "<name> missing"
            bodies.append("")
            continue
        size = int(fields[2])
        bodies.append(rest[:size])
        rest = rest[size + 1:]
    return bodies


def _run(cwd: Path, *args: str, stdin: str | None = None, identity: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the real git (from PATH) in ``cwd``; hooks and pagers off, no prompt."""
    git = shutil.which("git")
    if git is None:
        raise FileNotFoundError("git")
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "LC_ALL": "C"}
    if identity:
        env.update(_identity(git, cwd, env))
    return subprocess.run([git, "-C", str(cwd), "-c", "core.hooksPath=/dev/null", *args], input=stdin,
                          capture_output=True, text=True, check=False, env=env)


def _identity(git: str, cwd: Path, env: dict[str, str]) -> dict[str, str]:
    """A committer for the notes commit when the user configured none (CI runners often do not)."""
    probe = subprocess.run([git, "-C", str(cwd), "var", "GIT_COMMITTER_IDENT"], capture_output=True,
                           text=True, check=False, env=env)
    if probe.returncode == 0:
        return {}
    return {"GIT_COMMITTER_NAME": "selfmod-sandbox", "GIT_COMMITTER_EMAIL": "sandbox@localhost",
            "GIT_AUTHOR_NAME": "selfmod-sandbox", "GIT_AUTHOR_EMAIL": "sandbox@localhost"}
