"""The negotiation part of ``diff.changed`` on z3: the twin of ``negotiation_diff`` (cells)
for host pairs whose partition is too large to enumerate.

Both versions of the pair are encoded by ``z3_negotiation.PairEncoding`` over one shared set
of compressed coordinates (the union of both versions' breakpoints), so that the packet
variables of the two encodings mean the same packet; the old encoding's terms are translated
into the new one's context. An outcome (status, accepted transform) is a function of the
initiator's policy and the responder's choice, so for each pair of initiator policies (old
``n``, new ``m``) whose boxes meet, the query asks for a packet in both regions whose two
choices give different outcomes; each model names one (choice, choice) combination, which
is recorded, blocked and asked again until none is left. Each witness is moved to a natural
value of its cell and replayed by the concrete semantics. No sizes: that is what cells give.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from types import SimpleNamespace

import z3

from qmcheck.model.encodings.z3_negotiation import PairEncoding, const, region_terms, to_z3
from qmcheck.model.quickmode.profiles import negotiation_options
from qmcheck.model.semantics.negotiation import NegotiationOptions, choose_proposal, negotiate
from qmcheck.model.values.addresses import Family
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Host, Policy
from qmcheck.model.values.protocols import PORT_PROTOCOLS
from qmcheck.properties.checks.deploy.cells import EPHEMERAL, families
from qmcheck.properties.checks.deploy.negotiation_diff import outcome_key


@dataclass
class SharedEncoding(PairEncoding):
    """A pair encoding whose compressed coordinates are given (shared by two versions)."""

    shared: list[list[int]] = field(default_factory=list)

    def _breakpoints(self) -> list[list[int]]:
        return self.shared


def union_points(pairs: list[tuple[Host, Host]], family: Family) -> list[list[int]]:
    """The breakpoints of every pair's encoding, merged per dimension."""
    dims: list[set[int]] = [set(), set(), set(), set()]
    for i, r in pairs:
        probe = SimpleNamespace(
            initiator=i, responder=r, family=family,
            i_order=[q for q in i.applicable("out") if q.family in (None, family)],
            r_order=[q for q in r.applicable("in") if q.family in (None, family)],
            r_out_order=[q for q in r.applicable("out") if q.family in (None, family)])
        for d, pts in enumerate(PairEncoding._breakpoints(probe)):  # type: ignore[arg-type]
            dims[d] |= set(pts)
    return [sorted(d) for d in dims]


def _key(i: Policy | None, r: Policy | None, chosen_none: bool,
         opts: NegotiationOptions) -> Hashable:
    """The outcome of a negotiation started under ``i`` whose responder chose ``r``."""
    if i is None or not i.action.is_ipsec:
        return ("not-protected", None)
    if chosen_none or r is None:
        return ("INVALID_ID_INFORMATION", None)
    if not r.action.is_ipsec:
        return ("NO_PROPOSAL_CHOSEN", None)
    accepted = choose_proposal(i.action.transforms, r.action.transforms, opts.proposal_order)
    return ("NO_PROPOSAL_CHOSEN", None) if accepted is None else ("accepted", str(accepted))


@dataclass
class SmtPairDiff:
    """(old outcome, new outcome, old policy names, new policy names) -> witness packet; the
    initiator policy pairs left undecided."""

    regions: dict[Hashable, Packet] = field(default_factory=dict)
    unknown: list[tuple[str, str]] = field(default_factory=list)
    queries: int = 0


def _choices(enc: PairEncoding, n: int | None
             ) -> tuple[z3.BoolRef, list[tuple[z3.BoolRef, Policy | None, bool]]]:
    """Region of I's ``n``-th policy (None: no policy matches) and the responder's possible
    choices as (condition, policy, chosen none)."""
    if n is None:
        region = to_z3(z3.And(enc.scope, *[to_z3(enc.i_not(k), enc.ctx)
                                           for k in range(len(enc.i_order))]), enc.ctx)
        return region, [(z3.BoolVal(True, enc.ctx), None, True)]
    terms = region_terms(enc, n)
    if not enc.i_order[n].action.is_ipsec:
        return terms.region, [(z3.BoolVal(True, enc.ctx), None, True)]
    out = [(terms.chosen == const(k, enc.bits, enc.ctx), enc.r_order[k], False)
           for k in terms.candidates]
    out.append((terms.chosen == const(enc.none, enc.bits, enc.ctx), None, True))
    return terms.region, out


def prefer_natural(solver: z3.Solver, enc: PairEncoding) -> z3.ModelRef:
    """A model in a natural cell when there is one: TCP, one ephemeral port (the solver is
    at a satisfiable point; the preferences are kept only inside one push level)."""
    p = enc.p
    ports = []
    for var, pts in ((p.lport, enc.points[2]), (p.rport, enc.points[3])):
        k = max(i for i, start in enumerate(pts) if start <= EPHEMERAL)
        ports.append(var == const(k, var.size(), enc.ctx))
    solver.push()
    for group in ([p.protocol == 6], ports):  # TCP; then one ephemeral port, local first
        for pref in group:
            solver.push()
            solver.add(pref)
            ok = solver.check() == z3.sat
            solver.pop()
            if ok:
                solver.add(pref)
                break
    solver.check()
    model = solver.model()
    solver.pop()
    return model


def natural_packet(enc: PairEncoding, model: z3.ModelRef, own: tuple[list[int], list[int]]
             ) -> Packet:
    """The model's cell, shown by a value a person would write (checked by the caller)."""
    raw = enc.concrete(model)
    values = []
    for d, (var, pts) in enumerate(zip(enc.p.variables()[:4], enc.points, strict=True)):
        k = min(model.eval(var, model_completion=True).as_long(), len(pts) - 1)  # type: ignore[union-attr]
        lo = pts[k]
        hi = pts[k + 1] - 1 if k + 1 < len(pts) else (
            (1 << (32 if enc.family == 4 else 128)) - 1 if d < 2 else 65535)
        if d < 2:
            mine = [a for a in own[d] if lo <= a <= hi]
            values.append(mine[0] if mine else (lo + 1 if hi - lo >= 2 else lo))
        else:
            values.append(lo if lo == hi else (EPHEMERAL if lo <= EPHEMERAL <= hi
                                               else max(lo, 1) if hi >= 1 else lo))
    if raw.protocol not in PORT_PROTOCOLS:
        values[2] = values[3] = 0
    return Packet(enc.family, values[0], values[1], raw.protocol, values[2], values[3], "out")


def diff_pair_smt(old_i: Host, old_r: Host, new_i: Host, new_r: Host, profile: str,
                  timeout_ms: int = 10_000) -> SmtPairDiff:
    """Every (old outcome, new outcome, policies) combination that some packet of I toward
    R shows, with a witness each."""
    opts = negotiation_options(profile)
    out = SmtPairDiff()
    for family in families([old_i, old_r, new_i, new_r]):
        pts = union_points([(old_i, old_r), (new_i, new_r)], family)
        old = SharedEncoding(old_i, old_r, family, opts, shared=pts)
        new = SharedEncoding(new_i, new_r, family, opts, shared=pts)
        ctx = new.ctx
        own = ([a for h in (old_i, new_i) for f, a in h.addresses if f == family],
               [a for h in (old_r, new_r) for f, a in h.addresses if f == family])
        scope = z3.Or(old.scope.translate(ctx), new.scope)
        olds: list[int | None] = list(range(len(old.i_order)))
        news: list[int | None] = list(range(len(new.i_order)))
        if old_i.default_action is None:
            olds.append(None)
        if new_i.default_action is None:
            news.append(None)
        cached: dict[int | None, tuple[z3.BoolRef, list[tuple[z3.BoolRef, Policy | None,
                                                                 bool]]]] = {}
        for n in olds:
            region_o, choices_o = _choices(old, n)
            region_o = region_o.translate(ctx)
            choices_o = [(c.translate(ctx), p, none) for c, p, none in choices_o]
            for m in news:
                if n is not None and m is not None and not old.i_boxes[n].meets(
                        new.i_boxes[m]):
                    continue
                if m not in cached:
                    cached[m] = _choices(new, m)
                region_n, choices_n = cached[m]
                pi = old.i_order[n] if n is not None else None
                qi = new.i_order[m] if m is not None else None
                combos = [(z3.And(co, cn), (po, pn))
                          for co, po, no in choices_o for cn, pn, nn in choices_n
                          if _key(pi, po, no, opts) != _key(qi, pn, nn, opts)]
                if not combos:
                    continue
                solver = z3.Solver(ctx=ctx)
                solver.set("timeout", timeout_ms)
                solver.add(scope, region_o, region_n)
                live = list(combos)
                while live:
                    solver.push()
                    solver.add(z3.Or(*[c for c, _ in live]))
                    answer = solver.check()
                    out.queries += 1
                    if answer != z3.sat:
                        solver.pop()
                        if answer != z3.unsat:
                            out.unknown.append((pi.name if pi else "-", qi.name if qi else "-"))
                        break
                    model = prefer_natural(solver, new)
                    solver.pop()
                    hit = [x for x in live if z3.is_true(model.eval(x[0],
                                                                    model_completion=True))]
                    live = [x for x in live if all(x is not h for h in hit)]
                    packet = natural_packet(new, model, own)
                    a, b = (negotiate(old_i, old_r, packet, opts),
                            negotiate(new_i, new_r, packet, opts))
                    if outcome_key(a) == outcome_key(b):  # the natural value left the cell?
                        packet = new.concrete(model)
                        a, b = (negotiate(old_i, old_r, packet, opts),
                                negotiate(new_i, new_r, packet, opts))
                    (_, (po, pn)), = hit
                    expected = (_key(pi, po, po is None, opts), _key(qi, pn, pn is None, opts))
                    if (outcome_key(a), outcome_key(b)) != expected:
                        raise AssertionError(f"z3 negotiation diff witness {packet} does "
                                             f"not replay: {expected} vs {outcome_key(a)}, "
                                             f"{outcome_key(b)}")
                    key = (outcome_key(a), outcome_key(b), _names(a), _names(b))
                    out.regions.setdefault(key, packet)
    return out


def _names(o: object) -> tuple[str | None, str | None]:
    i = getattr(o, "initiator_policy", None)
    r = getattr(o, "responder_policy", None)
    return (i.name if i else None, r.name if r else None)
