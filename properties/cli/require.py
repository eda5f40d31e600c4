"""``qmcheck require REQUIREMENTS SCENARIO``: does every requirement hold (``req.<name>``)?

Each requirement is checked for every packet of its traffic, both ways between the two hosts
it names: both hosts' lookups and the Quick Mode outcome under the scenario's profiles (or
``--profile``). A refutation names a witness packet, the reason and the policy concerned."""

from __future__ import annotations

import argparse
from typing import Any

from qmcheck.model.formats.loader import load_scenario, read_text
from qmcheck.model.formats.requirements_file import check_hosts, load_requirements_text
from qmcheck.model.quickmode.profiles import negotiation_options
from qmcheck.model.semantics.negotiation import PROFILE_OPTIONS
from qmcheck.model.values.errors import InputError
from qmcheck.properties.checks.deploy.cells import DEFAULT_LIMIT
from qmcheck.properties.checks.deploy.requirements import (
    RequirementCheck,
    check_requirement,
    replay,
    traffic_text,
)
from qmcheck.properties.checks.deploy.requirements_smt import check_requirement_smt
from qmcheck.properties.cli.options import add_output_options, print_notes, scenario_profiles
from qmcheck.properties.results import Report, Result

SHOWN_VIOLATIONS = 10
SHOWN_IN_TEXT = 3


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("require", help="check a requirements file on a scenario (req.*)",
                            description=__doc__)
    parser.add_argument("requirements", metavar="REQUIREMENTS", help="requirements file (YAML)")
    parser.add_argument("scenario", metavar="SCENARIO", help="scenario file with the hosts")
    parser.add_argument("--profile", action="append", metavar="NAME|PATH",
                        help="profile of the negotiations (repeatable; default: the "
                             f"scenario's profiles; one of {', '.join(PROFILE_OPTIONS)}, a mutant "
                             "name or a profile file)")
    parser.add_argument("--max-cells", type=int, default=DEFAULT_LIMIT, metavar="N",
                        help="largest partition of a host pair's packets to enumerate; past "
                             f"it the verdict is unknown (default {DEFAULT_LIMIT:,})")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                        help="z3 time limit per query (used past --max-cells); past it the "
                             "verdict is unknown (default 10)")
    add_output_options(parser, ("text", "json", "sarif"))
    parser.set_defaults(handler=run)


def _result(check: RequirementCheck, scenario_source: str, profiles: list[str]) -> Result:
    req = check.requirement
    subject = (req.name, *req.between)
    req_loc = {"file": req.source, "line": req.line}
    scope = (f"{traffic_text(req.traffic)} both ways between {req.between[0]} and "
             f"{req.between[1]}")
    extra: dict[str, Any] = {"requirement": req.text(), "traffic": scope,
                             "profiles": profiles,
                             "packets": check.packets if check.engine != "smt" else None,
                             "scope": check.scope}
    if check.unknown:
        return Result(req.property_id, "unknown", subject, "error", check.engine,
                      f"not decided: {check.unknown}", None, None, None,
                      {**extra, "location": req_loc})
    if not check.violations:
        if check.engine == "smt":
            text = f"{req.text()} holds for every packet of {scope} (z3)"
        else:
            vacuous = "" if check.packets else " (vacuously: none of these packets goes " \
                                                "between the hosts' addresses)"
            text = f"{req.text()} holds for all {check.packets:,} packets of {scope}{vacuous}"
        return Result(req.property_id, "holds", subject, "error", check.engine, text, None,
                      None, None, {**extra, "location": req_loc})
    first = check.violations[0]
    lines = [v.reason for v in check.violations[:SHOWN_IN_TEXT]]
    more = len(check.violations) - SHOWN_IN_TEXT
    if more > 0:
        lines.append(f"and {more} other violation{'s' if more > 1 else ''} (the first "
                     f"{SHOWN_VIOLATIONS} under 'violations' in the JSON report)")
    loc = ({"file": first.host.source, "line": first.policy.line}
           if first.policy is not None and not first.policy.implicit else req_loc)
    extra.update({
        "location": loc,
        "related_locations": [{**req_loc, "message": f"requirement {req.name}"}],
        "violations": [{"reason": v.reason, "packet": v.packet.to_json(),
                        "host": v.host.name, "policy": v.policy.name if v.policy else None,
                        "profiles": list(v.profiles)}
                       for v in check.violations[:SHOWN_VIOLATIONS]],
    })
    witness = {"packet": first.packet.to_json(),
               "related": [first.policy.name] if first.policy else []}
    return Result(req.property_id, "refuted", subject, "error", check.engine, "\n".join(lines),
                  witness, None, None, extra)


def run(args: argparse.Namespace) -> Report:
    if args.max_cells <= 0:
        raise InputError("--max-cells must be positive", source="<command line>",
                         field="--max-cells")
    if args.timeout <= 0:
        raise InputError("--timeout must be positive", source="<command line>",
                         field="--timeout")
    for name in args.profile or []:
        try:
            negotiation_options(name)
        except InputError as e:
            if e.line is not None:  # a bad profile file: its own file, line and key
                raise
            raise InputError(e.message, source=e.source or "<command line>",
                             field="--profile") from None
    requirements = load_requirements_text(read_text(args.requirements), args.requirements)
    scenario = load_scenario(args.scenario)
    check_hosts(requirements, scenario.hosts)
    profiles = args.profile or scenario_profiles(scenario)
    print_notes(*scenario.hosts.values())
    report = Report("require", [args.requirements, args.scenario])
    for req in requirements:
        check = check_requirement(req, scenario, profiles, args.max_cells)
        if check.unknown:  # too many cells to enumerate: z3 decides
            smt = check_requirement_smt(req, scenario, profiles,
                                        max(1, int(args.timeout * 1000)))
            check = RequirementCheck(req, smt.violations, 0, 0,
                                     None if smt.violations else smt.unknown, check.scope)
            check.engine = "smt"
        for v in check.violations[:SHOWN_VIOLATIONS]:
            replay(req, scenario, v)
        report.add(_result(check, args.scenario, profiles))
    return report
