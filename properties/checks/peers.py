"""The two-host properties ``peers.negotiation``, ``peers.consistency`` and ``peers.symmetry``
(DESIGN.md 4), decided by z3 over all packets, each host in turn as the initiator.

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
from dataclasses import dataclass, field
from typing import Any

import z3

from qmcheck.model.encodings.overlap_index import policy_boxes
from qmcheck.model.encodings.z3_negotiation import (
    Box,
    PairEncoding,
    conj,
    eq_bv,
    neg,
    region_terms,
    responder_region,
    to_z3,
)
from qmcheck.model.semantics.lookup import lookup
from qmcheck.model.semantics.negotiation import (
    PROFILE_OPTIONS,
    NegotiationOptions,
    Outcome,
    negotiate,
    profile_options,
)
from qmcheck.model.values.addresses import Family
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Host, Policy
from qmcheck.model.values.protocols import PORT_PROTOCOLS
from qmcheck.properties.results import Result

PROPERTIES = ("peers.negotiation", "peers.consistency", "peers.symmetry")
MEANING = {
    "peers.negotiation": "every packet {i} protects toward {r} negotiates: {r} finds a policy "
                         "for the selectors, an IPsec one sharing a transform",
    "peers.consistency": "for every packet {i} protects toward {r}, the policy {r} chose from "
                         "the selectors is the one its own packet lookup applies",
    "peers.symmetry": "no packet from {i} to {r} is protected by one side and passed or "
                      "discarded by the other",
}
BATCH = 64
HEAVY = 150  # regions mentioning more policies are solved one by one
DEFAULT_TIMEOUT = 60.0
INDEXED_REPLAY = 200  # policies of both hosts beyond which witnesses replay on cut-down hosts
PRESEARCH_TRIAL = 300  # replays before the pre-search judges its yield
PRESEARCH_YIELD = 20  # it goes on while at least one replay in this many refutes an item


def in_scope(initiator: Host, responder: Host, packet: Packet) -> bool:
    """A packet from the initiator toward the responder (their addresses, when given)."""
    ok_src = not initiator.addresses or (packet.family, packet.src) in initiator.addresses
    ok_dst = not responder.addresses or (packet.family, packet.dst) in responder.addresses
    return ok_src and ok_dst


@dataclass(frozen=True)
class PacketVerdict:
    """What the concrete semantics says about one outbound packet of the initiator."""

    outcome: Outcome
    responder_lookup: Policy | None
    failed: tuple[str, ...]  # the property ids this packet refutes

    @property
    def initiator_policy(self) -> Policy | None:
        return self.outcome.initiator_policy


def concrete_verdict(initiator: Host, responder: Host, packet: Packet,
                     options: NegotiationOptions) -> PacketVerdict:
    """The three properties on one packet: the brute-force oracle of the SMT encoding."""
    out = negotiate(initiator, responder, packet, options)
    pkt = out.packet
    arriving = lookup(responder, pkt.as_seen_by_peer())
    reply = lookup(responder, pkt.as_seen_by_peer().reversed())
    i_ipsec = out.initiator_policy is not None and out.initiator_policy.action.is_ipsec
    r_ipsec = arriving is not None and arriving.action.is_ipsec
    ok = out.succeeded and out.covers_packet
    failed = []
    if i_ipsec and not ok:
        failed.append("peers.negotiation")
    if ok and not (out.responder_policy is arriving and arriving is reply):
        failed.append("peers.consistency")
    if i_ipsec != r_ipsec:
        failed.append("peers.symmetry")
    return PacketVerdict(out, arriving, tuple(failed))


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
        if host.addresses:
            fams &= {f for f, _ in host.addresses}
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
        if not policy.action.is_ipsec or all(("I", n, prop) in done for prop in PROPERTIES):
            continue
        t = region_terms(enc, n)
        w = t.weight
        for prop, bad in (("peers.negotiation", conj(t.region, neg(t.success))),
                          ("peers.consistency",
                           conj(t.region, t.success, neg(eq_bv(t.chosen, t.lookup)))),
                          ("peers.symmetry", conj(t.region, neg(t.r_ipsec)))):
            if bad is not False and ("I", n, prop) not in done:
                items.append(Item("I", n, prop, to_z3(bad, enc.ctx), w))
    for k, policy in enumerate(enc.r_order):
        if policy.action.is_ipsec and ("R", k, "peers.symmetry") not in done:
            region, i_ipsec, w = responder_region(enc, k)
            bad = conj(region, neg(i_ipsec))
            if bad is not False:
                items.append(Item("R", k, "peers.symmetry", to_z3(bad, enc.ctx), w))
    return items


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


def _solve(enc: PairEncoding, items: list[Item], timeout_ms: int, report: DirectionReport,
           initiator: Host, responder: Host, options: NegotiationOptions,
           replay: Replayer | None = None) -> None:
    """Per batch, a first check of the disjunction of its items. After a model, the batch
    moves to an incremental solver: item ``k`` guarded by a literal ``g_k`` (``g_k -> bad_k``),
    one of the guards must hold, and a refuted item's guard is asserted false. Every model
    is a packet; the items it satisfies are recorded and switched off."""
    verdict = replay or Replayer(enc, initiator, responder, options, indexed=False)
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
            model = solver.model()
            packet = enc.concrete(model)
            hit = [k for k in active if _is_true(model, chunk[k].formula)]
            if not hit:  # cannot happen: the model satisfies one of the items
                raise AssertionError("a model of the batch satisfies none of its items")
            detail = verdict(packet, (chunk[hit[0]].side, chunk[hit[0]].n))
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


class Replayer:
    """``concrete_verdict`` for the witnesses of one encoding. With ``indexed``, the hosts
    are first cut down to the policies whose box meets a box that holds the packet (the
    hull of a policy's region, or the packet itself) and, for the responder's choice, whose
    box meets the selectors of the initiator's policy: every policy the concrete semantics
    can match or choose is among them, in the same order, so the verdict is the same as on
    the whole hosts (tests compare both), at a cost that does not grow with the number of
    policies. The cut-down hosts of a region are built once."""

    def __init__(self, enc: PairEncoding, initiator: Host, responder: Host,
                 options: NegotiationOptions, indexed: bool = True) -> None:
        self.enc, self.initiator, self.responder = enc, initiator, responder
        self.options = options
        self.indexed = indexed
        self.i_position = {id(q): n for n, q in enumerate(enc.i_order)}
        self._i_sub: dict[tuple[str, int], Host] = {}
        self._r_look: dict[tuple[str, int], list[int]] = {}
        self._r_choice: dict[int, list[int]] = {}
        self._r_sub: dict[tuple[str, int, int], Host] = {}

    def _box(self, hint: tuple[str, int] | None, packet: Packet) -> tuple[str, int] | None:
        """``hint`` if its policy's box holds the packet (else None: the packet's own box)."""
        if hint is None:
            return None
        side, pos = hint
        point = _point(packet)
        parts = (self.enc.i_parts if side == "I" else self.enc.r_parts)[pos]
        return hint if any(b.meets(point) for b in parts) else None

    def _initiator(self, key: tuple[str, int] | None, packet: Packet) -> Host:
        if key is None:
            cands = self.enc.i_index.query(_point(packet))
            return _sub_host(self.initiator, [self.enc.i_order[n] for n in cands])
        sub = self._i_sub.get(key)
        if sub is None:
            parts = (self.enc.i_parts if key[0] == "I" else self.enc.r_parts)[key[1]]
            cands = self.enc.i_index.query_any(parts)
            sub = self._i_sub[key] = _sub_host(self.initiator,
                                               [self.enc.i_order[n] for n in cands])
        return sub

    def _choice(self, n: int) -> list[int]:
        cands = self._r_choice.get(n)
        if cands is None:
            sel = self.enc.selector_box(n)
            cands = self._r_choice[n] = self.enc.r_index.query(
                Box(sel.family, None, sel.local, sel.remote, sel.lport, sel.rport))
        return cands

    def _responder(self, key: tuple[str, int] | None, packet: Packet, first: int) -> Host:
        enc = self.enc
        if key is None:
            cands = set(enc.r_index.query(_point(packet)))
        else:
            sub = self._r_sub.get((*key, first))
            if sub is not None:
                return sub
            look = self._r_look.get(key)
            if look is None:
                parts = (enc.i_parts if key[0] == "I" else enc.r_parts)[key[1]]
                look = self._r_look[key] = enc.r_index.query_any(parts)
            cands = set(look)
        if first >= 0:
            cands.update(self._choice(first))
        sub = _sub_host(self.responder, [enc.r_order[k] for k in sorted(cands)])
        if key is not None:
            self._r_sub[(*key, first)] = sub
        return sub

    def initiator_first(self, packet: Packet, hint: tuple[str, int] | None = None
                        ) -> Policy | None:
        """I's first match for ``packet`` (``hint``: a region whose box may hold it)."""
        if not self.indexed:
            return lookup(self.initiator, packet)
        return lookup(self._initiator(self._box(hint, packet), packet), packet)

    def __call__(self, packet: Packet, hint: tuple[str, int] | None = None) -> PacketVerdict:
        """``concrete_verdict`` for ``packet``; ``hint`` (side, position) names a policy
        whose box may hold the packet (checked), so that its cut-down hosts are reused."""
        if not self.indexed:
            return concrete_verdict(self.initiator, self.responder, packet, self.options)
        key = self._box(hint, packet)
        sub_i = self._initiator(key, packet)
        first = lookup(sub_i, packet)
        pos = self.i_position[id(first)] if first is not None and first.action.is_ipsec else -1
        return concrete_verdict(sub_i, self._responder(key, packet, pos), packet, self.options)


def _corner_packets(box: tuple[int, ...], family: Family) -> list[Packet]:
    """A few outbound packets in a box (local, remote, local port, remote port, protocol
    bounds, in the initiator's coordinates): its low corner, for the box's protocol or, when
    any, for TCP, UDP and ICMP (the high corner found hardly more refutations)."""
    llo, _, rlo, _, lplo, _, rplo, _, plo, phi = box
    out: list[Packet] = []
    for proto in ([plo] if plo == phi else [6, 17, 1]):
        if proto in PORT_PROTOCOLS:
            ends = [(llo, rlo, lplo, rplo)]
        elif lplo == 0 and rplo == 0:
            ends = [(llo, rlo, 0, 0)]
        else:
            continue
        for loc, rem, lp, rp in ends:
            out.append(Packet(family, loc, rem, proto, lp, rp, "out"))
    return out


def presearch(enc: PairEncoding, replay: Replayer, report: DirectionReport,
              boxes_per_policy: int = 2, trial: int = PRESEARCH_TRIAL
              ) -> frozenset[tuple[str, int, str]]:
    """Refute items without the solver: corner packets of each IPsec policy's boxes are
    replayed by the concrete semantics, and every item (side, policy position, property)
    that one of them refutes is recorded as a finding with that packet. On overlapping hosts
    most items fall here, so z3 is left mostly with the items that hold (one unsatisfiable
    check per batch). When the first ``trial`` replays refute less than one item in
    ``PRESEARCH_YIELD``, the search goes on only for heavy regions (hosts that mostly agree:
    z3 is cheaper, except where a region is the negation of thousands of policies). Returns
    the refuted items."""
    done: set[tuple[str, int, str]] = set()
    fam = enc.family
    i_pos, r_pos = replay.i_position, enc.r_position
    i_ipsec = [n for n, q in enumerate(enc.i_order) if q.action.is_ipsec]
    r_ipsec = [k for k, q in enumerate(enc.r_order) if q.action.is_ipsec]
    jobs: list[tuple[str, int, list[tuple[int, ...]]]] = []
    jobs += [("I", n, policy_boxes(enc.i_order[n], fam)[:boxes_per_policy]) for n in i_ipsec]
    jobs += [("R", k, [(b[2], b[3], b[0], b[1], b[6], b[7], b[4], b[5], b[8], b[9])
                       for b in policy_boxes(enc.r_order[k], fam)[:boxes_per_policy]])
             for k in r_ipsec]
    replays = 0
    for side, n, boxes in jobs:
        if replays >= trial and len(done) * PRESEARCH_YIELD < replays \
                and not _heavy(enc, side, n):
            continue
        wanted = ([("I", n, prop) for prop in PROPERTIES] if side == "I"
                  else [("R", n, "peers.symmetry")])
        before = [enc.i_order[k] for k in enc.earlier(n)] if side == "I" else []
        for box in boxes:
            for packet in _corner_packets(box, fam):
                if all(w in done for w in wanted):
                    break
                if not in_scope(replay.initiator, replay.responder, packet):
                    continue
                if any(q.matches(packet) for q in before):
                    continue  # not in the region of I's n-th policy
                detail = replay(packet, (side, n))
                replays += 1
                hits: list[tuple[str, int, str]] = []
                ipol = detail.initiator_policy
                if ipol is not None and ipol.action.is_ipsec:
                    m = i_pos.get(id(ipol))
                    hits += [("I", m, prop) for prop in detail.failed if m is not None]
                look = detail.responder_lookup
                if look is not None and look.action.is_ipsec and \
                        "peers.symmetry" in detail.failed and id(look) in r_pos:
                    hits.append(("R", r_pos[id(look)], "peers.symmetry"))
                for hit in hits:
                    if hit in done:
                        continue
                    done.add(hit)
                    hit_side, pos, prop = hit
                    report.findings.append(Finding(prop, "refuted", _name(enc, hit_side, pos),
                                                   hit_side, packet, detail))
    return frozenset(done)


def _heavy(enc: PairEncoding, side: str, n: int) -> bool:
    """A region whose formulas mention many policies: of I's policies, one with many earlier
    neighbours; of R's, a wide one (any family, or any address on a side)."""
    if side == "I":
        return len(enc.earlier(n)) > HEAVY
    q = enc.r_order[n]
    return q.family is None or q.source.is_any or q.destination.is_any


def _point(packet: Packet) -> Box:
    return Box(packet.family, packet.protocol, (packet.src, packet.src),
               (packet.dst, packet.dst), (packet.sport, packet.sport),
               (packet.dport, packet.dport))


def _sub_host(host: Host, policies: list[Policy]) -> Host:
    """``host`` with only ``policies`` (same names, objects and search order)."""
    return Host(host.name, tuple(sorted(policies, key=lambda p: p.order_key)), host.addresses,
                host.source, host.default_action)


def _name(enc: PairEncoding, side: str, n: int) -> str:
    return (enc.i_order if side == "I" else enc.r_order)[n].name


def check_direction(initiator: Host, responder: Host, profile: str,
                    timeout: float = DEFAULT_TIMEOUT) -> DirectionReport:
    """Decide the three properties with ``initiator`` initiating toward ``responder``."""
    options = profile_options(profile)
    report = DirectionReport(initiator, responder, profile)
    started = time.perf_counter()
    for family in families(initiator, responder):
        enc = PairEncoding(initiator, responder, family, options)
        report.regions += len(enc.i_order)
        large = len(enc.i_order) + len(enc.r_order) > INDEXED_REPLAY
        replay = Replayer(enc, initiator, responder, options, indexed=large)
        done = presearch(enc, replay, report) if large else frozenset()
        items = _items(enc, done)
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
    for prop in PROPERTIES:
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
    i_text = f"{ipol.name} ({ipol.action})" if ipol else "no policy"
    return f"{i_name} applies {i_text}, {r_name} applies {look_text}"


def run_directions(tasks: list[tuple[Host, Host, str]], timeout: float = DEFAULT_TIMEOUT,
                   jobs: int = 1) -> list[DirectionReport]:
    """``check_direction`` for each (initiator, responder, profile), in order; with
    ``jobs`` > 1 in that many worker processes (each analysis has its own z3 context, so the
    reports are the same as in one process)."""
    if jobs <= 1 or len(tasks) <= 1:
        return [check_direction(i, r, p, timeout) for i, r, p in tasks]
    import multiprocessing

    pool_context = multiprocessing.get_context("fork")
    with pool_context.Pool(min(jobs, len(tasks))) as pool:
        return pool.starmap(check_direction, [(i, r, p, timeout) for i, r, p in tasks])


def peers_results(a: Host, b: Host, profiles: list[str] | None = None,
                  timeout: float = DEFAULT_TIMEOUT, jobs: int = 1) -> list[Result]:
    """Both directions (``a`` initiating, then ``b``) under each profile."""
    tasks = [(i, r, profile) for profile in profiles or list(PROFILE_OPTIONS)
             for i, r in ((a, b), (b, a))]
    results: list[Result] = []
    for rep in run_directions(tasks, timeout, jobs):
        results.extend(direction_results(rep))
    return results
