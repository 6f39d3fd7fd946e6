"""One small repository, a mixed batch of candidates, their single-check verdicts, and ONE Ray instance."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest

from sandbox import Gate, Patch
from tests.conftest import write_tree

CALC = "def double(x: int) -> int:\n    return x * 2\n\n\ndef inc(x: int) -> int:\n    return x + 1\n"
# call_timeout: the candidate that never returns costs seconds, not the default ten.
CONFIG = "[tool.sandbox]\nseed = 3\nmax_examples = 30\ncall_timeout = 1.0\n"


def calc(double: str) -> str:
    return f"{double}\n\n\ndef inc(x: int) -> int:\n    return x + 1\n"


REFACTOR = calc("def double(x: int) -> int:\n    return x + x")
# The same change as REFACTOR, spelt as a unified diff instead of a whole new file.
REFACTOR_DIFF = ("--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def double(x: int) -> int:\n"
                 "-    return x * 2\n+    return x + x\n")
HOSTILE = "import os\n\n\n" + calc("def double(x: int) -> int:\n    os.system('true')\n    return x + x")
REFUTED = calc("def double(x: int) -> int:\n    return x + x + (x == 7)")
HANGS = calc("def double(x: int) -> int:\n    while True:\n        pass")
EXHAUSTS = calc("def double(x: int) -> int:\n    return len([0] * (10 ** 12)) + x")
INC = "def double(x: int) -> int:\n    return x * 2\n\n\ndef inc(x: int) -> int:\n    return 1 + x\n"


def files(text: str) -> str:
    return json.dumps({"calc.py": text})


# id -> patch text: accepted refactors, a duplicate, a hostile one, a refuted one, and two whose
# own code fails (a timeout, memory exhausted).
BATCH = {"refactor": files(REFACTOR), "hostile": files(HOSTILE), "refuted": files(REFUTED),
         "again": REFACTOR_DIFF, "inc": files(INC), "hangs": files(HANGS), "exhausts": files(EXHAUSTS)}


@pytest.fixture(scope="session")
def repo(tmp_path_factory) -> Path:
    return write_tree(tmp_path_factory.mktemp("batch-repo"), {"calc.py": CALC, "pyproject.toml": CONFIG})


@pytest.fixture(scope="session")
def singles(repo) -> dict[str, dict]:
    """Each candidate checked alone with ``Gate.check``: the reference every batch must equal."""
    gate = Gate.from_repo(repo)
    return {name: gate.check(Patch.load(text, name=name)).to_json() for name, text in BATCH.items()}


@pytest.fixture(scope="session")
def ray_instance():
    """The one Ray instance every test shares (two CPUs, no dashboard, its files in a short tmp dir)."""
    ray = pytest.importorskip("ray")
    # Short: Ray's socket paths under it must stay within the 107 bytes a Unix socket allows.
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR", _temp_dir=temp,
             object_store_memory=80 * 1024 * 1024)
    yield ray
    ray.shutdown()
    shutil.rmtree(temp, ignore_errors=True)
