"""Tests of the self-improvement loop (sandbox.loop)."""
