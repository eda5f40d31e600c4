"""Stubborn sets from read/write sets (partial-order reduction that stays sound with shared state).

Action sets are Python ints used as bit sets over action indices. For a state with enabled set
``en`` the stubborn set ``T`` is closed under:

- D1: an enabled action in T brings every action it *conflicts* with: one writes a variable the
  other reads or writes (so independent actions touch disjoint variables, or only read shared
  ones; two actions of different components that share a variable are dependent);
- D2: a disabled action in T brings its necessary enabling set: every action that writes a
  variable its guard reads (``Action.enabled_by``: its guard can change only through them);
- V (per property part, Valmari's visibility condition): if T holds an enabled action that
  writes a variable the part reads, T holds every action that writes one.

The engine adds the cycle proviso (a state whose reduced successors reach back to a state of
its own BFS depth or lower is fully expanded). With D1, D2 and the key action (every seed is
enabled), every deadlock and every infinite path of the full graph has a counterpart in the
reduced one; with V and the proviso every reachable state of a part's variables does too.
"""

from __future__ import annotations

from collections.abc import Sequence

from qmcheck.model.transitions.system import Action, TransitionSystem
from qmcheck.properties.engines.independence import Refinement, set_bits


class StubbornSets:
    """Precomputed dependency tables and the stubborn set of each enabled set (cached)."""

    def __init__(self, system: TransitionSystem,
                 visible: Sequence[frozenset[str] | tuple[frozenset[str], int]],
                 refined: Refinement | None = None) -> None:
        acts: tuple[Action, ...] = system.actions
        writers: dict[str, int] = {}
        accessors: dict[str, int] = {}
        readers: dict[str, int] = {}
        for i, a in enumerate(acts):
            for v in a.writes:
                writers[v] = writers.get(v, 0) | 1 << i
            for v in a.reads | a.writes:
                accessors[v] = accessors.get(v, 0) | 1 << i
            for v in a.reads:
                readers[v] = readers.get(v, 0) | 1 << i
        self.conflicts: list[int] = []
        self.enablers: list[int] = []
        self.outer: list[int] = []
        self.outer_enablers: list[int] = []
        for i, a in enumerate(acts):
            dep = 0
            for v in a.writes:
                dep |= accessors.get(v, 0)
            for v in a.reads:
                dep |= writers.get(v, 0)
            nes = 0
            for v in a.enabled_by:
                nes |= writers.get(v, 0)
            own = 0
            if refined is not None and i in refined.block_of:
                own = refined.block_of[i]
                dep = (dep & ~own) | refined.dependent[i]
                nes = (nes & ~own) | refined.enablers[i]
            self.conflicts.append(dep & ~(1 << i))
            self.enablers.append(nes & ~(1 << i))
            # through the shared variables (outside the action's refined block)
            self.outer.append(dep & ~own if own else 0)
            self.outer_enablers.append(nes & ~own if own else 0)
        vis = []
        for part in visible:
            reads, bit = part if isinstance(part, tuple) else (part, -1)
            if refined is not None and bit in refined.visible:
                m = refined.visible[bit]
            else:
                m = 0
                for v in reads:
                    m |= writers.get(v, 0)
            if m:
                vis.append(m)
        self.visible: list[int] = sorted(set(vis))
        self.cache: dict[tuple[int, int, int, int], int] = {}
        #: per refined block (mask, its actions, local value -> actions that may still fire)
        self.live = refined.live if refined is not None else []
        rest = (1 << len(acts)) - 1
        for _, amask, _, _ in self.live:
            rest &= ~amask
        self.live_rest = rest
        for i in range(len(acts)):  # an action of no refined block: its conflicts as they are
            if rest >> i & 1:
                self.outer[i] = self.outer_enablers[i] = 0

    def local_state(self, s: int) -> tuple[int, int]:
        """``(live, opaque)`` at the state ``s``: the actions that may still be enabled on some
        path from ``s``, and those of them that may still touch a shared variable."""
        live, opaque = self.live_rest, self.live_rest
        for bmask, amask, table, shared in self.live:
            v = s & bmask
            live |= table.get(v, amask)
            opaque |= shared.get(v, amask)
        return live, opaque

    def closure(self, seed: int, en: int, live: int = -1, opaque: int = -1) -> int:
        """The least set containing ``seed`` closed under D1, D2 and V, leaving out actions
        outside ``live`` (they never fire again, so no path can hold them) and the shared
        variables' dependencies of actions outside ``opaque``."""
        t = 1 << seed
        work = [seed]
        conflicts, enablers, visible = self.conflicts, self.enablers, self.visible
        outer, outer_en = self.outer, self.outer_enablers
        while True:
            while work:
                a = work.pop()
                if en >> a & 1:
                    add, out = conflicts[a], outer[a]
                else:
                    add, out = enablers[a], outer_en[a]
                if out:  # through the shared variables: only between opaque actions
                    add &= ~(out & ~opaque) if opaque >> a & 1 else ~out
                add &= live & ~t
                if add:
                    t |= add
                    work.extend(set_bits(add))
            for vm in visible:
                if t & en & vm and vm & live & ~t:
                    add = vm & live & ~t
                    t |= add
                    work.extend(set_bits(add))
            if not work:
                return t

    def choose(self, en: int, started: int = 0, live: int = -1, opaque: int = -1) -> int:
        """The enabled actions to expand: ``closure & en`` of the best enabled seed.

        Seeds whose action is in ``started`` (its variables left their initial values) come
        first, then smaller sets: a negotiation under way is finished before another starts,
        which keeps interleavings out (any choice is sound; this one reduces most).
        """
        key = (en, started & en, live, opaque)
        got = self.cache.get(key)
        if got is not None:
            return got
        best = en
        best_key = (2, en.bit_count())
        for a in set_bits(en):
            t = self.closure(a, en, live, opaque) & en
            k = (0 if started >> a & 1 else 1, t.bit_count())
            if k < best_key:
                best, best_key = t, k
        self.cache[key] = best
        return best


__all__ = ["StubbornSets"]
