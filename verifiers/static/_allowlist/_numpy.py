"""numpy: array creation, arithmetic, linear algebra, FFTs, random generators.

Denied: files (``save*``, ``load*``, ``fromfile``, ``memmap``, ``tofile``), the
global generator's seed and state, process-wide error and print settings, and
submodules that reach native code, compilers or the test harness.
"""

from __future__ import annotations

from verifiers.static._allowlist._table import Denial, Table

__all__ = ["NUMPY"]

_NAMESPACES = ("numpy", "numpy.linalg", "numpy.fft", "numpy.random", "numpy.ma", "numpy.polynomial",
               "numpy.strings", "numpy.char", "numpy.emath", "numpy.dtypes", "numpy.exceptions", "numpy.typing",
               "numpy.ndarray", "numpy.random.Generator", "numpy.polynomial.polynomial",
               "numpy.polynomial.chebyshev", "numpy.polynomial.legendre", "numpy.polynomial.hermite",
               "numpy.polynomial.hermite_e", "numpy.polynomial.laguerre")

_FILE = "reads or writes a file"
_SETTING = "changes a process-wide numpy setting; use the `with np.errstate(...)` form"

NUMPY = Table(
    "numpy",
    {**{f"{ns}.*": "" for ns in _NAMESPACES},
     "numpy.random.*": "drawing is allowed: the checker reseeds the global generator before every call"},
    {**{f"numpy.{n}": Denial("file-write", _FILE) for n in (
        "save", "savez", "savez_compressed", "savetxt", "memmap", "ndarray.tofile", "ndarray.dump", "recarray",
        "DataSource", "rec")},
     **{f"numpy.{n}": Denial("dynamic-code", "reads a file (and may unpickle it)") for n in (
         "load", "loadtxt", "genfromtxt", "fromfile", "fromregex", "ma.load", "ma.dump", "ma.dumps")},
     **{f"numpy.random.{n}": Denial("ambient-state", "seeds or rewinds the global generator, which the checker "
                                    "reseeds before every call; pass a numpy.random.Generator instead")
        for n in ("seed", "set_state", "get_state", "mtrand", "bit_generator")},
     **{f"numpy.{n}": Denial("ambient-state", _SETTING) for n in (
         "seterr", "seterrcall", "setbufsize", "set_printoptions", "geterr", "geterrcall", "getbufsize",
         "get_printoptions", "printoptions", "show_config", "show_runtime", "info")},
     **{f"numpy.{n}": Denial("native-code", "reaches native code or a compiler")
        for n in ("ctypeslib", "f2py", "distutils", "core", "lib", "get_include")},
     "numpy.testing": Denial("checker-reference", "the test harness"),
     "numpy.test": Denial("checker-reference", "runs the test harness"),
     **{f"numpy.ma.{n}": Denial("unlisted-call", "use numpy.ma.*") for n in ("core", "extras")},
     "numpy.polynomial.polyutils": Denial("unlisted-call", "internal helpers")},
    with_only=frozenset({"numpy.errstate"}),
)
