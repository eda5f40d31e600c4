"""Per-negotiation properties for any number of negotiations, from a one-component proof.

The v2 model shares state between negotiations (each host's SPI allocator), so the claim is
made only where its assumptions are checked, and says "unknown" where they do not carry it.

A1  Locality: every action reads and writes the variables of its own negotiation component and
    the shared kernel variables only (checked on the action expressions: ``check_locality``).
A2  The only shared state is the SPI allocators, and no guard reads it: a negotiation's control
    flow never depends on the others (checked: ``check_shared``).
A3  One allocation per host and negotiation, from a counter that never goes back: every
    negotiation gets a value no other negotiation of that host got (checked by exploring one
    negotiation: each allocator advances at most once; ``check_allocations``). With a constant
    allocator this fails, and qm.spi-unique is then decided by a run with two negotiations.
A4  Every negotiation starts in the initial component of its role, whatever N is (by
    construction of ``init_states``); interleaving semantics, safety needs no fairness.
A5  SPI values are data: a negotiation's behaviour does not depend on which fresh value it got.
    NOT checked. The one-component proof uses the first values of the allocators, so properties
    that compare SPI values (qm.agreement, qm.no-black-hole) are reported unknown when they hold
    on one component; a refutation on one component is one for every N (the others stay idle).

Argument (A1, A2, A4): projecting a run of N negotiations on one of them gives a run of the
one-component system (the others' steps change only the allocators, which its guards never
read), and every one-component run is such a projection. So local properties that do not read
SPI values, qm.reachable-installed and qm.no-deadlock carry over to every N; qm.spi-unique
follows from A3. Not covered: qm.eventually-installed, qm.recovery (liveness across
negotiations), the lifecycle properties.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.expressions import variables
from qmcheck.model.quickmode.interface import State
from qmcheck.model.quickmode.options import QMOptions
from qmcheck.properties.results import Result

ASSUMPTIONS: tuple[str, ...] = (
    "A1: every action reads and writes its own negotiation and the kernel's allocators only",
    "A2: the allocators are the only shared state and no guard reads them",
    "A3: one allocation per host and negotiation from a counter that never goes back",
    "A4: every negotiation starts in the initial component of its role; interleaving",
    "A5 (not checked): SPI values are data (behaviour does not depend on the value allocated)",
)
COVERED: tuple[str, ...] = (
    "qm.responder-installs-after-msg3", "qm.responder-nothing-before-msg3",
    "qm.initiator-spi-after-msg2", "qm.spi-unique", "qm.agreement", "qm.no-black-hole",
    "qm.no-orphan", "qm.no-deadlock", "qm.reachable-installed",
    "qm.initiator-nothing-before-msg2", "qm.no-larval-leak")
#: Covered properties that compare SPI values: "holds" on one component needs A5.
NEEDS_A5: tuple[str, ...] = ("qm.agreement", "qm.no-black-hole")
NOT_COVERED: tuple[str, ...] = ("qm.eventually-installed", "qm.recovery",
                                "qm.rekey-no-black-hole", "qm.orphan-heals",
                                "qm.rekey-keeps-outbound")


class OneComponent(QMModel):
    """The model of a single negotiation of one role (the projection of any N)."""

    def __init__(self, options: QMOptions, role: int) -> None:
        super().__init__(options.with_(negotiations=1, simultaneous=False))
        self.role = role

    def init_states(self) -> list[State]:
        return [(self.layout.initial(self.role), self.layout.initial_shared())]


def check_locality(model: QMModel) -> list[str]:
    """Violations of A1 in the actions of ``model`` (empty when it holds)."""
    names = set(model.layout.names) | set(model.layout.shared_names)
    problems: list[str] = []
    for action in model.action_list:
        read = variables(action.guard)
        for target, expr in action.updates:
            read |= variables(expr)
            if target not in names:
                problems.append(f"{action.id} assigns {target}")
        problems += [f"{action.id} reads {n}" for n in sorted(read - names)]
    return problems


def check_shared(model: QMModel) -> list[str]:
    """Violations of A2: shared variables other than the allocators, or guards reading them."""
    shared = set(model.layout.shared_names)
    problems = [f"shared variable {n} is not an SPI allocator" for n in sorted(shared)
                if n not in ("kA", "kB")]
    for action in model.action_list:
        problems += [f"{action.id}'s guard reads {n}"
                     for n in sorted(variables(action.guard) & shared)]
    return problems


def check_allocations(model: QMModel, limit: int = 200_000) -> list[str]:
    """Violations of A3 on one negotiation: an allocator that goes back, advances more than
    once, or hands out a value twice (a constant allocator)."""
    one = OneComponent(model.options, 0)
    start = one.init_states()[0]
    seen = {start}
    todo = [start]
    problems: set[str] = set()
    idx = one.layout.index
    while todo and len(seen) < limit:
        st = todo.pop()
        for c, a, t in one.successors(st):
            for h, (old, new) in enumerate(zip(st[-1], t[-1], strict=True)):
                if new < old or new > start[-1][h] + 1:
                    problems.add(f"{one.action_list[a].id}: allocator {'AB'[h]} goes "
                                 f"{old} -> {new}")
            before = (st[c][idx["iis"]], st[c][idx["ris"]])
            after = (t[c][idx["iis"]], t[c][idx["ris"]])
            for side, (b, n) in enumerate(zip(before, after, strict=True)):
                if b == 0 and n != 0 and st[-1] == t[-1]:
                    problems.add(f"{one.action_list[a].id}: the {'IR'[side]} side got SPI {n} "
                                 "without the allocator advancing")
            if t not in seen:
                seen.add(t)
                todo.append(t)
    if todo:
        problems.add("the one-negotiation model exceeds the exploration budget")
    return sorted(problems)


def parameterized_results(options: QMOptions, property_ids: Sequence[str] | None = None
                          ) -> list[Result]:
    """The covered properties for any number of negotiations (subject label ``N=any``)."""
    from qmcheck.properties.checks.protocol import validate_ids
    from qmcheck.properties.engines.smt import SmtEngine

    ids = [p for p in validate_ids(property_ids) if p in COVERED]
    roles = (0, 1) if options.simultaneous else (0,)
    model = QMModel(options)
    problems = check_locality(model) + check_shared(model)
    allocation = check_allocations(model)
    label = options.label().rsplit(",N=", 1)[0] + ",N=any"
    per_role: list[dict[str, Any]] = []
    for role in roles:
        engine = SmtEngine(OneComponent(options, role))
        run = engine.run(ids)
        per_role.append({p: run.outcomes["not-goal" if p == "qm.reachable-installed" else p]
                         for p in ids})
    results: list[Result] = []
    for pid in ids:
        outs = [d[pid] for d in per_role]
        extra: dict[str, Any] = {"parameterized": True, "assumptions": list(ASSUMPTIONS),
                                 "roles": list(roles), "options": options.to_dict()}
        if problems:
            verdict, message = "unknown", "assumptions fail: " + "; ".join(problems)
        elif pid == "qm.reachable-installed":
            if any(o.status == "cex" for o in outs):
                verdict, message = "holds", "an installed pair is reachable for every N >= 1"
            elif all(o.status == "proved" for o in outs):
                verdict, message = "refuted", "no negotiation can install, for any N"
            else:
                verdict, message = "unknown", "undecided on one component"
        elif pid == "qm.spi-unique":
            verdict, message = spi_unique_any_n(options, allocation)
        elif any(o.status == "cex" for o in outs):
            depth = min(o.depth for o in outs if o.status == "cex")
            verdict = "refuted"
            message = f"refuted for every N >= 1: one negotiation violates it in {depth} steps"
            extra["trace_length"] = depth
        elif all(o.status == "proved" for o in outs) and pid in NEEDS_A5:
            verdict = "unknown"
            message = ("holds on one component with the allocators' first values; for any N "
                       "this needs A5 (SPI values are data), which is not checked")
        elif all(o.status == "proved" for o in outs):
            verdict = "holds"
            k = max(o.depth for o in outs)
            message = (f"holds for any number of negotiations: {k}-induction on one component "
                       f"of each role, under assumptions A1, A2 and A4 (checked)")
            extra["k"] = k
        else:
            verdict = "unknown"
            message = "not proved on one component"
        results.append(Result(property=pid, verdict=verdict,  # type: ignore[arg-type]
                              subject=(options.profile, label), engine="smt",
                              message=message, extra=extra))
    return results


def spi_unique_any_n(options: QMOptions, allocation: list[str]) -> tuple[str, str]:
    """qm.spi-unique for any N: from A3 when it holds, else from two negotiations."""
    if not allocation:
        return "holds", ("for any N: each negotiation gets one fresh value per host from a "
                         "counter that never goes back (A3, checked)")
    from qmcheck.properties.checks.protocol import check_protocol

    two = check_protocol(options.with_(negotiations=2, timers="patient"), ["qm.spi-unique"],
                         max_states=2_000_000).results[0]
    if two.verdict == "refuted":
        return "refuted", ("refuted for every N >= 2 (two negotiations collide; A3 fails: "
                           f"{allocation[0]})")
    return "unknown", f"A3 fails ({allocation[0]}) and two negotiations do not decide it"
