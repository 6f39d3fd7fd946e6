"""Runs INSIDE a worker: builds tensors, calls one kernel, and returns raw facts as data.

The only module of ``verifiers.numeric`` that imports torch or jax, and only the one
the kernel needs.  Nothing here judges: outputs and gradients go back as float64
numpy arrays with their metadata, plus the raw facts the trusted process checks
(input digests before and after the call, storage overlaps, a repeated call's
digest, the worker's pid).  Errors of the kernel come back as data too.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the worker watches the modules this one holds: keep ``typing`` out of them
    from typing import Any

__all__ = ["prepare", "run"]

# Identifies this worker process to the gate (pids repeat across pid namespaces).
_WORKER = os.urandom(16).hex()


def prepare(spec: dict[str, Any]) -> dict[str, Any]:
    """Import the framework and the target's module; report versions and devices."""
    fw = _framework(spec["framework"])
    importlib.import_module(spec["target"].partition(":")[0])
    return {"pid": _WORKER, "versions": fw.versions(), "devices": fw.devices()}


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Call the kernel on one case and return outputs, gradients and anti-cheat facts."""
    fw = _framework(spec["framework"])
    facts: dict[str, Any] = {"pid": _WORKER}
    stage = "build"
    try:
        call, inputs, names = _prepare_call(fw, spec)
        before = [fw.digest(t) for t in inputs]
        stage = "call"
        out = call()
        stage = "convert"
        leaves = _leaves(out, "out")
        facts["outputs"] = [fw.describe(path, leaf) for path, leaf in leaves]
        facts["inputs"] = [{"name": n, "before": b, "after": fw.digest(t)} for n, b, t in zip(names, before, inputs)]
        # Inputs updated in place (optimizer state, running statistics) are results too.
        facts["updated"] = [fw.describe(n, t) for n, b, t in zip(names, before, inputs) if fw.digest(t) != b]
        facts["aliases"] = fw.aliases(leaves, list(zip(names, inputs)))
        stage = "repeat"
        again, _, _ = _prepare_call(fw, spec)
        facts["repeat"] = [_digest(fw.describe(p, leaf).get("value")) for p, leaf in _leaves(again(), "out")]
    except BaseException as error:  # noqa: BLE001 - the kernel's failure is data for the gate
        facts["error"] = {"stage": stage, "type": _type_name(error), "message": _text(error)}
        return facts
    if spec.get("grad"):
        facts["grads"] = _gradients(fw, spec)
    return facts


def _gradients(fw: Any, spec: dict[str, Any]) -> Any:
    try:
        return fw.gradients(spec, lambda: _prepare_call(fw, spec, grad=True))
    except BaseException as error:  # noqa: BLE001 - reported, judged by the gate
        return {"error": {"stage": "grad", "type": _type_name(error), "message": _text(error)}}


def _prepare_call(fw: Any, spec: dict[str, Any], grad: bool = False) -> tuple[Any, list[Any], list[str]]:
    """Build fresh inputs (and the module, for methods); return the call and the tensor inputs."""
    args = [fw.build(a, spec, grad) for a in spec["args"]]
    kwargs = {k: fw.build(v, spec, grad) for k, v in spec["kwargs"].items()}
    names = [a.get("name", f"arg{i}") for i, a in enumerate(spec["args"])] + list(spec["kwargs"])
    values = args + list(kwargs.values())
    tensors = [(n, v) for n, v in zip(names, values) if fw.is_tensor(v)]
    function = _resolve(spec, fw, grad)
    params = getattr(function, "_numeric_params", [])
    return (lambda: function(*args, **kwargs)), [t for _, t in tensors] + [p for _, p in params], \
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


def _leaves(out: Any, path: str) -> list[tuple[str, Any]]:
    if isinstance(out, (tuple, list)):
        return [leaf for i, v in enumerate(out) for leaf in _leaves(v, f"{path}[{i}]")]
    if isinstance(out, dict):
        return [leaf for k, v in out.items() for leaf in _leaves(v, f"{path}[{k!r}]")]
    return [(path, out)]


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


def _weights(seed: int, index: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng([seed, index]).standard_normal(shape)


def _init_value(seed: int, index: int, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Seed-determined parameter values, identical in the old and the new worker."""
    rng = np.random.default_rng([seed, index])
    if len(shape) <= 1 and name.endswith("weight"):
        return 1.0 + 0.1 * rng.standard_normal(shape)
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    return rng.standard_normal(shape) / np.sqrt(max(fan_in, 1)) * (0.1 if len(shape) <= 1 else 1.0)


def _array(arg: dict[str, Any], spec: dict[str, Any]) -> np.ndarray:
    array = arg["array"]
    return np.asarray(array, dtype=np.float64) if arg.get("float") else np.array(array)


class _Torch:
    def __init__(self) -> None:
        import torch

        self.torch = torch

    def versions(self) -> dict[str, str]:
        return {"torch": self.torch.__version__, "numpy": np.__version__}

    def devices(self) -> list[str]:
        return ["cpu"] + (["cuda"] if self.torch.cuda.is_available() else [])

    def dtype(self, name: str) -> Any:
        return getattr(self.torch, name)

    def is_tensor(self, value: Any) -> bool:
        return isinstance(value, self.torch.Tensor)

    def build(self, arg: dict[str, Any], spec: dict[str, Any], grad: bool) -> Any:
        if "array" not in arg:
            return arg.get("value")
        torch, array = self.torch, _array(arg, spec)
        transposed = arg.get("layout") == "transposed" and array.ndim >= 2
        base = np.ascontiguousarray(np.swapaxes(array, -1, -2) if transposed else array)
        tensor = torch.from_numpy(base).to(spec["device"])
        if arg.get("float"):
            tensor = tensor.to(self.dtype(spec["dtype"]))
        if grad and arg.get("float"):
            tensor.requires_grad_(True)
        return tensor.transpose(-1, -2) if transposed else tensor

    def module(self, cls: Any, module: dict[str, Any], spec: dict[str, Any], grad: bool) -> Any:
        torch = self.torch
        torch.manual_seed(module["param_seed"])
        instance = cls(**module.get("init", {}))
        with torch.no_grad():
            for index, (name, param) in enumerate(sorted(instance.named_parameters())):
                value = _init_value(module["param_seed"], index, name, tuple(param.shape))
                param.copy_(torch.from_numpy(value).to(param.dtype))
        instance = instance.to(device=spec["device"], dtype=self.dtype(spec["dtype"]))
        instance.eval()
        instance.requires_grad_(grad)
        return instance

    def describe(self, path: str, leaf: Any) -> dict[str, Any]:
        torch = self.torch
        if not isinstance(leaf, torch.Tensor):
            return {"path": path, "tensor": False, "type": type(leaf).__name__,
                    "plain": leaf if isinstance(leaf, (int, float, bool, str, type(None))) else None}
        data = leaf.detach()
        return {"path": path, "tensor": True, "dtype": str(data.dtype).removeprefix("torch."),
                "shape": list(data.shape), "device": str(data.device), "contiguous": data.is_contiguous(),
                "floating": bool(data.is_floating_point()),
                "value": data.to("cpu", torch.float64).numpy().copy()}

    def digest(self, tensor: Any) -> str:
        data = tensor.detach().to("cpu", self.torch.float64).contiguous().numpy()
        return hashlib.sha256(data.tobytes()).hexdigest()

    def aliases(self, leaves: list[tuple[str, Any]], inputs: list[tuple[str, Any]]) -> list[list[str]]:
        found = []
        for path, leaf in leaves:
            if not isinstance(leaf, self.torch.Tensor):
                continue
            lo, hi = self._span(leaf)
            found += [[path, name] for name, t in inputs if self._span(t)[0] < hi and lo < self._span(t)[1]]
        return found

    @staticmethod
    def _span(tensor: Any) -> tuple[int, int]:
        storage = tensor.untyped_storage()
        return storage.data_ptr(), storage.data_ptr() + max(storage.nbytes(), 1)

    def gradients(self, spec: dict[str, Any], make: Any) -> Any:
        torch = self.torch
        call, inputs, names = make()
        wanted = [(n, t) for n, t in zip(names, inputs) if t.is_floating_point() and t.requires_grad]
        if not wanted:
            return []
        leaves = [leaf for _, leaf in _leaves(call(), "out")]
        terms = [(leaf.to(torch.float64) * torch.from_numpy(_weights(spec["weight_seed"], i, tuple(leaf.shape)))
                  .to(leaf.device)).sum() for i, leaf in enumerate(leaves)
                 if isinstance(leaf, torch.Tensor) and leaf.is_floating_point() and leaf.requires_grad]
        if not terms:
            return []
        grads = torch.autograd.grad(sum(terms), [t for _, t in wanted], allow_unused=True)
        return [self._grad(n, t, g) for (n, t), g in zip(wanted, grads)]

    def _grad(self, name: str, tensor: Any, grad: Any) -> dict[str, Any]:
        if grad is None:
            grad = self.torch.zeros_like(tensor)
        return {"name": name, "dtype": str(grad.dtype).removeprefix("torch."), "shape": list(grad.shape),
                "device": str(grad.device), "value": grad.detach().to("cpu", self.torch.float64).numpy().copy()}


class _Jax:
    def __init__(self) -> None:
        import jax

        # The float64 oracle needs x64; old and new run under the same setting.
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        self.jax, self.jnp = jax, jnp

    def versions(self) -> dict[str, str]:
        import jaxlib

        return {"jax": self.jax.__version__, "jaxlib": jaxlib.__version__, "numpy": np.__version__}

    def devices(self) -> list[str]:
        return sorted({d.platform for d in self.jax.devices()})

    def is_tensor(self, value: Any) -> bool:
        return isinstance(value, self.jax.Array)

    def build(self, arg: dict[str, Any], spec: dict[str, Any], grad: bool) -> Any:
        if "array" not in arg:
            return arg.get("value")
        array = _array(arg, spec)
        device = [d for d in self.jax.devices() if d.platform == spec["device"]][0]
        value = self.jnp.asarray(array).astype(spec["dtype"]) if arg.get("float") else self.jnp.asarray(array)
        return self.jax.device_put(value, device)

    def module(self, cls: Any, module: dict[str, Any], spec: dict[str, Any], grad: bool) -> Any:
        raise TypeError("class-based jax kernels are not supported; state a function kernel")

    def describe(self, path: str, leaf: Any) -> dict[str, Any]:
        if not isinstance(leaf, self.jax.Array):
            return {"path": path, "tensor": False, "type": type(leaf).__name__,
                    "plain": leaf if isinstance(leaf, (int, float, bool, str, type(None))) else None}
        device = ",".join(sorted(d.platform for d in leaf.devices()))
        return {"path": path, "tensor": True, "dtype": str(leaf.dtype), "shape": list(leaf.shape),
                "device": device, "contiguous": True, "floating": bool(self.jnp.issubdtype(leaf.dtype, self.jnp.floating)),
                "value": np.asarray(leaf.astype(self.jnp.float64)).copy()}

    def digest(self, array: Any) -> str:
        return hashlib.sha256(np.asarray(array.astype(self.jnp.float64)).tobytes()).hexdigest()

    def aliases(self, leaves: list[tuple[str, Any]], inputs: list[tuple[str, Any]]) -> list[list[str]]:
        return []  # jax arrays are immutable: sharing a buffer cannot leak a later write

    def gradients(self, spec: dict[str, Any], make: Any) -> Any:
        jax, jnp = self.jax, self.jnp
        _, inputs, names = make()
        args = [self.build(a, spec, False) for a in spec["args"]]
        kwargs = {k: self.build(v, spec, False) for k, v in spec["kwargs"].items()}
        function = _resolve(spec, self, False)
        slots = [i for i, a in enumerate(spec["args"]) if a.get("float") and "array" in a]
        if not slots:
            return []

        def loss(*floats: Any) -> Any:
            full = list(args)
            for i, value in zip(slots, floats):
                full[i] = value
            leaves = [leaf for _, leaf in _leaves(function(*full, **kwargs), "out")]
            return sum(jnp.sum(leaf.astype(jnp.float64) * _weights(spec["weight_seed"], i, tuple(leaf.shape)))
                       for i, leaf in enumerate(leaves)
                       if isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jnp.floating))

        grads = jax.grad(loss, argnums=tuple(range(len(slots))))(*[args[i] for i in slots])
        label = [a.get("name", f"arg{i}") for i, a in enumerate(spec["args"])]
        return [{"name": label[i], "dtype": str(g.dtype), "shape": list(g.shape),
                 "device": ",".join(sorted(d.platform for d in g.devices())),
                 "value": np.asarray(g.astype(jnp.float64)).copy()} for i, g in zip(slots, grads)]


_FRAMEWORKS: dict[str, Any] = {}


def _framework(name: str) -> Any:
    if name not in _FRAMEWORKS:
        _FRAMEWORKS[name] = {"torch": _Torch, "jax": _Jax}[name]()
    return _FRAMEWORKS[name]
