"""Inputs derived from mined constants: case and order transforms, sized containers, prefix+digits, regex matches.

Everything here is deterministic: regex examples come from hypothesis under a fixed
seed, and every list keeps first-seen order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, TypeVar

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import strategies as st

from verifiers._values import MAX_NODES
from verifiers.pbt._search import quiet_and_outside_repository

__all__ = ["MAX_SIZE", "lengths", "parsed_ints", "regex_examples", "structured", "transforms", "unique"]

# The longest container the gate builds: a quarter of what one message to a worker may hold,
# so that two such arguments (a pair case) and the result still fit.
MAX_SIZE = MAX_NODES // 4
_DIGIT_COUNTS = (1, 2, 4, 8)
_DIGITS = "1234567890"
_MAX_PATTERN = 120
# A quantified group that itself holds a quantifier ("(a+)+") can backtrack for ever in
# hypothesis's fullmatch filter, which runs in the trusted process: such patterns are skipped.
_NESTED_REPEAT = re.compile(r"\((?:[^()]*[*+}?])[^()]*\)\s*[*+{]")

T = TypeVar("T")


def unique(values: Iterable[T]) -> list[T]:
    """``values`` without repeats (same type and repr), in first-seen order."""
    out: list[T] = []
    seen: set[tuple[type, str]] = set()
    for value in values:
        key = (type(value), repr(value))
        if key not in seen:
            seen.add(key)
            out.append(value)
    return out


def lengths(sizes: Iterable[int]) -> tuple[list[int], list[int]]:
    """Each size, one past it and one below it, within ``MAX_SIZE``; and the sizes skipped for it."""
    kept: list[int] = []
    skipped: list[int] = []
    for size in sizes:
        for length in (size, size + 1, size - 1):
            if length < 0:
                continue
            (kept if length <= MAX_SIZE else skipped).append(length)
    return unique(kept), unique(skipped)


def transforms(texts: Iterable[T]) -> list[T]:
    """Each str or bytes reversed, upper-, lower- and swap-cased (only the variants that differ)."""
    out: list[Any] = []
    for text in texts:
        out += [text[::-1], text.upper(), text.lower(), text.swapcase()]  # type: ignore[attr-defined]
    return unique(out)


def parsed_ints(texts: Iterable[str]) -> list[int]:
    """The ints that the strings parse as (``int(s)``), for strings of at most 20 characters."""
    out: list[int] = []
    for text in texts:
        if len(text) <= 20:
            try:
                out.append(int(text))
            except ValueError:
                pass
    return unique(out)


def _digits(count: int) -> str:
    return (_DIGITS * (count // len(_DIGITS) + 1))[:count]


def structured(prefixes: Iterable[str], sizes: Iterable[int]) -> list[str]:
    """Each prefix followed by digits: up to each mined total length, then 1, 2, 4 and 8 digits.

    Each also has two near misses of the same length -- the prefix with its last character
    changed, and the prefix followed by letters -- so that every part of a structured test
    (`len(s) == 13 and s[:5] == "ckpt_" and s[5:].isdigit()`) is seen failing on its own,
    not only when an earlier part already failed.
    """
    prefixes, totals = list(prefixes), lengths(sizes)[0]
    out = [p + _digits(n - len(p)) for p in [*prefixes, ""] for n in totals if len(p) < n <= 64 + len(p)]
    out += [p + _digits(n) for p in prefixes for n in _DIGIT_COUNTS]
    misses: list[str] = []
    for text in out:
        prefix = next((p for p in prefixes if p and text.startswith(p)), "")
        if prefix:
            misses.append(prefix[:-1] + chr(ord(prefix[-1]) % 0x7E + 1) + text[len(prefix):])
        if len(text) > len(prefix):
            misses.append(prefix + _letters(len(text) - len(prefix)))
    return unique(out + misses)


def _letters(count: int) -> str:
    return ("abcdefghij" * (count // 10 + 1))[:count]


def regex_examples(patterns: Iterable[str | bytes], per_pattern: int = 3, seed: int = 0) -> list[str | bytes]:
    """A few strings (bytes for a bytes pattern) that fully match each pattern, drawn by hypothesis under ``seed``.

    Patterns that would be slow to match (nested repeats, over 120 characters) or do not
    compile give none, and so does a call from inside a running hypothesis test.
    """
    out: list[str | bytes] = []
    if hypothesis.currently_in_test_context():
        return out  # hypothesis refuses a nested @given; the caller is itself a hypothesis test
    for pattern in patterns:
        out += _matches(pattern, per_pattern, seed)
    return unique(out)


def _safe(pattern: str | bytes) -> bool:
    text = pattern if isinstance(pattern, str) else pattern.decode("latin-1")
    if len(text) > _MAX_PATTERN or _NESTED_REPEAT.search(text):
        return False
    try:
        re.compile(pattern)
    except (re.error, RecursionError, OverflowError):
        return False
    return True


def _matches(pattern: str | bytes, count: int, seed: int) -> list[str | bytes]:
    if not _safe(pattern):
        return []
    ascii_only = st.characters(codec="ascii") if isinstance(pattern, str) else None
    drawn = _draw(pattern, ascii_only, count, seed)  # readable, and no Unicode tables to compute
    return drawn or _draw(pattern, None, count, seed)


def _draw(pattern: str | bytes, alphabet: Any, count: int, seed: int) -> list[str | bytes]:
    drawn: list[str | bytes] = []

    @hypothesis.seed(seed)
    @settings(database=None, deadline=None, max_examples=count * 4, phases=(Phase.generate,),
              suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet, print_blob=False)
    @hypothesis.given(st.from_regex(pattern, fullmatch=True, alphabet=alphabet))
    def collect(value: str | bytes) -> None:
        if value not in drawn and len(drawn) < count:
            drawn.append(value)

    try:
        with quiet_and_outside_repository():
            collect()
    except Exception:  # noqa: BLE001 - a pattern hypothesis cannot generate for yields no examples
        return drawn
    return drawn
