"""Dead-block reduction: a block of variables that can never change again is kept only as what
the property parts see of it.

Variables linked by actions form independent blocks (``fairness.blocks``); only a block's own
actions change it, and their guards read only the block. In a state where none of them is
enabled the block is frozen for good. If every property part that reads the block reads
nothing else, two frozen values with the same test results are indistinguishable for every
verdict, so the block is replaced by the first frozen value seen with those results (members
of a symmetry are compared through member 0's parts, so symmetric states still meet).
Used at reduction ``full`` only; paths are still replayed concretely (``Engine.concretize``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qmcheck.properties.engines.fairness import blocks

Engine = Any  # properties.engines.bfs.Engine (not imported: bfs imports this module)


def dead_block_map(engine: Engine) -> Callable[[int], int] | None:
    """The state map that summarizes frozen blocks, or None when no block qualifies."""
    pk = engine.packing
    test_masks = [(pk.mask(t.reads), 1 << b) for b, t in enumerate(engine.tests)]
    member_of: dict[int, tuple[int, int, int, int]] = {}  # block mask -> (sym, off, width, m)
    for k, (off, width, n) in enumerate(pk.blocks):
        for m in range(n):
            member_of[((1 << width) - 1) << (off + m * width)] = (k, off, width, m)
    eligible: list[tuple[int, list[Any], tuple[int, int, int, int] | None, int]] = []
    by_mask = {mask: classes for mask, classes in blocks(engine)}
    for mask, classes in by_mask.items():
        if any(tm & mask and tm & ~mask for tm, _ in test_masks):
            continue  # a part reads this block and something else
        member = member_of.get(mask)
        if member is not None:
            k, off, width, _ = member
            zero_mask = ((1 << width) - 1) << off
            if zero_mask not in by_mask:
                member = None
            else:
                classes = by_mask[zero_mask]
        bits = 0
        ref = mask if member is None else ((1 << member[2]) - 1) << member[1]
        for tm, b in test_masks:
            if tm & ref:
                bits |= b
        # deadness from the block's action classes; results from every class of its parts
        probes = list(classes) + [c for c in engine.classes
                                  if c.tests and not c.actions and not c.mask & ~ref]
        eligible.append((mask, probes, member, bits))
    if not eligible:
        return None
    reps: dict[tuple[Any, int], int] = {}
    memo: list[dict[int, int]] = [{} for _ in eligible]

    def summary(i: int, v: int) -> int:
        _, classes, member, bits = eligible[i]
        if member is None:
            probe, shift = v, 0
        else:
            _, _, width, m = member
            shift = m * width
            probe = v >> shift  # the value as member 0
        tbits = 0
        for c in classes:
            k = probe & c.mask
            e = c.cache.get(k)
            if e is None:
                e = engine._fill(c, k)
            if e[0]:
                return v  # an action of the block is enabled: not frozen
            tbits |= e[1]
        key = ((member[0] if member is not None else ("block", i)), tbits & bits)
        rep = reps.setdefault(key, probe)
        return rep << shift

    def mapped(s: int) -> int:
        for i, (mask, _, _, _) in enumerate(eligible):
            v = s & mask
            memo_i = memo[i]
            w = memo_i.get(v)
            if w is None:
                w = memo_i[v] = summary(i, v)
            if w != v:
                s = (s & ~mask) | w
        return s

    return mapped
