"""``req.<name>``: a requirement of a requirements file (docs/SPEC.md 4 and 7) on a scenario.

A requirement names two hosts and some traffic; it is checked for every packet of the traffic
in both directions (each host in turn sends the traffic and its replies, source and
destination swapped with their ports), with the sender's lookup, the receiver's lookup of the
arriving packet, and, when the sender protects it, the Quick Mode outcome under each profile:
- ``protect``: the sender protects it, the negotiation succeeds (with a transform of the
  allow-list, compared by algorithms, when one is given) and the receiver does not discard it;
- ``pass``: the sender passes it in clear and the receiver accepts it in clear (PASS);
- ``discard``: the sender or the receiver discards it.
``must-not: protect`` forbids a successful negotiation, ``must-not: pass`` forbids sending in
clear, ``must-not: discard`` forbids either host discarding it.

Decided exactly over the cells of ``checks.deploy.cells`` (the traffic's bounds are cuts too); each
violation is a cell's natural representative, re-evaluated by the concrete semantics, with the
reason in words and the policy concerned.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from qmcheck.model.formats.requirements_file import Requirement, Traffic
from qmcheck.model.quickmode.profiles import negotiation_options
from qmcheck.model.semantics.lookup import lookup
from qmcheck.model.semantics.negotiation import negotiate
from qmcheck.model.values.addresses import Family, max_address
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Host, Policy, Scenario
from qmcheck.model.values.protocols import PortRange
from qmcheck.properties.checks.deploy.cells import (
    DEFAULT_LIMIT,
    Bounds,
    TooManyCells,
    cells,
    plainness,
)


@dataclass(frozen=True)
class Violation:
    """One packet that breaks a requirement, why, and the policy concerned."""

    packet: Packet
    reason: str
    host: Host
    policy: Policy | None
    profiles: tuple[str, ...] = ()
    kind: str = ""  # the reason without packet and profile: violations alike share it
    sender: str = ""


@dataclass
class RequirementCheck:
    """The verdict material of one requirement: violations (distinct reasons, first found
    first), the packets examined, or why it is unknown."""

    requirement: Requirement
    violations: list[Violation] = field(default_factory=list)
    packets: int = 0
    cells: int = 0
    unknown: str | None = None
    scope: dict[str, dict[str, object]] = field(default_factory=dict)
    engine: str = "concrete"  # "smt" when z3 decided it (``requirements_smt``): no counts


def _spans(values: tuple | None, family: Family) -> list[tuple[int, int]]:  # type: ignore[type-arg]
    if values is None:
        return [(0, max_address(family))]
    return [(v.lo, v.hi) for v in values if v.family == family]


def traffic_boxes(t: Traffic, family: Family, reverse: bool) -> list[Bounds]:
    """The traffic (or its replies) as boxes in the sender's coordinates."""
    src, dst = _spans(t.source, family), _spans(t.destination, family)
    sp, dp = t.source_port, t.destination_port
    if reverse:
        src, dst, sp, dp = dst, src, dp, sp
    proto = (0, 255) if t.protocol is None else (t.protocol, t.protocol)
    return [(s[0], s[1], d[0], d[1], sp.lo, sp.hi, dp.lo, dp.hi, *proto)
            for s, d in itertools.product(src, dst)]


def _is(p: Policy | None, verdict: str) -> bool:
    return p is not None and p.action.verdict == verdict


def judge(req: Requirement, sender: Host, receiver: Host, packet: Packet,
          profile: str) -> Violation | None:
    """The concrete verdict on one outbound packet of ``sender`` (None: it complies)."""
    s_pol = lookup(sender, packet)
    r_pol = lookup(receiver, packet.as_seen_by_peer())
    s, r = sender.name, receiver.name
    shown = _shown(packet)

    def bad(text: str, host: Host, policy: Policy | None) -> Violation:
        kind = text.replace(shown, "<packet>").replace(f" ({profile})", "")
        return Violation(packet, text, host, policy, (profile,), kind, s)

    def says(host: str, p: Policy | None) -> str:
        return f"no policy of {host} matches" if p is None else f"{host} applies {p.name}"

    if req.treatment == "protect":
        if s_pol is None or not s_pol.action.is_ipsec:
            if req.mode == "must-not":
                return None
            verb = {"PASS": "passes", "DISCARD": "discards"}.get(
                s_pol.action.verdict if s_pol else "", "does not protect")
            tail = " in clear" if _is(s_pol, "PASS") else ""
            return bad(f"{s} {verb} {shown}{tail} ({says(s, s_pol)})", sender, s_pol)
        out = negotiate(sender, receiver, packet, negotiation_options(profile))
        ok = out.succeeded and out.covers_packet
        if req.mode == "must-not":
            return bad(f"{s} -> {r} negotiates {out.accepted} for {shown} ({profile})",
                       sender, s_pol) if ok else None
        if not out.succeeded:
            return bad(f"{s} -> {r} negotiation for {shown} fails with {out.status} "
                       f"({profile}): {out.reason}", receiver if out.responder_policy
                       else sender, out.responder_policy or s_pol)
        if not out.covers_packet:
            return bad(f"{s} -> {r} ({profile}): {out.reason}", receiver,
                       out.responder_policy)
        assert out.accepted is not None
        if req.transforms is not None and out.accepted.algorithms not in {
                t.algorithms for t in req.transforms}:
            return bad(f"{s} -> {r} negotiates {out.accepted.name} for {shown} ({profile}), "
                       "not in the allow-list", receiver, out.responder_policy)
        if _is(r_pol, "DISCARD"):
            return bad(f"{r} discards {shown} ({says(r, r_pol)})", receiver, r_pol)
        return None
    if req.treatment == "pass":
        clear = _is(s_pol, "PASS")
        if req.mode == "must-not":
            return bad(f"{s} passes {shown} in clear ({says(s, s_pol)})", sender,
                       s_pol) if clear else None
        if not clear:
            what = "has no policy for" if s_pol is None else (
                "protects" if s_pol.action.is_ipsec else "discards")
            return bad(f"{s} {what} {shown}, not passed ({says(s, s_pol)})", sender, s_pol)
        if not _is(r_pol, "PASS"):
            what = "has no policy for" if r_pol is None else (
                "requires IPsec for" if r_pol.action.is_ipsec else "discards")
            return bad(f"{r} {what} {shown} in clear ({says(r, r_pol)})", receiver, r_pol)
        return None
    # discard
    dropped_by = sender if _is(s_pol, "DISCARD") else (receiver if _is(r_pol, "DISCARD")
                                                       else None)
    if req.mode == "must-not":
        if dropped_by is None:
            return None
        pol = s_pol if dropped_by is sender else r_pol
        return bad(f"{dropped_by.name} discards {shown} ({says(dropped_by.name, pol)})",
                   dropped_by, pol)
    if dropped_by is not None:
        return None
    return bad(f"neither host discards {shown}: {says(s, s_pol)}, {says(r, r_pol)}", sender,
               s_pol)


def replay(req: Requirement, scenario: Scenario, v: Violation) -> None:
    """The concrete semantics gives the violation again (AssertionError otherwise)."""
    a, b = (scenario.hosts[n] for n in req.between)
    sender, receiver = (a, b) if v.sender == a.name else (b, a)
    again = judge(req, sender, receiver, v.packet, v.profiles[0])
    if again is None or again.reason != v.reason:
        raise AssertionError(f"{req.property_id}: witness {v.packet} does not replay")


def _shown(p: Packet) -> str:
    text = str(p)
    return text[: -len(" out")] if text.endswith(" out") else text


def check_requirement(req: Requirement, scenario: Scenario, profiles: list[str],
                      limit: int = DEFAULT_LIMIT) -> RequirementCheck:
    """Every packet of the requirement's traffic, both ways, under every profile."""
    out = RequirementCheck(req)
    a, b = (scenario.hosts[n] for n in req.between)
    for h in (a, b):  # which addresses of each host were analysed, and why
        out.scope[h.name] = ({"addresses": h.address_texts(), "reason": "own addresses"}
                             if h.addresses else
                             {"addresses": ["any"], "reason": "no address given: everything"})
    reasons: dict[str, int] = {}
    seen: set[Packet] = set()
    wanted_profiles = profiles if req.treatment == "protect" else profiles[:1]
    try:
        for sender, receiver in ((a, b), (b, a)):
            for reverse in (False, True):
                for family in req.traffic.families():
                    for box in traffic_boxes(req.traffic, family, reverse):
                        for cell in cells([sender], [receiver], family, restrict=box,
                                          limit=limit):
                            key = (sender.name, cell.packet)
                            if key in seen:  # type: ignore[comparison-overlap]
                                continue
                            seen.add(key)  # type: ignore[arg-type]
                            out.cells += 1
                            out.packets += cell.size
                            for profile in wanted_profiles:
                                v = judge(req, sender, receiver, cell.packet, profile)
                                if v is None:
                                    continue
                                k = reasons.get(v.kind)
                                if k is None:
                                    reasons[v.kind] = len(out.violations)
                                    out.violations.append(v)
                                elif plainness(v.packet) < plainness(out.violations[k].packet):
                                    old = out.violations[k]  # a more natural witness
                                    out.violations[k] = Violation(
                                        v.packet, v.reason, v.host, v.policy,
                                        tuple(sorted({*old.profiles, profile},
                                                     key=profiles.index)), v.kind, v.sender)
                                else:
                                    old = out.violations[k]
                                    if profile not in old.profiles:
                                        out.violations[k] = Violation(
                                            old.packet, old.reason, old.host, old.policy,
                                            (*old.profiles, profile), old.kind, old.sender)
    except TooManyCells as e:
        out.unknown = str(e)
    return out


def traffic_text(t: Traffic) -> str:
    def addr(vs: tuple | None) -> str:  # type: ignore[type-arg]
        return "any" if vs is None else ",".join(str(v) for v in vs)

    def port(p: PortRange) -> str:
        return "" if p.is_any else f":{p}"

    from qmcheck.model.values.protocols import protocol_text

    return (f"{addr(t.source)}{port(t.source_port)} <-> {addr(t.destination)}"
            f"{port(t.destination_port)} {protocol_text(t.protocol)}")
