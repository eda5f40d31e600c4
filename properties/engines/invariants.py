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

import itertools
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
    eq,
    in_,
    ne,
    not_,
    or_,
    var,
)
from qmcheck.model.quickmode.options import QMOptions
from qmcheck.model.quickmode.state import (
    ABSENT,
    I_DEAD,
    I_IDLE,
    I_WAIT4,
    M1,
    M2,
    M3,
    M4,
    NOTIFY,
    R_IDLE,
    R_REFUSED,
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
    "installed outcome": lambda o: o.outcome == "installed",
}


def implies(a: Expr, b: Expr) -> Expr:
    return or_(not_(a), b)


def _slots(chan: str, k: int) -> list[Expr]:
    return [var(f"{chan}{j}") for j in range(k)]


def _holds(chan: str, k: int, message: int) -> Expr:
    return or_(*(eq(x, message) for x in _slots(chan, k)))


def candidates(options: QMOptions, *, every: bool = False) -> tuple[Invariant, ...]:
    """The candidate invariants for these options (``every``: ignore ``when``), in order.

    They speak of one component (its own variables only); the shared allocators are left
    unconstrained, which over-approximates the other components (sound for invariants).
    """
    from qmcheck.model.quickmode.actions import layout_for

    k = layout_for(options).slots
    ip, rp = var("ip"), var("rp")
    entries = ("iin", "iout", "rin", "rout")
    out = [
        Invariant("channels-compact",
                  "occupied channel slots come first (no empty slot before an occupied one)",
                  and_(*(implies(eq(var(f"{c}{j}"), 0), eq(var(f"{c}{j + 1}"), 0))
                         for c in "ab" for j in range(k - 1)))),
        Invariant("msg1-origin", "a message 1 in flight means I has started",
                  implies(_holds("a", k, M1), ne(ip, I_IDLE))),
        Invariant("msg2-origin", "a message 2 in flight means R has processed message 1",
                  implies(_holds("b", k, M2), ne(rp, R_IDLE))),
        Invariant("msg3-origin", "a message 3 in flight means I has received message 2",
                  implies(_holds("a", k, M3), eq(var("g2"), 1))),
        Invariant("connected-origin", "a CONNECTED in flight means R has received message 3",
                  implies(_holds("b", k, M4), eq(var("g3"), 1))),
        Invariant("notify-origin", "a notification in flight means R refused message 1",
                  implies(_holds("b", k, NOTIFY), eq(rp, R_REFUSED))),
        Invariant("esp-origin", "an ESP packet in flight was sent by its kernel",
                  and_(implies(ne(var("ei"), 0), ne(var("di"), 0)),
                       implies(ne(var("er"), 0), ne(var("dr"), 0)))),
        Invariant("r-needs-i", "R is not idle only after I has started",
                  implies(ne(rp, R_IDLE), ne(ip, I_IDLE))),
        Invariant("msg2-needs-r", "I receives message 2 only after R processed message 1",
                  implies(eq(var("g2"), 1), ne(rp, R_IDLE))),
        Invariant("msg3-needs-msg2", "R receives message 3 only after I received message 2",
                  implies(eq(var("g3"), 1), eq(var("g2"), 1))),
        Invariant("spi-known-after-msg2",
                  "I knows R's SPI, and its outbound entry holds one, only after message 2",
                  and_(implies(ne(var("iks"), 0), eq(var("g2"), 1)),
                       implies(ne(var("ios"), 0), eq(var("g2"), 1)))),
        Invariant("idle-nothing", "a side that has not started has no entry and no counter",
                  and_(implies(eq(ip, I_IDLE), and_(eq(var("iin"), ABSENT),
                                                     eq(var("iout"), ABSENT), eq(var("ic"), 0),
                                                     eq(var("iis"), 0), eq(var("ios"), 0))),
                       implies(eq(rp, R_IDLE), and_(eq(var("rin"), ABSENT),
                                                     eq(var("rout"), ABSENT), eq(var("rc"), 0),
                                                     eq(var("ris"), 0), eq(var("ros"), 0))))),
        Invariant("ir-codes", "the I -> R channel carries only messages 1 and 3",
                  and_(*(in_(x, (0, M1, M3)) for x in _slots("a", k)))),
        Invariant("entries-in-range", "every SA entry state is one of the four",
                  and_(*(in_(var(e), (0, 1, 2, 3)) for e in entries))),
        Invariant("no-connected-without-commit",
                  "no CONNECTED message is ever in flight (without the commit bit)",
                  not_(_holds("b", k, M4)), when=("no commit bit",)),
        Invariant("no-wait4-without-commit", "I never waits for CONNECTED (no commit bit)",
                  ne(ip, I_WAIT4), when=("no commit bit",)),
        Invariant("i-never-gives-up", "I never gives up (no message is lost)", ne(ip, I_DEAD),
                  when=("no loss", "installed outcome")),
        Invariant("no-refusal", "R never refuses (the policy outcome is installed)",
                  ne(rp, R_REFUSED), when=("installed outcome",)),
    ]
    out += spi_candidates() + mined(options)
    if every:
        return tuple(out)
    return tuple(i for i in out if all(CONDITIONS[c](options) for c in i.when))


#: The variables (daemon positions, SA entries, ghosts) the mined candidates are keyed by.
MINED_KEYS: tuple[tuple[str, ...], ...] = (
    ("ip", "ipc"), ("rp", "rpc"), ("ip", "rp"), ("iin",), ("iout",), ("rin",), ("rout",),
    ("g2", "g3"))
SPI_VARS = ("iis", "ios", "ris", "ros", "iks", "rks", "m1s", "m2s", "ei", "er")


def spi_candidates() -> list[Invariant]:
    """Where each SPI a daemon knows or a message carries comes from."""
    pairs = (("ios", "ris", "I's outbound entry holds R's inbound SPI"),
             ("ros", "iis", "R's outbound entry holds I's inbound SPI"),
             ("iks", "ris", "the SPI I learnt is R's inbound SPI"),
             ("rks", "iis", "the SPI R learnt is I's inbound SPI"),
             ("m1s", "iis", "message 1 carries I's inbound SPI"),
             ("m2s", "ris", "message 2 carries R's inbound SPI"))
    out = [Invariant(f"spi-{a}-is-{b}", words, implies(ne(var(a), 0), eq(var(a), var(b))))
           for a, b, words in pairs]
    out.append(Invariant("esp-carries-outbound-spi",
                         "an ESP packet in flight carries its sender's outbound SPI",
                         and_(implies(ne(var("ei"), 0), eq(var("ei"), add(var("ios"), 1))),
                              implies(ne(var("er"), 0), eq(var("er"), add(var("ros"), 1))))))
    return out


def mined(options: QMOptions, limit: int = 50_000) -> list[Invariant]:
    """Candidates read off the reachable states of one negotiation (Daikon-style): for each
    daemon position (phase and list position of a side, or the pair of phases), the values
    each variable takes there. Houdini keeps only the inductive ones, so a candidate that
    holds for one negotiation but not for several (SPI values) is dropped, never assumed."""
    from qmcheck.model.quickmode.compiled import QMModel

    one = options.with_(negotiations=1, simultaneous=False)
    model = QMModel(one)
    start = model.init_states()[0]
    seen = {start}
    todo = [start]
    while todo and len(seen) < limit:
        st = todo.pop()
        for _, _, t in model.successors(st):
            if t not in seen:
                seen.add(t)
                todo.append(t)
    if todo:
        return []
    names = model.layout.names
    domains = model.layout.domains
    idx = model.layout.index
    locals_ = {st[0] for st in seen}
    out: list[Invariant] = []
    for keys in MINED_KEYS:
        table: dict[tuple[int, ...], dict[str, set[int]]] = {}
        for loc in locals_:
            key = tuple(loc[idx[k]] for k in keys)
            row = table.setdefault(key, {})
            for n in names:
                v = loc[idx[n]]
                row.setdefault(n, set()).add(int(v != 0) if n in SPI_VARS else v)
        for key, row in sorted(table.items()):
            at = and_(*(eq(var(k), v) for k, v in zip(keys, key, strict=True)))
            facts = []
            for n in names:
                if n in keys or n == "role":
                    continue
                vals = row[n]
                if n in SPI_VARS:
                    if len(vals) == 1:
                        facts.append(ne(var(n), 0) if 1 in vals else eq(var(n), 0))
                elif len(vals) < domains[n]:
                    facts.append(in_(var(n), sorted(vals)))
            for j, fact in enumerate(facts):
                out.append(Invariant(f"mined-{'-'.join(keys)}={'-'.join(map(str, key))}-{j}",
                                     f"observed for one negotiation at {keys}={key}",
                                     implies(at, fact)))
        if len(keys) > 1:  # the daemon positions never seen: each its own candidate
            for key in itertools.product(*(range(domains[k]) for k in keys)):
                if key not in table:
                    at = and_(*(eq(var(k), v) for k, v in zip(keys, key, strict=True)))
                    out.append(Invariant(
                        f"mined-unreached-{'-'.join(keys)}={'-'.join(map(str, key))}",
                        f"never observed for one negotiation: {keys}={key}", not_(at)))
    return out


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

    floor: bool = False  # every allocator holds an SPI >= 1 (checked inductive, ``floor``)

    def kernel(self, k: SymLocal) -> Any:
        """The kernel invariant on a state's shared variables (true when not proved)."""
        assert self.enc is not None
        if not self.floor:
            return z3.BoolVal(True, self.enc.ctx)
        return mk_and([z3.UGE(k[n], 1) for n in self.enc.shared], self.enc.ctx)

    def local(self, s: SymLocal) -> Any:
        """The conjunction of the kept invariants on one component."""
        chosen = [i for i in self.invariants if i.name in self.kept]
        assert self.enc is not None
        return mk_and([self.enc.at(i.expr, s) for i in chosen], self.enc.ctx)

    def holds_all(self, state: Sequence[SymLocal]) -> Any:
        """The kept invariants on every component of a state, and the kernel invariant."""
        assert self.enc is not None
        return mk_and([self.local(c) for c in state[:-1]] + [self.kernel(state[-1])],
                      self.enc.ctx)

    def by_name(self) -> dict[str, Invariant]:
        return {i.name: i for i in self.invariants}


def const_env(enc: QMEncoding, local: tuple[int, ...]) -> dict[str, Any]:
    """A concrete component (with the initial kernel) as z3 constants."""
    out = {n: num(v, enc.ctx) for n, v in zip(enc.names, local, strict=True)}
    out.update({n: num(v, enc.ctx)
                for n, v in zip(enc.shared, enc.init_state[-1], strict=True)})
    return out


def _solver(ctx: z3.Context) -> z3.Solver:
    s = z3.SolverFor("QF_FD", ctx=ctx)
    s.set("timeout", 60_000)  # a call that gives up drops the candidates (never unsound)
    return s


def floor(enc: QMEncoding, pre: SymLocal, post: SymLocal, picks: dict[int, Any]) -> bool:
    """Is "every SPI allocator holds 1 or more" inductive? It holds initially (allocators start
    at 1) and is checked preserved by every action of a component from any in-domain state
    that satisfies it (an action writes an allocator only to count it up). Without it the
    one-component checks would let an allocator hand out SPI 0, "no SPI"."""
    if any(v < 1 for v in enc.init_state[-1]):
        return False
    s = _solver(enc.ctx)
    nxt = enc.shared_next(pre, picks)
    s.add(enc.local_bounds(pre), enc.shared_bounds(pre), enc.local_step(pre, post, picks),
          z3.PbEq([(p, 1) for p in picks.values()], 1),
          *[z3.UGE(pre[n], 1) for n in enc.shared],
          z3.Or(*[z3.If(cond, term, pre[n]) == 0 for n, (cond, term) in nxt.items()]))
    return s.check() == z3.unsat


def houdini(enc: QMEncoding, invariants: Sequence[Invariant] | None = None) -> Houdini:
    """The largest inductive subset of the candidates (initiation, then consecution)."""
    cands = tuple(invariants) if invariants is not None else candidates(enc.model.options)
    out = Houdini(cands, enc=enc)
    pre, post = enc.local_vars("hpre", shared=True), enc.local_vars("hpost")
    picks = {i: z3.Bool(f"hact.{a.id}", enc.ctx) for i, a in enumerate(enc.actions)}
    out.floor = floor(enc, pre, post, picks)
    names = [i.name for i in cands]
    by_name = out.by_name()
    at_pre = {i.name: enc.at(i.expr, pre) for i in cands}
    at_post = {i.name: enc.at(i.expr, post) for i in cands}
    alive = []
    for name in names:  # initiation: the initial components are concrete, z3 evaluates
        bad = [loc for loc in sorted(set(enc.init_state[:-1]))
               if not z3.is_true(z3.simplify(enc.at(by_name[name].expr, const_env(enc, loc))))]
        if bad:
            out.why[name] = "fails initiation"
        else:
            alive.append(name)
    step = _solver(enc.ctx)
    step.add(enc.local_bounds(pre), enc.local_bounds(post),
             enc.local_step(pre, post, picks), z3.PbEq([(p, 1) for p in picks.values()], 1),
             out.kernel(pre))
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
    pre, post = enc.local_vars("rpre", shared=True), enc.local_vars("rpost")
    s = _solver(enc.ctx)
    s.add(enc.local_bounds(pre), enc.local_bounds(post), result.local(pre), result.kernel(pre))
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
