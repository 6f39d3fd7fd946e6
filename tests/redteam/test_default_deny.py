"""Red team for default deny (issue 9): hostile patches written for the allow-list, the ambient-state
rule and code that runs at import, each with a benign look-alike, through `sandbox check`.

Every hostile patch is rejected with its specific rule and leaves the tree byte-for-byte as it
was; every benign look-alike uses the same APIs safely (or the same words as data) and is accepted.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import snapshot
from tests.redteam.test_patches import REPO, TRAIN, Case, check, helper


def added(source: str) -> dict:
    """TRAIN plus new module-level code (definitions, imports) appended at the end."""
    return {"train.py": TRAIN.lstrip("\n") + "\n\n" + source.strip("\n") + "\n"}


ALLOW_LIST = [
    Case("pydoc-pager", {"train.py": helper("import pydoc\npydoc.pipepager(str(x), 'sh -c id')\nreturn x")},
         frozenset({"unlisted-call"})),
    Case("timeit-runs-strings", {"train.py": helper("import timeit\nreturn int(timeit.timeit('x = 1', number=1)) + x")},
         frozenset({"dynamic-code"})),
    Case("torch-reexported-os", {"train.py": helper("import torch\ntorch.os.system('id')\nreturn x")},
         frozenset({"subprocess"})),
    Case("functional-getattr", {"train.py": helper("import functools\n"
                                                   "functools.reduce(getattr, ['sys' + 'tem'], os)('id')\nreturn x")},
         frozenset({"dynamic-lookup"})),
    Case("module-handed-on", {"train.py": helper("return len(list(map(repr, [os, sys]))) + x")},
         frozenset({"dynamic-lookup"})),
    Case("string-annotation", added("import typing\n\n\ndef probe(v: \"__import__('os').system('id')\") -> int:\n"
                                    "    return typing.get_type_hints(probe) and 0\n"), frozenset({"dynamic-code"})),
    Case("log-handler", {"train.py": helper("import logging\nimport logging.handlers\n"
                                            "logging.getLogger().addHandler(logging.handlers.SysLogHandler())\n"
                                            "return x")}, frozenset({"module-mutation"})),
    Case("array-file-for-writing", {"train.py": helper("import numpy as np\n"
                                                       "np.memmap('/tmp/x.bin', mode='w+', shape=(4,))[:] = x\n"
                                                       "return x")}, frozenset({"file-write"})),
    Case("format-walks-globals", {"train.py": helper("return len('{0.__init__.__globals__}'.format(x))")},
         frozenset({"introspection"})),
]

ALLOW_LIST_BENIGN = [
    Case("stdlib-pure", {"train.py": helper("import functools\nimport itertools\nimport operator\n"
                                            "return functools.reduce(operator.add, itertools.repeat(x, 3))")}, exit=0),
    Case("torch-ops", {"train.py": helper("import torch\nimport torch.nn.functional as F\n"
                                          "return int(F.relu(torch.tensor(float(x))).item())")}, exit=0),
    Case("words-as-data", {"train.py": helper("row = {'hypothesis': 'os.system', 'subprocess': 'eval'}\n"
                                              "return len(row['hypothesis']) + len('pytest') + x")}, exit=0),
    Case("annotations-as-types", added("def probe(v: \"list[int]\", w: \"int | None\" = None) -> \"int\":\n"
                                       "    return len(v)\n"), exit=0),
    Case("logging-records", {"train.py": helper("import logging\nlogging.getLogger(__name__).info('x=%s', x)\n"
                                                "return x")}, exit=0),
    Case("format-fields", {"train.py": helper("return len('{0.real} {0!r:>5}'.format(x))")}, exit=0),
]

AMBIENT_READS = [
    Case("clock", {"train.py": helper("import time\nreturn x if time.time() < 2e9 else x + 1")},
         frozenset({"ambient-state"})),
    Case("env-expansion", {"train.py": helper("return x + len(os.path.expandvars('$HOME'))")},
         frozenset({"ambient-state"})),
    Case("cpu-count", {"train.py": helper("return x + (os.cpu_count() or 0)")}, frozenset({"ambient-state"})),
    Case("optimise-flag", {"train.py": helper("return x if __debug__ else x + 1")}, frozenset({"ambient-state"})),
    Case("grad-mode", {"train.py": helper("import torch\nreturn x if torch.is_grad_enabled() else x + 1")},
         frozenset({"ambient-state"})),
    Case("module-location", {"train.py": helper("return x + len(__file__)")}, frozenset({"ambient-state"})),
]

AMBIENT_READS_BENIGN = [
    Case("time-arithmetic", {"train.py": helper("import datetime\nreturn x + datetime.timedelta(days=1).days")},
         exit=0),
    Case("path-strings", {"train.py": helper("return x + len(os.path.join('runs', str(x)))")}, exit=0),
    Case("mode-as-context", {"train.py": helper("import torch\nwith torch.no_grad():\n"
                                                "    y = torch.ones(1) * x\nreturn int(y.item())")}, exit=0),
]

AMBIENT_WRITES = [
    Case("global-counter", added("_CALLS = 0\n\n\ndef counted(x: int) -> int:\n    global _CALLS\n"
                                 "    _CALLS += 1\n    return x if _CALLS < 1000 else 0\n"),
         frozenset({"ambient-state"})),
    Case("module-list", added("_SEEN: list = []\n\n\ndef remember(x: int) -> int:\n    _SEEN.append(x)\n"
                              "    return x if len(_SEEN) < 500 else -x\n"), frozenset({"ambient-state"})),
    Case("mutable-default", added("def remember(x: int, seen: list = []) -> int:\n    seen.append(x)\n"
                                  "    return len(seen)\n"), frozenset({"ambient-state"})),
    Case("class-attribute", added("class Ticker:\n    calls = 0\n\n    @classmethod\n    def tick(cls) -> int:\n"
                                  "        cls.calls += 1\n        return cls.calls\n"), frozenset({"ambient-state"})),
    Case("other-module-table", {"train.py": helper("import string\nimport collections.abc\n"
                                                   "collections.abc.__all__.append('x')\nreturn x")},
         frozenset({"module-mutation"})),
]

AMBIENT_WRITES_BENIGN = [
    Case("local-state", {"train.py": helper("seen = []\nseen.append(x)\ncache = {}\ncache[x] = 1\n"
                                            "return len(seen) + len(cache)")}, exit=0),
    Case("default-none", added("def remember(x: int, seen: list | None = None) -> int:\n"
                               "    seen = [] if seen is None else list(seen)\n    seen.append(x)\n"
                               "    return len(seen)\n"), exit=0),
    Case("instance-counter", added("class Meter:\n    def __init__(self) -> None:\n        self.count = 0\n\n"
                                   "    def add(self) -> int:\n        self.count += 1\n        return self.count\n"),
         exit=0),
]

IMPORT_TIME = [
    Case("default-runs-code", added("def later(x: int, y: int = __import__('os').getpid()) -> int:\n"
                                    "    return x\n"), frozenset({"dynamic-import"})),
    Case("decorator-runs-code", added("@(lambda f: (os.system('id'), f)[1])\ndef later(x: int) -> int:\n"
                                      "    return x\n"), frozenset({"subprocess"})),
    Case("class-body-reads-env", added("class Settings:\n    token = os.environ.get('TOKEN')\n"),
         frozenset({"environment"})),
    Case("clock-default", added("import time\n\n\ndef later(x: int, started: float = time.time()) -> int:\n"
                                "    return x\n"), frozenset({"ambient-state"})),
    Case("init-subclass-hook", added("class Base:\n    def __init_subclass__(cls, **kw):\n"
                                     "        os.system('id')\n"), frozenset({"subprocess"})),
]

IMPORT_TIME_BENIGN = [
    Case("cached-helper", added("import functools\n\n\n@functools.lru_cache(maxsize=None)\n"
                                "def square(x: int, scale: int = 2) -> int:\n    return x * x * scale\n"), exit=0),
    Case("class-constants", added("class Settings:\n    lr = 3e-4\n    betas = (0.9, 0.95)\n"), exit=0),
]

HOSTILE = ALLOW_LIST + AMBIENT_READS + AMBIENT_WRITES + IMPORT_TIME
BENIGN = ALLOW_LIST_BENIGN + AMBIENT_READS_BENIGN + AMBIENT_WRITES_BENIGN + IMPORT_TIME_BENIGN


@pytest.fixture
def victim(make_repo):
    return make_repo(REPO)


def test_each_class_has_three_hostile_patches_and_a_benign_look_alike() -> None:
    for hostile, benign in ((ALLOW_LIST, ALLOW_LIST_BENIGN), (AMBIENT_READS, AMBIENT_READS_BENIGN),
                            (AMBIENT_WRITES, AMBIENT_WRITES_BENIGN), (IMPORT_TIME, IMPORT_TIME_BENIGN),
                            (DEFAULTS_AND_TYPES, DEFAULTS_AND_TYPES_BENIGN)):
        assert len(hostile) >= 3 and benign


def judged(root, tmp_path, case: Case) -> dict:
    """The JSON report of ``case`` checked against ``root``, which must be left byte-for-byte as it was."""
    patch = tmp_path / "patch.json"
    patch.write_text(json.dumps({"files": case.files}))
    before = snapshot(root)
    code, report, err = check(root, patch)
    assert snapshot(root) == before
    assert code == case.exit, err or json.dumps(report, indent=1)
    return report


@pytest.mark.parametrize("case", HOSTILE + BENIGN, ids=lambda c: c.name)
def test_default_deny(victim, tmp_path, case: Case) -> None:
    report = judged(victim, tmp_path, case)
    rules = {v["rule"] for v in report["violations"]}
    assert case.rules <= rules, rules
    for violation in report["violations"]:
        if violation["rule"] != "runtime-audit":  # seen while running, so it has no source line
            assert violation["line"] and violation["fix"] and violation["symbol"], violation


def test_an_unlisted_call_names_the_resolved_api_the_line_and_how_to_allow_it(victim, tmp_path) -> None:
    patch = tmp_path / "patch.json"
    patch.write_text(json.dumps({"files": {"train.py": helper("import pydoc\nreturn len(pydoc.getdoc(x))")}}))
    code, report, _ = check(victim, patch)
    assert code == 1
    (violation,) = [v for v in report["violations"] if v["rule"] == "unlisted-call"]
    assert violation["symbol"] == "pydoc.getdoc" and violation["path"] == "train.py"
    assert "not on the allow-list" in violation["message"]
    assert "allow-calls" in violation["fix"] and '"unlisted-call"' in violation["fix"]


@pytest.mark.parametrize("table", [
    'allow-calls = ["pydoc.getdoc"]',
    'allow = { "unlisted-call" = ["train.py"] }',
])
def test_a_repository_extends_the_allow_list(make_repo, tmp_path, table: str) -> None:
    files = dict(REPO, **{"pyproject.toml": f'[project]\nname = "victim"\n\n[tool.sandbox]\nseed = 1\n{table}\n'})
    case = Case("extended", {"train.py": helper("import pydoc\nreturn len(pydoc.getdoc(x))")}, exit=0)
    report = judged(make_repo(files), tmp_path, case)
    assert report["accepted"] and not report["violations"], report["violations"]


def test_the_repository_s_own_modules_are_allowed(make_repo, tmp_path) -> None:
    root = make_repo(dict(REPO, **{"mathx.py": "def double(x: int) -> int:\n    return 2 * x\n"}))
    report = judged(root, tmp_path, Case("own-module", {"train.py": helper("import mathx\nreturn mathx.double(x)")},
                                         exit=0))
    assert report["accepted"] and not report["violations"], report["violations"]


SCHED = '''
"""Schedules."""

BATCH = 32


def warmup(step: int, steps: int = 100) -> float:
    return min(1.0, step / steps)


def decay(step: int, *, rate: float = 0.5) -> float:
    return rate ** (step // 1000)
'''

SCHED_REPO = {
    "sched.py": SCHED,
    "sandbox_properties.py": "from properties import bounds\nbounds('sched.BATCH', 8, 512)\n",
    "pyproject.toml": '[project]\nname = "victim"\n\n[tool.sandbox]\nseed = 1\n',
}

DEFAULTS_AND_TYPES = [
    Case("positional-default", {"sched.py": SCHED.replace("steps: int = 100", "steps: int = 99")}, level="REFUTED"),
    Case("keyword-only-default", {"sched.py": SCHED.replace("rate: float = 0.5", "rate: float = 0.4")},
         level="REFUTED"),
    Case("gains-a-default", {"sched.py": SCHED.replace("step: int, steps", "step: int = 5000, steps")},
         level="REFUTED"),
    Case("int-constant-becomes-float", {"sched.py": SCHED.replace("BATCH = 32", "BATCH = 32.0")}, level="REFUTED"),
    Case("int-constant-becomes-bool", {"sched.py": SCHED.replace("BATCH = 32", "BATCH = True")}, level="REFUTED"),
]

DEFAULTS_AND_TYPES_BENIGN = [
    Case("default-same-value", {"sched.py": SCHED.replace("steps: int = 100", "steps: int = 10 * 10")}, exit=0),
    Case("constant-moves-in-bounds", {"sched.py": SCHED.replace("BATCH = 32", "BATCH = 64")}, exit=0),
]


@pytest.mark.parametrize("case", DEFAULTS_AND_TYPES + DEFAULTS_AND_TYPES_BENIGN, ids=lambda c: c.name)
def test_changed_defaults_and_retyped_constants(make_repo, tmp_path, case: Case) -> None:
    report = judged(make_repo(SCHED_REPO), tmp_path, case)
    if case.level:
        assert case.level in {o["level"] for o in report["obligations"]}, json.dumps(report["obligations"])
