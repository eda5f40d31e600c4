"""Natural witnesses: a packet a person would send, in the same region as a solver's witness.

A solver picks any packet of a region: ``0.0.0.1:0 -> 0.0.0.1:0 0``, network addresses, port 0.
``natural_packet`` moves such a witness, one field at a time, to a natural value while keeping
it in its region. The region of a packet is what the policies say about it: which of them match
it. Two packets that no policy tells apart get the same first match, the same action, the same
message 1 and the same responder choice, so every verdict about the one holds for the other.

- Addresses and ports: a field moves from one value to another only when no interval of the
  policy fields it is compared with holds exactly one of the two (mirrored: a packet's source
  is compared with the source fields when it goes out, with the destination fields when it
  comes in; the peer sees the other direction). Then every filter holds both or neither.
- Protocol: only the policies that name the old or the new protocol can tell the two apart;
  the move is kept only when each of them matches both packets or neither.

Natural, in order of preference: the policy's protocol (else tcp); for tcp, udp and sctp the
policy's ports, an ephemeral client port (49152 and up) and a well-known service port; for
addresses the host's own address, then a host address of the policy's filter (not a network or
broadcast address), else the solver's value if it is a host address, else a documentation
address (RFC 5737, RFC 3849); the destination differs from the source where the region allows
(a packet between two hosts). A caller that knows more
(a negotiation outcome) passes ``keep``: the natural packet is returned only if ``keep`` accepts
it, else the original.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from qmcheck.model.semantics.stabbing import PolicyStab
from qmcheck.model.values.addresses import AddressFilter, max_address
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Policy
from qmcheck.model.values.protocols import has_ports

TCP, UDP, ICMP = 6, 17, 1
EPHEMERAL = (49152, 49153, 50000, 55555, 60000, 65000)
SERVICES = (443, 80, 22, 53, 500, 8080, 25, 123)
#: Documentation addresses (RFC 5737, RFC 3849) for "any" fields without a better choice.
DOC_V4 = (0xC000020A, 0xC633640A, 0xCB00710A)  # 192.0.2.10, 198.51.100.10, 203.0.113.10
DOC_V6 = (0x20010DB800000000000000000000000A, 0x20010DB80000000000000000000000B0)


ROLE = {("src", "out"): "source", ("src", "in"): "destination",
        ("dst", "out"): "destination", ("dst", "in"): "source"}
FLIP = {"out": "in", "in": "out"}


class _Spans:
    """Distinct intervals of one kind of field, sorted by low and by high end."""

    def __init__(self, spans: Iterable[tuple[int, int]]) -> None:
        distinct = set(spans)
        self.by_lo = sorted(distinct)
        self.los = [lo for lo, _ in self.by_lo]
        self.by_hi = sorted((hi, lo) for lo, hi in distinct)
        self.his = [hi for hi, _ in self.by_hi]
        self._sparse: tuple[list[list[int]], list[list[int]]] | None = None

    def separates(self, a: int, b: int) -> bool:
        """Does some interval hold exactly one of ``a`` and ``b``? (Short stretches are
        scanned; long ones are asked of range-maximum tables, built on first use.)"""
        if a == b:
            return False
        a, b = min(a, b), max(a, b)
        i, j = bisect_right(self.los, a), bisect_right(self.los, b)
        # a < lo <= b <= hi: holds b, not a
        if j - i <= SCAN:
            if any(hi >= b for _lo, hi in self.by_lo[i:j]):
                return True
        elif _range_max(self._tables()[0], i, j) >= b:
            return True
        i, j = bisect_left(self.his, a), bisect_left(self.his, b)
        # lo <= a <= hi < b: holds a, not b
        if j - i <= SCAN:
            return any(lo <= a for _hi, lo in self.by_hi[i:j])
        return -_range_max(self._tables()[1], i, j) <= a

    def _tables(self) -> tuple[list[list[int]], list[list[int]]]:
        """Sparse tables: the largest high end over ``by_lo``, the smallest low end (negated)
        over ``by_hi``, for every stretch of a power-of-two length."""
        if self._sparse is None:
            self._sparse = (_sparse([hi for _lo, hi in self.by_lo]),
                            _sparse([-lo for _hi, lo in self.by_hi]))
        return self._sparse


SCAN = 32  # stretches up to this long are scanned


def _sparse(values: list[int]) -> list[list[int]]:
    """Level ``L`` holds the maximum of ``values[k:k + 2**L]`` for every ``k``."""
    levels = [values]
    width = 1
    while 2 * width <= len(values):
        prev = levels[-1]
        levels.append(list(map(max, prev[:len(prev) - width], prev[width:])))
        width *= 2
    return levels


def _range_max(levels: list[list[int]], i: int, j: int) -> int:
    """The maximum of ``values[i:j]`` (``i < j``) from the sparse table of ``values``."""
    level = (j - i).bit_length() - 1
    return max(levels[level][i], levels[level][j - (1 << level)])


@dataclass
class _Cuts:
    """One host's policy fields: intervals by (family, field) and by port field."""

    addresses: dict[tuple[int, str], _Spans]
    ports: dict[str, _Spans]
    flip: bool  # the peer sees the packet with the other direction


def _cuts(policies: Sequence[Policy], flip: bool) -> _Cuts:
    addresses: dict[tuple[int, str], list[tuple[int, int]]] = {}
    ports: dict[str, list[tuple[int, int]]] = {"source": [], "destination": []}
    for p in policies:
        for role, f in (("source", p.source), ("destination", p.destination)):
            for v in f.values:
                addresses.setdefault((v.family, role), []).append((v.lo, v.hi))
        ports["source"].append((p.source_port.lo, p.source_port.hi))
        ports["destination"].append((p.destination_port.lo, p.destination_port.hi))
    return _Cuts({k: _Spans(v) for k, v in addresses.items()},
                 {k: _Spans(v) for k, v in ports.items()}, flip)


@dataclass
class RegionIndex:
    """The cells of every packet field over a host's policies and, for two-host questions,
    its peer's (which sees the packet with the other direction); see the module docstring."""

    policies: Sequence[Policy]
    peer_policies: Sequence[Policy] = ()
    _sides: dict[int, list[_Cuts]] = field(default_factory=dict)
    _stabs: dict[tuple[int, bool], PolicyStab] = field(default_factory=dict)

    def _stab(self, protocol: int, flip: bool) -> PolicyStab:
        """The policies naming ``protocol`` (the peer's if ``flip``), indexed."""
        key = (protocol, flip)
        if key not in self._stabs:
            mine = self.peer_policies if flip else self.policies
            self._stabs[key] = PolicyStab([p for p in mine if p.protocol == protocol])
        return self._stabs[key]

    def sides(self, protocol: int) -> list[_Cuts]:
        """The fields of the policies that can match a packet of ``protocol``."""
        if protocol not in self._sides:
            def mine(ps: Sequence[Policy]) -> list[Policy]:
                return [p for p in ps if p.protocol is None or p.protocol == protocol]

            sides = [_cuts(mine(self.policies), False)]
            if self.peer_policies:
                sides.append(_cuts(mine(self.peer_policies), True))
            self._sides[protocol] = sides
        return self._sides[protocol]

    def same_cell(self, packet: Packet, name: str, value: int) -> bool:
        """Does moving field ``name`` (src, dst, sport, dport) of ``packet`` to ``value``
        keep it in, or out of, every policy's filter alike?"""
        old = getattr(packet, name)
        field_name = {"sport": "src", "dport": "dst"}.get(name, name)
        for side in self.sides(packet.protocol):
            direction = FLIP[packet.direction] if side.flip else packet.direction
            role = ROLE[(field_name, direction)]
            if name in ("sport", "dport"):
                spans: _Spans | None = side.ports[role]
            else:
                spans = side.addresses.get((packet.family, role))
            if spans is not None and spans.separates(old, value):
                return False
        return True

    def same_protocol_region(self, old: Packet, new: Packet) -> bool:
        """``new`` differs from ``old`` in the protocol only: does any policy tell them apart
        (the peer's policies on the packet as the peer sees it)? Only a policy naming one
        of the two protocols can, and it does exactly when it matches the packet of its
        protocol: the stabbing index finds such a policy without scanning them all."""
        if replace(old, protocol=new.protocol) != new:
            return self.same_region_scan(old, new)  # not a change of the protocol only
        if old.protocol == new.protocol:
            return True
        for flip in (False, True):
            if flip and not self.peer_policies:
                continue
            a, b = (old.as_seen_by_peer(), new.as_seen_by_peer()) if flip else (old, new)
            if (self._stab(old.protocol, flip).any_matches(a)
                    or self._stab(new.protocol, flip).any_matches(b)):
                return False
        return True

    def same_region_scan(self, old: Packet, new: Packet) -> bool:
        """``same_protocol_region`` by a scan of every policy naming either protocol (the
        reference the index is tested against)."""
        for policies, flip in ((self.policies, False), (self.peer_policies, True)):
            a, b = (old.as_seen_by_peer(), new.as_seen_by_peer()) if flip else (old, new)
            judges = [p for p in policies if p.protocol in (old.protocol, new.protocol)]
            if any(p.matches(a) != p.matches(b) for p in judges):
                return False
        return True


def is_host_address(family: int, value: int, filters: Iterable[AddressFilter] = ()) -> bool:
    """Not 0, not the all-ones address, and not the network or broadcast address of a
    prefix (of length below /31 for IPv4, /127 for IPv6) in ``filters`` that holds it."""
    if value in (0, max_address(family)):
        return False
    if family == 4 and ((value & 0xFF) in (0, 255) or value >> 24 in (0, 127)
                        or value >> 24 >= 224):
        return False
    if family == 6 and value < 0x10000:
        return False
    for f in filters:
        for v in f.values:
            if v.family != family or v.kind != "prefix" or not v.lo <= value <= v.hi:
                continue
            if (v.hi - v.lo) >= 3 and value in (v.lo, v.hi):
                return False
    return True


def _address_candidates(family: int, value: int, own: Sequence[int],
                        filters: Sequence[AddressFilter]) -> list[int]:
    out = list(own)
    if is_host_address(family, value, filters):
        out.append(value)
    for f in filters:
        for v in f.values:
            if v.family != family or v.is_any:
                continue
            if v.kind == "single":
                out.append(v.lo)
            else:
                out.extend(x for x in (v.lo + 1, v.lo + 10, v.lo + 2, v.lo) if x <= v.hi)
    out.extend(DOC_V4 if family == 4 else DOC_V6)
    return out


def _sides(packet: Packet, focus: Policy | None
           ) -> tuple[list[AddressFilter], list[AddressFilter], tuple[int, int] | None,
                      tuple[int, int] | None]:
    """The filters and port ranges that apply to the packet's src and dst (mirrored)."""
    if focus is None:
        return [], [], None, None
    local_f, remote_f = [focus.source], [focus.destination]
    lport = (focus.source_port.lo, focus.source_port.hi)
    rport = (focus.destination_port.lo, focus.destination_port.hi)
    if packet.direction == "out":
        return local_f, remote_f, lport, rport
    return remote_f, local_f, rport, lport


def natural_packet(packet: Packet, policies: Sequence[Policy] | RegionIndex,
                   focus: Sequence[Policy] = (), *,
                   src_addresses: Sequence[tuple[int, int]] = (),
                   dst_addresses: Sequence[tuple[int, int]] = (),
                   keep: Callable[[Packet], bool] | None = None) -> Packet:
    """A natural packet in the region of ``packet`` over ``policies`` (see the module doc).

    ``focus``: the policies the finding is about (their protocol and ports are preferred, the
    first one's address fields too); ``src_addresses`` / ``dst_addresses``: (family, address)
    pairs of the hosts that send and receive, tried first.
    """
    index = policies if isinstance(policies, RegionIndex) else RegionIndex(policies)
    main = focus[0] if focus else None
    pkt = packet
    # protocol: the policy's, else tcp, udp, icmp (only from "any" protocol 0)
    wanted = [p.protocol for p in focus if p.protocol is not None]
    if pkt.protocol == 0 or (wanted and pkt.protocol not in wanted):
        for proto in [*wanted, TCP, UDP, ICMP]:
            if proto == pkt.protocol:
                break
            trial = replace(pkt, protocol=proto, sport=pkt.sport if has_ports(proto) else 0,
                            dport=pkt.dport if has_ports(proto) else 0)
            if trial.sport == pkt.sport and trial.dport == pkt.dport \
                    and index.same_protocol_region(pkt, trial):
                pkt = trial
                break
    src_f, dst_f, sport_r, dport_r = _sides(pkt, main)
    if has_ports(pkt.protocol):
        pkt = _ports(pkt, index, sport_r, dport_r)
    fam = pkt.family
    for name, own, filters in (("src", src_addresses, src_f), ("dst", dst_addresses, dst_f)):
        value = getattr(pkt, name)
        mine = [a for f, a in own if f == fam]
        if value in mine:
            continue
        cands = _address_candidates(fam, value, mine, filters)
        if name == "dst":  # a packet between two hosts: the source's address last
            cands = [c for c in cands if c != pkt.src] + [c for c in cands if c == pkt.src]
        for cand in cands:
            if (cand in mine or is_host_address(fam, cand, filters)) \
                    and index.same_cell(pkt, name, cand):
                pkt = replace(pkt, **{name: cand})
                break
    if keep is not None and pkt != packet and not keep(pkt):
        return packet
    return pkt


def _ports(pkt: Packet, index: RegionIndex, sport_r: tuple[int, int] | None,
           dport_r: tuple[int, int] | None) -> Packet:
    """Client port ephemeral, server port the policy's (or a well-known one), in the cell."""
    def pick(name: str, policy_range: tuple[int, int] | None, natural: Sequence[int]) -> int:
        value = getattr(pkt, name)
        cands: list[int] = []
        if policy_range is not None and policy_range != (0, 65535):
            lo, hi = policy_range
            cands.extend(x for x in natural if lo <= x <= hi)
            cands.append(lo)
        cands.extend(natural)
        if value:
            cands.append(value)
        for cand in cands:
            if 0 < cand <= 65535 and index.same_cell(pkt, name, cand):
                return cand
        return value

    # the service side: the policy's specific port, or a well-known port the region needs;
    # the other side is the client, on an ephemeral port
    service_sport = sport_r not in (None, (0, 65535)) and dport_r in (None, (0, 65535))
    sport = pick("sport", sport_r, SERVICES if service_sport else EPHEMERAL)
    if service_sport or (0 < sport < 1024 and dport_r in (None, (0, 65535))):
        return replace(pkt, sport=sport, dport=pick("dport", dport_r, EPHEMERAL))
    return replace(pkt, sport=sport, dport=pick("dport", dport_r, SERVICES))
