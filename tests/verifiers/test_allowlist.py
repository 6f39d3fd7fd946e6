"""The allow-list tables: how a name is judged, and that the tables match the pinned libraries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from properties import RULES
from verifiers.static._allowlist import MODULES, TABLES, AllowList, Denial, Table

ROOT = Path(__file__).resolve().parents[2]

ALLOW = AllowList(TABLES, modules=MODULES)


@pytest.mark.parametrize("symbol", [
    "math.sqrt", "builtins.len", "builtins.int.from_bytes", "torch.zeros", "torch.nn.Linear",
    "torch.nn.functional.scaled_dot_product_attention", "torch.Tensor.add_", "torch.utils.data.TensorDataset",
    "numpy.linalg.norm", "numpy.random.default_rng", "jax.numpy.einsum", "jax.random.split", "jax.lax.scan",
    "os.path.join", "collections.abc.Mapping", "random.Random", "datetime.timedelta", "datetime.datetime.fromisoformat",
    "torch", "torch.nn", "os", "os.path", "jax.numpy", "urllib.parse.urlparse", "logging.getLogger",
])
def test_safe_apis_and_their_namespaces_are_allowed(symbol: str) -> None:
    assert ALLOW.judge(symbol) is None


@pytest.mark.parametrize("symbol, rule", [
    ("builtins.open", "unlisted-call"), ("builtins.eval", "unlisted-call"), ("builtins.setattr", "unlisted-call"),
    ("torch.save", "file-write"), ("torch.hub.load", "network"), ("torch.manual_seed", "ambient-state"),
    ("torch.set_num_threads", "ambient-state"), ("torch.cuda.is_available", "ambient-state"),
    ("torch.utils.cpp_extension.load_inline", "unlisted-call"), ("torch.os.system", "unlisted-call"),
    ("torch.nn.functional.importlib", "unlisted-call"), ("numpy.save", "file-write"),
    ("numpy.random.seed", "ambient-state"), ("numpy.lib.format.open_memmap", "native-code"),
    ("jax.devices", "ambient-state"), ("jax.debug.callback", "dynamic-code"), ("time.time", "ambient-state"),
    ("datetime.datetime.now", "ambient-state"), ("os.cpu_count", "ambient-state"), ("random.random", "ambient-state"),
    ("typing.get_type_hints", "dynamic-code"), ("functools.update_wrapper", "module-mutation"),
    ("operator.setitem", "module-mutation"), ("pandas.read_csv", "unlisted-call"), ("pydoc.pipepager", "unlisted-call"),
])
def test_capabilities_inside_and_outside_the_namespaces_are_denied(symbol: str, rule: str) -> None:
    denial = ALLOW.judge(symbol)
    assert denial is not None and denial.rule == rule


def test_every_denial_names_a_known_rule() -> None:
    for table in TABLES:
        for pattern, denial in table.deny.items():
            assert denial.rule in RULES, (table.package, pattern)


def test_the_repository_extends_the_list_and_its_own_modules_are_allowed() -> None:
    allow = AllowList(TABLES, local={"mypkg"}, extra=("vendor.safe.*",))
    assert allow.judge("mypkg.util.helper") is None
    assert allow.judge(".sibling.f") is None
    assert allow.judge("vendor.safe.add") is None
    assert allow.judge("vendor.other.add") == Denial("unlisted-call")


def test_the_most_specific_entry_decides() -> None:
    table = Table("t", {"pkg.*": "", "pkg.sub.inner.*": ""}, {"pkg.sub": Denial("network", "why"),
                                                              "pkg.bad": Denial("file-write")})
    allow = AllowList([table])
    assert allow.judge("pkg.ok") is None
    assert allow.judge("pkg.bad") == Denial("file-write")
    assert allow.judge("pkg.sub") == Denial("network", "why")
    assert allow.judge("pkg.sub.other") == Denial("network", "why")
    assert allow.judge("pkg.sub.inner.f") is None
    assert allow.judge("pkg._private") == Denial("unlisted-call")


_segment = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)


@given(st.lists(_segment, min_size=2, max_size=4), _segment)
def test_a_denied_name_stays_denied_below_it(parts: list[str], leaf: str) -> None:
    """Whatever hangs below a denied name is denied too, unless a longer allow entry says otherwise."""
    denied = ".".join(parts)
    allow = AllowList([Table("t", {f"{parts[0]}.*": ""}, {denied: Denial("network")})])
    assert allow.judge(f"{denied}.{leaf}") == Denial("network")


@given(st.lists(_segment, min_size=2, max_size=5))
def test_a_name_outside_every_table_is_unlisted(parts: list[str]) -> None:
    symbol = "zz" + ".".join(parts)  # no table lists a top-level name starting with "zz"
    assert ALLOW.judge(symbol) == Denial("unlisted-call")


def _wildcard_namespaces() -> list[str]:
    return sorted({p[:-2] for t in TABLES for p in t.allow if p.endswith(".*") and "*" not in p[:-2]})


@pytest.mark.slow
def test_the_module_table_matches_the_installed_libraries() -> None:
    """``torch.*`` must not let ``torch.os`` or ``torch.distributions.normal`` through: the table of the
    modules each allowed namespace holds is generated from the pinned libraries and must be current."""
    # In a fresh interpreter, as the generator runs: ``dir(scipy.special)`` also lists the submodules
    # that any earlier test happened to import (``cython_special``), so in-process the answer would
    # depend on test order rather than on the installed libraries.
    script = ("import json, sys; sys.path.insert(0, sys.argv[1]); "
              "from verifiers.static._allowlist._modules import collect; "
              "print(json.dumps(collect(json.loads(sys.argv[2]))))")
    done = subprocess.run([sys.executable, "-c", script, str(ROOT), json.dumps(_wildcard_namespaces())],
                          capture_output=True, text=True, check=True, timeout=300)
    assert json.loads(done.stdout) == MODULES, (
        "the installed torch/numpy/jax differ from the generated module table; run "
        "`python -m verifiers.static._allowlist._modules` and review the diff")



@pytest.mark.parametrize("symbol", ["torch.os", "torch.os.system", "torch.nn.functional.np.save",
                                    "torch.distributions.normal.Normal", "numpy.polynomial.polynomial.np",
                                    "typing.sys", "typing.collections"])
def test_modules_held_by_an_allowed_namespace_are_not_allowed_through_it(symbol: str) -> None:
    denial = ALLOW.judge(symbol)
    assert denial is not None and denial.rule == "unlisted-call", symbol


def test_docs_policy_lists_the_tables_as_they_are() -> None:
    from pathlib import Path

    from verifiers.static._allowlist._docs import BEGIN, END, render

    text = (Path(__file__).resolve().parents[2] / "docs" / "policy.md").read_text(encoding="utf-8")
    section = text.partition(BEGIN)[2].partition(END)[0]
    assert section.strip() == render().strip(), (
        "docs/policy.md is out of date with the tables; run `python -m verifiers.static._allowlist._docs`")
