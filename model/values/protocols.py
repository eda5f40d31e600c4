"""IP protocols and ports: names and numbers, the port ranges of host policies."""

from __future__ import annotations

from dataclasses import dataclass

from qmcheck.model.values.errors import InputError
from qmcheck.model.values.numbers import parse_int, shown

PROTOCOL_NAMES: dict[str, int] = {
    "icmp": 1, "igmp": 2, "ipip": 4, "tcp": 6, "egp": 8, "udp": 17, "ipv6": 41,
    "rsvp": 46, "gre": 47, "esp": 50, "ah": 51, "icmpv6": 58, "ipv6-icmp": 58,
    "ospf": 89, "pim": 103, "vrrp": 112, "l2tp": 115, "sctp": 132, "udplite": 136,
}
PROTOCOL_NUMBERS: dict[int, str] = {}
for _name, _number in PROTOCOL_NAMES.items():
    PROTOCOL_NUMBERS.setdefault(_number, _name)

PORT_PROTOCOLS: frozenset[int] = frozenset({6, 17, 132})  # TCP, UDP, SCTP
MAX_PORT = 65535

# Service names the guide's ``ip/prefix/service`` syntax accepts (a fixed table, so that the
# result does not depend on the machine's /etc/services).
SERVICE_PORTS: dict[str, int] = {
    "ftp-data": 20, "ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "dns": 53,
    "bootps": 67, "bootpc": 68, "tftp": 69, "http": 80, "www": 80, "kerberos": 88, "pop3": 110,
    "ntp": 123, "imap": 143, "snmp": 161, "snmptrap": 162, "bgp": 179, "ldap": 389,
    "https": 443, "isakmp": 500, "syslog": 514, "ldaps": 636, "imaps": 993, "pop3s": 995,
    "ipsec-nat-t": 4500,
}


def parse_protocol(text: str) -> int | None:
    """``any`` (or 0) -> None; a name or a number 1..255 -> the number."""
    raw = str(text).strip().lower()
    if raw in ("any", "0", "all", "*"):
        return None
    if raw.isascii() and raw.isdigit():
        return parse_int(raw, 0, 255, "protocol number") or None
    if raw in PROTOCOL_NAMES:
        return PROTOCOL_NAMES[raw]
    raise InputError(
        f"unknown protocol '{shown(text)}' (a number 0..255 or one of: "
        f"{', '.join(sorted(PROTOCOL_NAMES))})"
    )


def protocol_text(protocol: int | None) -> str:
    if protocol is None:
        return "any"
    return PROTOCOL_NUMBERS.get(protocol, str(protocol))


def has_ports(protocol: int | None) -> bool:
    """Ports are meaningful for TCP, UDP and SCTP (and for ``any``, which includes them)."""
    return protocol is None or protocol in PORT_PROTOCOLS


@dataclass(frozen=True, slots=True)
class PortRange:
    """A closed port range; ``any`` is 0..65535 (written 0 in the guide)."""

    lo: int = 0
    hi: int = MAX_PORT

    @property
    def is_any(self) -> bool:
        return self.lo == 0 and self.hi == MAX_PORT

    @property
    def is_single(self) -> bool:
        return self.lo == self.hi

    def contains(self, port: int) -> bool:
        return self.lo <= port <= self.hi

    def __str__(self) -> str:
        if self.is_any:
            return "any"
        return str(self.lo) if self.is_single else f"{self.lo}-{self.hi}"


ANY_PORT = PortRange()


def parse_port(text: str | int) -> PortRange:
    """``any`` or 0 -> any; ``N``; ``lo-hi``; a service name such as ``telnet``."""
    raw = str(text).strip().lower()
    if raw in ("any", "0", "*"):
        return ANY_PORT
    if "-" in raw:
        lo_text, _, hi_text = raw.partition("-")
        lo, hi = _port_number(lo_text, raw), _port_number(hi_text, raw)
        if hi < lo:
            raise InputError(f"port range '{shown(raw)}' is reversed: {hi} is below {lo}")
        return PortRange(lo, hi)
    port = _port_number(raw, raw)
    return PortRange(port, port)


def _port_number(text: str, whole: str) -> int:
    text = text.strip()
    if text.isascii() and text.isdigit():
        try:
            return parse_int(text, 0, MAX_PORT, "port")
        except InputError as e:
            raise InputError(f"{e.message} in '{shown(whole)}'") from None
    if text in SERVICE_PORTS:
        return SERVICE_PORTS[text]
    raise InputError(f"'{shown(whole)}' is not a port, a port range lo-hi or a known service name")
