"""Size limits of a patch: refused at intake with exit 2, naming the limit, the size and the fix."""

from __future__ import annotations

import json

import pytest

from sandbox._changes import analyse
from sandbox._config import Config, load_config
from sandbox._errors import ConfigError, PatchError, PatchLimitError
from sandbox._patch import Edit, FileChange, Patch, PatchLimits
from sandbox._workers._tree import MAX_FILE_BYTES
from tests.conftest import cli_check

DEFAULTS = PatchLimits()


def new_file_diff(path: str, lines: list[str]) -> str:
    """A git diff creating ``path`` with ``lines``: its changed lines are ``len(lines) + 2`` headers."""
    body = "".join(f"+{line}\n" for line in lines)
    return (f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n"
            f"@@ -0,0 +1,{len(lines)} @@\n{body}")


def write_patch(tmp_path, text: str, name: str = "change.diff"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def helpers_diff(lines: int) -> str:
    """A realistic diff adding ``lines`` lines of Python helpers to a new module."""
    body = []
    for j in range(lines // 4):
        body += [f"def helper_{j}(x: float) -> float:", f"    return x * {j} + 1.0", "", ""]
    return new_file_diff("pkg/generated.py", body)


# ---------------------------------------------------------------- through the CLI, default limits


def test_a_200000_line_patch_is_refused_with_exit_2(make_repo, tmp_path):
    root = make_repo({"pkg/__init__.py": ""})
    code, report, err = cli_check(root, write_patch(tmp_path, helpers_diff(200_000)))
    assert code == 2
    assert report["error"]["type"] == "PatchLimitError"
    assert "change.diff" in err and "over the limit" in err
    # the bytes limit is checked first; either limit names its key, its value and the measured size
    assert "max_patch_bytes = 5,000,000" in err or "max_patch_lines = 100,000" in err
    assert "[tool.sandbox]" in err and "split it" in err


def test_too_many_changed_lines_is_refused_naming_the_limit(make_repo, tmp_path):
    root = make_repo({"README.md": "hello\n"})
    text = new_file_diff("notes.md", ["x"] * (DEFAULTS.max_patch_lines - 1))  # + 2 header lines
    code, report, err = cli_check(root, write_patch(tmp_path, text))
    assert code == 2 and report["error"]["type"] == "PatchLimitError"
    assert "100,001 changed lines, over the limit max_patch_lines = 100,000" in err
    assert "[tool.sandbox] max_patch_lines = 100001" in err


def test_a_patch_at_the_line_limit_is_not_refused_by_it(make_repo, tmp_path):
    root = make_repo({"README.md": "hello\n"})
    text = new_file_diff("notes.md", ["x"] * (DEFAULTS.max_patch_lines - 2))
    code, report, err = cli_check(root, write_patch(tmp_path, text))
    assert code == 0, err
    assert report["accepted"] is True


def _five_files(total_bytes: int) -> str:
    """Diffs of five new .md files, each under the per-file limit, totalling exactly ``total_bytes``."""
    parts = [new_file_diff(f"notes{i}.md", ["y" * 990_000]) for i in range(4)]
    head = new_file_diff("notes4.md", [""])
    pad = total_bytes - len("".join(parts)) - len(head)
    parts.append(new_file_diff("notes4.md", ["z" * pad]))
    text = "".join(parts)
    assert len(text.encode()) == total_bytes
    return text


def test_a_patch_over_the_byte_limit_is_refused_before_parsing(make_repo, tmp_path):
    root = make_repo({"README.md": "hello\n"})
    code, report, err = cli_check(root, write_patch(tmp_path, _five_files(DEFAULTS.max_patch_bytes + 1)))
    assert code == 2 and report["error"]["type"] == "PatchLimitError"
    assert "5,000,001 bytes, over the limit max_patch_bytes = 5,000,000" in err


def test_a_patch_at_the_byte_limit_is_not_refused_by_it(make_repo, tmp_path):
    root = make_repo({"README.md": "hello\n"})
    code, report, err = cli_check(root, write_patch(tmp_path, _five_files(DEFAULTS.max_patch_bytes)))
    assert code == 0, err


@pytest.mark.parametrize("extra, code", [(0, 0), (1, 2)])
def test_a_new_file_over_the_file_limit_is_refused(make_repo, tmp_path, extra, code):
    root = make_repo({"README.md": "hello\n"})
    content = "w" * (DEFAULTS.max_file_bytes - 1 + extra) + "\n"
    patch = write_patch(tmp_path, json.dumps({"files": {"docs/big.md": content}}), "change.json")
    got, report, err = cli_check(root, patch)
    assert got == code, err
    if code == 2:
        assert report["error"]["type"] == "PatchLimitError"
        assert "docs/big.md: the new content is 1,048,577 bytes, over the limit max_file_bytes = 1,048,576" in err
        assert "[tool.sandbox] max_file_bytes = 1048577" in err


def test_a_diff_that_grows_a_file_over_the_limit_is_refused_naming_the_file(make_repo, tmp_path):
    root = make_repo({"data.md": "a\n"})
    line = "v" * (DEFAULTS.max_file_bytes // 2)
    text = ("--- a/data.md\n+++ b/data.md\n@@ -1 +1,3 @@\n a\n" f"+{line}\n+{line}\n")
    code, report, err = cli_check(root, write_patch(tmp_path, text))
    assert code == 2 and report["error"]["type"] == "PatchLimitError"
    assert "data.md: the new content is 1,048,580 bytes, over the limit max_file_bytes" in err


def test_a_touched_file_already_over_the_limit_is_refused(make_repo, tmp_path):
    root = make_repo({"big.md": "b" * MAX_FILE_BYTES + "\ntail\n"})
    text = "--- a/big.md\n+++ b/big.md\n@@ -2 +2 @@\n-tail\n+end\n"
    code, report, err = cli_check(root, write_patch(tmp_path, text))
    assert code == 2 and report["error"]["type"] == "PatchLimitError"
    assert "big.md: the current file is 1,048,582 bytes, over the limit max_file_bytes" in err


def test_the_file_limit_is_the_size_workers_copy():
    assert DEFAULTS.max_file_bytes == MAX_FILE_BYTES == Config().max_file_bytes


# ---------------------------------------------------------------- the measure cannot be dodged


def test_added_lines_that_look_like_headers_still_count():
    # `++x` is valid Python; inside a hunk `+++x` is an added line, never a file header
    hostile = new_file_diff("evil.py", ["++x"] * 20)
    with pytest.raises(PatchLimitError) as info:
        Patch.from_diff(hostile, limits=PatchLimits(max_patch_lines=21))
    assert info.value.size == 22 and info.value.limit == "max_patch_lines"
    Patch.from_diff(hostile, limits=PatchLimits(max_patch_lines=22))  # the look-alike at the limit


def test_deleting_renaming_or_copying_a_file_counts_its_lines(make_repo):
    root = make_repo({"old.py": "x = 1\n" * 50, "keep.py": "y = 2\n"})
    limits = PatchLimits(max_patch_lines=40)
    deleted = Patch.from_files({"old.py": None}, limits=limits)
    with pytest.raises(PatchLimitError, match="deletes, renames or copies"):
        deleted.resolve(root)
    renamed = Patch.from_diff("diff --git a/old.py b/new.py\nsimilarity index 100%\n"
                              "rename from old.py\nrename to new.py\n", limits=limits)
    with pytest.raises(PatchLimitError, match="max_patch_lines = 40"):
        renamed.resolve(root)
    Patch.from_files({"keep.py": None}, limits=limits).resolve(root)  # a small deletion is fine
    assert len(Patch.from_files({"old.py": None}, limits=PatchLimits(max_patch_lines=50)).resolve(root)) == 1


def test_edits_count_both_sides_and_their_bytes():
    edits = [Edit("a.py", "x = 1\ny = 2\n", "x = 3\n")] * 2
    with pytest.raises(PatchLimitError) as info:
        Patch.from_edits(edits, limits=PatchLimits(max_patch_lines=5))
    assert info.value.size == 6
    Patch.from_edits(edits, limits=PatchLimits(max_patch_lines=6))
    with pytest.raises(PatchLimitError, match="max_patch_bytes"):
        Patch.from_edits(edits, limits=PatchLimits(max_patch_bytes=35))
    Patch.from_edits(edits, limits=PatchLimits(max_patch_bytes=36))


def test_a_huge_new_str_is_refused_per_file_at_resolve(make_repo):
    root = make_repo({"a.md": "x\n"})
    patch = Patch.from_edits([Edit("a.md", "x", "y" * 200)], limits=PatchLimits(max_file_bytes=100))
    with pytest.raises(PatchLimitError, match="a.md: the new content is 201 bytes"):
        patch.resolve(root)


def test_load_checks_the_raw_bytes_before_decoding():
    # not UTF-8 and not a diff: the size is refused first, so nothing is decoded or parsed
    with pytest.raises(PatchLimitError, match="max_patch_bytes"):
        Patch.load(b"\xff" * 101, name="blob", limits=PatchLimits(max_patch_bytes=100))
    with pytest.raises(PatchError) as info:
        Patch.load(b"\xff" * 100, name="blob", limits=PatchLimits(max_patch_bytes=100))
    assert not isinstance(info.value, PatchLimitError)


def test_resolve_applies_stricter_limits_than_the_patch_was_built_with(make_repo):
    root = make_repo({"a.md": "x\n"})
    patch = Patch.from_files({"a.md": "y\n" * 10})
    assert len(patch.resolve(root)) == 1
    with pytest.raises(PatchLimitError, match="10 changed lines, over the limit max_patch_lines = 9"):
        patch.resolve(root, limits=PatchLimits(max_patch_lines=9))
    with pytest.raises(PatchLimitError, match="max_file_bytes = 19"):
        patch.resolve(root, limits=PatchLimits(max_file_bytes=19))


def test_the_error_is_a_patch_error_with_the_numbers():
    with pytest.raises(PatchError) as info:
        Patch.load("--- a/x.md\n+++ b/x.md\n", name="p.diff", limits=PatchLimits(max_patch_lines=1))
    error = info.value
    assert isinstance(error, PatchLimitError)
    assert (error.limit, error.size, error.maximum, error.path) == ("max_patch_lines", 2, 1, "p.diff")


# ---------------------------------------------------------------- configuration


def test_configured_limits_are_read_and_raise_what_load_accepts(make_repo):
    root = make_repo({"pyproject.toml": "[tool.sandbox]\nmax-patch-lines = 300000\nmax_patch_bytes = 8000000\n"
                                        "max-file-bytes = 2000000\n"})
    limits = load_config(root).limits
    assert limits == PatchLimits(max_patch_bytes=8_000_000, max_patch_lines=300_000, max_file_bytes=2_000_000)
    text = helpers_diff(110_000)
    with pytest.raises(PatchLimitError):
        Patch.load(text.encode(), name="big.diff")
    assert Patch.load(text.encode(), name="big.diff", limits=limits).paths == ("pkg/generated.py",)


@pytest.mark.parametrize("body, words", [
    ("max_patch_lines = 0", ["max_patch_lines must be at least 1, got 0"]),
    ("max-patch-bytes = -5", ["max_patch_bytes must be at least 1, got -5"]),
    ("max_file_bytes = '1MB'", ["max_file_bytes has the wrong type", "'1MB'"]),
    ("max_file_bytes = 1e6", ["max_file_bytes has the wrong type"]),
    ("max_patch_lines = true", ["max_patch_lines has the wrong type"]),
    ("max_patch_line = 5", ["unknown key 'max_patch_line'", "max_patch_lines"]),
])
def test_bad_limit_values_name_the_key(make_repo, body, words):
    root = make_repo({"pyproject.toml": f"[tool.sandbox]\n{body}\n"})
    with pytest.raises(ConfigError) as info:
        load_config(root)
    for word in words:
        assert word in str(info.value)
    assert "pyproject.toml" in str(info.value)


def test_limits_change_the_config_digest():
    assert Config(max_patch_lines=5).digest != Config().digest


def test_the_cli_honours_a_raised_limit(make_repo, tmp_path):
    root = make_repo({"README.md": "hello\n",
                      "pyproject.toml": "[tool.sandbox]\nmax_patch_lines = 200000\n"})
    text = new_file_diff("notes.md", ["x"] * DEFAULTS.max_patch_lines)
    code, _, err = cli_check(root, write_patch(tmp_path, text))
    assert code == 0, err


def test_many_edits_to_a_large_file_are_bounded_by_the_scan_budget(make_repo):
    # each edit searches its whole file: 64 x max_patch_bytes bytes of searching in all
    root = make_repo({"a.md": "".join(f"line {i:04d}\n" for i in range(500))})  # 5,000 bytes
    edits = [Edit("a.md", f"line {i:04d}\n", f"LINE {i:04d}\n") for i in range(3)]
    limits = PatchLimits(max_patch_bytes=200)
    assert len(Patch.from_edits(edits[:2], limits=limits).resolve(root)) == 1  # 10,000 <= 12,800
    with pytest.raises(PatchLimitError) as info:
        Patch.from_edits(edits, limits=limits).resolve(root)
    assert "edit 3" in str(info.value) and "64 x max_patch_bytes = 12,800" in str(info.value)
    assert "unified diff" in str(info.value) and info.value.path == "a.md"


# ---------------------------------------------------------------- analysis stays linear


def _module_change(before: str, after: str) -> list[FileChange]:
    return [FileChange("pkg/mod.py", before.encode(), after.encode())]


def test_many_added_functions_are_not_each_tried_against_every_binding(monkeypatch):
    import sandbox._changes as changes  # patched where analyse looks the helper up

    calls = []
    real = changes._reads_binding
    monkeypatch.setattr(changes, "_reads_binding", lambda *args: calls.append(args) or real(*args))
    helpers = "".join(f"\n\ndef helper_{j}(x: float) -> float:\n    return x * {j}\n" for j in range(600))
    before = "SCALE = 1.0\n\n\ndef scaled(x: float) -> float:\n    return x * SCALE\n"
    after = before.replace("SCALE = 1.0", "SCALE = 2.0") + helpers
    found = {c.target: c for c in changes.analyse(_module_change(before, after))}
    assert found["pkg.mod.scaled"].because == ("pkg.mod.SCALE",)
    assert found["pkg.mod.helper_7"].change is changes.ChangeKind.ADDED
    # 601 changed bindings x 601 functions would be 361,000 tries; only readers of a name are tried
    assert len(calls) <= 10


def test_a_statement_binding_many_names_is_rendered_and_parsed_once(monkeypatch):
    import sandbox._definitions as definitions

    rendered, parsed = [], []
    real_code, real_imports = definitions._Collector._uncached_code, definitions._import_bindings
    monkeypatch.setattr(definitions._Collector, "_uncached_code",
                        lambda self, node: rendered.append(node) or real_code(self, node))
    monkeypatch.setattr(definitions, "_import_bindings", lambda tree: parsed.append(tree) or real_imports(tree))
    names = ", ".join(f"name_{i}" for i in range(800))
    before = f"from lib import ({names})\n\nvalue_0 = value_1 = value_2 = 0\n"
    after = before.replace("name_5,", "name_5 as renamed_5,").replace("= 0", "= 1")
    found = {c.target: c for c in analyse(_module_change(before, after))}
    assert found["pkg.mod.renamed_5"].change.value == "added"
    assert found["pkg.mod.name_5"].change.value == "removed"
    # the other 798 names bind what they bound before: the statement's text changed, not what runs
    assert found["pkg.mod.name_6"].change.value == "cosmetic"
    assert {found[f"pkg.mod.value_{i}"].change.value for i in range(3)} == {"modified"}
    assert len(parsed) == 2 and len(rendered) <= 6  # one import statement and one assignment per side
