"""The text form of qmcheck check: the verdict and a summary table first, then the findings
grouped by severity (error, warning, note), then the unknowns, then what holds, in lines of at
most 100 columns.

JSON, SARIF and HTML carry the same counts; the text lists each finding in full (a witness
packet, or the counterexample file), names what holds in a few lines per property, and shows
the protocol runs as a properties x profiles table.
"""

from __future__ import annotations

import json
import textwrap
from collections import defaultdict

from qmcheck.properties.checks.protocol_classes import class_verdicts
from qmcheck.properties.results import (
    PLURAL,
    SEVERITIES,
    Report,
    Result,
    format_packet_dict,
    scope_line,
    table,
)

WIDTH = 100
FAMILY_TITLES = {
    "negotiate": "Quick Mode outcome per traffic class",
    "policy": "policy.* one host",
    "peers": "peers.* two hosts",
    "qm": "qm.* protocol runs",
}


def family(result: Result) -> str:
    return result.property.split(".", 1)[0]


def wrap(text: str, indent: str) -> list[str]:
    """``text`` in lines of at most WIDTH columns, each starting with ``indent``."""
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent + "  ",
                         break_on_hyphens=False, break_long_words=True) or [indent.rstrip()]


def subject_text(r: Result) -> str:
    return ",".join(r.subject) if r.subject else "-"


def merged(findings: list[Result]) -> list[tuple[Result, str]]:
    """Findings that differ only in their profile, once each: (first result, message naming
    every profile), in report order."""
    groups: dict[tuple[str, ...], tuple[Result, list[str]]] = {}
    for r in findings:
        profile = str(r.extra.get("profile", ""))
        message = r.message.replace(f"({profile})", "({profiles})") if profile else r.message
        key = (r.property, *r.subject, json.dumps(r.witness, sort_keys=True), message)
        if key in groups:
            groups[key][1].append(profile)
        else:
            groups[key] = (r, [profile])
    out = []
    for (*_, message), (r, profiles) in groups.items():
        out.append((r, message.replace("{profiles}", ", ".join(profiles))))
    return out


def detail(r: Result, message: str | None = None) -> list[str]:
    """One finding: the property and subject, its message, its witness or counterexample."""
    lines = wrap(f"{r.property}  {subject_text(r)}", "  ")
    for line in (r.message if message is None else message).splitlines():
        if line:
            lines.extend(wrap(line, "      "))
    if r.witness and "packet" in r.witness:
        lines.extend(wrap(f"witness: {format_packet_dict(r.witness['packet'])}", "      "))
    if r.counterexample:
        lines.extend(wrap(f"counterexample: {r.counterexample}", "      "))
    elif r.property.startswith("qm.") and r.extra.get("trace_length") is not None:
        lines.append("      counterexample: not written (add --out DIR to write it)")
    if r.extra.get("pairs"):
        lines.extend(wrap(f"driven by: {', '.join(r.extra['pairs'])}", "      "))
    return lines


def summary_table(report: Report) -> list[str]:
    """Per family: holds, findings per severity, unknown; a total row."""
    header = ["", "holds", *[PLURAL[s] for s in SEVERITIES], "unknown"]
    groups: dict[str, list[Result]] = defaultdict(list)
    for r in report.results:
        groups[family(r)].append(r)
    rows: list[list[str]] = []

    def row(name: str, results: list[Result]) -> list[str]:
        cells = [sum(r.verdict == "holds" for r in results)]
        cells += [sum(r.is_finding and r.severity == s for r in results) for s in SEVERITIES]
        cells.append(sum(r.verdict == "unknown" for r in results))
        return [name, *(str(c) for c in cells)]

    for fam, results in groups.items():
        rows.append(row(FAMILY_TITLES.get(fam, fam), results))
    rows.append(row("total", report.results))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    out = []
    for cells in [header, *rows]:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        out.append(("  " + "  ".join([first, *rest])).rstrip())
    return out


def holds_lines(results: list[Result]) -> list[str]:
    """One wrapped line per property that holds, naming where."""
    by_property: dict[str, list[str]] = defaultdict(list)
    for r in results:
        if r.verdict == "holds" and family(r) not in ("negotiate", "qm"):
            by_property[r.property].append(scope(r))
    lines: list[str] = []
    for prop, subjects in by_property.items():
        lines.extend(wrap(f"{prop}: {'; '.join(dict.fromkeys(subjects))}", "  "))
    negotiated = sum(r.property == "negotiate" and r.verdict == "holds" for r in results)
    if negotiated:
        lines.append(f"  negotiate: {negotiated} traffic classes negotiate as their policies "
                     "say (JSON lists each)")
    return lines


def scope(r: Result) -> str:
    """What a result that holds is about: its subject, or its direction and profile."""
    if r.subject:
        return ",".join(r.subject)
    if "initiator" in r.extra and "responder" in r.extra:
        where = f"{r.extra['initiator']} -> {r.extra['responder']}"
        return f"{where} ({r.extra['profile']})" if "profile" in r.extra else where
    return "all"


def qm_table(results: list[Result]) -> list[str]:
    """qm.* properties x (profile, fault setting) runs."""
    columns = list(dict.fromkeys(r.subject[:2] for r in results if r.subject))
    if not columns:
        return []
    properties = list(dict.fromkeys(r.property for r in results))
    cells = {(r.property, r.subject[:2]): r for r in results}
    rows = []
    for prop in properties:
        row = [prop]
        for col in columns:
            r = cells.get((prop, col))
            if r is None:
                row.append("-")
            elif r.verdict == "refuted":
                row.append(r.severity)
            else:
                row.append(r.verdict + (" (vacuous)" if r.extra.get("vacuous") else ""))
        rows.append(row)
    labels = {col: col[0] for col in columns}
    if len({c[1] for c in columns}) > 1:
        labels = {col: f"{col[0]} {col[1].split(',')[0]}" for col in columns}
    head = ["property", *(labels[c] for c in columns)]
    lines = ["  " + line for line in table(rows, head)]
    settings = sorted({c[1] for c in columns})
    states = {}
    for r in results:
        if r.subject and "states" in r.extra:
            states[r.subject[:2]] = r.extra["states"]
    lines.extend(wrap(f"settings: {'; '.join(settings)}; states: " + ", ".join(
        f"{labels[c]} {states[c]}" for c in columns if c in states), "  "))
    if len(lines) and max(len(line) for line in lines) > WIDTH:
        return wrap("(the properties x runs table is wider than 100 columns: see --format "
                    "json or html)", "  ")
    return lines


def class_lines(results: list[Result]) -> list[str]:
    """One line per traffic class and fault setting, verdict first: the outcome its
    negotiation gives the protocol run, and the qm.* properties not holding there."""
    lines = []
    for verdict, c, bad in class_verdicts(results):
        head, _, rest = c["setting"].partition(",")
        faults = [f for f in head.split("+") if f != c["outcome"]] or ["reliable"]
        setting = ",".join(["+".join(faults), *rest.split(",")[:1]])
        text = (f"{verdict.upper():8} {c['profile']} {c['initiator']} -> {c['responder']} "
                f"{c['policy']}: {c['outcome']} [{setting}]")
        if bad:
            text += f"; {', '.join(bad)}"
        lines.extend(wrap(text, "  "))
    return lines


def render_check_text(report: Report) -> str:
    """Verdict, counts and summary table; findings by severity; unknowns; what holds."""
    shown = report.shown_results()
    lines = [*wrap(f"qmcheck check: {', '.join(report.inputs)}", ""), *report.headline()]
    if report.scope is not None:
        lines.extend(wrap(scope_line(report.scope), ""))
    if report.pairs is not None:
        p = report.pairs
        lines.extend(wrap(f"host pairs: {p['checked']} of {p['total']} checked; {p['skipped']} "
                          "skipped (neither host protects any traffic toward the other)", ""))
    lines.append("")
    lines.extend(summary_table(report))
    for severity in SEVERITIES:
        findings = [r for r in shown if r.is_finding and r.severity == severity]
        total = report.finding_counts()[severity]
        if not total:
            continue
        lines.append("")
        more = f", {total - len(findings)} not shown" if total > len(findings) else ""
        lines.append(f"{PLURAL[severity]} ({total}{more})")
        for r, message in merged(findings):
            lines.extend(detail(r, message))
    unknown = [r for r in shown if r.verdict == "unknown"]
    if unknown:
        lines.append("")
        lines.append(f"unknown ({len(unknown)})")
        for r in unknown:
            lines.extend(detail(r))
    qm = [r for r in report.results if family(r) == "qm"]
    if qm:
        lines.append("")
        lines.append("protocol runs (qm.*), properties x profiles")
        lines.extend(qm_table(qm))
        per_class = class_lines(qm)
        if per_class:
            lines.append("")
            lines.append("protocol run per traffic class (its negotiation decides the outcome)")
            lines.extend(per_class)
    holds = holds_lines(report.results)
    if holds:
        lines.append("")
        lines.append("holds")
        lines.extend(holds)
    if report.files:
        lines.append("")
        lines.extend(report.files_lines())
    return "\n".join(lines) + "\n"
