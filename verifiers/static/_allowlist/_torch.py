"""torch: tensor operations, modules, functional forms, optimizers, autograd.

Denied inside the allowed namespaces: files (``save``, ``load``, ``from_file``),
global RNG seeding, process-wide settings (``set_*``, deterministic modes,
threads), readers of those settings and of the device, compilers (``compile``,
``jit``, ``fx``), and every submodule that reaches processes, the network,
native code, devices or the hub — including the standard-library modules torch
re-exports by accident (``torch.os``, ``torch.sys``, ``torch.nn.functional.importlib``).
"""

from __future__ import annotations

from verifiers.static._allowlist._table import Denial, Table

__all__ = ["TORCH"]

_NAMESPACES = ("torch", "torch.nn", "torch.nn.functional", "torch.nn.init", "torch.nn.utils", "torch.nn.utils.rnn",
               "torch.nn.utils.parametrize", "torch.nn.utils.parametrizations", "torch.linalg", "torch.fft",
               "torch.special", "torch.optim", "torch.optim.lr_scheduler", "torch.distributions",
               "torch.distributions.constraints", "torch.distributions.transforms", "torch.func", "torch.masked",
               "torch.nested", "torch.sparse", "torch.autograd.functional", "torch.autograd.forward_ad",
               "torch.Tensor", "torch.nn.Module", "torch.nn.Parameter", "torch.types", "torch.return_types")

_SETTINGS = "changes a process-wide setting other code depends on; pass it explicitly or use a `with` block"
_READS = "reads a process-wide setting or the device: behaviour would depend on how the process was set up"
_MODULE = "a module whose contents are not on the allow-list"

_DENY = {
    "torch.save": Denial("file-write", "writes a file"),
    "torch.load": Denial("dynamic-code", "reads a file and unpickles it"),
    "torch.from_file": Denial("file-write", "maps a file into memory (shared=True writes it)"),
    "torch.UntypedStorage.from_file": Denial("file-write", "maps a file into memory"),
    "torch.TypedStorage.from_file": Denial("file-write", "maps a file into memory"),
    **{f"torch.{n}": Denial("ambient-state", "seeds or rewinds the global random generator, which the checker "
                            "reseeds before every call; take a torch.Generator as an argument")
       for n in ("manual_seed", "seed", "initial_seed", "set_rng_state", "get_rng_state", "default_generator",
                 "random")},
    "torch.set_*": Denial("ambient-state", _SETTINGS),
    "torch.use_deterministic_algorithms": Denial("ambient-state", _SETTINGS),
    **{f"torch.{p}": Denial("ambient-state", _READS) for p in (
        "get_default_*", "get_num_*", "get_float32_matmul_precision", "get_deterministic_debug_mode",
        "get_autocast_*", "get_device_module", "get_file_path", "are_deterministic_algorithms_enabled",
        "is_deterministic_algorithms_warn_only_enabled", "is_grad_enabled", "is_inference_mode_enabled",
        "is_anomaly_*", "is_autocast_*", "is_warn_always_enabled", "is_vulkan_available", "is_distributed",
        "compiled_with_cxx11_abi", "accelerator", "cuda", "mps", "xpu", "mtia", "cpu", "backends", "version",
        "torch_version", "__config__")},
    "torch.compile": Denial("native-code", "generates and compiles native code in compiler processes"),
    "torch.compiler": Denial("native-code", "generates and compiles native code"),
    "torch.jit": Denial("native-code", "compiles TorchScript and loads or saves archives"),
    "torch.fx": Denial("dynamic-code", "generates Python source and executes it"),
    "torch.hub": Denial("network", "downloads and runs code from the internet"),
    "torch.distributed": Denial("network", "opens connections to other processes"),
    "torch.multiprocessing": Denial("subprocess", "starts processes"),
    "torch.utils": Denial("unlisted-call", "holds file, process and native-extension helpers; only "
                          "torch.utils.checkpoint and the torch.utils.data containers are listed"),
    "torch.ops": Denial("native-code", "the registry of native operators (load_library loads shared objects)"),
    "torch.library": Denial("module-mutation", "registers operators for every caller"),
    "torch.classes": Denial("native-code", "loads native classes"),
    "torch.profiler": Denial("file-write", "writes traces"),
    "torch.autograd.profiler": Denial("file-write", "writes traces"),
    "torch.autograd.graph": Denial("module-mutation", "installs process-wide saved-tensor hooks"),
    "torch.autograd.set_grad_enabled": Denial("ambient-state", _SETTINGS),
    "torch.autograd.set_detect_anomaly": Denial("ambient-state", _SETTINGS),
    "torch.onnx": Denial("file-write", "exports models to files"),
    "torch.export": Denial("file-write", "serialises programs"),
    "torch.package": Denial("dynamic-code", "reads, writes and imports packaged code"),
    "torch.serialization": Denial("dynamic-code", "reads, writes and unpickles files"),
    "torch.storage": Denial("file-write", "storage helpers map files into memory"),
    "torch.overrides": Denial("module-mutation", "installs modes that intercept every torch call"),
    "torch.testing": Denial("checker-reference", "the test harness"),
    "torch.monitor": Denial("ambient-state", "process-wide event handlers"),
    "torch.futures": Denial("ambient-state", "asynchronous work that outlives the call"),
    "torch.quantization": Denial("unlisted-call", _MODULE),
    "torch.ao": Denial("unlisted-call", _MODULE),
    "torch.quasirandom": Denial("unlisted-call", _MODULE),
    "torch.functional": Denial("unlisted-call", "use the same functions at torch.*"),
    "torch.amp.grad_scaler": Denial("unlisted-call", _MODULE),
    "torch.nn.modules": Denial("unlisted-call", "holds module-level hook registries; use torch.nn.*"),
    "torch.nn.parallel": Denial("network", "data-parallel wrappers start devices and processes"),
    "torch.nn.attention": Denial("ambient-state", "selects kernels process-wide"),
    **{f"torch.nn.{n}": Denial("unlisted-call", _MODULE)
       for n in ("intrinsic", "qat", "quantizable", "quantized", "grad", "common_types", "parameter")},
    "torch.nn.utils.stateless": Denial("module-mutation", "swaps a module's parameters in place"),
    **{f"torch.nn.utils.{n}": Denial("unlisted-call", "use the same functions at torch.nn.utils.*")
       for n in ("clip_grad", "convert_parameters", "fusion", "init", "memory_format")},
    "torch.optim.swa_utils": Denial("unlisted-call", _MODULE),
    "torch.autograd.function": Denial("unlisted-call", "use torch.autograd.Function"),
    **{f"torch.{m}": Denial("unlisted-call", "a standard-library module torch happens to import; "
                            "import it yourself so the policy sees what is used")
       for m in ("os", "sys", "ctypes", "importlib", "inspect", "glob", "threading", "signal", "platform",
                 "builtins", "functools", "warnings", "math", "textwrap", "types", "torch", "windows", "cpp")},
    **{f"torch.nn.functional.{m}": Denial("unlisted-call", "a module torch.nn.functional happens to import")
       for m in ("dataclasses", "importlib", "math", "np", "torch", "warnings", "grad")},
    **{f"torch.{ns}.{m}": Denial("unlisted-call", "a module the namespace happens to import")
       for ns in ("fft", "special", "nn.init", "linalg", "masked", "nested", "sparse", "func")
       for m in ("torch", "math", "warnings", "functools", "typing")},
    "torch.Tensor.register_*hook*": Denial("module-mutation", "installs a hook other code triggers"),
    "torch.nn.Module.register_*": Denial("module-mutation", "installs hooks or buffers other code triggers"),
    "torch.distributions.*.set_default_validate_args": Denial("ambient-state", _SETTINGS),
    "torch.distributions.Distribution.set_default_validate_args": Denial("ambient-state", _SETTINGS),
}

TORCH = Table(
    "torch",
    {**{f"{ns}.*": "" for ns in _NAMESPACES},
     "torch.utils.checkpoint.checkpoint": "recomputes the same forward during backward",
     **{f"torch.utils.data.{n}": "in-memory containers; DataLoader is left out (it starts worker processes)"
        for n in ("Dataset", "TensorDataset", "Subset", "ConcatDataset", "IterableDataset", "random_split",
                  "default_collate", "StackDataset")},
     "torch.amp.autocast": "a mode entered with `with`, restored on exit",
     "torch.autograd.grad": "", "torch.autograd.backward": "", "torch.autograd.Function": "",
     "torch.autograd.Variable": "", "torch.autograd.gradcheck": "", "torch.autograd.gradgradcheck": ""},
    _DENY,
    with_only=frozenset({"torch.set_grad_enabled", "torch.autograd.set_grad_enabled",
                         "torch.autograd.set_detect_anomaly"}),
)
