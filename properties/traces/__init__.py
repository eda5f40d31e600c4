"""Counterexample traces, their replay and renderings; strongSwan logs."""
