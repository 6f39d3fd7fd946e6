"""A small git repository the loop improves, and helpers to run `sandbox improve` on it."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

from sandbox._cli import main
from tests.conftest import snapshot, write_tree

TRAIN = '''
N = 10


def scaled(x: float) -> float:
    return x * 2.0
'''
# Deterministic samples N, N+2, N+4 (sd 2): a change of N by 1 is within noise, by 10 it is not.
OBJECTIVE = '''
import os

import train

print(float(train.N + 2 * int(os.environ["SANDBOX_REPEAT"])))
'''
PROPERTIES = '''
from properties import bounds

bounds("train.N", 1, 100)
'''
LOOP = ["--objective", "python objective.py", "--editable", "train.py", "--repeats", "3"]


def make_loop_repo(root: Path, extra: dict[str, str] | None = None) -> Path:
    write_tree(root, {"train.py": TRAIN, "objective.py": OBJECTIVE, "sandbox_properties.py": PROPERTIES,
                      **(extra or {})})
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "base"]):
        subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                       check=True, capture_output=True)
    return root


def train_with(n: int) -> str:
    return TRAIN.lstrip("\n").replace("N = 10", f"N = {n}")


def proposals(directory: Path, *bodies: object) -> Path:
    """Write one patch file per body (a dict becomes JSON), named 01_..., in order."""
    directory.mkdir(parents=True, exist_ok=True)
    for number, body in enumerate(bodies, 1):
        text = body if isinstance(body, str) else json.dumps(body)
        (directory / f"{number:02d}.patch").write_text(text, encoding="utf-8")
    return directory


def improve(repo: Path, *args: str) -> tuple[int, dict | None, str]:
    """`sandbox improve --format json`: exit code, parsed report, standard error."""
    out, err = io.StringIO(), io.StringIO()
    code = main(["improve", "--repo", str(repo), "--goal", "raise N", "--format", "json", *args], out, err)
    text = out.getvalue()
    return code, json.loads(text) if text.strip() else None, err.getvalue()


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(args), out, err)
    return code, out.getvalue(), err.getvalue()


def tree(repo: Path) -> dict[str, str]:
    """The repository's files, without the ledger directory and git's own (both change by design)."""
    return {k: v for k, v in snapshot(repo).items() if not k.startswith((".sandbox", ".git"))}


def ledger_kinds(repo: Path) -> list[tuple[str, dict]]:
    lines = (repo / ".sandbox" / "ledger.jsonl").read_text().splitlines()
    return [(entry["kind"], entry["record"]) for entry in map(json.loads, lines)]


def round_records(repo: Path) -> list[dict]:
    """The `improve-round` records of the ledger (their `detail`), in the order written."""
    return [record["detail"] for kind, record in ledger_kinds(repo) if kind == "improve-round"]
