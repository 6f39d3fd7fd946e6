"""``[tool.sandbox] quorum``: named checkers, each run on its own in its own workers, must each accept.

The usual route asks its verifiers in order and the first answer that is not UNKNOWN decides, so
one verifier's word is enough.  A quorum asks every named checker about every obligation whose
route includes it, with a fresh set of isolated workers per checker, so no checker sees another's
processes or results; ``need`` of them must accept (``CheckerVote.accepted``) for the change to go in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import verifiers
from properties import Obligation
from verifiers import Context

from sandbox._errors import ConfigError
from sandbox._verdict import CheckerVote, Judgement

if TYPE_CHECKING:
    from sandbox._gate import Gate

__all__ = ["run_quorum"]


def run_quorum(gate: "Gate", obligations: Sequence[Obligation], before: dict[str, str],
               after: dict[str, str]) -> tuple[CheckerVote, ...]:
    """One vote per checker named in ``gate.config.quorum``, in the order named."""
    return tuple(_vote(gate, name, obligations, before, after) for name in gate.config.quorum["checkers"])


def _vote(gate: "Gate", name: str, obligations: Sequence[Obligation], before: dict[str, str],
          after: dict[str, str]) -> CheckerVote:
    verifier = verifiers.get(name)
    if verifier is None:
        raise ConfigError(f"[tool.sandbox] quorum names the checker {name!r}, which is not a registered verifier; "
                          f"the registered ones are: {', '.join(verifiers.available())}")
    # Informational comparisons (a property allows the behaviour to change) cannot reject, so
    # they are no part of a checker's vote; deferred kinds are left to the later full check.
    mine = [o for o in obligations if name in o.route and o.kind.value not in gate.config.defer
            and not (o.allowed_by and not gate._unchanged_required(o.target))]
    config = gate.config
    with gate._executor(mine, before, after) as executor:
        context = Context(before, after, gate.policy, seed=config.seed, timeout=config.timeout, executor=executor,
                          max_examples=config.max_examples, slowdown=config.slowdown, memory=config.memory)
        judgements = []
        for obligation in mine:
            evidence = verifier.check(obligation, context)
            judgements.append(Judgement(obligation, evidence, gate._meets(obligation, evidence.level)))
    return CheckerVote(name, tuple(judgements))
