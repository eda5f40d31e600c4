"""The plain approach to ``policy.shadowed``: one fresh z3 query per policy over all earlier
policies that overlap it, built with ``smt_encoding.policy_match``.

It is the baseline of ``benchmarks/bench_conflicts.py`` and a second, independent engine for
the question "which policies are never the first match", which tests compare with
``policy_checks`` on sets too large for the brute-force evaluator.
"""

from __future__ import annotations

import z3

from qmcheck.model.encodings.overlap_index import boxes_meet, policy_boxes
from qmcheck.model.encodings.z3_policies import fresh_packet, policy_match
from qmcheck.model.values.policy import Host


def never_first(host: Host) -> set[str]:
    """Names of the explicit policies that are the first match of no packet (any family)."""
    ordered = [p for p in host.ordered() if not p.implicit]
    families = sorted({p.family for p in ordered if p.family is not None} | (
        {4, 6} if any(p.family is None for p in ordered) else set()))
    alive: set[str] = set()
    dead: set[str] = set()
    for family in families:
        scope = [p for p in ordered if p.family in (None, family)]
        boxes = [policy_boxes(p, family) for p in scope]  # type: ignore[arg-type]
        pkt = fresh_packet(family)  # type: ignore[arg-type]
        for j, p in enumerate(scope):
            earlier = [q for k, q in enumerate(scope[:j])
                       if any(boxes_meet(a, b) for a in boxes[j] for b in boxes[k])]
            solver = z3.Solver()
            solver.add(pkt.well_formed(), policy_match(p, pkt),
                       *[z3.Not(policy_match(q, pkt)) for q in earlier])
            result = solver.check()
            if result == z3.sat:
                alive.add(p.name)
            elif result == z3.unsat:
                dead.add(p.name)
            else:
                raise RuntimeError(f"z3 gave up on {p.name}")
    return dead - alive
