"""[tool.sandbox] configuration and the property-file loader."""

from __future__ import annotations

import pytest

from properties import Bounds, Forbid, Invariant, Protected
from sandbox._config import Config, load_config
from sandbox._errors import ConfigError
from sandbox._loader import load_properties
from tests.conftest import snapshot


def test_defaults_without_pyproject(make_repo):
    assert load_config(make_repo({})) == Config()


def test_values_are_read_and_dashes_accepted(make_repo):
    root = make_repo({"pyproject.toml": """
        [tool.sandbox]
        require = "proven"
        seed = 7
        allow = { "file-write" = ["scripts/*.py"] }
        protected = ["data/**"]
        allow-removal-typo-free = 1
    """.replace("        allow-removal-typo-free = 1\n", "")})
    config = load_config(root)
    assert (config.require, config.seed, config.protected) == ("proven", 7, ("data/**",))
    assert config.allow == {"file-write": ("scripts/*.py",)}


@pytest.mark.parametrize("body, words", [
    ("requre = 'proven'", ["unknown key 'requre'", "require"]),
    ("require = 'maybe'", ["require must be one of"]),
    ("seed = 'x'", ["seed has the wrong type"]),
    ("jobs = 0", ["jobs must be at least 1"]),
    ("allow = { 'no-such-rule' = ['a.py'] }", ["unknown rule", "no-such-rule", "file-write"]),
    ("protected = [1]", ["protected must be a list"]),
    ("ledger = '../elsewhere'", ["ledger must be a directory inside"]),
])
def test_bad_configuration_names_the_key(make_repo, body, words):
    root = make_repo({"pyproject.toml": f"[tool.sandbox]\n{body}\n"})
    with pytest.raises(ConfigError) as info:
        load_config(root)
    for word in words:
        assert word in str(info.value)
    assert "pyproject.toml" in str(info.value)


def test_cli_overrides_win_and_are_validated():
    config = Config().with_overrides(require="proven", seed=None)
    assert config.require == "proven" and config.seed == 0
    with pytest.raises(ConfigError):
        Config().with_overrides(jobs=0)


def test_properties_are_loaded_without_writing_anything(make_repo):
    root = make_repo({
        "sandbox_properties.py": """
            from properties import bounds, invariant, protected, forbid
            bounds("train.LR", 1e-5, 1e-3)
            invariant("train.f", lambda x, out: out >= 0, pre=lambda x: x >= 0)
            protected("data/**")
            forbid("time.sleep", reason="no sleeping in the training loop")
        """,
        "train.py": "LR = 1e-4\n",
    })
    before = snapshot(root)
    found = load_properties(root, ("sandbox_properties.py",))
    assert [type(p) for p in found] == [Bounds, Invariant, Protected, Forbid]
    assert found[1].post(1, 2) is True
    assert snapshot(root) == before


def test_missing_default_property_file_is_fine_but_a_configured_one_is_an_error(make_repo):
    root = make_repo({})
    assert load_properties(root, ("sandbox_properties.py",)) == ()
    with pytest.raises(ConfigError, match="does not exist"):
        load_properties(root, ("props/custom.py",))


def test_a_broken_property_file_names_file_and_line(make_repo):
    root = make_repo({"sandbox_properties.py": "from properties import bounds\n\nbounds('train.LR', 2, 1)\n"})
    with pytest.raises(ConfigError) as info:
        load_properties(root, ("sandbox_properties.py",))
    assert "sandbox_properties.py:3" in str(info.value) and "lo must not exceed hi" in str(info.value)
