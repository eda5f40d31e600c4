"""qmcheck check [SCENARIO]: check what a scenario holds. Its host policies (policy.*), its
host pairs (peers.*, and the Quick Mode outcome of every traffic class), and the protocol runs
those pairs drive (qm.*, with the scenario's profiles and protocol options). Without a
scenario, the built-in one (two hosts as in the guide). The generic properties x profiles x
faults matrix runs only with --protocol-matrix (or: qmcheck protocol --matrix DIR)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from qmcheck.model.formats.loader import load_scenario
from qmcheck.model.quickmode.profiles import negotiation_options
from qmcheck.model.semantics.negotiation import negotiate
from qmcheck.model.semantics.traffic import traffic_classes
from qmcheck.model.values.policy import Scenario
from qmcheck.properties.checks.pairs import plan_pairs
from qmcheck.properties.checks.peers import host_scope
from qmcheck.properties.checks.protocol_classes import (
    annotate,
    ordered_pairs,
    runs_needed,
    scenario_classes,
)
from qmcheck.properties.checks.protocol_matrix import (
    CHECK_SETTINGS,
    DEFAULTS,
    SETTINGS,
    run_matrix,
    scenario_plan,
)
from qmcheck.properties.checks.protocol_smt import smt_protocol_results
from qmcheck.properties.cli.conflicts import check_step as policy_step
from qmcheck.properties.cli.negotiate import outcome_result
from qmcheck.properties.cli.options import (
    add_budget_options,
    add_out_option,
    add_output_options,
    add_profile_option,
    add_progress_option,
    check_scenario_protocol,
    max_findings,
    print_notes,
    progress_enabled,
    scenario_profiles,
)
from qmcheck.properties.cli.peers import check_step as peers_step
from qmcheck.properties.engines.budget import set_budget
from qmcheck.properties.reports.check_text import render_check_text
from qmcheck.properties.reports.output import Written, output_dir
from qmcheck.properties.reports.progress import LazyProgress
from qmcheck.properties.results import Report, Result

# Each step takes the scenario and the parsed arguments and returns its results, in a
# deterministic order.
CheckStep = Callable[[Scenario, argparse.Namespace], list[Result]]
#: The fault setting of a scenario whose protocol options name no fault.
def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]

    parser = sub.add_parser("check", help="check a scenario: policies, pairs, the protocol "
                            "runs they drive (default: the built-in scenario)",
                            description=__doc__)
    parser.add_argument("scenario", metavar="SCENARIO", nargs="?",
                        help="scenario or host file (default: the built-in scenario)")
    parser.add_argument("--engine", default="auto", choices=["auto", "explicit", "smt", "all"],
                        help="auto (default): policy.* and peers.* on z3, qm.* on the explicit "
                             "state graph (complete for the scenario's bounds); explicit: qm.* "
                             "only; smt: every family on z3; all: as auto, and every qm.* run "
                             "on z3 too, merged (the engines cross-checked)")
    parser.add_argument("--protocol-matrix", action="store_true",
                        help="run the protocol under every fault setting of the results "
                             "matrix, not only the scenario's")
    add_profile_option(parser, default=None,
                       what="replaces the scenario's profiles for every step")
    add_out_option(parser)
    add_budget_options(parser)
    add_progress_option(parser)
    add_output_options(parser, ("text", "json", "sarif", "html"))
    parser.set_defaults(handler=run)


def pair_outcomes(scenario: Scenario, profile: str) -> list[tuple[str, str, Any, Any]]:
    """``(initiator, responder, policy, outcome or None)`` per traffic class and ordered pair;
    None when no representative packet of the class first-matches its policy."""
    options = negotiation_options(profile)
    out: list[tuple[str, str, Any, Any]] = []
    for i_name, r_name in ordered_pairs(scenario):
        initiator, responder = scenario.hosts[i_name], scenario.hosts[r_name]
        for policy, packet in traffic_classes(initiator, responder):
            outcome = None if packet is None else negotiate(initiator, responder, packet,
                                                            options)
            out.append((i_name, r_name, policy, outcome))
    return out


def negotiation_results(scenario: Scenario, args: argparse.Namespace) -> list[Result]:
    """One negotiation per traffic class, per ordered pair of hosts that can exchange
    protected traffic (``checks.pairs``) and per profile."""
    results: list[Result] = []
    for profile in scenario_profiles(scenario, getattr(args, "profile", None)):
        for i_name, r_name, policy, outcome in pair_outcomes(scenario, profile):
            subject = (profile, i_name, r_name, policy.name)
            if outcome is None:
                results.append(Result(
                    "negotiate", "unknown", subject, "warning", "concrete",
                    f"no representative packet of {policy.name} toward {r_name} "
                    "first-matches it"))
                continue
            r = outcome_result(scenario.hosts[i_name], scenario.hosts[r_name], outcome)
            results.append(Result(r.property, r.verdict, subject, r.severity, r.engine,
                                  r.message, r.witness, extra=r.extra))
    return results


def protocol_step(scenario: Any, args: Any) -> list[Result]:
    """The qm.* results of the protocol runs the scenario's pairs drive, per traffic class:
    each class's negotiation under the profile (``checks.protocol_classes``) decides whether
    its run explores success, NO_PROPOSAL_CHOSEN or INVALID_ID_INFORMATION; classes with the
    same profile and outcome share one run, with the scenario's protocol options (every
    fault setting of the results matrix with ``--protocol-matrix``). Each result lists its
    classes (``extra['classes']``).

    ``--engine auto`` (default) and ``explicit``: the explicit engine, whose exploration of
    the finite state space decides every property for the scenario's bounds; ``smt``: the SMT
    engine alone; ``all``: both, one merged result per property.
    """
    engine = getattr(args, "engine", "auto")
    out = getattr(args, "out_dir", None)
    source = str(getattr(scenario, "source", "<scenario>"))
    mapping = {k: v for k, v in dict(getattr(scenario, "protocol", {}) or {}).items()
               if k not in ("profile", "profiles")}
    names = scenario_profiles(scenario, getattr(args, "profile", None))
    classes = scenario_classes(scenario, names)
    pairs = {p: list(dict.fromkeys(f"{c.initiator} -> {c.responder}" for c in classes
                                   if c.profile == p)) for p in names}
    mapping["profiles"] = [p for p, drive in pairs.items() if drive]
    if not mapping["profiles"]:
        return []
    # without --protocol-matrix: the reliable setting with patient timers (model v2)
    settings = SETTINGS if getattr(args, "protocol_matrix", False) else CHECK_SETTINGS
    _, base, settings = scenario_plan(mapping, source, settings)
    wanted = runs_needed(classes)
    configs = [base.with_(profile=p, outcome=o,
                          **{k: changes.get(k, v) for k, v in DEFAULTS.items()})
               for _, changes in settings for p, o in wanted]
    explicit: list[Result] = []
    if engine != "smt":
        runs = [run for outcome in dict.fromkeys(o for _, o in wanted)
                for run in run_matrix([p for p, o in wanted if o == outcome], settings,
                                      base.with_(outcome=outcome), None, out)]
        explicit = [r for _, run in runs for r in run.results]
        configs = [run.options for _, run in runs]
    if engine in ("explicit", "auto"):
        results = explicit
    else:
        # k <= 2 keeps ``check`` fast; what k-induction leaves open stays unknown (merged:
        # the explicit engine's verdict)
        results = smt_protocol_results(configs, explicit, max_k=2,
                                       out_dir=None if out is None else Path(out))
    return [replace(r, extra={**r.extra, "pairs": list(dict.fromkeys(
        f"{c['initiator']} -> {c['responder']}" for c in r.extra["classes"]))})
            if r.extra.get("classes") else r for r in annotate(results, classes, configs)]


STEPS: list[CheckStep] = [negotiation_results, policy_step, peers_step, protocol_step]


def run(args: argparse.Namespace) -> Report:
    """Validate the options and the scenario, then run every step."""
    limit = max_findings(args)
    set_budget(args.max_states, args.max_memory)
    scenario = load_scenario(args.scenario)
    check_scenario_protocol(scenario)
    scenario_profiles(scenario, args.profile)  # a bad --profile: exit 2 before any step
    out = output_dir(args.out, force=args.force)  # after the input is known to be good
    print_notes(*scenario.hosts.values())
    report = Report("check", [args.scenario or scenario.source],
                    text_renderer=render_check_text, min_severity=args.severity,
                    max_findings=limit)
    if len(scenario.hosts) >= 2:
        report.scope = {name: host_scope(h) for name, h in scenario.hosts.items()}
        report.pairs = plan_pairs(dict(scenario.hosts)).to_json()
    written = Written([out]) if out is not None else None
    args.out_dir = out
    with LazyProgress(enabled=progress_enabled(args)) as progress:
        args.progress_bar = progress
        for done, step in enumerate(STEPS):
            progress.update("check", done, len(STEPS))
            report.extend(step(scenario, args))
        progress.update("check", len(STEPS), len(STEPS))
    if written is not None:
        report.files = written.files()
    return report
