"""``make test-pythons``: the non-tensor gate installed and tested on Python 3.12 and 3.13.

Labs run their CI on newer Pythons than the 3.11 of ``make test``.  For each of pyenv's
3.12 and 3.13 interpreters found on this machine (one that is absent is skipped with a
message), this creates ``.venv-3.12`` / ``.venv-3.13``, installs ``-e '.[dev]'`` there --
without torch or jax, whose pins apply to 3.11 only -- and then

1. checks a scalar patch end to end with ``sandbox check`` in a fresh interpreter that
   records every attempt to import torch, jax or anthropic (even one that would fail, or
   be caught): the scalar path must attempt none, and the patch must be accepted;
2. runs the scalar, policy and pre-merge tests (``TESTS``); modules that need the tensor
   stack are reported as skipped by ``tests/conftest.py``.

A venv is reinstalled only when ``pyproject.toml`` changed since its last install.  Exits 1
if any step failed on any interpreter, 0 otherwise (also when none was found).  Extra
arguments go to pytest (``make test-pythons ARGS=-x``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSIONS = ("3.12", "3.13")

# Scalar: intake, analysis, prover (z3, CrossHair) and testing (hypothesis) through the gate.
# Policy: the static rules and the red-team corpus.  Pre-merge: init, pre-commit, the CI formats
# and the CLI.
TESTS = (
    "tests/properties",
    "tests/sandbox/test_patch.py",
    "tests/sandbox/test_changes.py",
    "tests/sandbox/test_config.py",
    "tests/sandbox/test_gate.py",
    "tests/verifiers/test_smt.py",
    "tests/verifiers/test_smt_strings.py",
    "tests/verifiers/test_smt_soundness.py",
    "tests/verifiers/test_symbolic.py",
    "tests/verifiers/test_pbt.py",
    "tests/verifiers/test_static.py",
    "tests/verifiers/test_allowlist.py",
    "tests/redteam",
    "tests/sandbox/test_init.py",
    "tests/sandbox/test_precommit.py",
    "tests/sandbox/test_formats.py",
    "tests/sandbox/test_report.py",
    "tests/sandbox/test_cli.py",
)

# Run in the venv's interpreter.  A meta-path finder placed first sees every import the check
# attempts, so an import of torch that fails here (it is not installed) still counts.
_PROBE = textwrap.dedent('''
    import importlib.abc, sys
    HEAVY = ("torch", "jax", "jaxlib", "anthropic")
    asked = []

    class _Watch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in HEAVY:
                asked.append(name)
            return None

    sys.meta_path.insert(0, _Watch())
    from sandbox._cli import main
    rc = main(["check", "--repo", sys.argv[1], "--patch", sys.argv[2], "--format", "text", "--no-cache"])
    print("attempted imports of torch/jax/anthropic:", sorted(set(asked)) or "none")
    sys.exit(rc if not asked else 3)
''')

_TRAIN = 'LR = 3e-4\n\n\ndef double(x: int) -> int:\n    return x * 2\n'
_PATCH = '{"edits": [{"path": "train.py", "old_str": "return x * 2", "new_str": "return x + x"}]}'


def find_interpreter(version: str) -> Path | None:
    """The newest pyenv CPython ``version`` (``3.12`` -> ``.../versions/3.12.N/bin/python3.12``)."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = [p / "bin" / f"python{version}" for p in root.glob(f"{version}.*") if p.name[len(version) + 1:].isdigit()]
    found = [p for p in found if os.access(p, os.X_OK)]
    return max(found, key=lambda p: int(p.parent.parent.name.split(".")[2]), default=None)


def _run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=ROOT, check=False, **kwargs)


def install(version: str, interpreter: Path) -> Path | None:
    """``.venv-<version>`` with ``-e '.[dev]'`` installed (again if pyproject.toml changed); its python."""
    venv = ROOT / f".venv-{version}"
    python, stamp = venv / "bin" / "python", venv / ".installed"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest and python.exists():
        return python
    if not python.exists():
        _run([str(interpreter), "-m", "venv", str(venv)])
    print(f"[{version}] installing -e '.[dev]' into {venv.name} (no torch/jax) ...", flush=True)
    pip = _run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", ".[dev]"],
               capture_output=True, text=True)
    if pip.returncode != 0:
        print(pip.stdout + pip.stderr, end="")
        print(f"[{version}] FAILED: pip could not install the package on Python {version} (output above)")
        return None
    stamp.write_text(digest)
    return python


def probe_scalar_path(version: str, python: Path) -> bool:
    """Check a scalar patch in a fresh interpreter; accepted, with no import of torch/jax/anthropic attempted."""
    with tempfile.TemporaryDirectory(prefix="sandbox-pythons-") as scratch:
        repo = Path(scratch) / "repo"
        repo.mkdir()
        (repo / "train.py").write_text(_TRAIN)
        (repo / "pyproject.toml").write_text('[project]\nname = "t"\n\n[tool.sandbox]\nseed = 3\n')
        patch = Path(scratch) / "double.json"
        patch.write_text(_PATCH)
        result = _run([str(python), "-c", _PROBE, str(repo), str(patch)], capture_output=True, text=True)
    lines = result.stdout.splitlines()
    verdict = next((line.strip() for line in lines if "ACCEPTED" in line or "REJECTED" in line), "(no verdict)")
    print(f"[{version}] scalar check: {verdict}; {lines[-1] if lines else '(no output)'}")
    if result.returncode != 0:
        print(result.stdout + result.stderr, end="")
        print(f"[{version}] FAILED: the scalar check exited {result.returncode} "
              "(3: it attempted to import torch, jax or anthropic; 1: the patch was rejected)")
    return result.returncode == 0


def run_tests(version: str, python: Path, extra: list[str]) -> bool:
    print(f"[{version}] pytest: the scalar, policy and pre-merge tests", flush=True)
    return _run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS, *extra]).returncode == 0


def main(argv: list[str]) -> int:
    failed: list[str] = []
    for version in VERSIONS:
        started = time.monotonic()
        interpreter = find_interpreter(version)
        if interpreter is None:
            print(f"[{version}] skipped: no pyenv interpreter for Python {version} "
                  f"(pyenv install {version}, or set PYENV_ROOT)")
            continue
        python = install(version, interpreter)
        ok = python is not None and probe_scalar_path(version, python)
        ok = python is not None and run_tests(version, python, argv) and ok
        print(f"[{version}] {'ok' if ok else 'FAILED'} in {time.monotonic() - started:.0f} s ({interpreter})")
        if not ok:
            failed.append(version)
    if failed:
        print(f"test-pythons: failed on Python {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
