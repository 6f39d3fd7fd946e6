"""Mining the thresholds a kernel compares its inputs against, and the cases generated on both sides.

Unit tests on source text: no worker is started (``plan`` only reads source), so
every test here runs in milliseconds.  End-to-end refutations through the gate are in
``tests/redteam/test_kernel_thresholds.py``.
"""

from __future__ import annotations

import ast
import textwrap

import numpy as np
import pytest

from properties import Kernel, Kind, Obligation
from verifiers import Context
from verifiers.numeric._inputs import Case, Unsupported, cases, parameters
from verifiers.numeric._plan import plan
from verifiers.numeric._threshold_cases import MAX_ELEMENTS, extra_dtypes, report, threshold_cases
from verifiers.numeric._threshold_stats import _Stat
from verifiers.numeric._thresholds import Threshold, Unreachable, mine


def kernel_source(body: str, signature: str = "x: torch.Tensor") -> str:
    return f"def k({signature}) -> torch.Tensor:\n{textwrap.indent(textwrap.dedent(body), '    ')}"


def mined(body: str, signature: str = "x: torch.Tensor", module: str = "", version: str = "new") -> list[Threshold]:
    source = kernel_source(body, signature)
    return mine(source, parameters(source, method=False), version, module)


def one(body: str, **kwargs) -> Threshold:
    found = mined(body, **kwargs)
    assert len(found) == 1, found
    return found[0]


def arrays(case: Case) -> dict[str, np.ndarray]:
    return {a["name"]: a["array"] for a in [*case.args, *(v for _, v in case.kwargs)] if "array" in a}


def generated(body: str, signature: str = "x: torch.Tensor", make_inputs=None) -> list[Case]:
    source = kernel_source(body, signature)
    params = parameters(source, method=False)
    user = cases(params, 0, make_inputs) if make_inputs is not None else None
    return threshold_cases(mine(source, params, "new"), params, 0, user)


# -- each expression form ----------------------------------------------------------------------------

SIZES = [
    ("x.numel() > 70000", "numel", None, (69999, 70000, 70001)),
    ("x.nelement() >= 1024", "numel", None, (1023, 1024, 1025)),
    ("math.prod(x.shape) > 500", "numel", None, (499, 500, 501)),
    ("x.shape.numel() < 64", "numel", None, (63, 64, 65)),
    ("x.size().numel() < 64", "numel", None, (63, 64, 65)),
    ("x.size > 100", "numel", None, (99, 100, 101)),  # jax / numpy: size is the element count
    ("x.dim() == 3", "rank", None, (2, 3, 4)),
    ("x.ndim != 2", "rank", None, (1, 2, 3)),
    ("len(x.shape) > 4", "rank", None, (3, 4, 5)),
    ("x.shape[-1] >= 4096", "dim", -1, (4095, 4096, 4097)),
    ("x.shape[0] == 7", "dim", 0, (6, 7, 8)),
    ("x.size(1) > 300", "dim", 1, (299, 300, 301)),
    ("x.size(dim=-2) < 33", "dim", -2, (32, 33, 34)),
    ("x.size()[-1] > 96", "dim", -1, (95, 96, 97)),
    ("len(x) > 12", "dim", 0, (11, 12, 13)),
    ("4096 <= x.shape[-1]", "dim", -1, (4095, 4096, 4097)),  # the constant on the left
    ("x.float().shape[-1] > 10", "dim", -1, (9, 10, 11)),  # through shape-preserving methods
    ("x.reshape(-1).shape[0] > 70000", "numel", None, (69999, 70000, 70001)),
    ("x.flatten().shape[-1] > 70000", "numel", None, (69999, 70000, 70001)),
    ("len(x.view(-1)) > 70000", "numel", None, (69999, 70000, 70001)),
    ("(n := x.shape[-1]) > 4096", "dim", -1, (4095, 4096, 4097)),
]


@pytest.mark.parametrize(("condition", "kind", "axis", "values"), SIZES, ids=[s[0] for s in SIZES])
def test_each_size_and_rank_form_is_mined_with_the_sizes_around_its_constant(condition, kind, axis, values):
    found = one(f"if {condition}:\n    return x * 0.5\nreturn x\n")
    assert (found.param, found.kind, found.axis, found.values) == ("x", kind, axis, values)
    assert found.text == condition.replace("(n := x.shape[-1])", "x.shape[-1]")  # a walrus is an alias too
    assert {found.taken(v) for v in values} == {True, False}  # both sides of the branch


ARITHMETIC = [
    ("n = x.shape[-1]\nif n >= 4096:", "x.shape[-1] >= 4096", (4095, 4096, 4097)),
    ("b, s, d = x.shape\nif s > 300:", "x.shape[1] > 300", (299, 300, 301)),
    ("*_, d = x.shape\nif d > 300:", "x.shape[-1] > 300", (299, 300, 301)),
    ("n = x.shape[-1]\nhalf = n // 2\nif half >= 2048:", "x.shape[-1] // 2 >= 2048", (4095, 4096, 4097, 4098)),
    ("if x.numel() * 4 > 2 ** 20:", "x.numel() * 4 > 2 ** 20", (262143, 262144, 262145)),
    ("if x.shape[-1] + 1 > 65:", "x.shape[-1] + 1 > 65", (63, 64, 65)),
    ("if x.shape[-1] % 64 == 0:", "x.shape[-1] % 64 == 0", (63, 64, 65, 127, 128, 129)),
    ("if x.shape[-1] > LIMIT:", "x.shape[-1] > LIMIT", (1023, 1024, 1025)),
    ("y = x.contiguous()\nif y.ndim == 5:", "x.contiguous().ndim == 5", (4, 5, 6)),
]


@pytest.mark.parametrize(("lines", "text", "values"), ARITHMETIC, ids=[a[1] for a in ARITHMETIC])
def test_aliases_module_constants_and_arithmetic_are_resolved(lines, text, values):
    found = one(f"{lines}\n    return x * 0.5\nreturn x\n", module="LIMIT = 2 ** 10\n")
    assert found.text == text
    assert found.values == values
    assert {found.taken(v) for v in values} == {True, False}


def test_the_rank_a_kernel_unpacks_its_input_into_is_kept_for_the_cases():
    found = one("b, s, d = x.shape\nif d >= 512:\n    return x * 0.5\nreturn x\n")
    assert found.rank == 3
    shapes = {arrays(c)["x"].shape for c in generated("b, s, d = x.shape\nif d >= 512:\n    return x\nreturn x\n")}
    assert shapes == {(2, 2, 511), (2, 2, 512), (2, 2, 513)}


@pytest.mark.parametrize(("condition", "dtypes"), [
    ("x.dtype == torch.bfloat16", ("bfloat16",)), ("x.dtype is torch.half", ("float16",)),
    ("x.dtype in (torch.float16, torch.bfloat16)", ("float16", "bfloat16")), ("x.dtype != jnp.float64", ("float64",)),
    ("x.dtype == torch.int64", ("int64",)), ('x.dtype == "bfloat16"', ("bfloat16",)),
])
def test_dtype_comparisons_name_the_dtypes(condition, dtypes):
    found = one(f"if {condition}:\n    return x * 0.5\nreturn x\n")
    assert (found.kind, found.dtypes) == ("dtype", dtypes)


@pytest.mark.parametrize(("condition", "dtypes"), [
    ("x.element_size() == 2", ("float16", "bfloat16")), ("x.dtype.itemsize >= 8", ("float64",)),
    ("torch.finfo(x.dtype).eps > 1e-4", ("float16", "bfloat16")),
    ("torch.finfo(x.dtype).bits < 32", ("float16", "bfloat16")),
    ("x.dtype in LOW", ("float16", "bfloat16")),
])
def test_dtype_properties_and_module_level_dtype_tuples_name_the_dtypes_on_the_far_side(condition, dtypes):
    found = one(f"if {condition}:\n    return x * 0.5\nreturn x\n", module="LOW = (torch.float16, torch.bfloat16)\n")
    assert (found.kind, found.dtypes) == ("dtype", dtypes)


def test_a_dtype_alias_is_followed():
    found = one("dt = x.dtype\nif dt == torch.bfloat16:\n    return x * 0.5\nreturn x\n")
    assert (found.text, found.dtypes) == ("x.dtype == torch.bfloat16", ("bfloat16",))


def test_membership_in_a_tuple_of_sizes_is_one_threshold_per_size():
    found = mined("if x.shape[-1] in (4096, 8192):\n    return x * 0.5\nreturn x\n")
    assert [t.values for t in found] == [(4095, 4096, 4097), (8191, 8192, 8193)]


@pytest.mark.parametrize(("condition", "shapes"), [
    ("x.shape == (4, 64)", [(4, 64), (4, 65)]),
    ("tuple(x.shape[-2:]) != (64, 64)", [(64, 64), (64, 65)]),
    ("list(x.size()) == [3, 5, 7]", [(3, 5, 7), (3, 5, 8)]),
])
def test_a_compared_shape_gives_that_shape_and_a_near_miss(condition, shapes):
    found = one(f"if {condition}:\n    return x * 0.5\nreturn x\n")
    assert found.kind == "shape"
    made = generated(f"if {condition}:\n    return x * 0.5\nreturn x\n")
    assert [arrays(c)["x"].shape for c in made] == shapes


def test_a_per_feature_parameter_is_the_cases_last_dim():
    made = generated("if weight.shape[0] > 300:\n    return x\nreturn x\n", "x: torch.Tensor, weight: torch.Tensor")
    assert [(arrays(c)["x"].shape, arrays(c)["weight"].shape) for c in made] == [
        ((2, 299), (299,)), ((2, 300), (300,)), ((2, 301), (301,))]


@pytest.mark.parametrize("call", ["x.is_contiguous()", "x.stride(-1) == 1", "x.stride()[0] > 1",
                                  "x.detach().is_contiguous()"])
def test_layout_queries_are_mined_once_per_parameter(call):
    found = mined(f"if {call}:\n    return x * 0.5\nif x.is_contiguous():\n    return x\nreturn x\n")
    layouts = [t for t in found if t.kind == "layout"]
    assert len(layouts) == 1 and layouts[0].param == "x"


MAGNITUDES = ["x.abs() > 500", "x.norm() > 1e4", "x.norm(2) > 1e4", "torch.linalg.norm(x) > 1e4", "torch.norm(x) > 1e4",
              "x.abs().max() > 500", "torch.max(torch.abs(x)) > 500", "x.amax() > 50", "x.max().item() > 50",
              "float(x.abs().amax()) > 50", "x.sum() > 1e3", "x.mean() < -20", "x.std() > 30", "x.var() > 900",
              "x.pow(2).sum() > 1e6", "(x ** 2).mean() > 1e6", "x.norm(dim=-1).max() > 1e3",
              "x.abs().amax(dim=-1).max() > 100", "torch.linalg.vector_norm(x, ord=math.inf) > 100",
              "x.norm(p=1) > 1e5", "jnp.linalg.norm(x) > 1e4", "x.norm() / x.numel() > 10", "x[0, -1] > 500",
              "x[..., 0].max() > 100", "x[:1].abs().sum() > 1e3"]


@pytest.mark.parametrize("condition", MAGNITUDES)
def test_statistics_of_the_data_are_reached_by_scaling_the_input_1_percent_either_side(condition):
    found = one(f"if {condition}:\n    return x * 0.5\nreturn x\n")
    assert found.kind == "magnitude" and found.text == condition.replace("1e4", "10000.0").replace(
        "1e3", "1000.0").replace("1e6", "1000000.0").replace("1e5", "100000.0")
    made = generated(f"if {condition}:\n    return x * 0.5\nreturn x\n")
    assert len(made) == 3
    bound = found.bound
    node = ast.parse(found.statistic, mode="eval").body  # the evaluator is checked against numpy below
    values = [np.asarray(_Stat("x", "torch").value(node, arrays(c)["x"])) for c in made]
    extreme = [float(v.max() if bound >= 0 else v.min()) for v in values]
    assert extreme == pytest.approx([bound * 0.99, bound, bound * 1.01], rel=1e-6)


def test_scaled_cases_are_a_gradient_class_of_their_own_per_threshold():
    # The verifier's gradient floor is the largest gradient in a case's class: inputs scaled to a norm of 1e6
    # must not loosen the floor of the normal cases, nor of another threshold's cases.
    made = generated("if x.norm() > 1e6 or x.abs().max() > 500 or x.shape[-1] > 300:\n    return x\nreturn x\n")
    classes = [c.magnitude for c in made]
    assert classes == ["scaled: x.norm() near 1e+06"] * 3 + ["scaled: x.abs().max() near 500"] * 3 + ["normal"] * 3


def test_the_statistic_evaluator_agrees_with_numpy_on_the_common_forms():
    data = np.random.default_rng(3).standard_normal((3, 5))
    expect = {"x.norm()": np.linalg.norm(data), "x.abs().max()": np.abs(data).max(), "x.std()": data.std(ddof=1),
              "x.norm(dim=-1)": np.linalg.norm(data, axis=-1), "x.sum(0)": data.sum(0),
              "x.std(unbiased=False)": data.std(), "torch.linalg.norm(x, ord=1)": np.abs(data).sum()}
    for text, value in expect.items():
        got = _Stat("x", "torch").value(ast.parse(text, mode="eval").body, data)
        assert np.allclose(got, value), text
    assert _Stat("x", "jax").value(ast.parse("x.std()", mode="eval").body, data) == pytest.approx(data.std())


@pytest.mark.parametrize("condition", ["x.shape[-1] == y.shape[-1]", "x.numel() > n", "z.numel() > 5",
                                       "x.norm() > x.max()", "torch.rand(3).sum() > 1"])
def test_comparisons_without_a_constant_or_of_no_parameter_are_not_thresholds(condition):
    found = mined(f"z = torch.ones(4)\nif {condition}:\n    return x * 0.5\nreturn x\n",
                  signature="x: torch.Tensor, y: torch.Tensor, n: int = 3")
    assert not [t for t in found if t.kind != "layout"], found


HELPERS = '''import torch


def _impl(t, scale=1.0):
    if t.numel() > 70000:
        return t * 0.5
    return t * scale


def _deeper(a, x):
    return _impl(a) if x.ndim == 5 else a


def k(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return _deeper(y, torch.ones(3)) + _impl(t=x)
'''


def test_module_level_helpers_the_kernel_calls_are_mined_with_their_parameters_bound_to_the_arguments():
    source = HELPERS[HELPERS.index("def k"):]
    found = mine(source, parameters(source, method=False), "new", HELPERS, first_line=14)
    # y reaches _impl through _deeper; _deeper's own x is torch.ones(3), not the kernel's x
    assert [(t.param, t.text, t.line) for t in found] == [("y", "y.numel() > 70000", 5), ("x", "x.numel() > 70000", 5)]


def test_words_in_strings_and_comments_are_not_thresholds():
    assert mined('s = "if x.numel() > 70000"  # x.ndim == 5\nreturn x\n') == []


def test_a_comparison_that_cannot_change_is_not_a_threshold():
    assert mined("if x.ndim < 0:\n    return x * 0.5\nreturn x\n") == []


@pytest.mark.parametrize("condition", ["x.numel() * 2 > 1e400", "x.shape[-1] << 3 > 1e300", "x.ndim ** 0.5 > 1e308"])
def test_constants_no_size_reaches_are_not_thresholds_and_do_not_crash_the_miner(condition):
    assert mined(f"if {condition}:\n    return x * 0.5\nreturn x\n") == []


# -- generated cases ---------------------------------------------------------------------------------


def test_a_width_threshold_gives_small_other_dims_and_a_consistent_per_feature_weight():
    made = generated("if x.shape[-1] >= 4096:\n    return x * w\nreturn x\n", "x: torch.Tensor, weight: torch.Tensor")
    assert [arrays(c)["x"].shape for c in made] == [(2, 4095), (2, 4096), (2, 4097)]
    assert [arrays(c)["weight"].shape for c in made] == [(4095,), (4096,), (4097,)]
    assert made[0].label.startswith("threshold x.shape[-1] >= 4096 (line 2, new kernel): x.shape[-1] = 4095; x: ")
    assert made[0].threshold == "threshold x.shape[-1] >= 4096 (line 2, new kernel)"


def test_jaxtyping_dims_are_pinned_so_every_parameter_sharing_the_dim_agrees():
    signature = 'q: Float[Tensor, "b s d"], k: Float[Tensor, "b t d"], g: Float[Tensor, "d"]'
    made = generated("if q.shape[-1] > 256:\n    return q\nreturn q\n", signature)
    for case, width in zip(made, (255, 256, 257)):
        found = arrays(case)
        assert found["q"].shape[-1] == found["k"].shape[-1] == found["g"].shape[0] == width
        assert found["q"].shape[0] == found["k"].shape[0]


def test_an_annotation_that_fixes_the_rank_keeps_rank_thresholds_inside_the_declared_domain():
    made = generated("if x.ndim == 3:\n    return x\nreturn x\n", 'x: Float[Tensor, "b d"]')
    assert [arrays(c)["x"].shape for c in made] == [(2, 8)]  # rank 2 only: "b d" is the declared domain


def test_numel_and_rank_cases_have_exactly_the_sizes_asked_for():
    numel = generated("if x.numel() > 70000:\n    return x\nreturn x\n")
    assert [arrays(c)["x"].size for c in numel] == [69999, 70000, 70001]
    assert all(arrays(c)["x"].ndim == 2 for c in numel)
    ranks = generated("if x.ndim == 5:\n    return x\nreturn x\n")
    assert [arrays(c)["x"].ndim for c in ranks] == [4, 5, 6]
    assert max(arrays(c)["x"].size for c in ranks) <= 64 * 8


def test_a_layout_threshold_gives_a_contiguous_and_a_transposed_case_of_one_shape():
    made = generated("if x.is_contiguous():\n    return x\nreturn x\n")
    assert [c.layout for c in made] == [None, "transposed"]
    assert arrays(made[0])["x"].shape == arrays(made[1])["x"].shape == (3, 8)


@pytest.mark.parametrize(("condition", "why"), [
    ("x.numel() > 5e8", "cannot be reached within the worker's memory"),
    ("x.shape[-1] > 10 ** 8", "cannot be reached within the worker's memory"),
    ("x.ndim > 40", "rank 41"),
])
def test_a_threshold_past_what_a_worker_holds_is_unreachable_with_the_branch_and_its_line(condition, why):
    with pytest.raises(Unreachable) as caught:
        generated(f"y = x * 2\nif {condition}:\n    return x * 0.5\nreturn x\n")
    message = str(caught.value)
    assert message.startswith("the branch on x.") and "at line 3 (new kernel)" in message and why in message
    assert "make_inputs" in message
    assert isinstance(caught.value, Unsupported) and caught.value.threshold.line == 3


def test_the_element_cap_is_what_bounds_generated_sizes():
    made = generated(f"if x.numel() > {MAX_ELEMENTS - 1}:\n    return x\nreturn x\n")
    assert max(arrays(c)["x"].size for c in made) == MAX_ELEMENTS
    with pytest.raises(Unreachable):
        generated(f"if x.numel() > {MAX_ELEMENTS}:\n    return x\nreturn x\n")


def test_an_integer_dtype_for_a_float_parameter_is_unreachable_unless_make_inputs_gives_one():
    with pytest.raises(Unreachable, match="needs x as int64"):
        generated("if x.dtype == torch.int64:\n    return x\nreturn x * 1.0\n")
    assert generated("if x.dtype == torch.int64:\n    return x\nreturn x * 1.0\n",
                     make_inputs=lambda rng: {"x": rng.integers(0, 5, (3, 4))}) == []


def test_float_dtypes_not_configured_are_the_extra_dtypes():
    found = mined("if x.dtype in (torch.bfloat16, torch.float32):\n    return x\nreturn x\n")
    assert extra_dtypes(found, ("float32",)) == ("bfloat16",)
    assert extra_dtypes(found, ("float32", "bfloat16")) == ()


def test_with_make_inputs_a_size_its_cases_do_not_cross_resizes_the_parameter_in_its_first_case():
    body = "if x.shape[-1] >= 4096:\n    return x\nreturn x\n"
    made = generated(body, "x: torch.Tensor, ids: torch.LongTensor",
                     make_inputs=lambda rng: {"x": rng.standard_normal((3, 8)), "ids": np.arange(3)})
    assert [arrays(c)["x"].shape for c in made] == [(3, 4095), (3, 4096), (3, 4097)]
    assert all(np.array_equal(arrays(c)["ids"], np.arange(3)) for c in made)
    assert made[0].label.endswith("x.shape[-1] = 4095; x: float[3, 4095], ids: int64[3]")
    assert made[0].shapes == ((3, 4095), (3,))
    both = lambda rng: [{"x": rng.standard_normal((2, 8))}, {"x": rng.standard_normal((2, 4100))}]  # noqa: E731
    assert generated(body, make_inputs=both) == []  # already crossed by the user's own cases


@pytest.mark.parametrize(("condition", "shapes"), [
    ("x.ndim == 4", [(2, 3, 8), (2, 2, 3, 8), (2, 2, 2, 3, 8)]),  # ranks 3, 4, 5 from the user's (3, 8)
    ("x.ndim == 1", [(), (8,), (3, 8)]),  # rank 0 keeps the last elements: a 0-d array
    ("x.numel() > 100", [(3, 33), (4, 25), (1, 101)]),
    ("tuple(x.shape[-2:]) == (64, 64)", [(64, 64), (64, 65)]),
])
def test_with_make_inputs_ranks_counts_and_shapes_grow_from_the_users_shape(condition, shapes):
    made = generated(f"if {condition}:\n    return x\nreturn x\n",
                     make_inputs=lambda rng: {"x": rng.standard_normal((3, 8))})
    assert [arrays(c)["x"].shape for c in made] == shapes


def test_with_make_inputs_a_size_past_the_cap_is_still_unreachable():
    with pytest.raises(Unreachable, match="cannot be reached within the worker's memory"):
        generated("if x.numel() > 5e8:\n    return x\nreturn x\n", make_inputs=lambda rng: {"x": (3, 8)})


def test_with_make_inputs_magnitudes_scale_the_users_first_case_and_keep_its_other_inputs():
    made = generated("if x.abs().max() > 500:\n    return x\nreturn x\n", "x: torch.Tensor, ids: torch.LongTensor",
                     make_inputs=lambda rng: {"x": rng.standard_normal((3, 4)), "ids": np.arange(3)})
    assert [float(np.abs(arrays(c)["x"]).max()) for c in made] == pytest.approx([495.0, 500.0, 505.0])
    assert all(np.array_equal(arrays(c)["ids"], np.arange(3)) for c in made)


def test_too_many_thresholds_are_unsupported_rather_than_silently_dropped():
    body = "".join(f"if x.shape[-1] == {100 + 7 * i}:\n    return x\n" for i in range(25)) + "return x\n"
    with pytest.raises(Unsupported, match="more than the 60 a check runs"):
        generated(body)


# -- through the plan --------------------------------------------------------------------------------

OLD = "import torch\n\nWIDE = 5000\n\n\ndef k(x: torch.Tensor) -> torch.Tensor:\n    if x.shape[-1] > WIDE:\n" \
      "        return x.clamp(-1, 1)\n    if x.dtype == torch.float16:\n        return x\n    return x\n"
NEW = "import torch\n\n\ndef k(x: torch.Tensor) -> torch.Tensor:\n    n = x.size(-1)\n" \
      "    if x.dtype == torch.float16:\n" \
      "        return x\n    if x.norm() > 1e6:\n        return x * 0.5\n    return x\n"


def _plan(old: str = OLD, new: str = NEW, spec: Kernel | None = None):
    def body(text: str) -> str:
        return text[text.index("def k"):]

    obligation = Obligation("m.k", Kind.KERNEL, "m.py", "changed kernel", ("numeric",), old_source=body(old),
                            new_source=body(new), old_lines=(6, 11), new_lines=(4, 10), spec=spec, module="m")
    return plan(obligation, Context(before={"m.py": old}, after={"m.py": new}, executor=None, seed=0))


def test_the_plan_mines_both_versions_and_adds_their_cases_after_the_defaults():
    found = _plan()
    texts = {(t.text, t.line, t.version) for t in found.thresholds}
    assert texts == {("x.shape[-1] > WIDE", 7, "old"), ("x.dtype == torch.float16", 6, "old and new"),
                     ("x.norm() > 1000000.0", 8, "new")}
    mined_cases = [c for c in found.cases if c.threshold]
    assert len(found.cases) - len(mined_cases) == len(cases(parameters(found_source(), False), 0, None))
    assert {c.threshold for c in mined_cases} == {"threshold x.shape[-1] > WIDE (line 7, old kernel)",
                                                  "threshold x.norm() > 1000000.0 (line 8, new kernel)"}
    assert [arrays(c)["x"].shape[-1] for c in mined_cases[:3]] == [4999, 5000, 5001]


def found_source() -> str:
    return NEW[NEW.index("def k"):]


def test_the_plan_runs_every_case_at_the_float_dtypes_the_kernels_compare_against():
    found = _plan()
    assert found.extra_dtypes == ("float16",)
    assert found.spec.dtypes == ("float32", "float16")
    configured = _plan(spec=Kernel("m.k", dtypes=("float16",)))
    assert configured.extra_dtypes == () and configured.spec.dtypes == ("float16",)


def test_a_kernel_without_thresholds_gets_exactly_the_default_cases():
    plain = "import torch\n\n\ndef k(x: torch.Tensor) -> torch.Tensor:\n    return torch.relu(x)\n"
    found = _plan(plain, plain)
    assert found.thresholds == () and found.extra_dtypes == ()
    assert [c.label for c in found.cases] == [c.label for c in cases(parameters(plain[plain.index("def"):], False),
                                                                     0, None)]


MODULE = '''import torch
import torch.nn as nn


class Norm(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] >= 4096:
            return x * self.weight
        return x * self.weight
'''


def test_a_module_kernels_width_threshold_builds_the_module_at_each_width():
    source = textwrap.dedent(MODULE[MODULE.index("    def forward"):])
    obligation = Obligation("m.Norm.forward", Kind.KERNEL, "m.py", "changed kernel", ("numeric",),
                            old_source=source, new_source=source, module="m")
    found = plan(obligation, Context(before={"m.py": MODULE}, after={"m.py": MODULE}, executor=None, seed=0))
    mined_cases = [c for c in found.cases if c.threshold]
    assert [dict(c.init) for c in mined_cases] == [{"dim": 4095}, {"dim": 4096}, {"dim": 4097}]
    assert [arrays(c)["x"].shape for c in mined_cases] == [(2, 4095), (2, 4096), (2, 4097)]
    assert all(c.init == () for c in found.cases if not c.threshold)  # the defaults keep the module's width


def test_the_report_lists_each_threshold_with_the_points_compared_and_names_those_never_compared():
    source = kernel_source("if x.shape[-1] >= 4096:\n    return x\nif x.ndim == 5:\n    return x\n"
                           "if x.dtype == torch.bfloat16:\n    return x\nreturn x\n")
    params = parameters(source, method=False)
    found = mine(source, params, "new")
    made = threshold_cases(found, params, 0)
    width, rank = made[:3], made[3:]
    lines, never = report(tuple(found), ran=width + width[:1], skipped=rank[:1])
    assert lines == [
        "threshold x.shape[-1] >= 4096 (line 2, new kernel): x.shape[-1] = 4095, x.shape[-1] = 4096, "
        "x.shape[-1] = 4097",
        "threshold x.ndim == 5 (line 4, new kernel): no case compared; outside the old kernel's domain: x.ndim = 4",
        "threshold x.dtype == torch.bfloat16 (line 6, new kernel): every case at bfloat16"]
    assert never == ["threshold x.ndim == 5 (line 4, new kernel)"]
