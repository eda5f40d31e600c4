"""Shortest witnesses that do not depend on the reduction level.

The verdicts of a run come from its own (possibly reduced) search; the path reported for a
verdict comes from one fixed procedure, whatever the level: a breadth-first search over orbit
representatives of the declared symmetries (no partial-order or dead-block reduction), whose
successors are taken in declaration order of the actions, stopping as soon as every requested
witness is found. A witness is chosen by the rules of the main search (``Engine._explore``):
the first state in BFS order that satisfies a part of an ``always`` / ``sometimes`` property; for
``eventually`` / ``no-deadlock``, the first terminal state that fails a part, or the first of
those where a ``prefer`` part holds. So every level reports the same shortest path (issue 17:
reports byte-identical across levels); the state counts are what differs.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from qmcheck.model.transitions.symmetry import canonicalizer

Engine = Any  # properties.engines.bfs.Engine (not imported: bfs imports this module)
Witness = tuple[int, tuple[str, ...], int]  # (initial index, concrete actions, final state)


def ordered_successors(engine: Engine, s: int) -> list[tuple[int, int]]:
    """Every ``(action index, next state)`` of ``s`` in declaration order of the actions."""
    return sorted(engine.all_successors(s), key=lambda x: x[0])


def shortest_witnesses(engine: Engine, wanted: set[int],
                       max_states: int | None = None) -> dict[int, Witness]:
    """Witnesses of the properties (indices into ``engine.props``) in ``wanted``; a property
    whose witness is not found within ``max_states`` representatives is left out."""
    canon = canonicalizer(engine.system, engine.packing)
    props = engine.props
    kinds = [p.kind for p in props]
    watch = {pi: engine.prop_bits[pi] for pi in wanted if kinds[pi] in ("always", "sometimes")}
    terminal = {pi: (engine.prop_bits[pi], engine.prefer_bits[pi]) for pi in wanted
                if kinds[pi] in ("eventually", "no-deadlock")}
    first: dict[int, int] = {}
    preferred: set[int] = set()
    parent: dict[int, tuple[int, int] | None] = {}
    queue: deque[int] = deque()
    for s0 in engine.initials:
        s = canon(s0)
        if s not in parent:
            parent[s] = None
            queue.append(s)
    while queue and (watch or len(preferred) < len(terminal)):
        s = queue.popleft()
        bits = engine.test_bits(s)
        for pi, m in list(watch.items()):
            if bits & m:
                first[pi] = s
                del watch[pi]
        succ = ordered_successors(engine, s)
        if not succ:
            for pi, (m, pm) in terminal.items():
                if pi in preferred:
                    continue
                if bits & m != m or (not m and kinds[pi] == "no-deadlock"):
                    if pi not in first or not pm or bits & pm:
                        first[pi] = s
                    if not pm or bits & pm:
                        preferred.add(pi)
        for a, t0 in succ:
            t = canon(t0)
            if t not in parent:
                if max_states is not None and len(parent) >= max_states:
                    queue.clear()
                    break
                parent[t] = (s, a)
                queue.append(t)
    out: dict[int, Witness] = {}
    for pi, s in first.items():
        chain = [s]
        while (link := parent[chain[-1]]) is not None:
            chain.append(link[0])
        chain.reverse()
        out[pi] = concretize(engine, canon, chain)
    return out


def concretize(engine: Engine, canon: Any, chain: list[int]) -> Witness:
    """Concrete actions (first in declaration order) through the given representatives."""
    names = engine.system.actions
    for i, s0 in enumerate(engine.initials):
        if canon(s0) != chain[0]:
            continue
        cur = s0
        steps: list[str] = []
        for want in chain[1:]:
            for a, t in ordered_successors(engine, cur):
                if canon(t) == want:
                    steps.append(names[a].name)
                    cur = t
                    break
            else:  # pragma: no cover - a declared symmetry that holds always has one
                raise RuntimeError("the symmetry declaration does not hold")
        return i, tuple(steps), cur
    raise RuntimeError("no initial state has that representative")  # pragma: no cover
