"""What the static policy enforces for one repository, and the catalogue of its rules."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["DEFAULT_PROTECTED", "Policy", "Rule", "RULES", "path_matches"]


@dataclass(frozen=True, slots=True)
class Rule:
    """A policy rule: a stable id, what it forbids, and how to fix a violation."""

    id: str
    summary: str
    fix: str


def _rules(*rules: Rule) -> Mapping[str, Rule]:
    return {r.id: r for r in rules}


# The standard library of safety rules.  Ids are stable: configuration and
# reports refer to them.
RULES: Mapping[str, Rule] = _rules(
    Rule("dynamic-code", "runs code built at run time (eval, exec, compile, code objects, pickle loads)",
         "call the code directly instead of building it from data"),
    Rule("dynamic-import", "imports a module whose name is computed at run time (__import__, importlib)",
         "use a plain `import` statement naming the module"),
    Rule("subprocess", "starts or controls another process (subprocess, os.system, os.exec*, fork, multiprocessing)",
         "remove the process call; the sandboxed code must compute in-process"),
    Rule("network", "opens a network connection (socket, urllib, http, requests, ...)",
         "remove network access; pass data in as arguments"),
    Rule("native-code", "loads native code (ctypes, cffi)",
         "remove the native call or use a vetted library function"),
    Rule("file-write", "writes, deletes or renames files (open for writing, os.remove, shutil, torch.save, ...)",
         "return the data instead of writing it, or allow the rule for this path"),
    Rule("module-mutation", "changes another module, builtins or sys.modules (monkeypatching)",
         "do not assign to attributes of imported modules; define your own function"),
    Rule("dynamic-lookup", "looks up names dynamically where the checker cannot follow (globals(), __builtins__, getattr on a module with a computed name)",
         "refer to the attribute by its name, e.g. `math.sqrt` instead of getattr(math, name)"),
    Rule("exit-at-import", "exits the interpreter when the module is imported",
         "move the exit under `if __name__ == \"__main__\":` or remove it"),
    Rule("process-control", "kills, signals or hard-exits the process (os._exit, os.kill, signal, atexit, resource limits)",
         "remove the call; raise an exception to report an error"),
    Rule("introspection", "inspects the call stack, frames or loaded modules (inspect.stack, sys._getframe, sys.modules, gc)",
         "remove the introspection; behaviour must not depend on who calls the code"),
    Rule("environment", "reads or changes environment variables (os.environ, os.getenv)",
         "pass the setting in as an argument, or allow the rule for this path"),
    Rule("checker-reference", "refers to the checker or a test harness (sandbox, verifiers, properties, hypothesis, pytest, z3)",
         "remove the reference; the code under check must not know it is being checked"),
    Rule("forbidden-name", "uses a name the repository's properties forbid",
         "use another function; see the forbid() statement in the property file"),
    Rule("module-shadowing", "adds a module that shadows a standard-library or installed module, or that Python runs at start-up (sitecustomize, usercustomize)",
         "give the new module a name no existing module has"),
    Rule("runtime-audit", "did something forbidden when run in the worker (the audit hook saw a file write, socket, process, native call or similar)",
         "remove the operation; the checked code must compute in-process without side effects"),
    Rule("protected-path", "touches a protected path (property files, sandbox configuration, ledger, tests)",
         "leave protected files alone; a person changes them outside the sandbox"),
    Rule("removed-definition", "removes a public definition other code may use",
         "keep the definition (deprecate it instead), or allow the rule for this path"),
    Rule("unlisted-call", "reaches an API that is not on the allow-list of safe APIs (pure, deterministic, "
         "side-effect-free functions and types; see docs/policy.md)",
         "call something on the allow-list (docs/policy.md lists it), or add the name to the repository's "
         "own list ([tool.sandbox] allow-calls = [\"mypkg.util.*\"]), or allow the rule for this path "
         "(allow = { \"unlisted-call\" = [...] })"),
    Rule("ambient-state", "makes behaviour depend on, or changes, state the checker does not vary (clock, "
         "environment, host, CPU count, interpreter flags, thread settings, grad modes, device, module globals, "
         "class attributes, mutable defaults)",
         "pass the value in as an argument, and keep state in objects the caller owns"),
    Rule("symlink", "creates, changes or removes a symbolic link",
         "commit the file's content instead of a link"),
)

DEFAULT_PROTECTED: tuple[str, ...] = (
    ".sandbox/**",
    "tests/**",
    "test/**",
    "**/test_*.py",
    "**/*_test.py",
    "**/conftest.py",
)


def path_matches(path: str, patterns: tuple[str, ...]) -> str | None:
    """Return the first glob in ``patterns`` that matches the repository-relative ``path``.

    ``**/`` also matches zero directories, so ``**/conftest.py`` matches ``conftest.py``.
    """
    for pattern in patterns:
        candidates = {pattern}
        if pattern.startswith("**/"):
            candidates.add(pattern[3:])
        if any(fnmatch.fnmatchcase(path, p) for p in candidates):
            return pattern
        if pattern.endswith("/**") and (path + "/").startswith(pattern[:-2]):
            return pattern
    return None


@dataclass(frozen=True, slots=True)
class Policy:
    """The policy for one repository: protected paths, per-path allowances, extra forbidden names.

    ``allow_calls`` extends the allow-list of safe APIs with the repository's own dotted-name
    patterns; ``local_modules`` are the repository's top-level modules and packages, which
    introduced code may always reach (their changed code is checked in its own right).
    """

    protected: tuple[str, ...] = DEFAULT_PROTECTED
    allow: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    forbidden_names: Mapping[str, str] = field(default_factory=dict)
    allow_calls: tuple[str, ...] = ()
    local_modules: frozenset[str] = frozenset()

    def allowed(self, rule: str, path: str) -> str | None:
        """The allow-list pattern that permits ``rule`` at ``path``, if any."""
        return path_matches(path, self.allow.get(rule, ()))

    def protected_by(self, path: str) -> str | None:
        """The protected pattern that covers ``path``, if any."""
        return path_matches(path, self.protected)
