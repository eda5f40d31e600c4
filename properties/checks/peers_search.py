"""The fast paths of the peers checks on large hosts: witnesses replayed by the concrete
semantics on hosts cut down by the index (``Replayer``), and a concrete pre-search that
refutes most items of overlapping hosts without the solver (``presearch``). Both give the
same findings as the simple path (tests/test_peers_fast_paths.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qmcheck.model.encodings.overlap_index import policy_boxes
from qmcheck.model.encodings.z3_negotiation import FULL_PORTS, Box, PairEncoding
from qmcheck.model.semantics.lookup import lookup
from qmcheck.model.semantics.negotiation import NegotiationOptions, message1
from qmcheck.model.values.addresses import Family, max_address
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Host, Policy
from qmcheck.model.values.protocols import PORT_PROTOCOLS

PROPERTIES = ("peers.negotiation", "peers.consistency", "peers.symmetry")
PRESEARCH_TRIAL = 300  # replays before the pre-search judges its yield
PRESEARCH_YIELD = 20  # it goes on while at least one replay in this many refutes an item
Verdict = Callable[[Host, Host, Packet, NegotiationOptions], Any]  # concrete_verdict


class Replayer:
    """``concrete_verdict`` for the witnesses of one encoding. With ``indexed``, the hosts
    are first cut down by the index: the initiator to its policies whose box holds the
    packet (the only ones its lookup can match), the responder to those whose box holds it
    (its lookups of the arriving packet and of the reply) and, when the initiator protects
    the packet, those whose box meets the selectors it sends (the only ones the responder's
    search can choose: containing or scoring on the selectors means meeting them). Every
    policy the concrete semantics can match or choose is among them, in the same order, so
    the verdict is the same as on the whole hosts (tests compare both), at a cost that grows
    with the policies around the packet, not with the size of the hosts or of a region."""

    def __init__(self, enc: PairEncoding, initiator: Host, responder: Host,
                 options: NegotiationOptions, verdict: Verdict, indexed: bool = True) -> None:
        self.enc, self.initiator, self.responder = enc, initiator, responder
        self.options, self.verdict = options, verdict
        self.indexed = indexed
        self.i_position = {id(q): n for n, q in enumerate(enc.i_order)}
        self._choice_cache: dict[tuple[object, ...], list[int]] = {}
        self._whole: list[tuple[bool, bool]] | None = None

    def _initiator(self, packet: Packet) -> Host:
        cands = self.enc.i_index.query(_point(packet))
        return _sub_host(self.initiator, [self.enc.i_order[n] for n in cands])

    def _choice(self, n: int, packet: Packet) -> list[int]:
        """R's policies whose box meets the selectors I's ``n``-th policy sends for
        ``packet`` (a wildcard address or port 0: the whole axis)."""
        enc = self.enc
        m1 = message1(enc.i_order[n], packet)
        full = (0, max_address(enc.family))
        box = Box(enc.family, None,
                  full if m1.idci.address_is_wildcard else (m1.idci.lo, m1.idci.hi),
                  full if m1.idcr.address_is_wildcard else (m1.idcr.lo, m1.idcr.hi),
                  FULL_PORTS if m1.idci.port == 0 else (m1.idci.port, m1.idci.port),
                  FULL_PORTS if m1.idcr.port == 0 else (m1.idcr.port, m1.idcr.port))
        # strict wildcards (first-match search): a wildcard address is contained only in a
        # field that covers the whole family (``address_filter_contains``)
        strict = (self.options.responder_rule == "first-match"
                  and self.options.wildcard != "lenient")
        key = (box, strict and m1.idci.address_is_wildcard,
               strict and m1.idcr.address_is_wildcard)
        cands = self._choice_cache.get(key)
        if cands is None:
            cands = enc.r_index.query(box)
            if key[1] or key[2]:
                whole = self._whole_fields()
                cands = [k for k in cands
                         if (not key[1] or whole[k][1]) and (not key[2] or whole[k][0])]
            self._choice_cache[key] = cands
        return cands

    def _whole_fields(self) -> list[tuple[bool, bool]]:
        """Per policy of R: do its source and destination fields hold a whole-family value
        (or name no family)? Built once."""
        if self._whole is None:
            fam, top = self.enc.family, max_address(self.enc.family)
            self._whole = [(q.family is None or any(v.contains_span(fam, 0, top)
                                                    for v in q.source.values),
                            q.family is None or any(v.contains_span(fam, 0, top)
                                                    for v in q.destination.values))
                           for q in self.enc.r_order]
        return self._whole

    def _responder(self, packet: Packet, first: int) -> Host:
        enc = self.enc
        cands = enc.r_index.query(_point(packet))
        if first >= 0:
            cands = sorted({*cands, *self._choice(first, packet)})
        return _sub_host(self.responder, [enc.r_order[k] for k in cands])

    def initiator_first(self, packet: Packet, hint: tuple[str, int] | None = None
                        ) -> Policy | None:
        """I's first match for ``packet`` (``hint`` is accepted for the callers' sake)."""
        if not self.indexed:
            return lookup(self.initiator, packet)
        return lookup(self._initiator(packet), packet)

    def __call__(self, packet: Packet, hint: tuple[str, int] | None = None) -> Any:
        """``concrete_verdict`` for ``packet`` (``hint``, a region that may hold it, is not
        needed: the cut is per packet)."""
        if not self.indexed:
            return self.verdict(self.initiator, self.responder, packet, self.options)
        sub_i = self._initiator(packet)
        first = lookup(sub_i, packet)
        pos = self.i_position[id(first)] if first is not None and first.action.is_ipsec else -1
        return self.verdict(sub_i, self._responder(packet, pos), packet, self.options)


def _corner_packets(box: tuple[int, ...], family: Family) -> list[Packet]:
    """A few outbound packets in a box (local, remote, local port, remote port, protocol
    bounds, in the initiator's coordinates): its low corner, for the box's protocol or, when
    any, for TCP, UDP and ICMP (the high corner found hardly more refutations)."""
    llo, _, rlo, _, lplo, _, rplo, _, plo, phi = box
    out: list[Packet] = []
    for proto in ([plo] if plo == phi else [6, 17, 1]):
        if proto in PORT_PROTOCOLS:
            ends = [(llo, rlo, lplo, rplo)]
        elif lplo == 0 and rplo == 0:
            ends = [(llo, rlo, 0, 0)]
        else:
            continue
        for loc, rem, lp, rp in ends:
            out.append(Packet(family, loc, rem, proto, lp, rp, "out"))
    return out


def presearch(enc: PairEncoding, replay: Replayer, in_scope: Callable[[Packet], bool],
              heavy: int, boxes_per_policy: int = 2, trial: int = PRESEARCH_TRIAL
              ) -> list[tuple[str, str, int, Packet, Any]]:
    """Refute items without the solver: the low corner packets of each IPsec policy's boxes
    are replayed by the concrete semantics (``replay``: a verdict with ``initiator_policy``,
    ``responder_lookup`` and ``failed``), and every item (property, side, policy position)
    that one of them refutes is returned with that packet and verdict, once. On overlapping
    hosts most items fall here, so z3 is left mostly with the items that hold (one
    unsatisfiable check per batch). When the first ``trial`` replays refute less than one
    item in ``PRESEARCH_YIELD``, the search goes on only for heavy regions (more than
    ``heavy`` policies: hosts that mostly agree, where z3 is cheaper except on a region that
    negates thousands of policies)."""
    done: set[tuple[str, int, str]] = set()
    out: list[tuple[str, str, int, Packet, Any]] = []
    fam = enc.family
    i_pos, r_pos = replay.i_position, enc.r_position
    i_ipsec = [n for n, q in enumerate(enc.i_order) if q.action.is_ipsec]
    r_ipsec = [k for k, q in enumerate(enc.r_order) if q.action.is_ipsec]
    jobs: list[tuple[str, int, list[tuple[int, ...]]]] = []
    jobs += [("I", n, policy_boxes(enc.i_order[n], fam)[:boxes_per_policy]) for n in i_ipsec]
    jobs += [("R", k, [(b[2], b[3], b[0], b[1], b[6], b[7], b[4], b[5], b[8], b[9])
                       for b in policy_boxes(enc.r_order[k], fam)[:boxes_per_policy]])
             for k in r_ipsec]
    replays = 0
    for side, n, boxes in jobs:
        if replays >= trial and len(done) * PRESEARCH_YIELD < replays \
                and not _heavy(enc, side, n, heavy):
            continue
        wanted = ([("I", n, prop) for prop in PROPERTIES] if side == "I"
                  else [("R", n, "peers.symmetry")])
        before = [enc.i_order[k] for k in enc.earlier(n)] if side == "I" else []
        for box in boxes:
            for packet in _corner_packets(box, fam):
                if all(w in done for w in wanted):
                    break
                if not in_scope(packet):
                    continue
                if any(q.matches(packet) for q in before):
                    continue  # not in the region of I's n-th policy
                detail = replay(packet, (side, n))
                replays += 1
                hits: list[tuple[str, int, str]] = []
                ipol = detail.initiator_policy
                if ipol is not None and ipol.action.is_ipsec:
                    m = i_pos.get(id(ipol))
                    hits += [("I", m, prop) for prop in detail.failed if m is not None]
                look = detail.responder_lookup
                if look is not None and look.action.is_ipsec and \
                        "peers.symmetry" in detail.failed and id(look) in r_pos:
                    hits.append(("R", r_pos[id(look)], "peers.symmetry"))
                for hit in hits:
                    if hit not in done:
                        done.add(hit)
                        out.append((hit[2], hit[0], hit[1], packet, detail))
    return out


def _heavy(enc: PairEncoding, side: str, n: int, heavy: int) -> bool:
    """A region whose formulas mention many policies: of I's policies, one with many earlier
    neighbours; of R's, a wide one (any family, or any address on a side)."""
    if side == "I":
        return len(enc.earlier(n)) > heavy
    q = enc.r_order[n]
    return q.family is None or q.source.is_any or q.destination.is_any


def _point(packet: Packet) -> Box:
    return Box(packet.family, packet.protocol, (packet.src, packet.src),
               (packet.dst, packet.dst), (packet.sport, packet.sport),
               (packet.dport, packet.dport))


def _sub_host(host: Host, policies: list[Policy]) -> Host:
    """``host`` with only ``policies``, given in search order (positions of the encoding's
    search-ordered lists, ascending): same names, objects and order, not sorted again."""
    sub = Host(host.name, tuple(policies), host.addresses, host.source, host.default_action)
    object.__setattr__(sub, "_ordered", sub.policies)
    if not host.directional:  # every policy applies to both directions
        object.__setattr__(sub, "_applicable_in", sub.policies)
        object.__setattr__(sub, "_applicable_out", sub.policies)
    return sub
