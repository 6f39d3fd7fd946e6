"""Which resolved dotted names break which policy rule.

Patterns are dotted prefixes (``subprocess`` covers ``subprocess.run``) or, when
they contain ``*``, shell globs over the whole name (``os.exec*``).  Rule ids are
the stable ids of ``properties.RULES``.
"""

from __future__ import annotations

import fnmatch
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from verifiers.static._allowlist import MODULES, TABLES, AllowList, Denial
from verifiers.static._names import is_known

__all__ = ["OPENERS", "SOURCE_RULES", "Hit", "Rulebook", "names_harness", "opens_for_writing"]

_MUTATORS = ("update", "setdefault", "pop", "popitem", "clear", "__setitem__", "__delitem__",
             "append", "insert", "extend", "remove")

_TABLE: Mapping[str, tuple[str, ...]] = {
    "dynamic-code": (
        "builtins.eval", "builtins.exec", "builtins.compile", "types.CodeType", "types.FunctionType",
        "types.LambdaType", "marshal.load", "marshal.loads", "pickle.load", "pickle.loads",
        "pickle.Unpickler", "dill.load*", "cloudpickle.load*", "codeop", "code.interact",
        "code.Interactive*", "code.compile_command", "yaml.unsafe_load*",
        # breakpoint() calls sys.breakpointhook, which imports whatever PYTHONBREAKPOINT names.
        "builtins.breakpoint", "sys.breakpointhook"),
    "dynamic-import": (
        "builtins.__import__", "importlib.*", "imp", "zipimport", "runpy", "sys.meta_path",
        "sys.path_hooks", "sys.path_importer_cache"),
    "subprocess": (
        "subprocess", "_posixsubprocess", "os.system", "os.popen", "os.exec*", "os.spawn*",
        "os.posix_spawn*", "os.fork", "os.forkpty", "os.startfile", "pty", "multiprocessing",
        "torch.multiprocessing", "concurrent.futures.ProcessPoolExecutor", "concurrent.futures.process",
        "asyncio.create_subprocess_*", "asyncio.subprocess", "pexpect"),
    "network": (
        "socket", "_socket", "ssl", "_ssl", "socketserver", "urllib", "urllib3", "http", "requests",
        "httpx", "aiohttp", "ftplib", "smtplib", "telnetlib", "xmlrpc", "poplib", "imaplib", "nntplib",
        "asyncio.open_connection", "asyncio.open_unix_connection", "asyncio.start_server",
        "asyncio.start_unix_server", "websocket*", "webbrowser", "paramiko", "grpc"),
    "native-code": (
        "ctypes", "_ctypes", "cffi", "_cffi_backend", "numpy.ctypeslib", "torch.utils.cpp_extension",
        "torch.ops.load_library", "torch.classes.load_library"),
    "file-write": (
        *(f"os.{n}" for n in ("remove", "unlink", "rename", "renames", "replace", "rmdir", "removedirs",
                              "mkdir", "makedirs", "mkfifo", "mknod", "symlink", "link", "chmod", "lchmod",
                              "fchmod", "chown", "lchown", "fchown", "truncate", "ftruncate", "write",
                              "writev", "pwrite", "pwritev", "open", "dup2", "close", "utime", "sendfile",
                              "copy_file_range")),
        *(f"pathlib.*.{n}" for n in ("write_text", "write_bytes", "touch", "unlink", "rmdir", "mkdir",
                                     "symlink_to", "hardlink_to", "chmod", "rename", "replace")),
        "shutil.*", "tempfile.*", "sqlite3.connect", "shelve.open", "dbm.open", "dbm.*.open",
        "logging.FileHandler", "logging.handlers.*FileHandler", "torch.save", "numpy.save", "numpy.savez", "numpy.savez_compressed",
        "numpy.savetxt", "jax.numpy.save*"),
    "module-mutation": tuple(f"{base}.{m}" for base in ("sys.modules", "sys.path", "sys.meta_path",
                                                        "sys.path_hooks", "*.__dict__") for m in _MUTATORS),
    "dynamic-lookup": ("builtins.globals", "*.__dict__", "*.__dict__.*", "*<computed>*"),
    "process-control": (
        "os._exit", "os.abort", "os.kill", "os.killpg", "signal.*", "atexit.*", "resource.setrlimit",
        "resource.prlimit", "sys.settrace", "sys.setprofile", "sys.addaudithook", "sys.monitoring",
        "threading.settrace*", "threading.setprofile*", "_thread.interrupt_main",
        # Process-wide state the harness depends on.
        "os.chdir", "os.fchdir", "os.umask", "os.set*", "os.nice", "sys.setrecursionlimit",
        "sys.setswitchinterval"),
    "introspection": (
        "inspect.stack", "inspect.currentframe", "inspect.getouterframes", "inspect.getinnerframes",
        "inspect.getframeinfo", "inspect.trace", "sys._getframe", "sys._current_frames",
        "sys._getframemodulename", "sys.modules", "traceback.extract_stack", "traceback.format_stack",
        "traceback.walk_stack", "traceback.print_stack", "gc.*"),
    "environment": ("os.environ", "os.environb", "os.getenv", "os.getenvb", "os.putenv", "os.unsetenv"),
    "checker-reference": ("sandbox", "selfmod_sandbox", "verifiers", "properties", "hypothesis",
                          "pytest", "_pytest", "z3", "crosshair"),
}

# Pure parts of otherwise forbidden modules: no capability, and common in training code.
_EXEMPT: Mapping[str, tuple[str, ...]] = {
    "dynamic-import": ("importlib.metadata*", "importlib.resources*"),
    "network": ("urllib.parse*", "http.HTTPStatus*"),
    "file-write": ("shutil.which", "shutil.disk_usage", "shutil.get_terminal_size", "shutil.get_archive_formats",
                   "shutil.get_unpack_formats", "shutil.Error", "shutil.SameFileError"),
    "introspection": ("gc.collect", "gc.enable", "gc.disable", "gc.isenabled"),
}

# Only a finding when executed at import time (module level or a class body).
_IMPORT_TIME: Mapping[str, tuple[str, ...]] = {
    "exit-at-import": ("sys.exit", "builtins.exit", "builtins.quit", "os._exit", "os.abort",
                       "builtins.SystemExit", "_thread.exit"),
}

# Attribute names hostile on any base, even one that resolves.
_ANY_BASE: Mapping[str, str] = {
    "__subclasses__": "introspection", "_getframe": "introspection", "f_back": "introspection",
    "f_globals": "introspection", "f_locals": "introspection", "f_builtins": "introspection",
    "f_code": "introspection", "gi_frame": "introspection", "cr_frame": "introspection",
    "ag_frame": "introspection", "tb_frame": "introspection", "__globals__": "dynamic-lookup",
    "__builtins__": "dynamic-lookup", "__code__": "dynamic-code", "__import__": "dynamic-import",
    # Reflection that walks from any object to classes, functions and modules nobody imported.
    "__class__": "introspection", "__mro__": "introspection", "__bases__": "introspection",
    "__base__": "introspection", "__closure__": "introspection", "__func__": "introspection",
    "__self__": "introspection", "__defaults__": "dynamic-lookup", "__kwdefaults__": "dynamic-lookup",
    "__dict__": "dynamic-lookup", "__getattribute__": "dynamic-lookup", "__reduce__": "dynamic-code",
    "__reduce_ex__": "dynamic-code", "__loader__": "dynamic-import", "__spec__": "dynamic-import",
    "__traceback__": "introspection", "__wrapped__": "introspection",
}

# Attribute names hostile on a base the resolver cannot name (``self.os_mod.system``) or on a
# module outside the standard library, whose wrappers the checker does not know.
_UNRESOLVED: tuple[tuple[str, str], ...] = (
    *((n, "subprocess") for n in ("system", "popen", "fork", "forkpty", "exec[lv]*", "spawn[lv]*",
                                  "posix_spawn*", "Popen", "check_output", "check_call", "getoutput",
                                  "getstatusoutput")),
    ("_exit", "process-control"), ("urlopen", "network"), ("create_connection", "network"),
    ("import_module", "dynamic-import"), ("load_library", "native-code"), ("ctypes", "native-code"),
    *((n, "file-write") for n in ("write_text", "write_bytes", "touch", "unlink", "rmdir", "mkdir",
                                  "symlink_to", "hardlink_to", "chmod", "tofile", "write", "writelines",
                                  "write_*", "save", "save_*", "savez*", "dump", "from_file", "fromfile",
                                  "open_memmap", "execute", "executemany", "executescript")),
    *((n, "network") for n in ("connect", "sendall", "sendto", "recv", "recvfrom")),
    *((n, "module-mutation") for n in ("register_*hook*", "addHandler", "removeHandler", "addFilter",
                                       "setLoggerClass", "settrace", "setprofile")),
    *((n, "process-control") for n in ("kill", "terminate", "send_signal")),
    *((n, "environment") for n in ("getenv", "putenv", "unsetenv", "expanduser", "expandvars")),
    # Reading the file system: behaviour would depend on files the checker does not vary.
    *((n, "ambient-state") for n in ("read_text", "read_bytes", "iterdir", "rglob", "readlink", "scandir")),
)

_CANONICAL = (("posix.", "os."), ("nt.", "os."), ("_io.", "io."), ("_signal", "signal"),
              ("_pickle", "pickle"), ("__builtin__.", "builtins."))

_HARNESS = frozenset({"hypothesis", "pytest", "_pytest", "z3", "crosshair", "sandbox", "selfmod_sandbox",
                      "verifiers"})
_HARNESS_PREFIXES = ("PYTEST_", "HYPOTHESIS_", "SANDBOX_", "hypothesis.", "pytest.", "_pytest.", "z3.",
                     "crosshair.", "sandbox.", "verifiers.", "properties.", "selfmod_sandbox.")

OPENERS = frozenset({"builtins.open", "io.open", "codecs.open", "os.fdopen", "io.FileIO", "tarfile.open",
                     "tarfile.TarFile", "zipfile.ZipFile", "gzip.open", "gzip.GzipFile", "bz2.open",
                     "bz2.BZ2File", "lzma.open", "lzma.LZMAFile"})

SOURCE_RULES = tuple(sorted({*_TABLE, *_IMPORT_TIME, "forbidden-name", "unlisted-call", "ambient-state"}))


@dataclass(frozen=True, slots=True)
class Hit:
    """One rule a symbol breaks, and why (``table``, ``unresolved``, ``any-base`` or a forbid reason)."""

    rule: str
    why: str = "table"
    reason: str = ""


def _matches(symbol: str, pattern: str) -> bool:
    if "*" in pattern or "[" in pattern:
        return fnmatch.fnmatchcase(symbol, pattern)
    return symbol == pattern or symbol.startswith(pattern + ".")


def _canonical(symbol: str) -> str:
    for old, new in _CANONICAL:
        if symbol == old.rstrip(".") or symbol.startswith(old if old.endswith(".") else old + "."):
            return new.rstrip(".") + symbol[len(old.rstrip(".")):]
    return symbol


def names_harness(text: str) -> bool:
    """Whether a string constant names the checker or a test harness."""
    return text in _HARNESS or text.startswith(_HARNESS_PREFIXES)


def opens_for_writing(modes: Iterable[str] | None) -> bool:
    """Whether a file mode (``None``: not a constant) may write, append, create or update."""
    return modes is None or any(set(mode) & set("wax+") for mode in modes)


class Rulebook:
    """The rules a resolved symbol breaks under one policy's forbidden names and allow-list."""

    def __init__(self, forbidden_names: Mapping[str, str], allowlist: AllowList | None = None) -> None:
        self._forbidden = dict(forbidden_names)
        self.allowlist = allowlist or AllowList(TABLES, modules=MODULES)

    def hits(self, symbol: str, import_time: bool) -> list[Hit]:
        """Every named rule ``symbol`` breaks; ``import_time`` says the reference runs on import."""
        attr = symbol.rsplit(".", 1)[-1]
        found = self._known(symbol, import_time) if is_known(symbol) else []
        if attr in _ANY_BASE and "." in symbol:
            found.append(Hit(_ANY_BASE[attr], "any-base"))
        if self._local(symbol):
            return list(dict.fromkeys(found))
        if not is_known(symbol) or symbol.split(".")[0] not in sys.stdlib_module_names:
            found += [Hit(rule, "unresolved") for pattern, rule in _UNRESOLVED
                      if "." in symbol and fnmatch.fnmatchcase(attr, pattern)]
        return list(dict.fromkeys(found))

    def unlisted(self, symbol: str) -> Denial | None:
        """Why a known ``symbol`` that breaks no named rule is still not allowed, if it is not."""
        return self.allowlist.judge(_canonical(symbol))

    def _local(self, symbol: str) -> bool:
        """The repository's own code: its changes are checked where they are made."""
        return symbol.startswith(".") or self.allowlist.is_local(symbol.split(".")[0])

    def _known(self, symbol: str, import_time: bool) -> list[Hit]:
        canonical = _canonical(symbol)
        found = [Hit(rule) for rule, patterns in _TABLE.items() if self._any(canonical, patterns, rule)]
        if import_time:
            found += [Hit(rule) for rule, patterns in _IMPORT_TIME.items() if self._any(canonical, patterns, rule)]
        found += [Hit("forbidden-name", reason or "no reason given")
                  for name, reason in self._forbidden.items()
                  if _matches(symbol, name) or _matches(canonical, name)]
        return found

    @staticmethod
    def _any(symbol: str, patterns: tuple[str, ...], rule: str) -> bool:
        if not any(_matches(symbol, p) for p in patterns):
            return False
        return not any(_matches(symbol, p) for p in _EXEMPT.get(rule, ()))
