"""The ``qmcheck`` command line: one sub-command per module of ``properties/cli/``.

Each command module has ``register(subparsers)``, which adds its parser and sets
``handler`` to a function ``(args) -> Report``. Output goes to stdout in the chosen format;
input errors go to stderr as ``qmcheck: error: FILE:LINE: field 'F': message`` with exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from qmcheck.model import __version__
from qmcheck.model.values.errors import InputError
from qmcheck.properties.cli import check as cmd_check
from qmcheck.properties.cli import completion as cmd_completion
from qmcheck.properties.cli import conflicts as cmd_conflicts
from qmcheck.properties.cli import diff as cmd_diff
from qmcheck.properties.cli import lookup as cmd_lookup
from qmcheck.properties.cli import negotiate as cmd_negotiate
from qmcheck.properties.cli import peers as cmd_peers
from qmcheck.properties.cli import protocol as cmd_protocol
from qmcheck.properties.cli import require as cmd_require
from qmcheck.properties.cli import show as cmd_show
from qmcheck.properties.cli import trace as cmd_trace
from qmcheck.properties.cli.options import max_findings
from qmcheck.properties.results import EXIT_INPUT, Report, render

COMMANDS = (cmd_check, cmd_conflicts, cmd_diff, cmd_require, cmd_lookup, cmd_negotiate,
            cmd_peers, cmd_protocol, cmd_show, cmd_trace, cmd_completion)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered sub-command."""
    parser = argparse.ArgumentParser(
        prog="qmcheck",
        description="Model and property checker for IPsec host policies and IKEv1 Quick Mode.",
    )
    parser.add_argument("--version", action="version", version=f"qmcheck {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(sub)
    plain_help(parser)
    parser.set_defaults(root_parser=parser)
    return parser


def plain_help(parser: argparse.ArgumentParser) -> None:
    """Help texts are plain text: no ``reStructuredText`` markup from docstrings."""
    parser.description = (parser.description or "").replace("``", "") or None
    for action in parser._actions:
        if isinstance(action.help, str):
            action.help = action.help.replace("``", "")
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                plain_help(child)


def render_any(report: Report, fmt: str, *, timings: bool = False) -> str:
    """The report in ``fmt``: text, json, sarif or html."""
    if fmt == "sarif":
        from qmcheck.properties.reports.sarif import to_sarif

        return to_sarif(report)
    if fmt == "html":
        from qmcheck.properties.reports.html import to_html

        return to_html(report)
    return render(report, fmt, timings=timings)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code (docs/SPEC.md 7)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        limit = max_findings(args)
        report = args.handler(args)
        report.min_severity = getattr(args, "severity", None) or report.min_severity
        report.max_findings = limit if limit is not None else report.max_findings
        text = render_any(report, getattr(args, "format", "text"),
                          timings=getattr(args, "timings", False))
    except InputError as error:
        print(f"qmcheck: error: {error}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("qmcheck: interrupted", file=sys.stderr)
        return 130
    sys.stdout.write(text)
    sys.stdout.flush()
    return report.exit_code()


def run() -> None:  # pragma: no cover - console script wrapper
    sys.exit(main())
