"""Runs INSIDE a worker: CrossHair's path search over this side's version of one function.

The trusted side calls ``cover`` by name through the executor; CrossHair is imported here,
lazily, and only in the worker.  Nothing here judges: ``cover`` returns the concrete inputs
CrossHair found for the paths it explored, as plain data, with how far it got.  The trusted
side replays those inputs on both versions and compares the results itself.

z3 (through ``ctypes.CDLL``) and ``crosshair.tracers`` (``ctypes.pythonapi``) look up native
symbols when imported, an event (``ctypes.dlsym``) the worker's audit hook refuses: importing
them here would kill the worker.  So ``cover`` searches only where the worker imported both
before it installed its hook (``NEEDS_PRELOAD``), and otherwise says so, as data.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

__all__ = ["NEEDS_PRELOAD", "cover"]

# What a worker must import before its audit hook for CrossHair to load in it.
NEEDS_PRELOAD = ("z3", "crosshair.tracers")

# Values that cross back as inputs: exactly these types, so no CrossHair proxy or candidate
# subclass (with its own ``__eq__`` or ``__repr__``) rides along.
_ATOMS = frozenset({int, float, complex, str, bytes, bool, type(None)})
_CONTAINERS = frozenset({list, tuple, dict, set, frozenset})
_MAX_NODES = 10_000


def cover(spec: dict) -> dict:
    """Explore the paths of ``spec["target"]`` (``"module:qualname"``) and return inputs covering them.

    ``spec``: ``target``; ``max_iterations`` (paths tried, the deterministic budget);
    ``per_path_timeout`` and ``per_condition_timeout`` (CPU seconds: safety caps only).
    Answers ``{"status": "ok", "inputs": [[args, kwargs], ...], "paths": N, "iterations": M,
    "dropped": D, "capped": bool}`` or ``{"status": <problem>, "message": ...}``.
    """
    if importlib.util.find_spec("crosshair") is None or importlib.util.find_spec("z3") is None:
        return {"status": "missing", "message": "no module named crosshair (or z3) in the worker's Python"}
    absent = [name for name in NEEDS_PRELOAD if name not in sys.modules]
    if absent:
        return {"status": "not-preloaded", "message": f"not imported before the audit hook: {', '.join(absent)}"}
    try:
        engine = _engine()
    except ImportError as error:
        return {"status": "missing", "message": f"{type(error).__name__}: {error}"}
    try:
        function = _resolve(spec["target"])
    except (ImportError, AttributeError) as error:
        return {"status": "unresolved", "message": f"{type(error).__name__}: {error}"}
    return _search(engine, function, spec)


def _engine() -> dict:
    import crosshair.core_and_libs  # noqa: F401 - registers the symbolic models of builtins and stdlib
    from crosshair.fnutil import FunctionInfo
    from crosshair.options import DEFAULT_OPTIONS, AnalysisOptionSet
    from crosshair.path_cover import CoverageType, path_cover

    return {"info": FunctionInfo, "defaults": DEFAULT_OPTIONS, "options": AnalysisOptionSet,
            "kind": CoverageType.PATH, "cover": path_cover}


def _resolve(target: str) -> object:
    module, _, qualname = target.partition(":")
    found: object = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    return found


def _search(engine: dict, function: object, spec: dict) -> dict:
    import collections
    import time

    # No contract syntax (analysis_kind=()): the candidate's docstrings must not steer the search.
    options = engine["defaults"].overlay(engine["options"](
        analysis_kind=(), max_iterations=int(spec["max_iterations"]),
        per_path_timeout=float(spec["per_path_timeout"]),
        per_condition_timeout=float(spec["per_condition_timeout"])))
    options.stats = collections.Counter()
    started = time.process_time()
    info = engine["info"].from_fn(function)
    if info.get_callable() is None:
        return {"status": "signature", "message": "CrossHair could not resolve the signature (are the "
                                                  "annotations resolvable at run time?)"}
    paths = engine["cover"](info, options, engine["kind"])
    inputs, dropped = [], 0
    for path in paths:
        plain = _plain([list(path.args.args), dict(path.args.kwargs)])
        if plain is None:
            dropped += 1
        else:
            inputs.append(plain)
    used = time.process_time() - started
    return {"status": "ok", "inputs": inputs, "paths": len(paths), "dropped": dropped,
            "iterations": int(options.stats.get("num_paths", 0)),
            "capped": used >= float(spec["per_condition_timeout"]), "cpu": round(used, 3)}


def _plain(value: object) -> object | None:
    """``value`` rebuilt from exact builtin types, or ``None`` if any part of it is something else."""
    budget = [_MAX_NODES]

    def walk(item: object) -> object:
        budget[0] -= 1
        kind = type(item)
        if budget[0] < 0 or (kind not in _ATOMS and kind not in _CONTAINERS):
            raise _NotPlain
        if kind in _ATOMS:
            return item
        if kind is dict:
            return {walk(k): walk(v) for k, v in item.items()}  # type: ignore[union-attr]
        return kind(walk(v) for v in item)  # type: ignore[operator, union-attr]

    try:
        return walk(value)
    except _NotPlain:
        return None


class _NotPlain(Exception):
    pass
