"""Per-traffic-class protocol outcomes: a scenario's two hosts drive the Quick Mode run.

For each ordered host pair that can exchange protected traffic (``checks.pairs``) and each
traffic class of the initiator (``semantics.traffic``: an IPsec policy and a representative
packet), the negotiation semantics under the profile (``semantics.negotiation``, with the
profile's ``selectors:`` rules) decides what the responder answers to message 1: the run then
explores success (``installed``), ``no-proposal-chosen`` or ``invalid-id-information``
(``QMOptions.outcome``, docs/PROTOCOL.md). Classes with the same (profile, outcome) share one
run: the outcome is the only thing of the policies the protocol model sees.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from qmcheck.model.quickmode.options import QMOptions
from qmcheck.model.quickmode.profiles import negotiation_options
from qmcheck.model.semantics.negotiation import negotiate
from qmcheck.model.semantics.traffic import traffic_classes
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Scenario
from qmcheck.properties.checks.pairs import plan_pairs
from qmcheck.properties.results import Result

#: The negotiation status -> the protocol model's outcome of message 1.
QM_OUTCOME: dict[str, str] = {"accepted": "installed",
                              "NO_PROPOSAL_CHOSEN": "no-proposal-chosen",
                              "INVALID_ID_INFORMATION": "invalid-id-information"}


@dataclass(frozen=True)
class TrafficClass:
    """One traffic class of an ordered host pair under one profile, and its outcome."""

    profile: str
    initiator: str
    responder: str
    policy: str
    packet: Packet
    status: str  # the negotiation's status (accepted, NO_PROPOSAL_CHOSEN, ...)
    never_expires: bool = False  # the accepted transform's lifetimes are 0 (no limit)

    @property
    def outcome(self) -> str:
        """The protocol run's outcome of message 1 for this class."""
        return QM_OUTCOME[self.status]

    def label(self) -> str:
        return f"{self.initiator} -> {self.responder} {self.policy}"

    def to_json(self) -> dict[str, Any]:
        return {"profile": self.profile, "initiator": self.initiator,
                "responder": self.responder, "policy": self.policy,
                "packet": self.packet.to_json(), "negotiation": self.status,
                "outcome": self.outcome}


def ordered_pairs(scenario: Scenario) -> list[tuple[str, str]]:
    """Both directions of every checked host pair, in the scenario's host order."""
    plan = plan_pairs(dict(scenario.hosts))
    rank = {name: n for n, name in enumerate(scenario.hosts)}
    pairs = [(a, b) for pair in plan.checked for a, b in (pair, pair[::-1])]
    return sorted(pairs, key=lambda ab: (rank[ab[0]], rank[ab[1]]))


def scenario_classes(scenario: Scenario, profiles: list[str]) -> list[TrafficClass]:
    """Every class that sends message 1 (its initiator's policy is IPsec and a representative
    packet first-matches it), with its negotiation's status under each profile."""
    out: list[TrafficClass] = []
    for profile in profiles:
        options = negotiation_options(profile)
        for i_name, r_name in ordered_pairs(scenario):
            initiator, responder = scenario.hosts[i_name], scenario.hosts[r_name]
            for policy, packet in traffic_classes(initiator, responder):
                if packet is None:
                    continue
                result = negotiate(initiator, responder, packet, options)
                if result.message1 is None or result.status not in QM_OUTCOME:
                    continue
                t = result.accepted
                never = t is not None and t.lifetime_seconds == 0 and t.lifetime_kbytes == 0
                out.append(TrafficClass(profile, i_name, r_name, policy.name, result.packet,
                                        result.status, never))
    return out


def runs_needed(classes: list[TrafficClass]) -> list[tuple[str, str]]:
    """The distinct (profile, outcome) runs the classes ask for, in order of appearance."""
    return list(dict.fromkeys((c.profile, c.outcome) for c in classes))


def never_expires(classes: list[TrafficClass], profile: str, outcome: str) -> bool:
    """Every class of the (profile, outcome) run negotiated a transform with lifetimes of 0:
    its SAs never expire (``QMOptions.no_expiry``: no rekey, no hard expiry)."""
    mine = [c for c in classes if (c.profile, c.outcome) == (profile, outcome)]
    return bool(mine) and all(c.never_expires for c in mine)


def annotate(results: list[Result], classes: list[TrafficClass],
             configs: list[QMOptions]) -> list[Result]:
    """Each qm.* result with the classes its run stands for (``extra['classes']``); a run is
    recognised by its subject (profile, options label) among ``configs``."""
    outcome = {(c.profile, c.label()): c.outcome for c in configs}
    out = []
    for r in results:
        key = outcome.get(tuple(r.subject[:2]))
        mine = [c.to_json() for c in classes if (c.profile, c.outcome) == (r.subject[0], key)]
        out.append(replace(r, extra={**r.extra, "outcome": key, "classes": mine})
                   if key is not None else r)
    return out


def class_verdicts(results: list[Result]) -> list[tuple[str, dict[str, Any], list[str]]]:
    """Per traffic class (and fault setting): the worst of its run's results (the severity of
    a refutation, ``error`` first, else ``unknown``, else ``holds``), the class, and the
    properties refuted or unknown there. Verdict first, for the text reports."""
    rank = {"error": 0, "warning": 1, "note": 2, "unknown": 3, "holds": 4}
    rows: dict[tuple[Any, ...], tuple[str, dict[str, Any], list[str]]] = {}
    for r in results:
        for c in r.extra.get("classes", []):
            setting = r.subject[1] if len(r.subject) > 1 else ""
            key = (c["profile"], c["initiator"], c["responder"], c["policy"], setting)
            worst, cls, bad = rows.get(key, ("holds", {**c, "setting": setting}, []))
            mine = r.severity if r.verdict == "refuted" else r.verdict
            if rank.get(mine, 3) < rank[worst]:
                worst = mine
            if r.verdict != "holds":
                bad.append(r.property)
            rows[key] = (worst, cls, bad)
    return list(rows.values())
