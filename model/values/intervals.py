"""Finite unions of closed integer intervals: the exact set algebra under addresses and ports."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IntervalSet:
    """A normalized union of disjoint, non-adjacent, sorted closed intervals ``[lo, hi]``."""

    spans: tuple[tuple[int, int], ...] = ()

    @staticmethod
    def of(spans: Iterable[tuple[int, int]]) -> IntervalSet:
        """Normalize any collection of closed intervals (overlapping or adjacent ones merge)."""
        ordered = sorted((lo, hi) for lo, hi in spans if lo <= hi)
        merged: list[tuple[int, int]] = []
        for lo, hi in ordered:
            if merged and lo <= merged[-1][1] + 1:
                if hi > merged[-1][1]:
                    merged[-1] = (merged[-1][0], hi)
            else:
                merged.append((lo, hi))
        return IntervalSet(tuple(merged))

    @staticmethod
    def span(lo: int, hi: int) -> IntervalSet:
        return IntervalSet(((lo, hi),)) if lo <= hi else IntervalSet()

    def is_empty(self) -> bool:
        return not self.spans

    def contains(self, value: int) -> bool:
        """Is ``value`` in the set (binary search over the spans)."""
        spans = self.spans
        lo_i, hi_i = 0, len(spans)
        while lo_i < hi_i:
            mid = (lo_i + hi_i) // 2
            lo, hi = spans[mid]
            if value < lo:
                hi_i = mid
            elif value > hi:
                lo_i = mid + 1
            else:
                return True
        return False

    def union(self, other: IntervalSet) -> IntervalSet:
        return IntervalSet.of(self.spans + other.spans)

    def intersection(self, other: IntervalSet) -> IntervalSet:
        out: list[tuple[int, int]] = []
        i = j = 0
        a, b = self.spans, other.spans
        while i < len(a) and j < len(b):
            lo = max(a[i][0], b[j][0])
            hi = min(a[i][1], b[j][1])
            if lo <= hi:
                out.append((lo, hi))
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return IntervalSet(tuple(out))

    def difference(self, other: IntervalSet) -> IntervalSet:
        out: list[tuple[int, int]] = []
        for lo, hi in self.spans:
            cur = lo
            for olo, ohi in other.spans:
                if ohi < cur or olo > hi:
                    continue
                if olo > cur:
                    out.append((cur, olo - 1))
                cur = max(cur, ohi + 1)
                if cur > hi:
                    break
            if cur <= hi:
                out.append((cur, hi))
        return IntervalSet(tuple(out))

    def intersects(self, other: IntervalSet) -> bool:
        return not self.intersection(other).is_empty()

    def issubset(self, other: IntervalSet) -> bool:
        return self.difference(other).is_empty()

    def size(self) -> int:
        return sum(hi - lo + 1 for lo, hi in self.spans)

    def first(self) -> int:
        """The smallest member; raises ValueError on the empty set."""
        if not self.spans:
            raise ValueError("empty interval set")
        return self.spans[0][0]
