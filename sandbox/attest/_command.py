"""``sandbox keygen``, ``sandbox attest verify``, and the ``--attest``/``--key``/``--reviewer`` options
of ``check`` and ``apply``.

Keys: ``--key FILE`` signs as the gate; with ``[tool.sandbox] quorum``, ``--key CHECKER=FILE`` is
that checker's key, and it signs only when that checker accepted every obligation it judged, so
``attest verify --pub smt.pub --pub pbt.pub --threshold 2`` holds only when both checkers vouched.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from sandbox._errors import SandboxError
from sandbox._verdict import Verdict

__all__ = ["add_options", "add_parsers", "after_check", "attest_verdict", "load_keys", "run_keygen", "run_verify",
           "sign_statement"]

VALID, INVALID, USAGE = 0, 1, 2
_NAMED = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*)=(.+)$")


def add_parsers(commands: Any) -> None:
    """Add ``keygen`` and ``attest verify`` to the CLI's subcommands."""
    keygen = commands.add_parser("keygen", help="write an Ed25519 signing key FILE (mode 0600) and FILE.pub")
    keygen.add_argument("file", metavar="FILE")
    attest = commands.add_parser("attest", help="check signed attestations of verdicts")
    verbs = attest.add_subparsers(dest="attest_command", required=True, metavar="VERB")
    verify = verbs.add_parser("verify", help="exit 0: valid; 1: invalid or tampered; 2: usage")
    verify.add_argument("attestation", metavar="OUT", help="the envelope `--attest OUT` wrote")
    verify.add_argument("--pub", action="append", required=True, metavar="FILE.pub",
                        help="a trusted public key (repeat for several)")
    verify.add_argument("--threshold", type=int, default=1, metavar="M",
                        help="distinct trusted keys that must have signed (default 1)")
    verify.add_argument("--repo", metavar="DIR", help="also check that the files on disk still match the subjects")
    verify.add_argument("--format", choices=("text", "json"), default="text")


def add_options(parser: argparse.ArgumentParser) -> None:
    """``--attest``, ``--key``, ``--reviewer`` and ``--reviewer-replay`` for ``check`` and ``apply``."""
    parser.add_argument("--attest", metavar="OUT", help="write a signed in-toto attestation of the verdict to OUT")
    parser.add_argument("--key", action="append", metavar="[CHECKER=]FILE",
                        help="with --attest: a private key from `sandbox keygen` (repeat; CHECKER=FILE is a quorum "
                             "checker's own key, used only when that checker accepted)")
    reviewer = parser.add_mutually_exclusive_group()
    reviewer.add_argument("--reviewer", metavar="MODEL", help="a reviewer model reads the diff and the verdict; "
                          "its objection blocks, its approval never accepts on its own")
    reviewer.add_argument("--reviewer-replay", metavar="FILE", help="the reviewer's recorded responses (no network)")


def after_check(verdict: Verdict, args: argparse.Namespace, notes: IO[str]) -> Verdict:
    """The reviewer's answer and the attestation, when asked for: ``check`` and ``apply`` call this
    before the verdict is reported, recorded or applied; ``notes`` (standard error) gets a line each."""
    if getattr(args, "key", None) and not getattr(args, "attest", None):
        raise SandboxError("--key signs an attestation: add --attest OUT")
    if getattr(args, "reviewer", None) or getattr(args, "reviewer_replay", None):
        verdict = review_verdict(verdict, args.reviewer, args.reviewer_replay)
        review = verdict.review or {}
        print(f"reviewer {review.get('model')}: {review.get('decision')}" +
              "".join(f"\n  - {reason}" for reason in review.get("reasons", [])), file=notes)
    if verdict.quorum_need:
        votes = ", ".join(f"{v.checker} {'accepts' if v.accepted else 'does not accept'}" for v in verdict.quorum)
        print(f"quorum: {'met' if verdict.quorum_met else 'NOT met'} ({votes or 'not run'}; "
              f"{verdict.quorum_need} needed)", file=notes)
    if getattr(args, "attest", None):
        if not args.key:
            raise SandboxError("--attest needs at least one --key FILE to sign with (make one: `sandbox keygen FILE`)")
        digest = attest_verdict(verdict, args.attest, args.key, notes)
        if digest is not None:
            verdict = dataclasses.replace(verdict, attestations=(*verdict.attestations, digest))
    return verdict


def review_verdict(verdict: Verdict, model: str | None, replay: str | None) -> Verdict:
    """Ask the reviewer model; an objection rejects, an approval leaves the verdict as it was."""
    from models import ProposerError
    from models.claude import DEFAULT_MODEL, make_client
    from models.claude._review import Reviewer

    try:
        client = make_client(replay=replay) if replay else None
        answer = Reviewer(model or DEFAULT_MODEL, client=client).review(_diff(verdict), verdict.summary())
    except ProposerError as error:
        raise SandboxError(f"the reviewer could not answer, so the check is incomplete: {error}") from None
    return dataclasses.replace(verdict, accepted=verdict.accepted and not answer.objects, review=answer.to_json())


def attest_verdict(verdict: Verdict, out: str, key_paths: Sequence[str], notes: IO[str] | None = None) -> str | None:
    """Sign the verdict's statement with every key entitled to, write the envelope to ``out``.

    Returns the envelope's sha256, or ``None`` when no key may sign (every key is a checker's,
    and none of those checkers accepted).
    """
    from sandbox.attest._statement import statement_bytes

    checkers = {vote.checker: vote.accepted for vote in verdict.quorum}
    return sign_statement(statement_bytes(verdict), out, load_keys(key_paths, checkers.keys()), checkers, notes)


def load_keys(key_paths: Sequence[str], checkers: Iterable[str] = ()) -> tuple[tuple[str | None, Any], ...]:
    """``(checker or None, private key)`` for every ``--key``: ``CHECKER=FILE`` is a quorum checker's key
    (``checkers`` are the configured ones), a plain FILE the gate's.  Raises ``SandboxError`` on a bad key."""
    from sandbox.attest._keys import load_private

    known, keys = set(checkers), []
    for given in key_paths:
        match = _NAMED.match(given)
        if match is None or Path(given).is_file():
            keys.append((None, load_private(given)))
            continue
        checker, path = match.groups()
        if checker not in known:
            raise SandboxError(f"--key {given}: {checker!r} is not a checker of [tool.sandbox] quorum "
                               f"({', '.join(sorted(known)) or 'no quorum is configured'}); use --key FILE for the gate's key")
        keys.append((checker, load_private(path)))
    return tuple(keys)


def sign_statement(statement: bytes, out: str | Path, keys: Sequence[tuple[str | None, Any]],
                   accepted_by: Mapping[str, bool], notes: IO[str] | None = None) -> str | None:
    """Sign ``statement`` with the gate's keys and the keys of the checkers that accepted
    (``accepted_by``: checker -> accepted), write the envelope to ``out``; its sha256, or None
    when no key may sign."""
    from sandbox.attest._dsse import sign

    usable = [key for checker, key in keys if checker is None or accepted_by.get(checker)]
    withheld = [checker for checker, _ in keys if checker is not None and not accepted_by.get(checker)]
    if withheld and notes is not None:
        print(f"not signed by {', '.join(withheld)}: the checker did not accept", file=notes)
    if not usable:
        if notes is not None:
            print(f"no attestation written to {out}: no key may sign it", file=notes)
        return None
    data = sign(statement, usable).to_bytes()
    Path(out).write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    if notes is not None:
        print(f"attestation written to {out}: sha256 {digest}, {len(usable)} signature(s)", file=notes)
    return digest


def run_keygen(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    from sandbox.attest._keys import generate

    private, public, kid = generate(args.file)
    print(f"wrote {private} (private, mode 0600) and {public}; key id {kid}", file=stdout)
    return VALID


def run_verify(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    from sandbox.attest._keys import AttestError, key_id, load_public
    from sandbox.attest._verify import verify_attestation

    keys = {key_id(k): k for k in (load_public(p) for p in args.pub)}
    if not 1 <= args.threshold <= len(keys):
        raise AttestError(f"--threshold {args.threshold}: must be from 1 to {len(keys)}, the number of distinct "
                          "trusted keys given with --pub")
    repo = Path(args.repo) if args.repo else None
    if repo is not None and not repo.is_dir():
        raise AttestError(f"--repo {args.repo}: not a directory")
    try:
        data = Path(args.attestation).read_bytes()
    except OSError as error:
        raise AttestError(f"{args.attestation}: cannot read the attestation ({error.strerror or error})") from None
    result = verify_attestation(data, list(keys.values()), threshold=args.threshold, repo=repo)
    if args.format == "json":
        print(json.dumps(result.to_json(), indent=2), file=stdout)
    elif result.ok:
        names = ", ".join(s["name"] for s in (result.statement or {}).get("subject", []))
        print(f"attestation valid: signed by {len(result.signers)} trusted key(s) (threshold {args.threshold}); "
              f"subjects {names}{' match the files in ' + str(repo) if repo else ''}", file=stdout)
    else:
        print(f"attestation INVALID ({len(result.problems)} problem(s)):", file=stdout)
        for problem in result.problems:
            print(f"  - {problem}", file=stdout)
    return VALID if result.ok else INVALID


def _diff(verdict: Verdict) -> str:
    from sandbox._report import diff_text

    return diff_text(verdict)
