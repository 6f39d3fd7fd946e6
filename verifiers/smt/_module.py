"""What a module's text offers the translator: its functions, literal constants and math imports."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from verifiers.literal import NotALiteral, constant_value
from verifiers.smt._types import Unsupported

__all__ = ["ModuleInfo", "module_info"]

# Functions z3 cannot compute exactly: modelled as uninterpreted functions of their argument
# (with uninterpreted "raises" predicates), so a proof holds for every implementation of them;
# `sqrt` is exact in IEEE-754 and modelled exactly there.
TRANSCENDENTAL = frozenset({"sqrt", "exp", "expm1", "log", "log1p", "log2", "log10", "sin", "cos", "tan",
                            "asin", "acos", "atan", "sinh", "cosh", "tanh", "erf", "erfc"})
MATH_FUNCTIONS = frozenset({"floor", "ceil", "trunc", "isnan", "isinf", "isfinite"}) | TRANSCENDENTAL
MATH_CONSTANTS = {"inf": float("inf"), "nan": float("nan"), "pi": 3.141592653589793, "e": 2.718281828459045,
                  "tau": 6.283185307179586}


@dataclass
class ModuleInfo:
    """Top-level names of one side's module: ``functions`` (AST), ``constants`` (values or the reason they are not)."""

    name: str
    functions: dict[str, ast.FunctionDef] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    not_literal: dict[str, str] = field(default_factory=dict)
    classes: set[str] = field(default_factory=set)
    math_aliases: set[str] = field(default_factory=set)
    from_math: dict[str, str] = field(default_factory=dict)
    bound: set[str] = field(default_factory=set)  # every name the module binds, however: it shadows a builtin


def module_info(name: str, text: str | None) -> ModuleInfo:
    info = ModuleInfo(name)
    if not text:
        return info
    tree = ast.parse(text)
    seen: dict[str, int] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef):
            info.functions[stmt.name] = stmt
        elif isinstance(stmt, ast.ClassDef):
            info.classes.add(stmt.name)
        elif isinstance(stmt, ast.Import):
            info.math_aliases |= {a.asname or a.name for a in stmt.names if a.name == "math"}
        elif isinstance(stmt, ast.ImportFrom) and stmt.module == "math":
            info.from_math |= {a.asname or a.name: a.name for a in stmt.names}
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            _constant(info, stmt, seen)
    counts = _bindings(tree)
    info.bound = set(counts)
    for name in [n for n, c in counts.items() if c > 1]:
        info.functions.pop(name, None)
        info.constants.pop(name, None)
        info.from_math.pop(name, None)
        info.math_aliases.discard(name)
        info.not_literal[name] = f"the module binds {name} more than once"
    return info


def _bindings(tree: ast.Module) -> dict[str, int]:
    """How often each name is bound at module level (``*`` for a star import of a module other than math)."""
    counts: dict[str, int] = {}

    def bind(name: str) -> None:
        counts[name] = counts.get(name, 0) + 1

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                bind(child.name)
                for inner in ast.walk(child):
                    if isinstance(inner, ast.Global):
                        for name in inner.names:
                            bind(name)
                            bind(name)  # assigned when the function runs: never a constant
            elif isinstance(child, (ast.Import, ast.ImportFrom)):
                for alias in child.names:
                    if alias.name == "*" and getattr(child, "module", None) != "math":
                        bind("*")
                    bind((alias.asname or alias.name).partition(".")[0])
            elif isinstance(child, ast.Name) and not isinstance(child.ctx, ast.Load):
                bind(child.id)
            else:
                if isinstance(child, ast.ExceptHandler) and child.name:
                    bind(child.name)
                if isinstance(child, (ast.MatchAs, ast.MatchStar)) and child.name:
                    bind(child.name)
                visit(child)
    visit(tree)
    return counts


def _constant(info: ModuleInfo, stmt: ast.Assign | ast.AnnAssign, seen: dict[str, int]) -> None:
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    for target in targets:
        if not isinstance(target, ast.Name):
            continue
        seen[target.id] = seen.get(target.id, 0) + 1
        if seen[target.id] > 1:
            info.constants.pop(target.id, None)
            info.not_literal[target.id] = f"module constant {target.id} is assigned more than once"
            continue
        try:
            info.constants[target.id] = constant_value(f"_ = {ast.unparse(stmt.value)}") if stmt.value else None
        except (NotALiteral, ArithmeticError, SyntaxError, ValueError, TypeError, RecursionError) as error:
            info.not_literal[target.id] = f"module constant {target.id} is not a literal value ({error})"


def check_constant(name: str, value: Any, line: int | None) -> Any:
    """Only int, float, bool, None, str and tuples of these are translated (str only where strings are)."""
    if isinstance(value, tuple):
        return tuple(check_constant(name, v, line) for v in value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise Unsupported(f"constant {name} = {value!r:.60} is a {type(value).__name__}, outside the smt subset", line)
