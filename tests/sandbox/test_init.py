"""``sandbox init``: what it infers, what it writes, what it never overwrites, and that check accepts it."""

from __future__ import annotations

import argparse
import io
import re
import tomllib

import pytest

from properties import Bounds, Kernel
from sandbox import Gate, Patch
from sandbox._config import load_config
from sandbox._loader import load_properties
from sandbox.init import infer, plan, render_table
from sandbox.init._command import add_parser, run
from tests.conftest import snapshot

MODEL = '''
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from jaxtyping import Float, Int

HIDDEN = 256
LR = 3e-4
OFFSET: float = -2.5
DEBUG = True
name = 3


def gelu(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x)


def scores(q: "Float[torch.Tensor, 'batch seq dim']", k: "Float[torch.Tensor, 'batch seq dim']",
           scale: float = 1.0) -> torch.Tensor:
    return (q * k).sum(-1) * scale


def pick(logits: "Float[torch.Tensor, 'batch classes']", targets: "Int[torch.Tensor, 'batch']") -> torch.Tensor:
    return logits.gather(1, targets[:, None])


def act(x):
    return torch.relu(x) * 2.0


def lr_at(step: int) -> float:
    return float(torch.tensor(step).item())


def double(x: int) -> int:
    return x * 2
'''

FILES = {
    "model.py": MODEL,
    "pkg/__init__.py": "",
    "pkg/ops.py": "import jax.numpy as jnp\n\n\ndef norm(x):\n    return jnp.sqrt((x * x).sum())\n",
    "tests/test_model.py": "import torch\n\n\ndef test_f(x: torch.Tensor):\n    return x\n",
    "myenv/pyvenv.cfg": "home = /usr\n",
    "myenv/lib/site.py": "import torch\n\n\ndef f(x: torch.Tensor):\n    return x\n",
    ".git/hooks/x.py": "import torch\n\n\ndef f(x: torch.Tensor):\n    return x\n",
    "bad-name.py": "import torch\n\n\ndef f(x: torch.Tensor):\n    return x\n",
    "broken.py": "def (:\n",
}


@pytest.fixture
def repo(make_repo):
    return make_repo(FILES)


def init(root, *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="sandbox")
    add_parser(parser.add_subparsers(dest="command"))
    out, err = io.StringIO(), io.StringIO()
    return run(parser.parse_args(["init", "--repo", str(root), *argv]), out, err), out.getvalue(), err.getvalue()


def test_tensor_functions_and_numeric_constants_are_found_and_the_rest_skipped(repo):
    found = infer(repo)
    assert [k.target for k in found.kernels] == ["model.gelu", "model.scores", "model.pick", "model.act", "pkg.ops.norm"]
    assert "annotated as arrays" in found.kernels[0].why and "torch.relu" in found.kernels[3].why
    assert "jax.numpy.sqrt" in found.kernels[4].why  # through the module's `import jax.numpy as jnp`
    assert [(c.target, c.value) for c in found.constants] == [("model.HIDDEN", 256), ("model.LR", 3e-4),
                                                              ("model.OFFSET", -2.5)]
    assert [path for path, _ in found.unreadable] == ["broken.py"]
    assert found.modules == 4  # model, pkg/__init__, pkg/ops, broken: not tests, the venv, .git, bad-name


def test_init_writes_a_table_check_reads_and_a_property_file_check_loads(repo):
    code, out, err = init(repo)
    assert code == 0 and out == ""
    assert "wrote" in err and "5 tensor function(s), 3 numeric constant(s)" in err
    config = load_config(repo)
    assert config.properties == ("sandbox_properties.py",) and config.require == "passed"
    stated = load_properties(repo, config.properties)
    kernels = {p.target: p for p in stated if isinstance(p, Kernel)}
    assert set(kernels) == {"model.gelu", "model.scores", "model.pick", "model.act", "pkg.ops.norm"}
    assert not [p for p in stated if isinstance(p, Bounds)]  # suggestions only: commented out
    assert kernels["model.gelu"].make_inputs is None


def test_make_inputs_is_real_where_jaxtyping_states_the_shapes(repo):
    import numpy as np

    init(repo)
    kernels = {p.target: p for p in load_properties(repo, ("sandbox_properties.py",)) if isinstance(p, Kernel)}
    case = kernels["model.scores"].make_inputs(np.random.default_rng(0))
    assert case == {"q": (4, 6, 8), "k": (4, 6, 8)}  # shared dim names get one size; `scale` keeps its default
    case = kernels["model.pick"].make_inputs(np.random.default_rng(0))
    assert case["logits"] == (4, 6) and case["targets"].shape == (4,)
    assert case["targets"].dtype.kind == "i" and 0 <= case["targets"].min() and case["targets"].max() < 4


def test_every_bounds_suggestion_loads_when_uncommented_and_brackets_the_value(repo):
    init(repo)
    text = (repo / "sandbox_properties.py").read_text()
    suggestions = re.findall(r"^# (bounds\(.*\))  # now (\S+)", text, re.M)
    assert len(suggestions) == 3
    (repo / "sandbox_properties.py").write_text(text + "".join(f"{s}\n" for s, _ in suggestions))
    stated = [p for p in load_properties(repo, ("sandbox_properties.py",)) if isinstance(p, Bounds)]
    for spec, (_, now) in zip(stated, suggestions):
        assert spec.lo <= float(now) <= spec.hi and spec.lo < spec.hi


def test_every_commented_key_of_the_table_validates_when_uncommented(tmp_path):
    table = render_table()
    uncommented = re.sub(r"^# ([a-z-]+ = .*)$", r"\1", table, flags=re.M)
    assert uncommented.count("\n# ") < table.count("\n# ")
    (tmp_path / "pyproject.toml").write_text(uncommented)
    config = load_config(tmp_path)
    assert config.allow_calls == ("mypkg.util.*",) and config.allow == {"file-write": ("scripts/*.py",)}
    assert config.max_examples == 200 and config.call_timeout == 10.0


def test_an_existing_pyproject_keeps_every_byte_and_gets_the_table_appended(repo):
    before = '[project]\nname = "lab"\nversion = "1"'  # no final newline
    (repo / "pyproject.toml").write_text(before)
    assert init(repo)[0] == 0
    after = (repo / "pyproject.toml").read_text()
    assert after.startswith(before + "\n") and tomllib.loads(after)["project"]["name"] == "lab"
    assert tomllib.loads(after)["tool"]["sandbox"]["seed"] == 0


def test_an_existing_table_is_never_overwritten(repo):
    (repo / "pyproject.toml").write_text('[tool.sandbox]\nseed = 7\nproperties = ["props.py"]\n')
    code, _, err = init(repo)
    assert code == 0 and "already has a [tool.sandbox] table: left as it is" in err
    assert (repo / "pyproject.toml").read_text() == '[tool.sandbox]\nseed = 7\nproperties = ["props.py"]\n'
    assert (repo / "props.py").is_file() and not (repo / "sandbox_properties.py").exists()  # the file it names


def test_an_existing_property_file_is_never_overwritten_and_the_proposal_goes_to_stdout(repo):
    (repo / "sandbox_properties.py").write_text("# mine\n")
    code, out, err = init(repo)
    assert code == 0 and (repo / "sandbox_properties.py").read_text() == "# mine\n"
    assert "already exists: left as it is" in err and 'kernel(\n    "model.gelu",' in out
    code, out, err = init(repo)  # run again: both exist now, nothing to do
    assert code == 0 and "nothing written" in err


def test_a_pyproject_that_is_not_toml_is_left_alone_with_exit_2(repo):
    (repo / "pyproject.toml").write_text("[project\n")
    state = snapshot(repo)
    code, _, err = init(repo)
    assert code == 2 and "cannot read it as TOML" in err and "--dry-run" in err
    assert snapshot(repo) == state


def test_a_pyproject_the_table_cannot_be_appended_to_is_left_alone(repo):
    (repo / "pyproject.toml").write_text('tool = { black = { line-length = 100 } }\n')  # [tool.sandbox] would redefine it
    state = snapshot(repo)
    code, _, err = init(repo)
    assert code == 2 and "add the table by hand" in err
    assert snapshot(repo) == state


def test_dry_run_prints_both_files_and_writes_nothing(repo):
    state = snapshot(repo)
    code, out, _ = init(repo, "--dry-run")
    assert code == 0 and snapshot(repo) == state
    assert "[tool.sandbox]" in out and 'kernel(\n    "model.scores",' in out and '# bounds("model.LR"' in out


def test_plan_for_a_repository_without_tensor_code(make_repo):
    root = make_repo({"train.py": "def f(x: int) -> int:\n    return x\n"})
    result = plan(root, infer(root))
    assert "No tensor functions found" in result.starter and result.pyproject_text.lstrip().startswith("[tool.sandbox]")


def test_check_accepts_a_benign_change_after_init(repo):
    (repo / "broken.py").unlink()
    assert init(repo)[0] == 0
    text = (repo / "model.py").read_text()
    patch = Patch.from_files({"model.py": text.replace("return x * 2\n", "return x + x\n")})
    verdict = Gate.from_repo(repo).check(patch)
    assert verdict.accepted, verdict.summary()
    hostile = Patch.from_files({"model.py": text.replace("return x * 2\n", "import os\n    os.system('x')\n    return x * 2\n")})
    assert not Gate.from_repo(repo).check(hostile).accepted


@pytest.mark.slow
def test_check_accepts_a_benign_kernel_rewrite_with_the_inferred_make_inputs(repo):
    pytest.importorskip("torch")
    (repo / "broken.py").unlink()
    assert init(repo)[0] == 0
    text = (repo / "model.py").read_text()
    patch = Patch.from_files({"model.py": text.replace("return (q * k).sum(-1) * scale", "return scale * (k * q).sum(-1)")})
    verdict = Gate.from_repo(repo).check(patch)
    assert verdict.accepted, verdict.summary()
    assert [o.obligation.kind.value for o in verdict.outcomes if o.obligation.target == "model.scores"] == ["kernel"]


def test_the_cli_runs_init(repo):
    from sandbox._cli import main

    out, err = io.StringIO(), io.StringIO()
    assert main(["init", "--repo", str(repo)], out, err) == 0
    assert (repo / "sandbox_properties.py").is_file() and "[tool.sandbox]" in (repo / "pyproject.toml").read_text()
