"""The fast paths of the peers checks on large hosts: witnesses replayed by the concrete
semantics on hosts cut down by the index (``Replayer``), and a concrete pre-search that
refutes most items of overlapping hosts without the solver (``presearch``). Both give the
same findings as the simple path (tests/test_peers_fast_paths.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qmcheck.model.encodings.overlap_index import policy_boxes
from qmcheck.model.encodings.z3_negotiation import Box, PairEncoding
from qmcheck.model.semantics.lookup import lookup
from qmcheck.model.semantics.negotiation import NegotiationOptions
from qmcheck.model.values.addresses import Family
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Host, Policy
from qmcheck.model.values.protocols import PORT_PROTOCOLS

PROPERTIES = ("peers.negotiation", "peers.consistency", "peers.symmetry")
PRESEARCH_TRIAL = 300  # replays before the pre-search judges its yield
PRESEARCH_YIELD = 20  # it goes on while at least one replay in this many refutes an item
Verdict = Callable[[Host, Host, Packet, NegotiationOptions], Any]  # concrete_verdict


class Replayer:
    """``concrete_verdict`` for the witnesses of one encoding. With ``indexed``, the hosts
    are first cut down to the policies whose box meets a box that holds the packet (the
    hull of a policy's region, or the packet itself) and, for the responder's choice, whose
    box meets the selectors of the initiator's policy: every policy the concrete semantics
    can match or choose is among them, in the same order, so the verdict is the same as on
    the whole hosts (tests compare both), at a cost that does not grow with the number of
    policies. The cut-down hosts of a region are built once."""

    def __init__(self, enc: PairEncoding, initiator: Host, responder: Host,
                 options: NegotiationOptions, verdict: Verdict, indexed: bool = True) -> None:
        self.enc, self.initiator, self.responder = enc, initiator, responder
        self.options, self.verdict = options, verdict
        self.indexed = indexed
        self.i_position = {id(q): n for n, q in enumerate(enc.i_order)}
        self._i_sub: dict[tuple[str, int], Host] = {}
        self._r_look: dict[tuple[str, int], list[int]] = {}
        self._r_choice: dict[int, list[int]] = {}
        self._r_sub: dict[tuple[str, int, int], Host] = {}

    def _box(self, hint: tuple[str, int] | None, packet: Packet) -> tuple[str, int] | None:
        """``hint`` if its policy's box holds the packet (else None: the packet's own box)."""
        if hint is None:
            return None
        side, pos = hint
        point = _point(packet)
        parts = (self.enc.i_parts if side == "I" else self.enc.r_parts)[pos]
        return hint if any(b.meets(point) for b in parts) else None

    def _initiator(self, key: tuple[str, int] | None, packet: Packet) -> Host:
        if key is None:
            cands = self.enc.i_index.query(_point(packet))
            return _sub_host(self.initiator, [self.enc.i_order[n] for n in cands])
        sub = self._i_sub.get(key)
        if sub is None:
            parts = (self.enc.i_parts if key[0] == "I" else self.enc.r_parts)[key[1]]
            cands = self.enc.i_index.query_any(parts)
            sub = self._i_sub[key] = _sub_host(self.initiator,
                                               [self.enc.i_order[n] for n in cands])
        return sub

    def _choice(self, n: int) -> list[int]:
        cands = self._r_choice.get(n)
        if cands is None:
            sel = self.enc.selector_box(n)
            cands = self._r_choice[n] = self.enc.r_index.query(
                Box(sel.family, None, sel.local, sel.remote, sel.lport, sel.rport))
        return cands

    def _responder(self, key: tuple[str, int] | None, packet: Packet, first: int) -> Host:
        enc = self.enc
        if key is None:
            cands = set(enc.r_index.query(_point(packet)))
        else:
            sub = self._r_sub.get((*key, first))
            if sub is not None:
                return sub
            look = self._r_look.get(key)
            if look is None:
                parts = (enc.i_parts if key[0] == "I" else enc.r_parts)[key[1]]
                look = self._r_look[key] = enc.r_index.query_any(parts)
            cands = set(look)
        if first >= 0:
            cands.update(self._choice(first))
        sub = _sub_host(self.responder, [enc.r_order[k] for k in sorted(cands)])
        if key is not None:
            self._r_sub[(*key, first)] = sub
        return sub

    def initiator_first(self, packet: Packet, hint: tuple[str, int] | None = None
                        ) -> Policy | None:
        """I's first match for ``packet`` (``hint``: a region whose box may hold it)."""
        if not self.indexed:
            return lookup(self.initiator, packet)
        return lookup(self._initiator(self._box(hint, packet), packet), packet)

    def __call__(self, packet: Packet, hint: tuple[str, int] | None = None) -> Any:
        """``concrete_verdict`` for ``packet``; ``hint`` (side, position) names a policy
        whose box may hold the packet (checked), so that its cut-down hosts are reused."""
        if not self.indexed:
            return self.verdict(self.initiator, self.responder, packet, self.options)
        key = self._box(hint, packet)
        sub_i = self._initiator(key, packet)
        first = lookup(sub_i, packet)
        pos = self.i_position[id(first)] if first is not None and first.action.is_ipsec else -1
        return self.verdict(sub_i, self._responder(key, packet, pos), packet, self.options)


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
    """``host`` with only ``policies`` (same names, objects and search order)."""
    return Host(host.name, tuple(sorted(policies, key=lambda p: p.order_key)), host.addresses,
                host.source, host.default_action)
