"""The concrete outcome of one Quick Mode negotiation for a packet (docs/SPEC.md 3, steps 1-3).

The initiator looks the packet up, derives its client IDs and proposals; the responder searches
its policies for the received selectors and evaluates the proposals.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from qmcheck.model.semantics.lookup import lookup
from qmcheck.model.values.addresses import BITS, Family, address_text, max_address
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Host, Policy
from qmcheck.model.values.protocols import MAX_PORT, PortRange, protocol_text
from qmcheck.model.values.selectors import (
    InitiatorIds,
    Selector,
    Wildcard,
    address_filter_contains,
    derive_selector,
    port_contains,
    protocol_contains,
)
from qmcheck.model.values.transforms import Transform

ProposalOrder = Literal["initiator", "responder"]
ResponderRule = Literal["first-match", "best-score"]
ProtocolRule = Literal["contain", "equal"]
Status = Literal["accepted", "INVALID_ID_INFORMATION", "NO_PROPOSAL_CHOSEN", "not-protected"]
ModeRule = Literal["rfc2407", "invalid-id", "no-proposal", "initiator"]
#: what a responder does when the initiator proposes another encapsulation mode (tunnel or
#: transport) than the policy it selects (docs/PROFILES.md, "Encapsulation mode")
MODE_RULES: dict[str, str] = {
    "rfc2407": "the encapsulation mode is an attribute of the proposed transform (RFC 2407 "
               "4.5), which the responder's policy does not hold",
    "invalid-id": "charon's IKEv1 responder answers INVALID_ID_INFORMATION (strongSwan "
                  "src/libcharon/sa/ikev1/tasks/quick_mode.c, process_r: the SA payload's "
                  "mode differs from the selected child config's get_mode)",
    "no-proposal": "racoon answers NO_PROPOSAL_CHOSEN (ipsec-tools src/racoon/proposal.c, "
                   "cmpsaprop_alloc: \"encmode mismatched\")",
    "initiator": "pluto takes the initiator's mode (Libreswan programs/pluto/"
                 "ikev1_spdb_struct.c, parse_ipsec_sa_body: the proposal's ENCAPSULATION_MODE "
                 "becomes st_kernel_mode, not compared with the connection's encap_mode)",
}


@dataclass(frozen=True, slots=True)
class NegotiationOptions:
    """The open points of docs/SPEC.md 3 that change a negotiation's outcome (docs/PROFILES.md).

    ``wildcard``: how a received wildcard (0) is contained (strict, lenient in every field, or
    lenient in ports only). ``proposal_order``: whose preference picks the transform.
    ``responder_rule``: ``first-match`` (the first policy in search order that contains the
    selectors) or ``best-score`` (strongSwan: the policy whose fields best match, equality
    scoring above mere overlap; overlap suffices). ``narrowing``: the responder answers with
    the intersection of the selectors and its policy (strongSwan). ``protocol_rule``:
    ``equal`` makes a policy's protocol accept only the same protocol selector (Libreswan:
    a policy for any protocol does not take a TCP selector). ``peer_port_rule`` ``equal``:
    the policy's port on the initiator's side must equal the selector's port (any only for
    the wildcard 0; Libreswan compares the peer's port for equality). ``mode_rule``: what
    the responder does with a proposal of another encapsulation mode than its selected
    policy's (MODE_RULES): refuse it (``rfc2407``, ``invalid-id``, ``no-proposal``) or take
    the initiator's mode (``initiator``: no mode mismatch ever fails). ``initiator_ids``: how
    the initiator derives its client IDs (``ranges-exact``, ``packet-exact``, ``policy``;
    model/values/selectors.py ``derive_selector``).
    """

    wildcard: Wildcard = "strict"
    proposal_order: ProposalOrder = "initiator"
    responder_rule: ResponderRule = "first-match"
    narrowing: bool = False
    protocol_rule: ProtocolRule = "contain"
    peer_port_rule: ProtocolRule = "contain"
    mode_rule: ModeRule = "rfc2407"
    initiator_ids: InitiatorIds = "ranges-exact"


#: The built-in profiles' ``selectors:`` sections (model/profiles/*.yaml, whose sources cite
#: each rule); tests/test_profile_rules.py checks that the two agree.
PROFILE_OPTIONS: dict[str, NegotiationOptions] = {
    "hpux": NegotiationOptions("strict", "initiator"),
    "racoon": NegotiationOptions("ports", "initiator", mode_rule="no-proposal",
                                 initiator_ids="policy"),
    "strongswan": NegotiationOptions("strict", "responder", "best-score", narrowing=True,
                                     mode_rule="invalid-id", initiator_ids="policy"),
    "libreswan": NegotiationOptions("strict", "initiator", protocol_rule="equal",
                                    peer_port_rule="equal", mode_rule="initiator",
                                    initiator_ids="policy"),
}


def profile_options(name: str) -> NegotiationOptions:
    try:
        return PROFILE_OPTIONS[name]
    except KeyError:
        raise InputError(
            f"unknown profile '{name}' (one of: {', '.join(PROFILE_OPTIONS)})", field="profile"
        ) from None


@dataclass(frozen=True, slots=True)
class Message1:
    """What the initiator sends: proposals in order and the client IDs."""

    proposals: tuple[Transform, ...]
    idci: Selector
    idcr: Selector


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one negotiation; ``reason`` explains any failure in words."""

    packet: Packet
    status: Status
    reason: str
    initiator_policy: Policy | None = None
    message1: Message1 | None = None
    responder_policy: Policy | None = None
    accepted: Transform | None = None
    narrowed: tuple[TrafficSelector, TrafficSelector] | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "accepted"

    @property
    def covers_packet(self) -> bool:
        """Do the agreed selectors (narrowed ones, if the responder narrowed) hold the packet?"""
        if self.narrowed is None:
            return True
        local, remote, lport, rport = self.packet.local_remote()
        tsi, tsr = self.narrowed
        return (tsi.contains(local, lport, self.packet.protocol)
                and tsr.contains(remote, rport, self.packet.protocol))

    def to_json(self) -> dict[str, Any]:
        m1 = self.message1
        return {
            "status": self.status,
            "reason": self.reason,
            "initiator_policy": self.initiator_policy.name if self.initiator_policy else None,
            "message1": None if m1 is None else {
                "proposals": [str(t) for t in m1.proposals],
                "idci": m1.idci.to_json(),
                "idcr": m1.idcr.to_json(),
            },
            "responder_policy": self.responder_policy.name if self.responder_policy else None,
            "accepted": str(self.accepted) if self.accepted else None,
            "message2": None if not self.succeeded or m1 is None else {
                "accepted": str(self.accepted),
                "idci": m1.idci.to_json() if self.narrowed is None else self.narrowed[0].to_json(),
                "idcr": m1.idcr.to_json() if self.narrowed is None else self.narrowed[1].to_json(),
            },
        }


@dataclass(frozen=True, slots=True)
class TrafficSelector:
    """A selector as a range: addresses ``lo..hi``, protocol (0 any), ports ``port_lo..port_hi``.

    Used for the responder's scoring and narrowing (strongSwan's traffic_selector_t)."""

    family: Family
    lo: int
    hi: int
    protocol: int
    port_lo: int = 0
    port_hi: int = MAX_PORT

    @staticmethod
    def of(selector: Selector) -> TrafficSelector:
        port = selector.port
        return TrafficSelector(selector.family, selector.lo, selector.hi, selector.protocol,
                               0 if port == 0 else port, MAX_PORT if port == 0 else port)

    def contains(self, address: int, port: int, protocol: int) -> bool:
        return (self.lo <= address <= self.hi and self.port_lo <= port <= self.port_hi
                and self.protocol in (0, protocol))

    def intersection(self, other: TrafficSelector) -> TrafficSelector | None:
        if self.family != other.family or (self.protocol and other.protocol
                                            and self.protocol != other.protocol):
            return None
        lo, hi = max(self.lo, other.lo), min(self.hi, other.hi)
        plo, phi = max(self.port_lo, other.port_lo), min(self.port_hi, other.port_hi)
        if lo > hi or plo > phi:
            return None
        return TrafficSelector(self.family, lo, hi, self.protocol or other.protocol, plo, phi)

    def to_json(self) -> dict[str, Any]:
        return {"address": str(self), "protocol": self.protocol,
                "ports": [self.port_lo, self.port_hi]}

    def __str__(self) -> str:
        addr = address_text(self.family, self.lo)
        size = self.hi - self.lo + 1
        if self.hi != self.lo and size & (size - 1) == 0 and self.lo % size == 0:
            addr += f"/{BITS[self.family] - size.bit_length() + 1}"  # a prefix
        elif self.hi != self.lo:
            addr += f"-{address_text(self.family, self.hi)}"
        proto = "" if self.protocol == 0 else f" {protocol_text(self.protocol)}"
        ports = "" if (self.port_lo, self.port_hi) == (0, MAX_PORT) else (
            f" port {self.port_lo}" if self.port_lo == self.port_hi
            else f" ports {self.port_lo}-{self.port_hi}")
        return f"{addr}{proto}{ports}"


def policy_side(policy: Policy, side: Literal["source", "destination"], family: Family
                ) -> list[TrafficSelector]:
    """One side of a policy as traffic selectors, one per address value, in order."""
    ports = policy.source_port if side == "source" else policy.destination_port
    proto = 0 if policy.protocol is None else policy.protocol
    if policy.family is None:
        spans = [(0, max_address(family))]
    elif policy.family != family:
        return []
    else:
        field = policy.source if side == "source" else policy.destination
        spans = [(v.lo, v.hi) for v in field.values]
    return [TrafficSelector(family, lo, hi, proto, ports.lo, ports.hi) for lo, hi in spans]


def side_score(side: list[TrafficSelector], supplied: TrafficSelector) -> int:
    """strongSwan's get_ts_match for one supplied selector: 5 per equal configured selector,
    1 per configured selector that merely overlaps it."""
    score = 0
    for ts in side:
        if ts == supplied:
            score += 5
        elif ts.intersection(supplied) is not None:
            score += 1
    return score


def best_score_search(responder: Host, idci: Selector, idcr: Selector) -> Policy | None:
    """strongSwan's select_child_cfg: the policy with the highest score, both sides scoring;
    ties go to the earlier policy in search order (mirrored: the source side holds IDcr)."""
    best, found = 0, None
    tsi, tsr = TrafficSelector.of(idci), TrafficSelector.of(idcr)
    for policy in responder.applicable("in"):
        mine = side_score(policy_side(policy, "source", idcr.family), tsr)
        theirs = side_score(policy_side(policy, "destination", idci.family), tsi)
        if mine and theirs and mine + theirs > best:
            best, found = mine + theirs, policy
    return found


def narrow(policy: Policy, idci: Selector, idcr: Selector
           ) -> tuple[TrafficSelector, TrafficSelector] | None:
    """strongSwan's select_ts on the responder: per side, the first configured selector that
    overlaps the supplied one, intersected with it (None when a side has none)."""
    out: list[TrafficSelector] = []
    for side, sel in (("destination", idci), ("source", idcr)):
        supplied = TrafficSelector.of(sel)
        found = next((x for ts in policy_side(policy, side, sel.family)  # type: ignore[arg-type]
                      if (x := ts.intersection(supplied)) is not None), None)
        if found is None:
            return None
        out.append(found)
    return out[0], out[1]


def message1(policy: Policy, packet: Packet,
             rule: InitiatorIds = "ranges-exact") -> Message1:
    """Message 1 for an outbound packet that ``policy`` (an IPsec policy) matched, its client
    IDs derived under ``rule``."""
    local, remote, lport, rport = packet.local_remote()
    fam = packet.family
    if policy.family is None:
        from qmcheck.model.values.selectors import wildcard_selector

        proto = 0 if policy.protocol is None else policy.protocol
        idci = wildcard_selector(fam, proto, 0 if policy.source_port.is_any else lport)
        idcr = wildcard_selector(fam, proto, 0 if policy.destination_port.is_any else rport)
    else:
        src_value = policy.source.first_match(fam, local)
        dst_value = policy.destination.first_match(fam, remote)
        assert src_value is not None and dst_value is not None, "policy does not match packet"
        idci = derive_selector(src_value, fam, local, policy.source_port, lport, policy.protocol,
                               rule)
        idcr = derive_selector(dst_value, fam, remote, policy.destination_port, rport,
                               policy.protocol, rule)
    return Message1(policy.action.transforms, idci, idcr)


def peer_port_equal(ports: PortRange, selector_port: int) -> bool:
    """Libreswan's test of the peer's port: any takes only the wildcard 0, a single port
    only itself (a range never)."""
    if ports.is_any:
        return selector_port == 0
    return ports.is_single and ports.lo == selector_port


def selectors_match(policy: Policy, idci: Selector, idcr: Selector, wildcard: Wildcard,
                    protocol_rule: ProtocolRule = "contain",
                    peer_port_rule: ProtocolRule = "contain") -> bool:
    """Does the responder's policy contain the received selectors (mirrored: its source side
    holds IDcr, its destination side IDci)? ``protocol_rule`` ``equal``: the policy's
    protocol must be the selectors' protocol (any only for the wildcard 0)."""
    if policy.family is not None and policy.family != idci.family:
        return False
    if idci.protocol != idcr.protocol:
        return False
    family_any = policy.family is None
    if protocol_rule == "equal" and (policy.protocol or 0) != idci.protocol:
        return False
    return (
        protocol_contains(policy.protocol, idci.protocol, wildcard)
        and address_filter_contains(policy.source, family_any, idcr, wildcard)
        and address_filter_contains(policy.destination, family_any, idci, wildcard)
        and port_contains(policy.source_port, idcr.port, wildcard)
        and (port_contains(policy.destination_port, idci.port, wildcard)
             if peer_port_rule == "contain"
             else peer_port_equal(policy.destination_port, idci.port))
    )


def responder_search(responder: Host, idci: Selector, idcr: Selector,
                     wildcard: Wildcard = "strict", protocol_rule: ProtocolRule = "contain",
                     peer_port_rule: ProtocolRule = "contain") -> Policy | None:
    """The responder's first policy, in search order, that contains the selectors."""
    for policy in responder.applicable("in"):
        if selectors_match(policy, idci, idcr, wildcard, protocol_rule, peer_port_rule):
            return policy
    return None


def select_policy(responder: Host, idci: Selector, idcr: Selector,
                  options: NegotiationOptions) -> Policy | None:
    """The responder's policy for the received selectors under the options' rule."""
    if options.responder_rule == "best-score":
        return best_score_search(responder, idci, idcr)
    return responder_search(responder, idci, idcr, options.wildcard, options.protocol_rule,
                            options.peer_port_rule)


def choose_proposal(proposals: tuple[Transform, ...], own: tuple[Transform, ...],
                    order: ProposalOrder = "initiator") -> Transform | None:
    """The accepted transform: the first common one in the initiator's (or responder's) order.

    Transforms match on their algorithms; the accepted one carries the initiator's lifetimes.
    """
    own_algorithms = {t.algorithms for t in own}
    if order == "initiator":
        for proposal in proposals:
            if proposal.algorithms in own_algorithms:
                return proposal
        return None
    by_algorithms = {p.algorithms: p for p in reversed(proposals)}
    for mine in own:
        if mine.algorithms in by_algorithms:
            return by_algorithms[mine.algorithms]
    return None


def negotiate(initiator: Host, responder: Host, packet: Packet,
              options: NegotiationOptions | None = None) -> Outcome:
    """The outcome of Quick Mode started by ``initiator`` for an outbound ``packet``."""
    opts = options or NegotiationOptions()
    if packet.direction != "out":
        packet = Packet(packet.family, packet.src, packet.dst, packet.protocol, packet.sport,
                        packet.dport, "out")
    policy = lookup(initiator, packet)
    if policy is None:
        return Outcome(packet, "not-protected",
                       f"no policy of {initiator.name} matches the packet: no negotiation")
    if not policy.action.is_ipsec:
        return Outcome(packet, "not-protected",
                       f"{initiator.name} applies {policy.name} ({policy.action}): no negotiation",
                       initiator_policy=policy)
    m1 = message1(policy, packet, opts.initiator_ids)
    chosen = select_policy(responder, m1.idci, m1.idcr, opts)
    if chosen is None:
        return Outcome(packet, "INVALID_ID_INFORMATION",
                       f"no policy of {responder.name} contains the selectors "
                       f"IDci {m1.idci}, IDcr {m1.idcr}",
                       initiator_policy=policy, message1=m1)
    if not chosen.action.is_ipsec:
        return Outcome(packet, "NO_PROPOSAL_CHOSEN",
                       f"{responder.name} selects {chosen.name}, whose action is "
                       f"{chosen.action}, not IPsec",
                       initiator_policy=policy, message1=m1, responder_policy=chosen)
    accepted = choose_proposal(m1.proposals, chosen.action.transforms, opts.proposal_order)
    if accepted is None:
        return Outcome(packet, "NO_PROPOSAL_CHOSEN",
                       f"{responder.name} selects {chosen.name}, which shares no transform with "
                       f"the proposals ({', '.join(t.name for t in m1.proposals)} vs "
                       f"{', '.join(t.name for t in chosen.action.transforms)})",
                       initiator_policy=policy, message1=m1, responder_policy=chosen)
    narrowed = narrow(chosen, m1.idci, m1.idcr) if opts.narrowing else None
    reason = f"{responder.name} selects {chosen.name} and accepts {accepted.name}"
    if narrowed is not None:
        reason += f"; selectors narrowed to IDci {narrowed[0]}, IDcr {narrowed[1]}"
    outcome = Outcome(packet, "accepted", reason, initiator_policy=policy, message1=m1,
                      responder_policy=chosen, accepted=accepted, narrowed=narrowed)
    if not outcome.covers_packet:
        outcome = replace(outcome, reason=reason + ", which do not hold the packet")
    return outcome
