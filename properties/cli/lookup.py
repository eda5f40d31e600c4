"""``qmcheck lookup POLICY``: which policy applies to a packet, and its action (the guide's
``ipsec_policy`` tester)."""

from __future__ import annotations

import argparse

from qmcheck.model.formats.loader import load_host_spec
from qmcheck.model.semantics.lookup import first_match
from qmcheck.properties.cli.options import add_output_options, print_notes
from qmcheck.properties.cli.packet_args import add_packet_options, packets_from_args
from qmcheck.properties.results import Report, Result, format_packet_dict, table


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]

    parser = sub.add_parser("lookup", help="which policy a packet hits, and its action",
                            description=__doc__)
    parser.add_argument("policy", metavar="POLICY",
                        help="host policy file (YAML or ipsec_config batch), or SCENARIO:HOST")
    add_packet_options(parser)
    add_output_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> Report:
    host = load_host_spec(args.policy)
    packets = packets_from_args(args)
    print_notes(host)
    report = Report("lookup", [args.policy], text_renderer=lookup_table)
    ordered = host.ordered()
    for packet in packets:
        policy = first_match(ordered, packet)
        if policy is None:
            report.add(Result("lookup", "holds", (), "note", "concrete",
                              f"{packet}: no policy matches",
                              {"packet": packet.to_json()}, extra={"action": None}))
            continue
        report.add(Result(
            "lookup", "holds", (policy.name,), "note", "concrete",
            f"{packet}: {policy.describe()}",
            {"packet": packet.to_json()},
            extra={"action": policy.action.to_json(), "priority": None if policy.implicit
                   else policy.priority, "line": policy.line},
        ))
    return report


def lookup_table(report: Report) -> str:
    """One row per packet: the packet, the policy that applies, its priority and action."""
    rows = []
    for r in report.results:
        action = r.extra.get("action")
        action_text = ("no policy matches" if action is None else
                       action if isinstance(action, str) else ",".join(action))
        priority = r.extra.get("priority")
        rows.append([format_packet_dict(r.witness["packet"]) if r.witness else "-",
                     r.subject[0] if r.subject else "-",
                     "last" if r.subject and priority is None else str(priority or "-"),
                     action_text])
    return "\n".join(table(rows, ["PACKET", "POLICY", "PRIORITY", "ACTION"])) + "\n"
