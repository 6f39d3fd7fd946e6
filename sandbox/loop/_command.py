"""``sandbox improve``, ``sandbox pending`` and ``sandbox apply --approve ID``."""

from __future__ import annotations

import argparse
import getpass
import json
import os
from pathlib import Path
from typing import IO, Any

from models import PatchFiles, Proposal, ProposerError, Task

from sandbox._errors import SandboxError
from sandbox._patch import Patch
from sandbox.loop._history import last_run
from sandbox.loop._loop import improve, loop_gate
from sandbox.loop._objective import Objective
from sandbox.loop._queue import PendingChange, Queue
from sandbox.loop._records import Outcome, Round, Settings
from sandbox.loop._settings import improve_table

__all__ = ["run_approve", "run_improve", "run_pending"]

ERROR, REJECTED = 2, 1


def run_improve(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    """``sandbox improve``: 0 a change kept, 1 none, 2 bad input or failure, 3 a tripwire, 4 queued only."""
    try:
        return _improve(args, stdout, stderr)
    except ProposerError as error:
        return _fail(args, error.message, stdout, stderr)
    except (ValueError, SandboxError) as error:
        return _fail(args, str(error), stdout, stderr)


def _improve(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    root = Path(args.repo).resolve()
    if not root.is_dir():
        raise SandboxError(f"{args.repo}: not a directory; pass the repository root (--repo DIR)")
    options = _options(args, root)
    settings = Settings(
        goal=options.get("goal") or "", rounds=options.get("rounds", 3), repeats=options.get("repeats", 3),
        editable=tuple(options.get("editable", ())), protect=tuple(options.get("protect", ())),
        max_rejections=options.get("max_rejections", 5), max_gain=float(options.get("max_gain", 2.0)),
        confidence=float(options.get("confidence", 0.95)), budget_tokens=options.get("budget_tokens"), budget_seconds=options.get("budget_seconds"),
        candidates=options.get("candidates", 1), backend=options.get("backend", "local"),
        workers=options.get("workers"))
    skip = _skip(root, args) if args.resume else {}
    proposer, state = _proposer(args, options, skip)
    gate = loop_gate(root)
    from sandbox._git import check_anchor

    check_anchor(gate.state_dir, gate.ledger)  # a tampered ledger is restored before anything is appended
    objective = None
    if options.get("objective"):
        # The objective runs under the gate's memory limit and, with isolation = "strict", only in bubblewrap.
        objective = Objective(options["objective"], options.get("direction", "max"), options.get("metric"),
                              timeout=float(options.get("timeout", 300.0)), memory_mb=gate.config.memory_mb,
                              strict=gate.config.isolation == "strict")
    text = args.format == "text"
    report = (lambda done: print(_round_line(done), file=stdout, flush=True)) if text else None
    outcome = improve(gate, proposer, settings, objective, resume=args.resume, proposer_state=state,
                      report=report)
    _anchor(gate.state_dir, gate.ledger.tip(), stderr)
    if text:
        print(_summary(outcome), file=stdout)
    else:
        stdout.write(json.dumps(outcome.to_json(), indent=2) + "\n")
    return outcome.exit_code


def _options(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    """CLI flags over ``[tool.sandbox.improve]``, over (with --resume) the settings of the run resumed."""
    options: dict[str, Any] = {}
    if args.resume:
        state = last_run(loop_gate(root).ledger)
        if state is not None:
            stored = dict(state.settings)
            objective = stored.pop("objective", None) or {}
            options.update({k: v for k, v in stored.items() if k in _STORED})
            options.update({k: objective[k] for k in ("command", "direction", "metric", "timeout")
                            if objective.get(k) is not None})
            if "command" in options:
                options["objective"] = options.pop("command")
    options.update(improve_table(root))
    given = {"goal": args.goal, "rounds": args.rounds, "objective": args.objective, "metric": args.metric,
             "direction": args.direction, "repeats": args.repeats, "editable": args.editable,
             "protect": args.protect, "max_rejections": args.max_rejections, "max_gain": args.max_gain,
             "confidence": args.confidence, "timeout": args.timeout, "budget_tokens": args.budget_tokens, "budget_seconds": args.budget_seconds,
             "model": args.model, "candidates": args.candidates, "backend": args.backend, "workers": args.workers}
    options.update({k: v for k, v in given.items() if v is not None})
    if not options.get("goal"):
        raise SandboxError("improve needs --goal TEXT (what to improve), unless --resume continues a run")
    return options


_STORED = ("goal", "rounds", "repeats", "editable", "protect", "max_rejections", "max_gain", "confidence", "budget_tokens",
           "budget_seconds", "candidates", "backend", "workers")


def _skip(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    """What the resumed run's proposer already produced (the last round's recorded proposer state)."""
    state = last_run(loop_gate(root).ledger)
    if state is None or not state.done:
        return {}
    return dict(state.done[-1].get("proposer_state") or {})


class _Counted:
    """A proposer that counts its proposals, so a resumed run knows how many to skip."""

    def __init__(self, inner: Any, already: int) -> None:
        self.inner, self.proposed = inner, already

    def propose(self, task: Task) -> Proposal | None:
        proposal = self.inner.propose(task)
        self.proposed += 1
        return proposal


def _proposer(args: argparse.Namespace, options: dict[str, Any], skip: dict[str, Any]) -> tuple[Any, Any]:
    already = int(skip.get("proposed", 0))
    if args.proposals:
        if args.model or args.record:
            raise SandboxError("--proposals proposes patch files with no model; drop --model/--record")
        PatchFiles(args.proposals)  # raises ProposerError, saying so, unless it is a directory
        files = sorted(p for p in Path(args.proposals).iterdir() if p.is_file() and not p.name.startswith("."))
        counted = _Counted(PatchFiles(files[already:]), already)
        return counted, lambda: {"proposed": counted.proposed}
    from models.claude import DEFAULT_MODEL, Claude, Replay, make_client

    model = options.get("model") or DEFAULT_MODEL
    budgets = {"budget_tokens": options.get("budget_tokens"), "budget_seconds": options.get("budget_seconds")}
    if args.replay:
        if args.record:
            raise SandboxError("--replay and --record exclude each other: a replay makes no live calls to record")
        served = int(skip.get("served", 0))
        replay = Replay(args.replay)
        responses = json.loads(Path(args.replay).read_text(encoding="utf-8"))
        replay = Replay(responses[served:]) if served else replay
        replay.name = args.replay
        counted = _Counted(Claude(model, client=replay.client(), mode=args.mode, **budgets), already)
        return counted, lambda: {"proposed": counted.proposed, "served": served + len(replay.requests)}
    client = make_client(record=args.record)
    counted = _Counted(Claude(model, client=client, mode=args.mode, **budgets), already)
    return counted, lambda: {"proposed": counted.proposed}


def run_pending(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    """``sandbox pending``: the changes waiting for ``sandbox apply --approve ID``."""
    del stderr
    from sandbox._gate import open_state

    root, config, _ = open_state(args.repo)
    changes = Queue(root / config.ledger).list()
    if args.format == "json":
        stdout.write(json.dumps([{"id": c.id, **{k: v for k, v in c.record.items() if k != "summary"}}
                                 for c in changes], indent=2) + "\n")
        return 0
    if not changes:
        print("no change is waiting for approval", file=stdout)
    for change in changes:
        print(change.line(), file=stdout)
    if changes:
        print(f"review one with `sandbox apply --repo {args.repo} --approve ID` (it shows the verdict and the "
              "diff, then applies)", file=stdout)
    return 0


def run_approve(args: argparse.Namespace, ident: str, stdout: IO[str], stderr: IO[str]) -> int:
    """``sandbox apply --approve ID``: re-check the queued patch, show verdict and diff, apply it."""
    from sandbox._git import read_anchors

    root = Path(args.repo).resolve()
    gate = loop_gate(root)
    queue = Queue(gate.state_dir)
    change = queue.get(ident)
    gate = loop_gate(root, change.protect)
    anchors, _ = read_anchors(gate.state_dir)
    check = gate.ledger.verify(anchors=anchors) if anchors else None
    if check is not None and not check.ok:
        raise SandboxError(f"the ledger in {gate.state_dir} does not match its anchor; nothing was applied. "
                           "Run `sandbox log --verify` and restore the ledger first")
    gate.recover()
    verdict = gate.check(Patch.load(change.patch, name=f"pending {ident}", limits=gate.config.limits))
    stdout.write(verdict.summary())
    if not verdict.accepted:
        gate.record(verdict, approval_of=ident)
        print(f"not applied: the re-check of pending change {ident} rejects it (the tree or the properties "
              "changed since it was queued)", file=stdout)
        return REJECTED
    if not _same_change(change, verdict):
        raise SandboxError(f"pending change {ident}: the tree changed since it was queued, so the change "
                           "as checked then is not the change it would make now; nothing was applied. "
                           "Run the loop again")
    _print_diff(verdict, stdout)
    approver = f"{_user()} (sandbox apply --approve {ident})"
    entry = gate.apply(verdict, approved_by=approver)
    gate.ledger.append("improve-approved", {"run": change.record.get("run"), "round": change.record.get("round"),
                                            "id": ident, "approved_by": approver, "apply_entry": entry.hash})
    queue.remove(ident)
    _anchor(gate.state_dir, gate.ledger.tip(), stderr)
    print(f"applied pending change {ident} ({len(verdict.files)} file(s)), approved by {approver}; ledger "
          f"entry #{entry.seq}", file=stdout)
    return 0


def _same_change(change: PendingChange, verdict: Any) -> bool:
    stored = change.record.get("certificate") or {}
    now = verdict.certificate.to_json()
    return all(stored.get(key) == now[key] for key in ("patch", "before", "after"))


def _print_diff(verdict: Any, stdout: IO[str]) -> None:
    from sandbox._report import diff_text

    stdout.write(diff_text(verdict))


def _round_line(done: Round) -> str:
    which = f", candidate {done.candidate}" if done.candidate is not None else ""
    head = f"round {done.round}{which}: {done.decision.upper()}"
    if done.before and done.after:
        from sandbox.loop._noise import Samples

        head += f" (objective {Samples(done.before)} -> {Samples(done.after)})"
    body = "\n".join("    " + line for line in done.feedback.splitlines())
    return f"{head}  [{done.source}]\n{body}"


def _summary(outcome: Outcome) -> str:
    candidates = f" ({len(outcome.rounds)} candidates)" if any(r.candidate is not None for r in outcome.rounds) else ""
    lines = [f"{outcome.round_count} round(s){candidates}, {outcome.kept} change(s) kept"
             + (f", {len(outcome.queued)} awaiting approval ({', '.join(outcome.queued)})" if outcome.queued else "")
             + f"; tokens {outcome.usage.total_tokens}; ledger head {outcome.ledger_head}"]
    lines += [f"note: {note}" for note in outcome.notes]
    if outcome.halted is not None:
        lines.append(f"HALTED by the {outcome.halted.tripwire.value} tripwire (exit 3): {outcome.halted.message}")
    return "\n".join(lines)


def _fail(args: argparse.Namespace, message: str, stdout: IO[str], stderr: IO[str]) -> int:
    print(f"sandbox {args.command}: error: {message}", file=stderr)
    if getattr(args, "format", None) == "json":
        stdout.write(json.dumps({"error": message, "halted": None, "rounds": []}, indent=2) + "\n")
    return ERROR


def _anchor(state_dir: Path, tip: tuple[int, str], stderr: IO[str]) -> None:
    from sandbox._git import write_anchor

    try:
        write_anchor(state_dir, *tip)
    except (SandboxError, OSError) as error:
        if "not in a git repository" not in str(error):
            print(f"sandbox: warning: the ledger head is not anchored: {error}", file=stderr)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER") or f"uid {os.getuid()}"
