"""Cutting one side of a Python file into definitions.

Functions, classes, methods, module constants, imports and module code each
become a ``Definition`` with its exact source, line range and a normal form for
comparison: the ``ast`` dump, which keeps exactly what Python executes, so
formatting and comments vanish from it for free.

The cut is made on Python's own parse (``ast``) and the file's lines, not on a
concrete syntax tree: the normal forms come from ``ast`` anyway, and a concrete
tree costs a tenth of a second per side of a 200-line module to build and render
(plus the import of its library) on every check.  What the concrete tree gave for
free is kept explicitly: a definition's source is its lines as written, from its
first decorator to its last statement plus the trailing comment lines its block
owns (the rule libcst applies, so both cut the same text), with the enclosing
indentation removed -- but never inside a multi-line string, whose lines are its
value.  ``tests/sandbox/test_definitions.py`` holds the two cuts to each other on
generated modules.
"""

from __future__ import annotations

import ast
import codecs
import copy
import dataclasses
import enum
import io
import re
import tokenize
from collections.abc import Sequence
from dataclasses import dataclass

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
        tree = ast.parse(text or "", filename=path)
    except SyntaxError as error:
        raise PatchError(
            f"does not parse as Python: {error.msg}; the patch must leave every Python file syntactically valid",
            path=path, line=error.lineno,
        ) from None
    collector = _Collector(text or "", tree, path, module)
    collector.collect(tree.body, module, in_class=False)
    return collector.finish()


# Python ends a line at \r\n, \r or \n -- not at the form feeds and separators str.splitlines knows.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_BLANK_OR_COMMENT = re.compile(r"[ \t\f]*(?:#[^\r\n]*)?(?:\r\n|\r|\n)?\Z")


class _Collector:
    def __init__(self, text: str, tree: ast.Module, path: str, module: str) -> None:
        self._lines = _LINE.findall(text)
        self._path = path
        self._found: dict[str, Definition] = {}
        # A group is one source line of simple statements (``a = 1; b = 2``) or one compound
        # statement: what libcst calls a statement, the unit a name's definition is made of.
        self._grouped: dict[str, list[tuple[DefKind, _Group]]] = {}
        self._bases: dict[str, tuple[str, ...]] = {}
        # One statement may bind many names (``a, b, c = ...``, ``from m import a, b, c``): its code
        # and parse are computed once and shared, so the cost stays linear in the file.
        self._codes: dict[int, tuple[_Group, str]] = {}
        self._imports: dict[tuple[int, ...], dict[str, list[str]]] = {}
        self._verbatim = _verbatim_lines(tree, self._lines)

    def collect(self, body: Sequence[ast.stmt], prefix: str, in_class: bool) -> None:
        for index, group in enumerate(_groups(body)):
            stmt = group.stmts[0]
            if index == 0 and _is_docstring(group):
                continue
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                kind = DefKind.METHOD if in_class else DefKind.FUNCTION
                self._add(f"{prefix}.{stmt.name}", kind, group)
            elif isinstance(stmt, ast.ClassDef):
                self._add_class(group, f"{prefix}.{stmt.name}")
            else:
                self._group(group, prefix, in_class)

    def _add_class(self, group: _Group, qualname: str) -> None:
        node = group.stmts[0]
        assert isinstance(node, ast.ClassDef)
        members = _groups(node.body)
        docstring = members[0] if members and _is_docstring(members[0]) else None
        # The header, as if the body were only its docstring and ``pass``: what the class itself says.
        header = copy.copy(node)
        header.body = [*(docstring.stmts if docstring else ()), ast.Pass()]
        own = self._header_source(node, docstring)
        self._add(qualname, DefKind.CLASS, group, normal=(ast.Module([header], []), own))
        self._bases[qualname] = tuple(self._segment(b.value if isinstance(b, ast.Starred) else b).strip()
                                      for b in node.bases)
        self.collect(node.body, qualname, in_class=True)

    def _group(self, group: _Group, prefix: str, in_class: bool) -> None:
        bound = _bound_names(group.stmts)
        if all(isinstance(s, (ast.Import, ast.ImportFrom)) for s in group.stmts):
            for name in bound:
                self._grouped.setdefault(f"{prefix}.{name}", []).append((DefKind.IMPORT, group))
        elif bound and all(isinstance(s, (ast.Assign, ast.AnnAssign, ast.AugAssign)) for s in group.stmts):
            for name in bound:
                self._grouped.setdefault(f"{prefix}.{name}", []).append((DefKind.CONSTANT, group))
        elif in_class:
            # Other statements in a class body belong to the class header.
            self._grouped.setdefault(f"{prefix}.<class body>", []).append((DefKind.CLASS, group))
        else:
            key = "<main block>" if _is_main_guard(group.stmts[0]) else "<module code>"
            self._grouped.setdefault(f"{prefix}.{key}", []).append((DefKind.MODULE_CODE, group))

    def _add(self, qualname: str, kind: DefKind, group: _Group,
             normal: tuple[ast.Module, str] | None = None) -> None:
        node = group.stmts[0]
        source = self._code(group)
        tree, normal_source = normal if normal else (self._parse(source, qualname, group), source)
        static = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
            isinstance(d, ast.Name) and d.id == "staticmethod" for d in node.decorator_list)
        dump, reads, attribute_reads = ast.dump(tree), _reads(tree), _attribute_reads(tree)
        docstring_free = ast.dump(_strip_docstrings(tree))  # in place: the tree is this definition's own
        self._found[qualname] = Definition(
            qualname, kind, source, group.span, dump, docstring_free,
            reads, attribute_reads, static, normal_source,
            self._bases.get(qualname.rpartition(".")[0], ()) if kind is DefKind.METHOD else (),
        )

    def finish(self) -> dict[str, Definition]:
        shared: dict[tuple[int, ...], Definition] = {}
        for qualname, members in self._grouped.items():
            key = tuple(id(group) for _, group in members)
            if key not in shared:
                shared[key] = self._group_definition(qualname, members)
            template = shared[key]
            if all(k is DefKind.IMPORT for k, _ in members):
                imports = self._import_map(key, members)
                dump = "; ".join(imports.get(qualname.rpartition(".")[2], ()))
                template = dataclasses.replace(template, normal=dump, docstring_free=dump)
            self._found[qualname] = dataclasses.replace(
                template, qualname=qualname, class_bases=self._bases.get(qualname.rpartition(".")[0], ()))
        return self._found

    def _group_definition(self, qualname: str, members: list[tuple[DefKind, _Group]]) -> Definition:
        source = "\n".join(self._code(group) for _, group in members)
        tree = self._parse(source, qualname, members[0][1])
        dump = ast.dump(tree) if not all(k is DefKind.IMPORT for k, _ in members) else ""
        return Definition("", members[0][0], source, (members[0][1].span[0], members[-1][1].span[1]), dump, dump,
                          _reads(tree), _attribute_reads(tree), own_source=source)

    def _import_map(self, key: tuple[int, ...], members: list[tuple[DefKind, _Group]]) -> dict[str, list[str]]:
        if key not in self._imports:
            self._imports[key] = _import_bindings(ast.Module([s for _, g in members for s in g.stmts], []))
        return self._imports[key]

    def _parse(self, source: str, qualname: str, group: _Group) -> ast.Module:
        try:
            return ast.parse(source)
        except SyntaxError as error:
            # The cut is Python's own lines with one indentation removed; a file that parses but
            # whose definition does not parse on its own (a form feed in the indentation, say) is
            # refused rather than compared on a guess.
            raise PatchError(
                f"the definition {qualname} (line {group.span[0]}) cannot be cut out of the file on its own "
                f"({error.msg}); indent it with spaces or tabs only", path=self._path, line=group.span[0],
            ) from None

    def _code(self, group: _Group) -> str:
        if id(group) not in self._codes:
            self._codes[id(group)] = (group, self._uncached_code(group))
        return self._codes[id(group)][1]

    def _uncached_code(self, group: _Group) -> str:
        first, last = group.span[0], _end(group.stmts[-1], self._lines)
        return self._cut(first, last, _indent_of(self._lines[first - 1])).strip("\r\n")

    def _cut(self, first: int, last: int, indent: str) -> str:
        out = []
        for number in range(first, last + 1):
            line = self._lines[number - 1]
            if number not in self._verbatim and line.startswith(indent):
                line = line[len(indent):]
            out.append(line)
        return "".join(out)

    def _segment(self, node: ast.expr) -> str:
        """An expression's text as written (``ast`` columns count UTF-8 bytes)."""
        last = node.end_lineno or node.lineno
        part = [line.encode() for line in self._lines[node.lineno - 1:last]]
        part[-1] = part[-1][:node.end_col_offset]
        part[0] = part[0][node.col_offset:]
        return b"".join(part).decode(errors="replace")

    def _header_source(self, node: ast.ClassDef, docstring: _Group | None) -> str:
        """The class's decorators and header line(s) as written, then its docstring and ``pass``."""
        first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
        colon = _colon_line(self._lines, node)
        indent = _indent_of(self._lines[first - 1])
        text = self._cut(first, colon, indent).rstrip("\r\n")
        body = node.body[0]
        if body.lineno == colon:  # ``class A: x = 1`` -- the header line holds the body too
            return text
        inner = _indent_of(self._lines[body.lineno - 1])
        if docstring is not None:
            text += "\n" + self._cut(docstring.span[0], docstring.span[1], indent).rstrip("\r\n")
        return f"{text}\n{inner[len(indent):] if inner.startswith(indent) else inner}pass"


@dataclass(frozen=True, eq=False)
class _Group:
    stmts: tuple[ast.stmt, ...]
    span: tuple[int, int]  # first line (the first decorator's) and the last statement's last line


def _groups(body: Sequence[ast.stmt]) -> list[_Group]:
    """The statements of one block, with simple statements that share a line (``;``) as one group."""
    groups: list[list[ast.stmt]] = []
    for stmt in body:
        if groups and stmt.lineno == groups[-1][-1].end_lineno and _is_simple(stmt) and _is_simple(groups[-1][-1]):
            groups[-1].append(stmt)
        else:
            groups.append([stmt])
    return [_Group(tuple(g), (_first_line(g[0]), g[-1].end_lineno or g[-1].lineno)) for g in groups]


def _first_line(stmt: ast.stmt) -> int:
    decorators = getattr(stmt, "decorator_list", None)
    return decorators[0].lineno if decorators else stmt.lineno


_COMPOUND = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For, ast.AsyncFor, ast.While,
             ast.With, ast.AsyncWith, ast.Try, ast.TryStar, ast.Match)


def _is_simple(stmt: ast.stmt) -> bool:
    return not isinstance(stmt, _COMPOUND)


def _last_block(stmt: ast.stmt) -> list[ast.stmt] | None:
    """The statements of the clause a compound statement ends with; ``None`` for a simple statement."""
    if isinstance(stmt, ast.If):
        return stmt.orelse or stmt.body
    if isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
        return stmt.orelse or stmt.body
    if isinstance(stmt, (ast.Try, ast.TryStar)):
        return stmt.finalbody or stmt.orelse or (stmt.handlers[-1].body if stmt.handlers else stmt.body)
    if isinstance(stmt, ast.Match):
        return stmt.cases[-1].body
    if isinstance(stmt, _COMPOUND):
        return stmt.body  # type: ignore[attr-defined]
    return None


def _end(stmt: ast.stmt, lines: list[str]) -> int:
    """The last line of ``stmt``'s code: its last statement, then the trailing comment lines its block owns.

    libcst's rule: after a block's last statement, the comment and blank lines up to the last one
    that starts with the block's indentation belong to the block; the rest to what follows.
    """
    end = stmt.end_lineno or stmt.lineno
    block = _last_block(stmt)
    if not block:
        return end
    if isinstance(stmt, ast.If) and len(stmt.orelse) == 1 and isinstance(stmt.orelse[0], ast.If) \
            and stmt.orelse[0].col_offset == stmt.col_offset:
        # ``elif`` (an ``if`` inside an ``else:`` block is indented further): the chain ends where
        # its last clause ends
        return _end(stmt.orelse[0], lines)
    first = block[0]
    line = lines[first.lineno - 1]
    lead = line.encode()[:first.col_offset].decode(errors="replace")
    if lead.strip():
        return end  # the body follows the colon on the header's line: no block, no footer
    end = max(end, _end(block[-1], lines))
    owned = end
    for number in range(end + 1, len(lines) + 1):
        text = lines[number - 1]
        if not _BLANK_OR_COMMENT.match(text):
            break
        if text.startswith(lead):
            owned = number
    return owned


def _colon_line(lines: list[str], node: ast.ClassDef) -> int:
    """The line of the colon that ends a class header (after its bases and keywords)."""
    depth, started = 0, False
    rest = iter(lines[node.lineno - 1:])
    try:
        for token in tokenize.generate_tokens(lambda: next(rest, "")):
            if token.type == tokenize.NAME and token.string == "class":
                started = True
            elif started and token.type == tokenize.OP:
                if token.string in "([{":
                    depth += 1
                elif token.string in ")]}":
                    depth -= 1
                elif token.string == ":" and depth == 0:
                    return node.lineno + token.start[0] - 1
    except (tokenize.TokenError, SyntaxError):
        pass  # the header was read before whatever the tokenizer stopped at
    return node.lineno


def _indent_of(line: str) -> str:
    return line[:len(line) - len(line.lstrip(" \t\f"))]


def _verbatim_lines(tree: ast.AST, lines: list[str]) -> frozenset[int]:
    """Lines whose leading whitespace is not indentation: inside a string, or after a backslash.

    A multi-line string's lines are its value; a line continued by a backslash keeps its
    whitespace as written (libcst does the same).  The tokenizer is run over the whole file
    only when some line ends in a backslash outside a string, since it costs more than the parse.
    """
    inside = _string_interiors(tree, lines)
    if not any(line.rstrip("\r\n").endswith("\\") and number + 1 not in inside
               for number, line in enumerate(lines, start=1)):
        return inside
    continued: set[int] = set()
    quiet = (tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING)
    previous = None
    try:
        for token in tokenize.generate_tokens(iter(lines).__next__):
            if previous is not None and previous.type not in quiet and token.start[0] > previous.end[0]:
                continued.update(range(previous.end[0] + 1, token.start[0] + 1))
            previous = token
    except (StopIteration, tokenize.TokenError, SyntaxError):
        pass
    return inside | frozenset(continued)


def _string_interiors(tree: ast.AST, lines: list[str]) -> frozenset[int]:
    """Lines inside a multi-line string token: they are the string's value, so never re-indented.

    ``ast`` gives the span of a string expression, which may be several tokens (``("a"\n "b")``);
    the tokens of the few expressions that span lines are read to tell the lines inside a token
    from the lines between two.
    """
    spans = sorted((node.lineno, node.col_offset, node.end_lineno, node.end_col_offset) for node in ast.walk(tree)
                   if isinstance(node, (ast.Constant, ast.JoinedStr)) and node.end_lineno
                   and node.end_lineno > node.lineno
                   and (isinstance(node, ast.JoinedStr) or isinstance(node.value, (str, bytes))))
    found: set[int] = set()
    covered = (0, 0)
    for first, col, last, end_col in spans:
        if (first, col) < covered:
            continue  # a part of an f-string already read
        covered = (last, end_col or 0)
        found.update(_token_interiors(lines, first, col, last, end_col or 0))
    return frozenset(found)


def _token_interiors(lines: list[str], first: int, col: int, last: int, end_col: int) -> set[int]:
    part = [line.encode() for line in lines[first - 1:last]]
    part[-1] = part[-1][:end_col]
    part[0] = b"(" + part[0][col:]
    text = b"".join(part).decode(errors="replace") + ")"
    inside: set[int] = set()
    opened: list[int] = []
    start_kind, end_kind = getattr(tokenize, "FSTRING_START", -1), getattr(tokenize, "FSTRING_END", -1)
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.STRING:
                inside.update(range(first + token.start[0], first + token.end[0]))
            elif token.type == start_kind:
                opened.append(token.start[0])
            elif token.type == end_kind and opened:
                inside.update(range(first + opened.pop(), first + token.end[0]))
    except (tokenize.TokenError, SyntaxError):
        return set(range(first + 1, last + 1))  # unsure: keep every line of the expression as written
    return inside


def _is_docstring(group: _Group) -> bool:
    # Python takes only a plain string literal as a docstring; a b"..." or an f-string is code.
    stmt = group.stmts[0]
    return (len(group.stmts) == 1 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str))


def _is_main_guard(stmt: ast.stmt) -> bool:
    """``if __name__ == "__main__":`` -- runs only when the file is executed as a script."""
    if not isinstance(stmt, ast.If) or stmt.orelse:
        return False
    test = stmt.test
    return (
        isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)
        and {ast.dump(test.left), ast.dump(test.comparators[0])}
        == {ast.dump(ast.Name("__name__", ast.Load())), ast.dump(ast.Constant("__main__"))}
    )


def _bound_names(stmts: Sequence[ast.stmt]) -> tuple[str, ...]:
    names: list[str] = []
    for stmt in stmts:
        for node in ast.walk(stmt):
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
