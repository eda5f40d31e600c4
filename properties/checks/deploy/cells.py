"""The exact finite partition of the packets one host sends toward another (two-host checks).

Every policy of either host (any number of versions of them) and every extra bound (a
requirement's traffic) is a union of boxes over (local address, remote address, local port,
remote port, protocol); cutting each dimension at every bound gives cells in which every
packet has the same first match on both hosts and the same negotiation outcome (the selector
derivation and the responder's search compare packet values only with these bounds: the same
compression as ``z3_negotiation.PairEncoding``). One representative packet per cell, with the
number of packets the cell holds, therefore decides a question about all packets exactly. The
number of cells grows as the product of the cuts: past ``limit`` the caller reports ``unknown``.

The representative is natural: a host address, a named protocol (TCP first), a port a person
would write (the single value, or 40000 for an ephemeral one), not a network address.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from qmcheck.model.values.addresses import Family, max_address
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Host, Policy
from qmcheck.model.values.protocols import MAX_PORT, PORT_PROTOCOLS

EPHEMERAL = 40000
NICE_PROTOCOLS = (6, 17, 1, 132, 58, 50, 51, 47)
DEFAULT_LIMIT = 400_000

Interval = tuple[int, int]
# (local lo, hi, remote lo, hi, local port lo, hi, remote port lo, hi, protocol lo, hi)
Bounds = tuple[int, int, int, int, int, int, int, int, int, int]


class TooManyCells(Exception):
    """The partition is larger than the limit: the question is left unknown."""


@dataclass(frozen=True)
class Cell:
    """A representative outbound packet and how many packets behave the same."""

    packet: Packet
    size: int


def _cut(points: set[int], top: int) -> list[Interval]:
    starts = sorted(p for p in points if 0 <= p <= top)
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    return [(s, (starts[k + 1] - 1) if k + 1 < len(starts) else top)
            for k, s in enumerate(starts)]


def _nice_address(lo: int, hi: int, own: list[int]) -> int:
    for a in own:
        if lo <= a <= hi:
            return a
    if hi - lo >= 2:
        return lo + 1  # not the network address of a prefix
    return lo


def _nice_port(lo: int, hi: int) -> int:
    if lo == hi:
        return lo
    if lo <= EPHEMERAL <= hi:
        return EPHEMERAL
    return lo if lo > 0 else 1


def add_policy_bounds(dims: list[set[int]], policy: Policy, family: Family,
                      mirrored: bool) -> None:
    """Add a policy's bounds to (local, remote, lport, rport, protocol) cut sets; ``mirrored``
    for the receiving host (its source side is the packet's destination)."""
    if policy.family not in (None, family):
        return
    src, dst = (1, 0) if mirrored else (0, 1)
    sp, dp = (3, 2) if mirrored else (2, 3)
    for dim, ports in ((sp, policy.source_port), (dp, policy.destination_port)):
        dims[dim] |= {ports.lo, ports.hi + 1}
    if policy.protocol is not None:
        dims[4] |= {policy.protocol, policy.protocol + 1}
    if policy.family is None:
        return
    for dim, field in ((src, policy.source), (dst, policy.destination)):
        for v in field.values:
            dims[dim] |= {v.lo, v.hi + 1}


def _protocols(cuts: set[int]) -> list[tuple[int, int, int]]:
    """(representative, lo, hi) per protocol interval, split into protocols with ports and
    without (only those may have non-zero ports). Sizes count protocols of the interval."""
    out = []
    for lo, hi in _cut(cuts, 255):
        with_ports = [p for p in range(lo, hi + 1) if p in PORT_PROTOCOLS]
        without = [p for p in range(lo, hi + 1) if p not in PORT_PROTOCOLS]
        for group in (with_ports, without):
            if group:
                rep = next((p for p in NICE_PROTOCOLS if p in group), group[0])
                out.append((rep, len(group), 1 if rep in PORT_PROTOCOLS else 0))
    return out


def cells(sender: Iterable[Host], receiver: Iterable[Host], family: Family,
          restrict: Bounds | None = None, extra: Iterable[Bounds] = (),
          limit: int = DEFAULT_LIMIT) -> Iterator[Cell]:
    """The cells of the packets the sender hosts send toward the receiver hosts (all their
    versions), in ``family``, inside ``restrict`` (a box in sender coordinates) and inside
    the hosts' own addresses when they name some. ``extra`` boxes add cuts."""
    senders, receivers = list(sender), list(receiver)
    top = max_address(family)
    dims: list[set[int]] = [set(), set(), set(), set(), set()]
    for h in senders:
        for p in h.policies:
            add_policy_bounds(dims, p, family, False)
    for h in receivers:
        for p in h.policies:
            add_policy_bounds(dims, p, family, True)
    for b in [*extra, *([restrict] if restrict else [])]:
        for d in range(5):
            dims[d] |= {b[2 * d], b[2 * d + 1] + 1}
    own: list[list[int]] = [sorted({a for h in hs for f, a in h.addresses if f == family})
                            for hs in (senders, receivers)]
    axes: list[list[tuple[int, int, int]]] = []  # (representative, count, _) per dimension
    for d, tops in enumerate((top, top, MAX_PORT, MAX_PORT)):
        lo_r, hi_r = (restrict[2 * d], restrict[2 * d + 1]) if restrict else (0, tops)
        axis = []
        if d < 2 and own[d]:
            # only the hosts' own addresses: one cell per address
            hosts_named = all(h.addresses for h in (senders if d == 0 else receivers))
            if hosts_named:
                axis = [(a, 1, 0) for a in own[d] if lo_r <= a <= hi_r]
                axes.append(axis)
                continue
        for lo, hi in _cut(dims[d], tops):
            lo, hi = max(lo, lo_r), min(hi, hi_r)
            if lo > hi:
                continue
            rep = _nice_address(lo, hi, own[d]) if d < 2 else _nice_port(lo, hi)
            axis.append((rep, hi - lo + 1, 1 if lo == 0 else 0))
        axes.append(axis)
    protos = [(rep, n, wp) for rep, n, wp in _protocols(dims[4])
              if not restrict or restrict[8] <= rep <= restrict[9]]
    if restrict and (restrict[8], restrict[9]) != (0, 255):
        protos = [(rep, 1, wp) for rep, _, wp in protos]  # exact protocol requirement
    total = len(axes[0]) * len(axes[1]) * len(protos) * (len(axes[2]) * len(axes[3]) + 1)
    if total > limit:
        raise TooManyCells(f"{total} cells (limit {limit})")
    for (la, ln, _), (ra, rn, _) in itertools.product(axes[0], axes[1]):
        for proto, pn, with_ports in protos:
            if with_ports:
                for (lp, lpn, _), (rp, rpn, _) in itertools.product(axes[2], axes[3]):
                    yield Cell(Packet(family, la, ra, proto, lp, rp, "out"),
                               ln * rn * pn * lpn * rpn)
            else:
                zero_l = next((c for c in axes[2] if c[2]), None)
                zero_r = next((c for c in axes[3] if c[2]), None)
                if zero_l is not None and zero_r is not None:
                    yield Cell(Packet(family, la, ra, proto, 0, 0, "out"), ln * rn * pn)


def plainness(packet: Packet) -> int:
    """0 for a packet that looks like real traffic (one ephemeral port, or no ports), else 1:
    among equivalent witnesses, the one to show."""
    if packet.protocol not in PORT_PROTOCOLS or EPHEMERAL in (packet.sport, packet.dport):
        return 0
    return 1


def families(hosts: Iterable[Host]) -> list[Family]:
    """The address families the hosts' policies and addresses concern (IPv4 at least; the
    implicit default policy alone never protects, so it adds no family)."""
    fams: set[int] = {4}
    for h in hosts:
        fams |= {p.family for p in h.policies if p.family is not None}
        fams |= {f for f, _ in h.addresses}
        if any(p.family is None and not p.implicit for p in h.policies):
            fams |= {4, 6}  # an explicit "any to any" policy matches both families
    return sorted(fams)  # type: ignore[return-value]
