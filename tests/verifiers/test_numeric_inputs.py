"""Input generation for the kernel verifier: dtypes and shapes from annotations, seeded shapes, wide magnitudes.

Unit tests call ``parameters`` and ``cases`` on source text (no worker); the last
tests run integer-annotated kernels through the real isolated executor.
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from properties import kernel
from tests.verifiers.kernel_support import check_kernel, kernel_workers
from verifiers import Level
from verifiers.numeric import _inputs
from verifiers.numeric._annotations import CAP
from verifiers.numeric._inputs import LARGE, WIDE, Param, Unsupported, cases, framework, parameters


def generated(source: str, seed: int = 0, make_inputs=None) -> tuple[list[Param], list[_inputs.Case]]:
    params = parameters(textwrap.dedent(source), method=False)
    return params, cases(params, seed, make_inputs)


def arrays(case: _inputs.Case) -> dict[str, np.ndarray]:
    every = list(case.args) + [arg for _, arg in case.kwargs]
    return {a["name"]: a["array"] for a in every if "array" in a}


def bind(params: list[Param], case: _inputs.Case) -> dict[str, tuple[int, ...]]:
    """Each jaxtyping dim's size in ``case``; fails if two parameters disagree or a literal is not kept."""
    sizes: dict[str, tuple[int, ...]] = {}
    for param in params:
        if param.dims is None:
            continue
        shape = arrays(case)[param.name].shape
        spread = len(shape) - sum(1 for d in param.dims if not (isinstance(d, str) and d.startswith("*")))
        at = 0
        for dim in param.dims:
            width = spread if isinstance(dim, str) and dim.startswith("*") else 1
            got = shape[at:at + width]
            at += width
            if isinstance(dim, int):
                assert got == (dim,), f"{param.name}: literal {dim} became {got} in {case.label}"
            else:
                assert sizes.setdefault(dim, got) == got, f"{dim} disagrees in {case.label}"
        assert at == len(shape), f"{param.name}: {shape} does not fit {param.dims}"
    return sizes


def assert_indices_in_range(params: list[Param], case: _inputs.Case) -> None:
    """Integers in [0, K): K from dims named only in float parameters, else the float tensors' last dims."""
    found, sizes = arrays(case), bind(params, case)
    in_indices = {d for p in params if p.kind == "index" and p.dims for d in p.dims}
    own = [sizes[d][0] for p in params if p.kind in ("tensor", "feature") and p.dims for d in p.dims
           if isinstance(d, str) and d[0] not in "*_" and d not in in_indices]
    lasts = [found[p.name].shape[-1] for p in params if p.kind in ("tensor", "feature") and found[p.name].ndim]
    if not own and not lasts:
        return  # the bound is the case's last dim, which the case does not record
    bound = max(1, min(own or lasts))
    for param in params:
        if param.kind == "index":
            ids = found[param.name]
            assert ids.dtype == np.int64 and (ids.size == 0 or (ids.min() >= 0 and ids.max() < bound)), case.label
            assert ids.size < 2 or ids.max() == bound - 1, f"{param.name} never reaches the top index {bound - 1}"


# -- dtypes from annotations -------------------------------------------------------------------------

INTEGER = ["torch.LongTensor", "LongTensor", "torch.IntTensor", "torch.ShortTensor", "ByteTensor",
           'Int[Tensor, "n"]', 'Int64[torch.Tensor, "n"]', 'Int32[Array, "n"]', 'Integer[jax.Array, "n"]',
           'UInt8[jnp.ndarray, "n"]', 'jaxtyping.Int[Tensor, "n"]', 'Optional[Int[Tensor, "n"]]',
           'Int[Tensor, "n"] | None', '"torch.LongTensor"']
BOOLEAN = ["torch.BoolTensor", "BoolTensor", 'Bool[Tensor, "n"]', 'jaxtyping.Bool[Array, "n"]']
FLOAT = ["torch.Tensor", 'Float[Tensor, "n"]', 'Float32[Array, "n"]', 'Shaped[torch.Tensor, "n"]',
         'jaxtyping.Float[jnp.ndarray, "n"]']


@pytest.mark.parametrize("note", INTEGER)
def test_integer_annotations_give_int64_indices_into_the_float_tensors(note):
    params, found = generated(f"def k(x: {note}, logits: torch.Tensor): ...")
    assert params[0].kind == "index"
    for case in found:
        ids, logits = arrays(case)["x"], arrays(case)["logits"]
        assert ids.dtype == np.int64 and ids.min() >= 0 and ids.max() < logits.shape[-1], case.label
        assert_indices_in_range(params, case)


@pytest.mark.parametrize("note", BOOLEAN)
def test_boolean_annotations_give_masks_mostly_true_and_never_all_false(note):
    params, found = generated(f"def k(keep: {note}, x: torch.Tensor): ...")
    assert params[0].kind == "mask"
    masks = [arrays(case)["keep"] for case in found]
    assert all(m.dtype == np.bool_ and m.reshape(-1)[0] for m in masks)
    assert 0.7 < np.mean(np.concatenate([m.reshape(-1) for m in masks])) < 0.9


@pytest.mark.parametrize("note", FLOAT)
def test_float_annotations_stay_float(note):
    params, found = generated(f"def k(x: {note}): ...")
    assert params[0].kind == "tensor"
    assert all(a["float"] for case in found for a in case.args)


def test_an_explicit_float_dtype_beats_the_mask_name_and_a_bare_tensor_does_not():
    params = parameters('def k(attn_mask: Float[Tensor, "q k"], key_mask: torch.Tensor): ...', method=False)
    assert [p.kind for p in params] == ["tensor", "mask"]


@pytest.mark.parametrize(("annotations", "expected"), [
    ("Int[Array, 'batch']", "jax"), ("jaxtyping.Int[jax.Array, 'b']", "jax"), ("Bool[jnp.ndarray, 'b']", "jax"),
    ("Int[Tensor, 'batch']", "torch"), ("torch.LongTensor", "torch"), ("jaxtyping.Float[Tensor, 'b']", "torch"),
    ("Float[Array, 'torch Tensor']", "jax"), ("Float[Tensor, 'jax Array']", "torch"),
])
def test_framework_reads_array_types_not_dim_names(annotations, expected):
    assert framework(annotations, "") == expected


# -- jaxtyping shapes --------------------------------------------------------------------------------

ATTENTION = '''
def attend(q: Float[Tensor, "batch heads seq dim"], k: Float[Tensor, "batch heads kv dim"],
           keep: Bool[Tensor, "seq kv"], pos: Int[Tensor, "batch seq"], scale: Float[Tensor, "dim"],
           eps: float = 1e-6): ...
'''


def test_named_dims_agree_across_parameters_in_every_case_and_cover_size_1_odd_and_large():
    params, found = generated(ATTENTION)
    seen = set()
    for case in found:
        seen |= {n for size in bind(params, case).values() for n in size}
        assert all(math.prod(s) <= CAP for s in case.shapes), case.label
        assert_indices_in_range(params, case)
    assert 1 in seen and any(n % 2 and n > 1 for n in seen) and max(seen) >= 32
    assert max(math.prod(s) for case in found for s in case.shapes) > CAP // 2


def test_class_targets_index_the_classes_and_token_ids_the_table():
    params, found = generated('def nll(logits: Float[Tensor, "batch classes"], targets: Int[Tensor, "batch"]): ...')
    for case in found:
        assert arrays(case)["targets"].max() < arrays(case)["logits"].shape[-1]
        assert_indices_in_range(params, case)
    params, found = generated('def embed(table: Float[Tensor, "vocab dim"], ids: Int[Tensor, "batch seq"]): ...')
    for case in found:
        assert arrays(case)["ids"].max() < min(arrays(case)["table"].shape)
        assert_indices_in_range(params, case)


@pytest.mark.parametrize(("note", "check"), [
    ('"b 3"', lambda s: len(s) == 2 and s[1] == 3),
    ('"rows=4 cols"', lambda s: len(s) == 2 and s[0] == 4),
    ('""', lambda s: s == ()),
    ('"#b _c ?d"', lambda s: len(s) == 3),
    ('"_ _"', lambda s: len(s) == 2),
])
def test_literal_sizes_scalars_and_jaxtyping_prefixes(note, check):
    params, found = generated(f"def k(x: Float[Tensor, {note}]): ...")
    assert params[0].dims is not None
    assert all(check(arrays(case)["x"].shape) for case in found)


def test_dims_are_read_with_jaxtyping_prefixes_stripped():
    params = parameters('def k(x: Float[Tensor, "*batch #c _ rows=4 _d"], y: Float[Tensor, "... c"]): ...', False)
    assert [p.dims for p in params] == [("*batch", "c", "_x.2", 4, "d"), ("*...", "c")]


@pytest.mark.parametrize("group", ["*batch", "...", "*#batch"])
def test_a_variadic_group_is_0_to_2_leading_dims_shared_by_every_parameter(group):
    params, found = generated(f'def k(x: Float[Tensor, "{group} dim"], y: Int[Tensor, "{group}"]): ...')
    ranks = set()
    for case in found:
        x, y = arrays(case)["x"], arrays(case)["y"]
        assert x.shape[:-1] == y.shape and y.max(initial=0) < x.shape[-1]
        ranks.add(y.ndim)
    assert ranks == {0, 1, 2}


def test_pinned_dims_and_groups_are_kept_and_only_the_others_shrink_to_the_cap():
    from verifiers.numeric._annotations import shapes

    dims = {"q": ("*batch", "seq", "dim"), "w": ("dim",)}
    found, named = shapes(dims, (4, 37, 96), np.random.default_rng(0), fixed={"dim": 4096, "*batch": (3,)})
    assert found["w"] == (4096,) and found["q"][0] == 3 and found["q"][-1] == 4096
    assert math.prod(found["q"]) <= CAP and named["dim"] == 4096
    wide, _ = shapes(dims, (4, 37, 96), np.random.default_rng(0), fixed={"dim": 4096}, cap=10 ** 6)
    assert wide["q"][-2] == 37  # a larger cap leaves the other dims as the case gave them


def test_build_makes_one_normal_case_and_scales_only_the_named_parameter():
    params = parameters("def k(x: torch.Tensor, weight: torch.Tensor): ...", False)
    plain = _inputs.build(params, (2, 4096), 3)
    scaled = _inputs.build(params, (2, 4096), 3, scale=("x", 100.0))
    assert arrays(plain)["x"].shape == (2, 4096) and arrays(plain)["weight"].shape == (4096,)
    assert np.allclose(arrays(scaled)["x"], 100.0 * arrays(plain)["x"])
    assert np.array_equal(arrays(scaled)["weight"], arrays(plain)["weight"])
    assert plain.threshold == "" and plain.magnitude == "normal"


@pytest.mark.parametrize("note", ['Float[Tensor, "dim-1"]', "Float[Tensor, dims]", 'Float[Tensor, "a ** b"]',
                                  "Float[Tensor]", 'Float[Tensor, "*a*"]'])
def test_unreadable_shapes_fall_back_to_the_case_shape(note):
    params, found = generated(f"def k(x: {note}, y: torch.Tensor): ...")
    assert params[0].kind == "tensor" and params[0].dims is None
    assert all(arrays(case)["x"].shape == arrays(case)["y"].shape for case in found)


@pytest.mark.parametrize("note", ['Complex[Tensor, "b"]', 'Int[np.ndarray, "b"]', "int"])
def test_annotations_naming_no_supported_array_stay_unsupported(note):
    params = parameters(f"def k(x: {note}): ...", method=False)
    assert params[0].kind == "scalar"
    with pytest.raises(Unsupported, match="make_inputs"):
        cases(params, 0, None)


def test_older_readings_are_kept():
    params = parameters("def k(x, xs: list[torch.Tensor], y: Tensor | float, weight: torch.Tensor, mask=None): ...",
                        method=False)
    assert [p.kind for p in params] == ["tensor", "tensor", "tensor", "feature", "default"]
    _, found = generated("def k(x: torch.Tensor, weight: torch.Tensor): ...")
    assert found[5].shapes == ((2, 3, 7, 16), (16,))


DIM_TOKENS = st.sampled_from(["a", "b", "c", "d", "1", "3", "_", "#a", "_b", "n=2"])


@st.composite
def signatures(draw):
    params = []
    for index in range(draw(st.integers(1, 4))):
        dtype = draw(st.sampled_from(["Float", "Float", "Int", "Bool", "Shaped"]))
        tokens = draw(st.lists(DIM_TOKENS, max_size=5))
        if draw(st.booleans()):
            tokens.insert(draw(st.integers(0, len(tokens))), draw(st.sampled_from(["*batch", "...", "*rest"])))
        params.append(f'p{index}: {dtype}[Tensor, "{" ".join(tokens)}"]')
    return f"def k({', '.join(params)}): ..."


@settings(max_examples=80, deadline=None)
@given(signatures(), st.integers(0, 2**32 - 1))
def test_random_jaxtyping_signatures_agree_stay_capped_and_index_in_range(source, seed):
    params, found = generated(source, seed)
    for case in found:
        bind(params, case)
        assert all(math.prod(s) <= CAP for s in case.shapes), case.label
        assert_indices_in_range(params, case)


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=20))
def test_any_shape_string_gives_inputs_or_falls_back_and_never_crashes(text):
    source = f"def k(x: Float[Tensor, {text!r}], y: Int[Tensor, {text!r}]): ..."
    params, found = generated(source)
    assert len(found) == len(_inputs._DEFAULT_SHAPES) + 2
    for case in found:
        if params[0].dims is not None:
            bind(params, case)


# -- seed-drawn shapes and wide magnitudes -----------------------------------------------------------

def test_two_shapes_are_drawn_from_the_seed_deterministically():
    def shapes(seed):
        return [case.shapes for case in generated("def k(x: torch.Tensor): ...", seed)[1]]

    fixed = len(_inputs._DEFAULT_SHAPES)
    assert shapes(3) == shapes(3)
    assert all(shapes(s)[:fixed] == shapes(0)[:fixed] for s in range(1, 6))
    drawn = {tuple(shapes(s)[fixed:]) for s in range(6)}
    assert len(drawn) > 3
    for seed in range(40):
        found = generated("def k(x: torch.Tensor): ...", seed)[1][fixed:]
        assert [c.layout for c in found] == [None, "transposed"]
        assert 1 <= len(found[0].shapes[0]) <= 4 and 2 <= len(found[1].shapes[0]) <= 4
        assert all(math.prod(c.shapes[0]) <= CAP for c in found)
        assert found[1].args[0].get("layout") == "transposed"


def test_same_seed_same_arrays():
    a, b = generated(ATTENTION, 11)[1], generated(ATTENTION, 11)[1]
    assert [c.label for c in a] == [c.label for c in b]
    assert all(np.array_equal(x["array"], y["array"]) for ca, cb in zip(a, b) for x, y in zip(ca.args, cb.args))


def test_wide_cases_span_the_wide_range_with_both_signs():
    _, found = generated("def k(x: torch.Tensor, ids: torch.LongTensor): ...")
    wide = [case for case in found if case.magnitude == "wide"]
    assert len(wide) == 2 and any(case.layout == "transposed" for case in wide)
    values = np.concatenate([arrays(case)["x"].reshape(-1) for case in wide])
    assert WIDE[0] <= np.abs(values).min() and np.abs(values).max() <= WIDE[1]
    assert np.abs(values).min() < 1e-3 and np.abs(values).max() > 10 and (values < 0).any() and (values > 0).any()
    assert all(arrays(case)["ids"].dtype == np.int64 for case in wide)
    assert LARGE == (90.0, 150.0) and {"LARGE", "WIDE"} <= set(_inputs.__all__)


def test_make_inputs_keeps_integer_arrays_and_gets_a_wide_variant_of_its_floats():
    make = lambda rng: {"logits": (4, 9), "targets": rng.integers(0, 50, (4,))}  # noqa: E731
    params, found = generated("def k(logits: torch.Tensor, targets: torch.LongTensor): ...", 0, make)
    assert [c.magnitude for c in found].count("wide") == 1
    for case in found:
        assert arrays(case)["targets"].dtype.kind == "i" and arrays(case)["targets"].shape == (4,)
    wide = next(case for case in found if case.magnitude == "wide")
    plain = found[0]
    assert np.array_equal(arrays(wide)["targets"], arrays(plain)["targets"])
    assert np.array_equal(np.sign(arrays(wide)["logits"]), np.sign(arrays(plain)["logits"]))
    assert WIDE[0] <= np.abs(arrays(wide)["logits"]).min() and np.abs(arrays(wide)["logits"]).max() <= WIDE[1]


# -- end to end through the isolated executor --------------------------------------------------------

HEADER = '''
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

if TYPE_CHECKING:  # jaxtyping is not installed in the worker: annotations are only read, never evaluated
    from jaxtyping import Float, Int
    from torch import Tensor
'''
OLD_LOSSES = HEADER + '''

def pick(logits: Float[Tensor, "batch classes"], targets: Int[Tensor, "batch"]) -> Float[Tensor, "batch"]:
    return -torch.log_softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def pick_off_by_one(logits: Float[Tensor, "batch classes"], targets: Int[Tensor, "batch"]) -> Float[Tensor, "batch"]:
    return -torch.log_softmax(logits, -1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def embed(table: Float[Tensor, "vocab dim"], ids: Int[Tensor, "batch seq"]) -> Float[Tensor, "batch seq dim"]:
    return table[ids]
'''
NEW_LOSSES = HEADER + '''

def _nll(logits, targets):
    flat = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none")
    return flat.reshape(targets.shape)


def pick(logits: Float[Tensor, "batch classes"], targets: Int[Tensor, "batch"]) -> Float[Tensor, "batch"]:
    return _nll(logits, targets)


def pick_off_by_one(logits: Float[Tensor, "batch classes"], targets: Int[Tensor, "batch"]) -> Float[Tensor, "batch"]:
    return _nll(logits, (targets - 1).clamp(min=0))


def embed(table: Float[Tensor, "vocab dim"], ids: Int[Tensor, "batch seq"]) -> Float[Tensor, "batch seq dim"]:
    return F.embedding(ids, table)
'''
JAX_HEADER = '''
from __future__ import annotations

from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp

if TYPE_CHECKING:
    from jaxtyping import Array, Float, Int
'''
OLD_JAX = JAX_HEADER + '''

def pick(logits: Float[Array, "*batch classes"], targets: Int[Array, "*batch"]) -> Float[Array, "*batch"]:
    return -jnp.take_along_axis(jax.nn.log_softmax(logits, axis=-1), targets[..., None], axis=-1)[..., 0]
'''
NEW_JAX = JAX_HEADER + '''

def pick(logits: Float[Array, "*batch classes"], targets: Int[Array, "*batch"]) -> Float[Array, "*batch"]:
    hot = jax.nn.one_hot(targets, logits.shape[-1], dtype=logits.dtype)
    return -(hot * jax.nn.log_softmax(logits, axis=-1)).sum(-1)
'''
# The torch kernels avoid 0-d inputs (a "*batch" of no dims): the harness's np.ascontiguousarray makes them 1-d.
BEFORE = {"losses.py": textwrap.dedent(OLD_LOSSES), "jlosses.py": textwrap.dedent(OLD_JAX)}
AFTER = {"losses.py": textwrap.dedent(NEW_LOSSES), "jlosses.py": textwrap.dedent(NEW_JAX)}


@pytest.fixture(scope="module")
def executor(tmp_path_factory):
    with kernel_workers(tmp_path_factory.mktemp("numeric_inputs_repo"), BEFORE, AFTER) as ex:
        yield ex


def check(executor, target: str, seed: int = 0):
    return check_kernel(executor, BEFORE, AFTER, target, kernel(target), seed)


@pytest.mark.parametrize("target", ["losses.pick", "losses.embed", "jlosses.pick"])
def test_integer_annotated_kernels_rewritten_safely_pass(executor, target):
    evidence = check(executor, target)
    assert evidence.level is Level.PASSED, evidence.detail
    assert "skipped" not in evidence.detail  # every generated case is in the old kernel's domain


def test_an_off_by_one_class_index_is_refuted_by_name(executor):
    evidence = check(executor, "losses.pick_off_by_one")
    assert evidence.level is Level.REFUTED, evidence.detail
    assert "[calibrated error bound]" in evidence.detail
    assert "targets: int64[" in evidence.counterexample.call and "logits: float[" in evidence.counterexample.call


def test_zero_dimensional_arrays_stay_arrays_through_every_variant():
    # A 0-d array times a numpy scalar is a scalar; it must still travel as an array (a step counter).
    source = "def f(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:\n    return x * t\n"
    found = cases(parameters(source, False), 0, lambda rng: {"x": (3,), "t": np.zeros(())})
    for case in found:
        for variant in (case, case.at("float32"), case.at("float32").perturbed("float32")):
            t = next(a for a in variant.args if a["name"] == "t")
            assert isinstance(t["array"], np.ndarray) and t["array"].shape == ()
