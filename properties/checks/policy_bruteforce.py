"""Brute-force twin of ``policy_checks``: the ``policy.*`` properties by enumeration.

The packet space of a host is cut, per dimension, at every bound of every policy; each
cell of that grid is represented by one packet, and every policy matches all packets of a cell
or none (a protocol cell is represented by a protocol with ports whenever it holds one, since
only those allow non-zero ports). Checking every representative with the concrete semantics
(``Policy.matches``, ``lookup_order``) therefore decides each property exactly. The responder's
selector search (``selectors_match``, strict wildcards) is enumerated the same way over the
cells of selector space, with the wildcard as one more value per field. The number of
representatives grows as the product of the cuts, so this is for small universes: tests.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

from qmcheck.model.semantics.lookup import first_match, lookup_order
from qmcheck.model.semantics.negotiation import selectors_match
from qmcheck.model.values.addresses import Family, max_address
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Host, Policy
from qmcheck.model.values.protocols import PORT_PROTOCOLS
from qmcheck.model.values.selectors import Selector, wildcard_selector


def _reps(lo: int, hi: int, bounds: set[int], nice: tuple[int, ...] = ()) -> list[int]:
    starts = sorted({lo} | {b for b in bounds if lo < b <= hi})
    out = []
    for k, start in enumerate(starts):
        end = starts[k + 1] - 1 if k + 1 < len(starts) else hi
        out.append(next((v for v in nice if start <= v <= end), start))
    return out


def _boundaries(host: Host, family: Family
                ) -> tuple[set[int], set[int], set[int], set[int], set[int]]:
    """Where the policies of ``family`` start and stop: local and remote addresses, local and
    remote ports, protocols (each value and the one after it), the cuts of the cells."""
    local: set[int] = set()
    remote: set[int] = set()
    lports: set[int] = set()
    rports: set[int] = set()
    protos: set[int] = set()
    for p in host.policies:
        if p.family not in (None, family):
            continue
        if p.family is not None:
            for v in p.source.values:
                local |= {v.lo, v.hi + 1}
            for v in p.destination.values:
                remote |= {v.lo, v.hi + 1}
        lports |= {p.source_port.lo, p.source_port.hi + 1}
        rports |= {p.destination_port.lo, p.destination_port.hi + 1}
        if p.protocol is not None:
            protos |= {p.protocol, p.protocol + 1}
    return local, remote, lports, rports, protos


def universe(host: Host, family: Family) -> Iterator[Packet]:
    """One outbound packet per cell of the host's policies in ``family``."""
    local, remote, lports, rports, protos = _boundaries(host, family)
    top = max_address(family)
    proto_reps = _reps(0, 255, protos, (*sorted(PORT_PROTOCOLS), 1))
    port_pairs = list(itertools.product(_reps(0, 65535, lports), _reps(0, 65535, rports)))
    for loc, rem in itertools.product(_reps(0, top, local), _reps(0, top, remote)):
        for proto in proto_reps:
            pairs = port_pairs if proto in PORT_PROTOCOLS else [(0, 0)]
            for lp, rp in pairs:
                yield Packet(family, loc, rem, proto, lp, rp, "out")


def selector_universe(host: Host, family: Family) -> Iterator[tuple[Selector, Selector]]:
    """One (IDci, IDcr) pair per cell of selector space: each side a single address or the
    wildcard, protocol and ports exact or the wildcard 0 (IDcr is the host's local side)."""
    local, remote, lports, rports, protos = _boundaries(host, family)
    top = max_address(family)
    locals_: list[int | None] = [None, *_reps(0, top, local)]
    remotes: list[int | None] = [None, *_reps(0, top, remote)]
    proto_opts = [0, *_reps(1, 255, protos, (*sorted(PORT_PROTOCOLS), 1))]
    lport_opts = [0, *_reps(1, 65535, lports)]
    rport_opts = [0, *_reps(1, 65535, rports)]

    def side(address: int | None, proto: int, port: int) -> Selector:
        if address is None:
            return wildcard_selector(family, proto, port)
        return Selector(family, "addr", address, address, proto, port)

    for loc, rem, proto in itertools.product(locals_, remotes, proto_opts):
        pairs = (itertools.product(lport_opts, rport_opts) if proto in PORT_PROTOCOLS
                 else [(0, 0)])
        for lp, rp in pairs:
            yield side(rem, proto, rp), side(loc, proto, lp)


@dataclass
class BruteForce:
    """The findings by enumeration: subjects (policy names) per property."""

    subjects: dict[str, set[tuple[str, ...]]] = field(default_factory=dict)
    uncovered: set[int] = field(default_factory=set)  # families with a gap
    min_cover: dict[str, int] = field(default_factory=dict)  # never-first policy -> size
    packets: int = 0


def brute_force(host: Host) -> BruteForce:
    """Every ``policy.*`` finding of the host, by enumerating the cell representatives."""
    ordered = list(host.ordered())
    explicit = [p for p in ordered if not p.implicit]
    packets = [x for fam in (4, 6) for x in universe(host, fam)]  # type: ignore[arg-type]
    out = BruteForce(packets=len(packets))
    first = [first_match(ordered, x) for x in packets]

    def action(policies: list[Policy], x: Packet) -> object:
        hit = first_match(policies, x)
        return None if hit is None else hit.action

    effective = {p.name for p in first if p is not None}
    shadowed: set[str] = set()
    redundant: set[str] = set()
    for p in explicit:
        mine = [k for k, x in enumerate(packets) if p.matches(x)]
        if p.name not in effective:
            if any(first[k] is not None and first[k].action != p.action  # type: ignore[union-attr]
                   for k in mine):
                shadowed.add(p.name)
            else:
                redundant.add(p.name)
            earlier = [q for q in explicit if q.order_key < p.order_key]
            out.min_cover[p.name] = _min_cover(p, earlier, [packets[k] for k in mine])
            continue
        without = [q for q in ordered if q is not p]
        if all(action(ordered, packets[k]) == action(without, packets[k]) for k in mine):
            redundant.add(p.name)
    out.subjects["policy.shadowed"] = {(n,) for n in shadowed}
    out.subjects["policy.redundant"] = {(n,) for n in redundant}
    correlated: set[tuple[str, ...]] = set()
    general: set[tuple[str, ...]] = set()
    for i, j in itertools.combinations(explicit, 2):
        if i.name not in effective or j.name not in effective or i.action == j.action:
            continue
        in_i = [k for k, x in enumerate(packets) if i.matches(x)]
        if all(j.matches(packets[k]) for k in in_i):
            general.add((i.name, j.name))
        elif any(first[k] is i and j.matches(packets[k]) for k in in_i):
            correlated.add((i.name, j.name))
    out.subjects["policy.correlated"] = correlated
    out.subjects["policy.generalization"] = general
    ties: set[tuple[str, ...]] = set()
    for p, q in itertools.combinations(explicit, 2):
        if p.priority != q.priority:
            continue
        pair = (p.name, q.name) if p.order_key < q.order_key else (q.name, p.name)
        a, b = {p.name: -2, q.name: -1}, {q.name: -2, p.name: -1}
        if any(lookup_order(ordered, x, a) is not lookup_order(ordered, x, b) for x in packets):
            ties.add(pair)
            continue
        lower = [r for r in ordered if r.priority < p.priority]
        families = (4, 6) if p.family is None else (p.family,)
        for fam in families:
            if any(selectors_match(p, ci, cr, "strict") and selectors_match(q, ci, cr, "strict")
                   and not any(selectors_match(r, ci, cr, "strict") for r in lower)
                   for ci, cr in selector_universe(host, fam)):  # type: ignore[arg-type]
                ties.add(pair)
                break
    out.subjects["policy.determinism"] = ties
    out.uncovered = {x.family for x, f in zip(packets, first, strict=True) if f is None}
    return out


def _min_cover(p: Policy, earlier: list[Policy], mine: list[Packet]) -> int:
    for size in range(1, len(earlier) + 1):
        for combo in itertools.combinations(earlier, size):
            if all(any(q.matches(x) for q in combo) for x in mine):
                return size
    return -1
