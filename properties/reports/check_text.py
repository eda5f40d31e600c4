"""The text form of ``qmcheck check``: one section per property family, holds collapsed.

JSON and SARIF keep every result; the text form is for people: it lists each refutation and
unknown in full, names what holds in one line per property, and shows the ``qm.*`` results as
a properties x profiles table (a cell counts the fault settings that refute the property).
"""

from __future__ import annotations

from collections import defaultdict

from qmcheck.properties.results import Report, Result, format_packet_dict, scope_line, table

FAMILY_TITLES = {
    "negotiate": "Quick Mode outcome per traffic class (concrete semantics)",
    "policy": "One host: policy conflicts (policy.*)",
    "peers": "Two hosts: negotiation and consistency (peers.*)",
    "qm": "Protocol: Quick Mode exchange (qm.*), properties x profiles",
}


def family(result: Result) -> str:
    return result.property.split(".", 1)[0]


def _detail(r: Result) -> list[str]:
    subject = ",".join(r.subject) if r.subject else "-"
    lines = [f"  {r.verdict.upper():8} {r.property}  {subject}".rstrip()]
    lines.extend(f"           {line}" for line in r.message.splitlines() if line)
    if r.witness and "packet" in r.witness:
        lines.append(f"           witness: {format_packet_dict(r.witness['packet'])}")
    if r.counterexample:
        lines.append(f"           counterexample: {r.counterexample}")
    return lines


def _holds_lines(results: list[Result]) -> list[str]:
    by_property: dict[str, list[str]] = defaultdict(list)
    for r in results:
        if r.verdict == "holds":
            by_property[r.property].append(_scope(r))
    return [f"  HOLDS    {prop}: {'; '.join(dict.fromkeys(subjects))}" for prop, subjects in
            by_property.items()]


def _scope(r: Result) -> str:
    """What a result that holds is about: its subject, or its direction and profile."""
    if r.subject:
        return ",".join(r.subject)
    if "initiator" in r.extra and "responder" in r.extra:
        scope = f"{r.extra['initiator']} -> {r.extra['responder']}"
        return f"{scope} ({r.extra['profile']})" if "profile" in r.extra else scope
    return "all"


def _qm_section(results: list[Result]) -> list[str]:
    profiles = list(dict.fromkeys(r.subject[0] if r.subject else "-" for r in results))
    properties = list(dict.fromkeys(r.property for r in results))
    cells: dict[tuple[str, str], list[Result]] = defaultdict(list)
    for r in results:
        cells[(r.property, r.subject[0] if r.subject else "-")].append(r)
    rows = []
    for prop in properties:
        row = [prop]
        for profile in profiles:
            runs = cells.get((prop, profile), [])
            refuted = sum(r.verdict == "refuted" for r in runs)
            unknown = sum(r.verdict == "unknown" for r in runs)
            vacuous = sum(bool(r.extra.get("vacuous")) for r in runs)
            if not runs:
                text = "-"
            elif refuted:
                text = f"refuted {refuted}/{len(runs)}"
            elif unknown:
                text = f"unknown {unknown}/{len(runs)}"
            else:
                text = "holds" + (" (vacuous)" if vacuous else "")
            row.append(text)
        rows.append(row)
    lines = ["  " + line for line in table(rows, ["property", *profiles])]
    lines.append("  (a cell counts the fault settings that refute the property; the first "
                 "counterexample of each is below)")
    shown: set[tuple[str, str]] = set()
    for r in results:
        key = (r.property, r.subject[0] if r.subject else "-")
        if r.verdict != "holds" and key not in shown:
            shown.add(key)
            lines.extend(_detail(r))
    return lines


def render_check_text(report: Report) -> str:
    """Sections per property family, then the summary line."""
    groups: dict[str, list[Result]] = defaultdict(list)
    for r in report.results:
        groups[family(r)].append(r)
    lines: list[str] = [f"qmcheck check: {', '.join(report.inputs)}"]
    if report.scope is not None:
        lines.append(scope_line(report.scope))
    if report.pairs is not None:
        p = report.pairs
        lines.append(f"host pairs: {p['checked']} of {p['total']} checked; {p['skipped']} "
                     "skipped (neither host protects any traffic toward the other)")
    for fam, results in groups.items():
        counts = {v: sum(r.verdict == v for r in results) for v in ("holds", "refuted",
                                                                    "unknown")}
        lines.append("")
        lines.append(f"{FAMILY_TITLES.get(fam, fam)}: {counts['holds']} holds, "
                     f"{counts['refuted']} refuted, {counts['unknown']} unknown")
        if fam == "qm":
            lines.extend(_qm_section(results))
            continue
        for r in results:
            if r.verdict != "holds":
                lines.extend(_detail(r))
        lines.extend(_holds_lines(results))
    s = report.summary()
    lines.append("")
    lines.append(f"check: {s['holds']} holds, {s['refuted']} refuted, {s['unknown']} unknown")
    return "\n".join(lines) + "\n"
