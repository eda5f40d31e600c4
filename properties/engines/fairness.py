"""Liveness for the generic engine: acyclicity by independent blocks, fair cycles by SCCs.

- ``blocks_acyclic``: variables linked by some action form a block; actions of different blocks
  touch disjoint variables, so a cycle of the whole graph projects onto a cycle of some block.
  Each block's local graph is explored alone; if none has a cycle, neither has the product.
- ``fair_lasso``: strong fairness over the actions marked ``fair``: a set of non-goal states
  strongly connected by edges is a fair cycle when every fair action enabled in one of its states
  is taken on an edge inside it (states that enable an untaken fair action are removed and the
  rest is searched again). The lasso returned takes every such action, so it replays as a fair
  run: a prefix from an initial state and a cycle back to its last state.
"""

from __future__ import annotations

import itertools
from typing import Any

Engine = Any  # properties.engines.bfs.Engine (not imported: bfs imports this module)

LOCAL_LIMIT = 1_000_000


def blocks(engine: Engine) -> list[tuple[int, list[Any]]]:
    """(bit mask, classes) of each independent block of variables."""
    system = engine.system
    parent = {v.name: v.name for v in system.variables}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for c in engine.classes:
        names: set[str] = set(c.names)
        for ai in c.actions:
            names |= system.actions[ai].writes
        names_l = sorted(names)
        for n in names_l[1:]:
            parent[find(n)] = find(names_l[0])
    out: dict[str, tuple[int, list[Any]]] = {}
    for c in engine.classes:
        if not c.actions:
            continue
        names = set(c.names) | {w for ai in c.actions for w in system.actions[ai].writes}
        if not names:
            continue
        root = find(next(iter(names)))
        if root not in out:
            members = tuple(v.name for v in system.variables if find(v.name) == root)
            out[root] = (engine.packing.mask(members), [])
        out[root][1].append(c)
    return list(out.values())


def blocks_acyclic(engine: Engine, limit: int = LOCAL_LIMIT) -> bool:
    """True when no block's local graph has a cycle (so the state graph is acyclic).

    False also when a block has more than ``limit`` local states (the safe answer).
    """
    if any(not a.writes for a in engine.system.actions):
        return False  # an action that changes nothing is a self-loop when enabled
    return all(_acyclic(engine, mask, classes, limit) for mask, classes in blocks(engine))


def _acyclic(engine: Engine, mask: int, classes: list[Any], limit: int) -> bool:
    def succ(s: int) -> list[int]:
        out = []
        for c in classes:
            k = s & c.mask
            e = c.cache.get(k)
            if e is None:
                e = engine._fill(c, k)
            out.extend((s & keep) | bits for keep, bits, _ in e[0])
        return out

    color: dict[int, int] = {}  # 1 on the DFS stack, 2 done
    for root in sorted({s & mask for s in engine.initials}):
        if root in color:
            continue
        stack: list[tuple[int, list[int]]] = [(root, succ(root))]
        color[root] = 1
        while stack:
            s, todo = stack[-1]
            if todo:
                t = todo.pop()
                c = color.get(t)
                if c == 1:
                    return False
                if c is None:
                    if len(color) >= limit:
                        return False  # too big to tell: treat as cyclic (the safe side)
                    color[t] = 1
                    stack.append((t, succ(t)))
            else:
                color[s] = 2
                stack.pop()
    return True


def fair_lasso(engine: Engine, graph: Any, goal_bits: int
               ) -> tuple[int, tuple[str, ...], tuple[str, ...], int] | None:
    """A fair cycle of states that are not all-goal: (initial, prefix, cycle, entry) or None."""
    import networkx as nx

    acts = engine.system.actions
    order = {s: i for i, s in enumerate(graph.nodes)}
    bad = [s for s in graph.nodes if engine.test_bits(s) & goal_bits != goal_bits]
    work = [set(bad)]
    while work:
        current = work.pop()
        sub = graph.subgraph(current)
        comps = sorted((sorted(c, key=order.__getitem__) for c in
                        nx.strongly_connected_components(sub)), key=lambda c: order[c[0]])
        for comp in comps:
            cset = set(comp)
            x = comp[0]
            if len(cset) == 1 and not graph.has_edge(x, x):
                continue
            edges = [(u, v, a) for u in comp for _, v, a in graph.out_edges(u, keys=True)
                     if v in cset]
            taken = {a for _, _, a in edges}
            drop = {s for s in comp for a, _ in engine.all_successors(s)
                    if acts[a].fair and a not in taken}
            if drop:
                if cset - drop:
                    work.append(cset - drop)
                continue
            return _lasso(engine, graph, cset, x, edges)
    return None


def _lasso(engine: Engine, graph: Any, cset: set[int], x: int,
           edges: list[tuple[int, int, int]]) -> tuple[int, tuple[str, ...], tuple[str, ...], int]:
    import networkx as nx

    acts = engine.system.actions
    inner = graph.subgraph(cset)

    def walk(path: list[int]) -> list[str]:
        return [acts[min(graph[u][v])].name for u, v in itertools.pairwise(path)]

    need: dict[int, tuple[int, int, int]] = {}
    for u, v, a in edges:
        if acts[a].fair and a not in need:
            need[a] = (u, v, a)
    if not need:
        u, v, a = next(e for e in edges if e[0] == x)
        need[a] = (u, v, a)
    cycle: list[str] = []
    cur = x
    for u, v, a in need.values():
        cycle += walk(nx.shortest_path(inner, cur, u))
        cycle.append(acts[a].name)
        cur = v
    cycle += walk(nx.shortest_path(inner, cur, x))
    for i, s0 in enumerate(engine.initials):
        if s0 in graph and nx.has_path(graph, s0, x):
            prefix = walk(nx.shortest_path(graph, s0, x))
            return i, tuple(prefix), tuple(cycle), x
    raise RuntimeError("the cycle is not reachable")  # pragma: no cover
