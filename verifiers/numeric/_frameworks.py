"""Runs INSIDE a worker: the torch and jax adapters ``_harness`` drives through one interface.

With ``_harness``, the only modules of ``verifiers.numeric`` that import torch or jax,
and only inside a worker: an adapter imports its framework when ``load`` first builds
it, never when this module is imported, so a process that merely imports the package
never pays for torch or jax.  Each adapter builds tensors from the plan's arrays,
describes outputs as float64 numpy arrays with their metadata, digests tensors, reads
(and restores) the process-wide settings a kernel could change behind its caller's
back, and computes the gradients of a seeded weighted sum of the outputs.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the worker watches the modules the harness holds (this one too): keep ``typing`` out of them
    from typing import Any, Callable

__all__ = ["Jax", "Torch", "leaves", "load", "loaded"]

# The run-time modes each adapter can call a kernel in (the trusted side names them in
# ``_modes``); the first is the plain call every comparison makes.
TORCH_MODES = ("default", "no_grad", "inference_mode")
JAX_MODES = ("eager", "jit")

# One adapter per framework and worker: ``load`` builds it (and imports its framework) once.
_FRAMEWORKS: dict[str, Any] = {}


def load(name: str) -> Any:
    """The adapter of framework ``name`` ("torch" or "jax"), imported and built on first use, then cached."""
    if name not in _FRAMEWORKS:
        _FRAMEWORKS[name] = {"torch": Torch, "jax": Jax}[name]()
    return _FRAMEWORKS[name]


def loaded(name: str) -> Any:
    """The adapter of ``name`` if this worker already loaded it, else None (never imports a framework)."""
    return _FRAMEWORKS.get(name)


def leaves(out: Any, path: str) -> list[tuple[str, Any]]:
    """The tensors (and other leaves) of a kernel's result, each with its path below ``path``."""
    if isinstance(out, (tuple, list)):
        return [leaf for i, v in enumerate(out) for leaf in leaves(v, f"{path}[{i}]")]
    if isinstance(out, dict):
        return [leaf for k, v in out.items() for leaf in leaves(v, f"{path}[{k!r}]")]
    return [(path, out)]


def _weights(seed: int, index: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng([seed, index]).standard_normal(shape)


def _init_value(seed: int, index: int, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Seed-determined parameter values, identical in the old and the new worker."""
    rng = np.random.default_rng([seed, index])
    if len(shape) <= 1 and name.endswith("weight"):
        return 1.0 + 0.1 * rng.standard_normal(shape)
    fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    return rng.standard_normal(shape) / np.sqrt(max(fan_in, 1)) * (0.1 if len(shape) <= 1 else 1.0)


def _read(getter: Any) -> str:
    try:
        return str(getter())
    except Exception as error:  # noqa: BLE001 - a setting that cannot be read is a value to compare too
        return f"<{type(error).__name__}>"


def _numpy_rng() -> str:
    state = np.random.get_state()
    return hashlib.sha256(np.asarray(state[1]).tobytes() + repr(state[2:]).encode()).hexdigest()[:16]


class _Mode:
    """Enters a run-time mode (and an intra-op thread count) around one call, and leaves it as it was.

    A small class rather than ``contextlib``: the worker watches the modules the
    harness holds, and this keeps the set of them small.
    """

    def __init__(self, manager: Any, threads: Any = None) -> None:
        self.manager, self.threads, self.before = manager, threads, None

    def __enter__(self) -> None:
        if self.threads is not None:
            self.before = self.threads[0]()
            self.threads[1](self.threads[2])
        if self.manager is not None:
            self.manager.__enter__()

    def __exit__(self, *exc: Any) -> None:
        if self.manager is not None:
            self.manager.__exit__(*exc)
        if self.before is not None:
            self.threads[1](self.before)


def _array(arg: dict[str, Any], spec: dict[str, Any]) -> np.ndarray:
    array = arg["array"]
    return np.asarray(array, dtype=np.float64) if arg.get("float") else np.array(array)


# The adapter interface ``_harness`` relies on, the same in both classes: versions,
# devices, mode / wrap, settings / restore, is_tensor, build, module, describe, digest,
# aliases, gradients.  Plain duck typing: a Protocol would need ``typing`` at run time.
class Torch:
    """torch behind the adapter interface; importing torch is deferred to construction."""

    def __init__(self) -> None:
        import torch

        self.torch = torch

    def versions(self) -> dict[str, str]:
        return {"torch": self.torch.__version__, "numpy": np.__version__}

    def devices(self) -> list[str]:
        return ["cpu"] + (["cuda"] if self.torch.cuda.is_available() else [])

    def dtype(self, name: str) -> Any:
        return getattr(self.torch, name)

    def mode(self, name: str | None, threads: int | None) -> _Mode:
        """``torch.no_grad()`` / ``torch.inference_mode()`` (or neither), at ``threads`` intra-op threads if given."""
        torch = self.torch
        if name not in (None, *TORCH_MODES):
            raise ValueError(f"unknown torch mode {name!r}; expected one of {', '.join(TORCH_MODES)}")
        manager = {"no_grad": torch.no_grad, "inference_mode": torch.inference_mode}.get(name or "")
        counts = None if threads is None else (torch.get_num_threads, torch.set_num_threads, int(threads))
        return _Mode(None if manager is None else manager(), counts)

    def wrap(self, function: Any, args: list[Any], kwargs: dict[str, Any], mode: str | None) -> Any:
        return lambda: function(*args, **kwargs)

    def settings(self) -> dict[str, str]:
        """Process-wide state a kernel could change behind its caller's back (precision, RNG, modes)."""
        torch = self.torch
        found = {name: _read(getter) for name, getter in self._settings().items()}
        found["torch random state"] = hashlib.sha256(torch.random.get_rng_state().numpy().tobytes()).hexdigest()[:16]
        found["numpy random state"] = _numpy_rng()
        if torch.cuda.is_available():
            found["torch.cuda random state"] = hashlib.sha256(
                b"".join(s.numpy().tobytes() for s in torch.cuda.get_rng_state_all())).hexdigest()[:16]
        return found

    def _settings(self) -> dict[str, Any]:
        torch, backends = self.torch, self.torch.backends
        return {
            "torch.get_default_dtype()": torch.get_default_dtype,
            "torch.get_float32_matmul_precision()": torch.get_float32_matmul_precision,
            "torch.is_grad_enabled()": torch.is_grad_enabled,
            "torch.is_inference_mode_enabled()": torch.is_inference_mode_enabled,
            "torch.is_anomaly_enabled()": torch.is_anomaly_enabled,
            "torch.is_autocast_enabled('cpu')": lambda: torch.is_autocast_enabled("cpu"),
            "torch.are_deterministic_algorithms_enabled()": torch.are_deterministic_algorithms_enabled,
            "torch.get_num_threads()": torch.get_num_threads,
            # The legacy flags raise once the new precision API was used: the error is a value too.
            "torch.backends.cudnn.allow_tf32": lambda: backends.cudnn.allow_tf32,
            "torch.backends.cudnn.benchmark": lambda: backends.cudnn.benchmark,
            "torch.backends.cudnn.deterministic": lambda: backends.cudnn.deterministic,
            "torch.backends.cuda.matmul.allow_tf32": lambda: backends.cuda.matmul.allow_tf32,
            "torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction":
                lambda: backends.cuda.matmul.allow_fp16_reduced_precision_reduction,
            "torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction":
                lambda: backends.cuda.matmul.allow_bf16_reduced_precision_reduction,
        }

    def restore(self, settings: dict[str, str]) -> None:
        """Put back what the call changed, as far as torch allows (best effort; the change is already reported)."""
        torch = self.torch
        now = self.settings()
        setters = {
            "torch.get_default_dtype()": lambda v: torch.set_default_dtype(getattr(torch, v.removeprefix("torch."))),
            "torch.get_float32_matmul_precision()": torch.set_float32_matmul_precision,
            "torch.is_grad_enabled()": lambda v: torch.set_grad_enabled(v == "True"),
            "torch.is_anomaly_enabled()": lambda v: torch.set_anomaly_enabled(v == "True"),
            "torch.are_deterministic_algorithms_enabled()": lambda v: torch.use_deterministic_algorithms(v == "True"),
            "torch.get_num_threads()": lambda v: torch.set_num_threads(int(v)),
            "torch.backends.cudnn.benchmark": lambda v: setattr(torch.backends.cudnn, "benchmark", v == "True"),
            "torch.backends.cudnn.deterministic":
                lambda v: setattr(torch.backends.cudnn, "deterministic", v == "True"),
        }
        for name, setter in setters.items():
            if now.get(name) != settings.get(name):
                try:
                    setter(settings[name])
                except Exception:  # noqa: BLE001 - best effort: the worker keeps running either way
                    pass

    def is_tensor(self, value: Any) -> bool:
        return isinstance(value, self.torch.Tensor)

    def build(self, arg: dict[str, Any], spec: dict[str, Any], grad: bool) -> Any:
        if "array" not in arg:
            return arg.get("value")
        torch, array = self.torch, _array(arg, spec)
        transposed = arg.get("layout") == "transposed" and array.ndim >= 2
        # reshape: np.ascontiguousarray turns a 0-d array into shape (1,)
        base = np.ascontiguousarray(np.swapaxes(array, -1, -2) if transposed else array).reshape(
            array.shape[:-2] + array.shape[:-3:-1] if transposed else array.shape)
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

    def gradients(self, spec: dict[str, Any], make: Any, resolve: Callable[[], Any]) -> Any:
        """``make()`` builds the call with autograd on; ``resolve`` is unused (the call already holds the kernel)."""
        torch = self.torch
        call, inputs, names = make()
        wanted = [(n, t) for n, t in zip(names, inputs) if t.is_floating_point() and t.requires_grad]
        if not wanted:
            return [], None
        paths = leaves(call(), "out")
        outputs = [self.describe(path, leaf) for path, leaf in paths]
        values = [leaf for _, leaf in paths]
        terms = [(leaf.to(torch.float64) * torch.from_numpy(_weights(spec["weight_seed"], i, tuple(leaf.shape)))
                  .to(leaf.device)).sum() for i, leaf in enumerate(values)
                 if isinstance(leaf, torch.Tensor) and leaf.is_floating_point() and leaf.requires_grad]
        if not terms:
            return [], outputs
        grads = torch.autograd.grad(sum(terms), [t for _, t in wanted], allow_unused=True)
        return [self._grad(n, t, g) for (n, t), g in zip(wanted, grads)], outputs

    def _grad(self, name: str, tensor: Any, grad: Any) -> dict[str, Any]:
        if grad is None:
            grad = self.torch.zeros_like(tensor)
        return {"name": name, "dtype": str(grad.dtype).removeprefix("torch."), "shape": list(grad.shape),
                "device": str(grad.device), "value": grad.detach().to("cpu", self.torch.float64).numpy().copy()}


class Jax:
    """jax behind the adapter interface (with x64 on); importing jax is deferred to construction."""

    def __init__(self) -> None:
        import jax

        # The float64 oracle needs x64; old and new run under the same setting.
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp

        self.jax, self.jnp = jax, jnp
        self._jitted: dict[Any, Any] = {}

    def versions(self) -> dict[str, str]:
        import jaxlib

        return {"jax": self.jax.__version__, "jaxlib": jaxlib.__version__, "numpy": np.__version__}

    def devices(self) -> list[str]:
        return sorted({d.platform for d in self.jax.devices()})

    def mode(self, name: str | None, threads: int | None) -> _Mode:
        """jax has no global modes to enter (``jit`` is applied by ``wrap``); XLA fixes its threads at start-up."""
        if name not in (None, *JAX_MODES):
            raise ValueError(f"unknown jax mode {name!r}; expected one of {', '.join(JAX_MODES)}")
        return _Mode(None)

    def wrap(self, function: Any, args: list[Any], kwargs: dict[str, Any], mode: str | None) -> Any:
        """The call, eagerly or under ``jax.jit``: only array arguments are traced, the rest stay Python values."""
        if mode != "jit":
            return lambda: function(*args, **kwargs)
        jax = self.jax
        static = tuple(i for i, a in enumerate(args) if not isinstance(a, jax.Array))
        names = tuple(k for k, v in kwargs.items() if not isinstance(v, jax.Array))
        try:
            hash((function, *(args[i] for i in static), *(kwargs[k] for k in names)))
        except TypeError:  # an unhashable Python argument (a list): traced afresh on every call
            return lambda: jax.jit(lambda *a, **k: function(*a, **k), static_argnums=static,
                                   static_argnames=names)(*args, **kwargs)
        # One jitted function per kernel, so the repeated call reuses the compilation (about 0.1 s a shape).
        key = (function, static, names)
        if key not in self._jitted:
            self._jitted[key] = jax.jit(function, static_argnums=static, static_argnames=names)
        return lambda: self._jitted[key](*args, **kwargs)

    def settings(self) -> dict[str, str]:
        """Process-wide state a kernel could change behind its caller's back (precision, RNG, modes)."""
        config = self.jax.config
        names = ("jax_enable_x64", "jax_default_matmul_precision", "jax_numpy_rank_promotion",
                 "jax_default_prng_impl", "jax_disable_jit", "jax_debug_nans", "jax_numpy_dtype_promotion")
        found = {f"jax.config.{name}": str(getattr(config, name, None)) for name in names}
        found["numpy random state"] = _numpy_rng()
        return found

    def restore(self, settings: dict[str, str]) -> None:
        pass  # jax's configuration is read at trace time; a change is reported, and x64 must stay on

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

    def gradients(self, spec: dict[str, Any], make: Any, resolve: Callable[[], Any]) -> Any:
        """``make()`` builds the call as torch would; ``resolve()`` gives the plain kernel, which jax traces itself.

        The harness owns resolving the target (and imports this module), so it passes
        the resolver in rather than this module importing the harness back.
        """
        jax, jnp = self.jax, self.jnp
        _, inputs, names = make()
        args = [self.build(a, spec, False) for a in spec["args"]]
        kwargs = {k: self.build(v, spec, False) for k, v in spec["kwargs"].items()}
        function = resolve()
        slots = [i for i, a in enumerate(spec["args"]) if a.get("float") and "array" in a]
        if not slots:
            return [], None

        paths: list[str] = []

        def loss(*floats: Any) -> Any:
            full = list(args)
            for i, value in zip(slots, floats):
                full[i] = value
            found = leaves(function(*full, **kwargs), "out")
            paths[:] = [path for path, _ in found]
            total = sum(jnp.sum(leaf.astype(jnp.float64) * _weights(spec["weight_seed"], i, tuple(leaf.shape)))
                        for i, (_, leaf) in enumerate(found)
                        if isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jnp.floating))
            return total, tuple(leaf for _, leaf in found)

        backward = jax.grad(loss, argnums=tuple(range(len(slots))), has_aux=True)
        floats = [args[i] for i in slots]
        try:
            # Eager jax compiles every primitive for every new shape (about 1 s per case on a
            # CPU); traced once under jit it is about 0.1 s.  Training steps run under jit too.
            grads, outputs = jax.jit(backward)(*floats)
        except Exception:  # noqa: BLE001 - not traceable (value-dependent Python, non-array output): run eagerly
            grads, outputs = backward(*floats)
        label = [a.get("name", f"arg{i}") for i, a in enumerate(spec["args"])]
        return [{"name": label[i], "dtype": str(g.dtype), "shape": list(g.shape),
                 "device": ",".join(sorted(d.platform for d in g.devices())),
                 "value": np.asarray(g.astype(jnp.float64)).copy()} for i, g in zip(slots, grads)], \
            [self.describe(path, leaf) for path, leaf in zip(paths, outputs)]

