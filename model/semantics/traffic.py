"""Representative packets for the traffic classes a host's policies define toward a peer.

Used by ``qmcheck check`` to report one negotiation per class. A class is an IPsec policy of
the initiator; its representative is the first candidate packet (built from the policy's own
values and the hosts' addresses) whose first match really is that policy.
"""

from __future__ import annotations

from collections.abc import Iterator

from qmcheck.model.semantics.lookup import first_match
from qmcheck.model.values.addresses import Family
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Host, Policy
from qmcheck.model.values.protocols import PortRange

CANDIDATE_PROTOCOLS = (6, 17, 1, 132)
EPHEMERAL_PORT = 49152


def _ports(ports: PortRange, protocol: int) -> list[int]:
    if protocol not in (6, 17, 132):
        return [0]
    if ports.is_any:
        return [EPHEMERAL_PORT, 1024, 1]
    return [ports.lo] if ports.is_single else [ports.lo, ports.hi]


def _natural(lo: int, hi: int) -> int:
    """A host address of a span: not the network address of a prefix, not 0."""
    return lo + 1 if hi - lo >= 2 else (lo if lo != 0 else min(hi, 1))


def _addresses(policy_field: list[tuple[Family, int, int]], host: Host) -> list[tuple[int, int]]:
    """(family, address) candidates: a host address in each part of the field that meets the
    host's scope (its protected subnets or own addresses), or the field's own addresses when
    the host names no scope."""
    out: list[tuple[int, int]] = []
    scope = host.scope_values()
    for family, lo, hi in policy_field:
        if not scope:
            out.append((family, _natural(lo, hi)))
            continue
        for v in scope:
            if v.family == family and v.lo <= hi and lo <= v.hi:
                out.append((family, _natural(max(lo, v.lo), min(hi, v.hi))))
    return out


def _spans(policy: Policy, which: str) -> list[tuple[Family, int, int]]:
    field = policy.source if which == "source" else policy.destination
    families: tuple[Family, ...] = (4, 6) if policy.family is None else (policy.family,)
    return [(f, v.lo, v.hi) for f in families for v in field.values
            if policy.family is not None or v.family == f or v.is_any]


def candidates(policy: Policy, initiator: Host, responder: Host) -> Iterator[Packet]:
    """Candidate outbound packets of ``initiator`` toward ``responder`` inside ``policy``."""
    protocols = CANDIDATE_PROTOCOLS if policy.protocol is None else (policy.protocol,)
    sources = _addresses(_spans(policy, "source"), initiator)
    dests = _addresses(_spans(policy, "destination"), responder)
    for family, src in sources:
        for dfamily, dst in dests:
            if dfamily != family:
                continue
            for proto in protocols:
                for sport in _ports(policy.source_port, proto):
                    for dport in _ports(policy.destination_port, proto):
                        yield Packet(family, src, dst, proto, sport, dport, "out")  # type: ignore[arg-type]


def representative(policy: Policy, initiator: Host, responder: Host) -> Packet | None:
    """The first candidate packet whose first match on the initiator is ``policy``."""
    ordered = initiator.applicable("out")
    for packet in candidates(policy, initiator, responder):
        if first_match(ordered, packet) is policy:
            return packet
    return None


def traffic_classes(initiator: Host, responder: Host) -> list[tuple[Policy, Packet | None]]:
    """Each IPsec policy of the initiator that applies to outbound traffic, with its
    representative packet toward the responder (None when no candidate packet reaches it
    first)."""
    return [(p, representative(p, initiator, responder)) for p in initiator.applicable("out")
            if p.action.is_ipsec]
