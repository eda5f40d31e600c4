"""Sound geometric index over host policies: which policies can overlap, which can contain.

Each policy is, per address family, a union of boxes (one per pair of source and destination
values) over (local address, remote address, local port, remote port, protocol). Two policies
can only share a packet if two of their boxes intersect, and a policy can only be contained in
another if each of its boxes lies inside the other's bounding box. The index never decides a
verdict: it only prunes candidates that cannot matter, and z3 judges what remains.
"""

from __future__ import annotations

import bisect
import heapq
from dataclasses import dataclass, field

from qmcheck.model.values.addresses import Family, max_address
from qmcheck.model.values.policy import Policy

# (llo, lhi, rlo, rhi, lplo, lphi, rplo, rphi, plo, phi)
Box = tuple[int, int, int, int, int, int, int, int, int, int]


def policy_boxes(policy: Policy, family: Family) -> list[Box]:
    """The boxes whose union is the policy's match set in ``family`` (empty if none)."""
    if policy.family is not None and policy.family != family:
        return []
    proto = (0, 255) if policy.protocol is None else (policy.protocol, policy.protocol)
    ports = (policy.source_port.lo, policy.source_port.hi,
             policy.destination_port.lo, policy.destination_port.hi)
    top = max_address(family)
    if policy.family is None:
        return [(0, top, 0, top, *ports, *proto)]
    return [(s.lo, s.hi, d.lo, d.hi, *ports, *proto)
            for s in policy.source.values for d in policy.destination.values]


def boxes_meet(a: Box, b: Box) -> bool:
    """Do two boxes share a point (every dimension's intervals intersect)?"""
    return (a[8] <= b[9] and b[8] <= a[9] and a[6] <= b[7] and b[6] <= a[7]
            and a[4] <= b[5] and b[4] <= a[5] and a[0] <= b[1] and b[0] <= a[1]
            and a[2] <= b[3] and b[2] <= a[3])


def bounding(boxes: list[Box]) -> Box:
    """The smallest box containing all ``boxes`` (non-empty list)."""
    cols = list(zip(*boxes, strict=True))
    return tuple(min(c) if k % 2 == 0 else max(c) for k, c in enumerate(cols))  # type: ignore[return-value]


def box_inside(inner: Box, outer: Box) -> bool:
    return all(outer[k] <= inner[k] and inner[k + 1] <= outer[k + 1] for k in range(0, 10, 2))


@dataclass
class FamilyIndex:
    """The policies of one family scope (that family's and the family-neutral ones), in search
    order, with their boxes and their overlap neighbours (positions in ``policies``)."""

    family: Family
    policies: list[Policy]
    boxes: list[list[Box]]
    neighbours: list[list[int]]
    _sets: dict[int, frozenset[int]] = field(default_factory=dict)

    def earlier(self, pos: int) -> list[int]:
        """Neighbours searched before ``pos``, in search order (do not modify)."""
        nb = self.neighbours[pos]
        return nb[:bisect.bisect_left(nb, pos)]

    def later(self, pos: int) -> list[int]:
        """Neighbours searched after ``pos``, in search order (do not modify)."""
        nb = self.neighbours[pos]
        return nb[bisect.bisect_right(nb, pos):]

    def neighbour_set(self, pos: int) -> frozenset[int]:
        cached = self._sets.get(pos)
        if cached is None:
            cached = self._sets[pos] = frozenset(self.neighbours[pos])
        return cached

    def may_contain(self, outer: int, inner: int) -> bool:
        """False only if policy ``inner`` certainly is not a subset of ``outer``."""
        if not self.boxes[inner]:
            return True
        if not self.boxes[outer]:
            return False
        hull = bounding(self.boxes[outer])
        return all(box_inside(b, hull) for b in self.boxes[inner])


def build_index(policies: list[Policy], family: Family) -> FamilyIndex:
    """Index the given policies (in search order) for one family: a sweep over the remote
    address axis finds every pair of intersecting boxes."""
    scope = [p for p in policies if p.family in (None, family)]
    boxes = [policy_boxes(p, family) for p in scope]
    flat: list[tuple[int, int, Box]] = []  # (remote lo, owner, box)
    for owner, bs in enumerate(boxes):
        for b in bs:
            flat.append((b[2], owner, b))
    flat.sort(key=lambda t: (t[0], t[1]))
    pairs: set[tuple[int, int]] = set()
    active: list[tuple[int, int, int, Box]] = []  # heap of (remote hi, seq, owner, box)
    for seq, (rlo, owner, box) in enumerate(flat):
        while active and active[0][0] < rlo:
            heapq.heappop(active)
        a0, a1, a2, a3, a4, a5, a6, a7, a8, a9 = box
        for _, _, other, b in active:  # boxes_meet, inlined: the hot loop
            if (other != owner and a8 <= b[9] and b[8] <= a9 and a6 <= b[7] and b[6] <= a7
                    and a4 <= b[5] and b[4] <= a5 and a0 <= b[1] and b[0] <= a1
                    and a2 <= b[3] and b[2] <= a3):
                pairs.add((other, owner) if other < owner else (owner, other))
        heapq.heappush(active, (box[3], seq, owner, box))
    neighbours: list[list[int]] = [[] for _ in scope]
    for a, b in sorted(pairs):
        neighbours[a].append(b)
        neighbours[b].append(a)
    for n in neighbours:
        n.sort()
    return FamilyIndex(family, scope, boxes, neighbours)
