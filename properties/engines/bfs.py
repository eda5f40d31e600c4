"""The generic explicit engine: breadth-first search over any ``model.transitions`` system.

It knows nothing of Quick Mode. States are packed integers (``model.transitions.packing``).
Each action's effect is a function of the variables it reads, so effects are computed once per
distinct value of those variables and cached (a class of actions with the same read set shares
one cache entry, together with the tests of the property parts reading the same variables).

Reductions (``reduction``): ``none``; ``symmetry`` (orbit representatives of the declared
symmetries); ``full`` (symmetry, dead-block summaries ``deadblocks.py`` and stubborn-set
partial-order reduction ``stubborn.py``, with the BFS cycle proviso unless the graph is
acyclic). Verdicts do not depend on the reduction; a test checks this.

Verdicts: ``always`` / ``sometimes`` from every explored state; ``no-deadlock`` and the terminal
part of ``eventually`` from terminal states (stubborn sets keep every deadlock); the cycle part
of ``eventually`` needs fair cycles: when the independent blocks of the system (variables linked
by actions) all have acyclic local graphs the whole graph is acyclic and nothing more is needed;
otherwise the state graph is built without reduction and searched for fair cycles
(``fairness.py``). Budgets (``max_states``, ``max_memory`` in bytes) end the run as incomplete:
a property not refuted by then is ``unknown``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from qmcheck.model.transitions.packing import Packing
from qmcheck.model.transitions.symmetry import canonicalizer
from qmcheck.model.transitions.system import Part, TransitionSystem
from qmcheck.properties.engines.stubborn import StubbornSets
from qmcheck.properties.engines.visited import Visited

REDUCTIONS = ("none", "symmetry", "full")
PROVISO_LOCAL_LIMIT = 200_000  # local states explored to prove the graph acyclic (else proviso)
#: QM at N=8 has 1128 actions (a closure took about 1 ms there); every manifest entry < 512
POR_MAX_ACTIONS = 512
WITNESS_BYTES = 400  # memory per state of the witness search's parent map (rounded up)
Effect = tuple[int, int, int]  # (keep mask, set bits, action index)
# (effects, test bits, enabled actions, xor deltas of the effects or None, rank deltas of the
# effects or None without a declared rank)
Entry = tuple[tuple[Effect, ...], int, int, tuple[int, ...] | None, tuple[int, ...] | None]


@dataclass
class Finding:
    """The verdict of one property; a refutation carries a replayable action path."""

    property: str
    verdict: str  # holds | refuted | unknown
    message: str = ""
    initial: int = 0  # index into system.initial
    path: tuple[str, ...] = ()  # actions from that initial state to the witness
    cycle: tuple[str, ...] = ()  # eventually: actions of a fair cycle back to the witness
    state: int | None = None  # the witness (packed, concrete: the end of ``path``)


@dataclass
class Search:
    """Figures and verdicts of one run."""

    reduction: str
    states: int = 0
    transitions: int = 0
    depth: int = 0
    seconds: float = 0.0
    explore_seconds: float = 0.0
    complete: bool = True
    stopped: str = ""  # "", "max-states" or "max-memory"
    full_expansions: int = 0
    packed_bytes: int = 0
    bytes_per_state: float = 0.0
    compressed: bool = False
    spilled: bool = False
    acyclic: bool | None = None
    engine: str = "bfs"  # "sweep" when sweep.py explored (level none with a declared rank)
    findings: dict[str, Finding] = field(default_factory=dict)
    graph: Any = None

    @property
    def states_per_second(self) -> float:
        """States per second of the exploration proper (verdict paths excluded)."""
        t = self.explore_seconds or self.seconds
        return self.states / t if t > 0 else 0.0


@dataclass
class _Class:
    mask: int
    names: tuple[str, ...]
    actions: list[int]
    tests: list[tuple[int, int]]  # (test bit, part) pairs: bit index, (property, part) index
    cache: dict[int, Entry]
    twin: tuple[int, int, int] | None = None  # (shift, previous member's shift, block mask)
    fields: tuple[tuple[str, int, int], ...] | None = None  # set by Engine._fill


class RankBroken(Exception):
    """A step that does not raise the system's declared rank (the claim of acyclicity fails)."""


class Engine:
    """BFS over a ``TransitionSystem`` at one reduction level."""

    def __init__(self, system: TransitionSystem, *, reduction: str = "full",
                 max_states: int | None = None, max_memory: int | None = None,
                 build_graph: bool = False, liveness: bool = True,
                 shortest_paths: bool = True,
                 progress: Callable[[str], None] | None = None,
                 progress_every: float = 2.0,
                 properties: Sequence[str] | None = None, sweep: bool = True) -> None:
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}")
        self.system = system
        self.reduction = reduction
        self.max_states = max_states
        self.max_memory = max_memory
        self.build_graph = build_graph
        self.liveness = liveness
        #: report the witnesses of witness.py (the same at every level), not the search's own
        self.shortest_paths = shortest_paths
        self.progress = progress
        self.progress_every = progress_every
        #: explore with the vectorized sweep-line (sweep.py) whenever it applies
        self.sweep = sweep
        self.packing = Packing(system)
        self.canon: Callable[[int], int] = canonicalizer(system, self.packing) \
            if reduction != "none" else (lambda s: s)
        self.identity = reduction == "none" or not system.symmetries
        #: ``properties``: the ids to decide (default all); the others are not watched, so
        #: they neither cost tests nor constrain the stubborn sets (visibility)
        self.property_ids = properties
        self.props = system.properties if properties is None else tuple(
            p for p in system.properties if p.id in set(properties))
        self._setup_classes()
        self.rank_terms = self._rank_terms()
        visible = [(self.tests[b].reads, b) for pi, prop in enumerate(self.props)
                   if prop.kind in ("always", "sometimes")
                   for b in range(len(self.tests)) if self.prop_bits[pi] >> b & 1]
        #: stubborn sets cost a closure over the actions per enabled seed and state: past
        #: ``POR_MAX_ACTIONS`` actions level full keeps symmetry and dead blocks only
        self.stubborn = None
        self.initials = [self.packing.pack(i) for i in system.initial]
        if reduction == "full" and len(system.actions) <= POR_MAX_ACTIONS:
            from qmcheck.properties.engines.independence import refine

            self.stubborn = StubbornSets(system, visible, refine(self))
        if reduction == "full":
            from qmcheck.properties.engines.deadblocks import dead_block_map

            dead = dead_block_map(self)
            if dead is not None:
                sym = self.canon
                self.canon = lambda s: sym(dead(s))
                self.identity = False

    # -- set-up ------------------------------------------------------------------------------
    def _setup_classes(self) -> None:
        pk = self.packing
        by_reads: dict[frozenset[str], _Class] = {}

        def cls(reads: frozenset[str]) -> _Class:
            if reads not in by_reads:
                names = tuple(n for n in pk.order if n in reads)
                by_reads[reads] = _Class(pk.mask(reads), names, [], [], {})
            return by_reads[reads]

        for i, a in enumerate(self.system.actions):
            cls(a.reads).actions.append(i)
        self.part_of_bit: list[tuple[int, int]] = []
        self.tests: list[Part] = []
        self.prop_bits: list[int] = []
        self.prefer_bits: list[int] = []
        for pi, prop in enumerate(self.props):
            masks = []
            for parts in (prop.parts, prop.prefer):
                bits = 0
                for qi, part in enumerate(parts):
                    b = len(self.tests)
                    self.part_of_bit.append((pi, qi))
                    self.tests.append(part)
                    cls(part.reads).tests.append((b, qi))
                    bits |= 1 << b
                masks.append(bits)
            self.prop_bits.append(masks[0])
            self.prefer_bits.append(masks[1])
        self.action_masks = [(pk.mask(a.writes)) for a in self.system.actions]
        self.classes = sorted(by_reads.values(), key=lambda c: (min(c.actions, default=1 << 30),
                                                                 c.names))
        # members whose actions read only their own block: identical neighbours give
        # symmetric successors, so (with symmetry) only the first of equal neighbours expands
        if self.reduction != "none":
            for sym, (off, width, n) in zip(self.system.symmetries, pk.blocks, strict=True):
                if sym.renamed or n < 2:
                    continue
                for m in range(1, n):
                    block = frozenset(sym.members[m])
                    for c in self.classes:
                        if c.actions and all(self.system.actions[a].reads
                                             | self.system.actions[a].writes <= block
                                             for a in c.actions):
                            c.twin = (off + m * width, off + (m - 1) * width, (1 << width) - 1)

    def _rank_terms(self) -> list[tuple[int, ...]] | None:
        """Per action, the declared rank measures its writes touch; None when the system
        declares no rank or an action touches a measure that reads more than the action."""
        ranks = self.system.ranks
        if not ranks:
            return None
        out: list[tuple[int, ...]] = []
        for a in self.system.actions:
            terms = tuple(i for i, m in enumerate(ranks) if m.reads & a.writes)
            if not terms or any(not ranks[i].reads <= a.reads for i in terms):
                return None
            out.append(terms)
        return out

    def _check_rank(self, ai: int, env: dict[str, int], new: dict[str, int]) -> int:
        """The rise of the declared rank by the step; RankBroken unless it is positive."""
        ranks = self.system.ranks
        after = {**env, **new}
        delta = 0
        for i in self.rank_terms[ai]:  # type: ignore[index]
            m = ranks[i]
            delta += m.value({n: after[n] for n in m.reads}) - m.value({n: env[n] for n in m.reads})
        if delta <= 0:
            raise RankBroken(self.system.actions[ai].name)
        return delta

    def _fill(self, c: _Class, key: int) -> Entry:
        pk = self.packing
        fields = c.fields
        if fields is None:  # (name, offset, value mask) of each variable the class reads
            fields = c.fields = tuple((n, pk.offset[n], (1 << pk.width[n]) - 1)
                                      for n in c.names)
        env = {n: key >> off & m for n, off, m in fields}
        system = self.system
        effects: list[Effect] = []
        deltas: list[int] | None = []
        rises: list[int] = []
        en = 0
        readable = c.mask
        for ai in c.actions:
            a = system.actions[ai]
            try:
                ok = a.guard(env)
                new = a.update(env) if ok else {}
            except KeyError as e:
                raise ValueError(f"action {a.name} reads undeclared variable {e}") from None
            if not ok:
                continue
            if self.rank_terms is not None:
                rises.append(self._check_rank(ai, env, new))
            keep = ~0
            bits = 0
            for name, value in new.items():
                if name not in a.writes:
                    raise ValueError(f"action {a.name} writes undeclared variable {name}")
                if not 0 <= value < pk.sizes[name]:
                    raise ValueError(f"action {a.name}: {name} = {value} is out of its domain")
                keep &= ~pk.field[name]
                bits |= value << pk.offset[name]
            effects.append((keep, bits, ai))
            if deltas is not None and ~keep & ~readable == 0:
                deltas.append((key & ~keep) ^ bits)  # every written variable is read
            else:
                deltas = None
            en |= 1 << ai
        tbits = 0
        for b, _ in c.tests:
            pi = self.part_of_bit[b][0]
            try:
                if self.tests[b].test(env):
                    tbits |= 1 << b
            except KeyError as e:
                raise ValueError(f"property {self.props[pi].id} reads undeclared variable {e}"
                                 ) from None
        entry = (tuple(effects), tbits, en, None if deltas is None else tuple(deltas),
                 tuple(rises) if self.rank_terms is not None else None)
        c.cache[key] = entry
        return entry

    def entries(self, s: int) -> list[Entry]:
        """The cache entries of every class for state ``s``."""
        out = []
        for c in self.classes:
            k = s & c.mask
            e = c.cache.get(k)
            out.append(e if e is not None else self._fill(c, k))
        return out

    def all_successors(self, s: int) -> list[tuple[int, int]]:
        """Every ``(action index, next state)``, unreduced and concrete (not canonical)."""
        return [(a, (s & keep) | bits) for e in self.entries(s) for keep, bits, a in e[0]]

    def test_bits(self, s: int) -> int:
        bits = 0
        for e in self.entries(s):
            bits |= e[1]
        return bits

    # -- the search --------------------------------------------------------------------------
    def run(self) -> Search:
        """Explore and decide every property of the system."""
        from qmcheck.properties.engines import sweep
        from qmcheck.properties.engines.tables import Collision

        try:
            if self.sweep and sweep.usable(self):
                try:
                    return self._run_sweep()
                except Collision:  # two keys with one hash: the plain BFS answers the same
                    pass
            return self._run()
        except RankBroken:
            # the declared rank is wrong: forget it and decide acyclicity by blocks
            self.rank_terms = None
            for c in self.classes:
                c.cache.clear()
            return self._run()

    def _run(self) -> Search:
        start = time.perf_counter()
        out = Search(self.reduction, packed_bytes=self.packing.bytes_per_state)
        visited = Visited(self.packing.bytes_per_state, self.max_memory)
        try:
            witness = self._explore(out, visited, start)
            out.explore_seconds = time.perf_counter() - start
            self._verdicts(out, visited, witness)
        finally:
            out.compressed, out.spilled = visited.compressed, visited.spilled
            out.bytes_per_state = visited.bytes_per_state()
            visited.close()
        out.seconds = time.perf_counter() - start
        return out

    def _run_sweep(self) -> Search:
        """The same run by the sweep-line explorer (sweep.py)."""
        from qmcheck.properties.engines.sweep import Sweep

        start = time.perf_counter()
        out = Search(self.reduction, packed_bytes=self.packing.bytes_per_state, engine="sweep")
        sw = Sweep(self)
        try:
            first = sw.explore(out, start)
        finally:
            sw.close()
        out.explore_seconds = time.perf_counter() - start
        self._verdicts(out, None, first)
        out.seconds = time.perf_counter() - start
        return out

    def _explore(self, out: Search, visited: Visited, start: float
                 ) -> dict[int, tuple[int, int]]:
        """BFS; returns property index -> (witness state, depth) of first violations/goals."""
        canon = self.canon
        seen = visited.seen
        layer: list[int] = []
        for s0 in self.initials:
            s = canon(s0)
            if s not in seen:
                seen.add(s)
                layer.append(s)
        kinds = [p.kind for p in self.props]
        first: dict[int, tuple[int, int]] = {}
        # always: any part bit set is a violation; sometimes: any part bit set is a goal
        watch = {pi: self.prop_bits[pi] for pi, k in enumerate(kinds)
                 if k in ("always", "sometimes")}
        terminal_props = [(pi, self.prop_bits[pi], self.prefer_bits[pi])
                          for pi, k in enumerate(kinds) if k in ("eventually", "no-deadlock")]
        preferred: dict[int, tuple[int, int]] = {}
        watch_mask = 0
        for m in watch.values():
            watch_mask |= m
        graph = None
        if self.build_graph:
            import networkx as nx

            graph = nx.MultiDiGraph()
            out.graph = graph
        classes = [(c.mask, c.cache, c, c.twin) for c in self.classes]
        fill = self._fill
        stub = self.stubborn
        # C3 (every cycle of the reduced graph has a fully expanded state) holds vacuously on an
        # acyclic graph, so the cycle proviso is needed only when some block has a cycle
        proviso = False
        if stub is not None:
            from qmcheck.properties.engines.fairness import blocks_acyclic

            out.acyclic = self.rank_terms is not None or \
                blocks_acyclic(self, limit=PROVISO_LOCAL_LIMIT)
            proviso = not out.acyclic
        fast = stub is None and graph is None
        init0 = self.initials[0]
        local_of = stub.local_state if stub is not None and stub.live else None
        read_masks = [(c.mask, sum(1 << a for a in c.actions)) for c in self.classes if c.actions]
        ident = self.reduction == "none" or not self.system.symmetries
        # the plainest case: no canonical form, every effect an xor (writes within reads)
        plain_classes = [(c.mask, c.cache.get, c) for c in self.classes]
        plain = fast and ident and all(
            self.system.actions[a].writes <= self.system.actions[a].reads
            for c in self.classes for a in c.actions)
        depth = 0
        transitions = 0
        last = start
        count = len(layer)
        while layer:
            visited.add_layer(layer)
            nxt: list[int] = []
            nxt_set: set[int] = set() if (stub is not None and not visited.compressed) else seen
            if visited.compressed:
                seen = visited.seen
                nxt_set = seen
            limit = self._frontier_limit(visited, count)
            seen_add = seen.add
            nxt_append = nxt.append
            for s in layer:
                if len(nxt) > limit:
                    break
                bits = 0
                has_succ = False
                if plain:
                    before = transitions
                    for mask, get, c in plain_classes:
                        e = get(s & mask)
                        if e is None:
                            e = fill(c, s & mask)
                        bits |= e[1]
                        ds = e[3]
                        if ds is None:
                            raise AssertionError("plain search needs xor effects")
                        transitions += len(ds)
                        for d in ds:
                            t = s ^ d
                            if t not in seen:
                                seen_add(t)
                                nxt_append(t)
                    has_succ = transitions != before
                elif fast:
                    for mask, cache, c, twin in classes:
                        k = s & mask
                        e = cache.get(k)
                        if e is None:
                            e = fill(c, k)
                        bits |= e[1]
                        ds = e[3]
                        if not e[0]:
                            continue
                        has_succ = True
                        if twin is not None and not ((s >> twin[0]) ^ (s >> twin[1])) & twin[2]:
                            continue
                        transitions += len(e[0])
                        if ds is None:
                            for keep, setb, _ in e[0]:
                                t = canon((s & keep) | setb)
                                if t not in seen:
                                    seen_add(t)
                                    nxt_append(t)
                        elif ident:
                            for d in ds:
                                t = s ^ d
                                if t not in seen:
                                    seen_add(t)
                                    nxt_append(t)
                        else:
                            for d in ds:
                                t = canon(s ^ d)
                                if t not in seen:
                                    seen_add(t)
                                    nxt_append(t)
                else:
                    ents = []
                    en = 0
                    for mask, cache, c, twin in classes:
                        k = s & mask
                        e = cache.get(k)
                        if e is None:
                            e = fill(c, k)
                        bits |= e[1]
                        en |= e[2]
                        if e[0] and not (stub is None and twin is not None and not (
                                (s >> twin[0]) ^ (s >> twin[1])) & twin[2]):
                            ents.append(e[0])
                    has_succ = en != 0
                    succ: list[tuple[int, int]] = []
                    if stub is not None and en:
                        started = 0
                        moved = s ^ init0
                        for rm, a_bits in read_masks:
                            if moved & rm:
                                started |= a_bits
                        chosen = stub.choose(en, started, *local_of(s)) if local_of else \
                            stub.choose(en, started)
                        if chosen != en:
                            succ = [(a, canon((s & keep) | setb)) for effs in ents
                                    for keep, setb, a in effs if chosen >> a & 1]
                            for _, t in succ if proviso else ():
                                if t not in nxt_set and (t in seen or (
                                        visited.compressed and visited.contains_frozen(t))):
                                    succ = []  # cycle proviso: expand fully
                                    break
                        if not succ:
                            out.full_expansions += 1
                    if not succ:
                        succ = [(a, canon((s & keep) | setb)) for effs in ents
                                for keep, setb, a in effs]
                    for a, t in succ:
                        transitions += 1
                        if t not in seen:
                            seen.add(t)
                            if nxt_set is not seen:
                                nxt_set.add(t)
                            nxt.append(t)
                        if graph is not None:
                            graph.add_edge(s, t, key=a)
                    if graph is not None and not succ:
                        graph.add_node(s)
                if bits & watch_mask:
                    for pi, m in list(watch.items()):
                        if bits & m:
                            first[pi] = (s, depth)
                            del watch[pi]
                            watch_mask &= ~m
                if not has_succ:
                    for pi, m, pm in terminal_props:
                        if pi not in preferred and (bits & m != m or (not m and
                                                    kinds[pi] == "no-deadlock")):
                            if pi not in first:
                                first[pi] = (s, depth)
                            if not pm or bits & pm:
                                preferred[pi] = (s, depth)
            if len(nxt) > limit:
                out.complete = False
                out.stopped = "max-states" if self.max_states is not None and \
                    count + len(nxt) > self.max_states else "max-memory"
                count += len(nxt)
                break
            if visited.compressed:
                nxt = visited.close_layer(nxt)
                seen = visited.seen
            count += len(nxt)
            out.depth = depth
            if nxt:
                depth += 1
            layer = nxt
            if self.max_memory is not None:
                if not visited.compressed and visited.estimate(0) > self.max_memory // 3:
                    visited.compress()
                    seen = visited.seen
                visited.maybe_spill()
            if self.progress is not None:
                now = time.perf_counter()
                if now - last >= self.progress_every:
                    last = now
                    self.progress(f"{count:,} states, {count / (now - start):,.0f} states/s, "
                                  f"depth {depth}, frontier {len(layer):,}")
        out.states = count
        out.transitions = transitions
        first.update(preferred)
        return first

    def _frontier_limit(self, visited: Visited, count: int) -> int:
        """How many new states the next layer may hold before a budget is passed."""
        limit = 1 << 62
        if self.max_states is not None:
            limit = self.max_states - count
        if self.max_memory is not None:
            per = visited.int_bytes + 40 + 8
            room = self.max_memory - (visited.estimate(0) if visited.compressed and
                                      not visited.spilled else 0)
            if not visited.compressed:
                room = self.max_memory - visited.estimate(0)
            limit = min(limit, max(0, room // per))
        return limit

    # -- verdicts ----------------------------------------------------------------------------
    def _verdicts(self, out: Search, visited: Visited | None,
                  first: dict[int, tuple[int, int]]) -> None:
        budget = f"stopped at the {out.stopped} budget after {out.states} states"
        pending_live: list[int] = []
        self._short: dict[int, tuple[int, tuple[str, ...], int]] = {}
        if (self.shortest_paths or visited is None) and first:  # the sweep keeps no layers
            from qmcheck.properties.engines.witness import shortest_witnesses

            cap = self.max_states
            if self.max_memory is not None:  # its parent map: a few hundred bytes per state,
                # but never fewer states than the search itself held within the budget
                room = max(self.max_memory // WITNESS_BYTES, out.states)
                cap = room if cap is None else min(cap, room)
            self._short = shortest_witnesses(self, set(first), cap)
        for pi, prop in enumerate(self.props):
            hit = first.get(pi)
            if prop.kind == "sometimes":
                if hit is not None:
                    f = self._with_path(Finding(prop.id, "holds", "a goal state is reachable"),
                                        out, visited, hit, budget)
                elif out.complete:
                    f = Finding(prop.id, "refuted", f"no goal state among {out.states} states")
                else:
                    f = Finding(prop.id, "unknown", budget)
            elif hit is not None:
                what = {"always": "a bad state is reachable",
                        "no-deadlock": "a reachable terminal state is not a proper end",
                        "eventually": "a reachable terminal state is not a goal"}[prop.kind]
                f = self._with_path(Finding(prop.id, "refuted", what), out, visited, hit, budget)
            elif not out.complete:
                f = Finding(prop.id, "unknown", budget)
            else:
                f = Finding(prop.id, "holds", f"proved over {out.states} states")
                if prop.kind == "eventually":
                    pending_live.append(pi)
            out.findings[prop.id] = f
        if pending_live and self.liveness:
            self._liveness(out, pending_live)

    def _with_path(self, f: Finding, out: Search, visited: Visited | None, hit: tuple[int, int],
                   budget: str) -> Finding:
        """``f`` with its replayable path; after a budget stop whose path cannot be rebuilt,
        an unknown finding instead (a verdict is never reported without its trace)."""
        pi = next(i for i, p in enumerate(self.props) if p.id == f.property)
        if pi in self._short:  # the level-independent shortest witness (witness.py)
            f.initial, f.path, f.state = self._short[pi]
            return f
        try:
            self._attach_path(f, visited, *hit)
        except RuntimeError:
            if out.complete:
                raise
            return Finding(f.property, "unknown",
                           budget + " (the trace found before the stop could not be rebuilt)")
        return f

    def _attach_path(self, f: Finding, visited: Visited | None, target: int, depth: int
                     ) -> None:
        """Shortest canonical path to ``target``, replayed as concrete actions."""
        if visited is None:  # the sweep keeps no layers
            raise RuntimeError("no BFS layers to rebuild the path from")
        canon_path = [target]
        cur = target
        for d in range(depth - 1, -1, -1):
            for p in visited.layer(d):
                if any(self.canon(t) == cur for _, t in self.all_successors(p)):
                    cur = p
                    break
            else:  # pragma: no cover - the layers always hold a parent
                raise RuntimeError("no parent found in the BFS layers")
            canon_path.append(cur)
        canon_path.reverse()
        f.initial, f.path, f.state = self.concretize(canon_path)

    def concretize(self, canon_path: list[int]) -> tuple[int, tuple[str, ...], int]:
        """Concrete actions whose states have the given representatives, from an initial state."""
        names = self.system.actions
        for i, s0 in enumerate(self.initials):
            if self.canon(s0) == canon_path[0]:
                cur = s0
                steps: list[str] = []
                for want in canon_path[1:]:
                    for a, t in self.all_successors(cur):
                        if self.canon(t) == want:
                            steps.append(names[a].name)
                            cur = t
                            break
                    else:  # pragma: no cover - symmetric systems always have one
                        raise RuntimeError("the symmetry declaration does not hold")
                return i, tuple(steps), cur
        raise RuntimeError("no initial state has that representative")  # pragma: no cover

    def _liveness(self, out: Search, pending: list[int]) -> None:
        """Fair cycles outside the goal, unless the blocks of the system are all acyclic."""
        from qmcheck.properties.engines.fairness import blocks_acyclic, fair_lasso

        acyclic = out.acyclic if out.acyclic is not None else (
            self.rank_terms is not None or blocks_acyclic(self))
        out.acyclic = acyclic
        if acyclic:
            return
        full = Engine(self.system, reduction="none", max_states=self.max_states,
                      max_memory=self.max_memory, build_graph=True, liveness=False,
                      shortest_paths=False, properties=self.property_ids)
        sub = full.run()
        if not sub.complete:
            for pi in pending:
                out.findings[self.props[pi].id] = Finding(
                    self.props[pi].id, "unknown",
                    f"the unreduced graph for fair cycles passed the {sub.stopped} budget")
            return
        for pi in pending:
            lasso = fair_lasso(full, sub.graph, self.prop_bits[pi])
            if lasso is not None:
                init, prefix, cycle, state = lasso
                out.findings[self.props[pi].id] = Finding(
                    self.props[pi].id, "refuted", "a fair cycle never reaches the goal",
                    init, prefix, cycle, state)


def graph_dot(search: Search, engine: Engine, *, limit: int = 2000) -> str:
    """The explored graph in DOT, nodes numbered in discovery order (deterministic)."""
    graph = search.graph
    if graph is None:
        raise ValueError("the run has no graph (build_graph=False)")
    nodes = list(graph.nodes)[:limit]
    number = {s: i for i, s in enumerate(nodes)}
    describe = engine.system.describe
    lines = ["digraph states {", "  node [shape=box, fontsize=9];",
             f'  label="{engine.system.name}: {search.states} states, reduction '
             f'{search.reduction}{" (truncated)" if len(graph) > limit else ""}";']
    for s, i in number.items():
        env = engine.packing.unpack(s)
        text = describe(env) if describe is not None else \
            " ".join(f"{k}={v}" for k, v in env.items())
        text = text.replace('"', "'")
        lines.append(f'  s{i} [label="{text}"];')
    for s, i in number.items():
        for _, t, a in graph.out_edges(s, keys=True):
            if t in number:
                name = engine.system.actions[a].name
                lines.append(f'  s{i} -> s{number[t]} [label="{name}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"
