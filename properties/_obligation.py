"""The unit of work between the planner and the verifiers."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from properties._spec import Property

__all__ = ["Kind", "Obligation", "module_name"]


def module_name(path: str) -> str:
    """``pkg/mod.py`` -> ``pkg.mod``; ``pkg/__init__.py`` -> ``pkg``; a leading ``src/`` is dropped."""
    parts = path[:-3].split("/") if path.endswith(".py") else path.split("/")
    if parts[0] == "src" and len(parts) > 1:
        parts = parts[1:]
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


class Kind(enum.Enum):
    """What must be shown.  Behavioural kinds are held to the configured ``require`` level."""

    EQUIVALENT = "equivalent"
    INVARIANT = "invariant"
    BOUNDS = "bounds"
    KERNEL = "kernel"
    POLICY = "policy"
    PROTECTED = "protected"
    REMOVAL = "removal"
    UNANALYSABLE = "unanalysable"
    IMPORT = "import"

    @property
    def behavioural(self) -> bool:
        return self in _BEHAVIOURAL


_BEHAVIOURAL = frozenset({Kind.EQUIVALENT, Kind.INVARIANT, Kind.BOUNDS, Kind.KERNEL, Kind.UNANALYSABLE})


@dataclass(frozen=True, slots=True)
class Obligation:
    """One thing the gate must establish about one target of a patch.

    ``target`` is a qualified name (``train.lr_schedule``, ``model.Net.forward``,
    ``train.LR``) or, for file-level obligations, the repository-relative path.
    ``route`` lists the verifiers to ask, in order; the first answer that is not
    ``UNKNOWN`` decides.  ``old_source``/``new_source`` are the exact source of the
    definition on each side (``None`` where it does not exist), and the line
    ranges are 1-based and inclusive.  ``module`` is the dotted module the
    target lives in (``train`` for ``train.Net.forward``), empty for file-level
    obligations.  ``rule`` names the policy rule a file-level obligation the planner
    decided from the repository stands for (``module-shadowing``, ``symlink``).
    ``allowed_by`` is set on a comparison of old and new the gate runs for information
    only: the property named there (an ``invariant`` or ``bounds``) lets the target's
    behaviour change, so the comparison is reported, and rejects only when the
    configuration requires the behaviour unchanged (``--require unchanged``).
    """

    target: str
    kind: Kind
    path: str
    reason: str
    route: tuple[str, ...] = ()
    old_source: str | None = None
    new_source: str | None = None
    old_lines: tuple[int, int] | None = None
    new_lines: tuple[int, int] | None = None
    spec: Property | None = field(default=None, compare=False)
    module: str = ""
    rule: str = ""
    allowed_by: str = ""

    @property
    def line(self) -> int | None:
        """The first line of the target in the new file (or the old one, if removed)."""
        span = self.new_lines or self.old_lines
        return span[0] if span else None
