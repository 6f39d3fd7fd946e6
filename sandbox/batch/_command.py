"""``sandbox check-many``: a batch of candidate patches, one JSON verdict per candidate as each finishes.

Exit 0 when the batch ran, whatever its verdicts (each record says accepted or not); 2 when the
batch cannot be read or the gate cannot start.  Records go to stdout, progress and errors to
stderr; a backend's own logging never reaches stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from pathlib import Path
from typing import IO, Any

from sandbox._errors import SandboxError
from sandbox.batch._candidates import read_jsonl, read_patches_dir

__all__ = ["run"]

OK, ERROR = 0, 2


def run(args: argparse.Namespace, stdout: IO[str], stderr: IO[str]) -> int:
    """Check the batch ``args`` names; see the module docstring for the exit codes."""
    from sandbox.batch._cascade import check_many

    try:
        candidates = read_patches_dir(args.patches) if args.patches else read_jsonl(args.jsonl)
    except SandboxError as error:
        print(f"sandbox check-many: error: {error}", file=stderr)
        return ERROR
    started, results = time.perf_counter(), []
    try:
        attester = _attester(args, stderr)
    except (SandboxError, OSError) as error:
        print(f"sandbox check-many: error: {error}", file=stderr)
        return ERROR
    try:
        with contextlib.redirect_stdout(stderr):  # whatever a backend prints at start-up is not a record
            batch = check_many(args.repo, candidates, backend=args.backend, workers=args.workers, cache=args.cache,
                               ray_address=args.ray_address, seed=args.seed, require=args.require,
                               attest=attester is not None)
            for result in batch:
                record = result.to_json()
                if attester is not None:
                    record["attestation"] = attester.attest(result)
                results.append(record)
                if args.format == "jsonl":
                    stdout.write(json.dumps(record) + "\n")
                    stdout.flush()
    except (SandboxError, OSError, ValueError) as error:
        print(f"sandbox check-many: error: {error}", file=stderr)
        return ERROR
    if args.format == "json":
        stdout.write(json.dumps(results, indent=2) + "\n")
    print(_summary(results, time.perf_counter() - started), file=stderr)
    return OK


def _attester(args: argparse.Namespace, stderr: IO[str]) -> Any:
    if args.key and not args.attest:
        raise SandboxError("--key signs attestations: add --attest DIR")
    if not args.attest:
        return None
    from sandbox._config import load_config
    from sandbox.batch._attest import BatchAttester

    checkers = load_config(Path(args.repo).resolve()).quorum.get("checkers", ())
    return BatchAttester(args.attest, args.key or (), checkers, stderr)


def _summary(results: list[dict[str, Any]], seconds: float) -> str:
    accepted = sum(r["accepted"] for r in results)
    duplicates = sum(r["duplicate_of"] is not None for r in results)
    failed = sum(r["error"] is not None and r["duplicate_of"] is None for r in results)
    rate = len(results) / seconds * 60 if seconds > 0 else 0.0
    return (f"sandbox check-many: {len(results)} candidate(s): {accepted} accepted, {len(results) - accepted} not "
            f"({duplicates} duplicate(s), {failed} could not be checked) in {seconds:.1f} s ({rate:.0f} per minute)")
