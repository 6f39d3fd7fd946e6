"""The command line: ``sandbox check | apply | log | recover | improve | pending | init | check-many | keygen | attest``.

``main(argv, stdout, stderr)`` returns an exit code and never calls ``sys.exit``,
so tests drive it directly.  Reports go to stdout; errors go to stderr, and so does the
progress of a check, but only when stderr is a terminal.
"""

from __future__ import annotations

import argparse
import enum
import importlib
import json
import os
import shlex
import sys
import traceback
from pathlib import Path
from typing import IO, Callable, Sequence

from sandbox._config import DEFERRABLE
from sandbox._errors import SandboxError
from sandbox._gate import Gate, open_state, recover_interrupted
from sandbox._ledger import Ledger
from sandbox._patch import Patch, PatchLimits
from sandbox._report import FORMATS, diff_text, progress_printer, render
from sandbox._verdict import Progress, Verdict, approval_needed

__all__ = ["ExitCode", "console_main", "main"]


class ExitCode(enum.IntEnum):
    ACCEPTED = 0
    REJECTED = 1
    ERROR = 2
    # 3 is kept for `sandbox improve`'s tripwires (the design's hand-over to a person).
    AWAITING_APPROVAL = 4  # accepted by the gate, but [tool.sandbox] apply reserves it for a person


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
    apply.add_argument("patch", metavar="PATCH", nargs="?", help="unified diff or JSON edits; - reads standard input")
    apply.add_argument("--patch", dest="patch_option", metavar="FILE", help="the same as PATCH, as `check` spells it")
    _common(apply)
    apply.add_argument("--approve", nargs="?", const=True, default=False, metavar="ID",
                       help="you have reviewed the verdict and diff (needed when [tool.sandbox] apply is manual/proven); "
                            "with ID: show and apply the change `sandbox pending` lists under ID")

    log = commands.add_parser("log", help="show the ledger of verdicts and applies")
    log.add_argument("--repo", default=".", metavar="DIR")
    log.add_argument("--verify", action="store_true", help="check the hash chain; exit 1 if it was tampered with")
    log.add_argument("--expect-head", metavar="HASH", help="with --verify: the head hash recorded elsewhere")
    log.add_argument("--format", choices=("text", "json"), default="text")

    recover = commands.add_parser("recover", help="complete or roll back an interrupted apply")
    recover.add_argument("--repo", default=".", metavar="DIR")

    from sandbox.batch._parser import add_parser as add_check_many
    from sandbox.init._command import add_parser as add_init
    from sandbox.loop._parser import add_parsers

    add_parsers(commands)
    add_init(commands)
    add_check_many(commands)
    from sandbox.attest._command import add_parsers as add_attest

    add_attest(commands)
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repo", default=".", metavar="DIR", help="the repository (any directory; default .)")
    parser.add_argument("--format", choices=sorted(FORMATS), default="text")
    parser.add_argument("--output", metavar="FILE", help="write the report to FILE instead of standard output")
    parser.add_argument("--require", choices=("passed", "proven", "unchanged"), action="append",
                        help="passed/proven: the weakest evidence accepted; unchanged: a behaviour change that "
                             "an invariant() or bounds() allows is a rejection too (repeat to give both)")
    parser.add_argument("--jobs", type=int, metavar="N", help="obligations checked in parallel")
    parser.add_argument("--seed", type=int, metavar="N", help="seed for generated inputs")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="text report: every note and coverage clause on its own line, and why each verifier gave up")
    parser.add_argument("--fail-fast", action="store_true",
                        help="stop at the first obligation not met; the rest are reported as not run")
    parser.add_argument("--defer", action="append", choices=DEFERRABLE, metavar="KIND",
                        help="leave obligations of this kind (kernel, equivalent, invariant, bounds, import) to a "
                             "later full check, as a fast pre-commit hook does: exit 0 when everything else is met, "
                             "but the patch is not accepted (repeat for several kinds)")
    cache = parser.add_mutually_exclusive_group()
    cache.add_argument("--cache", metavar="DIR",
                       help="verdict cache directory (default: $SANDBOX_CACHE, else $XDG_CACHE_HOME/selfmod-sandbox)")
    cache.add_argument("--no-cache", action="store_true", help="work every obligation out afresh; store nothing")
    from sandbox.attest._command import add_options

    add_options(parser)


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
    _no_defer_with_apply(args, args.apply)
    if args.base:
        if args.apply:
            raise SandboxError("--apply works with --patch only: a --base/--head diff is already in git")
        from sandbox._git import check_revisions

        repo = Path(args.repo).resolve()
        base, head = _git_revision(repo, args.base), args.head and _git_revision(repo, args.head)
        verdict = check_revisions(repo, base, head, fail_fast=args.fail_fast, progress=_progress(stderr),
                                  **_overrides(args))
        verdict = _after_check(verdict, args, stderr)
        _emit(verdict, args, stdout)
        return _code(verdict)
    gate = Gate.from_repo(args.repo, **_overrides(args))
    if args.apply:
        _check_anchor(gate)
    verdict = _run_check(gate, args.patch, args, stderr)
    _emit(verdict, args, stdout)
    if verdict.accepted and args.apply:
        return _apply_verdict(gate, verdict, args, stdout, stderr, approved=False)
    return _code(verdict)


def _no_defer_with_apply(args: argparse.Namespace, applying: bool) -> None:
    if applying and getattr(args, "defer", None):
        raise SandboxError("--defer leaves obligations unchecked, so nothing can be applied; drop --defer "
                           "(it is for a fast hook whose full check runs later)")


def _apply(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    _no_defer_with_apply(args, True)
    if isinstance(args.approve, str):
        if args.patch is None and args.patch_option is None and not Path(args.approve).is_file():
            from sandbox.loop._command import run_approve

            return run_approve(args, args.approve, stdout, stderr)
        # `apply --approve PATCH`: the value is the patch, not a queue ID.
        if args.patch is None and args.patch_option is None:
            args.patch = args.approve
        args.approve = True
    if (args.patch is None) == (args.patch_option is None):
        raise SandboxError("name the patch once: `sandbox apply PATCH` or `sandbox apply --patch FILE`")
    name = args.patch if args.patch is not None else args.patch_option
    gate = Gate.from_repo(args.repo, **_overrides(args))
    _check_anchor(gate)
    gate.recover()
    verdict = _run_check(gate, name, args, stderr)
    _emit(verdict, args, stdout)
    if not verdict.accepted:
        gate.record(verdict)
        _anchor(gate, args, stderr)
        return ExitCode.REJECTED
    if args.approve:
        _print_diff(verdict, stdout)
    return _apply_verdict(gate, verdict, args, stdout, stderr, approved=args.approve)


def _run_check(gate: Gate, name: str, args: argparse.Namespace, stderr: IO[str]) -> Verdict:
    verdict = gate.check(_read_patch(name, gate.config.limits), replay=_replay(args, gate, name),
                         fail_fast=args.fail_fast, progress=_progress(stderr))
    return _after_check(verdict, args, stderr)


def _after_check(verdict: Verdict, args: argparse.Namespace, stderr: IO[str]) -> Verdict:
    """The reviewer (--reviewer) and the signed attestation (--attest OUT --key FILE), when asked for."""
    from sandbox.attest._command import after_check

    return after_check(verdict, args, stderr)


def _apply_verdict(gate: Gate, verdict: Verdict, args: argparse.Namespace, stdout: IO[str], stderr: IO[str],
                   approved: bool) -> int:
    reserved = "" if approved else approval_needed(gate.config.apply, verdict)
    if reserved:
        # Waiting for a person is neither a failure of the gate (2) nor a rejection (1).
        gate.record(verdict, awaiting_approval=True)
        _anchor(gate, args, stderr)
        print(f"not applied: the gate accepted the patch, but [tool.sandbox] apply = {gate.config.apply!r} "
              f"reserves {reserved} for a person, so nothing was written (exit {int(ExitCode.AWAITING_APPROVAL)}). "
              f"Review the verdict and the diff, then run `{_approve_command(args)}`",
              file=stdout if args.format == "text" and not args.output else stderr)
        return ExitCode.AWAITING_APPROVAL
    approver = f"{os.environ.get('USER', 'a person')} (--approve)" if approved else None
    entry = gate.apply(verdict, approved_by=approver)
    anchored = _anchor(gate, args, stderr)
    if args.format == "text":
        print(f"applied {len(verdict.files)} file(s); ledger entry #{entry.seq}, head {entry.hash}"
              f"{f'; anchored in {anchored}' if anchored else ''}", file=stdout)
    return ExitCode.ACCEPTED


def _approve_command(args: argparse.Namespace) -> str:
    name = getattr(args, "patch_option", None) or args.patch
    return shlex.join(["sandbox", "apply", "--repo", args.repo, "--patch", name, "--approve"])


def _check_anchor(gate: Gate) -> None:
    """Refuse to append to a ledger that no longer matches its anchor: the new anchor would hide it."""
    from sandbox._git import check_anchor

    check_anchor(gate.state_dir, gate.ledger)


def _anchor(gate: Gate, args: argparse.Namespace, stderr: IO[str]) -> str:
    """Write the ledger head where git keeps it; a failure is reported, the apply stands."""
    from sandbox._git import write_anchor

    count, head = gate.ledger.tip()
    try:
        return write_anchor(gate.state_dir, count, head)
    except (SandboxError, OSError) as error:
        print(f"sandbox {args.command}: warning: the ledger head is not anchored: {error}", file=stderr)
        return ""


def _log(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    root, config, ledger = open_state(args.repo)
    if args.verify:
        return _verify(ledger, args, stdout)
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


def _verify(ledger: Ledger, args: argparse.Namespace, stdout: IO[str]) -> int:
    """``log --verify``: the chain, the head file, and every anchor kept outside ``.sandbox/``.

    With no anchor the chain can only be self-consistent: a deleted or cut ledger looks like a
    young one, so the answer is "unanchored", never "intact".
    """
    from sandbox._git import read_anchors

    anchors, why_none = read_anchors(ledger.directory)
    result = ledger.verify(expect_head=args.expect_head, anchors=anchors)
    status = "tampered" if not result.ok else "intact" if result.anchored else "unanchored"
    if args.format == "json":
        print(json.dumps({"ok": result.ok, "status": status, "count": result.count, "head": result.head,
                          "anchored": list(result.anchored), "problems": list(result.problems)}, indent=2),
              file=stdout)
    elif status == "intact":
        print(f"ledger intact: {result.count} entries, head {result.head}; it matches "
              f"{', '.join(dict.fromkeys(result.anchored))}", file=stdout)
    elif status == "unanchored":
        print(f"ledger unanchored: {result.count} entries, head {result.head}; the hash chain is consistent, "
              f"but nothing outside {ledger.directory.name}/ records its head ({why_none}), so a deleted or "
              "truncated ledger cannot be told from this one. In a git repository `sandbox apply` anchors it "
              "in git notes; elsewhere keep the head hash and pass it as --expect-head", file=stdout)
    else:
        print(f"ledger TAMPERED ({len(result.problems)} problem(s)):", file=stdout)
        for problem in result.problems:
            print(f"  - {problem}", file=stdout)
    return ExitCode.ACCEPTED if result.ok else ExitCode.REJECTED


def _entry_summary(record: object) -> str:
    if not isinstance(record, dict):
        return ""
    if "accepted" in record:
        waiting = " (awaiting approval, not applied)" if record.get("awaiting_approval") else ""
        return ("accepted" if record["accepted"] else "rejected") + f" patch {record['certificate']['patch'][:12]}{waiting}"
    if "approved_by" in record:
        return f"applied {', '.join(record.get('files', []))} (approved by {record['approved_by']})"
    if "decision" in record and "round" in record:
        return f"round {record['round']}: {record['decision']}"
    return ", ".join(f"{k}={v}" for k, v in record.items())


def _recover(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    root, config, ledger = open_state(args.repo)
    outcome = recover_interrupted(root, config)
    print(f"interrupted apply {outcome}" if outcome else "nothing to recover", file=stdout)
    if outcome:
        from sandbox._git import write_anchor

        try:
            write_anchor(ledger.directory, *ledger.tip())
        except (SandboxError, OSError) as error:
            print(f"sandbox recover: warning: the ledger head is not anchored: {error}", file=stderr)
    return ExitCode.ACCEPTED


def _lazy(module: str, function: str) -> Callable[[argparse.Namespace, IO[str], IO[str]], int]:
    """A command implemented in a subpackage, imported only when that command runs."""
    def command(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
        return getattr(importlib.import_module(module), function)(args, stdout, stderr)
    return command


_improve = _lazy("sandbox.loop._command", "run_improve")
_pending = _lazy("sandbox.loop._command", "run_pending")
_check_many = _lazy("sandbox.batch._command", "run")
_init = _lazy("sandbox.init._command", "run")
_keygen = _lazy("sandbox.attest._command", "run_keygen")
_attest = _lazy("sandbox.attest._command", "run_verify")


_COMMANDS = {"check": _check, "apply": _apply, "log": _log, "recover": _recover, "improve": _improve,
             "pending": _pending, "init": _init, "check-many": _check_many, "keygen": _keygen, "attest": _attest}


def _replay(args: argparse.Namespace, gate: Gate, name: str) -> str:
    """The check command that reproduces this run's generated inputs, from any directory."""
    patch = name if name == "-" else str(Path(name).resolve())
    return shlex.join(["sandbox", "check", "--repo", str(gate.root), "--patch", patch,
                       "--seed", str(gate.config.seed)])


def _git_revision(repo: Path, rev: str) -> str:
    """``rev`` as a commit hash: ``HEAD~1`` means another commit tomorrow, a hash does not."""
    from sandbox._git import resolve_revision

    return resolve_revision(repo, rev)


def _progress(stderr: IO[str]) -> Callable[[Progress], None] | None:
    """One line per obligation as it starts and ends, on a terminal only (never into a capture)."""
    if not stderr.isatty():
        return None
    return progress_printer(stderr, colour="NO_COLOR" not in os.environ)


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    given = args.require or []
    levels = [r for r in given if r != "unchanged"]
    return {"require": levels[-1] if levels else None, "unchanged": ("*",) if "unchanged" in given else None,
            "jobs": args.jobs, "seed": args.seed, "cache": _cache_choice(args),
            "defer": tuple(getattr(args, "defer", None) or ()) or None}


def _cache_choice(args: argparse.Namespace) -> str | bool:
    """``--cache DIR``, ``--no-cache``, or ``$SANDBOX_CACHE`` (a directory, or ``off``), else the XDG default."""
    if getattr(args, "no_cache", False):
        return False
    given = getattr(args, "cache", None) or os.environ.get("SANDBOX_CACHE", "")
    if given.lower() in ("off", "0", "no", "false"):
        return False
    return given or True


def _read_patch(name: str, limits: PatchLimits | None = None) -> Patch:
    """Read at most one byte past the size limit, so a huge patch costs no more than the limit to refuse."""
    limits = limits or PatchLimits()
    cap = limits.max_patch_bytes + 1
    if name == "-":
        return Patch.load(sys.stdin.buffer.read(cap) if hasattr(sys.stdin, "buffer") else sys.stdin.read(cap),
                          name="<stdin>", limits=limits)
    path = Path(name)
    if not path.is_file():
        raise SandboxError(f"{name}: no such patch file")
    with path.open("rb") as handle:
        return Patch.load(handle.read(cap), name=name, limits=limits)


def _emit(verdict: Verdict, args: argparse.Namespace, stdout: IO[str]) -> None:
    verbose = getattr(args, "verbose", False)
    if args.output:
        Path(args.output).write_text(render(verdict, args.format, verbose=verbose), encoding="utf-8")
        return
    colour = args.format == "text" and stdout.isatty() and "NO_COLOR" not in os.environ
    stdout.write(render(verdict, args.format, colour=colour, verbose=verbose))


def _print_diff(verdict: Verdict, stdout: IO[str]) -> None:
    stdout.write(diff_text(verdict))


def _code(verdict: Verdict) -> int:
    # A fast hook's pass: every obligation that ran was met; the deferred ones gate a later stage.
    return ExitCode.ACCEPTED if verdict.accepted or verdict.met_except_deferred else ExitCode.REJECTED
