"""Auxiliary invariants of one negotiation component, each named, stated in words and checked.

The candidates are ``qm_expr`` predicates over one component (so the explicit engine can
evaluate them too). Some hold in every configuration (message origins, SA entries by phase,
channel shape, a bound on messages in flight); others only where no message is lost (a message
of the exchange is always in flight while a side waits). ``houdini`` keeps the largest subset
that is inductive for the configuration at hand: each kept invariant holds in every initial
component (initiation) and is preserved by every action from any component satisfying all the
kept ones (consecution, relative induction). The kept conjunction is then assumed at every
state of the k-induction chain. ``inductiveness_report`` lists, for each kept invariant and
each action, whether the action can be taken at all and whether it preserves the invariant.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import z3

from qmcheck.model.encodings.z3_quickmode import QMEncoding, SymLocal, mk_and, num
from qmcheck.model.quickmode.expressions import (
    Expr,
    add,
    and_,
    const,
    eq,
    in_,
    ite,
    le,
    ne,
    not_,
    or_,
    var,
)
from qmcheck.model.quickmode.options import QMOptions
from qmcheck.model.quickmode.profiles import PROFILE_TABLE
from qmcheck.model.quickmode.state import (
    ABSENT,
    DATA,
    DELETED,
    I_DEAD,
    I_DONE,
    I_IDLE,
    I_SENT3,
    I_WAIT2,
    I_WAIT4,
    INSTALLED,
    M1,
    M2,
    M3,
    M4,
    R_DEAD,
    R_DONE,
    R_IDLE,
    R_WAIT3,
)


@dataclass(frozen=True)
class Invariant:
    """A named candidate invariant of one component."""

    name: str
    words: str
    expr: Expr
    when: tuple[str, ...] = ()  # conditions of CONDITIONS under which it is a candidate


#: When a candidate is worth trying (Houdini checks it anyway; this only saves rounds).
CONDITIONS: dict[str, Any] = {
    "no loss": lambda o: not o.loss,
    "no commit bit": lambda o: not o.commit_bit,
    "commit bit": lambda o: o.commit_bit,
    "FIFO": lambda o: not o.reorder,
    "timers only when silent": lambda o: not o.eager_timers,
    "installs with message 3": lambda o: not PROFILE_TABLE[o.profile].i_install_after_msg3,
}


def implies(a: Expr, b: Expr) -> Expr:
    return or_(not_(a), b)


def _slots(chan: str, k: int) -> list[Expr]:
    return [var(f"{chan}{j}") for j in range(k)]


def _holds(chan: str, k: int, message: int) -> Expr:
    return or_(*(eq(x, message) for x in _slots(chan, k)))


def _count(k: int) -> Expr:
    total: Expr = const(0)
    for x in _slots("a", k) + _slots("b", k):
        total = add(total, ite(ne(x, 0), 1, 0))
    return total


def _entries(side: str, by_phase: dict[int, tuple[int, int]], dead: int) -> Expr:
    """The side's (inbound, outbound) entries as its profile prescribes for each phase."""
    phase, inb, out = ("ip", "iin", "iout") if side == "I" else ("rp", "rin", "rout")
    rules = [implies(eq(var(phase), p), and_(eq(var(inb), e[0]), eq(var(out), e[1])))
             for p, e in sorted(by_phase.items())]
    rules.append(implies(eq(var(phase), dead), and_(in_(var(inb), (ABSENT, DELETED)),
                                                    in_(var(out), (ABSENT, DELETED)))))
    return and_(*rules)


def candidates(options: QMOptions, *, every: bool = False) -> tuple[Invariant, ...]:
    """The candidate invariants for these options (``every``: ignore ``when``), in order."""
    prof = PROFILE_TABLE[options.profile]
    k = options.slots
    rmax = options.retransmits
    ip, rp = var("ip"), var("rp")
    both = (INSTALLED, INSTALLED)
    i_by_phase = {I_IDLE: (ABSENT, ABSENT), I_WAIT2: prof.i_msg1, I_SENT3: prof.i_msg1,
                  I_WAIT4: both, I_DONE: both}
    r_by_phase = {R_IDLE: (ABSENT, ABSENT), R_WAIT3: prof.r_msg1, R_DONE: prof.r_msg3}
    i_after_m2 = (I_SENT3, I_WAIT4, I_DONE)
    fifo_data = [implies(eq(var(f"a{j}"), DATA),
                         or_(eq(rp, R_DONE), *(eq(var(f"a{i}"), M3) for i in range(j))))
                 for j in range(k)]
    extra = (ite(and_(eq(var("g2"), 1), const(int(options.commit_bit))), rmax, 0))
    eager_bound = add(add(add(ite(ne(ip, I_IDLE), 1, 0), var("ic")), add(var("rc"), var("di"))),
                      add(add(var("dr"), var("dups")), extra))
    out = [
        # -- shape of the channels and origin of each message -----------------------------
        Invariant("channels-compact",
                  "occupied channel slots come first (no empty slot before an occupied one)",
                  and_(*(implies(eq(var(f"{c}{j}"), 0), eq(var(f"{c}{j + 1}"), 0))
                         for c in "ab" for j in range(k - 1)))),
        Invariant("no-connected-without-commit",
                  "no CONNECTED message is ever in flight (holds without the commit bit)",
                  not_(_holds("b", k, M4)), when=("no commit bit",)),
        Invariant("msg1-origin", "a message 1 in flight means I has started",
                  implies(_holds("a", k, M1), ne(ip, I_IDLE))),
        Invariant("msg2-origin", "a message 2 in flight means R has processed message 1",
                  implies(_holds("b", k, M2), ne(rp, R_IDLE))),
        Invariant("msg3-origin", "a message 3 in flight means I has received message 2",
                  implies(_holds("a", k, M3), eq(var("g2"), 1))),
        Invariant("connected-origin", "a CONNECTED in flight means R has received message 3",
                  implies(_holds("b", k, M4), eq(var("g3"), 1))),
        Invariant("data-origin", "a data packet in flight was sent by its side (di / dr set)",
                  and_(implies(_holds("a", k, DATA), eq(var("di"), 1)),
                       implies(_holds("b", k, DATA), eq(var("dr"), 1)))),
        # -- ghosts, phases and SA entries --------------------------------------------------
        Invariant("spi-iff-msg2", "I's outbound entry holds R's SPI exactly when it got message 2",
                  eq(var("ispi"), var("g2"))),
        Invariant("i-phase-vs-msg2",
                  "I is past message 2 (msg3 sent, waiting for CONNECTED, done) only after "
                  "receiving it, and never idle or waiting for it afterwards",
                  and_(implies(in_(ip, i_after_m2), eq(var("g2"), 1)),
                       implies(eq(var("g2"), 1), not_(in_(ip, (I_IDLE, I_WAIT2)))))),
        Invariant("r-done-iff-msg3", "R is done exactly when it has received message 3",
                  eq(var("g3"), eq(rp, R_DONE))),
        Invariant("msg2-needs-r", "I receives message 2 only after R processed message 1",
                  implies(eq(var("g2"), 1), ne(rp, R_IDLE))),
        Invariant("msg3-needs-msg2", "R receives message 3 only after I received message 2",
                  implies(eq(var("g3"), 1), eq(var("g2"), 1))),
        Invariant("r-needs-i", "R is not idle only after I has started",
                  implies(ne(rp, R_IDLE), ne(ip, I_IDLE))),
        Invariant("data-when-done", "a side has sent data only when done with a usable SA",
                  and_(implies(eq(var("di"), 1), and_(eq(ip, I_DONE), eq(var("iout"), INSTALLED))),
                       implies(eq(var("dr"), 1), eq(rp, R_DONE)))),
        Invariant("i-entries-by-phase",
                  "I's SA entries are those its profile prescribes for its phase "
                  "(absent when idle, deleted or absent after giving up)",
                  _entries("I", i_by_phase, I_DEAD)),
        Invariant("r-entries-by-phase",
                  "R's SA entries are those its profile prescribes for its phase",
                  _entries("R", r_by_phase, R_DEAD)),
        Invariant("no-sent3-phase", "I never sits between sending message 3 and installing "
                  "(holds unless the profile installs after message 3)", ne(ip, I_SENT3),
                  when=("installs with message 3",)),
        Invariant("no-wait4-phase", "I never waits for CONNECTED (holds without the commit bit)",
                  ne(ip, I_WAIT4), when=("no commit bit",)),
        Invariant("idle-counters", "a side that has not started has not retransmitted",
                  and_(implies(eq(ip, I_IDLE), eq(var("ic"), 0)),
                       implies(eq(rp, R_IDLE), eq(var("rc"), 0)))),
        # -- how many messages can be in flight ---------------------------------------------
        Invariant("in-flight-bound",
                  "at most 1 + data packets sent + copies made are in flight (timers fire only "
                  "when nothing is in flight, so a retransmission finds the channels empty)",
                  le(_count(k), add(add(const(1), add(var("di"), var("dr"))), var("dups"))),
                  when=("timers only when silent",)),
        Invariant("in-flight-bound-eager",
                  "messages in flight <= sends: first message 1, retransmissions, data, copies",
                  le(_count(k), eager_bound)),
        # -- progress without loss ------------------------------------------------------------
        Invariant("i-never-gives-up", "I never gives up (no message is lost)", ne(ip, I_DEAD),
                  when=("no loss",)),
        Invariant("r-never-gives-up", "R never gives up (no message is lost)", ne(rp, R_DEAD),
                  when=("no loss",)),
        Invariant("msg1-in-flight", "while I waits and R is idle, a message 1 is in flight",
                  implies(and_(eq(ip, I_WAIT2), eq(rp, R_IDLE)), _holds("a", k, M1)),
                  when=("no loss",)),
        Invariant("msg2-in-flight", "while I waits for message 2 and R waits for message 3, "
                  "a message 2 is in flight", implies(and_(eq(ip, I_WAIT2), eq(rp, R_WAIT3)),
                                                      _holds("b", k, M2)), when=("no loss",)),
        Invariant("msg3-in-flight", "once I has sent message 3 and while R waits for it, a "
                  "message 3 is in flight", implies(and_(in_(ip, i_after_m2), eq(rp, R_WAIT3)),
                                                    _holds("a", k, M3)), when=("no loss",)),
        Invariant("connected-in-flight", "while I waits for CONNECTED and R is done, a "
                  "CONNECTED is in flight", implies(and_(eq(ip, I_WAIT4), eq(rp, R_DONE)),
                                                    _holds("b", k, M4)),
                  when=("no loss", "commit bit")),
        Invariant("connected-or-first-timer",
                  "while I waits for CONNECTED and R is done, a message 3 or CONNECTED is in "
                  "flight, or I has not yet retransmitted (racoon drops a CONNECTED that "
                  "arrives before it installs)",
                  implies(and_(eq(ip, I_WAIT4), eq(rp, R_DONE)),
                          or_(_holds("b", k, M4), _holds("a", k, M3), eq(var("ic"), 0))),
                  when=("no loss", "commit bit")),
        Invariant("sent3-counter", "I has not retransmitted message 3 before installing "
                  "(commit bit: the counter restarts with message 2)",
                  implies(eq(ip, I_SENT3), eq(var("ic"), 0)), when=("commit bit",)),
        Invariant("data-behind-msg3", "a data packet to R is behind a message 3, unless R is "
                  "done (FIFO channels)", and_(*fifo_data), when=("no loss", "FIFO")),
        Invariant("r-done-i-installed", "when R is done, I's inbound SA is installed",
                  implies(eq(rp, R_DONE), eq(var("iin"), INSTALLED)), when=("no loss",)),
        Invariant("data-to-i-installed",
                  "a data packet to I travels only while I's inbound SA is installed",
                  implies(_holds("b", k, DATA), eq(var("iin"), INSTALLED)), when=("no loss",)),
        Invariant("i-done-after-r", "I is done only after R is done (commit bit)",
                  implies(eq(ip, I_DONE), eq(rp, R_DONE)), when=("commit bit",)),
    ]
    if every:
        return tuple(out)
    return tuple(i for i in out if all(CONDITIONS[c](options) for c in i.when))


@dataclass
class Houdini:
    """The outcome of the invariant search for one configuration."""

    invariants: tuple[Invariant, ...]
    kept: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    why: dict[str, str] = field(default_factory=dict)  # dropped name -> reason
    enc: QMEncoding | None = None
    # the one-step solver of the search, kept for a fast 1-induction check on one component:
    # it holds bounds, one step from ``pre`` to ``post`` (indicators ``picks``) and nothing else
    step: z3.Solver | None = None
    pre: SymLocal = field(default_factory=dict)
    post: SymLocal = field(default_factory=dict)
    picks: dict[int, Any] = field(default_factory=dict)
    at_pre: dict[str, Any] = field(default_factory=dict)

    def local(self, s: SymLocal) -> Any:
        """The conjunction of the kept invariants on one component."""
        chosen = [i for i in self.invariants if i.name in self.kept]
        assert self.enc is not None
        return mk_and([self.enc.at(i.expr, s) for i in chosen], self.enc.ctx)

    def holds_all(self, state: Sequence[SymLocal]) -> Any:
        """The kept invariants on every component of a state."""
        assert self.enc is not None
        return mk_and([self.local(c) for c in state], self.enc.ctx)

    def by_name(self) -> dict[str, Invariant]:
        return {i.name: i for i in self.invariants}


def const_env(enc: QMEncoding, local: tuple[int, ...]) -> dict[str, Any]:
    """A concrete component as z3 constants."""
    return {n: num(v, enc.ctx) for n, v in zip(enc.names, local, strict=True)}


def _solver(ctx: z3.Context) -> z3.Solver:
    s = z3.SolverFor("QF_FD", ctx=ctx)
    s.set("timeout", 60_000)  # a call that gives up drops the candidates (never unsound)
    return s


def houdini(enc: QMEncoding, invariants: Sequence[Invariant] | None = None) -> Houdini:
    """The largest inductive subset of the candidates (initiation, then consecution)."""
    cands = tuple(invariants) if invariants is not None else candidates(enc.model.options)
    out = Houdini(cands, enc=enc)
    pre, post = enc.local_vars("hpre"), enc.local_vars("hpost")
    picks = {i: z3.Bool(f"hact.{a.id}", enc.ctx) for i, a in enumerate(enc.actions)}
    names = [i.name for i in cands]
    by_name = out.by_name()
    at_pre = {i.name: enc.at(i.expr, pre) for i in cands}
    at_post = {i.name: enc.at(i.expr, post) for i in cands}
    alive = []
    for name in names:  # initiation: the initial components are concrete, z3 evaluates
        bad = [loc for loc in sorted(set(enc.init_state))
               if not z3.is_true(z3.simplify(enc.at(by_name[name].expr, const_env(enc, loc))))]
        if bad:
            out.why[name] = "fails initiation"
        else:
            alive.append(name)
    step = _solver(enc.ctx)
    step.add(enc.local_bounds(pre), enc.local_bounds(post),
             enc.local_step(pre, post, picks), z3.PbEq([(p, 1) for p in picks.values()], 1))
    # Houdini: while some kept candidate can be falsified by one step from a state satisfying
    # all kept ones, drop every candidate that the found step falsifies.
    while alive:
        step.push()
        step.add(*[at_pre[n] for n in alive], z3.Or(*[z3.Not(at_post[n]) for n in alive]))
        res = step.check()
        m = step.model() if res == z3.sat else None
        step.pop()
        if res == z3.unsat:
            break
        if m is None:
            for n in alive:
                out.why[n] = "solver gave up"
            alive = []
            break
        act = next(a.id for i, a in enumerate(enc.actions)
                   if z3.is_true(m.eval(picks[i], model_completion=True)))
        for n in list(alive):
            if z3.is_false(m.eval(at_post[n], model_completion=True)):
                out.why[n] = f"not preserved by {act}"
                alive.remove(n)
    out.step, out.pre, out.post, out.picks, out.at_pre = step, pre, post, picks, at_pre
    out.kept = [n for n in names if n in alive]
    out.dropped = [n for n in names if n not in alive]
    return out


@dataclass(frozen=True)
class Cell:
    """One transition x invariant check: ``disabled`` (never taken from a state satisfying the
    kept invariants), ``preserved`` or ``broken`` (only for dropped candidates)."""

    invariant: str
    action: str
    status: str


def inductiveness_report(result: Houdini, *, include_dropped: bool = False) -> list[Cell]:
    """Each action against each kept invariant (and optionally each dropped candidate)."""
    enc = result.enc
    assert enc is not None
    pre, post = enc.local_vars("rpre"), enc.local_vars("rpost")
    s = _solver(enc.ctx)
    s.add(enc.local_bounds(pre), enc.local_bounds(post), result.local(pre))
    names = result.kept + (result.dropped if include_dropped else [])
    inv = result.by_name()
    cells: list[Cell] = []
    for i, action in enumerate(enc.actions):
        s.push()
        s.add(enc.action_formula(i, pre, post))
        if s.check() == z3.unsat:
            cells.extend(Cell(n, action.id, "disabled") for n in names)
            s.pop()
            continue
        for n in names:
            res = s.check(z3.Not(enc.at(inv[n].expr, post)))
            cells.append(Cell(n, action.id, "preserved" if res == z3.unsat else "broken"))
        s.pop()
    return cells


def report_text(options: QMOptions) -> str:
    """A readable summary: kept and dropped candidates, then the transition x invariant table."""
    from qmcheck.model.quickmode.compiled import QMModel

    result = houdini(QMEncoding(QMModel(options)))
    words = result.by_name()
    lines = [f"{options.profile} {options.label()}: {len(result.kept)} invariants kept, "
             f"{len(result.dropped)} dropped"]
    lines += [f"  kept    {n}: {words[n].words}" for n in result.kept]
    lines += [f"  dropped {n}: {result.why[n]}" for n in result.dropped]
    cells = inductiveness_report(result)
    by_action: dict[str, dict[str, str]] = {}
    for c in cells:
        by_action.setdefault(c.action, {})[c.invariant] = c.status
    lines.append("transition x invariant ('.' preserved, '-' never enabled, 'X' broken):")
    for j, n in enumerate(result.kept):
        lines.append(f"  [{j:2}] {n}")
    for action, row in by_action.items():
        marks = "".join({"preserved": ".", "disabled": "-", "broken": "X"}[row[n]]
                        for n in result.kept)
        lines.append(f"  {action:24} {marks}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - manual use: python -m ... PROFILE [fault ...]
    args = sys.argv[1:]
    faults = {f: True for f in args[1:]}
    sys.stdout.write(report_text(QMOptions(profile=args[0] if args else "hpux", **faults)))
