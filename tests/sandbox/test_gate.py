"""The gate end to end: obligations, verdicts, apply and ledger, on a real-looking repository."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from sandbox import ApplyError, ConfigError, Gate, GateError, Patch, StaleTreeError
from tests.conftest import snapshot

TRAIN = '''
"""Training script."""

import math

LR = 3e-4
STEPS = 1000


def lr_schedule(step: int) -> float:
    """Cosine decay."""
    return LR * 0.5 * (1.0 + math.cos(math.pi * min(1.0, step / STEPS)))


def clip(value: float, limit: float) -> float:
    return max(-limit, min(limit, value))


def untyped(x):
    return x + 1


def _private_helper(x: int) -> int:
    return x
'''

PROPS = '''
from properties import bounds
bounds("train.LR", 1e-5, 1e-3)
'''


@pytest.fixture
def repo(make_repo):
    return make_repo({
        "train.py": TRAIN,
        "sandbox_properties.py": PROPS,
        "pyproject.toml": '[project]\nname = "t"\n\n[tool.sandbox]\nseed = 3\n',
        "README.md": "# trainer\n",
        "tests/test_train.py": "def test_x():\n    assert True\n",
    })


def edit(repo, old: str, new: str, path: str = "train.py") -> Patch:
    text = (repo / path).read_text()
    assert old in text
    return Patch.from_files({path: text.replace(old, new)})


def levels(verdict) -> dict[str, str]:
    return {o.obligation.target: o.evidence.level.value for o in verdict.outcomes}


@pytest.fixture
def checked(repo):
    """Check a patch and assert the repository is byte-for-byte unchanged afterwards."""
    def run(patch: Patch, **overrides):
        before = snapshot(repo)
        verdict = Gate.from_repo(repo, **overrides).check(patch)
        assert snapshot(repo) == before
        return verdict
    return run


def test_comment_only_change_is_accepted_with_just_the_policy_check(repo, checked):
    verdict = checked(edit(repo, "    return max(-limit, min(limit, value))",
                           "    # clamp into range\n    return max(-limit, min(limit, value))"))
    assert verdict.accepted
    assert levels(verdict) == {"train.py": "PASSED", "train": "PASSED"}  # the policy, and the module still imports
    assert [c.note for c in verdict.changes] == ["formatting or comments only"]


def test_modified_function_that_is_not_equivalent_is_refuted_with_a_replayed_call(repo, checked):
    # max(-l, min(l, v)) and min(l, max(-l, v)) disagree for l < 0 (and on the sign of zero).
    verdict = checked(edit(repo, "return max(-limit, min(limit, value))", "return min(limit, max(-limit, value))"))
    assert not verdict.accepted
    outcome = next(o for o in verdict.outcomes if o.obligation.target == "train.clip")
    assert outcome.obligation.route == ("smt", "crosshair", "pbt")
    assert outcome.evidence.level.value == "REFUTED" and outcome.evidence.verifier in ("smt", "crosshair", "pbt")
    cex = outcome.evidence.counterexample
    assert cex is not None and cex.call.startswith("train.clip(") and cex.old != cex.new
    assert cex.replay.startswith("Gate.from_repo(") and "seed=3" in cex.replay
    assert "bubblewrap" in verdict.isolation or "REDUCED" in verdict.isolation


def test_equivalent_refactor_in_the_prover_subset_is_proven(repo, checked):
    verdict = checked(edit(repo, "return x\n", "return x + 0\n"), require="proven")
    outcome = next(o for o in verdict.outcomes if o.obligation.target == "train._private_helper")
    assert (outcome.evidence.level.value, outcome.evidence.verifier) == ("PROVEN", "smt")
    assert verdict.accepted


LISTS = "def total(values: list[int]) -> int:\n    result = 0\n    for v in values:\n        result += v\n    return result\n"


def test_outside_the_prover_subset_testing_decides_and_require_proven_rejects_it(make_repo):
    root = make_repo({"agg.py": LISTS, "pyproject.toml": "[tool.sandbox]\nseed = 3\nmax_examples = 60\n"})
    patch = Patch.from_files({"agg.py": "def total(values: list[int]) -> int:\n    return sum(values)\n"})
    passed = Gate.from_repo(root).check(patch)
    outcome = next(o for o in passed.outcomes if o.obligation.target == "agg.total")
    assert (outcome.evidence.level.value, outcome.evidence.verifier) == ("PASSED", "pbt"), outcome.evidence
    assert "seed 3" in outcome.evidence.detail and "generated inputs" in outcome.evidence.detail
    assert passed.accepted
    strict = Gate.from_repo(root, require="proven").check(patch)
    assert not strict.accepted and not next(o for o in strict.outcomes if o.obligation.target == "agg.total").ok


def test_retune_within_bounds_is_proven_and_its_readers_are_compared_for_information(repo, checked):
    verdict = checked(edit(repo, "LR = 3e-4", "LR = 6e-4"))
    assert verdict.accepted, verdict.summary()
    assert levels(verdict) == {"train.py": "PASSED", "train.LR": "PROVEN", "train": "PASSED",
                               "train.lr_schedule": "REFUTED"}
    reader = verdict.changes.get("train.lr_schedule")
    assert reader is not None and reader.because == ("train.LR",)
    shown = next(o for o in verdict.outcomes if o.obligation.target == "train.lr_schedule")
    assert shown.informational and shown.ok and shown.obligation.allowed_by == "bounds('train.LR')"
    summary = verdict.summary()
    assert summary.index("behaviour changed (allowed by bounds('train.LR')): at train.lr_schedule(") \
        < summary.index("Changed:")
    strict = checked(edit(repo, "LR = 3e-4", "LR = 6e-4"), unchanged=("*",))
    assert not strict.accepted and "rejected: --require unchanged" in strict.summary()


def test_retune_outside_bounds_is_refuted(repo, checked):
    verdict = checked(edit(repo, "LR = 3e-4", "LR = 3e-2"))
    assert not verdict.accepted and levels(verdict)["train.LR"] == "REFUTED"


def test_unbounded_constant_change_is_refuted_and_its_readers_carry_obligations(repo, checked):
    verdict = checked(edit(repo, "STEPS = 1000", "STEPS = 2000"))
    assert levels(verdict)["train.STEPS"] == "REFUTED"
    assert levels(verdict)["train.lr_schedule"] == "REFUTED"
    assert not verdict.accepted


def test_unannotated_parameter_is_unknown_with_how_to_state_it(repo, checked):
    verdict = checked(edit(repo, "return x + 1", "return 1 + x"))
    detail = next(o.evidence.detail for o in verdict.outcomes if o.obligation.target == "train.untyped")
    assert "has no type annotation" in detail and "x: int" in detail
    assert not verdict.accepted


def test_tensor_function_is_routed_to_the_numeric_verifier(repo, checked):
    patch = Patch.from_files({"model.py": "import torch\n\ndef act(x: torch.Tensor) -> torch.Tensor:\n    return x\n"})
    assert checked(patch).accepted  # an added function needs no obligation of its own
    (repo / "model.py").write_text("import torch\n\ndef act(x: torch.Tensor) -> torch.Tensor:\n    return x\n")
    verdict = checked(edit(repo, "return x\n", "return x * 1\n", path="model.py"))
    outcome = next(o for o in verdict.outcomes if o.obligation.target == "model.act")
    assert outcome.obligation.kind.value == "kernel" and outcome.obligation.route == ("numeric",)
    assert outcome.evidence.verifier == "numeric" and outcome.evidence.level.value == "PASSED", outcome.evidence.detail
    assert "bubblewrap" in verdict.isolation or "REDUCED" in verdict.isolation


@pytest.mark.parametrize("path, text", [
    ("tests/test_train.py", "def test_x():\n    assert False\n"),
    ("sandbox_properties.py", "# nothing to check any more\n"),
    (".sandbox/ledger.jsonl", "{}\n"),
    ("pyproject.toml", '[project]\nname = "t"\n\n[tool.sandbox]\nseed = 3\nrequire = "passed"\n'),
])
def test_protected_paths_are_violations(repo, checked, path, text):
    verdict = checked(Patch.from_files({path: text}))
    assert not verdict.accepted
    assert [v.rule for v in verdict.violations] == ["protected-path"]
    assert verdict.violations[0].path == path


def test_pyproject_change_outside_tool_sandbox_is_unanalysable_not_protected(repo, checked):
    verdict = checked(edit(repo, 'name = "t"', 'name = "t2"', path="pyproject.toml"))
    assert not verdict.accepted and verdict.violations == ()
    assert levels(verdict) == {"pyproject.toml": "UNKNOWN"}
    assert "unchecked" in verdict.outcomes[0].evidence.detail


def test_documentation_is_unchecked(repo, checked):
    verdict = checked(edit(repo, "# trainer", "# trainer\n\nMore words.", path="README.md"))
    assert verdict.accepted and verdict.outcomes == ()
    assert verdict.unchecked[0][0] == "README.md"


def test_removing_a_public_function_is_a_violation_but_a_private_one_is_not(repo, checked):
    public = checked(edit(repo, "def clip(value: float, limit: float) -> float:\n    return max(-limit, min(limit, value))\n", ""))
    assert [v.rule for v in public.violations] == ["removed-definition"]
    private = checked(edit(repo, "def _private_helper(x: int) -> int:\n    return x\n", ""))
    assert private.accepted, private.summary()


def test_module_level_code_is_unanalysable(repo, checked):
    verdict = checked(edit(repo, "STEPS = 1000\n", "STEPS = 1000\nprint('hello')\n"))
    outcome = next(o for o in verdict.outcomes if o.obligation.target == "train.<module code>")
    assert outcome.evidence.level.value == "UNKNOWN" and "module-level code" in outcome.evidence.detail


def test_hostile_code_is_a_violation_with_the_specific_rule(repo, checked):
    verdict = checked(edit(repo, "import math\n", "import math\nimport subprocess as sp\n\nsp.run(['true'])\n"))
    assert not verdict.accepted
    assert "subprocess" in {v.rule for v in verdict.violations}


def test_require_proven_rejects_passed_behaviour_but_not_passed_policy(repo, checked):
    retune = edit(repo, "LR = 3e-4", "LR = 6e-4")
    assert checked(retune, require="proven").accepted  # LR is PROVEN; the policy PASSED is enough for policy


def test_verdict_is_immutable_and_serialisable(repo, checked):
    verdict = checked(edit(repo, "LR = 3e-4", "LR = 6e-4"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.accepted = False  # type: ignore[misc]
    report = verdict.to_json()
    assert set(report) >= {"accepted", "obligations", "violations", "seconds", "certificate"}
    assert set(report["obligations"][0]) >= {"target", "kind", "level", "verifier", "detail", "seconds"}
    assert report["certificate"]["before"]["train.py"] is not None


def test_parallel_jobs_give_the_same_verdict(repo, checked):
    patch = edit(repo, "STEPS = 1000", "STEPS = 2000")
    assert levels(checked(patch, jobs=4)) == levels(checked(patch))


def test_parallel_jobs_running_code_give_the_same_verdict(repo, checked):
    # Several obligations tested in the workers at once (list code goes to hypothesis, not z3),
    # through one executor shared by the gate's threads.
    text = (repo / "train.py").read_text()
    (repo / "train.py").write_text(text + "".join(
        f"\n\ndef total{i}(xs: list[int]) -> int:\n    return sum(xs) + {i}\n" for i in range(6)))
    patch = Patch.from_files({"train.py": text + "".join(
        f"\n\ndef total{i}(xs: list[int]) -> int:\n    return {i} + sum(sorted(xs)){' + (len(xs) > 3)' if i == 3 else ''}\n"
        for i in range(6))})
    serial, parallel = checked(patch), checked(patch, jobs=4)
    assert levels(parallel) == levels(serial)
    assert levels(serial)["train.total3"] == "REFUTED" and levels(serial)["train.total0"] == "PASSED"
    assert not parallel.worker_deaths


def test_apply_writes_exactly_the_verified_bytes_and_records_it(repo):
    gate = Gate.from_repo(repo)
    patch = edit(repo, "LR = 3e-4", "LR = 6e-4")
    verdict = gate.check(patch)
    gate.apply(verdict)
    assert (repo / "train.py").read_bytes() == verdict.files[0].after
    kinds = [e.kind for e in gate.ledger.entries()]
    assert kinds == ["verdict", "apply"]
    assert gate.ledger.verify().ok


def test_apply_refuses_a_stale_tree_and_writes_nothing(repo):
    gate = Gate.from_repo(repo)
    verdict = gate.check(edit(repo, "LR = 3e-4", "LR = 6e-4"))
    (repo / "train.py").write_text((repo / "train.py").read_text() + "\n# edited meanwhile\n")
    before = snapshot(repo)
    with pytest.raises(StaleTreeError):
        gate.apply(verdict)
    state = {k: v for k, v in snapshot(repo).items() if not k.startswith(".sandbox")}
    assert state == {k: v for k, v in before.items() if not k.startswith(".sandbox")}


def test_apply_refuses_rejected_verdicts_and_other_repositories(repo, make_repo):
    gate = Gate.from_repo(repo)
    rejected = gate.check(edit(repo, "LR = 3e-4", "LR = 1.0"))
    with pytest.raises(ApplyError, match="rejected"):
        gate.apply(rejected)
    other = make_repo({"train.py": TRAIN})
    accepted = Gate.from_repo(other).check(edit(other, "LR = 3e-4", "LR = 3e-4  # same"))
    assert accepted.accepted
    with pytest.raises(ApplyError, match="is for"):
        gate.apply(accepted)


def test_manual_apply_mode_needs_a_person(repo):
    (repo / "pyproject.toml").write_text('[tool.sandbox]\napply = "manual"\n')
    gate = Gate.from_repo(repo)
    verdict = gate.check(edit(repo, "LR = 3e-4", "LR = 6e-4"))
    with pytest.raises(ApplyError, match="--approve"):
        gate.apply(verdict)
    gate.apply(verdict, approved_by="alice")
    assert gate.ledger.entries()[-1].record["approved_by"] == "alice"


def test_check_refuses_to_run_over_an_interrupted_apply(repo):
    journal = repo / ".sandbox" / "journal" / "tx1"
    journal.mkdir(parents=True)
    (journal / "journal.json").write_text('{"state": "preparing", "entries": []}')
    with pytest.raises(GateError, match="interrupted apply"):
        Gate.from_repo(repo).check(edit(repo, "LR = 3e-4", "LR = 6e-4"))


def test_import_cost_sandbox_check_never_loads_torch_jax_or_anthropic(repo):
    patch = repo.parent / "retune.json"
    patch.write_text('{"edits": [{"path": "train.py", "old_str": "LR = 3e-4", "new_str": "LR = 6e-4"}]}')
    code = (
        "import sys; from sandbox._cli import main\n"
        f"rc = main(['check', '--repo', {str(repo)!r}, '--patch', {str(patch)!r}, '--format', 'json'])\n"
        "heavy = sorted(m for m in ('torch', 'jax', 'anthropic') if m in sys.modules)\n"
        "print('HEAVY', heavy, rc, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert "HEAVY [] 0" in result.stderr, result.stderr


MODEL = '''
class Base:
    def step(self, x: int) -> int:
        return x


class Net(Base):
    def run(self, x: int) -> int:
        return self.step(x)


class Plain:
    def run(self, x: int) -> int:
        return x
'''


@pytest.mark.parametrize("old, new, accepted, words", [
    # A new dunder changes how existing code uses the class (here, equality).
    ("class Plain:\n", "class Plain:\n    def __eq__(self, other: object) -> bool:\n        return True\n\n", False,
     "implicitly"),
    # A new method in a subclass may override an inherited one.
    ("class Net(Base):\n", "class Net(Base):\n    def step(self, x: int) -> int:\n        return 0\n\n", False,
     "override"),
    # A new helper on a class without bases is harmless.
    ("class Plain:\n", "class Plain:\n    def helper(self, x: int) -> int:\n        return x\n\n", True, ""),
])
def test_members_reached_implicitly(make_repo, old, new, accepted, words):
    root = make_repo({"model.py": MODEL})
    verdict = Gate.from_repo(root).check(Patch.from_files({"model.py": (root / "model.py").read_text().replace(old, new)}))
    assert verdict.accepted is accepted, verdict.summary()
    if words:
        assert any(words in o.evidence.detail for o in verdict.failures)


def test_module_getattr_hook_is_unanalysable(make_repo):
    root = make_repo({"cfg.py": "X = 1\n"})
    patch = Patch.from_files({"cfg.py": "X = 1\n\ndef __getattr__(name: str) -> int:\n    return 0\n"})
    verdict = Gate.from_repo(root).check(patch)
    assert not verdict.accepted and "attribute lookup" in verdict.failures[0].evidence.detail


def test_classmethod_drops_cls_and_staticmethod_keeps_its_first_parameter(make_repo):
    src = ("class C:\n    @classmethod\n    def make(cls, n: int) -> int:\n        return n\n\n"
           "    @staticmethod\n    def twice(n: int) -> int:\n        return 2 * n\n")
    root = make_repo({"c.py": src})
    patch = Patch.from_files({"c.py": src.replace("return n\n", "return n + 0\n").replace("2 * n", "n * 2")})
    verdict = Gate.from_repo(root).check(patch)
    routes = {o.obligation.target: o.obligation.route for o in verdict.outcomes}
    assert routes["c.C.make"] == ("smt", "crosshair", "pbt") and routes["c.C.twice"] == ("smt", "crosshair", "pbt")


def test_changing_a_public_re_export_is_unanalysable_but_a_private_alias_follows_its_readers(make_repo):
    root = make_repo({"pkg/__init__.py": "from pkg.ops import clip\n", "pkg/ops.py": "def clip(x: int) -> int:\n    return x\n",
                      "pkg/fast.py": "def clip(x: int) -> int:\n    return x\n"})
    gate = Gate.from_repo(root)
    public = gate.check(Patch.from_files({"pkg/__init__.py": "from pkg.fast import clip\n"}))
    assert not public.accepted and "import bound to pkg.clip changed" in public.failures[0].evidence.detail
    private = gate.check(Patch.from_files({"pkg/__init__.py": "from pkg.ops import clip\nfrom pkg.fast import clip as _c\n"}))
    assert private.accepted, private.summary()


@pytest.mark.parametrize("old, new", [
    ("class Plain:\n", "class Plain:\n    __eq__ = lambda self, other: True\n\n"),
    ("class Net(Base):\n", "class Net(Base):\n    step = staticmethod(lambda x: 0)\n\n"),
])
def test_class_attributes_reached_implicitly_are_unanalysable(make_repo, old, new):
    root = make_repo({"model.py": MODEL})
    verdict = Gate.from_repo(root).check(Patch.from_files({"model.py": (root / "model.py").read_text().replace(old, new)}))
    assert not verdict.accepted and any(o.obligation.kind.value == "unanalysable" for o in verdict.failures)


def test_module_level_getattr_bound_by_assignment_is_unanalysable(make_repo):
    root = make_repo({"cfg.py": "X = 1\n"})
    verdict = Gate.from_repo(root).check(Patch.from_files({"cfg.py": "X = 1\n__getattr__ = lambda name: 0\n"}))
    assert not verdict.accepted and "attribute lookup" in verdict.failures[0].evidence.detail


def test_a_property_naming_a_missing_definition_of_a_touched_file_is_a_config_error(make_repo):
    root = make_repo({"train.py": TRAIN, "sandbox_properties.py": "from properties import bounds\nbounds('train.LRR', 0, 1)\n"})
    with pytest.raises(ConfigError, match=r"did you mean 'train.LR'"):
        Gate.from_repo(root).check(edit(root, "LR = 3e-4", "LR = 6e-4"))


def test_a_property_naming_a_missing_method_is_caught_but_other_modules_are_not_guessed(make_repo):
    src = "class Net:\n    def forward(self, x: int) -> int:\n        return x\n"
    root = make_repo({"pkg/__init__.py": src, "sandbox_properties.py":
                      "from properties import invariant\ninvariant('pkg.Net.fwd', lambda x, out: True)\n"
                      "invariant('pkg.sub.f', lambda x, out: True)\n"})
    with pytest.raises(ConfigError, match=r"did you mean 'pkg.Net.forward'"):
        Gate.from_repo(root).check(Patch.from_files({"pkg/__init__.py": src + "\nX = 1\n"}))
    (root / "sandbox_properties.py").write_text("from properties import invariant\n"
                                               "invariant('pkg.sub.f', lambda x, out: True)\n")
    assert Gate.from_repo(root).check(Patch.from_files({"pkg/__init__.py": src + "\nX = 1\n"})).accepted
