"""Runs INSIDE a worker: builds tensors, calls one kernel, and returns raw facts as data.

With ``_frameworks`` (the torch and jax adapters it drives), the only modules of
``verifiers.numeric`` that import torch or jax, and only the one the kernel needs;
the trusted process calls ``prepare``, ``run`` and ``steps`` by name through the
executor and imports neither.  Nothing here judges: outputs and gradients go back
as float64 numpy arrays with their metadata, plus the raw facts the trusted process
checks (input digests before and after the call, storage overlaps, a repeated
call's digest, the worker's pid).  Errors of the kernel come back as data too.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from typing import TYPE_CHECKING

import numpy as np

from verifiers._trace import traced as _traced
from verifiers.numeric._frameworks import leaves as _leaves
from verifiers.numeric._frameworks import load as _framework
from verifiers.numeric._frameworks import loaded as _loaded

if TYPE_CHECKING:  # the worker watches the modules this one holds: keep ``typing`` out of them
    from typing import Any

__all__ = ["cover", "prepare", "run", "steps"]

_COVER_MODES = {"torch": ("no_grad", "inference_mode"), "jax": ("jit",)}
# Identifies this worker process to the gate (pids repeat across pid namespaces).
_WORKER = os.urandom(16).hex()


def prepare(spec: dict[str, Any]) -> dict[str, Any]:
    """Import the framework and the target's module; report versions and devices."""
    fw = _framework(spec["framework"])
    importlib.import_module(spec["target"].partition(":")[0])
    return {"pid": _WORKER, "versions": fw.versions(), "devices": fw.devices()}


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Call the kernel on one case and return outputs, gradients and anti-cheat facts.

    ``spec["mode"]`` (``no_grad``, ``inference_mode``; ``jit`` for jax) and
    ``spec["threads"]`` (intra-op threads) say how to call it; the inputs are built,
    the call made and repeated inside that mode, as a caller in that mode would.
    """
    fw = _framework(spec["framework"])
    facts: dict[str, Any] = {"pid": _WORKER}
    stage = ["build"]
    try:
        with fw.mode(spec.get("mode"), spec.get("threads")):
            _observe(fw, spec, facts, stage)
    except BaseException as error:  # noqa: BLE001 - the kernel's failure is data for the gate
        facts["error"] = {"stage": stage[0], "type": _type_name(error), "message": _text(error)}
        return facts
    if spec.get("grad"):
        facts["grads"], facts["grad_outputs"] = _gradients(fw, spec)
    return facts


def _observe(fw: Any, spec: dict[str, Any], facts: dict[str, Any], stage: list[str]) -> None:
    """The call, its outputs and the anti-cheat facts, into ``facts``; ``stage[0]`` says how far it got."""
    call, inputs, names = _prepare_call(fw, spec)
    before = [fw.digest(t) for t in inputs]
    _reseed(spec)
    settings = fw.settings()
    stage[0] = "call"
    out = call()
    stage[0] = "convert"
    facts["settings"] = [[name, value, after] for (name, value), after in
                         zip(settings.items(), fw.settings().values()) if value != after]
    # Reported above; put back so the kernel's change does not leak into later calls in this worker.
    fw.restore(settings)
    leaves = _leaves(out, "out")
    facts["outputs"] = [fw.describe(path, leaf) for path, leaf in leaves]
    facts["inputs"] = [{"name": n, "before": b, "after": fw.digest(t)} for n, b, t in zip(names, before, inputs)]
    # Inputs updated in place (optimizer state, running statistics) are results too.
    facts["updated"] = [fw.describe(n, t) for n, b, t in zip(names, before, inputs) if fw.digest(t) != b]
    facts["aliases"] = fw.aliases(leaves, list(zip(names, inputs)))
    stage[0] = "repeat"
    again, _, _ = _prepare_call(fw, spec)
    _reseed(spec)
    second = _leaves(again(), "out")
    facts["repeat"] = [_digest(fw.describe(p, leaf).get("value")) for p, leaf in second]
    # Memory the second call's outputs share with the first's (both still alive): a kernel
    # writing every result into one preallocated buffer overwrites what its caller holds.
    facts["reused"] = fw.aliases(second, leaves)


def cover(spec: dict[str, Any]) -> dict[str, Any]:
    """Call the kernel on one case with jump tracing of its own code; return what each jump saw, as data.

    ``spec`` is a ``run`` spec plus ``trace`` (the definition's ``first``/``last`` lines in its
    file).  The outputs are not returned: the case was compared already; this only says which
    way the kernel's conditions went on it (see ``verifiers._trace``).
    """
    fw = _framework(spec["framework"])
    module = importlib.import_module(spec["target"].partition(":")[0])
    trace = spec["trace"]
    where = (getattr(module, "__file__", None), int(trace["first"]), int(trace["last"]))
    # Every way the comparison called the kernel: plainly, with inputs that require grad (the
    # gradient pass), and in each run-time mode -- a condition on the mode or on requires_grad
    # is taken both ways only across them.
    runs = [(None, False), *([(None, True)] if spec.get("grad") else []),
            *((mode, False) for mode in _COVER_MODES.get(spec["framework"], ()))]
    seen: set[tuple[Any, ...]] = set()
    traced_any = False
    for mode, grad in runs:
        try:
            with fw.mode(mode, None):
                call, _, _ = _prepare_call(fw, {**spec, "mode": mode}, grad=grad)
                _reseed(spec)
                found = _traced(call, *where)
        except BaseException:  # noqa: BLE001 - a mode this kernel cannot run in was skipped by the comparison too
            continue
        traced_any |= found["traced"]
        seen.update(tuple(row) for row in found["seen"])
    return {"seen": [list(row) for row in sorted(seen)], "traced": traced_any}


def _gradients(fw: Any, spec: dict[str, Any]) -> tuple[Any, Any]:
    """Gradients, and the outputs of the same forward pass with autograd on.

    The outputs are returned too because a kernel can see that autograd is on
    (``requires_grad``, ``torch.is_grad_enabled``, a jax tracer) and return other
    values exactly when it matters for training.
    """
    try:
        _reseed(spec)
        # The resolver goes in as an argument: ``_frameworks`` must not import this module back.
        return fw.gradients(spec, lambda: _prepare_call(fw, spec, grad=True), lambda: _resolve(spec, fw, False))
    except BaseException as error:  # noqa: BLE001 - reported, judged by the gate
        return {"error": {"stage": "grad", "type": _type_name(error), "message": _text(error)}}, None


def steps(spec: dict[str, Any]) -> dict[str, Any]:
    """Call the kernel once per step, carrying state, and return outputs and state after every step.

    ``spec["steps"]`` holds the arguments of the steps after the first (fresh
    gradients and the like); ``spec["persist"]`` names inputs the kernel updates in
    place, which keep their tensor from step to step; ``spec["carry"]`` maps a
    parameter to the output path that feeds it at the next step (functional
    optimizers returning their new state).
    """
    fw = _framework(spec["framework"])
    facts: dict[str, Any] = {"pid": _WORKER, "steps": []}
    stage, number = "build", 0
    try:
        function = _resolve(spec, fw, False)
        params = dict(getattr(function, "_numeric_params", []))
        state: dict[str, Any] = {}
        plan = [{"args": spec["args"], "kwargs": spec["kwargs"]}, *spec["steps"]]
        for number, call in enumerate(plan):
            stage = "build"
            args = [state[a["name"]] if a.get("name") in state else fw.build(a, spec, False) for a in call["args"]]
            kwargs = {k: state[k] if k in state else fw.build(v, spec, False) for k, v in call["kwargs"].items()}
            named = {a.get("name"): v for a, v in zip(call["args"], args)} | kwargs
            stage = "call"
            _reseed(spec, number)
            leaves = dict(_leaves(function(*args, **kwargs), "out"))
            stage = "carry"
            for name in spec["persist"]:
                state[name] = params[name] if name in params else named[name]
            for name, path in spec["carry"].items():
                if path not in leaves:
                    raise KeyError(f"output {path} (carried into {name}) is not among the outputs "
                                   f"{', '.join(leaves)}")
                state[name] = leaves[path]
            stage = "convert"
            facts["steps"].append({"outputs": [fw.describe(p, leaf) for p, leaf in leaves.items()],
                                   "state": [fw.describe(n, state[n]) for n in sorted(state)]})
    except BaseException as error:  # noqa: BLE001 - the kernel's failure is data for the gate
        facts["error"] = {"stage": stage, "type": _type_name(error), "message": _text(error), "step": number}
    return facts


def _prepare_call(fw: Any, spec: dict[str, Any], grad: bool = False) -> tuple[Any, list[Any], list[str]]:
    """Build fresh inputs (and the module, for methods); return the call and the tensor inputs."""
    args = [fw.build(a, spec, grad) for a in spec["args"]]
    kwargs = {k: fw.build(v, spec, grad) for k, v in spec["kwargs"].items()}
    names = [a.get("name", f"arg{i}") for i, a in enumerate(spec["args"])] + list(spec["kwargs"])
    values = args + list(kwargs.values())
    tensors = [(n, v) for n, v in zip(names, values) if fw.is_tensor(v)]
    function = _resolve(spec, fw, grad)
    params = getattr(function, "_numeric_params", [])
    call = fw.wrap(function, args, kwargs, None if grad else spec.get("mode"))
    return call, [t for _, t in tensors] + [p for _, p in params], \
        [n for n, _ in tensors] + [f"param:{n}" for n, _ in params]


def _resolve(spec: dict[str, Any], fw: Any, grad: bool) -> Any:
    module_name, _, qualname = spec["target"].partition(":")
    obj: Any = importlib.import_module(module_name)
    module = spec.get("module")
    if module is None:
        for part in qualname.split("."):
            obj = getattr(obj, part)
        return obj
    cls = getattr(obj, module["cls"])
    instance = fw.module(cls, module, spec, grad)
    bound = instance if module["method"] == "forward" else getattr(instance, module["method"])
    params = sorted(instance.named_parameters())

    def call(*args: Any, **kwargs: Any) -> Any:
        return bound(*args, **kwargs)

    call._numeric_params = params  # type: ignore[attr-defined]
    return call


def _digest(value: Any) -> str | None:
    if isinstance(value, np.ndarray):
        return hashlib.sha256(value.tobytes()).hexdigest()
    return None


def _type_name(error: BaseException) -> str:
    kind = type(error)
    return f"{kind.__module__}.{kind.__qualname__}"


def _text(error: BaseException) -> str:
    try:
        return str(error)[:400]
    except BaseException:  # noqa: BLE001 - a hostile __str__
        return "<unprintable>"


def _reseed(spec: dict[str, Any], step: int = 0) -> None:
    """The same random streams before every call of old and new, advanced past the seed.

    Kernels that draw random numbers (dropout) then draw the same ones in both
    workers and on a repeated call; and a kernel that reseeds or rewinds the global
    generator (even to ``initial_seed()``) leaves a state that differs from this one.
    """
    seed = (int(spec.get("weight_seed", 0)) * 1009 + step) % 2 ** 32
    np.random.seed(seed)
    np.random.random(3)
    torch = _loaded("torch")
    if torch is not None:
        torch.torch.manual_seed(seed)
        torch.torch.rand(3)
