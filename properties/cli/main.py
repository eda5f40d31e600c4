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
from qmcheck.properties.cli import conflicts as cmd_conflicts
from qmcheck.properties.cli import diff as cmd_diff
from qmcheck.properties.cli import lookup as cmd_lookup
from qmcheck.properties.cli import negotiate as cmd_negotiate
from qmcheck.properties.cli import peers as cmd_peers
from qmcheck.properties.cli import protocol as cmd_protocol
from qmcheck.properties.cli import require as cmd_require
from qmcheck.properties.cli import show as cmd_show
from qmcheck.properties.cli import trace as cmd_trace
from qmcheck.properties.results import EXIT_INPUT, render

COMMANDS = (cmd_check, cmd_conflicts, cmd_diff, cmd_lookup, cmd_negotiate, cmd_peers, cmd_protocol,
            cmd_require, cmd_show, cmd_trace)


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code (DESIGN.md 7)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        report = args.handler(args)
        fmt = args.format
        if fmt == "sarif":
            from qmcheck.properties.reports.sarif import to_sarif

            text = to_sarif(report)
        else:
            text = render(report, fmt, timings=getattr(args, "timings", False))
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
