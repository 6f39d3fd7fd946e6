"""The verified self-improvement loop (``sandbox improve``).

Each round a proposer (``models``) answers a task; the gate checks the proposal; a rejection
becomes the next round's feedback; an accepted change is measured by the user's objective, in the
worker isolation on a fresh copy of the tree, and kept only if it beats the measured noise. The
objective's own files are protected for the whole loop, tripwires hand control to a person, and
every round is in the ledger. See docs/improve.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox._exports import lazy_exports

# Where each public name lives.  Imported on first use (PEP 562), so that building the command
# line, which every `sandbox check` does, does not load the loop and its models.
_HOMES = {
    "Comparison": "sandbox.loop._noise",
    "Halt": "sandbox.loop._tripwires",
    "Objective": "sandbox.loop._objective",
    "ObjectiveError": "sandbox.loop._objective",
    "Outcome": "sandbox.loop._records",
    "PendingChange": "sandbox.loop._queue",
    "Queue": "sandbox.loop._queue",
    "Round": "sandbox.loop._records",
    "Samples": "sandbox.loop._noise",
    "Settings": "sandbox.loop._records",
    "Tripwire": "sandbox.loop._tripwires",
    "compare": "sandbox.loop._noise",
    "improve": "sandbox.loop._loop",
    "loop_gate": "sandbox.loop._loop",
}
__all__ = [
    "Comparison", "Halt", "Objective", "ObjectiveError", "Outcome", "PendingChange", "Queue", "Round",
    "Samples", "Settings", "Tripwire", "compare", "improve", "loop_gate",
]

if TYPE_CHECKING:
    from sandbox.loop._loop import improve, loop_gate
    from sandbox.loop._noise import Comparison, Samples, compare
    from sandbox.loop._objective import Objective, ObjectiveError
    from sandbox.loop._queue import PendingChange, Queue
    from sandbox.loop._records import Outcome, Round, Settings
    from sandbox.loop._tripwires import Halt, Tripwire


__getattr__, __dir__ = lazy_exports(__name__, _HOMES, __all__)
