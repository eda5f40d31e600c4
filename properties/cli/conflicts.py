"""``qmcheck conflicts POLICY``: every policy that never fires, every order-dependent overlap,
every gap, each with a witness packet; and proofs (z3) for the properties that hold."""

from __future__ import annotations

import argparse
from typing import Any

from qmcheck.model.formats.loader import load_host_spec
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.policy import Host, Policy, Scenario
from qmcheck.properties.catalogue import info
from qmcheck.properties.checks.mirror import mirror_findings
from qmcheck.properties.checks.policy import (
    POLICY_PROPERTIES,
    Analysis,
    Finding,
    analyse,
    finding_key,
)
from qmcheck.properties.cli.options import (
    add_output_options,
    add_progress_option,
    cli_seconds,
    print_notes,
    progress_enabled,
)
from qmcheck.properties.reports.progress import LazyProgress
from qmcheck.properties.results import Report, Result

DEFAULT_TIMEOUT = 10.0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]

    parser = sub.add_parser("conflicts", help="policy conflicts of one host (policy.*)",
                            description=__doc__)
    parser.add_argument("policy", metavar="POLICY",
                        help="host policy file (YAML or ipsec_config batch), or SCENARIO:HOST")
    parser.add_argument("--property", action="append", choices=list(POLICY_PROPERTIES),
                        metavar="ID", help="check only this property (repeatable; default: "
                        f"all of {', '.join(POLICY_PROPERTIES)})")
    parser.add_argument("--timeout", type=cli_seconds("--timeout"), default=DEFAULT_TIMEOUT,
                        metavar="SECONDS",
                        help="z3 time limit per query; past it the verdict is unknown "
                             f"(default {DEFAULT_TIMEOUT:g})")
    add_progress_option(parser)
    add_output_options(parser, ("text", "json", "sarif"))
    parser.set_defaults(handler=run)


def _location(host: Host, policy: Policy) -> dict[str, Any]:
    return {"file": host.source, "line": policy.line}


def finding_result(host: Host, f: Finding, analysis: Analysis,
                   prefix: tuple[str, ...] = ()) -> Result:
    """A report result for one finding; located at the last subject policy in search order."""
    witness = None
    if f.packet is not None:
        witness = {"packet": f.packet.to_json(), "related": list(f.related)}
    elif f.selectors is not None:
        idci, idcr = f.selectors
        witness = {"selectors": {"idci": idci.to_json(), "idcr": idcr.to_json()},
                   "related": list(f.related)}
    extra: dict[str, Any] = {}
    if f.subject:
        anchor = f.subject[-1]
        extra["location"] = _location(host, anchor)
        names = [p.name for p in f.subject[:-1]] + [n for n in f.related
                                                    if n not in {p.name for p in f.subject}]
        related = []
        for name in names:
            try:
                policy = host.policy(name)
            except KeyError:
                continue
            if not policy.implicit:
                related.append({**_location(host, policy), "message": name})
        if related:
            extra["related_locations"] = related
    else:
        extra["location"] = {"file": host.source, "line": None}
    seconds = analysis.property_seconds(f.property)
    return Result(f.property, f.verdict, prefix + tuple(p.name for p in f.subject),  # type: ignore[arg-type]
                  f.severity, "smt", f.message, witness, None, seconds, extra)  # type: ignore[arg-type]


def _holds_message(prop: str, host: Host, analysis: Analysis) -> str:
    n = analysis.policies
    default = next((p for p in host.policies if p.implicit), None)
    return {
        "policy.determinism": f"no packet's first match depends on the file order ({n} "
                              "policies)",
        "policy.shadowed": f"each of the {n} policies is the first match for some packet, or "
                           "its traffic keeps its action",
        "policy.redundant": f"removing any one of the {n} policies changes some packet's "
                            "action",
        "policy.correlated": "no two policies with different actions partly overlap",
        "policy.generalization": "no policy contains an earlier one with a different action",
        "policy.uncovered": (f"the default policy ({default.action}) matches every packet"
                             if default is not None else "every packet matches some policy"),
    }[prop]


def host_results(host: Host, *, properties: tuple[str, ...] = POLICY_PROPERTIES,
                 timeout: float = DEFAULT_TIMEOUT, prefix: tuple[str, ...] = (),
                 progress: LazyProgress | None = None) -> tuple[list[Result], Analysis]:
    """The results of the ``policy.*`` properties for one host: the findings, then one
    ``holds`` result per property without any finding (a proof by z3 for all packets)."""
    analysis = analyse(host, properties=properties, timeout_ms=max(1, int(timeout * 1000)),
                       progress=progress.update if progress is not None else None)
    results: list[Result] = []
    for prop in POLICY_PROPERTIES:
        if prop not in properties:
            continue
        mine = sorted((f for f in analysis.findings if f.property == prop), key=finding_key)
        if not mine:
            entry = info(prop)
            results.append(Result(prop, "holds", prefix, entry.severity if entry else "error",
                                  "smt", _holds_message(prop, host, analysis), None, None,
                                  analysis.property_seconds(prop)))
        results.extend(finding_result(host, f, analysis, prefix) for f in mine)
    results.extend(mirror_results(host, prefix, timeout))
    return results, analysis


def mirror_results(host: Host, prefix: tuple[str, ...], timeout: float) -> list[Result]:
    """``policy.mirrored`` for a host with direction-specific policies (none otherwise)."""
    if not host.directional:
        return []
    findings = mirror_findings(host, max(1, int(timeout * 1000)))
    if not findings:
        return [Result("policy.mirrored", "holds", prefix, "error", "smt",
                       "the reply to every packet is treated as the packet: both protected, "
                       "or both not")]
    out = []
    for f in findings:
        names = tuple(p.name if p is not None else "<no policy>"
                      for p in (f.outbound, f.inbound))
        witness = None if f.packet is None else {"packet": f.packet.to_json(),
                                                 "reply": f.packet.reversed().to_json(),
                                                 "related": list(names)}
        policy = f.outbound if f.outbound is not None and f.outbound.action.is_ipsec \
            else f.inbound
        extra = {"location": _location(host, policy)} if policy is not None else {}
        out.append(Result("policy.mirrored", f.verdict, prefix + names,
                          "error" if f.verdict == "refuted" else "warning", "smt",
                          f.message(), witness, extra=extra))
    return out


def run(args: argparse.Namespace) -> Report:
    if args.timeout <= 0:
        raise InputError("--timeout must be positive", source="<command line>",
                         field="--timeout")
    properties = tuple(p for p in POLICY_PROPERTIES if not args.property or p in args.property)
    report = Report("conflicts", [args.policy])
    with LazyProgress(enabled=progress_enabled(args)) as progress:
        with progress.busy("loading"):
            host = load_host_spec(args.policy)
        print_notes(host)
        results, _ = host_results(host, properties=properties, timeout=args.timeout,
                                  progress=progress)
    report.extend(results)
    return report


def check_step(scenario: Scenario, args: argparse.Namespace) -> list[Result]:
    """``qmcheck check``: the ``policy.*`` properties of every host, subjects prefixed by the
    host name (SMT engine: skipped with ``--engine explicit``)."""
    if getattr(args, "engine", "all") == "explicit":
        return []
    out: list[Result] = []
    progress = getattr(args, "progress_bar", None)
    for name in sorted(scenario.hosts):
        results, _ = host_results(scenario.hosts[name], prefix=(name,), progress=progress)
        out.extend(results)
    return out
