"""Claude through the official ``anthropic`` SDK, and the replay and recording of its responses.

Importing this package imports the SDK (about 1.6 s), which is why ``models`` does not.
"""

from models.claude._client import make_client
from models.claude._proposer import DEFAULT_MODEL, Claude
from models.claude._replay import Recorder, Replay, ReplayExhausted
from models.claude._review import Review, Reviewer

__all__ = ["DEFAULT_MODEL", "Claude", "Recorder", "Replay", "ReplayExhausted", "Review", "Reviewer", "make_client"]
