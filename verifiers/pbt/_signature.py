"""What the ASTs say about a target: its parameters, whether it is a method, the module's enums and dataclasses."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

__all__ = ["ModuleTypes", "Param", "Shape", "Unsupported", "module_types", "parameters", "shape"]

_ENUM_BASES = {"Enum", "IntEnum", "StrEnum", "Flag", "IntFlag"}


class Unsupported(ValueError):
    """The target cannot be exercised as written; the message says what to add."""


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter: its name, annotation (AST, or None), and how it is passed."""

    name: str
    annotation: ast.expr | None
    keyword_only: bool = False
    has_default: bool = False


@dataclass(frozen=True, slots=True)
class Shape:
    """How to call the target: ``callee`` is ``"module:Qual.name"``; ``cls`` is set when a receiver is needed."""

    callee: str
    qualname: str
    cls: str | None = None


@dataclass(slots=True)
class ModuleTypes:
    """Enums (name -> member values) and dataclasses (name -> init fields) defined at module level."""

    module: str
    enums: dict[str, list[object]] = field(default_factory=dict)
    dataclasses: dict[str, list[Param]] = field(default_factory=dict)
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)


def _function(source: str) -> ast.FunctionDef:
    tree = ast.parse(source)
    node = tree.body[0] if tree.body else None
    if isinstance(node, ast.AsyncFunctionDef):
        raise Unsupported(f"{node.name} is async; the gate cannot execute coroutines")
    if not isinstance(node, ast.FunctionDef):
        raise Unsupported("the definition is not a function")
    return node


def _decorators(node: ast.FunctionDef) -> set[str]:
    return {d.id if isinstance(d, ast.Name) else d.attr for d in node.decorator_list
            if isinstance(d, (ast.Name, ast.Attribute))}


def parameters(source: str, *, method: bool) -> list[Param]:
    """The parameters a caller supplies (``self``/``cls`` dropped for methods)."""
    node = _function(source)
    args = node.args
    if args.vararg or args.kwarg:
        star = f"*{args.vararg.arg}" if args.vararg else f"**{args.kwarg.arg}"  # type: ignore[union-attr]
        raise Unsupported(f"parameter {star} of {node.name} takes a variable number of arguments, "
                          "which the gate cannot generate")
    positional = [*args.posonlyargs, *args.args]
    if method and "staticmethod" not in _decorators(node):
        if not positional:
            raise Unsupported(f"method {node.name} takes no self/cls parameter")
        positional = positional[1:]
    first_default = len([*args.posonlyargs, *args.args]) - len(args.defaults)
    offset = len([*args.posonlyargs, *args.args]) - len(positional)
    params = [Param(a.arg, a.annotation, False, i + offset >= first_default) for i, a in enumerate(positional)]
    params += [Param(a.arg, a.annotation, True, d is not None) for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    return params


def shape(target: str, module: str, source: str, types: ModuleTypes) -> Shape:
    """How ``target`` is called; a method of a class in the module needs a receiver."""
    qualname = target[len(module) + 1:] if module and target.startswith(module + ".") else target.rpartition(".")[2]
    parts = qualname.split(".")
    if len(parts) == 1:
        return Shape(f"{module}:{qualname}", qualname)
    if len(parts) != 2 or parts[0] not in types.classes:
        raise Unsupported(f"{target} is nested inside {'.'.join(parts[:-1])}, which is not a class of {module}")
    decorators = _decorators(_function(source))
    receiver = None if decorators & {"staticmethod", "classmethod"} else parts[0]
    return Shape(f"{module}:{qualname}", qualname, receiver)


def is_method(target: str, module: str) -> bool:
    qualname = target[len(module) + 1:] if module and target.startswith(module + ".") else target
    return "." in qualname


def module_types(module: str, text: str | None) -> ModuleTypes:
    """The module's top-level classes, with enums' member values and dataclasses' fields."""
    types = ModuleTypes(module)
    try:
        tree = ast.parse(text or "")
    except (SyntaxError, ValueError):
        return types
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        types.classes[node.name] = node
        bases = {b.id if isinstance(b, ast.Name) else b.attr for b in node.bases if isinstance(b, (ast.Name, ast.Attribute))}
        if bases & _ENUM_BASES:
            values = _enum_values(node)
            if values is not None:
                types.enums[node.name] = values
        elif any(_name_of(d) == "dataclass" for d in node.decorator_list):
            types.dataclasses[node.name] = _dataclass_fields(node)
    return types


def _name_of(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""


def _enum_values(node: ast.ClassDef) -> list[object] | None:
    values: list[object] = []
    for stmt in node.body:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
            continue
        if stmt.targets[0].id.startswith("_"):
            continue
        if isinstance(stmt.value, ast.Call) and _name_of(stmt.value) == "auto":
            last = values[-1] if values and isinstance(values[-1], int) else 0
            values.append(last + 1)
            continue
        try:
            values.append(ast.literal_eval(stmt.value))
        except (ValueError, TypeError, SyntaxError):
            return None
    return values


def _dataclass_fields(node: ast.ClassDef) -> list[Param]:
    fields: list[Param] = []
    for stmt in node.body:
        if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
            continue
        if _name_of(stmt.annotation if not isinstance(stmt.annotation, ast.Subscript) else stmt.annotation.value) \
                in ("ClassVar", "InitVar"):
            continue
        value = stmt.value
        if isinstance(value, ast.Call) and _name_of(value) == "field" and any(
                k.arg == "init" and isinstance(k.value, ast.Constant) and k.value.value is False for k in value.keywords):
            continue
        fields.append(Param(stmt.target.id, stmt.annotation, True, value is not None))
    return fields


def init_params(cls: ast.ClassDef, types: ModuleTypes) -> list[Param]:
    """The parameters of ``cls``'s constructor, from its ``__init__`` or dataclass fields."""
    if cls.name in types.dataclasses:
        return types.dataclasses[cls.name]
    for stmt in cls.body:
        if isinstance(stmt, ast.FunctionDef) and stmt.name == "__init__":
            return parameters(ast.unparse(stmt), method=True)
    if cls.bases:
        raise Unsupported(f"class {cls.name} has no __init__ of its own but derives from "
                          f"{', '.join(ast.unparse(b) for b in cls.bases)}, so the gate cannot tell how to build it")
    return []
