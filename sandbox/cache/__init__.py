"""The verdict cache: evidence memoised by the content of what was checked.

A re-run of the same check (the same pull request in CI, a candidate seen before) reuses
the evidence instead of repeating every proof.  The key covers everything the evidence
depends on; the cache lives outside the repository, so ``sandbox check`` still writes
nothing inside it.
"""

from sandbox.cache._key import CheckKey, obligation_key, tool_digest, tree_digest
from sandbox.cache._store import CachedEvidence, VerdictCache, default_dir

__all__ = ["CachedEvidence", "CheckKey", "VerdictCache", "default_dir", "obligation_key", "tool_digest",
           "tree_digest"]
