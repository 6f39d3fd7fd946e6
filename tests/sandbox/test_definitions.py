"""The definition cut: Python's parse and the file's lines, held to libcst's concrete tree.

``sandbox._definitions`` cuts a definition's source out of the file from ``ast`` positions and
the lines themselves (a concrete syntax tree cost a tenth of a second per side).  The property
test below generates modules full of what makes a cut hard -- trailing comments at every
indentation, decorators, one-line bodies, ``elif`` chains, backslash continuations, multi-line
strings with indented and whitespace-only lines, implicit concatenation -- and requires the same
line range and the same text as libcst's ``code_for_node`` for every function, method and class.
Two differences are deliberate and tested on their own: a string literal's whitespace-only
lines are its value (the old cut normalised them away, so changing them went unseen), and a
one-line class body (``class A: X = 1``) is read (the old cut skipped it).
"""

from __future__ import annotations

import ast

import libcst as cst
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from libcst.metadata import MetadataWrapper, PositionProvider

from sandbox import Gate, Patch
from sandbox._changes import ChangeKind, analyse
from sandbox._definitions import DefKind, definitions
from sandbox._errors import PatchError
from sandbox._patch import FileChange


def _libcst_cuts(text: str) -> dict[str, tuple[int, int, str]]:
    """Every function, method and class as libcst cuts it: first line, last line, source."""
    wrapper = MetadataWrapper(cst.parse_module(text), unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    found: dict[str, tuple[int, int, str]] = {}

    def code(node: cst.CSTNode) -> str:
        lines = wrapper.module.code_for_node(node).splitlines(keepends=True)
        while lines and (not lines[0].strip() or lines[0].lstrip().startswith("#")):
            lines.pop(0)  # leading comments belong to the node in libcst; they are not code
        return "".join(lines).strip("\n")

    def walk(body, prefix: str) -> None:
        for stmt in body:
            if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                name = f"{prefix}.{stmt.name.value}"
                start = positions[stmt.decorators[0] if stmt.decorators else stmt].start.line
                found[name] = (start, positions[stmt].end.line, code(stmt))
                if isinstance(stmt, cst.ClassDef) and isinstance(stmt.body, cst.IndentedBlock):
                    walk(stmt.body.body, name)

    walk(wrapper.module.body, "m")
    return found


def _same_cut(mine: str, theirs: str) -> bool:
    """The same lines, and the same code where whitespace is code (indentation, string values).

    libcst keeps some whitespace that is not code as written where the cut removes the enclosing
    indentation (a comment or a bracketed continuation line indented less than its block), so
    the lines are compared without their leading whitespace, and what that leaves out -- the
    block structure and the strings' values -- by Python's own parse of both.
    """
    def stripped(text: str) -> list[str]:
        return [line.strip() for line in text.split("\n")]

    return stripped(mine) == stripped(theirs) and ast.dump(ast.parse(mine)) == ast.dump(ast.parse(theirs))


# ------------------------------------------------------------------ generated modules


@st.composite
def _modules(draw) -> str:
    unit = draw(st.sampled_from(["    ", "  ", "\t"]))
    counter = iter(range(10_000))
    lines: list[str] = []

    def noise(indent: str) -> None:
        for _ in range(draw(st.integers(0, 2))):
            shift = draw(st.sampled_from(["", unit, unit + unit, "-", "0"]))
            at = "" if shift == "0" else indent[:-len(unit)] if shift == "-" and indent else indent + ("" if shift == "-" else shift)
            lines.append(draw(st.sampled_from([f"{at}# note", "", f"{at}", f"{at}#"])))

    def simple(indent: str) -> None:
        n = next(counter)
        choice = draw(st.sampled_from(["assign", "parens", "backslash", "string", "concat", "semicolon", "pass",
                                       "call"]))
        if choice == "assign":
            lines.append(f"{indent}v{n} = {n}  # trailing")
        elif choice == "parens":
            lines.extend([f"{indent}v{n} = (1,", f"{indent}    2,", "  3)"])
        elif choice == "backslash":
            lines.extend([f"{indent}v{n} = 1 + \\", f"{indent}{unit}{unit}2"])
        elif choice == "string":
            lines.extend([f'{indent}v{n} = """first', f"{indent}{unit}indented", "   ", f'{indent}last"""'])
        elif choice == "concat":
            lines.extend([f'{indent}v{n} = ("a"', f'{indent}{unit}"b")'])
        elif choice == "semicolon":
            lines.append(f"{indent}v{n} = 1; w{n} = 2")
        elif choice == "call":
            lines.append(f"{indent}print(v{n} if False else {n})")
        else:
            lines.append(f"{indent}pass")

    def block(indent: str, depth: int) -> None:
        for _ in range(draw(st.integers(1, 3))):
            noise(indent)
            statement(indent, depth)

    def statement(indent: str, depth: int) -> None:
        kinds = ["simple"] + (["def", "class", "if", "try", "for", "oneline"] if depth < 3 else [])
        kind = draw(st.sampled_from(kinds))
        n = next(counter)
        inner = indent + unit
        if kind == "simple":
            simple(indent)
        elif kind == "def":
            if draw(st.booleans()):
                lines.append(f"{indent}@staticmethod" if draw(st.booleans()) else f"{indent}@decorate(")
                if lines[-1].endswith("("):
                    lines.extend([f"{indent}{unit}1)"])
                noise(indent)
            lines.append(f"{indent}def f{n}(x=1,")
            lines.append(f"{indent}{unit}{unit}y=2):")
            if draw(st.booleans()):
                lines.extend([f'{inner}"""Doc.', "", f"{inner}{unit}more", f'{inner}"""'])
            block(inner, depth + 1)
        elif kind == "class":
            lines.append(f"{indent}class C{n}(Base, metaclass=Meta):")
            if draw(st.booleans()):
                lines.append(f'{inner}"""Doc."""')
            block(inner, depth + 1)
        elif kind == "oneline":
            lines.append(draw(st.sampled_from([f"{indent}def g{n}(): return {n}  # t",
                                               f"{indent}class K{n}: X = {n}",
                                               f"{indent}if x: y = {n}"])))
        elif kind == "if":
            lines.append(f"{indent}if x{n}:")
            block(inner, depth + 1)
            for _ in range(draw(st.integers(0, 2))):
                noise(indent)
                lines.append(f"{indent}elif y{n}:")
                block(inner, depth + 1)
            if draw(st.booleans()):
                lines.append(f"{indent}else:")
                block(inner, depth + 1)
        elif kind == "try":
            lines.append(f"{indent}try:")
            block(inner, depth + 1)
            lines.append(f"{indent}except E{n}:")
            block(inner, depth + 1)
            if draw(st.booleans()):
                lines.append(f"{indent}finally:")
                block(inner, depth + 1)
        else:
            lines.append(f"{indent}for i{n} in r:")
            block(inner, depth + 1)
            if draw(st.booleans()):
                lines.append(f"{indent}else:")
                block(inner, depth + 1)

    block("", 0)
    noise("")
    return "\n".join(lines) + draw(st.sampled_from(["\n", ""]))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_modules())
def test_the_cut_matches_libcsts_for_every_function_method_and_class(text):
    try:
        compile(text, "m.py", "exec")
    except SyntaxError:
        return  # the generator's comment placement can make an invalid module; the gate refuses those
    ours = definitions(text, "m.py", "m")
    for name, (first, last, source) in _libcst_cuts(text).items():
        mine = ours[name]
        assert mine.lines == (first, last), name
        assert _same_cut(mine.source, source), name


def test_the_cut_matches_on_the_tools_own_source():
    """Real code: this repository's modules, with their backslashes, docstrings and comments."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    files = sorted((root / "sandbox").rglob("*.py")) + sorted((root / "verifiers").rglob("*.py"))
    assert len(files) > 50
    for path in files[::4]:  # a quarter of them keeps this fast; the generator covers the rest
        text = path.read_text(encoding="utf-8")
        ours = definitions(text, path.name, "m")
        for name, (first, last, source) in _libcst_cuts(text).items():
            assert ours[name].lines == (first, last), (path, name)
            assert _same_cut(ours[name].source, source), (path, name)


# ------------------------------------------------------------------ what the cut now sees


def _change(before: str, after: str):
    return {c.target: c for c in analyse([FileChange("m.py", before.encode(), after.encode())])}


def test_a_whitespace_only_line_inside_a_string_is_part_of_its_value():
    before = 'def f(s: str) -> bool:\n    return s == """a\n   \nb"""\n'
    changed = _change(before, before.replace("\n   \n", "\n \n"))
    assert changed["m.f"].change is ChangeKind.MODIFIED
    # the same edit to a comment is formatting, and the string survives the cut as written
    assert _change(before, before.replace("bool:", "bool:  # ok"))["m.f"].change is ChangeKind.COSMETIC
    assert '"""a\n   \nb"""' in definitions(before, "m.py", "m")["m.f"].source


def test_a_one_line_class_body_is_read():
    changed = _change("class A: X = 1\n", "class A: X = 2\n")
    assert changed["m.A.X"].change is ChangeKind.MODIFIED
    assert "m.A" not in changed or changed["m.A"].change is ChangeKind.COSMETIC


def test_an_indented_string_inside_a_method_keeps_its_indentation():
    text = 'class A:\n    def m(self):\n        return """\n    four\n"""\n'
    found = definitions(text, "m.py", "m")["m.A.m"]
    assert found.source == 'def m(self):\n    return """\n    four\n"""'
    shallower = _change(text, text.replace("\n    four\n", "\nfour\n"))
    assert shallower["m.A.m"].change is ChangeKind.MODIFIED


def test_a_class_headers_formatting_is_cosmetic_and_its_bases_are_not():
    before = "class A(Base):\n    '''Doc.'''\n    x = 1\n"
    assert _change(before, before.replace("(Base)", "( Base )"))["m.A"].change is ChangeKind.COSMETIC
    assert _change(before, before.replace("(Base)", "(Other)"))["m.A"].change is ChangeKind.MODIFIED
    found = definitions(before, "m.py", "m")
    assert found["m.A"].own_source == "class A(Base):\n    '''Doc.'''\n    pass"
    assert found["m.A.x"].class_bases == ("Base",)


def test_a_bytes_or_fstring_first_statement_is_code_not_a_docstring():
    for first in ('b"data"', 'f"{print(1)}"'):
        found = definitions(f"{first}\nx = 1\n", "m.py", "m")
        assert found["m.<module code>"].kind is DefKind.MODULE_CODE


def test_a_syntax_error_is_reported_with_its_line():
    with pytest.raises(PatchError, match="does not parse as Python") as caught:
        definitions("def f(:\n    pass\n", "m.py", "m")
    assert caught.value.line == 1


# ------------------------------------------------------------------ through the gate


def test_the_gate_refuses_a_change_hidden_in_a_strings_blank_line_and_accepts_its_comment_twin(make_repo):
    text = 'def matches(s: str) -> bool:\n    return s == """a\n   \nb"""\n'
    root = make_repo({"m.py": text.encode(), "pyproject.toml": "[tool.sandbox]\nseed = 1\n"})
    hidden = Gate.from_repo(root, cache=False).check(Patch.from_files({"m.py": text.replace("\n   \n", "\n  \n")}))
    assert not hidden.accepted
    assert [o.obligation.target for o in hidden.outcomes if not o.ok] == ["m.matches"]
    benign = Gate.from_repo(root, cache=False).check(Patch.from_files({"m.py": text.replace("bool:", "bool:  # eq")}))
    assert benign.accepted, benign.summary()


def test_the_gate_refuses_an_unchecked_change_inside_a_one_line_class(make_repo):
    text = "class Limits: CAP = 3\n\n\ndef cap(x: int) -> int:\n    return min(x, Limits.CAP)\n"
    root = make_repo({"m.py": text.encode(), "pyproject.toml": "[tool.sandbox]\nseed = 1\n"})
    retuned = Gate.from_repo(root, cache=False).check(Patch.from_files({"m.py": text.replace("= 3", "= 30")}))
    assert not retuned.accepted
    assert "m.Limits.CAP" in {o.obligation.target for o in retuned.outcomes if not o.ok}
    benign = Gate.from_repo(root, cache=False).check(Patch.from_files({"m.py": text.replace("= 3", "= 3  # cap")}))
    assert benign.accepted, benign.summary()


def test_the_cut_reads_no_concrete_syntax_tree():
    """The analysis is ``ast`` and lines only: libcst is the policy scan's, not the analysis's."""
    import subprocess
    import sys

    code = ("import sys; from sandbox._changes import analyse; from sandbox._patch import FileChange; "
            "analyse([FileChange('m.py', b'x = 1\\n', b'x = 2\\n')]); print('libcst' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


