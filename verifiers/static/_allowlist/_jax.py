"""jax: jax.numpy, jax.nn, jax.lax, functional random keys, transformations.

Denied: configuration and device queries (``jax.config``, ``jax.devices``...),
distributed and profiling, debugging callbacks, native-code entry points
(``ffi``, ``dlpack``) and the internal or experimental modules.
"""

from __future__ import annotations

from verifiers.static._allowlist._table import Denial, Table

__all__ = ["JAX"]

_NAMESPACES = ("jax", "jax.numpy", "jax.numpy.linalg", "jax.numpy.fft", "jax.nn", "jax.nn.initializers",
               "jax.lax", "jax.lax.linalg", "jax.random", "jax.tree_util", "jax.tree", "jax.scipy.special",
               "jax.scipy.linalg", "jax.scipy.stats", "jax.image", "jax.errors", "jax.typing", "jax.dtypes",
               "jax.Array", "jax.custom_derivatives")

_DEVICE = "reads the devices or the backend: behaviour would depend on the machine"

JAX = Table(
    "jax",
    {**{f"{ns}.*": "" for ns in _NAMESPACES},
     "jax.random.*": "functional keys: the same key gives the same numbers"},
    {**{f"jax.{n}": Denial("ambient-state", _DEVICE) for n in (
        "devices", "local_devices", "device_count", "local_device_count", "default_backend", "process_index",
        "process_count", "process_indices", "live_arrays", "default_device", "config", "version")},
     "jax.distributed": Denial("network", "connects to other processes"),
     "jax.profiler": Denial("file-write", "writes traces and may start a server"),
     "jax.debug": Denial("dynamic-code", "runs host callbacks and breakpoints"),
     "jax.experimental": Denial("unlisted-call", "experimental APIs, including host callbacks"),
     "jax.ffi": Denial("native-code", "calls native functions"),
     "jax.dlpack": Denial("native-code", "shares raw memory with other libraries"),
     "jax.export": Denial("file-write", "serialises programs"),
     "jax.clear_caches": Denial("ambient-state", "clears process-wide caches"),
     **{f"jax.{n}": Denial("unlisted-call", "internal machinery") for n in (
         "lib", "interpreters", "core", "api_util", "extend", "monitoring", "stages", "ops", "ref",
         "custom_batching", "sharding")},
     "jax.numpy.save*": Denial("file-write", "writes a file"),
     "jax.numpy.load": Denial("dynamic-code", "reads a file and may unpickle it"),
     "jax.numpy.fromfile": Denial("file-write", "reads a file")},
)
