"""A single-file HTML report (qmcheck check --format html): verdict and summary table,
findings by severity, the peer matrix, each protocol counterexample as a sequence diagram, and
a plot of state counts per protocol run. Everything is inline (CSS and SVG generated here):
no script, no network, no CDN."""

from __future__ import annotations

import html
import json
import re
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from qmcheck.model.quickmode.options import QMOptions
from qmcheck.properties.checks.protocol import check_protocol
from qmcheck.properties.results import PLURAL, SEVERITIES, Report, Result, format_packet_dict
from qmcheck.properties.traces.counterexample import load_trace
from qmcheck.properties.traces.render import render_mermaid

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .6em}
th{background:#f3f3f3;text-align:left}td.n{text-align:right}
span.error{color:#b00020}span.warning{color:#a05a00}span.note{color:#555}
span.holds,p.holds,p.passed{color:#1b5e20}span.unknown,p.unknown{color:#6a1b9a}p.refuted{color:#b00020}pre{background:#f7f7f7;padding:.4em;white-space:pre-wrap}
section.finding{border-left:4px solid #ccc;padding-left:.8em;margin:.8em 0}
section.error{border-color:#b00020}section.warning{border-color:#a05a00}
"""


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def summary_rows(report: Report) -> str:
    groups: dict[str, list[Result]] = defaultdict(list)
    for r in report.results:
        groups[r.property.split(".", 1)[0]].append(r)
    rows = []
    for name, results in [*groups.items(), ("total", report.results)]:
        cells = [sum(r.verdict == "holds" for r in results)]
        cells += [sum(r.is_finding and r.severity == s for r in results) for s in SEVERITIES]
        cells.append(sum(r.verdict == "unknown" for r in results))
        rows.append(f"<tr><th>{esc(name)}</th>"
                    + "".join(f'<td class="n">{c}</td>' for c in cells) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in ["", "holds", *[PLURAL[s] for s in SEVERITIES],
                                                "unknown"])
    return f'<table id="summary"><tr>{head}</tr>{"".join(rows)}</table>'


def finding_html(r: Result, diagram: str) -> str:
    word = r.severity if r.is_finding else r.verdict
    parts = [f'<section class="finding {esc(word)}"><h4><span class="{esc(word)}">'
             f"{esc(word)}</span> {esc(r.property)} <code>{esc(', '.join(r.subject))}</code>"
             "</h4>"]
    if r.message:
        parts.append(f"<pre>{esc(r.message)}</pre>")
    if r.witness and "packet" in r.witness:
        parts.append(f"<p>witness: <code>{esc(format_packet_dict(r.witness['packet']))}"
                     "</code></p>")
    if r.counterexample:
        parts.append(f"<p>counterexample: <code>{esc(r.counterexample)}</code></p>")
    parts.append(diagram)
    parts.append("</section>")
    return "".join(parts)


def trace_of(r: Result) -> dict[str, Any] | None:
    """The counterexample trace of a qm.* refutation: the file written, or the run again."""
    if r.counterexample and Path(r.counterexample).is_file():
        return load_trace(r.counterexample)
    options = r.extra.get("options")
    if not r.property.startswith("qm.") or not isinstance(options, dict):
        return None
    with tempfile.TemporaryDirectory(prefix="qmcheck-html-") as tmp:
        again = check_protocol(QMOptions(**options), [r.property], out_dir=Path(tmp))
        files = [x.counterexample for x in again.results if x.counterexample]
        return load_trace(files[0]) if files else None


ARROW = re.compile(r"^\s*(\w+)(->>|-x|-\))(\w+): (.*)$")
NOTE = re.compile(r"^\s*Note over ([\w,]+): (.*)$")


def sequence_svg(mermaid: str) -> str:
    """A Mermaid sequence diagram (as render_mermaid writes it) drawn as inline SVG."""
    names: dict[str, str] = {}
    rows: list[tuple[str, ...]] = []
    for line in mermaid.splitlines()[1:]:
        if line.strip().startswith("participant"):
            _, key, _, label = line.split(None, 3)
            names[key] = label
        elif (m := ARROW.match(line)) is not None:
            rows.append(("msg", m.group(1), m.group(3), m.group(2), m.group(4)))
        elif (n := NOTE.match(line)) is not None:
            rows.append(("note", n.group(1), n.group(2)))
    keys = list(names) or ["A", "B"]
    longest = max([len(r[-1]) + 12 for r in rows if r[0] == "note"] + [100])
    width = max(760, 24 + round(6.6 * longest))
    height = 60 + 30 * len(rows) + 20
    x = {k: round(width * (i + 1) / (len(keys) + 1)) for i, k in enumerate(keys)}
    out = [f'<svg class="sequence" xmlns="http://www.w3.org/2000/svg" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" font-size="12" '
           'font-family="sans-serif">',
           '<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="8" refY="4" '
           'orient="auto"><path d="M0,0 L8,4 L0,8 z"/></marker></defs>']
    for k in keys:
        out.append(f'<rect x="{x[k] - 60}" y="8" width="120" height="26" fill="#e8eef7" '
                   f'stroke="#345"/><text x="{x[k]}" y="26" text-anchor="middle">'
                   f'{esc(names.get(k, k))}</text>'
                   f'<line x1="{x[k]}" y1="34" x2="{x[k]}" y2="{height - 10}" stroke="#999" '
                   'stroke-dasharray="4,3"/>')
    y = 60
    for row in rows:
        if row[0] == "msg":
            _, a, b, kind, text = row
            xa, xb = x.get(a, x[keys[0]]), x.get(b, x[keys[-1]])
            dash = ' stroke-dasharray="6,3"' if kind == "-)" else ""
            end = (xa + xb) // 2 if kind == "-x" else xb
            out.append(f'<line x1="{xa}" y1="{y}" x2="{end}" y2="{y}" stroke="#222"{dash} '
                       f'marker-end="url(#arrow)"/>')
            if kind == "-x":
                out.append(f'<text x="{end + 4}" y="{y + 4}" fill="#b00020">X</text>')
            out.append(f'<text x="{(xa + xb) // 2}" y="{y - 4}" text-anchor="middle">'
                       f"{esc(text)}</text>")
        else:
            _, over, text = row
            who = "" if "," in over else f"{names.get(over, over)}: "
            out.append(f'<rect x="10" y="{y - 14}" width="{width - 20}" height="20" '
                       'fill="#fff8d6" stroke="#cc9"/>'
                       f'<text x="16" y="{y}">{esc(who + text)}</text>')
        y += 30
    out.append("</svg>")
    return "".join(out)


MAX_N = 3
PLOT_BUDGET = 200_000
COLOURS = ("#4a78b5", "#b5504a", "#4ab58a", "#9a4ab5", "#b59a4a", "#555555")


def states_per_n(results: list[Result]) -> dict[str, list[tuple[int, int]]]:
    """For each protocol run of the report: explored states for N = 1 .. MAX_N concurrent
    negotiations (same profile and faults; a run past the budget ends the series)."""
    series: dict[str, list[tuple[int, int]]] = {}
    for r in results:
        options = r.extra.get("options")
        label = ", ".join(r.subject[:2])
        if not r.property.startswith("qm.") or not isinstance(options, dict) or label in series:
            continue
        points: list[tuple[int, int]] = []
        for n in range(1, MAX_N + 1):
            run = check_protocol(QMOptions(**{**options, "negotiations": n}),
                                 ["qm.reachable-installed"], max_states=PLOT_BUDGET)
            if not run.exploration.complete:
                break
            points.append((n, run.exploration.states))
        series[label] = points
    return series


def states_plot(series: dict[str, list[tuple[int, int]]]) -> str:
    """States per N, one line per protocol run, as an inline SVG chart."""
    if not series:
        return ""
    top = max((st for pts in series.values() for _, st in pts), default=1) or 1
    left, width, height = 70, 420, 220
    x = {n: left + (n - 1) * width // max(1, MAX_N - 1) for n in range(1, MAX_N + 1)}

    def y(states: int) -> int:
        return 20 + height - round(height * states / top)

    out = [f'<svg id="states-plot" xmlns="http://www.w3.org/2000/svg" '
           f'width="{left + width + 260}" height="{height + 70}" font-size="11" '
           'font-family="sans-serif">',
           f'<line x1="{left}" y1="{20 + height}" x2="{left + width}" y2="{20 + height}" '
           'stroke="#333"/>',
           f'<line x1="{left}" y1="20" x2="{left}" y2="{20 + height}" stroke="#333"/>',
           f'<text x="{left - 6}" y="24" text-anchor="end">{top}</text>',
           f'<text x="{left - 6}" y="{20 + height}" text-anchor="end">0</text>',
           f'<text x="{left + width // 2}" y="{height + 60}" text-anchor="middle">'
           "N (concurrent negotiations)</text>"]
    for n, xn in x.items():
        out.append(f'<text x="{xn}" y="{height + 36}" text-anchor="middle">{n}</text>')
    for i, (label, points) in enumerate(sorted(series.items())):
        colour = COLOURS[i % len(COLOURS)]
        coords = " ".join(f"{x[n]},{y(st)}" for n, st in points)
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                   f'points="{coords}"><title>{esc(label)}</title></polyline>')
        for n, st in points:
            out.append(f'<circle cx="{x[n]}" cy="{y(st)}" r="3" fill="{colour}">'
                       f"<title>{esc(label)} N={n}: {st} states</title></circle>")
        out.append(f'<text x="{left + width + 20}" y="{30 + 16 * i}" fill="{colour}">'
                   f"{esc(label)}: " + ", ".join(str(st) for _, st in points) + "</text>")
    out.append("</svg>")
    return "".join(out)


def peer_matrix(report: Report) -> str:
    """Hosts x hosts: per ordered pair, the peers.* findings (or holds)."""
    cells: dict[tuple[str, str], list[Result]] = defaultdict(list)
    hosts: list[str] = []
    for r in report.results:
        if r.property.startswith("peers.") and "initiator" in r.extra:
            pair = (str(r.extra["initiator"]), str(r.extra["responder"]))
            cells[pair].append(r)
            hosts.extend(pair)
    hosts = sorted(set(hosts))
    if not hosts:
        return "<p>no host pairs</p>"
    rows = ["<tr><th>initiator \\ responder</th>"
            + "".join(f"<th>{esc(h)}</th>" for h in hosts) + "</tr>"]
    for a in hosts:
        tds = []
        for b in hosts:
            rs = cells.get((a, b), [])
            if a == b or not rs:
                tds.append("<td>-</td>")
                continue
            bad = [r for r in rs if r.is_finding]
            text = (f'<span class="error">{len(bad)} findings</span>' if bad
                    else '<span class="holds">holds</span>')
            tds.append(f"<td>{text}</td>")
        rows.append(f"<tr><th>{esc(a)}</th>{''.join(tds)}</tr>")
    return f'<table id="peer-matrix">{"".join(rows)}</table>'


def to_html(report: Report) -> str:
    """The whole report as one HTML document (deterministic)."""
    s, f = report.summary(), report.finding_counts()
    verdict = report.verdict_word()
    body = [f"<h1>qmcheck {esc(report.command)}: {esc(', '.join(report.inputs))}</h1>",
            f'<p id="verdict" class="{esc(verdict)}"><b>verdict: {esc(verdict.upper())}</b> '
            f"(exit {report.exit_code()}): {s['holds']} holds, {s['refuted']} refuted, "
            f"{s['unknown']} unknown; findings: "
            + ", ".join(f"{f[k]} {PLURAL[k]}" for k in SEVERITIES) + "</p>",
            summary_rows(report), "<h2>Findings</h2>"]
    shown = report.shown_results()
    for severity in SEVERITIES:
        mine = [r for r in shown if r.is_finding and r.severity == severity]
        if not mine:
            continue
        body.append(f"<h3>{PLURAL[severity]} ({len(mine)})</h3>")
        for r in mine:
            trace = trace_of(r) if r.property.startswith("qm.") else None
            diagram = sequence_svg(render_mermaid(trace)) if trace else ""
            body.append(finding_html(r, diagram))
    unknown = [r for r in shown if r.verdict == "unknown"]
    if unknown:
        body.append(f"<h3>unknown ({len(unknown)})</h3>")
        body.extend(finding_html(r, "") for r in unknown)
    if report.omitted():
        body.append(f"<p>{report.omitted()} findings not shown (--severity, --max-findings)"
                    "</p>")
    body.append("<h2>Peer matrix</h2>")
    body.append(peer_matrix(report))
    series = states_per_n([r for r in report.results if r.property.startswith("qm.")])
    if series:
        body.append("<h2>Protocol runs: states per N</h2>")
        body.append(f"<p>explored states for N = 1 .. {MAX_N} concurrent negotiations, with "
                    "each run's profile and faults</p>")
        body.append(states_plot(series))
    if report.files:
        body.append("<h2>Files written</h2><ul>"
                    + "".join(f"<li><code>{esc(p)}</code></li>" for p in report.files)
                    + "</ul>")
    data = json.dumps({"summary": s, "findings": f}, sort_keys=True)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>qmcheck {esc(report.command)}</title><style>{STYLE}</style>"
            f'<meta name="qmcheck-counts" content="{esc(data)}"></head><body>'
            + "\n".join(body) + "</body></html>\n")
