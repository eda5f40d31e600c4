"""The two-host properties ``peers.negotiation``, ``peers.consistency`` and ``peers.symmetry``
(docs/SPEC.md 4), decided by z3 over all packets, each host in turn as the initiator.

For every policy ``i`` of the initiator I, ``smt_negotiation`` gives the region of packets
whose first match is ``i`` and, over it, the responder's choice and lookup. A refutation is a
packet in some region; its witness is replayed by the concrete semantics (``negotiate``,
``lookup``), which also words the reason. Regions are solved in batches: one query asks
whether any region of the batch holds a bad packet; a model names one (region, property)
pair, which is recorded and dropped, and the query is repeated until it is unsatisfiable.
A solver timeout gives ``unknown`` for what the batch left undecided, never ``holds``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import z3

from qmcheck.model.encodings.z3_negotiation import (
    PairEncoding,
    RegionTerms,
    conj,
    eq_bv,
    in_range,
    neg,
    region_terms,
    responder_region,
    to_z3,
)
from qmcheck.model.quickmode.profiles import negotiation_options
from qmcheck.model.semantics.lookup import (
    lookup,
    reply_agrees,
    tunnels_elsewhere,
    tunnels_to,
)
from qmcheck.model.semantics.negotiation import (
    MODE_RULES,
    PROFILE_OPTIONS,
    ModeRule,
    NegotiationOptions,
    Outcome,
    negotiate,
)
from qmcheck.model.semantics.witness import RegionIndex, natural_packet
from qmcheck.model.values.addresses import AddressValue, Family, address_text
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Host, Policy
from qmcheck.properties.checks.peers_search import Replayer, presearch
from qmcheck.properties.results import Result

PROPERTIES = ("peers.negotiation", "peers.consistency", "peers.symmetry")
MEANING = {
    "peers.negotiation": "every packet {i} protects toward {r} negotiates: {r} finds a policy "
                         "for the selectors, an IPsec one sharing a transform",
    "peers.consistency": "for every packet {i} protects toward {r}, the policy {r} chose from "
                         "the selectors is the one its own packet lookup applies",
    "peers.symmetry": "no packet from {i} to {r} is protected by one side and passed or "
                      "discarded by the other",
    "peers.tunnel": "every tunnel {i} negotiates toward {r} ends at {r}'s own address and back "
                    "at {i}'s, and both sides agree on tunnel or transport mode",
}
TUNNEL = "peers.tunnel"
BATCH = 64
HEAVY = 150  # regions mentioning more policies are solved one by one
DEFAULT_TIMEOUT = 60.0
INDEXED_REPLAY = 200  # policies of both hosts beyond which witnesses replay on cut-down hosts


def in_scope(initiator: Host, responder: Host, packet: Packet,
             others: tuple[AddressValue, ...] = ()) -> bool:
    """A packet from the initiator toward the responder: from the initiator's scope (its
    protected subnets or else its addresses, when given) to the responder's, or sent to the
    responder by a tunnel policy whose end point is the responder's own address (traffic the
    initiator tunnels to another gateway is not toward the responder). A tunnelled
    packet outside the responder's scope counts for ``peers.negotiation`` (and
    ``peers.tunnel``) only: Quick Mode must succeed for it (narrowing may leave it out: the
    responder does not protect that destination), while consistency and symmetry concern
    the responder's own scope."""
    if not host_scope_contains(initiator, packet.family, packet.src):
        return False
    # only a tunnel policy's first match changes the answer: no lookup without tunnels
    first = lookup(initiator, packet) if initiator.tunnelled else None
    if tunnels_to(first, responder):
        return True
    return (not tunnels_elsewhere(first, responder, others)
            and host_scope_contains(responder, packet.family, packet.dst))


def host_scope_contains(host: Host, family: int, address: int) -> bool:
    """The address is in the host's scope (every address when the host names none)."""
    values = host.scope_values()
    return not values or any(v.contains(family, address) for v in values)


def host_scope(host: Host) -> dict[str, Any]:
    """The address sets analysed for a host and why (docs/SPEC.md 8): its own addresses and, for
    a gateway, the subnets it protects; every address when it names none."""
    if not host.scope_values():
        return {"addresses": ["0.0.0.0/0", "::/0"], "reason": "everything"}
    reason = "protected subnets" if host.protects else "own addresses"
    return {"addresses": [str(v) for v in host.scope_values()], "reason": reason}


def pair_scope(a: Host, b: Host) -> dict[str, dict[str, Any]]:
    """The ``scope`` of a two-host report."""
    return {a.name: host_scope(a), b.name: host_scope(b)}


@dataclass(frozen=True)
class PacketVerdict:
    """What the concrete semantics says about one outbound packet of the initiator."""

    outcome: Outcome
    responder_lookup: Policy | None
    failed: tuple[str, ...]  # the property ids this packet refutes
    # (initiator, responder) as replayed: context for messages, not part of the verdict (a
    # replay on hosts cut down by the index gives the same verdict)
    hosts: tuple[Host, Host] | None = field(default=None, compare=False)
    tunnel_reason: str = field(default="", compare=False)  # why peers.tunnel fails, if it does

    @property
    def initiator_policy(self) -> Policy | None:
        return self.outcome.initiator_policy


def concrete_verdict(initiator: Host, responder: Host, packet: Packet,
                     options: NegotiationOptions,
                     others: tuple[AddressValue, ...] = ()) -> PacketVerdict:
    """The three properties on one packet: the brute-force oracle of the SMT encoding."""
    out = negotiate(initiator, responder, packet, options)
    pkt = out.packet
    arriving = lookup(responder, pkt.as_seen_by_peer())
    reply = lookup(responder, pkt.as_seen_by_peer().reversed())
    i_ipsec = out.initiator_policy is not None and out.initiator_policy.action.is_ipsec
    r_ipsec = arriving is not None and arriving.action.is_ipsec
    # to the responder's own scope; otherwise only tunnelled there (see ``in_scope``)
    mine = (host_scope_contains(responder, pkt.family, pkt.dst)
            and not tunnels_elsewhere(arriving, initiator, others))
    ok = out.succeeded and (out.covers_packet or not mine)
    failed = []
    if i_ipsec and not ok:
        failed.append("peers.negotiation")
    if mine and ok and not (out.responder_policy is arriving
                            and reply_agrees(arriving, reply)):
        failed.append("peers.consistency")
    if mine and i_ipsec != r_ipsec:
        failed.append("peers.symmetry")
    tunnel_reason = ""
    if i_ipsec:
        tunnel_reason = tunnel_problem(out.initiator_policy,  # type: ignore[arg-type]
                                       out.responder_policy, initiator, responder,
                                       options.mode_rule) or ""
    if tunnel_reason:
        failed.append(TUNNEL)
    return PacketVerdict(out, arriving, tuple(failed), (initiator, responder), tunnel_reason)


def _owns(host: Host, end: tuple[int, int]) -> bool:
    return any(v.contains(*end) for v in host.address_values)


def initiator_tunnel_problem(policy: Policy, responder: Host) -> str | None:
    """I's tunnel ends elsewhere than at R's own addresses (when R lists them)."""
    if policy.tunnel is None or not responder.address_values or _owns(responder,
                                                                        policy.tunnel):
        return None
    return (f"{policy.name} tunnels to {address_text(*policy.tunnel)}, not an address of "
            f"{responder.name} ({', '.join(str(v) for v in responder.address_values)})")


def responder_tunnel_problem(policy: Policy, chosen: Policy, initiator: Host,
                             mode_rule: ModeRule = "rfc2407") -> str | None:
    """R's chosen policy disagrees on the mode (unless R takes I's mode: ``mode_rule``
    ``initiator``), or tunnels elsewhere than to I."""
    if (policy.tunnel is None) != (chosen.tunnel is None) and mode_rule != "initiator":
        modes = ["tunnel" if p.tunnel is not None else "transport" for p in (policy, chosen)]
        return (f"{policy.name} is {modes[0]} mode, {chosen.name} of the responder is "
                f"{modes[1]} mode: {MODE_RULES[mode_rule]}")
    if chosen.tunnel is not None and initiator.address_values and not _owns(initiator,
                                                                            chosen.tunnel):
        return (f"{chosen.name} tunnels back to {address_text(*chosen.tunnel)}, not an "
                f"address of {initiator.name}")
    return None


def tunnel_problem(policy: Policy, chosen: Policy | None, initiator: Host, responder: Host,
                   mode_rule: ModeRule = "rfc2407") -> str | None:
    """Why the tunnel end points or modes of a negotiation do not fit (None: they do)."""
    found = initiator_tunnel_problem(policy, responder)
    if found is None and chosen is not None and chosen.action.is_ipsec:
        found = responder_tunnel_problem(policy, chosen, initiator, mode_rule)
    return found


def has_tunnels(*hosts: Host) -> bool:
    """Does a policy of one of the hosts name a tunnel end point?"""
    return any(h.tunnelled for h in hosts)


@dataclass
class Finding:
    """One refuted (or undecided) property for one initiator policy."""

    prop: str
    verdict: str  # refuted | unknown
    policy: str  # the policy whose region the packet lies in
    side: str = "I"  # I: a region of the initiator's policy; R: of the responder's
    packet: Packet | None = None
    detail: PacketVerdict | None = None


@dataclass
class DirectionReport:
    """The outcome of the three properties with ``initiator`` initiating toward ``responder``."""

    initiator: Host
    responder: Host
    profile: str
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
    regions: int = 0
    queries: int = 0


def families(initiator: Host, responder: Host) -> list[Family]:
    """The address families worth analysing (those named by policies, within the scope)."""
    named = {p.family for h in (initiator, responder) for p in h.policies if p.family}
    fams = set(named) or {4}
    for host in (initiator, responder):
        if host.scope_values():
            fams &= {v.family for v in host.scope_values()}
    return sorted(fams)  # type: ignore[return-value]


@dataclass(frozen=True)
class Item:
    """One bad-packet formula: for a region of I's policy (side "I") or R's (side "R")."""

    side: str
    n: int
    prop: str
    formula: z3.BoolRef
    weight: int


def _items(enc: PairEncoding, done: frozenset[tuple[str, int, str]] = frozenset()
           ) -> list[Item]:
    """The bad-packet formulas: negotiation and consistency over each IPsec region of I;
    symmetry over each IPsec region of I (R does not protect) and of R (I does not). Items
    in ``done`` (side, policy position, property) are left out."""
    items: list[Item] = []
    for n, policy in enumerate(enc.i_order):
        if not policy.action.is_ipsec or tunnels_elsewhere(policy, enc.responder, enc.others):
            continue
        t = region_terms(enc, n)
        w = t.weight
        # R's own traffic: in its scope, and not expected from another gateway
        mine = conj(enc.dst_scope, neg(enc.r_elsewhere(t.lookup, t.lookup_candidates)))
        for prop, bad in (("peers.negotiation", conj(t.region, neg(t.success))),
                          ("peers.consistency",
                           conj(t.region, mine, t.success,
                                neg(conj(eq_bv(t.chosen, t.lookup), t.reply_ok)))),
                          ("peers.symmetry", conj(t.region, mine, neg(t.r_ipsec))),
                          (TUNNEL, _tunnel_bad(enc, n, t))):
            if bad is not False and ("I", n, prop) not in done:
                items.append(Item("I", n, prop, to_z3(bad, enc.ctx), w))
    for k, policy in enumerate(enc.r_order):
        if (policy.action.is_ipsec and ("R", k, "peers.symmetry") not in done
                and not tunnels_elsewhere(policy, enc.initiator, enc.others)):
            region, i_ipsec, w = responder_region(enc, k)
            bad = conj(region, neg(i_ipsec))
            if bad is not False:
                items.append(Item("R", k, "peers.symmetry", to_z3(bad, enc.ctx), w))
    return items


def _tunnel_bad(enc: PairEncoding, n: int, t: RegionTerms) -> z3.BoolRef | bool:
    """Packets of I's ``n``-th region whose negotiation has a tunnel problem."""
    if not has_tunnels(enc.initiator, enc.responder):
        return False
    policy = enc.i_order[n]
    if initiator_tunnel_problem(policy, enc.responder):
        return t.region
    bad = [k for k in t.candidates if enc.r_order[k].action.is_ipsec
           and responder_tunnel_problem(policy, enc.r_order[k], enc.initiator,
                                        enc.options.mode_rule)]
    if not bad:
        return False
    return conj(t.region, z3.Or(*[t.chosen == k for k in bad]))


def _batches(items: list[Item]) -> list[list[Item]]:
    """Light items in batches of ``BATCH``; the items of a heavy region (many policies)
    together in a batch of their own (they share the region's terms)."""
    light = [it for it in items if it.weight <= HEAVY]
    out = [light[s:s + BATCH] for s in range(0, len(light), BATCH)]
    heavy: dict[tuple[str, int], list[Item]] = {}
    for it in items:
        if it.weight > HEAVY:
            heavy.setdefault((it.side, it.n), []).append(it)
    out.extend(heavy.values())
    return out


def make_solver(ctx: z3.Context, timeout_ms: int) -> z3.Solver:
    """The solver for the first check of a batch: z3's SMT core with its lazy bit-vector
    theory, which on these many small interval constraints is about twice as fast as eager
    bit-blasting (QF_BV), and faster than the incremental core on a first, unsatisfiable,
    check."""
    return z3.TryFor(z3.Tactic("smt", ctx=ctx), timeout_ms, ctx=ctx).solver()


def make_heavy_solver(ctx: z3.Context, timeout_ms: int) -> z3.Solver:
    """The solver for the first check of a heavy region's batch (the negation of thousands
    of policies): eager bit-blasting (QF_BV) takes about 2/3 of the SMT core's time there."""
    solver = z3.SolverFor("QF_BV", ctx=ctx)
    solver.set("timeout", timeout_ms)
    return solver


def make_incremental_solver(ctx: z3.Context, timeout_ms: int) -> z3.Solver:
    """The solver for the further checks of a batch that had a model: z3's incremental core,
    where refuted items are switched off and what earlier checks learned is kept (about 4x
    fewer solver seconds than a fresh solver per check)."""
    solver = z3.Solver(ctx=ctx)
    solver.set("timeout", timeout_ms)
    return solver


def _is_true(model: z3.ModelRef, formula: z3.BoolRef) -> bool:
    """``model`` satisfies ``formula`` (model completion; straight over the C API)."""
    ctx = formula.ctx
    out = (z3.Ast * 1)()
    if not z3.Z3_model_eval(ctx.ref(), model.model, formula.as_ast(), True, out):
        return False
    return bool(z3.Z3_get_bool_value(ctx.ref(), out[0]) == z3.Z3_L_TRUE)


def verdict_with(others: tuple[AddressValue, ...]
                 ) -> Callable[[Host, Host, Packet, NegotiationOptions], PacketVerdict]:
    """``concrete_verdict`` with the network's other hosts fixed (the replay function)."""
    def verdict(i: Host, r: Host, packet: Packet, options: NegotiationOptions) -> PacketVerdict:
        return concrete_verdict(i, r, packet, options, others)

    return verdict


def _solve(enc: PairEncoding, items: list[Item], timeout_ms: int, report: DirectionReport,
           initiator: Host, responder: Host, options: NegotiationOptions,
           replay: Replayer | None = None) -> None:
    """Per batch, a first check of the disjunction of its items. After a model, the batch
    moves to an incremental solver: item ``k`` guarded by a literal ``g_k`` (``g_k -> bad_k``),
    one of the guards must hold, and a refuted item's guard is asserted false. Every model
    is a packet; the items it satisfies are recorded and switched off."""
    verdict = replay or Replayer(enc, initiator, responder, options,
                                 verdict_with(enc.others), indexed=False)
    for chunk in _batches(items):
        heavy = chunk[0].weight > HEAVY  # a heavy region's batch (see _batches)
        solver = (make_heavy_solver if heavy else make_solver)(enc.ctx, timeout_ms)
        solver.add(z3.Or(*[it.formula for it in chunk]) if len(chunk) > 1
                   else chunk[0].formula)
        guards: list[z3.BoolRef] = []
        active = list(range(len(chunk)))
        while active:
            answer = solver.check()
            report.queries += 1
            if answer == z3.unsat:
                break
            if answer != z3.sat:
                report.findings.extend(Finding(chunk[k].prop, "unknown",
                                               _name(enc, chunk[k].side, chunk[k].n),
                                               chunk[k].side) for k in active)
                break
            model = _natural(solver, enc, solver.model())
            packet = enc.concrete(model)
            hit = [k for k in active if _is_true(model, chunk[k].formula)]
            if not hit:  # cannot happen: the model satisfies one of the items
                raise AssertionError("a model of the batch satisfies none of its items")
            detail = verdict(packet, (chunk[hit[0]].side, chunk[hit[0]].n))
            if not verdict.indexed:  # natural witnesses; large hosts keep the solver's packet
                packet, detail = natural_witness(initiator, responder, packet, detail, options,
                                                 enc.others)
            for k in hit:
                it = chunk[k]
                confirmed = it.prop in detail.failed
                report.findings.append(Finding(it.prop, "refuted" if confirmed else "unknown",
                                               _name(enc, it.side, it.n), it.side, packet,
                                               detail))
            done = set(hit)
            active = [k for k in active if k not in done]
            if guards:
                for k in hit:
                    solver.add(z3.Not(guards[k]))
            elif active:
                solver = make_incremental_solver(enc.ctx, timeout_ms)
                guards = [z3.Bool(f"g{k}", enc.ctx) for k in range(len(chunk))]
                for g, it in zip(guards, chunk, strict=True):
                    solver.add(z3.Implies(g, it.formula))
                solver.add(z3.Or(*[guards[k] for k in active]) if len(active) > 1
                           else guards[active[0]])


def natural_witness(initiator: Host, responder: Host, packet: Packet, detail: PacketVerdict,
                    options: NegotiationOptions,
                    others: tuple[AddressValue, ...] = ()
                    ) -> tuple[Packet, PacketVerdict]:
    """The witness moved to a natural packet of its region (``semantics.witness``), kept only
    when the concrete semantics gives it the same policies and the same failed properties."""
    focus = tuple(p for p in (detail.initiator_policy,) if p is not None)
    found: list[PacketVerdict] = []

    def same(candidate: Packet) -> bool:
        d = concrete_verdict(initiator, responder, candidate, options, others)
        found.append(d)
        return (in_scope(initiator, responder, candidate) and d.failed == detail.failed
                and d.initiator_policy is detail.initiator_policy
                and d.responder_lookup is detail.responder_lookup
                and d.outcome.responder_policy is detail.outcome.responder_policy)

    region = RegionIndex(initiator.policies, responder.policies)
    natural = natural_packet(packet, region, focus, src_addresses=initiator.addresses,
                             dst_addresses=responder.addresses, keep=same)
    return (natural, found[-1]) if natural != packet else (packet, detail)


def _natural(solver: z3.Solver, enc: PairEncoding, model: z3.ModelRef) -> z3.ModelRef:
    """A model with ports other than 0 for a protocol with ports, when the same query has
    one (a natural witness); otherwise the model as found."""
    p = enc.p
    proto = model.eval(p.protocol, model_completion=True).as_long()  # type: ignore[union-attr]
    if proto not in (6, 17, 132):
        return model
    solver.push()
    solver.add(p.protocol == proto, z3.Not(to_z3(in_range(p.lport, 0, 0), enc.ctx)),
               z3.Not(to_z3(in_range(p.rport, 0, 0), enc.ctx)))
    better = solver.model() if solver.check() == z3.sat else model
    solver.pop()
    return better


def _name(enc: PairEncoding, side: str, n: int) -> str:
    return (enc.i_order if side == "I" else enc.r_order)[n].name


def check_direction(initiator: Host, responder: Host, profile: str,
                    timeout: float = DEFAULT_TIMEOUT,
                    others: tuple[AddressValue, ...] = ()) -> DirectionReport:
    """Decide the properties with ``initiator`` initiating toward ``responder``; ``others``
    are the addresses of the network's other hosts (tunnels to them go elsewhere)."""
    options = negotiation_options(profile)
    report = DirectionReport(initiator, responder, profile)
    started = time.perf_counter()
    for family in families(initiator, responder):
        enc = PairEncoding(initiator, responder, family, options, others=others)
        report.regions += len(enc.i_order)
        large = len(enc.i_order) + len(enc.r_order) > INDEXED_REPLAY
        replay = Replayer(enc, initiator, responder, options, verdict_with(others),
                          indexed=large)
        done: set[tuple[str, int, str]] = set()
        if large:
            for prop, side, pos, packet, detail in presearch(
                    enc, replay, lambda x: in_scope(initiator, responder, x), HEAVY):
                done.add((side, pos, prop))
                report.findings.append(Finding(prop, "refuted", _name(enc, side, pos), side,
                                               packet, detail))
        items = _items(enc, frozenset(done))
        _solve(enc, items, max(1, int(timeout * 1000)), report, initiator, responder, options,
               replay)
    report.seconds = time.perf_counter() - started
    return report


def direction_results(rep: DirectionReport) -> list[Result]:
    """Report entries: each refutation with its witness; a property with none holds once."""
    i_name, r_name = rep.initiator.name, rep.responder.name
    head = f"{i_name} -> {r_name} ({rep.profile})"
    extra_base: dict[str, Any] = {"initiator": i_name, "responder": r_name,
                                  "profile": rep.profile}
    results: list[Result] = []
    props = PROPERTIES + ((TUNNEL,) if has_tunnels(rep.initiator, rep.responder) else ())
    for prop in props:
        mine = [f for f in rep.findings if f.prop == prop]
        if not mine:
            results.append(Result(prop, "holds", (), "note", "smt",
                                  f"{head}: {MEANING[prop].format(i=i_name, r=r_name)}",
                                  seconds=rep.seconds, extra=dict(extra_base)))
            continue
        for f in mine:
            results.append(_finding_result(f, head, extra_base, rep.seconds))
    return results


def _finding_result(f: Finding, head: str, extra_base: dict[str, Any], seconds: float
                    ) -> Result:
    if f.detail is None or f.packet is None:
        return Result(f.prop, "unknown", (f.policy,), "warning", "smt",
                      f"{head}: the solver gave no answer in time for the packets of "
                      f"{f.policy}", seconds=seconds, extra=dict(extra_base))
    d = f.detail
    out = d.outcome
    related = [p.name for p in (out.initiator_policy, out.responder_policy, d.responder_lookup)
               if p is not None]
    subject = tuple(dict.fromkeys(related[:2] if f.prop != "peers.symmetry"
                                  else [d.initiator_policy.name if d.initiator_policy
                                        else "<no policy>",
                                        d.responder_lookup.name if d.responder_lookup
                                        else "<no policy>"]))
    message = f"{head}: {_explain(f.prop, d, extra_base['responder'], extra_base['initiator'])}"
    witness = {"packet": out.packet.to_json(), "related": related}
    extra = dict(extra_base)
    extra["negotiation"] = out.to_json()
    if f.verdict != "refuted":
        return Result(f.prop, "unknown", subject, "warning", "smt",
                      message + "\n(the concrete replay does not confirm this witness)",
                      witness, seconds=seconds, extra=extra)
    return Result(f.prop, "refuted", subject, "error", "smt", message, witness,
                  seconds=seconds, extra=extra)


def _explain(prop: str, d: PacketVerdict, r_name: str, i_name: str) -> str:
    out = d.outcome
    look = d.responder_lookup
    look_text = f"{look.name} ({look.action})" if look else "no policy"
    if prop == "peers.negotiation":
        status = out.status if out.covers_packet else "narrowed away"
        return f"{status}: {out.reason}"
    if prop == "peers.consistency":
        chosen = out.responder_policy.name if out.responder_policy else "-"
        return (f"{r_name} negotiates under {chosen} but its packet lookup applies "
                f"{look_text} to the same traffic")
    ipol = out.initiator_policy
    if prop == TUNNEL and ipol is not None:
        return d.tunnel_reason
    i_text = f"{ipol.name} ({ipol.action})" if ipol else "no policy"
    return f"{i_name} applies {i_text}, {r_name} applies {look_text}"


def run_directions(tasks: list[tuple[Host, Host, str]], timeout: float = DEFAULT_TIMEOUT,
                   jobs: int = 1, others: tuple[AddressValue, ...] = ()
                   ) -> list[DirectionReport]:
    """``check_direction`` for each (initiator, responder, profile), in order; with
    ``jobs`` > 1 in that many worker processes (each analysis has its own z3 context, so the
    reports are the same as in one process)."""
    if jobs <= 1 or len(tasks) <= 1:
        return [check_direction(i, r, p, timeout, others) for i, r, p in tasks]
    import multiprocessing

    # The workers inherit the tasks through fork and send back only what they found: the
    # hosts (thousands of policies) are neither pickled to them nor back.
    _FORKED[:] = [(i, r, p, timeout, others) for i, r, p in tasks]
    try:
        pool_context = multiprocessing.get_context("fork")
        with pool_context.Pool(min(jobs, len(tasks))) as pool:
            found = pool.map(_forked_direction, range(len(tasks)))
    finally:
        _FORKED.clear()
    return [DirectionReport(i, r, p, *parts) for (i, r, p), parts in zip(tasks, found,
                                                                         strict=True)]


_FORKED: list[tuple[Host, Host, str, float, tuple[AddressValue, ...]]] = []


def _forked_direction(k: int) -> tuple[list[Finding], float, int, int]:
    """``check_direction`` of the ``k``-th task of ``_FORKED`` (in a forked worker): the
    report's findings, seconds, regions and solver checks."""
    rep = check_direction(*_FORKED[k])
    return rep.findings, rep.seconds, rep.regions, rep.queries


def peers_results(a: Host, b: Host, profiles: list[str] | None = None,
                  timeout: float = DEFAULT_TIMEOUT, jobs: int = 1,
                  others: tuple[AddressValue, ...] = ()) -> list[Result]:
    """Both directions (``a`` initiating, then ``b``) under each profile; ``others``: the
    addresses of the network's other hosts."""
    tasks = [(i, r, profile) for profile in profiles or list(PROFILE_OPTIONS)
             for i, r in ((a, b), (b, a))]
    results: list[Result] = []
    for rep in run_directions(tasks, timeout, jobs, others):
        results.extend(direction_results(rep))
    return results
