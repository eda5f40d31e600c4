"""The concrete outcome of one Quick Mode negotiation for a packet (DESIGN.md 3, steps 1-3).

The initiator looks the packet up, derives its client IDs and proposals; the responder searches
its policies for the received selectors and evaluates the proposals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from qmcheck.model.errors import InputError
from qmcheck.model.lookup import lookup
from qmcheck.model.packet import Packet
from qmcheck.model.policy import Host, Policy
from qmcheck.model.selectors import (
    Selector,
    Wildcard,
    address_filter_contains,
    derive_selector,
    port_contains,
    protocol_contains,
)
from qmcheck.model.transforms import Transform

ProposalOrder = Literal["initiator", "responder"]
Status = Literal["accepted", "INVALID_ID_INFORMATION", "NO_PROPOSAL_CHOSEN", "not-protected"]


@dataclass(frozen=True, slots=True)
class NegotiationOptions:
    """The open points of DESIGN.md 3 that change a negotiation's outcome."""

    wildcard: Wildcard = "strict"
    proposal_order: ProposalOrder = "initiator"


PROFILE_OPTIONS: dict[str, NegotiationOptions] = {
    "hpux": NegotiationOptions("strict", "initiator"),
    "racoon": NegotiationOptions("lenient", "initiator"),
    "strongswan": NegotiationOptions("strict", "responder"),
    "libreswan": NegotiationOptions("strict", "initiator"),
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

    @property
    def succeeded(self) -> bool:
        return self.status == "accepted"

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
                "idci": m1.idci.to_json(),
                "idcr": m1.idcr.to_json(),
            },
        }


def message1(policy: Policy, packet: Packet) -> Message1:
    """Message 1 for an outbound packet that ``policy`` (an IPsec policy) matched."""
    local, remote, lport, rport = packet.local_remote()
    fam = packet.family
    if policy.family is None:
        from qmcheck.model.selectors import wildcard_selector

        proto = 0 if policy.protocol is None else policy.protocol
        idci = wildcard_selector(fam, proto, 0 if policy.source_port.is_any else lport)
        idcr = wildcard_selector(fam, proto, 0 if policy.destination_port.is_any else rport)
    else:
        src_value = policy.source.first_match(fam, local)
        dst_value = policy.destination.first_match(fam, remote)
        assert src_value is not None and dst_value is not None, "policy does not match packet"
        idci = derive_selector(src_value, fam, local, policy.source_port, lport, policy.protocol)
        idcr = derive_selector(dst_value, fam, remote, policy.destination_port, rport,
                               policy.protocol)
    return Message1(policy.action.transforms, idci, idcr)


def selectors_match(policy: Policy, idci: Selector, idcr: Selector, wildcard: Wildcard) -> bool:
    """Does the responder's policy contain the received selectors (mirrored: its source side
    holds IDcr, its destination side IDci)?"""
    if policy.family is not None and policy.family != idci.family:
        return False
    if idci.protocol != idcr.protocol:
        return False
    family_any = policy.family is None
    return (
        protocol_contains(policy.protocol, idci.protocol, wildcard)
        and address_filter_contains(policy.source, family_any, idcr, wildcard)
        and address_filter_contains(policy.destination, family_any, idci, wildcard)
        and port_contains(policy.source_port, idcr.port, wildcard)
        and port_contains(policy.destination_port, idci.port, wildcard)
    )


def responder_search(responder: Host, idci: Selector, idcr: Selector,
                     wildcard: Wildcard = "strict") -> Policy | None:
    """The responder's first policy, in search order, that contains the selectors."""
    for policy in responder.ordered():
        if selectors_match(policy, idci, idcr, wildcard):
            return policy
    return None


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
    m1 = message1(policy, packet)
    chosen = responder_search(responder, m1.idci, m1.idcr, opts.wildcard)
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
    return Outcome(packet, "accepted",
                   f"{responder.name} selects {chosen.name} and accepts {accepted.name}",
                   initiator_policy=policy, message1=m1, responder_policy=chosen,
                   accepted=accepted)
