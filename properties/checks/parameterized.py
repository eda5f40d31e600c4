"""Per-negotiation properties for any number of negotiations, from a one-component proof.

Assumptions (the first three are checked here, on the actions of the configuration):

A1  Every action reads and writes the variables of one negotiation component only: its guard
    and update expressions mention only ``Layout.names`` and its updates assign only them, and
    the encoding instantiates them on that component's variables (``QMEncoding.trans``).
A2  Negotiations share no state. The one thing that relates them, SPI allocation, is not a
    variable: a host allocates SPI ``0x100 + position`` for the negotiation at ``position``, so
    SPIs are unique by construction (injective in the position) and never reused.
A3  Every negotiation starts in the initial component of its role (``Layout.initial(role)``,
    role 0 for host A initiating, 1 for host B with ``--simultaneous``), whatever N is.
A4  Interleaving semantics: one negotiation moves per step; safety needs no fairness.

Argument. Under A1-A4 the N-negotiation system is the asynchronous product of N copies of one
component. Projecting a run on one negotiation and deleting the steps of the others (which
leave it unchanged, A1/A2) gives a run of the one-component system from its initial state
(A3); conversely every run of one component is the projection of a run of the product (the
others stay still, A4). So the reachable local states of each negotiation are exactly those of
the one-component system, for every N >= 1, and:

- a local property (bad = a predicate of one component: qm.responder-installs-after-msg3,
  qm.responder-nothing-before-msg3, qm.initiator-spi-after-msg2, qm.agreement,
  qm.no-black-hole, qm.no-orphan) holds for every N iff it holds for one component of each
  role; a counterexample of one component is one for every N, with the same length;
- qm.reachable-installed likewise (a goal reachable by one component is reachable in the
  product, and vice versa);
- qm.no-deadlock: a product state has no successor iff no component has one, so there is a
  deadlock for some N iff one component can reach a state that has no successor and is not
  quiescent, which is qm.no-deadlock of the one-component system;
- qm.spi-unique follows from A2 alone: two live inbound entries of one host with one SPI would
  be the same position, i.e. the same negotiation, whose two inbound entries are on different
  hosts (host = role xor side). It is a whole-state property and is covered only under A2: a
  model with an SPI allocator that reuses freed SPIs, or lets negotiations race for them, is
  not covered.

Not covered: qm.eventually-installed (liveness needs fairness across negotiations); and
anything about the kernel choosing between several SAs of one traffic (not in this model).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import z3

from qmcheck.model.quickmode.compiled import QMModel
from qmcheck.model.quickmode.expressions import variables
from qmcheck.model.quickmode.interface import State
from qmcheck.model.quickmode.options import QMOptions
from qmcheck.properties.results import Result

ASSUMPTIONS: tuple[str, ...] = (
    "A1: every action reads and writes one negotiation component only",
    "A2: negotiations share no variable; SPIs are 0x100 + position (unique by construction, "
    "never reused): SPI allocation is the only relation between negotiations",
    "A3: every negotiation starts in the initial component of its role, whatever N is",
    "A4: interleaving semantics (one negotiation moves per step); safety needs no fairness",
)
COVERED: tuple[str, ...] = (
    "qm.responder-installs-after-msg3", "qm.responder-nothing-before-msg3",
    "qm.initiator-spi-after-msg2", "qm.spi-unique", "qm.agreement", "qm.no-black-hole",
    "qm.no-orphan", "qm.no-deadlock", "qm.reachable-installed")
NOT_COVERED: tuple[str, ...] = ("qm.eventually-installed",)


class OneComponent(QMModel):
    """The model of a single negotiation of one role (the projection of any N)."""

    def __init__(self, options: QMOptions, role: int) -> None:
        super().__init__(options.with_(negotiations=1, simultaneous=False))
        self.role = role

    def init_states(self) -> list[State]:
        return [(self.layout.initial(self.role),)]


def check_locality(model: QMModel) -> list[str]:
    """Violations of A1 in the actions of ``model`` (empty when it holds)."""
    names = set(model.layout.names)
    problems: list[str] = []
    for action in model.action_list:
        read = variables(action.guard)
        for target, expr in action.updates:
            read |= variables(expr)
            if target not in names:
                problems.append(f"{action.id} assigns {target}")
        problems += [f"{action.id} reads {n}" for n in sorted(read - names)]
    return problems


def spi_allocation_is_injective(positions: int = 64) -> bool:
    """A2 by z3: distinct positions get distinct SPIs (0x100 + p, as 32-bit SPIs)."""
    p, q = z3.BitVecs("p q", 32)
    s = z3.Solver()
    s.add(z3.ULT(p, positions), z3.ULT(q, positions), p != q, 0x100 + p == 0x100 + q)
    same_host = z3.Solver()
    role = z3.BitVec("role", 1)
    same_host.add(role ^ 0 == role ^ 1)  # one negotiation's two inbound entries, one host
    return s.check() == z3.unsat and same_host.check() == z3.unsat


def parameterized_results(options: QMOptions, property_ids: Sequence[str] | None = None
                          ) -> list[Result]:
    """The covered properties for any number of negotiations (subject label ``N=any``)."""
    from qmcheck.properties.checks.protocol import validate_ids
    from qmcheck.properties.engines.smt import SmtEngine

    ids = [p for p in validate_ids(property_ids) if p in COVERED]
    roles = (0, 1) if options.simultaneous else (0,)
    problems = check_locality(QMModel(options))
    injective = spi_allocation_is_injective()
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
        if problems or not injective:
            verdict, message = "unknown", "assumptions fail: " + "; ".join(
                problems or ["SPI allocation is not injective"])
        elif pid == "qm.reachable-installed":
            if any(o.status == "cex" for o in outs):
                verdict, message = "holds", "an installed pair is reachable for every N >= 1"
            elif all(o.status == "proved" for o in outs):
                verdict, message = "refuted", "no negotiation can install, for any N"
            else:
                verdict, message = "unknown", "undecided on one component"
        elif pid == "qm.spi-unique":
            verdict = "holds"
            message = "for any N by construction (A2, checked: distinct positions, distinct SPIs)"
        elif any(o.status == "cex" for o in outs):
            depth = min(o.depth for o in outs if o.status == "cex")
            verdict = "refuted"
            message = f"refuted for every N >= 1: one negotiation violates it in {depth} steps"
            extra["trace_length"] = depth
        elif all(o.status == "proved" for o in outs):
            verdict = "holds"
            k = max(o.depth for o in outs)
            message = (f"holds for any number of negotiations: {k}-induction on one component "
                       f"of each role, under assumptions A1-A4")
            extra["k"] = k
        else:
            verdict = "unknown"
            message = "not proved on one component"
        results.append(Result(property=pid, verdict=verdict,  # type: ignore[arg-type]
                              subject=(options.profile, label), engine="smt",
                              message=message, extra=extra))
    return results
