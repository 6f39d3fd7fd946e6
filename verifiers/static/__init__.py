"""The static policy verifier: forbidden constructs, protected paths and removed definitions.

It reads source only (libcst), resolving aliases so that ``import os as o;
o.system(...)`` is judged as ``os.system``, and reports only what a patch
introduces.
"""

from verifiers.static._verifier import StaticPolicy

__all__ = ["StaticPolicy"]
