"""``str`` in z3's string theory: literals, ordering, prefixes, and ``str(int)`` / ``int(str)`` as CPython does them.

The alphabet.  z3's strings hold code points up to U+2FFFF; Python's go to U+10FFFF.
Every operation encoded here (equality, ``<``, concatenation, slicing, ``len``, ``in``,
prefixes, digit conversion) commutes with any order-preserving renaming of characters
that fixes the literals the code mentions.  Literals are kept to U+0000..U+FFFF, so
a Python counterexample using characters above that maps to one inside z3's alphabet
(with room for 131072 distinct characters above the largest literal), and a proof over
z3's alphabet holds for Python's.  Case mapping (``upper``/``lower``) does not commute
with renaming and is not encoded.

``int(text)`` is encoded exactly where that is easy: ``[+-]?[0-9]+`` gives its value
(``ValueError`` past ``sys.get_int_max_str_digits()`` digits), and ASCII text outside
CPython's grammar raises ``ValueError``.  Text with surrounding whitespace, underscores
or non-ASCII characters (CPython accepts Unicode digits) is not modelled: the encoder
assumes it does not occur and says so, so a proof that needs it is never claimed.
"""

from __future__ import annotations

import sys
from typing import Any

import z3

from verifiers.smt._types import BOOL, INT, STR, Sym, Unsupported

__all__ = ["MAX_LITERAL_CHAR", "MAX_Z3_CHAR", "compare", "int_of_text", "literal", "text_of", "z3_text"]

MAX_LITERAL_CHAR = 0xFFFF
MAX_Z3_CHAR = 0x2FFFF  # z3's unicode alphabet ends here
_WHITESPACE = " \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"  # the ASCII characters str.isspace() accepts


def z3_text(text: str) -> Any:
    """``text`` as a z3 string, exactly: z3 reads ``\\u{..}`` escapes in what it is given, so every character
    but plain printable ASCII is passed as its escape.  Raises ``ValueError`` for a character past z3's
    alphabet: z3 would read its escape as the six or more characters of the escape itself."""
    if any(ord(c) > MAX_Z3_CHAR for c in text):
        raise ValueError(f"{text[:20]!r} holds a character past U+{MAX_Z3_CHAR:X}, outside z3's alphabet")
    return z3.StringVal("".join(c if " " <= c <= "~" and c != "\\" else f"\\u{{{ord(c):x}}}" for c in text))


def literal(text: str, line: int | None) -> Sym:
    high = [c for c in text if ord(c) > MAX_LITERAL_CHAR]
    if high:
        raise Unsupported(f"the string literal {text[:30]!r} holds U+{ord(high[0]):X}; the smt subset takes "
                          f"literals of code points up to U+{MAX_LITERAL_CHAR:X} (z3's alphabet stops at U+2FFFF)",
                          line)
    return Sym(STR, z3_text(text))


def compare(op: str, a: Any, b: Any) -> Any:
    """Lexicographic order by code point, as Python orders ``str``."""
    return {"<": a < b, "<=": a <= b, ">": b < a, ">=": b <= a, "==": a == b, "!=": a != b}[op]


def _power_of_ten(digits: int) -> Any:
    return z3.IntVal("1" + "0" * digits)


def text_of(value: Sym, line: int | None) -> tuple[Any, Sym]:
    """``str(value)``: (the condition under which it raises ``ValueError``, the text)."""
    if value.kind == STR:
        return z3.BoolVal(False), value
    if value.kind == BOOL:
        return z3.BoolVal(False), Sym(STR, z3.If(value.term, z3.StringVal("True"), z3.StringVal("False")))
    if value.kind != INT:
        raise Unsupported(f"`str()` of a {value.kind} (only of int, bool and str)", line)
    n = value.term
    limit = sys.get_int_max_str_digits()
    too_long = z3.Or(n >= _power_of_ten(limit), n <= -_power_of_ten(limit)) if limit else z3.BoolVal(False)
    text = z3.If(n >= 0, z3.IntToStr(n), z3.Concat(z3.StringVal("-"), z3.IntToStr(-n)))
    return too_long, Sym(STR, text)


def _regexes() -> tuple[Any, Any, Any]:
    digit = z3.Range("0", "9")
    sign = z3.Option(z3.Union(z3.Re("+"), z3.Re("-")))
    space = z3.Star(z3.Union(*[z3.Re(z3_text(c)) for c in _WHITESPACE]))
    grammar = z3.Concat(space, sign, digit, z3.Star(z3.Concat(z3.Option(z3.Re("_")), digit)), space)
    plain = z3.Concat(sign, z3.Plus(digit))
    ascii_ = z3.Star(z3.Range("\x00", "\x7f"))
    return plain, grammar, ascii_


def int_of_text(value: Sym) -> tuple[Any, Any, Sym]:
    """``int(text)``: (where it raises ``ValueError``, where that and the value are modelled, the int)."""
    s = value.term
    plain, grammar, ascii_ = _regexes()
    is_plain = z3.InRe(s, plain)
    signed = z3.Or(z3.PrefixOf(z3.StringVal("-"), s), z3.PrefixOf(z3.StringVal("+"), s))
    digits = z3.If(signed, z3.SubString(s, 1, z3.Length(s) - 1), s)
    magnitude = z3.StrToInt(digits)
    number = z3.If(z3.PrefixOf(z3.StringVal("-"), s), -magnitude, magnitude)
    limit = sys.get_int_max_str_digits()
    too_long = z3.Length(digits) > limit if limit else z3.BoolVal(False)
    malformed = z3.And(z3.InRe(s, ascii_), z3.Not(z3.InRe(s, grammar)))
    raises = z3.Or(malformed, z3.And(is_plain, too_long))
    return raises, z3.Or(is_plain, malformed), Sym(INT, number)
