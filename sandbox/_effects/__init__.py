"""Effects beyond the changed file: importers, shadowed modules, data readers, inherited members."""

from sandbox._effects._bases import override_problem
from sandbox._effects._dynamic import dynamic_lookup
from sandbox._effects._imports import importers
from sandbox._effects._index import RepoIndex
from sandbox._effects._readers import Reader, data_readers, doc_readers
from sandbox._effects._repo import Effects
from sandbox._effects._shadow import shadowing

__all__ = ["Effects", "Reader", "RepoIndex", "data_readers", "doc_readers", "dynamic_lookup", "importers",
           "override_problem", "shadowing"]
