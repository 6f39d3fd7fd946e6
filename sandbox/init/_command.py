"""``sandbox init``: write a starter ``[tool.sandbox]`` table and property file for a repository."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import IO, Any

from sandbox._errors import SandboxError

__all__ = ["add_parser", "run"]

OK, ERROR = 0, 2


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add ``init`` to the CLI's subcommands."""
    init = commands.add_parser("init", help="write a starter [tool.sandbox] table and sandbox_properties.py "
                                            "inferred from the repository; never overwrites")
    init.add_argument("--repo", default=".", metavar="DIR", help="the repository (default .)")
    init.add_argument("--dry-run", action="store_true", help="print both files; write nothing")
    return init


def run(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    """Exit 0 when the files are written (or were there already), 2 when init cannot proceed."""
    from sandbox.init._infer import infer
    from sandbox.init._write import plan, write

    root = Path(args.repo)
    if not root.is_dir():
        print(f"sandbox init: error: {root} is not a directory; pass the repository with --repo DIR", file=stderr)
        return ERROR
    inference = infer(root)
    try:
        result = plan(root, inference)
    except SandboxError as error:
        print(f"sandbox init: error: {error}", file=stderr)
        return ERROR
    for path, why in inference.unreadable:
        print(f"sandbox init: skipped {path}: {why}", file=stderr)
    found = (f"{inference.modules} module(s) scanned: {len(inference.kernels)} tensor function(s), "
             f"{len(inference.constants)} numeric constant(s)")
    if args.dry_run:
        stdout.write(f"# {result.pyproject} (appended)\n{result.table}\n# {result.properties}\n{result.starter}")
        print(f"sandbox init: dry run, nothing written; {found}", file=stderr)
        return OK
    for note in result.notes:
        print(f"sandbox init: {note}", file=stderr)
    if result.properties_text is None:
        print(f"sandbox init: what init would have written to {result.properties.name} follows", file=stderr)
        stdout.write(result.starter)
    written = write(result)
    if written:
        print(f"sandbox init: wrote {', '.join(str(p) for p in written)}; {found}. Review them, commit them, "
              "and run `sandbox check --base HEAD` on your next change", file=stderr)
    else:
        print("sandbox init: nothing written: the repository is set up already", file=stderr)
    return OK
