"""Concrete packet lookup: the first policy in search order that matches (docs/SPEC.md 2).

This is the reference semantics that every other engine is tested against.
"""

from __future__ import annotations

from collections.abc import Iterable

from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Host, Policy


def first_match(policies: Iterable[Policy], packet: Packet) -> Policy | None:
    """The first policy of ``policies`` (already in search order) that matches the packet."""
    for policy in policies:
        if policy.matches(packet):
            return policy
    return None


def lookup(host: Host, packet: Packet) -> Policy | None:
    """The host policy that applies to the packet, or None if none matches."""
    return first_match(host.ordered(), packet)


def lookup_order(policies: Iterable[Policy], packet: Packet,
                 tie_order: dict[str, int] | None = None) -> Policy | None:
    """Lookup where policies of equal priority are ordered by ``tie_order`` (name -> rank)
    instead of the file order: used to ask whether a verdict depends on that order."""
    rank = tie_order or {}
    ordered = sorted(policies, key=lambda p: (p.priority, rank.get(p.name, p.index)))
    return first_match(ordered, packet)
