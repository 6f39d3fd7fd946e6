"""Shared by the numbered demos: run `sandbox` commands, print them, compare exit codes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from sandbox._cli import main

__all__ = ["check_patches", "finish", "run"]


def run(argv: Sequence[str]) -> int:
    """Run one `sandbox` command as a student would type it, printing it and its exit code."""
    print(f"$ sandbox {' '.join(argv)}", flush=True)
    code = main(list(argv))
    print(f"(exit code {code})\n", flush=True)
    return code


def check_patches(repo: Path, patches: Path, expected: Mapping[str, int]) -> list[str]:
    """Check each patch against ``repo``; return a line for every exit code that was not expected."""
    surprises = []
    for name, code in expected.items():
        print(f"=== {name} ===")
        got = run(["check", "--repo", str(repo), "--patch", str(patches / name)])
        if got != code:
            surprises.append(f"{name}: exit {got}, expected {code}")
    return surprises


def finish(surprises: Sequence[str], success: str) -> int:
    """Print the demo's last line and return its exit code."""
    if surprises:
        print("DEMO FAILED: " + "; ".join(surprises))
        return 1
    print(success)
    return 0
