"""Change analysis on real-looking modules: methods, nested functions, decorators, constants."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from properties import module_name
from sandbox._changes import ChangeKind, analyse
from sandbox._definitions import DefKind
from sandbox._errors import PatchError
from sandbox._patch import FileChange

MODEL = '''
"""A small model module."""

import math
from functools import lru_cache

EPS = 1e-6
SCALE = 2.0


def helper(x: float) -> float:
    return x * SCALE


@lru_cache(maxsize=None)
def cached(n: int) -> int:
    def inner(k: int) -> int:
        return k + 1
    return inner(n)


class Norm:
    """Layer norm."""

    BIAS = 0.0

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def forward(self, x: float) -> float:
        return x / math.sqrt(x * x + EPS)

    @staticmethod
    def shift(x: float) -> float:
        return x + Norm.BIAS

    def uses_bias(self, x: float) -> float:
        return x + self.BIAS


if __name__ == "__main__":
    print(helper(1.0))
'''


def diff(before: str | None, after: str | None, path: str = "pkg/model.py"):
    enc = lambda text: None if text is None else textwrap.dedent(text).lstrip("\n").encode()  # noqa: E731
    return analyse([FileChange(path, enc(before), enc(after))])


def changed(before: str | None, after: str | None) -> dict[str, tuple[ChangeKind, tuple[str, ...]]]:
    return {c.target: (c.change, c.because) for c in diff(before, after)}


def test_module_names_follow_the_path():
    assert module_name("train.py") == "train"
    assert module_name("pkg/sub/mod.py") == "pkg.sub.mod"
    assert module_name("pkg/__init__.py") == "pkg"
    assert module_name("src/pkg/mod.py") == "pkg.mod"


def test_identical_sides_have_no_changes():
    assert changed(MODEL, MODEL) == {}


def test_comment_and_formatting_edits_are_cosmetic():
    after = MODEL.replace("return x * SCALE", "return (x  *  SCALE)  # scale it").replace(
        "def helper(x: float) -> float:", "def helper(\n    x: float,\n) -> float:"
    )
    result = diff(MODEL, after)
    change = result.get("pkg.model.helper")
    assert change is not None and change.change is ChangeKind.COSMETIC
    assert change.note == "formatting or comments only"


def test_docstring_only_edit_is_cosmetic_with_its_own_note():
    after = MODEL.replace('"""Layer norm."""', '"""Layer normalisation over the last axis."""')
    change = diff(MODEL, after).get("pkg.model.Norm")
    assert change is not None and change.change is ChangeKind.COSMETIC and change.note == "docstring only"


def test_method_body_change_is_a_modified_method():
    after = MODEL.replace("return x / math.sqrt(x * x + EPS)", "return x / math.sqrt(x * x) + EPS")
    result = changed(MODEL, after)
    assert result == {"pkg.model.Norm.forward": (ChangeKind.MODIFIED, ())}


def test_nested_function_change_modifies_the_enclosing_function():
    after = MODEL.replace("return k + 1", "return k + 2")
    assert changed(MODEL, after) == {"pkg.model.cached": (ChangeKind.MODIFIED, ())}


def test_decorator_change_modifies_the_function_and_lines_include_it():
    after = MODEL.replace("@lru_cache(maxsize=None)", "@lru_cache(maxsize=8)")
    change = diff(MODEL, after).get("pkg.model.cached")
    assert change is not None and change.change is ChangeKind.MODIFIED
    first_line = after.lstrip("\n").splitlines().index("@lru_cache(maxsize=8)") + 1
    assert change.lines is not None and change.lines[0] == first_line


def test_changed_constant_marks_its_readers_in_functions_and_methods():
    after = MODEL.replace("EPS = 1e-6", "EPS = 1e-5")
    result = changed(MODEL, after)
    assert result["pkg.model.EPS"] == (ChangeKind.MODIFIED, ())
    assert result["pkg.model.Norm.forward"] == (ChangeKind.MODIFIED, ("pkg.model.EPS",))
    assert "pkg.model.helper" not in result


def test_changed_class_attribute_marks_methods_reading_it_through_self_or_the_class():
    after = MODEL.replace("BIAS = 0.0", "BIAS = 1.0")
    result = changed(MODEL, after)
    assert result["pkg.model.Norm.BIAS"][0] is ChangeKind.MODIFIED
    assert result["pkg.model.Norm.uses_bias"] == (ChangeKind.MODIFIED, ("pkg.model.Norm.BIAS",))
    assert result["pkg.model.Norm.shift"] == (ChangeKind.MODIFIED, ("pkg.model.Norm.BIAS",))
    assert "pkg.model.Norm.forward" not in result


def test_changed_import_marks_readers():
    after = MODEL.replace("import math\n", "import cmath as math\n")
    result = changed(MODEL, after)
    assert result["pkg.model.math"][0] is ChangeKind.MODIFIED
    assert result["pkg.model.Norm.forward"] == (ChangeKind.MODIFIED, ("pkg.model.math",))


def test_removed_helper_marks_its_callers():
    before = "def _h(x: int) -> int:\n    return x\n\ndef f(x: int) -> int:\n    return _h(x)\n"
    after = "def f(x: int) -> int:\n    return _h(x)\n"
    result = changed(before, after)
    assert result["pkg.model._h"] == (ChangeKind.REMOVED, ())
    assert result["pkg.model.f"] == (ChangeKind.MODIFIED, ("pkg.model._h",))


def test_added_function_is_added_and_callers_of_an_unchanged_function_are_untouched():
    after = MODEL + "\n\ndef extra(x: int) -> int:\n    return x\n"
    assert changed(MODEL, after) == {"pkg.model.extra": (ChangeKind.ADDED, ())}


def test_main_block_is_module_code_that_marks_no_reader():
    after = MODEL.replace("print(helper(1.0))", "print(helper(2.0))")
    assert changed(MODEL, after) == {"pkg.model.<main block>": (ChangeKind.MODIFIED, ())}
    assert diff(MODEL, after).get("pkg.model.<main block>").kind is DefKind.MODULE_CODE


def test_module_statements_are_module_code_that_may_rebind_anything():
    after = MODEL.replace("SCALE = 2.0\n", "SCALE = 2.0\nmath.sqrt = abs\n")
    result = changed(MODEL, after)
    assert result["pkg.model.<module code>"] == (ChangeKind.ADDED, ())
    assert result["pkg.model.helper"] == (ChangeKind.MODIFIED, ("pkg.model.<module code>",))


def test_new_and_deleted_files():
    added = changed(None, "X = 1\n\ndef f(a: int) -> int:\n    return a\n")
    assert added == {"pkg.model.X": (ChangeKind.ADDED, ()), "pkg.model.f": (ChangeKind.ADDED, ())}
    removed = changed("def f(a: int) -> int:\n    return a\n", None)
    assert removed == {"pkg.model.f": (ChangeKind.REMOVED, ())}


def test_old_and_new_source_and_lines_are_exact():
    after = MODEL.replace("return x * SCALE", "return SCALE * x")
    change = diff(MODEL, after).get("pkg.model.helper")
    assert change is not None and change.old is not None and change.new is not None
    assert change.old.source == "def helper(x: float) -> float:\n    return x * SCALE"
    assert change.new.source == "def helper(x: float) -> float:\n    return SCALE * x"
    lines = after.lstrip("\n").splitlines()
    start, end = change.new.lines
    assert lines[start - 1].startswith("def helper") and lines[end - 1].strip() == "return SCALE * x"


def test_methods_carry_their_class_bases():
    src = "import torch\n\nclass Net(torch.nn.Module):\n    def forward(self, x):\n        return x\n"
    change = diff(src, src.replace("return x", "return x * 1")).get("pkg.model.Net.forward")
    assert change is not None and change.new is not None and change.new.class_bases == ("torch.nn.Module",)


def test_a_file_that_does_not_parse_is_a_patch_error_with_its_line():
    with pytest.raises(PatchError) as info:
        diff(MODEL, "def f(:\n    pass\n")
    assert info.value.path == "pkg/model.py" and info.value.line == 1
    assert "does not parse" in str(info.value)


def test_non_python_files_have_no_definitions():
    result = analyse([FileChange("README.md", b"old\n", b"new\n")])
    assert result.files[0].module is None and result.files[0].changes == ()


_identifiers = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True).filter(
    lambda s: s not in {"if", "in", "is", "or", "and", "as", "def", "for", "not", "del", "try", "else", "elif",
                        "with", "from", "pass", "None", "True", "False", "lambda", "return", "while", "class",
                        "global", "import", "raise", "yield", "assert", "break", "except", "async", "await",
                        "finally", "continue", "nonlocal"}
)


@settings(max_examples=40, deadline=None)
@given(name=_identifiers, value=st.integers(-1000, 1000), spaces=st.integers(0, 3), comment=st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=20))
def test_reformatting_any_function_is_never_behavioural(name: str, value: int, spaces: int, comment: str):
    before = f"def {name}(x: int) -> int:\n    return x + {value}\n"
    pad = " " * spaces
    after = f"def {name}(x: int)->int:  # {comment}\n    return ({pad}x{pad} + {pad}{value})\n"
    kinds = {c.change for c in diff(before, after)}
    assert kinds <= {ChangeKind.COSMETIC}


@settings(max_examples=40, deadline=None)
@given(old=st.integers(-100, 100), new=st.integers(-100, 100))
def test_changing_a_constant_is_modified_exactly_when_the_value_changes(old: int, new: int):
    before = f"K = {old}\n\ndef f(x: int) -> int:\n    return x + K\n"
    after = f"K = {new}\n\ndef f(x: int) -> int:\n    return x + K\n"
    result = changed(before, after)
    if old == new:
        assert result == {}
    else:
        assert result == {"pkg.model.K": (ChangeKind.MODIFIED, ()), "pkg.model.f": (ChangeKind.MODIFIED, ("pkg.model.K",))}


def test_splitting_or_reordering_imports_is_cosmetic():
    before = "import os, sys\nfrom math import sqrt, pi\n\ndef f(x: float) -> float:\n    return sqrt(x) + pi\n"
    after = "import sys\nimport os\nfrom math import pi\nfrom math import sqrt\n\ndef f(x: float) -> float:\n    return sqrt(x) + pi\n"
    assert {c.change for c in diff(before, after)} <= {ChangeKind.COSMETIC}


def test_rebinding_an_imported_name_is_modified():
    before = "from math import sqrt\n"
    after = "from cmath import sqrt\n"
    assert changed(before, after) == {"pkg.model.sqrt": (ChangeKind.MODIFIED, ())}


@pytest.mark.parametrize("cookie", ["# -*- coding: utf-7 -*-", "# vim: set fileencoding=latin-1 :"])
def test_a_coding_cookie_other_than_utf8_is_refused(cookie):
    hidden = f"{cookie}\ndef f(x: int) -> int:\n    return x  # +AAo-import os+ADs-os.system('id')\n"
    with pytest.raises(PatchError, match="source encoding"):
        analyse([FileChange("m.py", b"def f(x: int) -> int:\n    return x\n", hidden.encode())])


def test_an_explicit_utf8_cookie_is_fine():
    text = "# -*- coding: utf-8 -*-\ndef f(x: int) -> int:\n    return x\n"
    assert analyse([FileChange("m.py", None, text.encode())]).files[0].changes
