"""z3 encoding of the Quick Mode negotiation step (docs/SPEC.md 3, steps 1-2) over all packets.

Everything is written in the initiator's coordinates: the symbolic packet ``p`` is an outbound
packet of the initiator I (local = source, remote = destination). For each policy ``i`` of I
the encoding gives, as z3 terms over ``p``:

- ``region``: ``p`` lies in the scope (the hosts' addresses, when given) and I's first match
  for ``p`` is ``i``;
- ``sel``: the responder R's policy chosen for the selectors I derives from ``p`` under ``i``
  (its position in R's search order, ``NONE`` when R finds none): first match over
  containment (strict, lenient or port-lenient wildcards; protocol contained or equal), or
  strongSwan's best score (5 per equal selector, 1 per overlapping one; ties to the earlier);
- ``covered``: under narrowing, the narrowed selectors still hold ``p``;
- ``lookup``: R's own packet lookup for ``p`` as it arrives (mirrored coordinates).

Only policies whose box (a hull of their fields) can meet ``i``'s traffic enter a term: a
sound pruning, as the other policies' predicates are false there. The concrete semantics in
``semantics/negotiation.py`` is the reference; tests compare the two on every packet of small
universes. Policies of one direction (docs/SPEC.md 2) enter I's outbound and R's inbound lookups
as they apply; R's reply lookup is compared with the chosen policy (``lookup.reply_agrees``).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import z3

from qmcheck.model.encodings.z3_policies import (
    SymPacket,
)
from qmcheck.model.semantics.lookup import reply_agrees, tunnels_elsewhere, tunnels_to
from qmcheck.model.semantics.negotiation import NegotiationOptions, choose_proposal
from qmcheck.model.values.addresses import AddressFilter, AddressValue, Family, max_address
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Host, Policy
from qmcheck.model.values.protocols import MAX_PORT, PORT_PROTOCOLS, PortRange
from qmcheck.model.values.selectors import InitiatorIds, sent_as_value

FULL_PORTS = (0, MAX_PORT)
EPHEMERAL_PORT = 49152  # the first of the dynamic ports (RFC 6335): a natural source port


@dataclass(frozen=True, slots=True)
class Box:
    """A hull of a policy's packets in the initiator's coordinates (None: any family/protocol)."""

    family: int | None
    protocol: int | None
    local: tuple[int, int]
    remote: tuple[int, int]
    lport: tuple[int, int]
    rport: tuple[int, int]

    def meets(self, other: Box) -> bool:
        return ((self.family is None or other.family is None or self.family == other.family)
                and (self.protocol is None or other.protocol is None
                     or self.protocol == other.protocol)
                and _meet(self.local, other.local) and _meet(self.remote, other.remote)
                and _meet(self.lport, other.lport) and _meet(self.rport, other.rport))


def _meet(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def _hull(f: AddressFilter, family: Family, family_any: bool) -> tuple[int, int]:
    if family_any:
        return 0, max_address(family)
    return min(v.lo for v in f.values), max(v.hi for v in f.values)


def _ports(p: PortRange) -> tuple[int, int]:
    return p.lo, p.hi


def policy_box(policy: Policy, family: Family, mirrored: bool) -> Box:
    """The box of a policy; ``mirrored`` for the responder's policies (its source side faces
    the initiator's remote side)."""
    fam_any = policy.family is None
    src, dst = _hull(policy.source, family, fam_any), _hull(policy.destination, family, fam_any)
    sp, dp = _ports(policy.source_port), _ports(policy.destination_port)
    if mirrored:
        return Box(policy.family, policy.protocol, dst, src, dp, sp)
    return Box(policy.family, policy.protocol, src, dst, sp, dp)


def policy_parts(policy: Policy, family: Family, mirrored: bool) -> list[Box]:
    """The boxes whose union holds the policy's packets: one per pair of source and
    destination values (a policy with two distant destinations is two small boxes, not one
    hull over everything between them)."""
    if policy.family is None or (len(policy.source.values) == 1
                                 and len(policy.destination.values) == 1):
        return [policy_box(policy, family, mirrored)]
    sp, dp = _ports(policy.source_port), _ports(policy.destination_port)
    out = []
    for s in policy.source.values:
        for d in policy.destination.values:
            src, dst = (s.lo, s.hi), (d.lo, d.hi)
            out.append(Box(policy.family, policy.protocol, dst, src, dp, sp) if mirrored
                       else Box(policy.family, policy.protocol, src, dst, sp, dp))
    return out


class BoxIndex:
    """Finds the items whose box meets a query box. Per address dimension, the boxes are
    bucketed by the width of their span and sorted by its lower end; a query bisects every
    bucket of both dimensions and scans the dimension with the fewer candidates. With
    ``parts``, item ``n`` is the union of the boxes ``parts[n]`` (``boxes[n]`` their hull)."""

    def __init__(self, boxes: Sequence[Box], parts: Sequence[Sequence[Box]] | None = None
                 ) -> None:
        self.items = list(boxes)
        self.owner = (list(range(len(self.items))) if parts is None
                      else [n for n, bs in enumerate(parts) for _ in bs])
        self.boxes = self.items if parts is None else [b for bs in parts for b in bs]
        self.unique = parts is None or all(len(bs) == 1 for bs in parts)
        self.flat = [(b.family, b.protocol, *b.local, *b.remote, *b.lport, *b.rport)
                     for b in self.boxes]
        self.dims = [self._buckets(lambda b: b.local), self._buckets(lambda b: b.remote)]

    def _buckets(self, span: Callable[[Box], tuple[int, int]]
                 ) -> tuple[Callable[[Box], tuple[int, int]],
                            dict[int, tuple[list[int], list[int]]]]:
        buckets: dict[int, list[tuple[int, int]]] = {}
        for n, b in enumerate(self.boxes):
            lo, hi = span(b)
            width = -(-(hi - lo).bit_length() // 4) * 4  # classes of 16x width: fewer bisects
            buckets.setdefault(width, []).append((lo, n))
        out = {}
        for width, items in buckets.items():
            items.sort()
            out[width] = ([lo for lo, _ in items], [n for _, n in items])
        return span, out

    def query(self, box: Box) -> list[int]:
        """Indices (ascending) of the boxes that meet ``box``."""
        best: list[tuple[list[int], int, int]] = []
        best_size = -1
        for span, buckets in self.dims:
            lo, hi = span(box)
            slices = []
            size = 0
            for width, (starts, ids) in buckets.items():
                a = bisect_left(starts, lo - (1 << width) + 1)
                b = bisect_right(starts, hi)
                if a < b:
                    slices.append((ids, a, b))
                    size += b - a
            if best_size < 0 or size < best_size:
                best, best_size = slices, size
        fam, proto = box.family, box.protocol
        (l0, l1), (r0, r1), (a0, a1), (b0, b1) = box.local, box.remote, box.lport, box.rport
        flat, owner = self.flat, self.owner
        out = []
        for ids, a, b in best:
            for n in ids[a:b]:
                f, p, x0, x1, y0, y1, c0, c1, d0, d1 = flat[n]
                if (x0 <= l1 and l0 <= x1 and y0 <= r1 and r0 <= y1 and c0 <= a1
                        and a0 <= c1 and d0 <= b1 and b0 <= d1
                        and (f is None or fam is None or f == fam)
                        and (p is None or proto is None or p == proto)):
                    out.append(owner[n])
        if self.unique:
            out.sort()
            return out
        return sorted(set(out))

    def query_any(self, boxes: Sequence[Box]) -> list[int]:
        """Indices (ascending) of the items that meet one of ``boxes``."""
        if len(boxes) == 1:
            return self.query(boxes[0])
        return sorted({n for b in boxes for n in self.query(b)})


#: A span the selector is sent as (when the condition holds): the configured value's interval.
Span = tuple["z3.BoolRef | bool", int, int]


@dataclass(frozen=True)
class Derivation:
    """I's message 1 for policy ``i``, as functions of ``p``: which sides are the address
    wildcard, which are sent as a configured value (``*_spans``: a condition per prefix or
    range sent as it is, under the profile's ``initiator-ids`` rule; otherwise the packet's
    address), the selector ports (None: the wildcard 0) and the selector protocol."""

    ci_wild: z3.BoolRef | bool
    cr_wild: z3.BoolRef | bool
    ci_port: z3.BitVecRef | None
    cr_port: z3.BitVecRef | None
    protocol: int
    ci_spans: tuple[Span, ...] = ()
    cr_spans: tuple[Span, ...] = ()


def _wild(f: AddressFilter, family_any: bool, var: z3.BitVecRef) -> z3.BoolRef | bool:
    """The first value of ``f`` that holds the address is ``any`` (sent as the wildcard)."""
    if family_any or f.values[0].is_any:
        return True
    before = []
    for v in f.values:
        if v.is_any:
            return to_z3(_not(_or(*[value_pred(b, var) for b in before])), var.ctx)
        before.append(v)
    return False


def _spans(f: AddressFilter, family_any: bool, var: z3.BitVecRef, rule: InitiatorIds
           ) -> tuple[Span, ...]:
    """The values of ``f`` sent as they are (``sent_as_value``), each with the condition that
    it is the first value holding the address (the twin of ``derive_selector``)."""
    if family_any or rule == "packet-exact":
        return ()
    out: list[Span] = []
    before: list[z3.BoolRef | bool] = []
    for v in f.values:
        if v.is_any:
            break
        pred = value_pred(v, var)
        if sent_as_value(v, rule) and v.lo < v.hi:
            out.append((_and(pred, *[_not(b) for b in before]), v.lo, v.hi))
        before.append(pred)
    return tuple(out)


def derivation(policy: Policy, p: SymPacket, rule: InitiatorIds = "ranges-exact"
               ) -> Derivation:
    fam_any = policy.family is None
    return Derivation(
        _wild(policy.source, fam_any, p.local), _wild(policy.destination, fam_any, p.remote),
        None if policy.source_port.is_any else p.lport,
        None if policy.destination_port.is_any else p.rport,
        0 if policy.protocol is None else policy.protocol,
        _spans(policy.source, fam_any, p.local, rule),
        _spans(policy.destination, fam_any, p.remote, rule))


def _by_span(spans: Sequence[Span], exact: z3.BoolRef | bool,
             of_span: Callable[[int, int], bool]) -> z3.BoolRef | bool:
    """A predicate of the derived address: ``of_span(lo, hi)`` where a configured span is
    sent, ``exact`` (a predicate of the packet's address) otherwise."""
    out = exact
    for cond, lo, hi in reversed(spans):
        out = _ite(cond, of_span(lo, hi), out)
    return out


# Thin constructors straight over the C API: the z3 Python layer's coercions dominate the
# time of building tens of thousands of small terms. Every encoding has its own z3 context
# (so that reports are byte-identical however many analyses ran before in the process);
# constants and predicates are cached on the context.


def _cache(ctx: z3.Context) -> dict[tuple[object, ...], Any]:
    cache = getattr(ctx, "_qmcheck_cache", None)
    if cache is None:
        cache = {}
        ctx._qmcheck_cache = cache  # type: ignore[attr-defined]
    return cache


def _mk_bool(fn: Callable[..., object], args: Sequence[z3.BoolRef]) -> z3.BoolRef:
    ctx = args[0].ctx
    arr = (z3.Ast * len(args))(*[a.ast for a in args])
    return z3.BoolRef(fn(ctx.ref(), len(args), arr), ctx)


def const(value: int, bits: int, ctx: z3.Context) -> z3.BitVecRef:
    """A cached bit-vector constant."""
    cache = _cache(ctx)
    key = ("c", value, bits)
    if key not in cache:
        cache[key] = z3.BitVecVal(value, bits, ctx)
    return cache[key]  # type: ignore[no-any-return]


def eq_const(var: z3.BitVecRef, value: int) -> z3.BoolRef:
    ctx = var.ctx
    c = const(value, var.size(), ctx)
    return z3.BoolRef(z3.Z3_mk_eq(ctx.ref(), var.ast, c.ast), ctx)


def eq_bv(a: z3.BitVecRef, b: z3.BitVecRef) -> z3.BoolRef:
    return z3.BoolRef(z3.Z3_mk_eq(a.ctx.ref(), a.ast, b.ast), a.ctx)


def ite_bv(c: z3.BoolRef, a: z3.BitVecRef, b: z3.BitVecRef) -> z3.BitVecRef:
    return z3.BitVecRef(z3.Z3_mk_ite(c.ctx.ref(), c.ast, a.ast, b.ast), c.ctx)


def _ule(a: z3.BitVecRef, b: z3.BitVecRef) -> z3.BoolRef:
    return z3.BoolRef(z3.Z3_mk_bvule(a.ctx.ref(), a.ast, b.ast), a.ctx)


def in_range(var: z3.BitVecRef, lo: int, hi: int) -> z3.BoolRef | bool:
    """``lo <= var <= hi`` for an address or port variable. A compressed variable (see
    ``PairEncoding``) holds the number of an elementary interval: the bounds are mapped to
    the first and last interval they cover (both are interval ends by construction)."""
    cache = _cache(var.ctx)
    key = ("r", var.get_id(), lo, hi)
    if key in cache:
        return cache[key]  # type: ignore[no-any-return]
    points = cache.get(("map", var.get_id()))
    if points is None:
        top = (1 << var.size()) - 1
    else:
        lo, hi, top = bisect_right(points, lo) - 1, bisect_right(points, hi) - 1, len(points) - 1
    bits = var.size()
    if lo <= 0 and hi >= top:
        out: z3.BoolRef | bool = True
    elif lo == hi:
        out = eq_const(var, lo)
    elif lo <= 0:
        out = _ule(var, const(hi, bits, var.ctx))
    else:
        out = _mk_bool(z3.Z3_mk_and, [_ule(const(lo, bits, var.ctx), var),
                                      _ule(var, const(hi, bits, var.ctx))])
    cache[key] = out
    return out


def value_pred(value: AddressValue, var: z3.BitVecRef) -> z3.BoolRef | bool:
    """``var`` lies in the value (the twin of ``smt_encoding.address_value_pred``)."""
    return True if value.is_any else in_range(var, value.lo, value.hi)


def filter_pred(f: AddressFilter, var: z3.BitVecRef) -> z3.BoolRef | bool:
    if f.is_any:
        return True
    return _or(*[value_pred(v, var) for v in f.values])


def ports_pred(ports: PortRange, var: z3.BitVecRef) -> z3.BoolRef | bool:
    return True if ports.is_any else in_range(var, ports.lo, ports.hi)


def match(policy: Policy, p: SymPacket) -> z3.BoolRef | bool:
    """The policy matches the packet (the fast twin of ``smt_encoding.policy_match``)."""
    if policy.family is not None and policy.family != p.family:
        return False
    parts: list[z3.BoolRef | bool] = []
    if policy.protocol is not None:
        parts.append(eq_const(p.protocol, policy.protocol))
    parts.append(ports_pred(policy.source_port, p.lport))
    parts.append(ports_pred(policy.destination_port, p.rport))
    if policy.family is not None:
        parts.append(filter_pred(policy.source, p.local))
        parts.append(filter_pred(policy.destination, p.remote))
    return _and(*parts)


def _and(*parts: z3.BoolRef | bool) -> z3.BoolRef | bool:
    if any(x is False for x in parts):
        return False
    rest = [x for x in parts if x is not True]
    if not rest:
        return True
    return rest[0] if len(rest) == 1 else _mk_bool(z3.Z3_mk_and, rest)  # type: ignore[arg-type]


def _or(*parts: z3.BoolRef | bool) -> z3.BoolRef | bool:
    if any(x is True for x in parts):
        return True
    rest = [x for x in parts if x is not False]
    if not rest:
        return False
    return rest[0] if len(rest) == 1 else _mk_bool(z3.Z3_mk_or, rest)  # type: ignore[arg-type]


def _not(x: z3.BoolRef | bool) -> z3.BoolRef | bool:
    if isinstance(x, bool):
        return not x
    return z3.BoolRef(z3.Z3_mk_not(x.ctx.ref(), x.ast), x.ctx)


def _ite(c: z3.BoolRef | bool, a: z3.BoolRef | bool, b: z3.BoolRef | bool
         ) -> z3.BoolRef | bool:
    if isinstance(c, bool):
        return a if c else b
    return _or(_and(c, a), _and(_not(c), b))


def conj(*parts: z3.BoolRef | bool) -> z3.BoolRef | bool:
    """Conjunction built directly over the C API (Python truth values fold away)."""
    return _and(*parts)


def neg(x: z3.BoolRef | bool) -> z3.BoolRef | bool:
    return _not(x)


def to_z3(x: z3.BoolRef | bool, ctx: z3.Context | None = None) -> z3.BoolRef:
    """A z3 term for a term or a Python truth value (in ``ctx``)."""
    return z3.BoolVal(x, ctx) if isinstance(x, bool) else x


def _address_contains(f: AddressFilter, family_any: bool, wild: z3.BoolRef | bool,
                      var: z3.BitVecRef, lenient: bool, spans: Sequence[Span] = ()
                      ) -> z3.BoolRef | bool:
    """The concrete ``address_filter_contains`` for the selector derived from ``var``."""
    if family_any:
        return True
    when_wild = lenient or f.is_any
    if wild is True:
        return when_wild
    exact = _by_span(spans, filter_pred(f, var), lambda lo, hi: any(
        v.lo <= lo and hi <= v.hi for v in f.values))
    return exact if wild is False else _ite(wild, when_wild, exact)


def _port_contains(ports: PortRange, sel: z3.BitVecRef | None, lenient: bool
                   ) -> z3.BoolRef | bool:
    when_zero = ports.is_any or lenient
    if sel is None:
        return when_zero
    if ports.is_any:
        return True
    return _ite(in_range(sel, 0, 0), when_zero, ports_pred(ports, sel))


def _peer_port_equal(ports: PortRange, sel: z3.BitVecRef | None) -> z3.BoolRef | bool:
    """The concrete ``peer_port_equal`` (Libreswan)."""
    if ports.is_any:
        return True if sel is None else in_range(sel, 0, 0)
    if not ports.is_single or sel is None:
        return False
    return in_range(sel, ports.lo, ports.lo)


def contains(q: Policy, d: Derivation, p: SymPacket, opts: NegotiationOptions
             ) -> z3.BoolRef | bool:
    """R's policy ``q`` contains the selectors (mirrored: its source side holds IDcr)."""
    if q.family is not None and q.family != p.family:
        return False
    if opts.protocol_rule == "equal" and (q.protocol or 0) != d.protocol:
        return False
    if q.protocol is not None and not (q.protocol == d.protocol
                                       or (d.protocol == 0 and opts.wildcard == "lenient")):
        return False
    lenient_port = opts.wildcard in ("lenient", "ports")
    parts: list[z3.BoolRef | bool] = []
    for ports, sel in ((q.source_port, d.cr_port), (q.destination_port, d.ci_port)):
        if sel is d.ci_port and opts.peer_port_rule == "equal":
            part = _peer_port_equal(ports, sel)
        else:
            part = _port_contains(ports, sel, lenient_port)
        if part is False:
            return False
        parts.append(part)
    fam_any = q.family is None
    lenient_addr = opts.wildcard == "lenient"
    for f, wild, var, spans in ((q.source, d.cr_wild, p.remote, d.cr_spans),
                                (q.destination, d.ci_wild, p.local, d.ci_spans)):
        part = _address_contains(f, fam_any, wild, var, lenient_addr, spans)
        if part is False:
            return False
        parts.append(part)
    return _and(*parts)


@dataclass(frozen=True)
class _Side:
    """One side of the selectors for scoring: address wildcard flag, variable, port, and the
    configured spans sent instead of the packet's address."""

    wild: z3.BoolRef | bool
    var: z3.BitVecRef
    port: z3.BitVecRef | None
    protocol: int
    packet_port: z3.BitVecRef
    spans: tuple[Span, ...] = ()


def _side_spans(q: Policy, f: AddressFilter, family: Family) -> list[tuple[int, int]]:
    if q.family is None:
        return [(0, max_address(family))]
    return [(v.lo, v.hi) for v in f.values]


def _ts_equal(lo: int, hi: int, proto: int, ports: PortRange, s: _Side, family: Family
              ) -> z3.BoolRef | bool:
    """strongSwan's ``equals``: the configured selector is exactly the supplied one."""
    if proto != s.protocol:
        return False
    full = (lo, hi) == (0, max_address(family))
    exact = _by_span(s.spans, in_range(s.var, lo, lo) if lo == hi else False,
                     lambda a, b: (a, b) == (lo, hi))
    addr = _ite(s.wild, full, exact)
    port_full = (ports.lo, ports.hi) == FULL_PORTS
    if s.port is None:
        port: z3.BoolRef | bool = port_full
    else:
        port = _ite(in_range(s.port, 0, 0), port_full,
                    in_range(s.port, ports.lo, ports.lo) if ports.is_single else False)
    return _and(addr, port)


def _ts_meets(lo: int, hi: int, proto: int, ports: PortRange, s: _Side, family: Family
              ) -> z3.BoolRef | bool:
    if proto and s.protocol and proto != s.protocol:
        return False
    if (lo, hi) == (0, max_address(family)):
        addr: z3.BoolRef | bool = True
    else:
        inside = _by_span(s.spans, in_range(s.var, lo, hi), lambda a, b: a <= hi and lo <= b)
        addr = _or(s.wild, inside)
    if s.port is None or ports.is_any:
        port: z3.BoolRef | bool = True
    else:
        port = _or(in_range(s.port, 0, 0), ports_pred(ports, s.port))
    return _and(addr, port)


def _score(q: Policy, f: AddressFilter, ports: PortRange, s: _Side, family: Family
           ) -> z3.BitVecRef:
    """strongSwan's get_ts_match for one side: 5 per equal selector, 1 per overlapping one."""
    proto = 0 if q.protocol is None else q.protocol
    ctx = s.var.ctx
    five, one, zero = const(5, 16, ctx), const(1, 16, ctx), const(0, 16, ctx)
    terms: list[z3.BitVecRef] = []
    for lo, hi in _side_spans(q, f, family):
        eq = _ts_equal(lo, hi, proto, ports, s, family)
        meet = _ts_meets(lo, hi, proto, ports, s, family)
        if eq is True:
            terms.append(five)
        elif meet is False:
            continue
        else:
            terms.append(z3.If(to_z3(eq, ctx), five, z3.If(to_z3(meet, ctx), one, zero)))
    if not terms:
        return zero
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


def _covers(q: Policy, f: AddressFilter, ports: PortRange, s: _Side, family: Family,
            p_proto: z3.BitVecRef) -> z3.BoolRef | bool:
    """Narrowing keeps the packet on this side: the first configured selector that overlaps
    the supplied one holds the packet's address, port and protocol."""
    proto = 0 if q.protocol is None else q.protocol
    out: z3.BoolRef | bool = False
    earlier: list[z3.BoolRef | bool] = []
    for lo, hi in _side_spans(q, f, family):
        meet = _ts_meets(lo, hi, proto, ports, s, family)
        inside = True if (lo, hi) == (0, max_address(family)) else in_range(s.var, lo, hi)
        holds = _and(inside, True if proto == 0 else p_proto == proto,
                     ports_pred(ports, s.packet_port))
        out = _or(out, _and(meet, *[_not(e) for e in earlier], holds))
        earlier.append(meet)
    return out


@dataclass
class PairEncoding:
    """The negotiation of I toward R for one family and one profile's options."""

    initiator: Host
    responder: Host
    family: Family
    options: NegotiationOptions
    tag: str = ""
    others: tuple[AddressValue, ...] = ()  # addresses of the network's other hosts
    p: SymPacket = field(init=False)
    r_order: list[Policy] = field(init=False)
    i_order: list[Policy] = field(init=False)

    def __post_init__(self) -> None:
        # I's lookup of its outbound packet, R's of the packet as it arrives (and R's search
        # for the selectors) see the policies of those directions (docs/SPEC.md 2).
        self.i_order = [q for q in self.initiator.applicable("out")
                        if q.family in (None, self.family)]
        self.r_order = [q for q in self.responder.applicable("in")
                        if q.family in (None, self.family)]
        # R's lookup of its reply (outbound) when some policy applies to one direction only.
        self.r_out_order = [q for q in self.responder.applicable("out")
                            if q.family in (None, self.family)]
        self.ctx = z3.Context()
        self.points = self._breakpoints()
        names = ("local", "remote", "lport", "rport")
        variables = [z3.BitVec(f"{name}{self.tag}", max(1, (len(pts) - 1).bit_length()),
                               self.ctx) for name, pts in zip(names, self.points, strict=True)]
        for var, pts in zip(variables, self.points, strict=True):
            _cache(self.ctx)[("map", var.get_id())] = pts
        self.p = SymPacket(self.family, *variables,
                           z3.BitVec(f"protocol{self.tag}", 8, self.ctx))
        p = self.p
        self.rp = SymPacket(self.family, p.remote, p.local, p.rport, p.lport, p.protocol)
        self.r_position = {id(q): n for n, q in enumerate(self.r_order)}
        # positions of I's and R's policies, and "none" beyond them all
        self.bits = (max(len(self.i_order), len(self.r_order), len(self.r_out_order))
                     + 1).bit_length()
        self.none = (1 << self.bits) - 1
        self.i_boxes = [policy_box(q, self.family, False) for q in self.i_order]
        self.r_boxes = [policy_box(q, self.family, True) for q in self.r_order]
        self.i_parts = [policy_parts(q, self.family, False) for q in self.i_order]
        self.r_parts = [policy_parts(q, self.family, True) for q in self.r_order]
        self.i_index = BoxIndex(self.i_boxes, self.i_parts)
        self.r_index = BoxIndex(self.r_boxes, self.r_parts)
        self._i_match: dict[int, z3.BoolRef | bool] = {}
        self._r_match: dict[int, z3.BoolRef | bool] = {}
        self._earlier: dict[int, list[int]] = {}
        self._i_not: dict[int, z3.BoolRef | bool] = {}
        self._r_not: dict[int, z3.BoolRef | bool] = {}
        self.scope = self._scope()

    # compressed coordinates ----------------------------------------------------------------
    def _breakpoints(self) -> list[list[int]]:
        """Per dimension (local, remote, local port, remote port), the sorted starts of the
        elementary intervals: every predicate of the encoding is a union of them, so a
        variable ranges over their numbers (about 15 bits instead of 32 or 128 for
        addresses) and a witness takes the first value of its interval."""
        top = max_address(self.family)
        dims: list[set[int]] = [{0}, {0}, {0, 1}, {0, 1}]

        def add(dim: int, lo: int, hi: int, limit: int) -> None:
            dims[dim].add(lo)
            if hi + 1 <= limit:
                dims[dim].add(hi + 1)

        for policies, mirrored in ((self.i_order, False), (self.r_order, True),
                                   (self.r_out_order, True)):
            for q in policies:
                src, dst = (2, 3) if not mirrored else (3, 2)
                add(src, q.source_port.lo, q.source_port.hi, MAX_PORT)
                add(dst, q.destination_port.lo, q.destination_port.hi, MAX_PORT)
                if q.family is None:
                    continue
                for v in q.source.values:
                    add(1 if mirrored else 0, v.lo, v.hi, top)
                for v in q.destination.values:
                    add(0 if mirrored else 1, v.lo, v.hi, top)
        for host, dim in ((self.initiator, 0), (self.responder, 1)):
            for v in host.scope_values():
                if v.family == self.family:
                    add(dim, v.lo, v.hi, top)
        return [sorted(d) for d in dims]

    def concrete(self, model: z3.ModelRef) -> Packet:
        """The outbound packet a model assigns (each coordinate decompressed). Any value of
        an elementary interval satisfies the same predicates, so the most natural one is
        taken: an address inside a prefix rather than its network address, an ephemeral
        port (49152) where the interval holds it."""
        top = max_address(self.family)

        def value(v: z3.BitVecRef, pts: list[int] | None, kind: str = "") -> int:
            n = model.eval(v, model_completion=True).as_long()  # type: ignore[union-attr]
            if pts is None:
                return n
            n = min(n, len(pts) - 1)
            lo = pts[n]
            hi = pts[n + 1] - 1 if n + 1 < len(pts) else (top if kind == "address" else MAX_PORT)
            if kind == "address" and hi - lo >= 2:
                return lo + 1
            if kind == "port" and lo <= EPHEMERAL_PORT <= hi:
                return EPHEMERAL_PORT
            return lo

        p, (loc, rem, lp, rp) = self.p, self.points
        proto = value(p.protocol, None)
        lport, rport = value(p.lport, lp, "port"), value(p.rport, rp, "port")
        if proto not in PORT_PROTOCOLS:
            lport = rport = 0
        return Packet(self.family, value(p.local, loc, "address"),
                      value(p.remote, rem, "address"), proto, lport, rport, "out")

    # shared pieces -----------------------------------------------------------------------
    def _scope(self) -> z3.BoolRef:
        """Well-formed packets from I's scope; ``dst_scope`` (to R's scope) is added per
        region: a region of a tunnel policy toward R holds every inner destination."""
        p = self.p
        with_ports = z3.Or(*[p.protocol == x for x in sorted(PORT_PROTOCOLS)])
        parts = [z3.Or(with_ports, z3.And(to_z3(in_range(p.lport, 0, 0), self.ctx),
                                          to_z3(in_range(p.rport, 0, 0), self.ctx)))]
        for var, pts in zip(p.variables()[:4], self.points, strict=True):
            if len(pts) < (1 << var.size()):  # numbers beyond the last interval are unused
                parts.append(_ule(var, const(len(pts) - 1, var.size(), self.ctx)))
        self.dst_scope: z3.BoolRef | bool = True
        for host, var in ((self.initiator, self.p.local), (self.responder, self.p.remote)):
            scope = host.scope_values()
            if scope:
                mine = [v for v in scope if v.family == self.family]
                pred = _or(*[in_range(var, v.lo, v.hi) for v in mine])
                if host is self.responder:
                    self.dst_scope = pred
                else:
                    parts.append(to_z3(pred, self.ctx))
        return z3.And(*parts)

    def tunnel_to_r(self, n: int) -> bool:
        """Does I's ``n``-th policy tunnel its traffic to R (R's own address)?"""
        return tunnels_to(self.i_order[n], self.responder)

    def in_scope(self, n: int) -> z3.BoolRef | bool:
        """``p`` is in the scope of I's ``n``-th region: from I's scope, and to R's scope or,
        for a tunnel policy toward R, anywhere; never for a tunnel policy to another
        gateway (``peers.in_scope``)."""
        if tunnels_elsewhere(self.i_order[n], self.responder, self.others):
            return False
        return _and(self.scope, True if self.tunnel_to_r(n) else self.dst_scope)

    def i_elsewhere(self) -> z3.BoolRef | bool:
        """I's first match for ``p`` tunnels to another gateway than R (built once)."""
        if not hasattr(self, "_i_elsewhere"):
            self._i_elsewhere = _or(*[
                _and(self.i_match(j), *[self.i_not(m) for m in self.earlier(j)])
                for j in range(len(self.i_order))
                if tunnels_elsewhere(self.i_order[j], self.responder, self.others)])
        return self._i_elsewhere

    def r_elsewhere(self, look: z3.BitVecRef, cands: list[int]) -> z3.BoolRef | bool:
        """R's lookup ``look`` of the arriving packet is a tunnel policy from another gateway
        than I (that traffic reaches R through the other gateway, not from I)."""
        return _or(*[eq_const(look, k) for k in cands
                     if tunnels_elsewhere(self.r_order[k], self.initiator, self.others)])

    def i_match(self, n: int) -> z3.BoolRef | bool:
        if n not in self._i_match:
            self._i_match[n] = match(self.i_order[n], self.p)
        return self._i_match[n]

    def i_not(self, n: int) -> z3.BoolRef | bool:
        if n not in self._i_not:
            self._i_not[n] = _not(self.i_match(n))
        return self._i_not[n]

    def r_not(self, n: int) -> z3.BoolRef | bool:
        if n not in self._r_not:
            self._r_not[n] = _not(self.r_match(n))
        return self._r_not[n]

    def r_match(self, n: int) -> z3.BoolRef | bool:
        if n not in self._r_match:
            self._r_match[n] = match(self.r_order[n], self.rp)
        return self._r_match[n]

    def region(self, n: int) -> z3.BoolRef:
        """I's first match for ``p`` is its ``n``-th policy (and ``p`` is in scope)."""
        earlier = self.earlier(n)
        return to_z3(_and(self.in_scope(n), self.i_match(n), *[self.i_not(k) for k in earlier]),
                     self.ctx)

    def earlier(self, n: int) -> list[int]:
        """I's policies before its ``n``-th one that can match the same packets."""
        if n not in self._earlier:
            self._earlier[n] = [k for k in self.i_index.query_any(self.i_parts[n]) if k < n]
        return self._earlier[n]

    def _chain(self, candidates: list[int], conds: list[z3.BoolRef | bool]) -> z3.BitVecRef:
        """The position of the first candidate whose condition holds (``none`` if none)."""
        out: z3.BitVecRef = const(self.none, self.bits, self.ctx)
        for n, c in reversed(list(zip(candidates, conds, strict=True))):
            if c is False:
                continue
            val = const(n, self.bits, self.ctx)
            out = val if c is True else ite_bv(c, val, out)  # type: ignore[arg-type]
        return out

    def protects(self, policies: list[Policy], candidates: list[int],
                 conds: list[z3.BoolRef | bool]) -> z3.BoolRef | bool:
        """The first candidate whose condition holds is an IPsec policy (a Boolean chain:
        cheaper for the solver than comparing the position of the first match)."""
        out: z3.BoolRef | bool = False
        for n, c in reversed(list(zip(candidates, conds, strict=True))):
            out = _ite(c, policies[n].action.is_ipsec, out)
        return out

    def lookup(self, box: Box | Sequence[Box] | None) -> tuple[z3.BitVecRef, list[int]]:
        """R's packet lookup for ``p`` (restricted to R policies meeting ``box``, or one of
        a list of boxes)."""
        if box is None:
            cands = list(range(len(self.r_order)))
        else:
            cands = self.r_index.query_any([box] if isinstance(box, Box) else box)
        return self._chain(cands, [self.r_match(k) for k in cands]), cands

    # the responder's choice ---------------------------------------------------------------
    def selector_box(self, n: int) -> Box:
        """A hull of the selectors I derives under its ``n``-th policy (wildcards: all)."""
        i, b = self.i_order[n], self.i_boxes[n]
        full = (0, max_address(self.family))
        fam_any = i.family is None
        local = full if fam_any or i.source.is_any else b.local
        remote = full if fam_any or i.destination.is_any else b.remote
        lport = FULL_PORTS if i.source_port.is_any or i.source_port.lo == 0 else b.lport
        rport = FULL_PORTS if i.destination_port.is_any or i.destination_port.lo == 0 else b.rport
        return Box(b.family, b.protocol, local, remote, lport, rport)

    def choice(self, n: int) -> tuple[z3.BitVecRef, dict[int, z3.BoolRef | bool], list[int]]:
        """R's policy for the selectors derived under I's ``n``-th policy: the chosen
        position, the narrowing coverage per candidate, and the candidates."""
        i, p, opts = self.i_order[n], self.p, self.options
        d = derivation(i, p, opts.initiator_ids)
        box = self.selector_box(n)
        if opts.responder_rule == "first-match":
            box = Box(box.family, None if opts.wildcard == "lenient" else box.protocol,
                      box.local, box.remote, box.lport, box.rport)
        else:
            box = Box(box.family, None, box.local, box.remote, box.lport, box.rport)
        cands = self.r_index.query(box)
        si = _Side(d.ci_wild, p.local, d.ci_port, d.protocol, p.lport, d.ci_spans)
        sr = _Side(d.cr_wild, p.remote, d.cr_port, d.protocol, p.rport, d.cr_spans)
        cover: dict[int, z3.BoolRef | bool] = {}
        if opts.responder_rule == "best-score":
            chosen = self._best(cands, si, sr)
        else:
            conds = [contains(self.r_order[k], d, p, opts) for k in cands]
            keep = [(k, c) for k, c in zip(cands, conds, strict=True) if c is not False]
            cands = [k for k, _ in keep]
            chosen = self._chain(cands, [c for _, c in keep])
        for k in cands:
            q = self.r_order[k]
            cover[k] = True if not opts.narrowing else _and(
                _covers(q, q.destination, q.destination_port, si, self.family, p.protocol),
                _covers(q, q.source, q.source_port, sr, self.family, p.protocol))
        return chosen, cover, cands

    def _best(self, cands: list[int], si: _Side, sr: _Side) -> z3.BitVecRef:
        best: z3.BitVecRef = const(0, 16, self.ctx)
        idx: z3.BitVecRef = const(self.none, self.bits, self.ctx)
        zero = best
        for k in cands:
            q = self.r_order[k]
            mine = _score(q, q.source, q.source_port, sr, self.family)
            theirs = _score(q, q.destination, q.destination_port, si, self.family)
            better = z3.And(z3.UGT(mine, zero), z3.UGT(theirs, zero),
                            z3.UGT(mine + theirs, best))
            idx = z3.If(better, const(k, self.bits, self.ctx), idx)
            best = z3.If(better, mine + theirs, best)
        return idx

    def reply_ok(self, chosen: z3.BitVecRef, cands: list[int], box: Box
                 ) -> z3.BoolRef | bool:
        """R's lookup of its reply (outbound) agrees with the chosen policy (the twin of
        ``lookup.reply_agrees``); always true when every policy of R is mirrored. Only R's
        outbound policies whose box meets ``box`` (the region's) can match."""
        if not self.responder.directional:
            return True
        outs = self.r_out_order
        if not hasattr(self, "r_out_index"):
            self.r_out_index = BoxIndex([policy_box(q, self.family, True) for q in outs])
            self._r_out_match: dict[int, z3.BoolRef | bool] = {}
        near = self.r_out_index.query(box)
        for m in near:
            if m not in self._r_out_match:
                self._r_out_match[m] = match(outs[m], self.rp)
        reply = self._chain(near, [self._r_out_match[m] for m in near])
        parts: list[z3.BoolRef | bool] = []
        for k in cands:
            q = self.r_order[k]
            fine = [m for m in near if reply_agrees(q, outs[m])]
            parts.append(_and(eq_const(chosen, k), _or(*[eq_const(reply, m) for m in fine])))
        return _or(*parts)

    def agreeable(self, n: int, k: int) -> bool:
        """Does R's ``k``-th policy accept a proposal of I's ``n``-th (IPsec, a common
        transform)? A constant: proposals are the policies' transform lists."""
        i, q = self.i_order[n], self.r_order[k]
        if not (i.action.is_ipsec and q.action.is_ipsec):
            return False
        return choose_proposal(i.action.transforms, q.action.transforms,
                               self.options.proposal_order) is not None


@dataclass
class RegionTerms:
    """Every term the peers properties need for I's ``n``-th policy."""

    n: int
    region: z3.BoolRef
    chosen: z3.BitVecRef
    lookup: z3.BitVecRef
    success: z3.BoolRef | bool
    r_ipsec: z3.BoolRef | bool
    candidates: list[int]
    reply_ok: z3.BoolRef | bool = True  # R's reply lookup agrees with the chosen policy
    lookup_candidates: list[int] = field(default_factory=list)  # R policies ``lookup`` ranges
    weight: int = 0  # how many policies the terms mention (heavy regions are solved alone)


def responder_region(enc: PairEncoding, k: int) -> tuple[z3.BoolRef, z3.BoolRef | bool, int]:
    """R's lookup for ``p`` (as it arrives) is its ``k``-th policy; and whether I's own lookup
    protects ``p``. The symmetry check asks this from R's side for R's IPsec policies, so
    that no query has to describe the packets that no IPsec policy of I matches."""
    parts = enc.r_parts[k]
    earlier = [m for m in enc.r_index.query_any(parts) if m < k]
    region = to_z3(_and(enc.scope, enc.dst_scope, _not(enc.i_elsewhere()), enc.r_match(k),
                        *[enc.r_not(m) for m in earlier]),
                   enc.ctx)
    cands = enc.i_index.query_any(parts)
    i_ipsec = enc.protects(enc.i_order, cands, [enc.i_match(j) for j in cands])
    return region, i_ipsec, len(earlier) + len(cands)


def region_terms(enc: PairEncoding, n: int) -> RegionTerms:
    """The terms for I's ``n``-th policy."""
    i = enc.i_order[n]
    look, lcands = enc.lookup(enc.i_parts[n])
    r_ipsec = enc.protects(enc.r_order, lcands, [enc.r_match(k) for k in lcands])
    if not i.action.is_ipsec:
        return RegionTerms(n, enc.region(n), const(enc.none, enc.bits, enc.ctx), look, False,
                           r_ipsec, [], lookup_candidates=lcands)
    chosen, cover, cands = enc.choice(n)
    # a packet only tunnelled to R (outside R's scope) needs no cover: narrowing may leave
    # out what R does not protect
    outside = False if not enc.tunnel_to_r(n) else _not(enc.dst_scope)
    success = _or(*[_and(eq_const(chosen, k), _or(cover[k], outside)) for k in cands
                    if enc.agreeable(n, k)])
    return RegionTerms(n, enc.region(n), chosen, look, success, r_ipsec, cands,
                       enc.reply_ok(chosen, cands, enc.i_boxes[n]), lcands,
                       len(enc.earlier(n)) + len(lcands) + len(cands))
