"""``qmcheck negotiate INITIATOR RESPONDER``: what Quick Mode sends for a packet and what the
responder answers (its policy and accepted transform, or the error and why)."""

from __future__ import annotations

import argparse

from qmcheck.model.formats.loader import load_host_spec
from qmcheck.model.quickmode.profiles import negotiation_options
from qmcheck.model.semantics.negotiation import Outcome, negotiate
from qmcheck.model.values.policy import Host
from qmcheck.properties.cli.options import add_output_options, add_profile_option, print_notes
from qmcheck.properties.cli.packet_args import add_packet_options, packets_from_args
from qmcheck.properties.results import Report, Result


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]

    parser = sub.add_parser("negotiate", help="message 1 and the responder's answer for a packet",
                            description=__doc__)
    parser.add_argument("initiator", metavar="INITIATOR", help="initiator's policy file")
    parser.add_argument("responder", metavar="RESPONDER", help="responder's policy file")
    add_profile_option(parser, allow_all=False,
                       what="implementation profile (its selectors: section)")
    add_packet_options(parser, directions=False)
    add_output_options(parser)
    parser.set_defaults(handler=run)


def outcome_result(initiator: Host, responder: Host, outcome: Outcome,
                   property_id: str = "negotiate") -> Result:
    """A report entry for one negotiation: holds when accepted or when nothing is negotiated."""
    lines = [outcome.reason]
    m1 = outcome.message1
    if m1 is not None:
        lines.append(f"message 1: proposals {', '.join(str(t) for t in m1.proposals)}; "
                     f"IDci {m1.idci} ({m1.idci.id_type()}), IDcr {m1.idcr} ({m1.idcr.id_type()})")
    if outcome.succeeded and outcome.accepted is not None:
        ids = (m1.idci, m1.idcr) if m1 is not None and outcome.narrowed is None else (
            outcome.narrowed)
        lines.append(f"message 2: accepted {outcome.accepted}; IDci {ids[0]}, IDcr {ids[1]}"
                     if ids else f"message 2: accepted {outcome.accepted}")
    else:
        lines.append(f"result: {outcome.status}")
    failed = outcome.status in ("INVALID_ID_INFORMATION", "NO_PROPOSAL_CHOSEN")
    subject = tuple(p.name for p in (outcome.initiator_policy, outcome.responder_policy) if p)
    return Result(
        property_id, "refuted" if failed else "holds", subject,
        "error" if failed else "note", "concrete", "\n".join(lines),
        {"packet": outcome.packet.to_json(), "related": [initiator.name, responder.name]},
        extra={"negotiation": outcome.to_json()},
    )


def run(args: argparse.Namespace) -> Report:
    initiator = load_host_spec(args.initiator)
    responder = load_host_spec(args.responder)
    options = negotiation_options(args.profile)
    packets = packets_from_args(args)
    print_notes(initiator, responder)
    report = Report("negotiate", [args.initiator, args.responder])
    for packet in packets:
        outcome = negotiate(initiator, responder, packet, options)
        report.add(outcome_result(initiator, responder, outcome))
    return report
