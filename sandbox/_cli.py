"""The command line: ``sandbox check | apply | log | recover | improve``.

``main(argv, stdout, stderr)`` returns an exit code and never calls ``sys.exit``,
so tests drive it directly.  Reports go to stdout; errors go to stderr.
"""

from __future__ import annotations

import argparse
import difflib
import enum
import json
import os
import shlex
import sys
import traceback
from pathlib import Path
from typing import IO, Sequence

from sandbox._errors import SandboxError
from sandbox._gate import Gate, open_state, recover_interrupted
from sandbox._patch import Patch
from sandbox._report import FORMATS, render
from sandbox._verdict import Verdict

__all__ = ["ExitCode", "console_main", "main"]


class ExitCode(enum.IntEnum):
    ACCEPTED = 0
    REJECTED = 1
    ERROR = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sandbox", description="Gate a code change: apply it only when shown safe.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser("check", help="judge a patch; never writes inside the repository")
    _common(check)
    source = check.add_mutually_exclusive_group(required=True)
    source.add_argument("--patch", metavar="FILE", help="unified diff or JSON edits; - reads standard input")
    source.add_argument("--base", metavar="REV", help="check the git diff from REV to --head (or the work tree)")
    check.add_argument("--head", metavar="REV", help="with --base: the revision to check (default: the work tree)")
    check.add_argument("--apply", action="store_true", help="apply the patch if it is accepted")

    apply = commands.add_parser("apply", help="check a patch, then apply it atomically if accepted")
    apply.add_argument("patch", metavar="PATCH", help="unified diff or JSON edits; - reads standard input")
    _common(apply)
    apply.add_argument("--approve", action="store_true",
                       help="you have reviewed the verdict and diff (needed when [tool.sandbox] apply is manual/proven)")

    log = commands.add_parser("log", help="show the ledger of verdicts and applies")
    log.add_argument("--repo", default=".", metavar="DIR")
    log.add_argument("--verify", action="store_true", help="check the hash chain; exit 1 if it was tampered with")
    log.add_argument("--expect-head", metavar="HASH", help="with --verify: the head hash recorded elsewhere")
    log.add_argument("--format", choices=("text", "json"), default="text")

    recover = commands.add_parser("recover", help="complete or roll back an interrupted apply")
    recover.add_argument("--repo", default=".", metavar="DIR")

    improve = commands.add_parser("improve", help="propose -> verify -> apply loop with a model (not in this version)")
    improve.add_argument("--goal", required=True)
    improve.add_argument("--model")
    improve.add_argument("--replay")
    improve.add_argument("--rounds", type=int, default=3)
    improve.add_argument("--objective")
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", default=".", metavar="DIR", help="the repository (any directory; default .)")
    parser.add_argument("--format", choices=sorted(FORMATS), default="text")
    parser.add_argument("--output", metavar="FILE", help="write the report to FILE instead of standard output")
    parser.add_argument("--require", choices=("passed", "proven"), help="the weakest evidence accepted")
    parser.add_argument("--jobs", type=int, metavar="N", help="obligations checked in parallel")
    parser.add_argument("--seed", type=int, metavar="N", help="seed for generated inputs")


def main(argv: Sequence[str] | None = None, stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:
        return ExitCode.ACCEPTED if exit_.code == 0 else ExitCode.ERROR
    try:
        return _COMMANDS[args.command](args, stdout, stderr)
    except (SandboxError, OSError) as error:
        print(f"sandbox {args.command}: error: {error}", file=stderr)
        _json_error(args, error, stdout)
        return ExitCode.ERROR
    except Exception as error:  # noqa: BLE001 - a crash of the gate must never read as accepted or rejected
        print(f"sandbox {args.command}: internal error (a bug in the sandbox; please report it):\n"
              f"{traceback.format_exc()}", file=stderr)
        _json_error(args, error, stdout)
        return ExitCode.ERROR


def _json_error(args: argparse.Namespace, error: BaseException, stdout: IO[str]) -> None:
    """With ``--format json`` a failure is still one JSON object on stdout, so CI can parse it."""
    if getattr(args, "format", None) != "json" or getattr(args, "output", None):
        return
    detail = {"type": type(error).__name__, "message": str(error)}
    detail.update({k: getattr(error, k) for k in ("path", "hunk", "line") if getattr(error, k, None) is not None})
    stdout.write(json.dumps({"accepted": False, "error": detail}, indent=2) + "\n")


def console_main() -> None:
    """Entry point of the ``sandbox`` console script."""
    sys.exit(main())


def _check(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    if args.head and not args.base:
        raise SandboxError("--head needs --base")
    if args.base:
        if args.apply:
            raise SandboxError("--apply works with --patch only: a --base/--head diff is already in git")
        from sandbox._git import check_revisions

        verdict = check_revisions(Path(args.repo), args.base, args.head, **_overrides(args))
        _emit(verdict, args, stdout)
        return _code(verdict)
    gate = Gate.from_repo(args.repo, **_overrides(args))
    verdict = gate.check(_read_patch(args.patch), replay=_replay(args, gate))
    _emit(verdict, args, stdout)
    if verdict.accepted and args.apply:
        return _apply_verdict(gate, verdict, args, stdout, approved=False)
    return _code(verdict)


def _apply(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    gate = Gate.from_repo(args.repo, **_overrides(args))
    gate.recover()
    verdict = gate.check(_read_patch(args.patch), replay=_replay(args, gate))
    _emit(verdict, args, stdout)
    if not verdict.accepted:
        gate.record(verdict)
        return ExitCode.REJECTED
    if args.approve:
        _print_diff(verdict, stdout)
    return _apply_verdict(gate, verdict, args, stdout, approved=args.approve)


def _apply_verdict(gate: Gate, verdict: Verdict, args: argparse.Namespace, stdout: IO[str], approved: bool) -> int:
    approver = f"{os.environ.get('USER', 'a person')} (--approve)" if approved else None
    entry = gate.apply(verdict, approved_by=approver)
    if args.format == "text":
        print(f"applied {len(verdict.files)} file(s); ledger entry #{entry.seq}, head {entry.hash}", file=stdout)
    return ExitCode.ACCEPTED


def _log(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    root, config, ledger = open_state(args.repo)
    if args.verify:
        result = ledger.verify(expect_head=args.expect_head)
        if args.format == "json":
            print(json.dumps({"ok": result.ok, "count": result.count, "head": result.head,
                              "problems": list(result.problems)}, indent=2), file=stdout)
        elif result.ok:
            print(f"ledger intact: {result.count} entries, head {result.head}", file=stdout)
        else:
            print(f"ledger TAMPERED ({len(result.problems)} problem(s)):", file=stdout)
            for problem in result.problems:
                print(f"  - {problem}", file=stdout)
        return ExitCode.ACCEPTED if result.ok else ExitCode.REJECTED
    entries = ledger.entries()
    if args.format == "json":
        print(json.dumps([{"seq": e.seq, "time": e.time, "kind": e.kind, "record": e.record, "hash": e.hash}
                          for e in entries], indent=2), file=stdout)
        return ExitCode.ACCEPTED
    if not entries:
        print(f"the ledger in {root / config.ledger} is empty: nothing has been applied yet", file=stdout)
    for e in entries:
        print(f"#{e.seq:<4} {e.time}  {e.kind:<8} {_entry_summary(e.record)}", file=stdout)
    return ExitCode.ACCEPTED


def _entry_summary(record: object) -> str:
    if not isinstance(record, dict):
        return ""
    if "accepted" in record:
        return ("accepted" if record["accepted"] else "rejected") + f" patch {record['certificate']['patch'][:12]}"
    if "approved_by" in record:
        return f"applied {', '.join(record.get('files', []))} (approved by {record['approved_by']})"
    return ", ".join(f"{k}={v}" for k, v in record.items())


def _recover(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    root, config, _ = open_state(args.repo)
    outcome = recover_interrupted(root, config)
    print(f"interrupted apply {outcome}" if outcome else "nothing to recover", file=stdout)
    return ExitCode.ACCEPTED


def _improve(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    print("sandbox improve: not available in this version: the propose -> verify -> apply loop needs the "
          "model adapters (Anthropic, replay), which are not built yet; use `sandbox check` or "
          "`sandbox apply` on a proposed patch instead", file=stderr)
    return ExitCode.ERROR


_COMMANDS = {"check": _check, "apply": _apply, "log": _log, "recover": _recover, "improve": _improve}


def _replay(args: argparse.Namespace, gate: Gate) -> str:
    """The check command that reproduces this run's generated inputs."""
    return shlex.join(["sandbox", "check", "--repo", args.repo, "--patch", args.patch,
                       "--seed", str(gate.config.seed)])


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    return {"require": args.require, "jobs": args.jobs, "seed": args.seed}


def _read_patch(name: str) -> Patch:
    if name == "-":
        return Patch.load(sys.stdin.read(), name="<stdin>")
    path = Path(name)
    if not path.is_file():
        raise SandboxError(f"{name}: no such patch file")
    return Patch.load(path.read_bytes(), name=name)


def _emit(verdict: Verdict, args: argparse.Namespace, stdout: IO[str]) -> None:
    if args.output:
        Path(args.output).write_text(render(verdict, args.format), encoding="utf-8")
        return
    colour = args.format == "text" and stdout.isatty() and "NO_COLOR" not in os.environ
    stdout.write(render(verdict, args.format, colour=colour))


def _print_diff(verdict: Verdict, stdout: IO[str]) -> None:
    for change in verdict.files:
        old = (change.before_text or "").splitlines(keepends=True)
        new = (change.after_text or "").splitlines(keepends=True)
        stdout.writelines(difflib.unified_diff(old, new, f"a/{change.path}", f"b/{change.path}"))


def _code(verdict: Verdict) -> int:
    return ExitCode.ACCEPTED if verdict.accepted else ExitCode.REJECTED
