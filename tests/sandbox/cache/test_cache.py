"""The verdict cache: a re-run reuses settled evidence; anything in the key changes it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox import Gate, Patch
from sandbox.cache import VerdictCache, default_dir, tree_digest
from tests.conftest import snapshot, write_tree
from verifiers import Evidence, Level

UTIL = "def scale(x: int) -> int:\n    return x * 2\n"
TRAIN = "from util import scale\n\n\ndef step(x: int) -> int:\n    return scale(x) + 1\n"
NEW = "from util import scale\n\n\ndef step(x: int) -> int:\n    return 1 + scale(x)\n"
CONFIG = "[tool.sandbox]\nseed = 2\nmax_examples = 40\n"


@pytest.fixture
def repo(make_repo):
    return make_repo({"train.py": TRAIN, "util.py": UTIL, "pyproject.toml": CONFIG})


def check(root: Path, cache: Path, text: str = NEW, **overrides):
    before = snapshot(root)
    verdict = Gate.from_repo(root, cache=cache, **overrides).check(Patch.from_files({"train.py": text}))
    assert snapshot(root) == before  # the cache lives outside the repository
    return verdict


def levels(verdict) -> dict[str, tuple[str, bool]]:
    return {o.obligation.target: (o.evidence.level.value, o.cached) for o in verdict.outcomes}


def test_a_rerun_reuses_every_settled_obligation_and_says_so(repo, tmp_path):
    cache = tmp_path / "cache"
    first = check(repo, cache)
    assert first.accepted and not any(o.cached for o in first.outcomes)
    second = check(repo, cache)
    assert second.accepted
    assert {t: level for t, (level, _) in levels(second).items()} == {t: level for t, (level, _) in levels(first).items()}
    assert all(o.cached for o in second.outcomes), levels(second)
    summary = second.summary()
    assert "from the verdict cache" in summary and f"{len(second.outcomes)} from the verdict cache" in summary
    assert json.loads(json.dumps(second.to_json()))["obligations"][0]["cached"] is True


def test_a_change_to_a_file_the_code_imports_is_a_different_key(repo, tmp_path):
    cache = tmp_path / "cache"
    check(repo, cache)
    (repo / "util.py").write_text("def scale(x: int) -> int:\n    return x * 3\n")
    again = check(repo, cache)
    step = next(o for o in again.outcomes if o.obligation.target == "train.step")
    assert not step.cached


def test_properties_configuration_and_seed_are_in_the_key(repo, tmp_path):
    cache = tmp_path / "cache"
    check(repo, cache)
    assert not any(o.cached for o in check(repo, cache, seed=3).outcomes)
    (repo / "pyproject.toml").write_text(CONFIG.replace("max_examples = 40", "max_examples = 41"))
    assert not any(o.cached for o in check(repo, cache).outcomes if o.obligation.kind.behavioural)
    (repo / "sandbox_properties.py").write_text("from properties import equivalent\nequivalent('train.step')\n")
    assert not any(o.cached for o in check(repo, cache).outcomes if o.obligation.kind.behavioural)


def test_a_cached_passed_is_never_upgraded(make_repo, tmp_path):
    lists = "def total(values: list[int]) -> int:\n    result = 0\n    for v in values:\n        result += v\n    return result\n"
    root = make_repo({"agg.py": lists, "pyproject.toml": CONFIG})
    patch = Patch.from_files({"agg.py": "def total(values: list[int]) -> int:\n    return sum(values)\n"})
    cache = tmp_path / "cache"
    first = Gate.from_repo(root, cache=cache).check(patch)
    total = next(o for o in first.outcomes if o.obligation.target == "agg.total")
    assert total.evidence.level is Level.PASSED
    # require is a judgement made afresh: the cached PASSED is found, and rejected as not PROVEN.
    strict = Gate.from_repo(root, cache=cache, require="proven").check(patch)
    again = next(o for o in strict.outcomes if o.obligation.target == "agg.total")
    assert again.cached and again.evidence.level is Level.PASSED and not again.ok and not strict.accepted


def test_unknown_is_never_stored_and_a_broken_entry_is_a_miss(tmp_path):
    cache = VerdictCache(tmp_path / "c")
    key = "ab" * 32
    assert not cache.put(key, Evidence(Level.UNKNOWN, "smt", "timeout"))
    assert cache.get(key) is None
    assert cache.put(key, Evidence(Level.PROVEN, "smt", "equivalent"))
    assert cache.get(key).evidence.level is Level.PROVEN
    (tmp_path / "c" / "ab" / f"{key}.json").write_text("{not json")
    assert cache.get(key) is None
    entry = {"format": 1, "key": "cd" * 32, "stored": 0, "evidence": Evidence(Level.PROVEN, "smt", "x").to_json()}
    (tmp_path / "c" / "ab" / f"{key}.json").write_text(json.dumps(entry))
    assert cache.get(key) is None  # an entry filed under another key is not this key's


def test_the_default_directory_follows_xdg(tmp_path):
    assert default_dir({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "selfmod-sandbox"
    assert default_dir({"HOME": str(tmp_path)}).name == "selfmod-sandbox"


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@e", "HOME": str(root), "PATH": "/usr/bin:/bin"})


def test_the_tree_digest_of_a_git_work_tree_sees_dirty_and_untracked_files(tmp_path):
    root = write_tree(tmp_path / "r", {"a.py": "A = 1\n", "pkg/b.py": "B = 2\n", ".sandbox/ledger": "x"})
    _git(root, "init", "-q")
    _git(root, "add", "a.py", "pkg/b.py")
    _git(root, "commit", "-qm", "one")
    clean = tree_digest(root, skip=(".sandbox",))
    (root / ".sandbox" / "ledger").write_text("y")
    assert tree_digest(root, skip=(".sandbox",)) == clean  # the ledger is not code
    (root / "a.py").write_text("A = 3\n")
    dirty = tree_digest(root, skip=(".sandbox",))
    assert dirty != clean
    (root / "c.py").write_text("C = 1\n")
    assert tree_digest(root, skip=(".sandbox",)) != dirty
    (root / "c.py").unlink()
    assert tree_digest(root, skip=(".sandbox",)) == dirty


_files = st.dictionaries(st.sampled_from(["a.py", "b.py", "pkg/c.py", "pkg/d.txt"]),
                         st.text(alphabet="xyz=1\n", max_size=8), min_size=1)


@settings(max_examples=40, deadline=None)
@given(first=_files, second=_files)
def test_the_tree_digest_changes_exactly_when_the_content_does(tmp_path_factory, first, second):
    one = write_tree(tmp_path_factory.mktemp("one"), {k: v.encode() for k, v in first.items()})
    two = write_tree(tmp_path_factory.mktemp("two"), {k: v.encode() for k, v in second.items()})
    assert (tree_digest(one) == tree_digest(two)) == (first == second)


def test_the_command_line_uses_the_cache_it_is_given_and_no_cache_stores_nothing(repo, tmp_path):
    from sandbox._cli import main
    import io

    patch = tmp_path / "p.json"
    patch.write_text(json.dumps({"train.py": NEW}))
    cache = tmp_path / "cli-cache"
    base = ["check", "--repo", str(repo), "--patch", str(patch), "--format", "json"]
    assert main([*base, "--no-cache"], io.StringIO(), io.StringIO()) == 0
    assert not cache.exists()
    outputs = []
    for _ in range(2):
        out = io.StringIO()
        assert main([*base, "--cache", str(cache)], out, io.StringIO()) == 0
        outputs.append(json.loads(out.getvalue()))
    assert not any(o["cached"] for o in outputs[0]["obligations"])
    assert all(o["cached"] for o in outputs[1]["obligations"])
    assert [o["level"] for o in outputs[0]["obligations"]] == [o["level"] for o in outputs[1]["obligations"]]
