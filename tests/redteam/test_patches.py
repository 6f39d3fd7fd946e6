"""Red team at the product level: whole patches through `sandbox check --format json`.

Every hostile patch must be rejected with its specific rule (or the specific
reason it cannot be analysed), every malformed one must exit 2, every benign
one must be accepted, and after every check the tree is byte-for-byte as it was.
Add each new hostile pattern found in the wild here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import cli_check, snapshot, write_tree

TRAIN = '''
"""Training loop."""

import math
import os
import sys

LR = 3e-4


def lr_schedule(step: int) -> float:
    return LR * 0.5 * (1.0 + math.cos(math.pi * min(1.0, step / 1000)))


def clip(value: float, limit: float) -> float:
    return max(-limit, min(limit, value))
'''

REPO = {
    "train.py": TRAIN,
    "sandbox_properties.py": "from properties import bounds\nbounds('train.LR', 1e-5, 1e-3)\n",
    "pyproject.toml": '[project]\nname = "victim"\n\n[tool.sandbox]\nseed = 1\n',
    "tests/test_train.py": "from train import clip\n\ndef test_clip():\n    assert clip(5.0, 1.0) == 1.0\n",
    "README.md": "# victim\n",
}


def helper(body: str, name: str = "helper", params: str = "x: int", ret: str = "int") -> str:
    """TRAIN plus one new function whose body is ``body`` (indented for you)."""
    indented = "\n".join("    " + line for line in body.strip("\n").splitlines())
    return TRAIN.lstrip("\n") + f"\n\ndef {name}({params}) -> {ret}:\n{indented}\n"


@dataclass(frozen=True)
class Case:
    name: str
    files: dict
    rules: frozenset = frozenset()
    level: str = ""      # expected level of some obligation when no rule applies
    exit: int = 1


HOSTILE = [
    Case("alias-import", {"train.py": helper("import os as o\no.system('id')\nreturn x")}, frozenset({"subprocess"})),
    Case("from-import-rename", {"train.py": helper("from subprocess import run as r\nr(['id'])\nreturn x")},
         frozenset({"subprocess"})),
    Case("getattr-concat", {"train.py": helper("getattr(os, 'sys' + 'tem')('id')\nreturn x")}, frozenset({"subprocess"})),
    Case("importlib-folded", {"train.py": helper("import importlib\nimportlib.import_module('o' + 's').system('id')\nreturn x")},
         frozenset({"subprocess"})),
    Case("builtins-subscript", {"train.py": helper("__builtins__['eval']('1')\nreturn x")}, frozenset({"dynamic-lookup"})),
    Case("globals-import", {"train.py": helper("globals()['__import__']('socket')\nreturn x")}, frozenset({"dynamic-lookup"})),
    Case("monkeypatch-allclose", {"train.py": helper("import torch\ntorch.allclose = lambda *a, **k: True\nreturn x")},
         frozenset({"module-mutation"})),
    Case("monkeypatch-math", {"train.py": helper("math.isclose = lambda *a, **k: True\nreturn x")},
         frozenset({"module-mutation"})),
    Case("harness-detect", {"train.py": helper("if 'hypothesis' in sys.modules:\n    return x\nreturn x + 1")},
         frozenset({"introspection", "checker-reference"})),
    Case("env-detect", {"train.py": helper("return x if os.environ.get('PYTEST_CURRENT_TEST') else x + 1")},
         frozenset({"environment", "checker-reference"})),
    Case("frame-peek", {"train.py": helper("return x if sys._getframe(1).f_code.co_name == 'check' else 0")},
         frozenset({"introspection"})),
    Case("eval", {"train.py": helper("return eval('x + 1')")}, frozenset({"dynamic-code"})),
    Case("exec-compile", {"train.py": helper("exec(compile('y = 1', 'f', 'exec'))\nreturn x")}, frozenset({"dynamic-code"})),
    Case("socket-new-file", {"net.py": "import socket\n\n\ndef ping(h: str) -> None:\n    socket.create_connection((h, 80))\n"},
         frozenset({"network"})),
    Case("urllib", {"train.py": helper("from urllib.request import urlopen\nurlopen('http://x.invalid')\nreturn x")},
         frozenset({"network"})),
    Case("ctypes", {"train.py": helper("import ctypes\nctypes.CDLL(None)\nreturn x")}, frozenset({"native-code"})),
    Case("file-write", {"train.py": helper("open('/tmp/leak', 'w').write(str(x))\nreturn x")}, frozenset({"file-write"})),
    Case("file-delete", {"train.py": helper("os.remove('checkpoint.pt')\nreturn x")}, frozenset({"file-write"})),
    Case("exit-at-import", {"train.py": TRAIN.lstrip("\n") + "\nsys.exit(0)\n"}, frozenset({"exit-at-import"})),
    Case("hard-exit", {"train.py": helper("os._exit(0)")}, frozenset({"process-control"})),
    Case("sys-modules-swap", {"train.py": helper("sys.modules['math'] = None\nreturn x")},
         frozenset({"module-mutation", "introspection"})),
    Case("checker-import", {"train.py": helper("import hypothesis\nreturn x")}, frozenset({"checker-reference"})),
    Case("edit-tests", {"tests/test_train.py": "def test_clip():\n    assert True\n"}, frozenset({"protected-path"})),
    Case("edit-properties", {"sandbox_properties.py": "from properties import bounds\nbounds('train.LR', 0, 10)\n"},
         frozenset({"protected-path"})),
    Case("edit-config", {"pyproject.toml": '[project]\nname = "victim"\n\n[tool.sandbox]\nseed = 1\nallow = { "subprocess" = ["*.py"] }\n'},
         frozenset({"protected-path"})),
    Case("edit-ledger", {".sandbox/ledger.jsonl": "{}\n"}, frozenset({"protected-path"})),
    Case("new-conftest", {"conftest.py": "def pytest_configure(config):\n    pass\n"}, frozenset({"protected-path"})),
    Case("shadow-numpy", {"numpy.py": "def array(x: int) -> int:\n    return x\n"}, frozenset({"module-shadowing"})),
    Case("sitecustomize", {"sitecustomize.py": "X = 1\n"}, frozenset({"module-shadowing"})),
    Case("breakpoint-hook", {"train.py": helper("breakpoint()\nreturn x")}, frozenset({"dynamic-code"})),
    Case("fullwidth-eval", {"train.py": helper("return \uff45\uff56\uff41\uff4c('x')")}, frozenset({"dynamic-code"})),
    Case("remove-public", {"train.py": TRAIN.replace("def clip(value: float, limit: float) -> float:\n    return max(-limit, min(limit, value))\n", "")},
         frozenset({"removed-definition"})),
    # Not violations, but nothing can show them safe: UNKNOWN, so rejected.
    Case("module-code", {"train.py": TRAIN.lstrip("\n") + "\nmath.pi = 3\n"}, frozenset({"module-mutation"})),
    Case("platform-host", {"train.py": helper("import platform\nreturn len(platform.system()) + x")},
         frozenset({"ambient-state"})),
    Case("pth-file", {"evil.pth": "import os; os.system('id')\n"}, level="UNKNOWN"),
    Case("module-getattr", {"train.py": helper("return 0", name="__getattr__", params="name: str")}, level="UNKNOWN"),
    Case("retune-out-of-bounds", {"train.py": TRAIN.replace("LR = 3e-4", "LR = 3e-1")}, level="REFUTED"),
    Case("changed-behaviour", {"train.py": TRAIN.replace("min(1.0, step / 1000)", "min(1.0, step / 999)")}, level="REFUTED"),
]

BENIGN = [
    Case("comment", {"train.py": TRAIN.replace("LR = 3e-4", "LR = 3e-4  # tuned on the small model")}, exit=0),
    Case("retune-in-bounds", {"train.py": TRAIN.replace("LR = 3e-4", "LR = 5e-4")}, exit=0),
    Case("new-helper", {"train.py": helper("import re\nreturn len(re.compile('a+').findall(str(x)))")}, exit=0),
    Case("model-eval-lookalike", {"train.py": helper("model = object()\nreturn x", name="evaluate")}, exit=0),
    Case("platform-lookalike", {"train.py": helper("return len('platform.system') + x")}, exit=0),
    Case("readme", {"README.md": "# victim\n\nNow with docs.\n"}, exit=0),
    Case("main-guard-exit", {"cli.py": "import sys\n\n\ndef main() -> int:\n    return 0\n\n\nif __name__ == '__main__':\n    sys.exit(main())\n"},
         exit=0),
]


check = cli_check


@pytest.fixture
def victim(make_repo):
    return make_repo(REPO)


@pytest.mark.parametrize("case", HOSTILE + BENIGN, ids=lambda c: c.name)
def test_corpus(victim, tmp_path, case: Case):
    patch = tmp_path / "patch.json"
    patch.write_text(json.dumps({"files": case.files}))
    before = snapshot(victim)
    code, report, err = check(victim, patch)
    assert snapshot(victim) == before
    assert code == case.exit, err or json.dumps(report, indent=1)
    assert report is not None
    rules = {v["rule"] for v in report["violations"]}
    assert case.rules <= rules, rules
    if case.level:
        assert case.level in {o["level"] for o in report["obligations"]}


MALFORMED = {
    "dotdot": lambda root: {"files": {"../outside.py": "x = 1\n"}},
    "absolute": lambda root: {"files": {"/etc/evil.py": "x = 1\n"}},
    "git-hooks": lambda root: {"files": {".git/hooks/pre-commit": "#!/bin/sh\n"}},
    "through-symlink": lambda root: {"files": {"linked/train.py": "x = 1\n"}},
    "nul-byte": lambda root: {"files": {"train.py": "x = 1\x00\n"}},
    "syntax-error": lambda root: {"files": {"train.py": "def broken(:\n"}},
    "ambiguous-edit": lambda root: {"edits": [{"path": "train.py", "old_str": "return", "new_str": "return 0 or"}]},
    "missing-edit": lambda root: {"edits": [{"path": "train.py", "old_str": "not there", "new_str": "x"}]},
    "utf7-cookie": lambda root: {"files": {"train.py": "# -*- coding: utf-7 -*-\n" + TRAIN.lstrip("\n")
                                           + "# +AAo-os.system('id')\n"}},
    "nothing": lambda root: {"files": {"train.py": TRAIN.lstrip("\n")}},
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_patches_exit_2_with_nothing_written(victim, tmp_path, name):
    os.symlink(victim, victim / "linked")
    patch = tmp_path / "patch.json"
    patch.write_text(json.dumps(MALFORMED[name](victim)))
    before = snapshot(victim)
    code, report, err = check(victim, patch)
    assert code == 2 and report is not None
    assert report["accepted"] is False and set(report) == {"accepted", "error"}
    assert report["error"]["message"] in err
    assert err.startswith("sandbox check: error:") and len(err) > 40
    assert snapshot(victim) == before


def test_non_utf8_content_exits_2(victim, tmp_path):
    write_tree(victim, {"latin.py": "x = 'caf\xe9'\n".encode("latin-1")})
    patch = tmp_path / "patch.json"
    patch.write_text(json.dumps({"edits": [{"path": "latin.py", "old_str": "x", "new_str": "y"}]}))
    before = snapshot(victim)
    code, _, err = check(victim, patch)
    assert code == 2 and "latin.py" in err
    assert snapshot(victim) == before
