"""The verified self-improvement loop (``sandbox improve``).

Each round a proposer (``models``) answers a task; the gate checks the proposal; a rejection
becomes the next round's feedback; an accepted change is measured by the user's objective, in the
worker isolation on a fresh copy of the tree, and kept only if it beats the measured noise. The
objective's own files are protected for the whole loop, tripwires hand control to a person, and
every round is in the ledger. See docs/improve.md.
"""

from sandbox.loop._loop import improve, loop_gate
from sandbox.loop._noise import Comparison, Samples, compare
from sandbox.loop._objective import Objective, ObjectiveError
from sandbox.loop._queue import PendingChange, Queue
from sandbox.loop._records import Outcome, Round, Settings
from sandbox.loop._tripwires import Halt, Tripwire

__all__ = ["Comparison", "Halt", "Objective", "ObjectiveError", "Outcome", "PendingChange", "Queue", "Round",
           "Samples", "Settings", "Tripwire", "compare", "improve", "loop_gate"]
