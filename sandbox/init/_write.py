"""The two files ``sandbox init`` writes: a commented ``[tool.sandbox]`` table and a starter property file.

Both are rendered as text from an ``Inference`` and checked the way ``sandbox check`` will read
them (the table through the config loader, the property file through the property loader) before
anything is written, so what ``init`` writes is what ``check`` accepts.  Nothing is ever
overwritten: an existing ``[tool.sandbox]`` table or property file is left as it is.
"""

from __future__ import annotations

import json
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

from sandbox._config import load_config
from sandbox._errors import ConfigError
from sandbox._loader import DEFAULT_FILE, load_properties
from sandbox.init._infer import Constant, Inference, Tensor, TensorFunction

__all__ = ["Plan", "plan", "render_properties", "render_table", "write"]

# Sizes given to jaxtyping dim names, in order of first appearance: small, distinct, odd and even.
_SIZES = (4, 6, 8, 5, 7, 3, 9, 2)

TABLE = '''
[tool.sandbox]
# Written by `sandbox init`. Every key is optional; the values shown are the defaults.
# `sandbox check` reads this table from the base revision of a change, and a patch may not edit it.

# The files that state what must hold of a change (equivalent, invariant, kernel, bounds, ...).
properties = ["{properties}"]
# The weakest evidence accepted for a behavioural obligation: "passed" (tested without a
# counterexample) or "proven" (proved by z3 for every input).
require = "passed"
# Who lets an accepted change in: "auto", "proven" (anything not proved waits for a person) or "manual".
apply = "auto"
# The seed of generated inputs: the same change gets the same verdict on every run.
seed = 0

# More paths no patch may touch (the property files, this table, .sandbox/ and tests are protected anyway):
# protected = ["configs/**"]
# Waive a policy rule for some paths, e.g. a script that saves checkpoints:
# allow = {{ "file-write" = ["scripts/*.py"] }}
# Your own functions the policy may treat as safe to call:
# allow-calls = ["mypkg.util.*"]
# Files whose changes need no check:
# unchecked = ["*.md", "*.rst", "docs/**", "LICENSE*"]
# Obligations checked in parallel; the time limit of one obligation and of one call, in seconds:
# jobs = 1
# timeout = 30.0
# call-timeout = 10.0
# Generated inputs per obligation:
# max-examples = 200
'''

HEADER = '''"""What must hold of a change to this repository; read by `sandbox check` (started by `sandbox init`).

Every changed function must keep its behaviour unless a statement here says otherwise:

    equivalent("mod.fn")                      the default, made explicit
    invariant("mod.fn", post, pre=...)        may change while post(*args, out) holds
    kernel("mod.fn", make_inputs=...)         numeric equivalence of tensor code, forward and backward
    bounds("mod.NAME", lo, hi)                a constant may be retuned within [lo, hi]

This file is protected: no patch may change it. Edit it yourself, and commit it.
"""

from properties import bounds, kernel  # noqa: F401 - bounds() is used once a suggestion below is uncommented
'''


@dataclass(frozen=True, slots=True)
class Plan:
    """What ``write`` will do: each file's path, its new text (None: left alone) and why."""

    pyproject: Path
    pyproject_text: str | None
    table: str
    properties: Path
    properties_text: str | None
    starter: str
    notes: tuple[str, ...]


def render_table(properties: str = DEFAULT_FILE) -> str:
    """The commented ``[tool.sandbox]`` table."""
    return TABLE.format(properties=properties)


def render_properties(inference: Inference) -> str:
    """The starter property file: ``kernel`` for each tensor function, ``bounds`` suggestions commented."""
    parts = [HEADER]
    if inference.kernels:
        parts.append("\n# Tensor functions: compared with their old version against a float64 oracle, forward and\n"
                     "# backward. Without make_inputs every tensor gets the same generated shapes; state them\n"
                     "# where the function needs particular ones.\n")
        parts += [_kernel(k) for k in inference.kernels]
    else:
        parts.append("\n# No tensor functions found (parameters annotated torch.Tensor / jax.Array, or bodies\n"
                     "# calling torch or jax); state kernel(\"mod.fn\", ...) here for any the scan missed.\n")
    if inference.constants:
        parts.append("\n# Module constants. A changed constant must keep every function that reads it behaving\n"
                     "# the same; uncomment a line to let a change retune it within [lo, hi] instead.\n")
        parts += [_bounds(c) for c in inference.constants]
    return "".join(parts)


def _kernel(function: TensorFunction) -> str:
    lines = [f"\n# {function.path}:{function.line}: {function.why}\n", f"kernel(\n    {_q(function.target)},\n"]
    inputs = _make_inputs(function.params)
    if inputs is not None:
        lines.append(f"    make_inputs=lambda rng: {inputs},  # from the jaxtyping dims\n")
    else:
        shown = ", ".join(f"{_q(p.name)}: ..." for p in function.params)
        lines.append(f"    # make_inputs=lambda rng: {{{shown}}},  # shape tuples or numpy arrays\n")
    lines.append(")\n")
    return "".join(lines)


def _make_inputs(params: tuple[Tensor, ...]) -> str | None:
    """A ``make_inputs`` body when every required parameter's shape is stated by jaxtyping dims."""
    if not params or any(p.dims is None or any(str(d).startswith("*") for d in p.dims) for p in params):
        return None
    sizes: dict[str, int] = {}
    for p in params:
        for dim in p.dims or ():
            if isinstance(dim, str) and dim not in sizes:
                sizes[dim] = _SIZES[len(sizes) % len(_SIZES)]
    shape = {p.name: tuple(d if isinstance(d, int) else sizes[d] for d in p.dims or ()) for p in params}
    # Integer arrays index along a float array's dims: keep them below the smallest such size.
    floats = [n for p in params if p.dtype != "int" for n in shape[p.name]]
    high = min(floats, default=2)
    values = []
    for p in params:
        if p.dtype == "int":
            values.append(f"{_q(p.name)}: rng.integers(0, {high}, {shape[p.name]!r})")
        elif p.dtype == "bool":
            values.append(f"{_q(p.name)}: rng.random({shape[p.name]!r}) < 0.8")
        else:
            values.append(f"{_q(p.name)}: {shape[p.name]!r}")
    return "{" + ", ".join(values) + "}"


def _bounds(constant: Constant) -> str:
    lo, hi = _range(constant.value)
    return f"# bounds({_q(constant.target)}, {lo!r}, {hi!r})  # now {constant.value!r} ({constant.path}:{constant.line})\n"


def _q(name: str) -> str:
    """A dotted name as a Python string literal, in double quotes (names hold no quote or backslash)."""
    return json.dumps(name)


def _range(value: int | float) -> tuple[int | float, int | float]:
    """A starting range around ``value``: a factor of 10 for floats, of 2 for integers."""
    if isinstance(value, int):
        return (value // 2, value * 2) if value > 0 else (value * 2, value // 2) if value < 0 else (0, 1)
    if value == 0:
        return -1.0, 1.0
    lo, hi = sorted((float(f"{value / 10:.3g}"), float(f"{value * 10:.3g}")))
    return lo, hi


def plan(root: Path, inference: Inference) -> Plan:
    """Decide what to write, validating both texts as ``sandbox check`` will read them."""
    pyproject = root / "pyproject.toml"
    existing = pyproject.read_text(encoding="utf-8") if pyproject.is_file() else None
    table = _existing_table(existing, pyproject)
    notes = []
    properties_name = DEFAULT_FILE
    if table is not None:
        listed = table.get("properties", [DEFAULT_FILE])
        properties_name = (listed if isinstance(listed, list) else [listed])[0] if listed else DEFAULT_FILE
        notes.append(f"{pyproject} already has a [tool.sandbox] table: left as it is")
        new_pyproject = None
    else:
        new_pyproject = (existing or "") + ("\n" if existing and not existing.endswith("\n") else "") + render_table()
    starter = render_properties(inference)
    target = root / properties_name
    if target.exists():
        notes.append(f"{target} already exists: left as it is")
    result = Plan(pyproject, new_pyproject, render_table(properties_name), target,
                  None if target.exists() else starter, starter, tuple(notes))
    _validate(result, existing)
    return result


def _existing_table(text: str | None, path: Path) -> dict | None:
    if text is None:
        return None
    try:
        table = tomllib.loads(text).get("tool", {}).get("sandbox")
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: cannot read it as TOML ({error}), so init cannot add [tool.sandbox] to it "
                          "safely; fix the file, or add the table by hand (`sandbox init --dry-run` prints it)") from None
    return table if table is None or isinstance(table, dict) else {}


def _validate(result: Plan, existing: str | None) -> None:
    """Load both files from a scratch copy exactly as ``sandbox check`` would; raise if either fails."""
    with tempfile.TemporaryDirectory(prefix="sandbox-init-") as scratch:
        root = Path(scratch)
        pyproject = result.pyproject_text if result.pyproject_text is not None else existing
        if pyproject is not None:
            (root / "pyproject.toml").write_text(pyproject, encoding="utf-8")
        try:
            load_config(root)
        except ConfigError as error:
            raise ConfigError(f"{result.pyproject}: with the table init would add, `sandbox check` could not read "
                              f"it ({error}); add the table by hand (`sandbox init --dry-run` prints it)") from None
        name = result.properties.name
        (root / name).write_text(result.starter, encoding="utf-8")
        load_properties(root, (name,))


def write(result: Plan) -> list[Path]:
    """Write what ``result`` says to write (never over an existing table or file); the paths written."""
    written = []
    if result.pyproject_text is not None:
        _write_new(result.pyproject, result.pyproject_text, append=result.pyproject.exists())
        written.append(result.pyproject)
    if result.properties_text is not None:
        _write_new(result.properties, result.properties_text, append=False)
        written.append(result.properties)
    return written


def _write_new(path: Path, text: str, *, append: bool) -> None:
    if append:
        before = path.read_text(encoding="utf-8")
        if not text.startswith(before):  # changed since plan(): start again rather than lose an edit
            raise ConfigError(f"{path} changed while init ran; nothing was written to it, run init again")
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text[len(before):])
        return
    with path.open("x", encoding="utf-8") as handle:  # "x": never over a file that appeared meanwhile
        handle.write(text)
