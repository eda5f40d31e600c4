"""The property catalogue (docs/SPEC.md 4): stable ids, one-line meanings, kinds and engines.

Reports, SARIF rules, tests and documentation take ids and meanings from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["policy", "peers", "protocol"]
Flavour = Literal["safety", "liveness", "reachability"]


@dataclass(frozen=True)
class PropertyInfo:
    """One catalogue entry. ``severity`` is the severity of a refutation."""

    id: str
    meaning: str
    kind: Kind
    flavour: Flavour = "safety"
    engines: tuple[str, ...] = ("smt",)
    severity: Literal["error", "warning", "note"] = "error"
    witness: Literal["packet", "selectors", "trace"] = "packet"


CATALOGUE: tuple[PropertyInfo, ...] = (
    PropertyInfo("policy.determinism",
                 "no packet's first match depends on the order among policies of equal "
                 "priority", "policy"),
    PropertyInfo("policy.shadowed",
                 "every policy is the first match for some packet, unless all its traffic "
                 "goes to earlier policies with the same action (reported with the smallest "
                 "set of earlier policies that together cover it)", "policy"),
    PropertyInfo("policy.redundant",
                 "removing any one policy changes some packet's action", "policy",
                 severity="warning"),
    PropertyInfo("policy.correlated",
                 "no two policies with different actions partly overlap where the earlier "
                 "one applies (their order decides those packets)", "policy",
                 severity="warning"),
    PropertyInfo("policy.generalization",
                 "no later policy contains an earlier one with a different action", "policy",
                 severity="note"),
    PropertyInfo("policy.uncovered", "every packet matches some policy", "policy",
                 severity="warning"),
    PropertyInfo("peers.negotiation",
                 "for every packet the initiator protects toward the responder, Quick Mode "
                 "succeeds", "peers"),
    PropertyInfo("peers.consistency",
                 "the policy the responder chooses from the selectors is the one its own "
                 "packet lookup applies to that traffic, in both directions", "peers"),
    PropertyInfo("peers.symmetry",
                 "no traffic between the hosts is protected by one side and passed or "
                 "discarded by the other", "peers"),
    PropertyInfo("qm.responder-installs-after-msg3",
                 "the responder has both SAs installed only after it received message 3",
                 "protocol", engines=("explicit", "smt"), witness="trace"),
    PropertyInfo("qm.responder-nothing-before-msg3",
                 "the responder installs no SA before message 3", "protocol",
                 engines=("explicit", "smt"), witness="trace"),
    PropertyInfo("qm.initiator-spi-after-msg2",
                 "the initiator's outbound entry holds the responder's SPI only after "
                 "message 2", "protocol", engines=("explicit", "smt"), witness="trace"),
    PropertyInfo("qm.spi-unique", "no two inbound entries of a host share an SPI",
                 "protocol", engines=("explicit", "smt"), witness="trace"),
    PropertyInfo("qm.agreement",
                 "when both sides have installed, SPIs cross-match, and transform and "
                 "selectors agree", "protocol", engines=("explicit", "smt"), witness="trace"),
    PropertyInfo("qm.no-black-hole",
                 "no protected data packet reaches a host without an installed inbound SA "
                 "for it", "protocol", engines=("explicit", "smt"), witness="trace"),
    PropertyInfo("qm.no-orphan",
                 "when nothing is in flight and no timer is pending, no pair is installed on "
                 "one side only", "protocol", engines=("explicit", "smt"), witness="trace"),
    PropertyInfo("qm.no-deadlock", "every state that is not final has a successor",
                 "protocol", engines=("explicit", "smt"), witness="trace"),
    PropertyInfo("qm.eventually-installed",
                 "if loss is not forever, every negotiation ends with the pair installed on "
                 "both sides", "protocol", "liveness", engines=("explicit",), witness="trace"),
    PropertyInfo("qm.reachable-installed",
                 "a state with both sides installed is reachable", "protocol", "reachability",
                 engines=("explicit", "smt"), witness="trace"),
    PropertyInfo("qm.initiator-nothing-before-msg2",
                 "the initiator installs no outbound SA before it has received message 2",
                 "protocol", engines=("explicit", "smt"), witness="trace"),
    PropertyInfo("qm.recovery",
                 "if at most one message of a negotiation is lost and timers are longer than "
                 "a round trip, the negotiation ends with the pair installed on both sides",
                 "protocol", "liveness", engines=("explicit",), witness="trace"),
    PropertyInfo("qm.no-larval-leak",
                 "when a negotiation has ended on both sides, no larval entry of it remains",
                 "protocol", engines=("explicit", "smt"), witness="trace"),
    PropertyInfo("qm.rekey-no-black-hole",
                 "no data packet is dropped while a pair installed on both sides is rekeyed "
                 "(SA lifecycle: --rekeys N)", "protocol", engines=("explicit", "smt"),
                 witness="trace"),
    PropertyInfo("qm.orphan-heals",
                 "an SA pair installed on one side only is removed by a delete notification, "
                 "DPD or INITIAL-CONTACT before its hard expiry (SA lifecycle: --rekeys N)",
                 "protocol", engines=("explicit", "smt"), witness="trace"),
    PropertyInfo("qm.rekey-keeps-outbound",
                 "after a rekey (a collision included), once the exchanges have ended and a "
                 "host's old pair is gone, a host with an installed inbound SA of a new pair "
                 "also has an installed outbound SA (SA lifecycle: --rekeys N)",
                 "protocol", engines=("explicit", "smt"), witness="trace"),
)

# Ids beyond docs/SPEC.md section 4 (issue 14: one-way policies and tunnels), reported only when
# a host has such policies. CATALOGUE mirrors docs/SPEC.md (a test compares them); these are
# proposed for it and meanwhile known to reports and SARIF through ``info``.
EXTENSIONS: tuple[PropertyInfo, ...] = (
    PropertyInfo("policy.mirrored",
                 "where policies apply to one direction only, the reply to every protected "
                 "packet is protected and the reply to every unprotected one is not",
                 "policy"),
    PropertyInfo("peers.tunnel",
                 "every tunnel a host negotiates toward the other ends at the other's own "
                 "address, the responder's chosen tunnel ends at the initiator's, and both "
                 "sides use the same mode (tunnel or transport) unless the responder takes "
                 "the initiator's mode (libreswan)", "peers"),
)

BY_ID: dict[str, PropertyInfo] = {p.id: p for p in CATALOGUE + EXTENSIONS}
#: Ids decided only when the SA lifecycle is part of the model (QMOptions.lifecycle).
LIFECYCLE_IDS: tuple[str, ...] = ("qm.rekey-no-black-hole", "qm.orphan-heals",
                                  "qm.rekey-keeps-outbound")


def info(property_id: str) -> PropertyInfo | None:
    """The catalogue entry of an id, or None for ids outside the catalogue (e.g. lookup)."""
    return BY_ID.get(property_id)


def ids(kind: Kind) -> list[str]:
    """The ids of one kind, in catalogue order."""
    return [p.id for p in CATALOGUE if p.kind == kind]
