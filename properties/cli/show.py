"""``qmcheck show COUNTEREXAMPLE.json``: render a counterexample trace (text, Mermaid, DOT).

The trace is validated and replayed through the transition system first; a trace that does not
replay is an input error.
"""

from __future__ import annotations

import argparse

from qmcheck.properties.results import Report, Result
from qmcheck.properties.traces.counterexample import load_trace, verify_trace
from qmcheck.properties.traces.render import render_trace


class ShowReport(Report):
    """A report whose text rendering is the trace itself (JSON stays the report shape)."""

    rendering: str = ""

    def to_text(self, *, timings: bool = False) -> str:
        return self.rendering


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("show", help="render a counterexample trace", description=__doc__)
    p.add_argument("trace", metavar="COUNTEREXAMPLE.json")
    p.add_argument("--format", default="text", choices=["text", "mermaid", "dot", "json"],
                   help="text (changes only, default), mermaid, dot, or json (a report)")
    p.add_argument("--timings", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> Report:
    trace = load_trace(args.trace)
    verify_trace(trace, args.trace)
    report = ShowReport("show", [args.trace])
    report.add(Result(trace["property"], "refuted", (trace["options"]["profile"],),
                      severity="note", engine="replay", message=str(trace.get("message", "")),
                      counterexample=args.trace,
                      extra={"steps": len(trace["steps"]) - 1}))
    if args.format in ("mermaid", "dot"):
        report.rendering = render_trace(trace, args.format)
        args.format = "text"
    elif args.format == "text":
        report.rendering = render_trace(trace, "text")
    return report
