"""Concrete semantics, the oracle: packet lookup, negotiation, traffic classes."""
