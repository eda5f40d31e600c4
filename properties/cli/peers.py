"""``qmcheck peers INITIATOR RESPONDER``: does Quick Mode succeed, and agree with packet
lookup, for every packet either host protects toward the other (docs/SPEC.md 4, ``peers.*``)?

Each host initiates in turn. z3 decides every property over all packets; each refutation
carries a witness packet (outbound at the initiator) that the concrete semantics replays.
``--summary`` adds the traffic table: which policies on each side and which transform apply
to each region of the traffic between the hosts.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace

from qmcheck.model.formats.loader import load_host_spec
from qmcheck.model.values.addresses import AddressValue
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.policy import Host, Scenario
from qmcheck.properties.checks.pairs import plan_pairs
from qmcheck.properties.checks.peers import DEFAULT_TIMEOUT, pair_scope, peers_results
from qmcheck.properties.cli.options import (
    add_output_options,
    add_profile_option,
    add_progress_option,
    cli_int,
    cli_seconds,
    print_notes,
    profiles_from_arg,
    progress_enabled,
    scenario_profiles,
)
from qmcheck.properties.reports.progress import LazyProgress
from qmcheck.properties.reports.traffic_summary import summary_results, summary_rows, summary_text
from qmcheck.properties.results import Report, Result


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]

    parser = sub.add_parser("peers", help="two-host analysis: negotiation, consistency, "
                            "symmetry over all packets", description=__doc__)
    parser.add_argument("initiator", metavar="INITIATOR", help="first host's policy file "
                        "(FILE or SCENARIO:HOST)")
    parser.add_argument("responder", metavar="RESPONDER", help="second host's policy file")
    add_profile_option(parser, what="implementation profile (its selectors: section)")
    parser.add_argument("--summary", action="store_true",
                        help="add the traffic summary (what will be protected, how)")
    parser.add_argument("--timeout", type=cli_seconds("--timeout"), default=DEFAULT_TIMEOUT,
                        metavar="SECONDS",
                        help=f"solver timeout per query (default {DEFAULT_TIMEOUT:g}); a "
                             "timeout gives 'unknown'")
    parser.add_argument("--jobs", type=cli_int("--jobs", 1, 256), default=None, metavar="N",
                        help="analyse the directions and profiles in N processes (default: "
                             "one per core for hosts with 2,000 policies or more, else 1; "
                             "the report is the same)")
    add_progress_option(parser)
    add_output_options(parser, ("text", "json", "sarif"))
    parser.set_defaults(handler=run)


PARALLEL_FROM_POLICIES = 2000


def default_jobs(a: Host, b: Host) -> int:
    """One process per core for large hosts (forking costs more than it saves on small ones)."""
    if len(a.policies) + len(b.policies) < PARALLEL_FROM_POLICIES:
        return 1
    return max(1, os.cpu_count() or 1)


def with_locations(results: list[Result], hosts: dict[str, Host]) -> list[Result]:
    """Point each refutation at the initiator policy's line (SARIF), the responder's as
    related location."""
    out = []
    for r in results:
        if r.verdict == "holds" or "initiator" not in r.extra:
            out.append(r)
            continue
        extra = dict(r.extra)
        i_host, r_host = hosts[extra["initiator"]], hosts[extra["responder"]]
        locs = []
        for host, name in zip((i_host, r_host), r.subject, strict=False):
            policy = next((p for p in host.policies if p.name == name), None)
            locs.append({"file": host.source, "line": policy.line if policy else None,
                         "message": f"{host.name}: {name}"})
        if locs:
            extra["location"] = locs[0]
            extra["related_locations"] = locs[1:]
        out.append(Result(r.property, r.verdict, r.subject, r.severity, r.engine, r.message,
                          r.witness, r.counterexample, r.seconds, extra))
    return out


def analyse(a: Host, b: Host, profiles: list[str], timeout: float, summary: bool,
            jobs: int = 1, others: tuple[AddressValue, ...] = ()) -> tuple[list[Result], str]:
    """The peers results for both directions (and the summary rows and table, if asked)."""
    if a.name == b.name:
        b = replace(b, name=f"{b.name}'")
    results = with_locations(peers_results(a, b, profiles, timeout, jobs, others),
                             {a.name: a, b.name: b})
    text = ""
    if summary:
        rows = [row for p in profiles for i, r in ((a, b), (b, a))
                for row in summary_rows(i, r, p, timeout)]
        results.extend(summary_results(rows))
        text = summary_text(rows)
    return results, text


def run(args: argparse.Namespace) -> Report:
    if args.timeout <= 0:
        raise InputError("--timeout must be positive", source="<command line>",
                         field="--timeout")
    if args.jobs is not None and args.jobs < 1:
        raise InputError("--jobs must be at least 1", source="<command line>", field="--jobs")
    a = load_host_spec(args.initiator)
    b = load_host_spec(args.responder)
    print_notes(a, b)
    jobs = args.jobs if args.jobs is not None else default_jobs(a, b)
    profiles = profiles_from_arg(args.profile)
    with LazyProgress(enabled=progress_enabled(args)) as progress, progress.busy("peers"):
        results, table_text = analyse(a, b, profiles, args.timeout, args.summary, jobs)
    if a.name == b.name:
        b = replace(b, name=f"{b.name}'")
    report = Report("peers", [args.initiator, args.responder], results,
                    scope=pair_scope(a, b))
    if table_text:
        timings = getattr(args, "timings", False)

        def text(rep: Report) -> str:
            plain = Report("peers", rep.inputs, [r for r in rep.results
                                                 if r.property != "peers.traffic"],
                           min_severity=rep.min_severity, max_findings=rep.max_findings,
                           scope=rep.scope)
            return plain.to_text(timings=timings) + table_text

        report.text_renderer = text
    return report


def check_step(scenario: Scenario, args: argparse.Namespace) -> list[Result]:
    """The ``qmcheck check`` step: ``peers.*`` for every pair of hosts that can exchange
    protected traffic (``checks.pairs``; each initiating in turn) under the scenario's
    profiles. SMT only: skipped with ``--engine explicit``."""
    if getattr(args, "engine", "all") == "explicit":
        return []

    profiles = scenario_profiles(scenario, getattr(args, "profile", None))
    results: list[Result] = []
    for a_name, b_name in plan_pairs(dict(scenario.hosts)).checked:
        a, b = scenario.hosts[a_name], scenario.hosts[b_name]
        others = tuple(v for name, h in scenario.hosts.items() if name not in (a_name, b_name)
                       for v in h.address_values)
        results.extend(analyse(a, b, profiles, DEFAULT_TIMEOUT, False, others=others)[0])
    return results
