"""The builtins and the standard library: pure, deterministic functions and types.

Left out on purpose (so they are ``unlisted-call`` unless a named rule says more):
``open``, ``eval``, ``exec``, ``compile``, ``__import__``, ``input``, ``globals``,
``locals``, ``vars``, ``breakpoint``, ``setattr``, ``delattr``, ``help``, ``exit`` and
``quit``; every module that reaches a file, a process, the network, threads, the
clock or the host.  ``getattr``/``hasattr`` are listed, but the scanner allows them
only with a constant attribute name.
"""

from __future__ import annotations

from verifiers.static._allowlist._table import Denial, Table

__all__ = ["BUILTINS", "STDLIB"]

_PURE_BUILTINS = (
    "abs", "aiter", "all", "anext", "any", "ascii", "bin", "bool", "bytearray", "bytes", "callable", "chr",
    "classmethod", "complex", "dict", "dir", "divmod", "enumerate", "filter", "float", "format", "frozenset",
    "getattr", "hasattr", "hex", "int", "isinstance", "issubclass", "iter", "len", "list", "map",
    "max", "memoryview", "min", "next", "object", "oct", "ord", "pow", "property", "range", "repr",
    "reversed", "round", "set", "slice", "sorted", "staticmethod", "str", "sum", "super", "tuple", "type",
    "zip", "None", "True", "False", "Ellipsis", "NotImplemented", "__name__", "__doc__", "__build_class__",
)

_EXCEPTIONS = (
    "BaseException", "BaseExceptionGroup", "Exception", "ExceptionGroup", "ArithmeticError", "AssertionError",
    "AttributeError", "BufferError", "EOFError", "FloatingPointError", "GeneratorExit", "ImportError",
    "IndexError", "KeyError", "KeyboardInterrupt", "LookupError", "MemoryError", "ModuleNotFoundError",
    "NameError", "NotImplementedError", "OSError", "OverflowError", "RecursionError", "ReferenceError",
    "RuntimeError", "StopAsyncIteration", "StopIteration", "SyntaxError", "SystemError", "TypeError",
    "UnboundLocalError", "UnicodeDecodeError", "UnicodeEncodeError", "UnicodeError", "UnicodeTranslateError",
    "ValueError", "ZeroDivisionError", "FileNotFoundError", "FileExistsError", "PermissionError",
    "TimeoutError", "IsADirectoryError", "NotADirectoryError", "ConnectionError", "EnvironmentError", "IOError",
    "Warning", "UserWarning", "DeprecationWarning", "PendingDeprecationWarning", "RuntimeWarning",
    "SyntaxWarning", "FutureWarning", "ImportWarning", "UnicodeWarning", "BytesWarning", "ResourceWarning",
    "EncodingWarning", "SystemExit",
)

_TYPES = ("int", "float", "complex", "bool", "str", "bytes", "bytearray", "list", "tuple", "dict", "set",
          "frozenset", "range", "slice", "object", "memoryview")

BUILTINS = Table(
    "builtins",
    {**{f"builtins.{n}": "" for n in (*_PURE_BUILTINS, *_EXCEPTIONS)},
     **{f"builtins.{t}.*": "" for t in _TYPES},
     **{f"builtins.{t}.__*__": "special methods of the value types; the reflective ones (__subclasses__, "
        "__dict__, __setattr__, ...) are named rules checked first" for t in _TYPES},
     "builtins.print": "writes only to the worker's captured standard output"},
    {"builtins.__debug__": Denial("ambient-state", "is False under `python -O`: behaviour would depend on "
                                  "an interpreter flag the checker does not vary"),
     "builtins.hash": Denial("ambient-state", "string and bytes hashes are randomised per process "
                             "(PYTHONHASHSEED), so each run of the program may see other values"),
     "builtins.id": Denial("ambient-state", "object addresses differ from one process to the next")},
)

_WHOLE = ("math", "cmath", "itertools", "collections", "collections.abc", "dataclasses", "enum", "numbers",
          "fractions", "statistics", "bisect", "heapq", "string", "re", "abc", "typing", "typing_extensions",
          "operator", "functools", "copy", "keyword", "textwrap", "unicodedata", "difflib", "struct",
          "hashlib", "base64", "binascii", "zlib", "fnmatch", "reprlib", "pprint", "array", "graphlib",
          "urllib.parse", "colorsys", "__future__", "warnings", "decimal", "datetime")

_ALLOW = {
    **{f"{m}.*": "" for m in _WHOLE},
    "datetime.*.*": "the types' constructors, arithmetic and formatting; the clock readers are denied below",
    "json.loads": "", "json.dumps": "", "json.JSONDecodeError": "", "json.JSONEncoder": "",
    "json.JSONDecoder": "",
    "contextlib.contextmanager": "", "contextlib.nullcontext": "", "contextlib.suppress": "",
    "contextlib.ExitStack": "", "contextlib.closing": "", "contextlib.AbstractContextManager": "",
    "types.SimpleNamespace": "", "types.MappingProxyType": "", "types.NoneType": "", "types.GenericAlias": "",
    "types.UnionType": "", "types.EllipsisType": "", "types.NotImplementedType": "", "types.MethodType": "",
    "types.GeneratorType": "", "types.BuiltinFunctionType": "",
    "logging.getLogger": "loggers only record; adding handlers (where records go) is denied",
    **{f"logging.{n}": "" for n in ("debug", "info", "warning", "warn", "error", "exception", "critical", "log",
                                    "getLevelName", "Logger", "LoggerAdapter", "DEBUG", "INFO", "WARNING",
                                    "WARN", "ERROR", "CRITICAL", "FATAL", "NOTSET")},
    **{f"os.path.{n}": "string operations on paths; they touch no file"
       for n in ("join", "basename", "dirname", "split", "splitext", "splitdrive", "normpath", "normcase",
                 "isabs", "commonpath", "commonprefix", "sep", "extsep", "altsep", "pardir", "curdir")},
    **{f"os.{n}": "" for n in ("sep", "linesep", "curdir", "pardir", "pathsep", "extsep", "altsep", "devnull",
                               "fspath", "PathLike", "fsencode", "fsdecode")},
    **{f"pathlib.{n}": "building a path touches no file; writing methods are denied by name"
       for n in ("Path", "PurePath", "PurePosixPath", "PureWindowsPath", "PosixPath")},
    **{f"sys.{n}": "" for n in ("maxsize", "float_info", "int_info", "hash_info", "version_info", "version",
                                "implementation", "byteorder", "getsizeof", "exit", "stdout", "stderr",
                                "float_repr_style", "maxunicode", "getdefaultencoding")},
    "gc.collect": "frees memory; returns only a count",
    "random.Random": "an explicit generator the caller seeds (the module-level functions are denied: their "
                     "generator is process-wide state seeded from the OS)",
    "ast.literal_eval": "evaluates literals only (no names, calls or attributes)",
    "shlex.split": "", "shlex.quote": "", "shlex.join": "",
    "uuid.UUID": "", "uuid.NAMESPACE_DNS": "", "uuid.NAMESPACE_URL": "", "uuid.uuid3": "", "uuid.uuid5": "",
}

_CLOCK = "reads the clock: behaviour would depend on when the code runs, which the checker does not vary"

_DENY = {
    "functools.update_wrapper": Denial("module-mutation", "copies attributes onto another function; "
                                       "use @functools.wraps on a function you define"),
    **{f"operator.{n}": Denial("module-mutation", "writes into a container; operator is allowed for data "
                               "access only") for n in ("setitem", "delitem", "__setitem__", "__delitem__")},
    **{f"typing.{n}": Denial("dynamic-code", "evaluates string annotations as code")
       for n in ("get_type_hints", "ForwardRef", "_eval_type")},
    **{f"typing_extensions.{n}": Denial("dynamic-code", "evaluates string annotations as code")
       for n in ("get_type_hints", "ForwardRef", "get_annotations", "evaluate_forward_ref")},
    **{f"decimal.{n}": Denial("ambient-state", "the decimal context is process-wide state; pass a "
                              "decimal.Context explicitly") for n in ("getcontext", "setcontext", "localcontext",
                                                                     "DefaultContext")},
    "warnings.simplefilter": Denial("ambient-state", "changes the process-wide warning filters"),
    "warnings.filterwarnings": Denial("ambient-state", "changes the process-wide warning filters"),
    "warnings.resetwarnings": Denial("ambient-state", "changes the process-wide warning filters"),
    "warnings.showwarning": Denial("module-mutation", "is a hook other code calls"),
    **{p: Denial("ambient-state", _CLOCK) for p in (
        "datetime.datetime.now", "datetime.datetime.today", "datetime.datetime.utcnow",
        "datetime.datetime.fromtimestamp", "datetime.datetime.utcfromtimestamp", "datetime.date.today",
        "datetime.date.fromtimestamp", "datetime.datetime.astimezone")},
    "os.path.expanduser": Denial("ambient-state", "reads the home directory from the environment"),
    "os.path.expandvars": Denial("ambient-state", "expands environment variables"),
    "os.path.abspath": Denial("ambient-state", "depends on the working directory"),
    "os.path.realpath": Denial("ambient-state", "depends on the working directory and the file system"),
    "pathlib.*.home": Denial("ambient-state", "reads the home directory from the environment"),
    "pathlib.*.cwd": Denial("ambient-state", "depends on the working directory"),
    "pathlib.*.expanduser": Denial("ambient-state", "reads the home directory from the environment"),
    "pathlib.*.absolute": Denial("ambient-state", "depends on the working directory"),
    "pathlib.*.resolve": Denial("ambient-state", "depends on the working directory and the file system"),
}

# Readers of state the checker does not vary, outside the allowed namespaces; listed so the
# report names the rule `ambient-state` instead of the generic `unlisted-call`.
_AMBIENT = {
    **{f"time.{n}": Denial("ambient-state", _CLOCK) for n in (
        "time", "time_ns", "perf_counter", "perf_counter_ns", "monotonic", "monotonic_ns", "process_time",
        "process_time_ns", "thread_time", "thread_time_ns", "localtime", "gmtime", "ctime", "asctime",
        "strftime", "clock_gettime", "clock_gettime_ns", "get_clock_info", "timezone", "tzname", "altzone",
        "daylight")},
    **{f"os.{n}": Denial("ambient-state", "reads the host or process: behaviour would depend on the machine")
       for n in ("cpu_count", "process_cpu_count", "sched_getaffinity", "getpid", "getppid", "getuid", "geteuid",
                 "getgid", "getegid", "getlogin", "uname", "getcwd", "getcwdb", "getloadavg", "times", "urandom",
                 "getrandom", "get_terminal_size", "listdir", "scandir", "stat", "lstat", "walk", "access")},
    "os.path.exists": Denial("ambient-state", "reads the file system"),
    "os.path.isfile": Denial("ambient-state", "reads the file system"),
    "os.path.isdir": Denial("ambient-state", "reads the file system"),
    "os.path.getsize": Denial("ambient-state", "reads the file system"),
    "os.path.getmtime": Denial("ambient-state", "reads the file system"),
    **{f"sys.{n}": Denial("ambient-state", "reads how the interpreter was started: behaviour would depend on "
                          "it") for n in ("flags", "argv", "orig_argv", "platform", "executable", "prefix",
                                          "base_prefix", "getrecursionlimit", "getswitchinterval", "warnoptions",
                                          "_xoptions", "dont_write_bytecode", "getfilesystemencoding")},
    "resource.getrlimit": Denial("ambient-state", "reads the resource limits, which the checker sets"),
    "resource.getrusage": Denial("ambient-state", "reads the process's resource use"),
    "platform": Denial("ambient-state", "reads the host"),
    "getpass": Denial("ambient-state", "reads the user or the terminal"),
    "locale": Denial("ambient-state", "reads or sets the process locale"),
    "multiprocessing.cpu_count": Denial("ambient-state", "reads the host's CPU count"),
    "random": Denial("ambient-state", "the module-level generator is process-wide state seeded from the OS; "
                     "take a seed or a generator as an argument"),
    "secrets": Denial("ambient-state", "draws from the OS entropy source"),
    "uuid.uuid1": Denial("ambient-state", "reads the host and the clock"),
    "uuid.uuid4": Denial("ambient-state", "draws from the OS entropy source"),
    "uuid.getnode": Denial("ambient-state", "reads the host"),
    "tempfile.gettempdir": Denial("ambient-state", "reads the environment"),
    "shutil.which": Denial("ambient-state", "searches the PATH environment variable and the file system"),
    "threading": Denial("ambient-state", "threads outlive the call and share state with the checker"),
    "_thread": Denial("ambient-state", "threads outlive the call and share state with the checker"),
    "concurrent.futures.ThreadPoolExecutor": Denial("ambient-state", "threads outlive the call"),
    "faulthandler": Denial("process-control", "writes tracebacks to a file descriptor on a signal"),
    "timeit": Denial("dynamic-code", "compiles and runs statements given as strings"),
    "cProfile": Denial("dynamic-code", "runs statements given as strings"),
    "profile": Denial("dynamic-code", "runs statements given as strings"),
    "doctest": Denial("dynamic-code", "runs code written in docstrings"),
    "pdb": Denial("dynamic-code", "runs a debugger that executes input as code"),
    "copyreg": Denial("module-mutation", "changes how every object of a type is pickled and copied"),
    "logging.basicConfig": Denial("file-write", "may open a log file and changes the root logger"),
    "logging.handlers": Denial("file-write", "handlers write files, sockets and mail"),
    "logging.config": Denial("dynamic-import", "builds objects from dotted names in configuration"),
}

STDLIB = Table("the standard library", _ALLOW, {**_DENY, **_AMBIENT})
