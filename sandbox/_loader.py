"""Load a repository's property files, in the trusted process, from the *before* tree.

The property files are protected paths, so a patch can never change what
they say; they are read from the tree as it is before the patch, every time.
Loading writes nothing: no bytecode cache is left in the repository.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

from properties import Property, collecting

from sandbox._errors import ConfigError

__all__ = ["load_properties"]

DEFAULT_FILE = "sandbox_properties.py"


def load_properties(root: Path, files: tuple[str, ...]) -> tuple[Property, ...]:
    """Run each property file and return every property it stated, in order."""
    found: list[Property] = []
    for name in files:
        path = root / name
        if not path.is_file():
            if name == DEFAULT_FILE:
                continue
            raise ConfigError(
                f"{path}: the property file named in [tool.sandbox] properties does not exist; "
                "create it or remove it from the list"
            )
        found.extend(_run(path))
    return tuple(found)


def _run(path: Path) -> list[Property]:
    try:
        source = path.read_text(encoding="utf-8")
        code = compile(source, str(path), "exec")
    except (UnicodeDecodeError, SyntaxError) as error:
        raise ConfigError(f"{path}: cannot load the property file: {error}") from None
    namespace = {"__name__": "sandbox_properties", "__file__": str(path)}
    previous = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        with collecting() as stated:
            exec(code, namespace)  # noqa: S102 - the property file is trusted: it comes from the before tree
    except Exception as error:  # noqa: BLE001 - any failure of the user's file is a config error
        frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == str(path)]
        line = f":{frames[-1].lineno}" if frames else ""
        raise ConfigError(
            f"{path}{line}: the property file raised {type(error).__name__}: {error}; fix the file and re-run"
        ) from None
    finally:
        sys.dont_write_bytecode = previous
    return stated
