"""The hypothesis differential tester: old vs new on boundary-biased inputs, with shrunk counterexamples."""

from verifiers.pbt._verifier import DifferentialTester

__all__ = ["DifferentialTester"]
