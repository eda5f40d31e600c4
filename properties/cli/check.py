"""``qmcheck check [SCENARIO]``: validate a scenario and check it; without a scenario, the
built-in default one (two hosts as in the guide, all properties, all profiles)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qmcheck.model.formats.loader import load_scenario
from qmcheck.model.semantics.negotiation import negotiate, profile_options
from qmcheck.model.semantics.traffic import traffic_classes
from qmcheck.model.values.policy import Scenario
from qmcheck.properties.checks.pairs import plan_pairs
from qmcheck.properties.checks.peers import host_scope
from qmcheck.properties.checks.protocol_matrix import protocol_results
from qmcheck.properties.checks.protocol_smt import check_step as smt_step
from qmcheck.properties.cli.conflicts import check_step as policy_step
from qmcheck.properties.cli.negotiate import outcome_result
from qmcheck.properties.cli.options import add_output_options, scenario_profiles
from qmcheck.properties.cli.peers import check_step as peers_step
from qmcheck.properties.reports.check_text import render_check_text
from qmcheck.properties.results import Report, Result

# Later checks register here: each takes the scenario and the parsed arguments and returns
# its results, in a deterministic order.
CheckStep = Callable[[Scenario, argparse.Namespace], list[Result]]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]

    parser = sub.add_parser("check", help="check a scenario (default: the built-in one)",
                            description=__doc__)
    parser.add_argument("scenario", metavar="SCENARIO", nargs="?",
                        help="scenario or host file (default: the built-in scenario)")
    parser.add_argument("--engine", default="all", choices=["explicit", "smt", "all"],
                        help="which engines decide the properties (default: all)")
    parser.add_argument("--out", default="counterexamples", metavar="DIR",
                        help="where counterexamples are written (default: counterexamples/)")
    add_output_options(parser)
    parser.set_defaults(handler=run)


def negotiation_results(scenario: Scenario, args: argparse.Namespace) -> list[Result]:
    """One negotiation per traffic class, per ordered pair of hosts that can exchange
    protected traffic (``checks.pairs``) and per profile."""
    results: list[Result] = []
    plan = plan_pairs(dict(scenario.hosts))
    ordered = [(a, b) for pair in plan.checked for a, b in (pair, pair[::-1])]
    rank = {name: n for n, name in enumerate(scenario.hosts)}
    ordered.sort(key=lambda ab: (rank[ab[0]], rank[ab[1]]))
    for profile in scenario_profiles(scenario):
        options = profile_options(profile)
        for i_name, r_name in ordered:
            initiator, responder = scenario.hosts[i_name], scenario.hosts[r_name]
            for policy, packet in traffic_classes(initiator, responder):
                subject = (profile, i_name, r_name, policy.name)
                if packet is None:
                    results.append(Result(
                        "negotiate", "unknown", subject, "warning", "concrete",
                        f"no representative packet of {policy.name} toward {r_name} "
                        "first-matches it"))
                    continue
                outcome = negotiate(initiator, responder, packet, options)
                r = outcome_result(initiator, responder, outcome)
                results.append(Result(r.property, r.verdict, subject, r.severity, r.engine,
                                      r.message, r.witness, extra=r.extra))
    return results


def protocol_step(scenario: Any, args: Any) -> list[Result]:
    """The ``qmcheck check`` step: the qm.* matrix for the scenario's ``protocol:`` mapping.

    ``--engine explicit``: the explicit engine; ``smt``: the SMT engine alone; ``all``
    (default): both, one merged result per property (``checks.protocol_smt.check_step``).
    """
    engine = getattr(args, "engine", "all")
    out = Path(getattr(args, "out", "counterexamples"))
    explicit: list[Result] = []
    if engine != "smt":
        explicit = protocol_results(getattr(scenario, "protocol", {}), out_dir=out,
                                    source=str(getattr(scenario, "source", "<scenario>")))
    if engine == "explicit":
        return explicit
    return smt_step(scenario, args, explicit)


STEPS: list[CheckStep] = [negotiation_results, policy_step, protocol_step, peers_step]


def run(args: argparse.Namespace) -> Report:
    scenario = load_scenario(args.scenario)
    report = Report("check", [args.scenario or scenario.source],
                    text_renderer=render_check_text)
    if len(scenario.hosts) >= 2:
        report.scope = {name: host_scope(h) for name, h in scenario.hosts.items()}
        report.pairs = plan_pairs(dict(scenario.hosts)).to_json()
    for step in STEPS:
        report.extend(step(scenario, args))
    return report
