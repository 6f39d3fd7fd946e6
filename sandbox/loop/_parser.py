"""The ``improve`` and ``pending`` subcommands' options: argparse only, so that building the CLI
(which every ``sandbox check`` does) never imports the loop itself."""

from __future__ import annotations

from typing import Any

__all__ = ["add_parsers"]


def add_parsers(commands: Any) -> None:
    """Add ``improve`` and ``pending`` to the CLI's subcommands."""
    improve_ = commands.add_parser("improve", help="propose -> verify -> measure -> keep loop (exit 3: a tripwire)")
    improve_.add_argument("--repo", default=".", metavar="DIR")
    improve_.add_argument("--goal", help="what to improve (given to the proposer); required unless --resume")
    source = improve_.add_mutually_exclusive_group()
    source.add_argument("--replay", metavar="FILE", help="serve recorded Messages API responses (no network)")
    source.add_argument("--proposals", metavar="DIR", help="propose DIR's patch files in name order (no model)")
    improve_.add_argument("--model", metavar="NAME", help="the Claude model (default: a current Sonnet)")
    improve_.add_argument("--record", metavar="FILE", help="with a live model: record its responses for --replay")
    improve_.add_argument("--mode", choices=("editor", "structured"), default="editor",
                          help="Claude: the text editor tool (default) or one forced structured answer")
    improve_.add_argument("--rounds", type=int, metavar="N", help="rounds in the run (default 3)")
    improve_.add_argument("--objective", metavar="CMD", help="command whose output yields the number to improve")
    improve_.add_argument("--metric", metavar="REGEX", help="read the number from group 1 of REGEX (last match)")
    improve_.add_argument("--direction", choices=("min", "max"), help="minimise or maximise (default max)")
    improve_.add_argument("--repeats", type=int, metavar="K", help="measurements per side (default 3)")
    improve_.add_argument("--editable", action="append", metavar="GLOB", help="what the proposer may change (repeat)")
    improve_.add_argument("--protect", action="append", metavar="GLOB", help="more files to protect for the loop")
    improve_.add_argument("--max-rejections", type=int, metavar="N", help="tripwire: N rejections in a row (default 5)")
    improve_.add_argument("--max-gain", type=float, metavar="FACTOR",
                          help="tripwire: an objective more than FACTOR times better in one round (default 2)")
    improve_.add_argument("--confidence", type=float, metavar="P",
                          help="keep a change only when Welch's t-test says it is better at this level (default 0.95)")
    improve_.add_argument("--timeout", type=float, metavar="S", help="time limit of one objective run (default 300)")
    improve_.add_argument("--budget-tokens", type=int, metavar="N", help="tripwire: tokens spent, cache included")
    improve_.add_argument("--budget-seconds", type=float, metavar="S", help="tripwire: wall-clock seconds of the run")
    improve_.add_argument("--candidates", type=int, metavar="K",
                          help="ask for K proposals each round, verify them as one batch, keep the best (default 1)")
    improve_.add_argument("--backend", choices=("local", "ray"),
                          help="with --candidates: check the batch on a local process pool (default) or Ray")
    improve_.add_argument("--workers", type=int, metavar="N", help="with --candidates: processes checking at once")
    improve_.add_argument("--resume", action="store_true", help="continue the last run recorded in the ledger")
    improve_.add_argument("--format", choices=("text", "json"), default="text")

    pending = commands.add_parser("pending", help="list the changes waiting for a person's approval")
    pending.add_argument("--repo", default=".", metavar="DIR")
    pending.add_argument("--format", choices=("text", "json"), default="text")
