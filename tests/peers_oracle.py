"""Brute-force oracle for the peers properties: every packet of a complete set of
representatives (the critical points of every address, port and protocol the hosts name)."""

from __future__ import annotations

from itertools import product

from qmcheck.model.semantics.negotiation import NegotiationOptions
from qmcheck.model.values.addresses import AddressValue, max_address
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Host
from qmcheck.model.values.protocols import MAX_PORT, PORT_PROTOCOLS
from qmcheck.properties.checks.peers import concrete_verdict, families, in_scope


def _points(spans: list[tuple[int, int]], top: int) -> list[int]:
    out = {0, top}
    for lo, hi in spans:
        out.update(x for x in (lo - 1, lo, hi, hi + 1) if 0 <= x <= top)
    return sorted(out)


def representatives(a: Host, b: Host, family: int,
                    others: tuple[AddressValue, ...] = ()) -> list[Packet]:
    """Outbound packets of ``a`` toward ``b``: every behaviour of the semantics occurs on one
    (all comparisons are with interval ends, so the critical points suffice)."""
    top = max_address(family)
    addr_spans: list[tuple[int, int]] = []
    port_spans: list[tuple[int, int]] = []
    protos = {0, 1, 6, 17}
    for h in (a, b):
        addr_spans.extend((v.lo, v.hi) for v in h.scope_values() if v.family == family)
        for p in h.policies:
            if p.family in (None, family):
                for f in (p.source, p.destination):
                    addr_spans.extend((v.lo, v.hi) for v in f.values if v.family == family)
            port_spans.extend([(p.source_port.lo, p.source_port.hi),
                               (p.destination_port.lo, p.destination_port.hi)])
            if p.protocol is not None:
                protos.add(p.protocol)
    addrs = _points(addr_spans, top)
    ports = _points(port_spans, MAX_PORT)
    out: list[Packet] = []
    for src, dst, proto in product(addrs, addrs, sorted(protos)):
        pp = ports if proto in PORT_PROTOCOLS else [0]
        for sport, dport in product(pp, pp):
            pkt = Packet(family, src, dst, proto, sport, dport, "out")  # type: ignore[arg-type]
            if in_scope(a, b, pkt, others):
                out.append(pkt)
    return out


def brute_force(a: Host, b: Host, options: NegotiationOptions,
                others: tuple[AddressValue, ...] = ()) -> set[tuple[str, str, str]]:
    """(property, side, policy) triples some packet refutes: the initiator's policy ("I"),
    or for an asymmetry that only the responder protects, the responder's policy ("R");
    ``others``: the addresses of the network's other hosts."""
    out: set[tuple[str, str, str]] = set()
    for family in families(a, b):
        for pkt in representatives(a, b, family, others):
            v = concrete_verdict(a, b, pkt, options, others)
            for prop in v.failed:
                i_ipsec = v.initiator_policy is not None and v.initiator_policy.action.is_ipsec
                if prop == "peers.symmetry" and not i_ipsec:
                    assert v.responder_lookup is not None
                    out.add((prop, "R", v.responder_lookup.name))
                else:
                    assert v.initiator_policy is not None
                    out.add((prop, "I", v.initiator_policy.name))
    return out
