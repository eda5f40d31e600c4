"""Options and helpers shared by the commands: output, files written, progress, profiles."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from qmcheck.model.quickmode.profiles import builtin_names, negotiation_options
from qmcheck.model.quickmode.scenario_options import check_protocol_section
from qmcheck.model.semantics.negotiation import PROFILE_OPTIONS
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.numbers import parse_int, parse_seconds
from qmcheck.model.values.policy import Host, Scenario
from qmcheck.properties.results import SEVERITIES

#: The profile a scenario gets when its ``protocol:`` mapping names none: the guide's.
DEFAULT_PROFILE = "hpux"


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"--max-findings must be a whole number, got {text!r}",
                         source="<command line>", field="--max-findings") from None
    if value < 0:
        raise InputError("--max-findings must be 0 or more", source="<command line>",
                         field="--max-findings")
    return value


def add_output_options(parser: argparse.ArgumentParser, formats: Sequence[str] = ("text", "json")
                       ) -> None:
    """The options every command shares: --format, --timings, --severity, --max-findings."""
    parser.add_argument("--format", choices=list(formats), default="text",
                        help=f"output format: {', '.join(formats)} (default: text)")
    parser.add_argument("--timings", action="store_true",
                        help="include measured seconds (reports are otherwise byte-identical "
                             "from run to run)")
    parser.add_argument("--severity", choices=list(SEVERITIES), default="note",
                        help="list findings of this severity and above (default: note, all); "
                             "counts and exit code still count every finding")
    parser.add_argument("--max-findings", type=str, default=None, metavar="N",
                        help="list at most N findings, most severe first")


def max_findings(args: argparse.Namespace) -> int | None:
    """``--max-findings`` as a number (None: no limit)."""
    text = getattr(args, "max_findings", None)
    return None if text is None else _count(str(text))


def add_out_option(parser: argparse.ArgumentParser, what: str = "counterexamples") -> None:
    """``--out DIR`` (nothing is written without it) and ``--force``."""
    parser.add_argument("--out", default=None, metavar="DIR",
                        help=f"write {what} into DIR, a new or empty folder (default: write "
                             "nothing)")
    add_force_option(parser)


def add_force_option(parser: argparse.ArgumentParser) -> None:
    """``--force``: write into a folder that holds files, replace an existing file."""
    parser.add_argument("--force", action="store_true",
                        help="write into an output folder that already holds files, or "
                             "replace an existing output file")


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    """``--progress / --no-progress`` (default: a bar on stderr for runs longer than about a
    second, when stdout and stderr are terminals)."""
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="show progress on stderr (default: only on a terminal, for runs "
                             "longer than about a second)")


def progress_enabled(args: argparse.Namespace) -> bool:
    """The ``--progress`` choice; by default on when stdout and stderr are terminals."""
    choice = getattr(args, "progress", None)
    if choice is not None:
        return bool(choice)
    return sys.stdout.isatty() and sys.stderr.isatty()


def add_budget_options(parser: argparse.ArgumentParser, *, with_states: bool = True) -> None:
    """``--max-states`` and ``--max-memory``: an exploration beyond them stops with
    ``unknown`` (exit 3), never with an out-of-memory kill."""
    if with_states:
        parser.add_argument("--max-states", type=cli_int("--max-states", 1, 10**9),
                            default=None, metavar="N",
                            help="state budget per exploration; beyond it results are unknown "
                                 "(default 20000000)")
    parser.add_argument("--max-memory", type=cli_megabytes("--max-memory"), default=None,
                        metavar="SIZE", help="memory budget: MB, or a size such as 500M or "
                        "2G; the visited set is compressed, then kept on disk, and beyond the "
                        "budget results are unknown (default: 80%% of the memory available)")


def cli_megabytes(option: str) -> Callable[[str], int]:
    """An argparse ``type``: a memory size in whole MB (``500``, ``500M``, ``2G``, ``1T``),
    at least 1 MB; ASCII digits only."""
    units = {"": 1, "M": 1, "G": 2**10, "T": 2**20}

    def parse(text: str) -> int:
        body = text.strip().upper().removesuffix("B")
        unit = body[-1:] if body[-1:] in units and body[-1:] else ""
        digits = body[: len(body) - len(unit)]
        try:
            value = parse_int(digits, 1, 2**30, option) * units[unit]
        except InputError as e:
            raise argparse.ArgumentTypeError(
                f"{option} must be a size such as 500 (MB), 500M or 2G: {e.message}") from None
        if value > 2**30:
            raise argparse.ArgumentTypeError(f"{option} is larger than 1 PB")
        return value

    parse.__name__ = option
    return parse


def cli_int(option: str, lo: int, hi: int) -> Callable[[str], int]:
    """An argparse ``type``: a whole number lo..hi in ASCII digits (``-5``, ``²`` refused)."""
    def parse(text: str) -> int:
        try:
            return parse_int(text, lo, hi, option)
        except InputError as e:
            raise argparse.ArgumentTypeError(e.message) from None

    parse.__name__ = option
    return parse


def cli_seconds(option: str, maximum: float = 7 * 24 * 3600.0) -> Callable[[str], float]:
    """An argparse ``type``: seconds, positive and finite (``nan``, ``inf``, ``1e308``,
    ``-1`` refused)."""
    def parse(text: str) -> float:
        try:
            return parse_seconds(text, option, maximum=maximum)
        except InputError as e:
            raise argparse.ArgumentTypeError(e.message) from None

    parse.__name__ = option
    return parse


def check_scenario_protocol(scenario: Scenario) -> dict[str, Any]:
    """The scenario's ``protocol:`` section, strictly checked (InputError with file, line and
    field ``protocol.KEY``)."""
    return check_protocol_section(scenario.protocol, scenario.protocol_lines,
                                  str(scenario.source))


PROFILE_HELP = ("a built-in profile ({names}), a mutant of model/profiles/mutants, or a "
                "profile file (docs/SPEC.md 9)")


def add_profile_option(parser: argparse.ArgumentParser, *, default: str | None = DEFAULT_PROFILE,
                       allow_all: bool = True, what: str = "") -> None:
    """``--profile NAME|PATH`` (and ``all``): the profile every command reads through
    model/quickmode/profiles.py (checked when the command runs: a bad file is one line with
    its file, line and key, exit 2)."""
    names = ", ".join(builtin_names())
    extra = "; all: every built-in profile" if allow_all else ""
    shown = f" (default: {default})" if default else ""
    parser.add_argument("--profile", default=default, metavar="NAME|PATH",
                        help=f"{what or 'implementation profile'}: "
                             f"{PROFILE_HELP.format(names=names)}{extra}{shown}")


def profiles_from_arg(text: str, allow_all: bool = True) -> list[str]:
    """``all`` (the built-in profiles) or one profile name or file, loaded to check it."""
    if allow_all and text == "all":
        return list(builtin_names())
    negotiation_options(text)
    return [text]


def scenario_profiles(scenario: Scenario, override: str | None = None) -> list[str]:
    """The profiles a scenario asks for (``protocol: profiles:`` or ``profile:``); the guide's
    profile (hpux) when it names none. ``override`` (``--profile``) replaces them."""
    if override is not None:
        return profiles_from_arg(override)
    names = check_scenario_protocol(scenario).get("profiles", [DEFAULT_PROFILE])
    for name in names:
        try:
            negotiation_options(str(name))
        except InputError as error:
            if error.line is not None:  # a bad profile file: its own line and key
                raise
            raise InputError(f"unknown profile {name!r} (expected one of "
                             f"{', '.join(PROFILE_OPTIONS)}, or a profile file)",
                             source=str(getattr(scenario, "source", "<scenario>")),
                             field="protocol.profiles") from None
    return [str(n) for n in names]


def print_notes(*hosts: Host) -> None:
    """The loaders' notes (what a file left unmodelled or symbolic), one line each on stderr:
    the report on stdout stays as it is."""
    import sys

    for host in hosts:
        for note in host.notes:
            print(f"qmcheck: note: {host.source}: {note}", file=sys.stderr)
