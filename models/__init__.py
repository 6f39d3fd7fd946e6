"""Proposers: where candidate changes come from.

A proposer answers a ``Task`` (plain data) with a ``Proposal`` (plain edit data), so this
package needs nothing from ``sandbox``; the gate turns ``Proposal.to_patch()`` into a
``Patch``. ``PatchFiles`` proposes the files of a directory with no model; Claude, with
replay and recording of its responses, lives in ``models.claude`` so that importing
``models`` does not import the SDK.
"""

from models._errors import BudgetExhausted, ProposerError
from models._patch_files import PatchFiles
from models._proposal import Attempt, Proposal, Proposer, Usage
from models._task import Task

__all__ = ["Attempt", "BudgetExhausted", "PatchFiles", "Proposal", "Proposer", "ProposerError",
           "Task", "Usage"]
