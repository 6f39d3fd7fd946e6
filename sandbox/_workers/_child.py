"""The worker: the only code of ours that runs inside the isolated process.

Run as a script (``python -s -P _child.py CONFIG``), stdlib only, loading the
framing and the value codec by file path.  Order matters: start-up imports,
rlimits, seccomp, then the audit hook, and only then the tree copy goes on
``sys.path`` -- no candidate code runs before the worker reports ready.

Two operations: ``call`` (import a module, build arguments, call a target, and measure the
call itself: CPU seconds, growth of the peak resident memory, threads left running) and
``import`` (import one module and measure the import itself: CPU seconds of the
process, growth of its peak resident memory, wall seconds).  The measurement is
only meaningful as the first thing a module's import does in this process; the
trusted side arranges that (see ``IsolatedExecutor.measure_import``), and the
worker says ``already`` when the module was in ``sys.modules`` before.
"""

import importlib
import importlib.util
import json
import os
import resource
import sys
import time

__all__ = ["AuditTripped", "main"]

SIGXCPU = 24
CLONE_THREAD = 0x00010000
_TAINT: list = []
_MUTATED: list = []
# /proc/self/clear_refs, opened before the audit hook: writing "5" resets the peak RSS (VmHWM),
# so each import's peak is its own.  None where the kernel does not offer it.
_PEAK_RESET: list = []
# The figures of the last call (see ``_measured``), added to its answer whether it returned or raised.
_FIGURES: dict = {}
_CALLS: list = []
# A call that leaves threads is given this long (seconds) for them to end before they count.
_THREAD_GRACE = 0.2
# Shared modules whose attributes candidate code must leave alone, besides those it imports.
_ALWAYS_WATCHED = ("builtins", "math", "operator", "functools", "itertools")


class AuditTripped(BaseException):
    """Raised by the audit hook; a ``BaseException`` so ``except Exception`` cannot swallow it."""


def main(config):
    sys.dont_write_bytecode = True
    proto = _load("_sbx_protocol", config["protocol"])
    codec = _load("_sbx_codec", config["codec"])
    # Keep our own modules out of sys.modules: candidate code must not see a harness.
    for name in ("_sbx_protocol", "_sbx_codec"):
        del sys.modules[name]
    _rlimits(config)
    facts = {"pid": os.getpid(), "uid": os.getuid(), "seccomp": "off"}
    if config["seccomp"]:
        facts["seccomp"] = _seccomp()
    # Modules a harness of ours needs that load native code (z3 and CrossHair's tracer look up
    # hundreds of symbols through ctypes, which the audit hook refuses): imported here, before the
    # tree is on the path (so it cannot shadow them) and before the hook.  Only the workers of a
    # sibling executor made for that harness preload anything; ordinary workers show no harness.
    for name in config.get("preload", ()):
        try:
            importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 - reported; the harness says it is missing
            facts.setdefault("preload_failed", []).append(f"{name}: {type(error).__name__}: {error}"[:200])
    sys.path.insert(0, config["tree"])
    if os.path.isdir(os.path.join(config["tree"], "src")):
        sys.path.insert(1, os.path.join(config["tree"], "src"))  # module names drop a leading src/
    _open_peak_reset()
    _install_hook(config)
    req, resp = config["req"], config["resp"]
    proto.write_frame(resp, {"seq": 0, "kind": "ready", "cpu": _cpu(), **facts})
    while True:
        try:
            request = proto.read_frame(req)
        except EOFError:
            os._exit(0)
        answer = _answer(request, codec)
        answer.update(seq=request.get("seq"), token=request.get("token"), cpu=_cpu())
        try:
            frame = proto.pack(answer)
        except Exception as error:  # noqa: BLE001 - oversized or unencodable: still answer
            frame = proto.pack({"seq": request.get("seq"), "token": request.get("token"),
                                "kind": "died", "reason": "protocol",
                                "message": f"the result could not be framed: {error}"[:500]})
        _write_all(resp, frame)
        if answer["kind"] == "died":
            os._exit(0)


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _cpu():
    return round(sum(resource.getrusage(resource.RUSAGE_SELF)[:2]), 3)


def _answer(request, codec):
    result, memory = None, False
    _FIGURES.clear()
    try:
        result = _import(request) if request.get("op") == "import" else _run(request, codec)
    except AuditTripped:
        pass
    except MemoryError:
        memory = True
    except BaseException as error:  # noqa: BLE001 - SystemExit from candidate code is an answer too
        result = {"kind": "raised", "error_type": _type_name(error), "message": _text(error)}
    if _TAINT:
        return {"kind": "died", "reason": "audit", "message": _TAINT[0]}
    if _MUTATED:
        return {"kind": "died", "reason": "mutation", "message": _MUTATED[0]}
    if memory:
        return {"kind": "died", "reason": "memory", "message": "MemoryError under the address-space limit"}
    if isinstance(result, dict) and _FIGURES:
        result.update(_FIGURES)
    return result


def _import(request):
    """Import ``request["module"]`` and measure it; a raised exception is an answer, with its figures."""
    name = request["module"]
    if name in sys.modules:
        return {"kind": "imported", "already": True, "import_cpu": 0.0, "peak_kb": 0, "wall": 0.0,
                "exact_peak": False}
    start_kb, exact = _reset_peak()
    cpu, wall = _cpu_exact(), time.perf_counter()
    try:
        importlib.import_module(name)
        result = {"kind": "imported", "already": False}
    except (AuditTripped, MemoryError):
        raise
    except BaseException as error:  # noqa: BLE001 - SystemExit at import is an answer too
        result = {"kind": "raised", "error_type": _type_name(error), "message": _text(error)}
    result.update(import_cpu=round(_cpu_exact() - cpu, 4), wall=round(time.perf_counter() - wall, 4),
                  peak_kb=max(0, _peak_kb() - start_kb), exact_peak=exact)
    return result


def _open_peak_reset():
    try:
        _PEAK_RESET.append(os.open("/proc/self/clear_refs", os.O_WRONLY | os.O_CLOEXEC))
    except OSError:
        pass


def _reset_peak():
    """``(resident kB now, whether the peak was reset)``: the baseline of the next peak reading."""
    if _PEAK_RESET:
        try:
            os.write(_PEAK_RESET[0], b"5")
            return _status_kb("VmRSS"), True
        except OSError:
            pass
    return _peak_kb(), False


def _peak_kb():
    return _status_kb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _status_kb(field):
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(field.encode() + b":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _run(request, codec):
    module, _, qualname = request["target"].partition(":")
    # Import first: what the import itself costs is measured by the ``import`` op, not here.
    home = importlib.import_module(module) if module else None
    watched = _watched(home)
    before = _fingerprint(watched)
    try:
        args = _build(codec.decode(request["args"].encode()), codec)
        kwargs = _build(codec.decode(request["kwargs"].encode()), codec)
        if request.get("receiver") is not None:
            receiver = _build(codec.decode(request["receiver"].encode()), codec)
            function = getattr(receiver, qualname.rpartition(".")[2])
        else:
            function = _resolve(module, qualname)
        value = _measured(function, args, kwargs)
        return {"kind": "returned", "value": codec.encode(value).decode(),
                "args_after": codec.encode(tuple(args)).decode()}
    finally:
        changed = _changed(watched, before)
        if changed:
            _MUTATED.append("the call changed shared module state: " + ", ".join(changed[:5]))


def _measured(function, args, kwargs):
    """Call ``function``, recording its CPU seconds, peak-memory growth and leftover threads in ``_FIGURES``.

    CPU time, not wall time, so a loaded machine does not decide; from ``getrusage``, which sums
    every thread's exact run time, where ``time.process_time()`` goes coarse (to the scheduler
    tick) once ``RLIMIT_CPU`` is set, as it is here.  The peak is exact where
    ``/proc/self/clear_refs`` resets it; otherwise ``ru_maxrss`` growth is a lower bound
    (``exact_peak`` says which).  Threads are the kernel's count, so native ones count too.
    """
    threads = _threads()
    start_kb, exact = _reset_peak()
    cpu = _cpu_exact()
    _CALLS.append(1)
    try:
        return function(*args, **kwargs)
    finally:
        used = _cpu_exact() - cpu
        peak = max(0, _peak_kb() - start_kb)
        _FIGURES.update(call_cpu=round(used, 6), call_peak_kb=peak, exact_peak=exact,
                        threads_left=_threads_left(threads), first_call=len(_CALLS) == 1)


def _cpu_exact():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _threads():
    return _status_kb("Threads") or None


def _threads_left(before):
    """Threads alive now beyond ``before``, after a short grace for ones that are ending; None if unknown."""
    if before is None:
        return None
    deadline = time.monotonic() + _THREAD_GRACE
    while True:
        now = _threads()
        if now is None:
            return None
        if now <= before or time.monotonic() >= deadline:
            return max(0, now - before)
        time.sleep(0.01)


def _watched(home):
    """Modules outside the tree under test that the call could monkeypatch: fixed ones, and those it imports."""
    tree = os.path.realpath(sys.path[0]) + os.sep
    found = {name: sys.modules[name] for name in _ALWAYS_WATCHED if name in sys.modules}
    for value in list(vars(home).values()) if home is not None else ():
        owner = value if type(value) is type(sys) else sys.modules.get(getattr(value, "__module__", None) or "")
        name = getattr(owner, "__name__", None)
        if owner is None or not isinstance(name, str) or name in found:
            continue
        origin = getattr(owner, "__file__", None) or ""
        if not os.path.realpath(origin).startswith(tree):
            found[name] = owner
    return found


def _fingerprint(watched):
    """The functions, classes and modules each watched module holds (by identity).

    Only callables and modules: libraries legitimately fill private caches and lazy
    attributes on first use, but replacing ``math.floor`` is monkeypatching.
    """
    prints = {}
    for name, module in watched.items():
        items = list(vars(module).items())
        prints[name] = ({attr: id(value) for attr, value in items if callable(value) or type(value) is type(sys)},
                        frozenset(attr for attr, _ in items))
    return prints


def _changed(watched, before):
    """Callables or modules replaced or deleted (and, in builtins, added) since ``before``."""
    changed = []
    for name, module in watched.items():
        now, (then, names) = dict(list(vars(module).items())), before[name]
        changed += [f"{name}.{attr}" for attr, ident in then.items() if attr not in now or id(now[attr]) != ident]
        if name == "builtins":
            changed += [f"builtins.{attr} (added)" for attr in now.keys() - names]
    return sorted(changed)


def _resolve(module, qualname):
    if not module or not qualname:
        raise ValueError("target must look like 'module:Qual.name'")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _build(value, codec):
    if isinstance(value, codec.Construct):
        module, _, qualname = value.target.partition(":")
        factory = _resolve(module, qualname)
        return factory(*_build(value.args, codec), **{k: _build(v, codec) for k, v in value.kwargs})
    if isinstance(value, list):
        return [_build(v, codec) for v in value]
    if isinstance(value, tuple):
        return tuple(_build(v, codec) for v in value)
    if isinstance(value, dict):
        return {_build(k, codec): _build(v, codec) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return type(value)(_build(v, codec) for v in value)
    return value


def _type_name(error):
    kind = type(error)
    return f"{getattr(kind, '__module__', '?')}.{getattr(kind, '__qualname__', '?')}"


def _text(error):
    try:
        return str(error)[:500]
    except BaseException:  # noqa: BLE001 - a hostile __str__
        return "<unprintable>"


def _rlimits(config):
    mib = 1024 * 1024
    cpu = int(config["cpu_seconds"])
    limits = [(resource.RLIMIT_CPU, cpu, cpu + 1), (resource.RLIMIT_FSIZE, 64 * mib, 64 * mib),
              (resource.RLIMIT_NOFILE, 256, 256), (resource.RLIMIT_NPROC, 128, 128),
              (resource.RLIMIT_CORE, 0, 0), (resource.RLIMIT_AS, config["memory_mb"] * mib,
                                             config["memory_mb"] * mib)]
    for which, soft, hard in limits:
        current = resource.getrlimit(which)[1]
        if current != resource.RLIM_INFINITY:
            hard = min(hard, current)
        resource.setrlimit(which, (min(soft, hard), hard))


def _seccomp():
    """Deny process creation, exec, sockets, tracing and limit changes; threads still work."""
    import errno

    try:
        import pyseccomp as sc

        deny, arg = sc.ERRNO(errno.EPERM), sc.Arg
        flt = sc.SyscallFilter(defaction=sc.ALLOW)
        for name in ("socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
                     "execve", "execveat", "fork", "vfork", "ptrace", "process_vm_writev",
                     "process_vm_readv", "setrlimit", "unshare", "setns", "mount", "umount2",
                     "chroot", "pivot_root", "bpf", "perf_event_open", "userfaultfd", "keyctl",
                     "add_key", "request_key", "personality", "kexec_load", "init_module",
                     "finit_module"):
            flt.add_rule(deny, name)
        flt.add_rule(deny, "clone", arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))
        flt.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
        flt.add_rule(deny, "prlimit64", arg(2, sc.NE, 0))
        flt.add_rule(deny, "rt_sigaction", arg(0, sc.EQ, SIGXCPU), arg(1, sc.NE, 0))
        own = os.getpid()
        flt.add_rule(deny, "kill", arg(0, sc.NE, own))
        flt.add_rule(deny, "tgkill", arg(0, sc.NE, own))
        flt.add_rule(deny, "tkill")
        flt.load()
    except Exception as error:  # noqa: BLE001 - reported to the gate, which names it
        return f"failed: {type(error).__name__}: {error}"
    return "on"


# The audit hook is a tripwire, never the only boundary: ``_posixsubprocess.fork_exec``
# runs programs without an event and ``gc`` can reach and swap the hook's code.
_DENIED = frozenset({
    "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
    "os.forkpty", "os.killpg", "pty.spawn", "sys.addaudithook", "os.startfile",
    "resource.setrlimit", "resource.prlimit", "gc.get_referrers", "gc.get_referents",
    "gc.get_objects", "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.call_function",
    "ctypes.cdata", "ctypes.string_at", "ctypes.wstring_at", "ctypes.PyObj_FromPtr",
    "sys._current_frames", "os.setuid", "os.chroot"})
_PATH_EVENTS = frozenset({
    "os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.symlink",
    "os.link", "os.truncate", "os.utime", "os.chflags", "os.lchflags", "os.setxattr",
    "os.removexattr", "shutil.rmtree", "os.mkfifo", "os.mknod", "shutil.chown"})
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


def _install_hook(config):
    roots = tuple(os.path.realpath(r) + os.sep for r in config["write_roots"])
    libs = tuple(os.path.realpath(p) + os.sep for p in config["lib_prefixes"])
    me = os.getpid()
    busy = []

    def refused(event, args):
        if event in _DENIED or event.startswith("socket."):
            return True
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None, None))[:3]
            writing = any(c in mode for c in "wax+") if isinstance(mode, str) else bool((flags or 0) & _WRITE_FLAGS)
            return writing and not _inside(path, roots)
        if event in _PATH_EVENTS:
            return not all(_inside(a, roots) for a in args[:2] if isinstance(a, (str, bytes, os.PathLike)))
        if event == "os.kill":
            return args[0] != me
        if event == "ctypes.dlopen":
            return not (isinstance(args[0], str) and _inside(args[0], libs))
        return False

    def hook(event, args):
        if busy or _TAINT:
            if _TAINT and (event in _DENIED or event.startswith("socket.")):
                raise AuditTripped(_TAINT[0])
            return
        busy.append(1)
        try:
            bad = refused(event, args)
            if bad:
                _TAINT.append(f"{event} {_args(args)}")
        finally:
            busy.pop()
        if bad:
            raise AuditTripped(_TAINT[-1])

    sys.addaudithook(hook)


def _inside(path, roots):
    if isinstance(path, int):
        return True
    try:
        real = os.path.realpath(os.fsdecode(path))
    except (TypeError, ValueError):
        return False
    return real == os.devnull or any((real + os.sep).startswith(r) for r in roots)


def _args(args):
    try:
        return repr(tuple(args))[:200]
    except BaseException:  # noqa: BLE001
        return "<unprintable>"


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
