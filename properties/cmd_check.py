"""``qmcheck check [SCENARIO]``: validate a scenario and check it; without a scenario, the
built-in default one (two hosts as in the guide, all properties, all profiles)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from qmcheck.model.loader import load_scenario
from qmcheck.model.negotiation import PROFILE_OPTIONS, negotiate, profile_options
from qmcheck.model.policy import Scenario
from qmcheck.model.traffic import traffic_classes
from qmcheck.properties.check_report import render_check_text
from qmcheck.properties.cmd_conflicts import check_step as policy_step
from qmcheck.properties.cmd_negotiate import outcome_result
from qmcheck.properties.cmd_peers import check_step as peers_step
from qmcheck.properties.matrix import check_step as protocol_step
from qmcheck.properties.report import Report, Result

# Later checks register here: each takes the scenario and the parsed arguments and returns
# its results, in a deterministic order.
CheckStep = Callable[[Scenario, argparse.Namespace], list[Result]]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from qmcheck.properties.cli import add_output_options

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


def scenario_profiles(scenario: Scenario) -> list[str]:
    """The profiles a scenario asks for (``protocol: profiles:``), all by default."""
    wanted = scenario.protocol.get("profiles", list(PROFILE_OPTIONS))
    names = [wanted] if isinstance(wanted, str) else list(wanted)
    for name in names:
        profile_options(str(name))
    return [str(n) for n in names]


def negotiation_results(scenario: Scenario, args: argparse.Namespace) -> list[Result]:
    """One negotiation per traffic class, per ordered pair of hosts and per profile."""
    results: list[Result] = []
    names = list(scenario.hosts)
    for profile in scenario_profiles(scenario):
        options = profile_options(profile)
        for i_name in names:
            for r_name in names:
                if i_name == r_name:
                    continue
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


STEPS: list[CheckStep] = [negotiation_results, policy_step, protocol_step, peers_step]


def run(args: argparse.Namespace) -> Report:
    scenario = load_scenario(args.scenario)
    report = Report("check", [args.scenario or scenario.source],
                    text_renderer=render_check_text)
    for step in STEPS:
        report.extend(step(scenario, args))
    return report
