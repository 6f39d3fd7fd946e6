"""The z3 prover: equivalence and invariants of changed Python functions, for a scalar subset of Python."""

from verifiers.smt._verifier import SmtProver

__all__ = ["SmtProver"]
