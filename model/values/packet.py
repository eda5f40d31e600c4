"""Packets: the 5-tuple plus direction that host policies are matched against."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from qmcheck.model.values.addresses import Family, address_text, parse_address
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.numbers import parse_int, shown
from qmcheck.model.values.protocols import (
    MAX_PORT,
    SERVICE_PORTS,
    has_ports,
    parse_protocol,
    protocol_text,
)

Direction = Literal["out", "in"]


@dataclass(frozen=True, slots=True, order=True)
class Packet:
    """A packet as seen by one host: addresses as integers of one family, and a direction.

    Ports are 0 for protocols without ports.
    """

    family: Family
    src: int
    dst: int
    protocol: int
    sport: int = 0
    dport: int = 0
    direction: Direction = "out"

    def local_remote(self) -> tuple[int, int, int, int]:
        """(local address, remote address, local port, remote port) for mirrored matching."""
        if self.direction == "out":
            return self.src, self.dst, self.sport, self.dport
        return self.dst, self.src, self.dport, self.sport

    def reversed(self) -> Packet:
        """The reply seen by the same host: addresses and ports swapped, direction flipped."""
        return Packet(self.family, self.dst, self.src, self.protocol, self.dport, self.sport,
                      "in" if self.direction == "out" else "out")

    def as_seen_by_peer(self) -> Packet:
        """The same packet as the other end receives it (direction flipped)."""
        return Packet(self.family, self.src, self.dst, self.protocol, self.sport, self.dport,
                      "in" if self.direction == "out" else "out")

    def to_json(self) -> dict[str, Any]:
        return {
            "src": address_text(self.family, self.src),
            "dst": address_text(self.family, self.dst),
            "protocol": self.protocol,
            "sport": self.sport,
            "dport": self.dport,
            "direction": self.direction,
        }

    def __str__(self) -> str:
        s, d = address_text(self.family, self.src), address_text(self.family, self.dst)
        if self.family == 6:
            s, d = f"[{s}]", f"[{d}]"
        proto = protocol_text(self.protocol) if self.protocol else "0"
        return f"{s}:{self.sport} -> {d}:{self.dport} {proto} {self.direction}"


def make_packet(src: str, dst: str, protocol: str | int = "any", sport: str | int = 0,
                dport: str | int = 0, direction: str = "out") -> Packet:
    """Build a packet from user text, with InputError naming the field at fault."""
    try:
        s = parse_address(str(src))
    except InputError as e:
        raise e.located(field="src") from None
    try:
        d = parse_address(str(dst))
    except InputError as e:
        raise e.located(field="dst") from None
    if s.version != d.version:
        raise InputError(f"src {s} and dst {d} are of different address families", field="dst")
    try:
        proto = parse_protocol(str(protocol))
    except InputError as e:
        raise e.located(field="protocol") from None
    number = 0 if proto is None else proto
    ports = []
    for name, value in (("sport", sport), ("dport", dport)):
        text = str(value).strip().lower()
        if text in SERVICE_PORTS:  # a service name, as policy files accept (ssh, telnet, ...)
            ports.append(SERVICE_PORTS[text])
            continue
        try:
            ports.append(parse_int(value, 0, MAX_PORT, "port"))
        except InputError as e:
            raise e.located(field=name) from None
    if not has_ports(proto) and any(ports):
        raise InputError(
            f"protocol {number} has no ports, but a port was given", field="sport" if ports[0]
            else "dport")
    if direction not in ("out", "in"):
        raise InputError(f"direction must be 'out' or 'in', not '{shown(direction)}'",
                         field="direction")
    family: Family = 4 if s.version == 4 else 6
    return Packet(family, int(s), int(d), number, ports[0], ports[1], direction)  # type: ignore[arg-type]


PACKET_KEYS = ("src", "dst", "protocol", "sport", "dport", "direction")


def packet_from_json(obj: Any) -> Packet:
    """A packet from the JSON object shape of ``witness.packet`` (docs/SPEC.md 7)."""
    if not isinstance(obj, dict):
        raise InputError("a packet is a JSON object with src, dst, protocol, sport, dport, "
                         "direction")
    unknown = sorted(set(obj) - set(PACKET_KEYS))
    if unknown:
        raise InputError(f"unknown key '{shown(unknown[0])}' (known: {', '.join(PACKET_KEYS)})",
                         field=unknown[0])
    for key in ("src", "dst"):
        if key not in obj:
            raise InputError(f"'{key}' is missing", field=key)
    for key in ("src", "dst", "protocol", "direction"):
        if key in obj and not isinstance(obj[key], str) and not (
                key == "protocol" and isinstance(obj[key], int)
                and not isinstance(obj[key], bool)):
            raise InputError(f"'{key}' must be a string, not {shown(obj[key])}", field=key)
    return make_packet(obj["src"], obj["dst"], obj.get("protocol", "any"), obj.get("sport", 0),
                       obj.get("dport", 0), obj.get("direction", "out"))
