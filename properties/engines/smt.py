"""The SMT engine: bounded model checking and k-induction on z3 over ``model/qm_smt``.

- BMC: one incremental solver holds ``Init(s0) & T(s0,s1) & ... & T(s_{k-1},s_k)``; for
  k = 0, 1, ... the disjunction of the open properties' bad predicates at ``s_k`` is checked
  under push/pop (then each one if it is satisfiable), so the first counterexample found is a
  shortest one. Its states and action indicators are read back and replayed through
  ``QMModel.next_state`` (``smt_results``) before it is reported.
- k-induction: a second solver holds a chain of k+1 arbitrary states with the transition
  relation and the auxiliary invariants (``qm_invariants``, proved first by Houdini:
  initiation + consecution) at every state. A property is proved at k when the chain cannot go
  from k good states to a bad one, and BMC found no counterexample of length < k; the open
  properties are tried jointly first (their conjunction), then one by one. When the 1-step
  check fails, its model is kept as the counterexample to induction (a two-state trace).
- Outcomes: ``cex`` (length), ``proved`` (k) or ``open`` (bound explored); ``smt_results``
  turns them into verdicts. qm.reachable-installed is decided as the safety property "no
  installed pair" (``GOAL``). qm.eventually-installed (liveness) is left to the explicit engine.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import z3

from qmcheck.model.encodings.z3_quickmode import (
    LIFE_SAFETY_IDS,
    SAFETY_IDS,
    QMEncoding,
    SymState,
    replay_steps,
)
from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.interface import State

#: Properties this engine decides: the safety properties and reachability (as "not goal").
SMT_IDS: tuple[str, ...] = (*SAFETY_IDS, "qm.reachable-installed", *LIFE_SAFETY_IDS)
GOAL = "not-goal"  # the safety property "no component has both pairs installed"


@dataclass
class Trace:
    """A symbolic trace: states and the (component, action index) of each step."""

    states: list[State]
    steps: list[tuple[int, int]]

    @property
    def length(self) -> int:
        return len(self.steps)


@dataclass
class Outcome:
    """What the engine found for one property (or the goal's negation)."""

    pid: str
    status: str  # "cex" | "proved" | "open"
    depth: int = 0  # cex length, or k of the proof, or the bound explored
    trace: Trace | None = None
    cti: Trace | None = None  # counterexample to 1-induction (two states)
    seconds: float = 0.0


@dataclass
class SmtRun:
    """All outcomes of one configuration."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    ctis: dict[str, Trace] = field(default_factory=dict)
    timeouts: set[str] = field(default_factory=set)  # a solver call gave up on these
    invariants: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    bmc_bound: int = 0
    seconds: float = 0.0


class Unroller:
    """Incremental unrolling: states ``s_0..s_k`` and the step indicators between them."""

    def __init__(self, enc: QMEncoding, solver: z3.Solver, prefix: str) -> None:
        self.enc = enc
        self.solver = solver
        self.prefix = prefix
        self.states: list[SymState] = []
        self.picks: list[dict[tuple[int, int], Any]] = []
        self.add_state()

    def add_state(self) -> SymState:
        s = self.enc.state_vars(f"{self.prefix}{len(self.states)}")
        self.solver.add(self.enc.bounds(s))
        self.states.append(s)
        return s

    def extend(self) -> None:
        """Add one step (and its post-state)."""
        pre = self.states[-1]
        k = len(self.picks)
        post = self.add_state()
        picks = self.enc.indicators(f"{self.prefix}{k}")
        self.picks.append(picks)
        self.solver.add(self.enc.trans(pre, post, picks))

    def read(self, m: z3.ModelRef, upto: int) -> Trace:
        states = [self.enc.read_state(m, self.states[j]) for j in range(upto + 1)]
        steps = [self.enc.read_step(m, self.picks[j]) for j in range(upto)]
        return Trace(states, steps)


def solve(solver: z3.Solver, *formulas: Any) -> tuple[z3.CheckSatResult, z3.ModelRef | None]:
    """Check ``formulas`` on top of the solver's assertions (push/pop); the model when sat."""
    solver.push()
    try:
        solver.add(*formulas)
        result = solver.check()
        return result, solver.model() if result == z3.sat else None
    finally:
        solver.pop()


class SmtEngine:
    """BMC and k-induction for the ``qm.*`` safety properties of one ``QMModel``."""

    def __init__(self, model: QMModel, *, max_bound: int = 40, max_k: int = 12,
                 use_invariants: bool = True, timeout_ms: int = 60_000) -> None:
        self.model = model
        self.enc = QMEncoding(model)
        self.max_bound = max_bound
        self.max_k = max_k
        self.use_invariants = use_invariants
        self.timeout_ms = timeout_ms

    def _solver(self) -> z3.Solver:
        s = z3.SolverFor("QF_FD", ctx=self.enc.ctx)
        s.set("timeout", self.timeout_ms)
        return s

    # -- invariants ------------------------------------------------------------------------
    def strengthening(self) -> tuple[list[str], list[str], Any]:
        """The proved auxiliary invariants (names kept, names dropped) and their local form."""
        if not self.use_invariants:
            return [], [], None
        from qmcheck.properties.engines.invariants import houdini

        result = houdini(self.enc)
        return result.kept, result.dropped, result

    # -- the checks ------------------------------------------------------------------------
    def run(self, pids: Sequence[str] | None = None,
            hints: Mapping[str, int | None] | None = None) -> SmtRun:
        """Decide each property: BMC and k-induction interleaved by depth.

        ``hints`` name properties another engine already refuted (for qm.reachable-installed:
        found a witness). With a length, BMC checks that depth only (no shortest-length claim;
        if nothing is found there the normal search resumes); with None, BMC searches as usual
        but no induction is attempted. Either way every trace found is the SMT engine's own.
        """
        if pids is None:  # every id this model has (the lifecycle's only when it is on)
            pids = [p for p in SMT_IDS
                    if p not in LIFE_SAFETY_IDS or p in self.enc.model.local_preds]
        start = time.perf_counter()
        run = SmtRun()
        kept, dropped, inv = self.strengthening()
        run.invariants, run.dropped = kept, dropped
        hinted = dict(hints or {})
        open_ids = list(dict.fromkeys(GOAL if p == "qm.reachable-installed" else p for p in pids))
        if inv is not None and self.enc.components == 1 and self.max_k >= 1:
            self._fast_first_step(run, inv, [p for p in open_ids if p not in hinted], start)
            open_ids = [p for p in open_ids if p not in run.outcomes]
        base = self._solver()
        bmc = Unroller(self.enc, base, "b")
        base.add(self.enc.init(bmc.states[0]))
        step = self._solver()
        ind = Unroller(self.enc, step, "k")
        if inv is not None:
            step.add(inv.holds_all(ind.states[0]))
        started = {p: time.perf_counter() for p in open_ids}
        depth = 0
        while open_ids:
            # base case: a counterexample of length exactly `depth` (shortest: none shorter)
            due = [p for p in open_ids if hinted.get(p, depth) in (depth, None)]
            bads = {p: self.enc.bad(p, bmc.states[depth]) for p in due}
            res, _ = solve(base, z3.Or(*bads.values())) if due else (z3.unsat, None)
            if res != z3.unsat:
                for pid in due:
                    res, m = solve(base, bads[pid])
                    if m is not None:
                        run.outcomes[pid] = Outcome(pid, "cex", depth, bmc.read(m, depth),
                                                    seconds=time.perf_counter() - started[pid])
                        open_ids.remove(pid)
                    elif res == z3.unknown:
                        run.timeouts.add(pid)
            for pid in due:
                if hinted.get(pid) is not None:
                    del hinted[pid]
            run.bmc_bound = depth
            if not open_ids or depth >= self.max_bound:
                break
            # inductive step with k = depth + 1: k good states, then a bad one
            k = depth + 1
            tried = [p for p in open_ids if p not in hinted] if k <= self.max_k else []
            while tried and len(ind.states) <= k:
                ind.extend()
                if inv is not None:
                    step.add(inv.holds_all(ind.states[-1]))
            if len(tried) > 1:
                # jointly first: the conjunction of the open properties is k-inductive
                goods = [z3.Not(self.enc.bad(p, ind.states[j])) for p in tried for j in range(k)]
                res, _ = solve(step, *goods, z3.Or(*[self.enc.bad(p, ind.states[k])
                                                     for p in tried]))
                if res == z3.unsat:
                    for pid in tried:
                        run.outcomes[pid] = Outcome(pid, "proved", k,
                                                    seconds=time.perf_counter() - started[pid])
                        open_ids.remove(pid)
                    tried = []
            for pid in tried:
                goods = [z3.Not(self.enc.bad(pid, ind.states[j])) for j in range(k)]
                res, m = solve(step, *goods, self.enc.bad(pid, ind.states[k]))
                if res == z3.unsat:
                    run.outcomes[pid] = Outcome(pid, "proved", k,
                                                seconds=time.perf_counter() - started[pid])
                    open_ids.remove(pid)
                elif m is not None and k == 1:
                    run.ctis[pid] = ind.read(m, 1)
                elif res == z3.unknown:
                    run.timeouts.add(pid)
            bmc.extend()
            depth += 1
        for pid in open_ids:
            run.outcomes[pid] = Outcome(pid, "open", depth,
                                        seconds=time.perf_counter() - started[pid])
        for pid, cti in run.ctis.items():
            run.outcomes[pid].cti = cti
        run.seconds = time.perf_counter() - start
        return run


    def _fast_first_step(self, run: SmtRun, inv: Any, pids: list[str], start: float) -> None:
        """Base case 0 and the 1-induction step on one component, in the invariant search's
        own one-step solver (same formulas as the general loop; no second bit-blasting)."""
        enc = self.enc
        init = {n: z3.BitVecVal(v, enc.bits, enc.ctx)
                for n, v in zip(enc.names, enc.init_state[0], strict=True)}
        init_k = {n: z3.BitVecVal(v, enc.bits, enc.ctx)
                  for n, v in zip(enc.shared, enc.init_state[-1], strict=True)}
        init.update(init_k)
        open_ids = []
        for pid in pids:
            if z3.is_true(z3.simplify(enc.bad(pid, [init, init_k]))):
                state = (enc.init_state[0], enc.init_state[-1])
                run.outcomes[pid] = Outcome(pid, "cex", 0, Trace([state], []),
                                            seconds=time.perf_counter() - start)
            else:
                open_ids.append(pid)
        solver = inv.step
        flags = [inv.at_pre[n] for n in inv.kept]
        pre_k = {n: inv.pre[n] for n in enc.shared}
        # the post-state's kernel is not constrained by the one-component step: no property
        # of one component reads it (qm.spi-unique needs two components)
        post_k = enc.shared_vars("fastpost")
        pre, post = [inv.pre, pre_k], [inv.post | post_k, post_k]
        picks = {(0, i): p for i, p in inv.picks.items()}

        def read(m: z3.ModelRef) -> Trace:
            return Trace([enc.read_state(m, pre), enc.read_state(m, post)],
                         [enc.read_step(m, picks)])

        if len(open_ids) > 1:
            goods = [z3.Not(enc.bad(p, pre)) for p in open_ids]
            res, _ = solve(solver, *flags, *goods, z3.Or(*[enc.bad(p, post) for p in open_ids]))
            if res == z3.unsat:
                for pid in open_ids:
                    run.outcomes[pid] = Outcome(pid, "proved", 1,
                                                seconds=time.perf_counter() - start)
                return
        for pid in open_ids:
            res, m = solve(solver, *flags, z3.Not(enc.bad(pid, pre)), enc.bad(pid, post))
            if res == z3.unsat:
                run.outcomes[pid] = Outcome(pid, "proved", 1, seconds=time.perf_counter() - start)
            elif m is not None:
                run.ctis[pid] = read(m)
            else:
                run.timeouts.add(pid)


def replayed(model: QMModel, trace: Trace) -> list[tuple[int, str, State]]:
    """The concrete steps of a symbolic trace (ValueError if it does not replay)."""
    return replay_steps(model, trace.states, trace.steps)
