"""Concrete packet lookup: the first policy in search order that matches (docs/SPEC.md 2).

This is the reference semantics that every other engine is tested against.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from qmcheck.model.values.addresses import AddressValue
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Host, Policy


def first_match(policies: Iterable[Policy], packet: Packet) -> Policy | None:
    """The first policy of ``policies`` (already in search order) that matches the packet."""
    for policy in policies:
        if policy.matches(packet):
            return policy
    return None


def lookup(host: Host, packet: Packet) -> Policy | None:
    """The host policy that applies to the packet, or None if none matches (a policy of one
    direction only matches packets of that direction)."""
    return first_match(host.applicable(packet.direction), packet)


def lookup_order(policies: Iterable[Policy], packet: Packet,
                 tie_order: dict[str, int] | None = None) -> Policy | None:
    """Lookup where policies of equal priority are ordered by ``tie_order`` (name -> rank)
    instead of the file order: used to ask whether a verdict depends on that order."""
    rank = tie_order or {}
    ordered = sorted(policies, key=lambda p: (p.priority, rank.get(p.name, p.index)))
    return first_match(ordered, packet)


def reply_agrees(chosen: Policy | None, reply: Policy | None) -> bool:
    """Does the responder's lookup of its reply agree with the policy it negotiated under?
    With mirrored policies the reply must find the same policy; where a policy applies to
    one direction only (a kernel's separate ``dir in``/``dir out`` policies), the reply's
    policy may be another one of the same action (the SA pair then serves both directions)."""
    if chosen is None or reply is None:
        return chosen is reply
    if reply is chosen:
        return True
    one_way = chosen.direction != "both" or reply.direction != "both"
    return one_way and reply.action == chosen.action


def tunnels_to(policy: Policy | None, peer: Host) -> bool:
    """Is ``policy`` a tunnel policy whose remote end point is one of ``peer``'s own
    addresses? Its traffic is sent to that peer, whatever the inner destination."""
    return (policy is not None and policy.tunnel is not None
            and any(v.contains(*policy.tunnel) for v in peer.address_values))


def tunnels_elsewhere(policy: Policy | None, peer: Host,
                      others: Sequence[AddressValue] = ()) -> bool:
    """Is ``policy`` a tunnel policy to another gateway of the network than ``peer`` (an
    address in ``others``, the addresses of the network's other hosts)? Its traffic goes
    there, never to ``peer``. A tunnel to an address no host owns is no such thing: toward
    ``peer`` it is a wrong end point (``peers.tunnel``)."""
    return (policy is not None and policy.tunnel is not None
            and not tunnels_to(policy, peer)
            and any(v.contains(*policy.tunnel) for v in others))
