"""Which policies can match a packet: a stabbing index over the policies' local addresses.

``PolicyStab`` answers "does some policy of this set match the packet?" without scanning the
set: a centred interval tree over the policies' source values (the field a packet's local
address is compared with, mirrored by direction as ``Policy.matches``) gives the few policies
whose source holds the packet's local address, and ``Policy.matches`` itself decides each of
them, so the answer is the linear scan's (tests/test_witness.py compares the two).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Policy

Span = tuple[int, int, int]  # (lo, hi, owner)


@dataclass
class _Node:
    center: int
    by_lo: list[Span]  # spans holding ``center``, by low end ascending
    by_hi: list[Span]  # the same spans, by high end descending
    left: _Node | None
    right: _Node | None


def _build(spans: list[Span]) -> _Node | None:
    """A centred interval tree of the spans (each a closed interval)."""
    if not spans:
        return None
    ends = sorted(e for lo, hi, _ in spans for e in (lo, hi))
    center = ends[len(ends) // 2]
    here = [s for s in spans if s[0] <= center <= s[1]]
    return _Node(center, sorted(here), sorted(here, key=lambda s: (-s[1], s[0], s[2])),
                 _build([s for s in spans if s[1] < center]),
                 _build([s for s in spans if s[0] > center]))


def stab(node: _Node | None, x: int) -> Iterator[int]:
    """The owners of every span holding ``x`` (an owner once per span that holds it)."""
    while node is not None:
        if x < node.center:
            for lo, _hi, owner in node.by_lo:
                if lo > x:
                    break
                yield owner
            node = node.left
        elif x > node.center:
            for _lo, hi, owner in node.by_hi:
                if hi < x:
                    break
                yield owner
            node = node.right
        else:
            for _lo, _hi, owner in node.by_lo:
                yield owner
            return


class PolicyStab:
    """The policies of one set, indexed by family and source value (see the module doc)."""

    def __init__(self, policies: Sequence[Policy]) -> None:
        self.policies = list(policies)
        self.everywhere = [p for p in self.policies if p.family is None]
        spans: dict[int, list[Span]] = {}
        for k, p in enumerate(self.policies):
            if p.family is not None:
                for v in p.source.values:
                    spans.setdefault(v.family, []).append((v.lo, v.hi, k))
        self.trees = {family: _build(s) for family, s in spans.items()}

    def candidates(self, packet: Packet) -> Iterator[Policy]:
        """Every policy that may match ``packet`` (a superset of those that do)."""
        yield from self.everywhere
        local = packet.local_remote()[0]
        for k in stab(self.trees.get(packet.family), local):
            yield self.policies[k]

    def any_matches(self, packet: Packet) -> bool:
        """Does some policy of the set match ``packet``?"""
        return any(p.matches(packet) for p in self.candidates(packet))
