"""Options and helpers shared by the commands: output options, the profiles of a scenario."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from qmcheck.model.semantics.negotiation import PROFILE_OPTIONS, profile_options
from qmcheck.model.values.policy import Host, Scenario


def add_output_options(parser: argparse.ArgumentParser, formats: Sequence[str] = ("text", "json")
                       ) -> None:
    """The options every command shares: ``--format`` and ``--timings``."""
    parser.add_argument("--format", choices=list(formats), default="text",
                        help="output format (default: text)")
    parser.add_argument("--timings", action="store_true",
                        help="include measured seconds (reports are otherwise byte-identical "
                             "from run to run)")



def scenario_profiles(scenario: Scenario) -> list[str]:
    """The profiles a scenario asks for (``protocol: profiles:``), all by default."""
    wanted = scenario.protocol.get("profiles", list(PROFILE_OPTIONS))
    names = [wanted] if isinstance(wanted, str) else list(wanted)
    for name in names:
        profile_options(str(name))
    return [str(n) for n in names]


def print_notes(*hosts: Host) -> None:
    """The loaders' notes (what a file left unmodelled or symbolic), one line each on stderr:
    the report on stdout stays as it is."""
    import sys

    for host in hosts:
        for note in host.notes:
            print(f"qmcheck: note: {host.source}: {note}", file=sys.stderr)
