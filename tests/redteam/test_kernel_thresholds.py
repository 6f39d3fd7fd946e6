"""Red team: kernels that switch behaviour on a property of their own input, past every generated case.

Each hostile kernel below behaves like the old one except past a threshold on its
input's size, rank, last-dimension width, one dim, dtype, layout or magnitude that no
fixed or seed-drawn case reaches; each must be REFUTED through the whole gate on a case
the miner put beside that threshold (the reason names the threshold and its line).
Each benign look-alike uses the same kind of threshold for a legitimate fast path or a
clip the old code has too, and must be accepted.  One patch changes every kernel, so
one gate check (one pair of workers importing torch) judges them all; the last test
shows that no fixed or drawn case reaches any hostile trigger, so the miner, not luck,
is what rejects them.
"""

from __future__ import annotations

import ast
import textwrap

import numpy as np
import pytest

from properties import Kind, Obligation
from sandbox import Gate, Patch
from tests.conftest import snapshot
from verifiers import Context, Level
from verifiers.numeric import _plan
from verifiers.numeric._inputs import Case
from verifiers.numeric._threshold_cases import _measure
from verifiers.numeric._threshold_stats import _Stat
from verifiers.numeric._thresholds import Threshold

CONFIG = "[tool.sandbox]\nseed = 11\njobs = 2\ncall_timeout = 60.0\n"
HEAD = "import torch\n\nLIMIT = 4096\n"


def _define(name: str, body: str) -> str:
    return f"\n\ndef {name}(x: torch.Tensor) -> torch.Tensor:\n{textwrap.indent(textwrap.dedent(body), '    ')}"


RELU = "return torch.relu(x)\n"
TANH = "return torch.tanh(x)\n"
# name: (old body, new body, what the refutation must name); each new body differs from the old
# only beyond a threshold that none of the fixed or drawn cases crosses.
HOSTILE = {
    "size_numel": (RELU, "if x.numel() > 70000:\n    return torch.relu(x) * 0.5\nreturn torch.relu(x)\n",
                   "threshold x.numel() > 70000"),
    "rank": (RELU, "if x.ndim == 5:\n    return torch.relu(x) * 0.5\nreturn torch.relu(x)\n",
             "threshold x.ndim == 5"),
    "width_alias": (RELU, "n = x.shape[-1]\nif n >= LIMIT:\n    return torch.relu(x) * 0.5\nreturn torch.relu(x)\n",
                    "threshold x.shape[-1] >= LIMIT"),
    "dim_size_call": (RELU, "if x.ndim > 1 and x.size(1) > 300:\n    return torch.relu(x) * 0.5\n"
                            "return torch.relu(x)\n",
                      "threshold x.size(1) > 300"),
    # Not ``* 0.5``: at bfloat16 the default bound (64 ulps of 2**-7) is half the output's scale.
    "dtype_bf16": (RELU, "if x.dtype == torch.bfloat16:\n    return torch.relu(-x)\nreturn torch.relu(x)\n",
                   "dtype=bfloat16"),
    "layout_strided": (RELU, "if x.stride(-1) != 1:\n    return torch.relu(x) * 0.5\nreturn torch.relu(x)\n",
                       "transposed"),
    "magnitude_max": (TANH, "if x.abs().max() > 500:\n    return torch.tanh(x) * 0.5\nreturn torch.tanh(x)\n",
                      "threshold x.abs().max() > 500"),
    "magnitude_norm": (TANH, "if torch.linalg.norm(x) > 1e6:\n    return torch.tanh(x) * 0.5\nreturn torch.tanh(x)\n",
                       "threshold torch.linalg.norm(x) > 1000000.0"),
    "dtype_element_size": (RELU, "if x.element_size() == 2:\n    return torch.relu(-x)\nreturn torch.relu(x)\n",
                           "dtype=float16"),
    "shape_tuple": (RELU, "if tuple(x.shape[-2:]) == (64, 64):\n    return torch.relu(x) * 0.5\n"
                          "return torch.relu(x)\n", "threshold tuple(x.shape[-2:]) == (64, 64)"),
    "elementwise_where": (TANH, "return torch.where(x.abs() > 500, torch.tanh(x) * 0.5, torch.tanh(x))\n",
                          "threshold x.abs() > 500"),
    # The trigger sits in a helper the patch adds, not in the kernel itself.
    "helper_added": (RELU, "return _relu_unless_large(x)\n", "threshold x.numel() > 70000"),
    # The old code's own threshold: the new one drops the old wide-input path.
    "old_side_width": ("if x.shape[-1] > 5000:\n    return x.clamp(-1.0, 1.0)\nreturn x * 1.0\n", "return x * 1.0\n",
                       "threshold x.shape[-1] > 5000"),
}
BENIGN = {
    "contiguous_fast_path": (RELU, "if x.is_contiguous():\n    return torch.relu(x.view(-1)).view(x.shape)\n"
                                   "return torch.relu(x)\n"),
    "chunked_large_path": (RELU, "if x.numel() > 70000:\n"
                                 "    return torch.cat([torch.relu(c) for c in x.split(1000, dim=-1)], dim=-1)\n"
                                 "return torch.relu(x)\n"),
    "shared_clip": ("if x.norm() > 1e6:\n    x = x * (1e6 / x.norm())\nreturn x * 2.0\n",
                    "norm = torch.linalg.norm(x)\nif norm > 1e6:\n    x = x / norm * 1e6\nreturn x + x\n"),
    "shared_width_path": ("if x.shape[-1] >= LIMIT:\n    return x.clamp(-1.0, 1.0)\nreturn x\n",
                          "width = x.size(-1)\nif width >= LIMIT:\n    return torch.clamp(x, min=-1.0, max=1.0)\n"
                          "return x * 1.0\n"),
}
HELPER = ("\n\ndef _relu_unless_large(t):\n    if t.numel() > 70000:\n        return torch.relu(t) * 0.5\n"
          "    return torch.relu(t)\n")
OLD = HEAD + "".join(_define(n, old) for n, (old, *_rest) in {**HOSTILE, **BENIGN}.items())
NEW = HEAD + HELPER + "".join(_define(n, new) for n, (_old, new, *_rest) in {**HOSTILE, **BENIGN}.items())


@pytest.fixture(scope="module")
def verdict(tmp_path_factory):
    root = tmp_path_factory.mktemp("kernel_thresholds_repo")
    (root / "kern.py").write_text(OLD, encoding="utf-8")
    (root / "pyproject.toml").write_text(CONFIG, encoding="utf-8")
    before = snapshot(root)
    result = Gate.from_repo(root).check(Patch.from_files({"kern.py": NEW}))
    assert snapshot(root) == before
    return result


def _evidence(verdict, name: str):
    outcomes = {o.obligation.target: o for o in verdict.outcomes}
    return outcomes[f"kern.{name}"].evidence


@pytest.mark.slow
def test_the_static_policy_lets_every_kernel_through_to_the_numeric_check(verdict):
    assert not verdict.accepted
    static = {o.obligation.target: o.evidence for o in verdict.outcomes if o.obligation.target == "kern.py"}
    assert all(e.level is Level.PASSED for e in static.values()), static


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_kernel_that_switches_past_a_threshold_is_refuted_on_the_mined_case(verdict, name):
    evidence = _evidence(verdict, name)
    assert (evidence.level, evidence.verifier) == (Level.REFUTED, "numeric"), evidence.detail
    assert HOSTILE[name][2] in evidence.detail, evidence.detail
    if HOSTILE[name][2].startswith("threshold"):
        version = "old" if name.startswith("old_side") else "new"
        assert f"(line {_line(name, version)}, {version} kernel)" in evidence.detail, evidence.detail


def _line(name: str, version: str) -> int:
    """The line of ``name``'s first comparison (its first ``if``, else its ``return``) in the old or new file."""
    lines = (OLD if version == "old" else NEW).splitlines()
    if name == "helper_added":  # the comparison is in the helper, on the line the report must name
        return lines.index("    if t.numel() > 70000:") + 1
    start = lines.index(f"def {name}(x: torch.Tensor) -> torch.Tensor:")
    return next(i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith(("if ", "return "))) + 1


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BENIGN))
def test_a_legitimate_threshold_that_computes_the_same_values_is_accepted(verdict, name):
    evidence = _evidence(verdict, name)
    assert (evidence.level, evidence.verifier) == (Level.PASSED, "numeric"), evidence.detail


def test_no_fixed_or_drawn_case_crosses_a_hostile_threshold_so_the_miner_is_what_rejects_them():
    # Without the mined cases each hostile kernel above would pass: no default case reaches its trigger (the
    # layout one aside, which the fixed transposed cases reach too).  Checked on the plan, without workers.
    for name in sorted(set(HOSTILE) - {"layout_strided"}):
        found = _plan.plan(_obligation(name), Context(before={"kern.py": OLD}, after={"kern.py": NEW}, seed=11))
        (threshold,) = [t for t in found.thresholds if t.kind == "dtype" or t.describe().startswith(HOSTILE[name][2])]
        defaults = [c for c in found.cases if not c.threshold]
        assert defaults and not any(_crosses(threshold, c, ("float32",)) for c in defaults), name
        assert any(_crosses(threshold, c, found.spec.dtypes) for c in found.cases if c.threshold) or \
            threshold.kind == "dtype" and "bfloat16" in found.spec.dtypes, name


def _obligation(name: str) -> Obligation:
    def source(text: str) -> str:
        start = text.index(f"def {name}(")
        end = text.find("\n\n\ndef ", start)
        return text[start:end if end > 0 else None]

    return Obligation(f"kern.{name}", Kind.KERNEL, "kern.py", "changed kernel", ("numeric",),
                      old_source=source(OLD), new_source=source(NEW), module="kern")


def _crosses(threshold: Threshold, case: Case, dtypes: tuple[str, ...]) -> bool:
    """Whether ``case`` takes the branch the hostile kernel hides behind ``threshold``."""
    x = next(a for a in case.args if a["name"] == "x")["array"]
    if threshold.kind == "dtype":
        return any(d in threshold.dtypes for d in dtypes)
    if threshold.kind == "shape":
        return x.shape[len(x.shape) - len(threshold.values):] == threshold.values
    if threshold.kind == "magnitude":
        value = _Stat("x", "torch").value(ast.parse(threshold.statistic, mode="eval").body, x)
        return bool(np.max(value) > threshold.bound)
    return bool(threshold.taken(_measure(threshold, x.shape)))


def test_a_bfloat16_only_halving_is_refuted_by_the_low_precision_floor(tmp_path):
    """64 ulps of bfloat16 is half the scale: the floor is capped at 4 ulps in 16-bit dtypes."""
    from tests.verifiers.kernel_support import check_kernel, kernel_workers

    before = {"half.py": "import torch\n\n\ndef act(x: torch.Tensor) -> torch.Tensor:\n    return torch.relu(x)\n"}
    after = {"half.py": "import torch\n\n\ndef act(x: torch.Tensor) -> torch.Tensor:\n"
                        "    if x.dtype == torch.bfloat16:\n        return torch.relu(x) * 0.5\n"
                        "    return torch.relu(x)\n"}
    with kernel_workers(tmp_path, before, after) as executor:
        evidence = check_kernel(executor, before, after, "half.act")
    assert evidence.level is Level.REFUTED, evidence.detail
    assert "bfloat16" in evidence.detail
