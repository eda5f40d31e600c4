"""Explicit-state engine: breadth-first exploration of the Quick Mode state graph.

- Fingerprints: a state is a tuple of integer tuples and its canonical form *is* its
  fingerprint (hashable, equal whatever order it was built in; no pickling, no set order).
- Local analysis first: the reachable graph of one negotiation component is computed once
  (a few thousand local states), with its successors and the property flags of each local state.
- Symmetry reduction: negotiations of the same role are interchangeable, so a state is the
  sorted tuple of its components (SPIs are a function of the position, so they are renamed too).
- Partial-order reduction: components share no variable, so the actions of different
  negotiations are independent. When the local graph is acyclic, the persistent set of a state
  is the enabled actions of its one *active* component (neither initial nor finished), or of
  one initial component when none is active: negotiations run one after another, every local
  path of each is explored (all local states and all deadlocks are preserved), and a finished
  component can be summarized by what the checks still read of it (dead-variable reduction).
  With a cyclic local graph the engine falls back to full interleaving.
- Shared state: a model whose negotiations share state (``model.shared``: the kernels' SPI
  allocators of Quick Mode model v2) breaks the independence the reduction above relies on.
  For such a model the engine falls back to symmetry reduction only (sorting components is
  still sound: no action reads a component's position) and explores every interleaving
  (``_explore_generic``); acyclicity comes from the model's declared rank function.
- Parent pointers give shortest counterexamples (exactly shortest for one negotiation).
- The networkx graph is built only on request (DOT export, liveness on cyclic graphs).
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.interface import Local, State

LOCAL_IDS = (
    "qm.responder-installs-after-msg3",
    "qm.responder-nothing-before-msg3",
    "qm.initiator-spi-after-msg2",
    "qm.agreement",
    "qm.no-black-hole",
    "qm.no-orphan",
    "qm.initiator-nothing-before-msg2",
    "qm.no-larval-leak",
    "qm.rekey-no-black-hole",  # with the SA lifecycle only (model/quickmode/lifecycle.py)
    "qm.orphan-heals",
)
SUMMARY = 99  # marker in position 1 of a finished component's summary
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass
class LocalInfo:
    """What the engine knows about one local state (or one summary of a finished one)."""

    succ: list[tuple[int, Local]]
    bad: int  # bit i set: LOCAL_IDS[i] is violated here
    goal: bool  # both pairs installed
    half: bool  # a pair installed on exactly one side
    quiet: bool  # nothing in flight, no timer pending
    live_in: tuple[bool, bool]  # the initiator's / responder's inbound SPI is in use


@dataclass
class Exploration:
    """The outcome of one exploration."""

    states: int = 0
    transitions: int = 0
    local_states: int = 0
    local_acyclic: bool = True
    reduced: bool = False
    complete: bool = True
    stop_reason: str = ""  # why an incomplete exploration stopped (state or memory budget)
    seconds: float = 0.0
    max_depth: int = 0
    first_bad: dict[str, State] = field(default_factory=dict)
    goal_state: State | None = None
    bad_terminal: State | None = None
    deadlock: State | None = None
    fair_cycle: State | None = None
    parents: dict[State, tuple[State | None, int, int, int]] = field(default_factory=dict)
    graph: Any = None  # networkx.DiGraph when requested

    @property
    def states_per_second(self) -> float:
        return self.states / self.seconds if self.seconds > 0 else 0.0


class ExplicitEngine:
    """BFS over a ``QMModel`` with symmetry, partial-order and dead-variable reduction."""

    def __init__(self, model: QMModel, *, por: bool = True, symmetry: bool = True,
                 max_states: int = 20_000_000, build_graph: bool = False,
                 progress: Callable[[str], None] | None = None,
                 progress_every: float = 2.0) -> None:
        self.model = model
        self.por = por
        self.symmetry = symmetry
        self.build_graph = build_graph
        self.progress = progress
        self.progress_every = progress_every
        self.max_states = min(max_states, BUDGET.max_states or max_states)
        self.max_memory = memory_budget()
        self.infos: dict[Local, LocalInfo] = {}
        self.acyclic = True
        self.generic = bool(getattr(model, "shared", False))
        if self.generic:
            # shared state: no local analysis, no partial-order reduction (unsound here)
            self.acyclic = bool(getattr(model, "acyclic", False))
            self.reduced = False
        else:
            self._analyse_locals()
            self.reduced = por and self.acyclic

    # -- local analysis ----------------------------------------------------------------------
    def _flags(self, local: Local) -> LocalInfo:
        m = self.model
        idx = m.layout.index
        bad = 0
        for i, pid in enumerate(LOCAL_IDS):
            if pid in m.local_checks and m.local_checks[pid](local):
                bad |= 1 << i
        i_inst = local[idx["iin"]] == 2 and local[idx["iout"]] == 2
        r_inst = local[idx["rin"]] == 2 and local[idx["rout"]] == 2
        succ = [] if self.generic else m.local_successors(local)
        return LocalInfo(succ, bad, i_inst and r_inst, i_inst != r_inst,
                         m.quiescent_check(local),
                         (local[idx["iin"]] in (1, 2), local[idx["rin"]] in (1, 2)))

    def _analyse_locals(self) -> None:
        """Reachable local states of one component, their flags, and whether they form a DAG."""
        layout = self.model.layout
        stack = [layout.initial(0), layout.initial(1)] if self.model.options.simultaneous \
            else [layout.initial(0)]
        infos = self.infos
        while stack:
            local = stack.pop()
            if local in infos:
                continue
            infos[local] = inf = self._flags(local)
            stack.extend(new for _, new in inf.succ if new not in infos)
        # acyclicity by Kahn's algorithm
        indeg = dict.fromkeys(infos, 0)
        for inf in infos.values():
            for _, new in inf.succ:
                indeg[new] += 1
        ready = [s for s, d in indeg.items() if d == 0]
        seen = 0
        while ready:
            s = ready.pop()
            seen += 1
            for _, new in infos[s].succ:
                indeg[new] -= 1
                if indeg[new] == 0:
                    ready.append(new)
        self.acyclic = seen == len(infos)

    def summary(self, local: Local) -> Local:
        """A finished component reduced to what the checks read (role, flags, live SPIs)."""
        inf = self.infos[local]
        return (local[0], SUMMARY, inf.bad, int(inf.goal), int(inf.half), int(inf.quiet),
                int(inf.live_in[0]), int(inf.live_in[1]))

    def info(self, key: Local) -> LocalInfo:
        """Flags of a local state or of a summary."""
        if self.generic:
            hit = self.infos.get(key)
            if hit is None:
                hit = self.infos[key] = self._flags(key)
            return hit
        if len(key) > 1 and key[1] == SUMMARY and key not in self.infos:
            self.infos[key] = LocalInfo([], key[2], bool(key[3]), bool(key[4]), bool(key[5]),
                                        (bool(key[6]), bool(key[7])))
        return self.infos[key]

    def key(self, local: Local) -> Local:
        """The component as stored in a reduced state: finished components are summarized."""
        if self.reduced and not self.infos[local].succ:
            return self.summary(local)
        return local

    def canonical(self, state: State) -> State:
        if self.generic:
            return self.model.canonical(state) if self.symmetry else state
        keyed = tuple(self.key(c) for c in state)
        return tuple(sorted(keyed)) if self.symmetry else keyed

    # -- exploration -------------------------------------------------------------------------
    @staticmethod
    def _record_terminal(out: Exploration, s: State, infos: list[LocalInfo],
                         half_terminal: State | None, graph: Any) -> State | None:
        """Note a state without successors: a bad end (not every pair installed, preferring
        one with a pair installed on one side only) or a deadlock (something still pending).
        Returns the half-installed terminal state found so far."""
        if graph is not None:
            graph.add_node(s)
        if not all(inf.goal for inf in infos):
            if out.bad_terminal is None:
                out.bad_terminal = s
            if half_terminal is None and any(inf.half for inf in infos):
                half_terminal = s
        if out.deadlock is None and not all(inf.quiet for inf in infos):
            out.deadlock = s
        return half_terminal

    def _budget_stop(self, states: int, done: int) -> str | None:
        """Why the exploration must stop now (state or memory budget), or None."""
        if states > self.max_states:
            return f"state budget of {self.max_states} exhausted (raise it with --max-states)"
        if done % 4096 == 0 and resident_bytes() > self.max_memory:
            return (f"memory budget of {self.max_memory // 2**20} MB exhausted after {states} "
                    "states (raise it with --max-memory)")
        return None

    def explore(self) -> Exploration:
        """Explore every reachable (reduced) state, recording the first witness of each check."""
        if self.generic:
            return self._explore_generic()
        m = self.model
        out = Exploration(local_states=len(self.infos), local_acyclic=self.acyclic,
                          reduced=self.reduced)
        announce_estimate(self)
        start = time.perf_counter()
        last = start
        parents = out.parents
        graph = None
        if self.build_graph:
            import networkx as nx

            graph = nx.DiGraph()
            out.graph = graph
        initials = {self.model.layout.initial(0), self.model.layout.initial(1)}
        succ_keys: dict[Local, list[tuple[int, Local]]] = {
            loc: [(a, self.key(new)) for a, new in inf.succ] for loc, inf in self.infos.items()}
        queue: deque[State] = deque()
        for s0 in m.init_states():
            s = self.canonical(s0)
            if s not in parents:
                parents[s] = (None, -1, -1, 0)
                queue.append(s)
        pending_bad = {pid: i for i, pid in enumerate(LOCAL_IDS)}
        info = self.info
        sym = self.symmetry
        reduced = self.reduced
        half_terminal: State | None = None
        done = 0
        while queue:
            s = queue.popleft()
            done += 1
            depth = parents[s][3]
            infos = [info(c) for c in s]
            if pending_bad:
                mask = 0
                for inf in infos:
                    mask |= inf.bad
                if mask:
                    for pid, i in list(pending_bad.items()):
                        if mask >> i & 1:
                            out.first_bad[pid] = s
                            del pending_bad[pid]
            if out.goal_state is None and any(inf.goal for inf in infos):
                out.goal_state = s
            if "qm.spi-unique" not in out.first_bad and self._spi_collision(s, infos):
                out.first_bad["qm.spi-unique"] = s
            # choose the components to expand
            comps: list[int]
            if reduced:
                active = [c for c, loc in enumerate(s)
                          if infos[c].succ and loc not in initials]
                comps = active[:1] if active else [c for c, inf in enumerate(infos) if inf.succ][:1]
            else:
                comps = [c for c in range(len(s))
                         if not (sym and c and s[c] == s[c - 1])]
            steps = 0
            for c in comps:
                for a, new in succ_keys.get(s[c], ()):
                    t = (*s[:c], new, *s[c + 1:])
                    if sym:
                        t = tuple(sorted(t))
                    steps += 1
                    if t not in parents:
                        parents[t] = (s, c, a, depth + 1)
                        queue.append(t)
                    if graph is not None:
                        graph.add_edge(s, t, step=(c, a))
            out.transitions += steps
            if not steps:
                half_terminal = self._record_terminal(out, s, infos, half_terminal, graph)
            out.max_depth = max(out.max_depth, depth)
            stop = self._budget_stop(len(parents), done)
            if stop is not None:
                out.complete, out.stop_reason = False, stop
                break
            if self.progress is not None and done % 4096 == 0:
                now = time.perf_counter()
                if now - last >= self.progress_every:
                    last = now
                    self.progress(f"{len(parents):,} states, "
                                  f"{len(parents) / (now - start):,.0f} states/s, "
                                  f"depth {depth}, queue {len(queue):,}")
        if half_terminal is not None:
            out.bad_terminal = half_terminal
        if graph is not None and not self.acyclic and out.complete:
            out.fair_cycle = fair_bad_cycle(out, self)
        out.states = len(parents)
        out.seconds = time.perf_counter() - start
        return out

    def _explore_generic(self) -> Exploration:
        """BFS over every interleaving of a model with shared state (symmetry only)."""
        m = self.model
        out = Exploration(local_states=0, local_acyclic=self.acyclic, reduced=False)
        announce_estimate(self)
        start = time.perf_counter()
        last = start
        parents = out.parents
        graph = None
        if self.build_graph:
            import networkx as nx

            graph = nx.DiGraph()
            out.graph = graph
        queue: deque[State] = deque()
        for s0 in m.init_states():
            s = self.canonical(s0)
            if s not in parents:
                parents[s] = (None, -1, -1, 0)
                queue.append(s)
        pending_bad = {pid: i for i, pid in enumerate(LOCAL_IDS)}
        info = self.info
        canonical = self.canonical
        half_terminal: State | None = None
        done = 0
        while queue:
            s = queue.popleft()
            done += 1
            depth = parents[s][3]
            infos = [info(c) for c in s[:-1]]
            if pending_bad:
                mask = 0
                for inf in infos:
                    mask |= inf.bad
                if mask:
                    for pid, i in list(pending_bad.items()):
                        if mask >> i & 1:
                            out.first_bad[pid] = s
                            del pending_bad[pid]
            if out.goal_state is None and any(inf.goal for inf in infos):
                out.goal_state = s
            if "qm.spi-unique" not in out.first_bad and m.spi_collisions(s):
                out.first_bad["qm.spi-unique"] = s
            steps = 0
            for c, a, t0 in m.successors(s):
                t = canonical(t0)
                steps += 1
                if t not in parents:
                    parents[t] = (s, c, a, depth + 1)
                    queue.append(t)
                if graph is not None:
                    graph.add_edge(s, t, step=(c, a))
            out.transitions += steps
            if not steps:
                half_terminal = self._record_terminal(out, s, infos, half_terminal, graph)
            out.max_depth = max(out.max_depth, depth)
            stop = self._budget_stop(len(parents), done)
            if stop is not None:
                out.complete, out.stop_reason = False, stop
                break
            if self.progress is not None and done % 4096 == 0:
                now = time.perf_counter()
                if now - last >= self.progress_every:
                    last = now
                    self.progress(f"{len(parents):,} states, "
                                  f"{len(parents) / (now - start):,.0f} states/s, "
                                  f"depth {depth}, queue {len(queue):,}")
        if half_terminal is not None:
            out.bad_terminal = half_terminal
        out.local_states = len(self.infos)
        out.states = len(parents)
        out.seconds = time.perf_counter() - start
        return out

    def _spi_collision(self, state: State, infos: list[LocalInfo]) -> bool:
        """Two live inbound entries of one host with the same SPI (SPI = 0x100 + position)."""
        used: set[tuple[int, int]] = set()
        for pos, (local, inf) in enumerate(zip(state, infos, strict=True)):
            role = local[0]
            for side, live in enumerate(inf.live_in):
                if live:
                    host = role ^ side  # 0: host A, 1: host B
                    spi = 0x100 + pos
                    if (host, spi) in used:
                        return True
                    used.add((host, spi))
        return False

    def path(self, exploration: Exploration, target: State) -> list[tuple[int, int, State]]:
        """``(component in the parent state, action index, state)`` from an initial state to
        ``target``; the first entry is ``(-1, -1, initial state)``."""
        steps: list[tuple[int, int, State]] = []
        cur: State | None = target
        while cur is not None:
            parent, c, a, _ = exploration.parents[cur]
            steps.append((c, a, cur))
            cur = parent
        steps.reverse()
        return steps


def fair_bad_cycle(exploration: Exploration, engine: ExplicitEngine) -> State | None:
    """A state on a fair cycle of non-goal states, or None (liveness on cyclic graphs).

    Strong fairness on the protocol actions (receive, drop, timer, install) of each component
    position: a cycle counts only if each such action enabled somewhere on it is also taken on
    it ("loss is not forever"). Loss, duplication and data sends need no fairness.
    """
    import networkx as nx

    graph = exploration.graph
    acts = engine.model.action_list

    def fair_class(c: int, a: int) -> tuple[int, str] | None:
        act = acts[a]
        if act.event in ("lose", "dup") or act.message == "data":
            return None
        return (c, act.name)

    def comps(s: State) -> State:
        return s[:-1] if engine.generic else s

    nodes = [s for s in graph.nodes if not all(engine.info(c).goal for c in comps(s))]
    work = [set(nodes)]
    while work:
        current = work.pop()
        for comp in nx.strongly_connected_components(graph.subgraph(current)):
            cset = set(comp)
            first = min(cset)
            if len(cset) == 1 and not graph.has_edge(first, first):
                continue
            taken = {fair_class(*d["step"]) for _, _, d in graph.subgraph(cset).edges(data=True)}
            drop = {s for s in cset
                    if any(fair_class(c, a) not in taken and fair_class(c, a) is not None
                           for c, a in _enabled(engine, s))}
            if not drop:
                return first
            if cset - drop:
                work.append(cset - drop)
    return None


# -- resource budgets (issue 13): stop cleanly with "unknown" instead of an out-of-memory kill


@dataclass
class Budget:
    """Limits set by the command line (``--max-states``, ``--max-memory``); None: defaults."""

    max_states: int | None = None
    max_memory: int | None = None  # bytes of resident memory of the whole process


BUDGET = Budget()
AVAILABLE_SHARE = 0.8  # default memory budget: this share of the memory available at start
ANNOUNCE_BYTES = 512 * 2**20  # explorations that may need more memory are announced


def set_budget(max_states: int | None = None, max_memory_mb: int | None = None) -> None:
    """Set the budgets of the following explorations (None: the defaults)."""
    BUDGET.max_states = max_states
    BUDGET.max_memory = None if max_memory_mb is None else max_memory_mb * 2**20


def resident_bytes() -> int:
    """The process's resident memory now (Linux /proc; elsewhere its peak)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def available_bytes() -> int | None:
    """Memory available to new allocations (MemAvailable of /proc/meminfo), if known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def memory_budget() -> int:
    """The memory budget: ``--max-memory``, else most of what is available now."""
    if BUDGET.max_memory is not None:
        return BUDGET.max_memory
    available = available_bytes()
    if available is None:
        return 2**62
    return resident_bytes() + int(available * AVAILABLE_SHARE)


def bytes_per_state(components: int) -> int:
    """Measured: about 270 bytes per stored state with 8 negotiations (parents map, queue)."""
    return 150 + 16 * components


def state_bound(engine: ExplicitEngine) -> int:
    """An upper bound of the (reduced) states an exploration can store."""
    n = engine.model.options.components
    locals_ = len(engine.infos)
    if engine.reduced:
        summaries = len({engine.summary(loc) for loc, inf in engine.infos.items()
                         if not inf.succ})
        return (locals_ + 1) * math.comb(summaries + n, n)
    if engine.symmetry:
        return math.comb(locals_ + n - 1, n)
    return int(locals_ ** n)


def announce_estimate(engine: ExplicitEngine) -> None:
    """Print the estimate of states and memory before an exploration that may be large (or
    may exceed the memory budget)."""
    if engine.generic:
        # shared state (model v2): no closed-form bound; announced only against a budget given
        # with --max-memory that the state budget could exceed
        bound = engine.max_states
        states = bound
        need = states * bytes_per_state(engine.model.options.components)
        if BUDGET.max_memory is None or resident_bytes() + need < engine.max_memory:
            return
    else:
        bound = state_bound(engine)
        states = min(bound, engine.max_states)
        need = states * bytes_per_state(engine.model.options.components)
        if need < ANNOUNCE_BYTES and resident_bytes() + need < engine.max_memory:
            return
    label = engine.model.options.label()
    print(f"qmcheck: {engine.model.options.profile} {label}: up to {states:,} states "
          f"(upper bound {bound:.3g}), about {need // 2**20:,} MB; budgets: {engine.max_states:,} "
          f"states (--max-states), {engine.max_memory // 2**20:,} MB (--max-memory)",
          file=sys.stderr, flush=True)


def _enabled(engine: ExplicitEngine, state: State) -> list[tuple[int, int]]:
    """``(component, action index)`` of every step enabled in ``state``."""
    if engine.generic:
        return [(c, a) for c, a, _ in engine.model.successors(state)]
    return [(c, a) for c, loc in enumerate(state) for a, _ in engine.info(loc).succ]


def stderr_progress(message: str) -> None:
    """Progress lines for long runs."""
    print(f"qmcheck: {message}", file=sys.stderr, flush=True)


def _node_label(engine: ExplicitEngine, key: Local) -> str:
    if len(key) > 1 and key[1] == SUMMARY:
        inf = engine.info(key)
        return "finished: " + ("installed" if inf.goal else "half" if inf.half else "not installed")
    d = engine.model.layout.describe(key)
    short = {"absent": "-", "larval": "L", "installed": "I", "deleted": "D"}
    sa = {k: short.get(str(v).split(" ")[0], "?")
          for k, v in d.items() if k.endswith("bound")}
    return (f"I {d['I.phase']} {sa['I.inbound']}{sa['I.outbound']} | "
            f"R {d['R.phase']} {sa['R.inbound']}{sa['R.outbound']} | "
            f">{','.join(d['I->R'])} <{','.join(d['R->I'])}")


def graph_dot(exploration: Exploration, engine: ExplicitEngine, *, limit: int = 5000) -> str:
    """The explored state graph in DOT, nodes in discovery order (deterministic).

    Needs an exploration with ``build_graph``; beyond ``limit`` states only the first ones are
    drawn (the graph label says so).
    """
    graph = exploration.graph
    if graph is None:
        raise ValueError("the exploration has no graph (build_graph=False)")
    order = {s: i for i, s in enumerate(exploration.parents) if i < limit}
    comps = (lambda s: s[:-1]) if engine.generic else (lambda s: s)
    acts = engine.model.action_list
    lines = ["digraph states {", "  node [shape=box, fontsize=9];",
             f"  label=\"{engine.model.options.profile} {engine.model.options.label()}: "
             f"{exploration.states} states{' (truncated)' if exploration.states > limit else ''}"
             "\";"]
    for s, i in order.items():
        label = "\\n".join(_node_label(engine, c) for c in comps(s)).replace('"', "'")
        lines.append(f"  s{i} [label=\"{label}\"];")
    for s, i in order.items():
        if s not in graph:
            continue
        edges = sorted((order[t], d["step"]) for t in graph.successors(s) if t in order
                       for d in [graph.edges[s, t]])
        for j, (c, a) in edges:
            lines.append(f"  s{i} -> s{j} [label=\"n{c + 1} {acts[a].id}\"];")
    lines.append("}")
    return "\n".join(lines) + "\n"
