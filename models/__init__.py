"""Proposers: where candidate patches come from.

A proposer returns plain edit data (``Proposal``), so this package needs nothing
from ``sandbox``; the gate turns a proposal into a ``Patch``.  This version ships
the offline proposer that reads patch files; the Anthropic adapter and replay of
recorded model responses come with the self-modification loop.
"""

from models._proposal import PatchFiles, Proposal, Proposer

__all__ = ["PatchFiles", "Proposal", "Proposer"]
