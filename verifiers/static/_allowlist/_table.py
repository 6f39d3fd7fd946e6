"""Tables of allowed and denied dotted names, and the judge that reads them.

A pattern is dotted; each segment is an ``fnmatch`` pattern over one segment of
the name, and a segment that starts with ``_`` (private) matches only a pattern
segment that spells the underscore out.  An *allow* pattern matches a name of
exactly as many segments (``torch.*`` allows ``torch.zeros``, not
``torch.hub.load``); a *deny* pattern also covers everything below the name it
matches (``torch.hub`` denies ``torch.hub.load``).  The most specific entry decides:
a deny pattern wins over an allow pattern of the same length, and an allow entry
longer than the deny pattern that covers the name wins over it (``torch.utils`` is
denied, ``torch.utils.data.*`` allowed).
"""

from __future__ import annotations

import fnmatch
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["AllowList", "Denial", "Table"]

UNLISTED = "unlisted-call"


@dataclass(frozen=True, slots=True)
class Denial:
    """Why a name is not allowed: the rule it breaks and, where useful, the reason."""

    rule: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Table:
    """One package's reviewed entries.

    ``allow`` maps a pattern to the reason it is safe where that is not obvious
    (empty otherwise); ``deny`` maps a pattern inside an allowed namespace to the
    rule it breaks and why; ``with_only`` names mode switches allowed only as a
    ``with`` item or a decorator, where they restore the previous mode.
    """

    package: str
    allow: Mapping[str, str]
    deny: Mapping[str, Denial] = field(default_factory=dict)
    with_only: frozenset[str] = frozenset()


def _segment(pattern: str, part: str) -> bool:
    if part.startswith("_") and not pattern.startswith("_"):
        return False
    return fnmatch.fnmatchcase(part, pattern)


def _split(pattern: str) -> tuple[str, ...]:
    return tuple(pattern.split("."))


def _matches(pattern: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    return len(pattern) == len(parts) and all(_segment(p, s) for p, s in zip(pattern, parts))


def _covers(pattern: tuple[str, ...], parts: tuple[str, ...]) -> bool:
    return len(parts) >= len(pattern) and _matches(pattern, parts[: len(pattern)])


class AllowList:
    """Judges a resolved dotted name: ``None`` when it may be reached, else the ``Denial``.

    ``local`` are the repository's top-level modules (and the modules the patch adds):
    their code is checked in its own right, so reaching it is allowed.  ``extra`` are
    the repository's own ``allow-calls`` globs (``mypkg.util.*``), matched over the
    whole name.
    """

    def __init__(self, tables: Iterable[Table], *, local: Iterable[str] = (), extra: Iterable[str] = (),
                 modules: Mapping[str, str] | None = None) -> None:
        self.tables = tuple(tables)
        self._local = frozenset(local)
        self._extra = tuple(extra)
        # Indexed by the first segment (a literal one almost always): judging a name reads the
        # entries of its own package, not the whole table (thousands of entries per name).
        self._allow = _by_head((_split(p), None) for t in self.tables for p in t.allow)
        self._deny = _by_head((_split(p), d) for t in self.tables for p, d in t.deny.items())
        self._judged: dict[str, Denial | None] = {}
        self._with_only = frozenset(n for t in self.tables for n in t.with_only)
        self._namespaces = frozenset(_prefixes(p for t in self.tables for p in t.allow))
        self._namespaces |= frozenset(p[:-2] for t in self.tables for p in t.allow
                                      if p.endswith(".*") and not any(c in p[:-2] for c in "*?["))
        self._modules = {name: _module_denial(name, target) for name, target in (modules or {}).items()
                         if name not in self._namespaces}
        self._module_names = frozenset((modules or {}).values()) | frozenset(modules or {}) | frozenset(
            t.package for t in self.tables if t.package.isidentifier())

    def judge(self, symbol: str) -> Denial | None:
        """``None`` if ``symbol`` is allowed (a listed API, a namespace holding one, local code)."""
        if symbol not in self._judged:
            self._judged[symbol] = self._judge(symbol)
        return self._judged[symbol]

    def _judge(self, symbol: str) -> Denial | None:
        parts = _split(symbol)
        if symbol.startswith(".") or parts[0] in self._local:
            return None
        if any(fnmatch.fnmatchcase(symbol, p) for p in self._extra):
            return None
        denied = [(len(p), d) for p, d in _entries(self._deny, parts[0]) if _covers(p, parts)]
        denied += [(k, self._modules[".".join(parts[:k])]) for k in range(1, len(parts) + 1)
                   if ".".join(parts[:k]) in self._modules]
        allowed = symbol in self._namespaces or any(_matches(p, parts) for p, _ in _entries(self._allow, parts[0]))
        if denied:
            length, denial = max(denied, key=lambda pair: pair[0])
            if not allowed or length == len(parts):
                return denial
        return None if allowed else Denial(UNLISTED)

    def is_local(self, top: str) -> bool:
        """Whether ``top`` is one of the repository's own top-level modules."""
        return top in self._local

    def is_module(self, symbol: str) -> bool:
        """Whether ``symbol`` names a module (rather than a class or function) that the tables know."""
        return symbol in self._module_names or symbol in sys.stdlib_module_names or (
            "." not in symbol and self.is_local(symbol))

    def is_namespace(self, symbol: str) -> bool:
        """Whether ``symbol`` is a module the tables list members of (``torch.nn``, ``os.path``)."""
        return symbol in self._namespaces

    def with_only(self, symbol: str) -> bool:
        """Whether ``symbol`` is a mode switch allowed as a ``with`` item or decorator."""
        return symbol in self._with_only


_WILD = ""  # the index key of entries whose first segment is itself a pattern (``*``, ``to?ch``)


def _by_head(entries: Iterable[tuple[tuple[str, ...], Denial | None]]) -> dict[str, list[tuple[tuple[str, ...], Denial | None]]]:
    index: dict[str, list[tuple[tuple[str, ...], Denial | None]]] = {}
    for parts, denial in entries:
        head = _WILD if any(c in parts[0] for c in "*?[") else parts[0]
        index.setdefault(head, []).append((parts, denial))
    return index


def _entries(index: Mapping[str, list[tuple[tuple[str, ...], Denial | None]]],
             head: str) -> list[tuple[tuple[str, ...], Denial | None]]:
    return [*index.get(head, ()), *index.get(_WILD, ())]


def _module_denial(name: str, target: str) -> Denial:
    """A module an allowed namespace holds: another library's, or a submodule no table lists."""
    if target != name:
        return Denial(UNLISTED, f"it is the module `{target}`, which `{name.rsplit('.', 1)[0]}` imports for "
                                "itself; import what you need by its own name so the policy sees it")
    return Denial(UNLISTED, "a submodule whose contents no table lists; use the names its package exports")


def _prefixes(patterns: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for pattern in patterns:
        parts = _split(pattern)
        for end in range(1, len(parts)):
            head = parts[:end]
            if any(any(c in s for c in "*?[") for s in head):
                break
            found.add(".".join(head))
    return found
