"""Options and helpers shared by the commands: output options, the profiles of a scenario."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from qmcheck.model.quickmode.scenario_options import check_protocol_section
from qmcheck.model.semantics.negotiation import PROFILE_OPTIONS, profile_options
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.numbers import parse_int, parse_seconds
from qmcheck.model.values.policy import Scenario


def add_output_options(parser: argparse.ArgumentParser, formats: Sequence[str] = ("text", "json")
                       ) -> None:
    """The options every command shares: ``--format`` and ``--timings``."""
    parser.add_argument("--format", choices=list(formats), default="text",
                        help="output format (default: text)")
    parser.add_argument("--timings", action="store_true",
                        help="include measured seconds (reports are otherwise byte-identical "
                             "from run to run)")



def add_budget_options(parser: argparse.ArgumentParser, *, with_states: bool = True) -> None:
    """``--max-states`` and ``--max-memory``: an exploration beyond them stops with
    ``unknown`` (exit 3), never with an out-of-memory kill."""
    if with_states:
        parser.add_argument("--max-states", type=cli_int("--max-states", 1, 10**9),
                            default=None, metavar="N",
                            help="state budget per exploration; beyond it results are unknown "
                                 "(default 20000000)")
    parser.add_argument("--max-memory", type=cli_int("--max-memory", 16, 2**20), default=None,
                        metavar="MB", help="memory budget of the process in MB; beyond it "
                        "results are unknown (default: 80%% of the memory available at start)")


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


def scenario_profiles(scenario: Scenario) -> list[str]:
    """The profiles a scenario asks for (``protocol: profiles:`` or ``profile:``), all by
    default."""
    names = check_scenario_protocol(scenario).get("profiles", list(PROFILE_OPTIONS))
    for name in names:
        profile_options(str(name))
    return [str(n) for n in names]
