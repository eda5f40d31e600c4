"""Dependency of actions decided by their behaviour on a block's reachable local states.

``stubborn.py`` takes two actions as dependent when one writes a variable the other reads or
writes. Within one block (a member of a declared symmetry, or an independent block of
``fairness.blocks``) that is coarse: a system may declare that every action of a block reads
the whole block. This module refines it, for each block ``B`` whose actions touch only ``B``
and variables outside every block (``E``, the shared ones), from the block's *local*
configurations: every value of ``B`` reachable when ``E`` may hold any value at any time (an
over-approximation of what the system reaches, since only the block's actions change ``B``),
combined with every value of ``E``. On those configurations:

- two actions of the block are *dependent* when one, enabled, enables or disables the other,
  or both are enabled and the two orders end in different configurations (Godefroid's valid
  dependency relation, over a superset of the reachable states);
- the *enablers* of an action (its necessary enabling set in every state) are the block's
  actions that turn it from disabled to enabled somewhere, plus the writers of the shared
  variables its guard reads;
- an action is *visible* for a property part that reads only ``B`` and ``E`` when it changes
  the part's result somewhere.

Pairs of actions of different blocks keep the read/write rule. A block whose local graph
passes ``LOCAL_LIMIT`` configurations, or whose ``E`` has more than ``ENV_LIMIT`` values, is
left to the read/write rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product
from typing import Any

from qmcheck.properties.engines.fairness import blocks

Engine = Any  # properties.engines.bfs.Engine (not imported: bfs imports this module)

LOCAL_LIMIT = 200_000  # configurations (local value x shared value) per block
ENV_LIMIT = 4096  # values of the shared variables a block's actions read
MEMO_LIMIT = 300_000  # configurations whose enabled actions and successors are kept
#: one configuration per local value where the shared values cannot matter (a test checks
#: that the tables are the same without it)
SHORTCUT = True


@dataclass
class Refinement:
    """Per-action bit sets learnt from the blocks (actions of no refined block: absent)."""

    block_of: dict[int, int]  # action index -> mask of its block's actions
    dependent: dict[int, int]  # action -> the block's actions dependent with it
    enablers: dict[int, int]  # action -> the block's actions that can enable it
    visible: dict[int, int]  # test bit -> the actions that can change it (parts of one block)
    #: (block mask, its actions, local value -> the block's actions that may still be enabled
    #: from there, local value -> the block's actions that may still read or write a shared
    #: variable from there). An action outside the first set never fires again (it needs no
    #: place in a stubborn set); one outside the second is independent of every action of
    #: the other blocks on every path from the state (it touches only its block)
    live: list[tuple[int, int, dict[int, int], dict[int, int]]] = field(default_factory=list)
    configurations: int = 0


def _candidate_blocks(engine: Engine) -> list[int]:
    pk = engine.packing
    out: list[int] = []
    for (off, width, n) in pk.blocks:
        for m in range(n):
            out.append(((1 << width) - 1) << (off + m * width))
    taken = 0
    for b in out:
        taken |= b
    out += [mask for mask, _ in blocks(engine) if not mask & taken]
    return out


def refine(engine: Engine) -> Refinement:
    """The dependency, enablers and visibility of the actions of every refinable block."""
    system, pk = engine.system, engine.packing
    acts = system.actions
    masks = _candidate_blocks(engine)
    every = 0
    for b in masks:
        every |= b
    env_all = pk.mask(frozenset(pk.order)) & ~every
    touch = [pk.mask(a.reads | a.writes) for a in acts]
    out = Refinement({}, {}, {}, {})
    # configurations outside the reachable states may break the declared rank or a domain:
    # no rank check here, and the caches are emptied afterwards (the search checks again)
    ranks, engine.rank_terms = engine.rank_terms, None
    try:
        _refine_all(engine, masks, env_all, touch, out)
    finally:
        engine.rank_terms = ranks
        for c in engine.classes:
            c.cache.clear()
    return out


def _refine_all(engine: Engine, masks: list[int], env_all: int, touch: list[int],
                out: Refinement) -> None:
    for bmask in masks:
        mine = [i for i, t in enumerate(touch) if t & bmask]
        if not mine:
            continue
        env = 0
        for i in mine:
            env |= touch[i] & ~bmask
        if env & ~env_all:
            continue  # an action of the block touches another block
        got = _refine_block(engine, bmask, env, mine)
        if got is None:
            continue
        dep, ena, vis, count, live, opaque = got
        amask = sum(1 << i for i in mine)
        out.live.append((bmask, amask, live, opaque))
        for i in mine:
            out.block_of[i] = amask
            out.dependent[i] = dep[i]
            out.enablers[i] = ena[i]
        for b, m in vis.items():
            out.visible[b] = m
        out.configurations += count


def _env_values(engine: Engine, env: int) -> list[int] | None:
    pk = engine.packing
    names = [n for n in pk.order if pk.field[n] & env]
    total = 1
    for n in names:
        total *= pk.sizes[n]
    if total > ENV_LIMIT:
        return None
    return [sum(v << pk.offset[n] for n, v in zip(names, vals, strict=True))
            for vals in product(*(range(pk.sizes[n]) for n in names))]


def _refine_block(engine: Engine, bmask: int, env: int, mine: list[int]
                  ) -> tuple[dict[int, int], dict[int, int], dict[int, int], int,
                             dict[int, int], dict[int, int]] | None:
    sigmas = _env_values(engine, env)
    if sigmas is None:
        return None
    local = bmask | env
    classes = [c for c in engine.classes if c.mask & bmask and not c.mask & ~local]
    mine_set = set(mine)
    if any(a not in mine_set for c in classes for a in c.actions):
        return None
    fill = engine._fill
    test_bits = [b for b, t in enumerate(engine.tests)
                 if engine.packing.mask(t.reads) & bmask
                 and not engine.packing.mask(t.reads) & ~local]
    tmask = sum(1 << b for b in test_bits)
    # where every action reading a shared variable is disabled by a guard that reads none,
    # the configurations of one local value differ only in the shared values, which no
    # enabled action reads or writes: one of them shows all (the others are skipped)
    pk, acts = engine.packing, engine.system.actions
    readers = sum(1 << i for i in mine if pk.mask(acts[i].reads) & env)
    quiet = [acts[i].enabled_by if readers >> i & 1 else acts[i].writes for i in mine]
    quiet += [engine.tests[b].reads for b in test_bits]
    shortcut = SHORTCUT and not any(pk.mask(names) & env for names in quiet)

    memo: dict[int, tuple[int, int, dict[int, int]]] = {}

    def look(s: int) -> tuple[int, int, dict[int, int]]:
        got = memo.get(s)
        if got is not None:
            return got
        if len(memo) > MEMO_LIMIT:
            memo.clear()
        en = bits = 0
        succ: dict[int, int] = {}
        for c in classes:
            k = s & c.mask
            e = c.cache.get(k)
            if e is None:
                e = fill(c, k)
            en |= e[2]
            bits |= e[1]
            for keep, setb, a in e[0]:
                succ[a] = (s & keep) | setb
        got = memo[s] = (en, bits & tmask, succ)
        return got

    dep = dict.fromkeys(mine, 0)
    ena = dict.fromkeys(mine, 0)
    vis: dict[int, int] = dict.fromkeys(test_bits, 0)
    rest = engine.initials[0] & ~local
    seen = {s0 & bmask for s0 in engine.initials}
    todo = list(seen)
    count = 0
    edges: dict[int, set[int]] = {}
    enabled: dict[int, int] = {}
    opaque: dict[int, int] = {}
    while todo:
        v = todo.pop()
        first: tuple[int, dict[int, int]] | None = None
        opq = 0
        for sigma in sigmas:
            count += 1
            if count > LOCAL_LIMIT:
                return None
            s = rest | v | sigma
            try:
                en = _configuration(look, s, bmask, seen, todo, dep, ena, vis,
                                    edges.setdefault(v, set()))
            except ValueError:
                # an update leaves its domain here: a run reaching this configuration stops
                # with that error, so a finished run never reaches it
                continue
            enabled[v] = enabled.get(v, 0) | en
            # opaque: an action whose guard or effect on the block depends on the shared
            # values, or that changes them
            eff = {}
            for a, t in look(s)[2].items():
                eff[a] = t & bmask
                if (t ^ s) & env:
                    opq |= 1 << a
            if first is None:
                first = (en, eff)
            else:
                opq |= en ^ first[0]
                for a, w in eff.items():
                    if first[1].get(a, w) != w:
                        opq |= 1 << a
            if shortcut and not en & readers:
                break
        opaque[v] = opq
    return dep, ena, vis, count, _reach_or(edges, enabled), _reach_or(edges, opaque)


def _reach_or(edges: dict[int, set[int]], enabled: dict[int, int]) -> dict[int, int]:
    """Per local value, the union of ``enabled`` over the local values reachable from it."""
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(edges)
    graph.add_edges_from((v, w) for v, ws in edges.items() for w in ws)
    dag = nx.condensation(graph)
    acc: dict[int, int] = {}
    for scc in reversed(list(nx.topological_sort(dag))):
        m = 0
        for v in dag.nodes[scc]["members"]:
            m |= enabled.get(v, 0)
        for nxt in dag.successors(scc):
            m |= acc[nxt]
        acc[scc] = m
    mapping = dag.graph["mapping"]
    return {v: acc[mapping[v]] for v in edges}


def _configuration(look: Any, s: int, bmask: int, seen: set[int], todo: list[int],
                   dep: dict[int, int], ena: dict[int, int], vis: dict[int, int],
                   out_edges: set[int]) -> int:
    """Record what the configuration ``s`` shows of dependency, enabling and visibility;
    returns its enabled actions."""
    en, bits, succ = look(s)
    for a, t in succ.items():
        w = t & bmask
        out_edges.add(w)
        if w not in seen:
            seen.add(w)
            todo.append(w)
        en_t, bits_t, succ_t = look(t)
        changed = (en ^ en_t) & ~(1 << a)
        if changed:
            dep[a] |= changed
            for b in set_bits(changed):
                dep[b] |= 1 << a
            for b in set_bits(en_t & ~en):
                ena[b] |= 1 << a
        flip = bits ^ bits_t
        if flip:
            for b in set_bits(flip):
                vis[b] |= 1 << a
        for b, tb in succ_t.items():  # both enabled: do the two orders meet?
            if b <= a or not en >> b & 1:
                continue
            _, _, succ_b = look(succ[b])
            if succ_b.get(a) != tb:
                dep[a] |= 1 << b
                dep[b] |= 1 << a
    return en


def set_bits(mask: int) -> list[int]:
    """The indices of the bits set in ``mask``, lowest first."""
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


__all__ = ["Refinement", "refine", "set_bits"]
