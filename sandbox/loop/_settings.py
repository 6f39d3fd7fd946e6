"""``[tool.sandbox.improve]``: the loop's defaults in the target repository's ``pyproject.toml``."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from sandbox._errors import ConfigError

__all__ = ["KEYS", "improve_table"]

# key -> accepted types; CLI flags override every one of them.
KEYS: dict[str, tuple[type, ...]] = {
    "objective": (str,), "metric": (str,), "direction": (str,), "repeats": (int,), "rounds": (int,),
    "editable": (list, str), "protect": (list, str), "max_rejections": (int,), "max_gain": (int, float),
    "timeout": (int, float), "budget_tokens": (int,), "budget_seconds": (int, float), "model": (str,),
    "confidence": (float,), "candidates": (int,), "backend": (str,), "workers": (int,),
}


def improve_table(root: Path) -> dict[str, Any]:
    """The validated ``[tool.sandbox.improve]`` table of ``root/pyproject.toml`` ({} when absent)."""
    path = Path(root) / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {}).get("sandbox", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read it as TOML: {error}") from None
    improve = table.get("improve", {}) if isinstance(table, dict) else {}
    where = f"{path} [tool.sandbox.improve]"
    if not isinstance(improve, dict):
        raise ConfigError(f"{where}: expected a table")
    values: dict[str, Any] = {}
    for key, value in improve.items():
        name = key.replace("-", "_")
        if name not in KEYS:
            raise ConfigError(f"{where}: unknown key {key!r}; the known keys are: {', '.join(sorted(KEYS))}")
        if not isinstance(value, KEYS[name]) or isinstance(value, bool):
            raise ConfigError(f"{where}: {key} has the wrong type: {value!r}")
        if name in ("editable", "protect"):
            value = [value] if isinstance(value, str) else value
            if not all(isinstance(v, str) and v for v in value):
                raise ConfigError(f"{where}: {key} must be a list of non-empty path globs, got {value!r}")
            value = tuple(value)
        values[name] = value
    return values
