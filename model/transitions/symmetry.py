"""Orbit representatives of packed states under the declared symmetries.

Without renamed variables the representative sorts the member blocks (as integers); with
renamed variables it is the least state over all permutations of the members (members are few).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import permutations

from qmcheck.model.transitions.packing import Packing
from qmcheck.model.transitions.system import TransitionSystem

MAX_RENAMED_MEMBERS = 7  # 7! permutations per state at most


def canonicalizer(system: TransitionSystem, packing: Packing) -> Callable[[int], int]:
    """The function that maps a packed state to the representative of its orbit."""
    steps: list[Callable[[int], int]] = []
    for sym, (off, width, n) in zip(system.symmetries, packing.blocks, strict=True):
        if n < 2 or width == 0:
            continue
        if sym.renamed:
            if n > MAX_RENAMED_MEMBERS:
                raise ValueError(f"symmetry {sym.name}: at most {MAX_RENAMED_MEMBERS} members "
                                 "with renamed variables")
            steps.append(_by_permutations(packing, off, width, n, sym.renamed, sym.base))
        else:
            steps.append(_by_sorting(off, width, n))
    if not steps:
        return lambda s: s
    if len(steps) == 1:
        return steps[0]

    def canon(s: int) -> int:
        for step in steps:
            s = step(s)
        return s

    return canon


def _by_sorting(off: int, width: int, n: int) -> Callable[[int], int]:
    bm = (1 << width) - 1
    span = ~(((1 << (width * n)) - 1) << off)
    shifts = [off + i * width for i in range(n)]
    if n == 2:
        s0, s1 = shifts

        def canon2(s: int) -> int:
            a = (s >> s0) & bm
            b = (s >> s1) & bm
            if a <= b:
                return s
            return (s & span) | (b << s0) | (a << s1)

        return canon2

    def canon(s: int) -> int:
        blocks = sorted([(s >> sh) & bm for sh in shifts])
        out = s & span
        for sh, b in zip(shifts, blocks, strict=True):
            out |= b << sh
        return out

    return canon


def permute(packing: Packing, s: int, off: int, width: int, perm: tuple[int, ...],
            renamed: tuple[str, ...], base: int) -> int:
    """Member ``perm[i]`` moves to position ``i``; renamed values follow their member."""
    n = len(perm)
    bm = (1 << width) - 1
    out = s & ~(((1 << (width * n)) - 1) << off)
    for i, src in enumerate(perm):
        out |= ((s >> (off + src * width)) & bm) << (off + i * width)
    inverse = [0] * n
    for i, src in enumerate(perm):
        inverse[src] = i
    for name in renamed:
        v = packing.get(out, name)
        if base <= v < base + n:
            out = packing.set(out, name, base + inverse[v - base])
    return out


def _by_permutations(packing: Packing, off: int, width: int, n: int, renamed: tuple[str, ...],
                     base: int) -> Callable[[int], int]:
    perms = list(permutations(range(n)))

    def canon(s: int) -> int:
        return min(permute(packing, s, off, width, p, renamed, base) for p in perms)

    return canon
