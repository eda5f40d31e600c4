"""Packets from the command line (``--src --dst ...``) or from a file of JSON lines."""

from __future__ import annotations

import argparse

from qmcheck.model.formats.json_text import parse_json
from qmcheck.model.formats.loader import read_text
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.packet import Packet, make_packet, packet_from_json


def add_packet_options(parser: argparse.ArgumentParser, *, directions: bool = True) -> None:
    """``--src --dst [--protocol --sport --dport --direction] | --packets FILE``."""
    group = parser.add_argument_group("packet")
    group.add_argument("--src", metavar="ADDR", help="source address")
    group.add_argument("--dst", metavar="ADDR", help="destination address")
    group.add_argument("--protocol", default="any", metavar="P",
                       help="protocol name or number (default: any = 0)")
    group.add_argument("--sport", default="0", metavar="N", help="source port (default 0)")
    group.add_argument("--dport", default="0", metavar="N", help="destination port (default 0)")
    if directions:
        group.add_argument("--direction", default="out", choices=["out", "in"],
                           help="packet direction at this host (default: out)")
    group.add_argument("--packets", metavar="FILE",
                       help="one packet per line, a JSON object like witness.packet")


def packets_from_args(args: argparse.Namespace) -> list[Packet]:
    """The packets the user asked about, or InputError naming the option or file line."""
    if args.packets:
        if args.src or args.dst:
            raise InputError("give either --packets or --src/--dst, not both",
                             source="<command line>", field="--packets")
        return read_packet_file(args.packets)
    missing = [name for name in ("src", "dst") if not getattr(args, name)]
    if missing:
        raise InputError(f"--{missing[0]} is required (or --packets FILE)",
                         source="<command line>", field=f"--{missing[0]}")
    try:
        return [make_packet(args.src, args.dst, args.protocol, args.sport, args.dport,
                            getattr(args, "direction", "out"))]
    except InputError as e:
        field = f"--{e.field}" if e.field else None
        raise InputError(e.message, source="<command line>", field=field) from None


def read_packet_file(path: str) -> list[Packet]:
    """One JSON packet per line; blank lines and lines starting with # are skipped."""
    packets: list[Packet] = []
    for number, line in enumerate(read_text(path, "a packet file").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        obj = parse_json(text, path, number, max_depth=2)
        try:
            packets.append(packet_from_json(obj))
        except InputError as e:
            raise e.located(source=path, line=number) from None
    if not packets:
        raise InputError("no packet in the file", source=path, line=1)
    return packets
