"""The ``qmcheck`` command line: one sub-command per module of ``properties/cli/``.

Each command module has ``register(subparsers)``, which adds its parser and sets
``handler`` to a function ``(args) -> Report``. Output goes to stdout in the chosen format;
input errors go to stderr as one line ``qmcheck: error: FILE:LINE: field 'F': message`` with
exit code 2; any other exception is a bug: one line, exit code 4 (the traceback with
``--debug``). A crash never exits 0, 1 or 3 (docs/SPEC.md 7).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from qmcheck.model import __version__
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.text import escape_text, shown
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
EXIT_INTERNAL = 4
EXIT_INTERRUPTED = 130


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one escaped line (exit 2), like input errors.

    ``--help`` and ``--version`` still print in full.
    """

    def error(self, message: str) -> NoReturn:
        line = escape_text(" ".join(message.split()))
        if line.startswith("argument ") and ": " in line:  # "argument --x: --x 'nan' is ..."
            option, _, rest = line[len("argument "):].partition(": ")
            line = f"field '{option}': {rest}"
        if len(line) > 300:
            line = line[:300] + "..."
        self.exit(EXIT_INPUT, f"qmcheck: error: <command line>: {line} (see {self.prog} "
                              "--help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered sub-command."""
    parser = Parser(
        prog="qmcheck",
        description="Model and property checker for IPsec host policies and IKEv1 Quick Mode.",
    )
    parser.add_argument("--version", action="version", version=f"qmcheck {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="print the traceback of an internal error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                parser_class=Parser)
    for module in COMMANDS:
        module.register(sub)
        sub.choices[module.__name__.rsplit(".", 1)[-1]].add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS,
            help="print the traceback of an internal error")
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


def _internal_error(command: str, error: BaseException, debug: bool) -> int:
    """Report a bug: one line (exit 4); the traceback only with ``--debug``."""
    if debug:
        traceback.print_exception(error, file=sys.stderr)
    message = shown(str(error), 200) if str(error) else ""
    print(f"qmcheck: internal error in {command}: {type(error).__name__}"
          f"{': ' + message if message else ''} (this is a bug; rerun with --debug for the "
          "traceback)", file=sys.stderr, flush=True)
    return EXIT_INTERNAL


def _debug_requested(argv: Sequence[str] | None) -> bool:
    return "--debug" in (sys.argv[1:] if argv is None else argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code (docs/SPEC.md 7)."""
    debug = _debug_requested(argv)
    command = "qmcheck"
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        command = str(args.command)
        debug = debug or bool(getattr(args, "debug", False))
        limit = max_findings(args)
        report = args.handler(args)
        report.min_severity = getattr(args, "severity", None) or report.min_severity
        report.max_findings = limit if limit is not None else report.max_findings
        fmt = getattr(args, "format", "text")
        text = render_any(report, fmt, timings=getattr(args, "timings", False))
        code = report.exit_code()
        if code not in (0, 1, 3):
            raise RuntimeError(f"the report gave exit code {code}")
        if fmt == "text":  # JSON escapes control characters itself; HTML escapes its text
            text = escape_text(text, keep_newlines=True)
        sys.stdout.write(text)
        sys.stdout.flush()
        return code
    except InputError as error:
        print(f"qmcheck: error: {_one_line(str(error))}", file=sys.stderr, flush=True)
        return EXIT_INPUT
    except OSError as error:
        # Writing an output (counterexamples, --matrix, --graph-dot, stdout) failed.
        where = f"{error.filename}: " if error.filename else ""
        reason = error.strerror or type(error).__name__
        print(f"qmcheck: error: {_one_line(str(where))}cannot write or read: {reason}",
              file=sys.stderr, flush=True)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("qmcheck: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    except SystemExit as exit_:
        # argparse (usage errors, --help, --version); anything else raising SystemExit is a bug
        if exit_.code in (0, EXIT_INPUT, None) and command == "qmcheck":
            return EXIT_INPUT if exit_.code == EXIT_INPUT else 0
        return _internal_error(command, exit_, debug)
    except BaseException as error:  # every other failure is a bug: exit 4
        return _internal_error(command, error, debug)


def _one_line(text: str) -> str:
    """An error message as one escaped line."""
    return escape_text(" ".join(text.split("\n")))


def run() -> None:  # pragma: no cover - console script wrapper
    sys.exit(main())
