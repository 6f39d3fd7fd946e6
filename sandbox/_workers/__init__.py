"""Isolated workers: the only way the gate runs untrusted code.

``IsolatedExecutor`` implements ``verifiers.Executor``: old and new code each run
in their own reused worker process, in a private copy of the tree, confined by
the layers ``isolation_layers()`` finds on this machine.
"""

from sandbox._workers._executor import IsolatedExecutor, IsolationError, isolation_layers

__all__ = ["IsolatedExecutor", "IsolationError", "isolation_layers"]
