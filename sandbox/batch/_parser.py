"""The ``check-many`` subcommand's options: argparse only, so that building the CLI (which every
``sandbox check`` does) never imports the batch machinery."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parser"]


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add ``check-many`` to the CLI's subcommands."""
    parser = commands.add_parser("check-many", help="check many candidate patches: deduplicated, cheap stages "
                                                    "first, on a process pool or Ray; one JSON line per candidate")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--patches", metavar="DIR", help="a directory of patch files (id: the file name)")
    source.add_argument("--jsonl", metavar="FILE", help='JSON Lines of {"id": ..., "patch": "<diff or JSON edits>"}')
    parser.add_argument("--repo", default=".", metavar="DIR", help="the repository (any directory; default .)")
    parser.add_argument("--backend", choices=("local", "ray"), default="local",
                        help="local: a process pool here (default); ray: Ray tasks, locally or on --ray-address")
    parser.add_argument("--ray-address", metavar="ADDR", help="with --backend ray: the cluster to connect to "
                                                              "(default: start a local instance)")
    parser.add_argument("--workers", type=_positive, metavar="N",
                        help="candidates checked at once (default: half this machine's CPUs; Ray: the cluster's CPUs)")
    parser.add_argument("--format", choices=("jsonl", "json"), default="jsonl",
                        help="jsonl: one object per candidate as it finishes (default); json: one array at the end")
    parser.add_argument("--cache", metavar="DIR",
                        help="verdict cache shared by every stage and worker, and across runs (default: a temporary "
                             "one for this batch)")
    parser.add_argument("--seed", type=int, metavar="N", help="seed for generated inputs")
    parser.add_argument("--require", choices=("passed", "proven"), help="the weakest evidence accepted")
    parser.add_argument("--attest", metavar="DIR", help="write a signed in-toto attestation of each candidate's "
                                                        "verdict to DIR/<id>.intoto.json (needs --key)")
    parser.add_argument("--key", action="append", metavar="[CHECKER=]FILE",
                        help="with --attest: a private key from `sandbox keygen` (repeat; CHECKER=FILE is a quorum "
                             "checker's own key, used only when that checker accepted)")
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
