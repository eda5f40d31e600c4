"""``qmcheck diff OLD NEW``: what changes for traffic if NEW replaces OLD (``diff.changed``).

OLD and NEW are two versions of a host (any format, the two may differ; ``FILE:HOST`` picks a
host of a scenario) or of a scenario. For a host: every region of packets whose treatment
differs (action, transform list, the IPsec policy's selectors), with a witness packet, its
size and the policies on each side (z3 with the overlap index). For scenarios: the same for
every host, and the host pairs whose negotiation outcome differs (exact cells with packet
counts; z3 past --max-cells). Identical behaviour exits 0, a change exits 1."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from qmcheck.model.formats.loader import load, load_host_spec
from qmcheck.model.quickmode.profiles import negotiation_options
from qmcheck.model.semantics.negotiation import negotiate
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.policy import Host, Policy, Scenario
from qmcheck.properties.checks.deploy.cells import DEFAULT_LIMIT
from qmcheck.properties.checks.deploy.diff import HostDiff, Region, diff_hosts, replay
from qmcheck.properties.checks.deploy.negotiation_diff import (
    NegotiationRegion,
    diff_pair,
    outcome_text,
)
from qmcheck.properties.checks.deploy.negotiation_diff import replay as replay_negotiation
from qmcheck.properties.checks.deploy.negotiation_smt import diff_pair_smt
from qmcheck.properties.cli.options import add_output_options, print_notes, scenario_profiles
from qmcheck.properties.results import Report, Result

PROPERTY = "diff.changed"
EQUIVALENT = "diff.equivalent"
DEFAULT_TIMEOUT = 10.0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("diff", help="what a policy change does to traffic (diff.changed)",
                            description=__doc__)
    parser.add_argument("old", metavar="OLD", help="the current host file or scenario")
    parser.add_argument("new", metavar="NEW", help="the changed host file or scenario")
    parser.add_argument("--equivalent", action="store_true",
                        help="also list policy renames and reorders that change nothing")
    parser.add_argument("--profile", action="append", metavar="NAME|PATH",
                        help="scenarios: profile of the negotiations (repeatable; default: "
                             "the NEW scenario's profiles)")
    parser.add_argument("--max-cells", type=int, default=DEFAULT_LIMIT, metavar="N",
                        help="largest partition of a host pair's packets to enumerate; past "
                             f"it the verdict is unknown (default {DEFAULT_LIMIT:,})")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help="z3 time limit per query; past it a region is unknown "
                             f"(default {DEFAULT_TIMEOUT:g})")
    add_output_options(parser, ("text", "json", "sarif"))
    parser.set_defaults(handler=run)


def _load(spec: str) -> Host | Scenario:
    if not Path(spec).exists() and ":" in spec:
        return load_host_spec(spec)
    return load(spec)


def _single(loaded: Host | Scenario) -> Host | None:
    if isinstance(loaded, Host):
        return loaded
    return next(iter(loaded.hosts.values())) if len(loaded.hosts) == 1 else None


def _where(policy: Policy | None, host: Host) -> dict[str, Any] | None:
    if policy is None or policy.implicit:
        return None
    return {"file": host.source, "line": policy.line, "message": f"{policy.name} in "
            f"{host.source}"}


def _side(policy: Policy | None) -> str:
    if policy is None:
        return "no policy matches"
    return f"{policy.name}: {policy.action}"


def region_result(d: HostDiff, r: Region, prefix: tuple[str, ...]) -> Result:
    """One region as a report result, located at the new policy (else the old one)."""
    subject = (*prefix, r.old.name if r.old else "-", r.new.name if r.new else "-")
    old_loc, new_loc = _where(r.old, d.old), _where(r.new, d.new)
    extra: dict[str, Any] = {
        "change": r.kind,
        "size": r.size,
        "old": {"policy": r.old.name if r.old else None,
                "action": r.old.action.to_json() if r.old else None},
        "new": {"policy": r.new.name if r.new else None,
                "action": r.new.action.to_json() if r.new else None},
        "location": {k: v for k, v in (new_loc or old_loc or {"file": d.new.source,
                                                              "line": None}).items()
                     if k != "message"},
        "related_locations": [loc for loc in (old_loc,) if loc is not None and new_loc],
    }
    if r.verdict == "unknown":
        return Result(PROPERTY, "unknown", subject, "error", "smt",
                      f"{r.kind}? z3 gave no answer in time for old {_side(r.old)} vs new "
                      f"{_side(r.new)}", None, None, None, extra)
    replay(d, r)
    size = "(size not computed)" if r.size is None else f"for {r.size:,} packets"
    message = f"{r.kind} changed {size}\nold: {_side(r.old)}\nnew: {_side(r.new)}"
    witness = {"packet": r.packet.to_json() if r.packet else None,
               "related": [p.name for p in (r.old, r.new) if p is not None]}
    return Result(PROPERTY, "refuted", subject, "error", "smt", message, witness, None, None,
                  extra)


def host_results(old: Host, new: Host, timeout: float, equivalent: bool,
                 prefix: tuple[str, ...] = ()) -> tuple[list[Result], HostDiff]:
    d = diff_hosts(old, new, max(1, int(timeout * 1000)))
    results = [region_result(d, r, prefix) for r in d.regions]
    if equivalent:
        for p, q in d.renamed:
            results.append(Result(EQUIVALENT, "holds", (*prefix, p.name, q.name), "note",
                                  "smt", f"renamed {p.name} -> {q.name}: changes nothing",
                                  extra={"location": {"file": new.source, "line": q.line}}))
        for p, q in d.moved:
            results.append(Result(EQUIVALENT, "holds", (*prefix, p.name, q.name), "note",
                                  "smt", f"moved {p.name} (position {p.index + 1} -> "
                                  f"{q.index + 1}): changes nothing",
                                  extra={"location": {"file": new.source, "line": q.line}}))
    return results, d


def negotiation_result(r: NegotiationRegion, hosts: tuple[Host, Host, Host, Host],
                       engine: str = "concrete") -> Result:
    replay_negotiation(r, *hosts)
    old, new = r.old, r.new
    pol = new.initiator_policy or old.initiator_policy
    host = hosts[2] if new.initiator_policy else hosts[0]
    size = "" if r.size is None else f" for {r.size:,} packets"
    message = (f"{r.initiator} -> {r.responder} ({r.profile}){size}: "
               f"{outcome_text(old)} -> {outcome_text(new)}\nold: {old.reason}\n"
               f"new: {new.reason}")
    extra: dict[str, Any] = {
        "change": "negotiation", "size": r.size, "profile": r.profile,
        "old": old.to_json(), "new": new.to_json(),
        "location": {"file": host.source, "line": pol.line if pol else None},
    }
    witness = {"packet": r.packet.to_json(),
               "related": sorted({n for o in (old, new) for n in (
                   o.initiator_policy.name if o.initiator_policy else None,
                   o.responder_policy.name if o.responder_policy else None) if n})}
    return Result(PROPERTY, "refuted", (r.profile, r.initiator, r.responder), "error",
                  engine, message, witness, None, None, extra)


def _smt_results(hosts: tuple[Host, Host, Host, Host], profile: str, timeout: float
                 ) -> list[Result]:
    i, r = hosts[2].name, hosts[3].name
    smt = diff_pair_smt(*hosts, profile, max(1, int(timeout * 1000)))
    opts = negotiation_options(profile)
    out = []
    for packet in smt.regions.values():
        region = NegotiationRegion(i, r, profile, negotiate(hosts[0], hosts[1], packet, opts),
                                   negotiate(hosts[2], hosts[3], packet, opts), None)
        out.append(negotiation_result(region, hosts, "smt"))
    for a, b in smt.unknown:
        out.append(Result(PROPERTY, "unknown", (profile, i, r), "error", "smt",
                          f"{i} -> {r} ({profile}): z3 gave no answer in time for old "
                          f"{a} vs new {b}"))
    return out


def scenario_results(old: Scenario, new: Scenario, args: argparse.Namespace) -> list[Result]:
    results: list[Result] = []
    for name in sorted(set(old.hosts) | set(new.hosts)):
        if name not in new.hosts or name not in old.hosts:
            where = "NEW" if name in new.hosts else "OLD"
            results.append(Result(PROPERTY, "refuted", (name,), "error", "concrete",
                                  f"host {name} is only in {where}",
                                  extra={"location": {"file": (new if where == "NEW"
                                                               else old).source,
                                                      "line": None}}))
            continue
        results.extend(host_results(old.hosts[name], new.hosts[name], args.timeout,
                                    args.equivalent, (name,))[0])
    profiles = args.profile or scenario_profiles(new)
    common = sorted(set(old.hosts) & set(new.hosts))
    for profile in profiles:
        for i in common:
            for r in common:
                if i == r:
                    continue
                hosts = (old.hosts[i], old.hosts[r], new.hosts[i], new.hosts[r])
                pair = diff_pair(*hosts, profile, args.max_cells)
                if pair.unknown:  # too many cells to enumerate: z3 decides, without sizes
                    results.extend(_smt_results(hosts, profile, args.timeout))
                results.extend(negotiation_result(x, hosts) for x in pair.regions)
    return results


def run(args: argparse.Namespace) -> Report:
    if args.timeout <= 0:
        raise InputError("--timeout must be positive", source="<command line>",
                         field="--timeout")
    if args.max_cells <= 0:
        raise InputError("--max-cells must be positive", source="<command line>",
                         field="--max-cells")
    for name in args.profile or []:
        try:
            negotiation_options(name)
        except InputError as e:
            if e.line is not None:  # a bad profile file: its own file, line and key
                raise
            raise InputError(e.message, source=e.source or "<command line>",
                             field="--profile") from None
    old, new = _load(args.old), _load(args.new)
    for loaded in (old, new):
        print_notes(*([loaded] if isinstance(loaded, Host) else loaded.hosts.values()))
    report = Report("diff", [args.old, args.new])
    if isinstance(old, Scenario) and isinstance(new, Scenario) and (
            len(old.hosts) > 1 or len(new.hosts) > 1):
        results = scenario_results(old, new, args)
    else:
        a, b = _single(old), _single(new)
        if a is None or b is None:
            bad = args.old if a is None else args.new
            raise InputError("a scenario with several hosts can only be compared with a "
                             "scenario; name one host as FILE:HOST", source=bad)
        results, _ = host_results(a, b, args.timeout, args.equivalent)
    if not any(r.property == PROPERTY for r in results):
        results.insert(0, Result(PROPERTY, "holds", (), "error", "smt",
                                 "no packet's treatment or negotiation outcome differs"))
    report.extend(results)
    return report
