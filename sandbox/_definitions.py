"""Cutting one side of a Python file into definitions, with libcst.

Functions, classes, methods, module constants, imports and module code each
become a ``Definition`` with its exact source, line range and a normal form for
comparison: the ``ast`` dump, which keeps exactly what Python executes, so
formatting and comments vanish from it for free.
"""

from __future__ import annotations

import ast
import codecs
import dataclasses
import enum
import io
import textwrap
import tokenize
from collections.abc import Sequence
from dataclasses import dataclass

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from sandbox._errors import PatchError

__all__ = ["DefKind", "Definition", "definitions", "require_utf8_source"]


class DefKind(enum.Enum):
    FUNCTION = "function"
    METHOD = "method"
    CLASS = "class"
    CONSTANT = "constant"
    IMPORT = "import"
    MODULE_CODE = "module code"


@dataclass(frozen=True, slots=True)
class Definition:
    """One definition on one side of a patch."""

    qualname: str
    kind: DefKind
    source: str
    lines: tuple[int, int]
    normal: str
    docstring_free: str
    reads: frozenset[str]
    attribute_reads: frozenset[str]
    is_static: bool = False
    own_source: str = ""
    class_bases: tuple[str, ...] = ()


def require_utf8_source(data: bytes | None, path: str) -> None:
    """Refuse a coding cookie other than UTF-8.

    The gate reads source as UTF-8, but Python decodes a file by its cookie: under
    ``# coding: utf-7`` the comment ``+AAo-os.system(...)`` is a newline and a call.
    """
    if data is None:
        return
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:
        raise PatchError(f"has an invalid encoding declaration: {error}", path=path) from None
    if codecs.lookup(encoding).name not in ("utf-8", "utf-8-sig"):
        raise PatchError(
            f"declares the source encoding {encoding!r}; the gate analyses Python source as UTF-8, and a "
            "file Python would decode differently could hide code from it: remove the coding declaration",
            path=path,
        )


def definitions(text: str | None, path: str, module: str) -> dict[str, Definition]:
    try:
        ast.parse(text or "", filename=path)
    except SyntaxError as error:
        raise PatchError(
            f"does not parse as Python: {error.msg}; the patch must leave every Python file syntactically valid",
            path=path, line=error.lineno,
        ) from None
    try:
        # The module is fresh and never shared, so the wrapper's defensive deep copy is pure cost.
        wrapper = MetadataWrapper(cst.parse_module(text or ""), unsafe_skip_copy=True)
    except cst.ParserSyntaxError as error:
        raise PatchError(f"libcst cannot parse it: {error.message}", path=path, line=error.raw_line) from None
    collector = _Collector(wrapper, module)
    collector.collect(wrapper.module.body, module, in_class=False)
    return collector.finish()


class _Collector:
    def __init__(self, wrapper: MetadataWrapper, module: str) -> None:
        self._positions = wrapper.resolve(PositionProvider)
        self._module = wrapper.module
        self._modname = module
        self._found: dict[str, Definition] = {}
        self._grouped: dict[str, list[tuple[DefKind, cst.CSTNode]]] = {}
        self._bases: dict[str, tuple[str, ...]] = {}
        # One statement may bind many names (``a, b, c = ...``, ``from m import a, b, c``): its code
        # and parse are computed once and shared, so the cost stays linear in the file.
        self._codes: dict[int, tuple[cst.CSTNode, str]] = {}
        self._imports: dict[tuple[int, ...], dict[str, list[str]]] = {}

    def collect(self, body: Sequence[cst.CSTNode], prefix: str, in_class: bool) -> None:
        for index, stmt in enumerate(body):
            if index == 0 and _is_docstring(stmt):
                continue
            if isinstance(stmt, cst.FunctionDef):
                kind = DefKind.METHOD if in_class else DefKind.FUNCTION
                self._add(f"{prefix}.{stmt.name.value}", kind, stmt)
            elif isinstance(stmt, cst.ClassDef):
                self._add_class(stmt, f"{prefix}.{stmt.name.value}")
            else:
                self._group(stmt, prefix, in_class)

    def _add_class(self, node: cst.ClassDef, qualname: str) -> None:
        members = node.body.body if isinstance(node.body, cst.IndentedBlock) else ()
        docstring = [members[0]] if members and _is_docstring(members[0]) else []
        header_only = node.with_changes(
            body=cst.IndentedBlock([*docstring, cst.SimpleStatementLine([cst.Pass()])])
        )
        self._add(qualname, DefKind.CLASS, node, normal_node=header_only)
        bases = tuple(self._code(arg.value).strip() for arg in node.bases)
        self._bases[qualname] = bases
        self.collect(members, qualname, in_class=True)

    def _group(self, stmt: cst.CSTNode, prefix: str, in_class: bool) -> None:
        bound = _bound_names(self._code(stmt))
        if isinstance(stmt, cst.SimpleStatementLine) and all(
            isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body
        ):
            for name in bound:
                self._grouped.setdefault(f"{prefix}.{name}", []).append((DefKind.IMPORT, stmt))
        elif bound and _is_assignment(stmt):
            for name in bound:
                self._grouped.setdefault(f"{prefix}.{name}", []).append((DefKind.CONSTANT, stmt))
        elif in_class:
            # Other statements in a class body belong to the class header.
            self._grouped.setdefault(f"{prefix}.<class body>", []).append((DefKind.CLASS, stmt))
        else:
            key = "<main block>" if _is_main_guard(stmt) else "<module code>"
            self._grouped.setdefault(f"{prefix}.{key}", []).append((DefKind.MODULE_CODE, stmt))

    def _add(self, qualname: str, kind: DefKind, node: cst.CSTNode, normal_node: cst.CSTNode | None = None) -> None:
        start, end = self._span(node)
        source = textwrap.dedent(self._code(node).strip("\n"))
        normal_source = textwrap.dedent(self._code(normal_node).strip("\n")) if normal_node else source
        tree = ast.parse(normal_source)
        static = isinstance(node, cst.FunctionDef) and any(
            self._code(d.decorator).strip() == "staticmethod" for d in node.decorators
        )
        self._found[qualname] = Definition(
            qualname, kind, source, (start, end), ast.dump(tree), ast.dump(_strip_docstrings(tree)),
            _reads(tree), _attribute_reads(tree), static, normal_source,
            self._bases.get(qualname.rpartition(".")[0], ()) if kind is DefKind.METHOD else (),
        )

    def finish(self) -> dict[str, Definition]:
        shared: dict[tuple[int, ...], Definition] = {}
        for qualname, members in self._grouped.items():
            key = tuple(id(node) for _, node in members)
            if key not in shared:
                shared[key] = self._group_definition(members)
            template = shared[key]
            if all(k is DefKind.IMPORT for k, _ in members):
                imports = self._import_map(key, template.source)
                dump = "; ".join(imports.get(qualname.rpartition(".")[2], ()))
                template = dataclasses.replace(template, normal=dump, docstring_free=dump)
            self._found[qualname] = dataclasses.replace(
                template, qualname=qualname, class_bases=self._bases.get(qualname.rpartition(".")[0], ()))
        return self._found

    def _group_definition(self, members: list[tuple[DefKind, cst.CSTNode]]) -> Definition:
        spans = [self._span(node) for _, node in members]
        source = "\n".join(textwrap.dedent(self._code(node).strip("\n")) for _, node in members)
        tree = ast.parse(source)
        dump = ast.dump(tree) if not all(k is DefKind.IMPORT for k, _ in members) else ""
        return Definition("", members[0][0], source, (spans[0][0], spans[-1][1]), dump, dump,
                          _reads(tree), _attribute_reads(tree), own_source=source)

    def _import_map(self, key: tuple[int, ...], source: str) -> dict[str, list[str]]:
        if key not in self._imports:
            self._imports[key] = _import_bindings(ast.parse(source))
        return self._imports[key]

    def _span(self, node: cst.CSTNode) -> tuple[int, int]:
        where = self._positions[node]
        start = where.start.line
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)) and node.decorators:
            start = self._positions[node.decorators[0]].start.line
        return start, where.end.line

    def _code(self, node: cst.CSTNode) -> str:
        # The node is kept with its code: a freed node's id could be reused by a new one.
        if id(node) not in self._codes:
            self._codes[id(node)] = (node, self._uncached_code(node))
        return self._codes[id(node)][1]

    def _uncached_code(self, node: cst.CSTNode) -> str:
        code = self._module.code_for_node(node)
        # Leading comment lines belong to the node in libcst; they are not code.
        lines = code.splitlines(keepends=True)
        while lines and lines[0].strip().startswith("#") or lines and not lines[0].strip():
            lines.pop(0)
        return "".join(lines)


def _is_docstring(stmt: cst.CSTNode) -> bool:
    return (
        isinstance(stmt, cst.SimpleStatementLine)
        and len(stmt.body) == 1
        and isinstance(stmt.body[0], cst.Expr)
        and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )


def _is_main_guard(stmt: cst.CSTNode) -> bool:
    """``if __name__ == "__main__":`` -- runs only when the file is executed as a script."""
    if not isinstance(stmt, cst.If) or stmt.orelse is not None:
        return False
    test = ast.parse(cst.Module([]).code_for_node(stmt.test).strip(), mode="eval").body
    return (
        isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)
        and {ast.dump(test.left), ast.dump(test.comparators[0])}
        == {ast.dump(ast.Name("__name__", ast.Load())), ast.dump(ast.Constant("__main__"))}
    )


def _is_assignment(stmt: cst.CSTNode) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Assign, cst.AnnAssign, cst.AugAssign)) for s in stmt.body
    )


def _bound_names(code: str) -> tuple[str, ...]:
    names: list[str] = []
    for node in ast.walk(ast.parse(textwrap.dedent(code))):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.append(node.id)
        elif isinstance(node, ast.alias):
            names.append((node.asname or node.name).split(".")[0])
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
    return tuple(dict.fromkeys(names))


def _import_bindings(tree: ast.AST) -> dict[str, list[str]]:
    """What the import statements bind each name to, so splitting or reordering imports is cosmetic."""
    bound: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                text = f"import {a.name}" + (f" as {a.asname}" if a.asname else "")
                bound.setdefault(a.asname or a.name.split(".")[0], []).append(text)
        elif isinstance(node, ast.ImportFrom):
            source = "." * node.level + (node.module or "")
            for a in node.names:
                bound.setdefault(a.asname or a.name, []).append(f"from {source} import {a.name}")
    return bound


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def _reads(tree: ast.AST) -> frozenset[str]:
    return frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))


def _attribute_reads(tree: ast.AST) -> frozenset[str]:
    return frozenset(n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute))
