"""Engines over a transition system: explicit state graph, SMT, invariants."""
