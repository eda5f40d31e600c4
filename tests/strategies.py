"""Hypothesis strategies over small universes: a few addresses, ports and protocols.

Policies are generated as the text a user writes and built by the real loader path, so that
properties exercise parsing too. ``UNIVERSE_*`` lists every packet of the small universe.
"""

from __future__ import annotations

import ipaddress
from itertools import product

from hypothesis import strategies as st

from qmcheck.model.formats.builder import RawField, build_policies
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Host

BASE4 = int(ipaddress.IPv4Address("10.0.0.0"))
BASE6 = int(ipaddress.IPv6Address("2001:db8::"))
ADDRESS_COUNT = 8  # addresses BASE .. BASE+7
PORTS = (0, 1, 2, 3)
PROTOCOLS = (6, 17, 1)
ACTIONS = ("PASS", "DISCARD", "ESP_AES128_HMAC_SHA1", "AH_SHA1",
           "ESP_3DES_HMAC_SHA1,ESP_AES128_HMAC_SHA1")


def text(family: int, offset: int) -> str:
    base = BASE4 if family == 4 else BASE6
    return str(ipaddress.ip_address(base + offset))


@st.composite
def address_texts(draw: st.DrawFn, family: int) -> str:
    kind = draw(st.sampled_from(["single", "prefix", "range", "any"]))
    if kind == "any":
        return "any"
    if kind == "single":
        return text(family, draw(st.integers(1, ADDRESS_COUNT - 1)))
    if kind == "prefix":
        host_bits = draw(st.integers(1, 3))
        start = draw(st.integers(0, (ADDRESS_COUNT >> host_bits) - 1)) << host_bits
        length = (32 if family == 4 else 128) - host_bits
        return f"{text(family, start)}/{length}"
    lo = draw(st.integers(1, ADDRESS_COUNT - 2))
    hi = draw(st.integers(lo + 1, ADDRESS_COUNT - 1))
    return f"{text(family, lo)}-{text(family, hi)}"


@st.composite
def raw_policies(draw: st.DrawFn, family: int, index: int, equal_priorities: bool = False,
                 directions: bool = False) -> dict[str, RawField]:
    line = index + 1
    raw = {"name": RawField(f"p{index}", line)}
    if draw(st.booleans()) or equal_priorities:
        raw["priority"] = RawField(str(draw(st.integers(1, 3)) * 10), line)
    count = draw(st.integers(1, 2))
    raw["source"] = RawField([draw(address_texts(family)) for _ in range(count)], line)
    raw["destination"] = RawField(draw(address_texts(family)), line)
    protocol = draw(st.sampled_from(["any", "tcp", "udp", "icmp"]))
    raw["protocol"] = RawField(protocol, line)
    if protocol in ("tcp", "udp"):
        for key in ("source-port", "destination-port"):
            choice = draw(st.sampled_from(["any", "single", "range"]))
            if choice == "single":
                raw[key] = RawField(str(draw(st.sampled_from(PORTS[1:]))), line)
            elif choice == "range":
                raw[key] = RawField("1-2", line)
    raw["action"] = RawField(draw(st.sampled_from(ACTIONS)), line)
    if directions:
        raw["direction"] = RawField(draw(st.sampled_from(["both", "out", "in"])), line)
    return raw


@st.composite
def hosts(draw: st.DrawFn, family: int | None = None, max_policies: int = 6,
          default: bool | None = None, equal_priorities: bool = False,
          directions: bool = False) -> Host:
    """A host of up to ``max_policies`` policies; ``directions``: some apply to one direction
    only (docs/SPEC.md 2)."""
    fam = family or draw(st.sampled_from([4, 6]))
    count = draw(st.integers(1, max_policies))
    raws = [(draw(raw_policies(fam, i, equal_priorities, directions)), i + 1)
            for i in range(count)]
    with_default = draw(st.booleans()) if default is None else default
    policies = build_policies(raws, source="<generated>",
                              default_action="PASS" if with_default else None)
    return Host("h", policies, default_action="PASS" if with_default else None)


def universe(family: int) -> list[Packet]:
    """Every outbound and inbound packet of the small universe."""
    base = BASE4 if family == 4 else BASE6
    addresses = [base + i for i in range(ADDRESS_COUNT)]
    out: list[Packet] = []
    for src, dst, proto, direction in product(addresses, addresses, PROTOCOLS, ("out", "in")):
        ports = PORTS if proto in (6, 17) else (0,)
        for sport, dport in product(ports, ports):
            out.append(Packet(family, src, dst, proto, sport, dport, direction))  # type: ignore[arg-type]
    return out
