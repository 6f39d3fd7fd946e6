"""Strings that something turns into code or into attribute walks.

A string annotation is code once anything evaluates it (``typing.get_type_hints``,
dataclass and pydantic field resolution); a ``str.format`` field walks attributes
and items of its arguments (``"{0.__init__.__globals__}"``).  Both are judged by
what the string says, not by who evaluates it.
"""

from __future__ import annotations

import re

import libcst as cst

__all__ = ["annotation_problem", "format_reflection"]

# What a type expression is made of: names, dotted names, subscripts, unions, literals.
_TYPE_NODES = (cst.Name, cst.Attribute, cst.Subscript, cst.Tuple, cst.List, cst.SimpleString,
               cst.ConcatenatedString, cst.Integer, cst.Float, cst.Ellipsis, cst.UnaryOperation)
_FIELD = re.compile(r"\{[^{}!:]*\.\s*_")


def annotation_problem(text: str) -> str | None:
    """Why the annotation string ``text`` is not a plain type expression, or ``None`` if it is."""
    try:
        expression = cst.parse_expression(text.strip())
    except (cst.ParserSyntaxError, RecursionError):
        return "does not parse as a type expression"
    for node in _walk(expression):
        if not isinstance(node, cst.BaseExpression) or (
                isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr)):
            continue
        if not isinstance(node, _TYPE_NODES):
            return f"contains {type(node).__name__} `{cst.Module([]).code_for_node(node)[:40]}`"
        if isinstance(node, (cst.Name, cst.Attribute)) and _dunder(node):
            return "reaches a dunder attribute"
        if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
            inner = node.evaluated_value
            problem = annotation_problem(inner) if isinstance(inner, str) else None
            if problem:
                return problem
    return None


def format_reflection(text: str) -> bool:
    """Whether a ``str.format`` template walks into private or dunder attributes of its arguments."""
    return bool(_FIELD.search(text.replace("{{", "").replace("}}", "")))


def _walk(node: cst.CSTNode):
    """Every node, except the values inside ``Literal[...]``, which are data."""
    yield node
    if isinstance(node, cst.Subscript) and _name(node.value) == "Literal":
        yield node.value
        return
    for child in node.children:
        yield from _walk(child)


def _name(node: cst.BaseExpression) -> str:
    return node.value if isinstance(node, cst.Name) else node.attr.value if isinstance(node, cst.Attribute) else ""


def _dunder(node: cst.Name | cst.Attribute) -> bool:
    name = node.value if isinstance(node, cst.Name) else node.attr.value
    return name.startswith("__") and name.endswith("__")
