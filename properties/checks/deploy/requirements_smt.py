"""``req.<name>`` on z3: the twin of ``requirements`` (cells) for host pairs whose partition
is too large to enumerate.

The pair is encoded by ``z3_negotiation.PairEncoding`` (sender as initiator) with the
traffic's bounds added to its compressed coordinates. For each policy ``n`` of the sender
(and the packets no policy matches, without a default) one query asks for a packet of the
traffic (or of its replies) in ``n``'s region that breaks the requirement: through the
responder's choice and the narrowing coverage (``success``), the accepted transform (a
constant of ``n`` and the choice) and the receiver's own lookup. Each witness is moved to a
natural value of its cell and judged again by the concrete semantics (``requirements.judge``),
which words the reason. A timeout leaves the requirement unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import z3

from qmcheck.model.encodings.z3_negotiation import const, in_range, region_terms, to_z3
from qmcheck.model.formats.requirements_file import Requirement
from qmcheck.model.quickmode.profiles import negotiation_options
from qmcheck.model.semantics.negotiation import choose_proposal
from qmcheck.model.values.addresses import Family
from qmcheck.model.values.policy import Host, Scenario
from qmcheck.properties.checks.deploy.negotiation_smt import (
    SharedEncoding,
    natural_packet,
    prefer_natural,
    union_points,
)
from qmcheck.properties.checks.deploy.requirements import Violation, judge, traffic_boxes


@dataclass
class SmtRequirementCheck:
    """Violations found by z3 (one per sender policy at most) or why it is unknown."""

    requirement: Requirement
    violations: list[Violation] = field(default_factory=list)
    unknown: str | None = None
    queries: int = 0


def _encoding(sender: Host, receiver: Host, family: Family, req: Requirement,
              profile: str) -> SharedEncoding:
    pts = [set(d) for d in union_points([(sender, receiver)], family)]
    for reverse in (False, True):
        for b in traffic_boxes(req.traffic, family, reverse):
            for d in range(4):
                pts[d].add(b[2 * d])
                top = (1 << (32 if family == 4 else 128)) - 1 if d < 2 else 65535
                if b[2 * d + 1] < top:
                    pts[d].add(b[2 * d + 1] + 1)
    return SharedEncoding(sender, receiver, family, negotiation_options(profile),
                          shared=[sorted(d) for d in pts])


def _traffic(enc: SharedEncoding, req: Requirement, family: Family) -> z3.BoolRef:
    p = enc.p
    ways = []
    for reverse in (False, True):
        for b in traffic_boxes(req.traffic, family, reverse):
            parts = [in_range(v, b[2 * d], b[2 * d + 1])
                     for d, v in enumerate((p.local, p.remote, p.lport, p.rport))]
            if (b[8], b[9]) != (0, 255):
                parts.append(p.protocol == const(b[8], 8, enc.ctx))
            ways.append(z3.And(*[to_z3(x, enc.ctx) for x in parts]))
    return z3.Or(*ways) if ways else z3.BoolVal(False, enc.ctx)


def _bad(enc: SharedEncoding, req: Requirement, n: int | None) -> tuple[z3.BoolRef,
                                                                        z3.BoolRef]:
    """(region of ``n``, the requirement fails there)."""
    ctx = enc.ctx
    false = z3.BoolVal(False, ctx)
    if n is None:
        region = to_z3(z3.And(enc.scope, *[to_z3(enc.i_not(k), ctx)
                                          for k in range(len(enc.i_order))]), ctx)
        look, lcands = enc.lookup(None)
        i = None
    else:
        terms = region_terms(enc, n)
        region = terms.region
        look, lcands = enc.lookup(enc.i_boxes[n])
        i = enc.i_order[n]

    def r_is(verdict: str) -> z3.BoolRef:
        return z3.Or(false, *[look == const(k, enc.bits, ctx) for k in lcands
                              if enc.r_order[k].action.verdict == verdict])

    s_verdict = i.action.verdict if i is not None else None
    mode, what = req.mode, req.treatment
    if what == "protect":
        if i is None or not i.action.is_ipsec:
            return region, z3.BoolVal(mode == "must", ctx)
        chosen, cover, cands = enc.choice(n)  # type: ignore[arg-type]
        allowed = None if req.transforms is None else {t.algorithms for t in req.transforms}
        good = []
        for k in cands:
            q = enc.r_order[k]
            if not q.action.is_ipsec:
                continue
            t = choose_proposal(i.action.transforms, q.action.transforms,
                                enc.options.proposal_order)
            if t is None or (mode == "must" and allowed is not None
                             and t.algorithms not in allowed):
                continue
            good.append(z3.And(chosen == const(k, enc.bits, ctx), to_z3(cover[k], ctx)))
        success = z3.Or(false, *good)
        if mode == "must-not":
            return region, success
        return region, z3.Or(z3.Not(success), r_is("DISCARD"))
    if what == "pass":
        if mode == "must-not":
            return region, z3.BoolVal(s_verdict == "PASS", ctx)
        if s_verdict != "PASS":
            return region, z3.BoolVal(True, ctx)
        return region, z3.Not(r_is("PASS"))
    dropped = z3.Or(z3.BoolVal(s_verdict == "DISCARD", ctx), r_is("DISCARD"))
    return region, (dropped if mode == "must-not" else z3.Not(dropped))


def check_requirement_smt(req: Requirement, scenario: Scenario, profiles: list[str],
                          timeout_ms: int = 10_000) -> SmtRequirementCheck:
    """Every packet of the requirement's traffic, both ways, under every profile, on z3."""
    out = SmtRequirementCheck(req)
    a, b = (scenario.hosts[name] for name in req.between)
    wanted = profiles if req.treatment == "protect" else profiles[:1]
    kinds: set[str] = set()
    for profile in wanted:
        for sender, receiver in ((a, b), (b, a)):
            for family in req.traffic.families():
                enc = _encoding(sender, receiver, family, req, profile)
                own = ([x for f, x in sender.addresses if f == family],
                       [x for f, x in receiver.addresses if f == family])
                traffic = _traffic(enc, req, family)
                regions: list[int | None] = list(range(len(enc.i_order)))
                if sender.default_action is None:
                    regions.append(None)
                for n in regions:
                    region, bad = _bad(enc, req, n)
                    if z3.is_false(z3.simplify(bad)):
                        continue
                    solver = z3.Solver(ctx=enc.ctx)
                    solver.set("timeout", timeout_ms)
                    solver.add(region, traffic, bad)
                    answer = solver.check()
                    out.queries += 1
                    if answer == z3.unknown:
                        out.unknown = "z3 gave no answer in time"
                        continue
                    if answer == z3.unsat:
                        continue
                    model = prefer_natural(solver, enc)
                    v = None
                    for packet in (natural_packet(enc, model, own), enc.concrete(model)):
                        v = judge(req, sender, receiver, packet, profile)
                        if v is not None:
                            break
                    if v is None:
                        raise AssertionError(f"{req.property_id}: z3 witness does not "
                                             "replay")
                    if v.kind not in kinds:
                        kinds.add(v.kind)
                        out.violations.append(v)
    return out
