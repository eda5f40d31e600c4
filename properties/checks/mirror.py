"""``policy.mirrored``: where a host's policies apply to one direction only (a kernel's
``dir out`` without its ``dir in``, docs/SPEC.md 2), is the reply to every protected packet
protected too, and the reply to every unprotected one unprotected?

A packet and its reply have the same local and remote address and port, so one symbolic
packet in the host's coordinates stands for both: the outbound lookup (policies that apply
``out``) and the inbound lookup of the reply (policies that apply ``in``) are compared. A
refutation is an outbound packet whose lookup protects it while the lookup of its reply
passes or discards (or the other way round); the concrete lookup replays it. Each pair
(outbound policy, inbound policy) is reported once; a solver timeout gives ``unknown``.
A host whose policies are all mirrored holds trivially and is not reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import z3

from qmcheck.model.encodings.z3_policies import (
    SymPacket,
    families_of,
    fresh_packet,
    policy_match,
)
from qmcheck.model.semantics.lookup import lookup
from qmcheck.model.semantics.witness import natural_packet
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Host, Policy

PROPERTY = "policy.mirrored"
MAX_FINDINGS = 64
NATURAL_LIMIT = 256  # network addresses a witness is kept off (more: not attempted)


@dataclass(frozen=True)
class MirrorFinding:
    """A packet protected in one direction and not in the other (or an unknown)."""

    verdict: str  # refuted | unknown
    packet: Packet | None
    outbound: Policy | None  # the policy of the outbound packet
    inbound: Policy | None  # the policy of its reply

    def message(self) -> str:
        if self.packet is None:
            return "the solver gave no answer in time"

        def text(p: Policy | None) -> str:
            return "no policy" if p is None else f"{p.name} ({p.action})"

        return (f"outbound {self.packet} gets {text(self.outbound)}, its reply "
                f"{self.packet.reversed()} gets {text(self.inbound)}")


def _first(policies: tuple[Policy, ...], p: z3.ExprRef, matches: list[z3.BoolRef]
           ) -> z3.ArithRef:
    """The position of the first matching policy (len(policies): none)."""
    out: z3.ArithRef = z3.IntVal(len(policies))
    for n in reversed(range(len(policies))):
        out = z3.If(matches[n], z3.IntVal(n), out)
    return out


def _natural(solver: z3.Solver, pkt: SymPacket, model: z3.ModelRef, host: Host
             ) -> z3.ModelRef:
    """The same query's model with natural values where it has one: ports other than 0 for
    TCP/UDP/SCTP, addresses other than the network addresses of the host's prefixes."""
    proto = model.eval(pkt.protocol, model_completion=True).as_long()  # type: ignore[union-attr]
    extra: list[z3.BoolRef] = [pkt.protocol == proto]
    if proto in (6, 17, 132):
        extra += [pkt.lport != 0, pkt.rport != 0]
    networks = sorted({v.lo for p in host.policies if p.family == pkt.family
                       for f in (p.source, p.destination) for v in f.values
                       if v.kind == "prefix"})[:NATURAL_LIMIT]
    extra += [z3.And(pkt.local != n, pkt.remote != n) for n in networks]
    solver.push()
    solver.add(*extra)
    better = solver.model() if solver.check() == z3.sat else model
    solver.pop()
    return better


def _host_addresses(host: Host, packet: Packet) -> Packet:
    """The witness moved to natural values (host addresses, not ``0.0.0.0`` where a field is
    any: a road warrior's symbolic peer; a protocol, ports) where the packet and its reply
    keep their first matches (witness.natural_packet)."""
    out_policy, in_policy = lookup(host, packet), lookup(host, packet.reversed())
    focus = [p for p in (out_policy, in_policy) if p is not None and not p.implicit]

    def same(candidate: Packet) -> bool:
        return (lookup(host, candidate) is out_policy
                and lookup(host, candidate.reversed()) is in_policy)

    return natural_packet(packet, host.policies, focus, src_addresses=host.addresses,
                          keep=same)


def mirror_findings(host: Host, timeout_ms: int = 10_000) -> list[MirrorFinding]:
    """Every (outbound policy, inbound policy) pair under which a packet and its reply are
    treated differently (protected against not protected), each with a witness."""
    if not host.directional:
        return []
    outs, ins = host.applicable("out"), host.applicable("in")
    findings: list[MirrorFinding] = []
    for family in families_of(host.policies):
        pkt = fresh_packet(family)
        om = [policy_match(q, pkt) for q in outs]
        im = [policy_match(q, pkt) for q in ins]
        o_pos, i_pos = _first(outs, pkt, om), _first(ins, pkt, im)
        o_ipsec = z3.Or(z3.BoolVal(False), *[o_pos == n for n, q in enumerate(outs)
                                              if q.action.is_ipsec])
        i_ipsec = z3.Or(z3.BoolVal(False), *[i_pos == n for n, q in enumerate(ins)
                                              if q.action.is_ipsec])
        solver = z3.Solver()
        solver.set("timeout", timeout_ms)
        solver.add(pkt.well_formed(), o_ipsec != i_ipsec)
        while len(findings) < MAX_FINDINGS:
            answer = solver.check()
            if answer == z3.unsat:
                break
            if answer != z3.sat:
                findings.append(MirrorFinding("unknown", None, None, None))
                break
            model = _natural(solver, pkt, solver.model(), host)
            packet = _host_addresses(host, pkt.concrete(model))
            out_policy = lookup(host, packet)
            in_policy = lookup(host, packet.reversed())
            protected = [q is not None and q.action.is_ipsec for q in (out_policy, in_policy)]
            confirmed = protected[0] != protected[1]
            findings.append(MirrorFinding("refuted" if confirmed else "unknown", packet,
                                          out_policy, in_policy))
            on = model.eval(o_pos, model_completion=True)
            iv = model.eval(i_pos, model_completion=True)
            solver.add(z3.Not(z3.And(o_pos == on, i_pos == iv)))
    return findings
