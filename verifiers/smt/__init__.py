"""The z3 prover: equivalence and invariants of changed Python functions, for a subset of Python (ints, floats,
bools, strings, and lists/tuples of these)."""

from verifiers.smt._verifier import SmtProver

__all__ = ["SmtProver"]
