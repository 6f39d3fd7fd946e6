"""``[tool.sandbox]`` in the target repository's ``pyproject.toml``, validated key by key."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from properties import RULES

from sandbox._errors import ConfigError
from sandbox._patch import PatchLimits

__all__ = ["DEFERRABLE", "Config", "load_config", "sandbox_table"]

_REQUIRE = ("passed", "proven")
# The kinds of obligation `--defer` may leave to a later check: behaviour, never policy or protection.
DEFERRABLE = ("kernel", "equivalent", "invariant", "bounds", "import")
_APPLY = ("auto", "proven", "manual")
_ISOLATION = ("auto", "strict")
_DEFAULT_LIMITS = PatchLimits()
_LIMITS = ("max_patch_bytes", "max_patch_lines", "max_file_bytes")


@dataclass(frozen=True, slots=True)
class Config:
    """The gate's settings for one repository.  CLI flags override via ``with_overrides``."""

    properties: tuple[str, ...] = ("sandbox_properties.py",)
    protected: tuple[str, ...] = ()
    allow: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    allow_calls: tuple[str, ...] = ()
    unchecked: tuple[str, ...] = ("*.md", "*.rst", "docs/**", "LICENSE*")
    require: str = "passed"
    # Targets (globs of qualified names; "*" for all) whose behaviour change an invariant() or
    # bounds() allows is rejected all the same: `--require unchanged`.
    unchanged: tuple[str, ...] = ()
    # Kinds of obligation left to a later, fuller check (`--defer kernel` in a fast pre-commit
    # hook): reported as deferred, never as met; the verdict is not an acceptance.
    defer: tuple[str, ...] = ()
    apply: str = "auto"
    seed: int = 0
    jobs: int = 1
    timeout: float = 30.0
    ledger: str = ".sandbox"
    isolation: str = "auto"
    max_examples: int = 200
    call_timeout: float = 10.0
    memory_mb: int = 4096
    slowdown: float = 10.0
    memory: float = 10.0
    max_patch_bytes: int = _DEFAULT_LIMITS.max_patch_bytes
    max_patch_lines: int = _DEFAULT_LIMITS.max_patch_lines
    max_file_bytes: int = _DEFAULT_LIMITS.max_file_bytes
    # Independent checkers that must each accept: {"checkers": ("smt", "pbt"), "need": 2}; empty: none.
    quorum: Mapping[str, Any] = field(default_factory=dict)

    def with_overrides(self, **overrides: Any) -> "Config":
        """A copy with the given non-``None`` settings replaced (and validated)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return _validated(dataclasses.replace(self, **given), "command line")

    @property
    def limits(self) -> PatchLimits:
        """The size limits of a patch, for ``Patch.load(..., limits=...)`` and ``Patch.resolve``."""
        return PatchLimits(**{name: getattr(self, name) for name in _LIMITS})

    @property
    def digest(self) -> str:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return hashlib.sha256(json.dumps(data, sort_keys=True, default=list).encode()).hexdigest()


_KEYS = {f.name: f for f in dataclasses.fields(Config)}


def sandbox_table(pyproject_text: str | None) -> dict[str, Any] | None:
    """The ``[tool.sandbox]`` table of a pyproject text, or ``None`` if absent or unparseable."""
    if pyproject_text is None:
        return None
    try:
        return tomllib.loads(pyproject_text).get("tool", {}).get("sandbox")
    except tomllib.TOMLDecodeError:
        return None


def load_config(root: Path) -> Config:
    """Read ``root/pyproject.toml``; defaults when it or its ``[tool.sandbox]`` table is absent."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return Config()
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {}).get("sandbox", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read it as TOML: {error}") from None
    return _from_table(table, f"{path} [tool.sandbox]")


def _from_table(table: Mapping[str, Any], where: str) -> Config:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: expected a table")
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key == "improve":  # [tool.sandbox.improve]: the loop's own table, read by sandbox.loop._settings
            continue
        name = key.replace("-", "_")
        if name not in _KEYS:
            known = ", ".join(sorted(_KEYS))
            raise ConfigError(f"{where}: unknown key {key!r}; the known keys are: {known}")
        values[name] = _coerce(name, value, where)
    return _validated(Config(**values), where)


def _coerce(name: str, value: Any, where: str) -> Any:
    if name in ("properties", "protected", "unchecked", "allow_calls", "unchanged", "defer"):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"{where}: {name} must be a list of non-empty strings, got {value!r}")
        return tuple(value)
    if name == "quorum":
        return _quorum(value, where)
    if name == "allow":
        if not isinstance(value, Mapping):
            raise ConfigError(f'{where}: allow must be a table of rule id -> path globs, e.g. allow = {{ "file-write" = ["scripts/*.py"] }}')
        return {rule: _coerce("protected", globs, f"{where} allow.{rule}") for rule, globs in value.items()}
    expected = {"require": str, "apply": str, "ledger": str, "isolation": str, "seed": int, "jobs": int,
                "max_examples": int, "memory_mb": int, "timeout": (int, float), "call_timeout": (int, float),
                "slowdown": (int, float), "memory": (int, float),
                **dict.fromkeys(_LIMITS, int)}[name]
    if not isinstance(value, expected) or isinstance(value, bool):
        raise ConfigError(f"{where}: {name} has the wrong type: {value!r}")
    return value


def _quorum(value: Any, where: str) -> dict[str, Any]:
    example = 'quorum = { checkers = ["smt", "pbt"], need = 2 }'
    if not isinstance(value, Mapping) or set(value) - {"checkers", "need"}:
        raise ConfigError(f"{where}: quorum must be a table with checkers and need, e.g. {example}; got {value!r}")
    checkers = value.get("checkers")
    if (not isinstance(checkers, list) or not checkers or not all(isinstance(c, str) and c for c in checkers)
            or len(set(checkers)) != len(checkers)):
        raise ConfigError(f"{where}: quorum.checkers must be a list of distinct verifier names, e.g. {example}; "
                          f"got {checkers!r}")
    need = value.get("need", len(checkers))
    if not isinstance(need, int) or isinstance(need, bool) or not 1 <= need <= len(checkers):
        raise ConfigError(f"{where}: quorum.need must be a whole number from 1 to {len(checkers)} (the number of "
                          f"checkers named), got {need!r}")
    return {"checkers": tuple(checkers), "need": need}


def _validated(config: Config, where: str) -> Config:
    if config.require not in _REQUIRE:
        raise ConfigError(f"{where}: require must be one of {', '.join(_REQUIRE)}, got {config.require!r}")
    unknown_kinds = sorted(set(config.defer) - set(DEFERRABLE))
    if unknown_kinds:
        raise ConfigError(f"{where}: defer names {', '.join(unknown_kinds)}; only these kinds of obligation can be "
                          f"left to a later check: {', '.join(DEFERRABLE)} (policy checks always run)")
    if config.apply not in _APPLY:
        raise ConfigError(f"{where}: apply must be one of {', '.join(_APPLY)}, got {config.apply!r}")
    unknown_rules = sorted(set(config.allow) - set(RULES))
    if unknown_rules:
        raise ConfigError(
            f"{where}: allow names unknown rule(s) {', '.join(unknown_rules)}; "
            f"the rule ids are: {', '.join(sorted(RULES))}"
        )
    if config.isolation not in _ISOLATION:
        raise ConfigError(f"{where}: isolation must be one of {', '.join(_ISOLATION)}, got {config.isolation!r}")
    for name in ("max_examples", "memory_mb", *_LIMITS):
        if getattr(config, name) < 1:
            raise ConfigError(f"{where}: {name} must be at least 1, got {getattr(config, name)}")
    for name in ("slowdown", "memory"):
        ratio = getattr(config, name)
        if not ratio >= 1 or ratio == float("inf"):
            raise ConfigError(f"{where}: {name} is a ratio of new to old and must be a finite number of at "
                              f"least 1 (e.g. {name} = 10.0), got {ratio}")
    if config.call_timeout <= 0:
        raise ConfigError(f"{where}: call_timeout must be positive, got {config.call_timeout}")
    if config.jobs < 1:
        raise ConfigError(f"{where}: jobs must be at least 1, got {config.jobs}")
    if config.timeout <= 0:
        raise ConfigError(f"{where}: timeout must be positive, got {config.timeout}")
    ledger = Path(config.ledger)
    if ledger.is_absolute() or ".." in ledger.parts or not config.ledger.strip("./"):
        raise ConfigError(f"{where}: ledger must be a directory inside the repository, got {config.ledger!r}")
    return config
