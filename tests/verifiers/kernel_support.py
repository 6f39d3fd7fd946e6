"""Shared by the numeric verifier's tests: a pair of real isolated workers and one kernel check.

Each test module keeps every kernel of its repository in one ``before``/``after`` pair
of file maps, so one pair of workers (torch or jax imported once) serves the module.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from properties import Kernel, Kind, Obligation
from sandbox._workers import IsolatedExecutor
from tests.conftest import write_tree
from verifiers import Context, Evidence
from verifiers.numeric import KernelComparator

__all__ = ["check_kernel", "kernel_workers"]


@contextmanager
def kernel_workers(scratch: Path, before: Mapping[str, str], after: Mapping[str, str]) -> Iterator[IsolatedExecutor]:
    """Workers for ``before``/``after``, with a generous call timeout (each imports torch or jax)."""
    repo = write_tree(scratch, dict(before))
    with IsolatedExecutor(repo, before=before, after=after, timeout=60.0) as executor:
        yield executor


def check_kernel(executor: IsolatedExecutor, before: Mapping[str, str], after: Mapping[str, str], target: str,
                 spec: Kernel | None = None, seed: int = 0) -> Evidence:
    """The numeric verifier's evidence for ``target`` (``module.qualname``), as the gate would ask for it."""
    module, _, qualname = target.partition(".")
    path = f"{module}.py"
    obligation = Obligation(target, Kind.KERNEL, path, "changed kernel", ("numeric",),
                            old_source=_source(before[path], qualname), new_source=_source(after[path], qualname),
                            spec=spec, module=module)
    context = Context(before=before, after=after, executor=executor, seed=seed)
    return KernelComparator().check(obligation, context)


def _source(text: str, qualname: str) -> str:
    body: list[ast.stmt] = ast.parse(text).body
    node = None
    for part in qualname.split("."):
        node = next(n for n in body if getattr(n, "name", None) == part)
        body = getattr(node, "body", [])
    segment = ast.get_source_segment(text, node)
    assert segment is not None, f"no source for {qualname}"
    return segment
