"""Fuzz and regression tests for hostile input (issue 13, docs/RELIABILITY.md)."""
