"""Address filters of host policies: a single address, a prefix ``a/n``, a range ``a-b`` or any.

A filter holds several values in order (the initiator picks the first that matches a packet).
Addresses are kept as integers with their family (4 or 6); ``ipaddress`` does the parsing.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from qmcheck.model.values.errors import InputError
from qmcheck.model.values.intervals import IntervalSet
from qmcheck.model.values.numbers import is_ascii_int, shown

Family = Literal[4, 6]
AddressKind = Literal["single", "prefix", "range", "any"]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

BITS: dict[int, int] = {4: 32, 6: 128}


def max_address(family: int) -> int:
    return (1 << BITS[family]) - 1


def address_text(family: int, value: int) -> str:
    """The usual text form of an address given as an integer."""
    return str(ipaddress.IPv4Address(value) if family == 4 else ipaddress.IPv6Address(value))


def parse_address(text: str) -> IPAddress:
    """Parse one IPv4 or IPv6 address; InputError with a clear message when impossible."""
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        raise InputError(f"'{text}' is not an IPv4 or IPv6 address") from None


@dataclass(frozen=True, slots=True)
class AddressValue:
    """One value of an address filter: the closed interval ``[lo, hi]`` of one family."""

    family: Family
    kind: AddressKind
    lo: int
    hi: int
    prefix_len: int | None = None

    @staticmethod
    def any(family: Family) -> AddressValue:
        return AddressValue(family, "any", 0, max_address(family), 0)

    @staticmethod
    def single(address: IPAddress) -> AddressValue:
        family: Family = 4 if address.version == 4 else 6
        return AddressValue(family, "single", int(address), int(address), BITS[family])

    @property
    def is_any(self) -> bool:
        return self.lo == 0 and self.hi == max_address(self.family)

    def contains(self, family: int, value: int) -> bool:
        return family == self.family and self.lo <= value <= self.hi

    def contains_span(self, family: int, lo: int, hi: int) -> bool:
        return family == self.family and self.lo <= lo and hi <= self.hi

    def intervals(self) -> IntervalSet:
        return IntervalSet.span(self.lo, self.hi)

    def __str__(self) -> str:
        if self.kind == "any":
            return "any"
        if self.kind == "single":
            return address_text(self.family, self.lo)
        if self.kind == "prefix":
            return f"{address_text(self.family, self.lo)}/{self.prefix_len}"
        return f"{address_text(self.family, self.lo)}-{address_text(self.family, self.hi)}"


def parse_address_value(text: str, family_hint: Family | None = None) -> AddressValue:
    """Parse ``any``, ``a``, ``a/n`` or ``a-b`` (``0.0.0.0/0`` and ``::/0`` are any).

    Raises InputError for impossible addresses, a prefix too long, a reversed range, a range
    mixing families, and multicast or broadcast addresses (which a host policy cannot name).
    """
    raw = text.strip()
    if raw.lower() in ("any", "*"):
        return AddressValue.any(family_hint or 4)
    if "-" in raw and "/" not in raw:
        first_text, _, last_text = raw.partition("-")
        first, last = parse_address(first_text), parse_address(last_text)
        if first.version != last.version:
            raise InputError(f"range '{raw}' mixes IPv4 and IPv6")
        if int(last) < int(first):
            raise InputError(f"range '{raw}' is reversed: {last} is below {first}")
        _check_unicast(first, raw)
        _check_unicast(last, raw)
        family: Family = 4 if first.version == 4 else 6
        if int(first) == int(last):
            return AddressValue(family, "single", int(first), int(first), BITS[family])
        return AddressValue(family, "range", int(first), int(last))
    if "/" in raw:
        addr_text, _, len_text = raw.partition("/")
        address = parse_address(addr_text)
        family = 4 if address.version == 4 else 6
        if not is_ascii_int(len_text.strip()):
            raise InputError(f"prefix length '{shown(len_text)}' in '{shown(raw)}' is not a "
                             "number")
        length = int(len_text)
        if length > BITS[family]:
            raise InputError(
                f"prefix length {length} in '{raw}' is too long for IPv{family} "
                f"(at most {BITS[family]})"
            )
        network = ipaddress.ip_network(f"{address}/{length}", strict=False)
        lo, hi = int(network.network_address), int(network.broadcast_address)
        if length == 0:
            return AddressValue.any(family)
        if length == BITS[family]:
            _check_unicast(address, raw)
            return AddressValue(family, "single", lo, hi, length)
        return AddressValue(family, "prefix", lo, hi, length)
    address = parse_address(raw)
    family = 4 if address.version == 4 else 6
    if int(address) == 0:
        return AddressValue.any(family)
    _check_unicast(address, raw)
    return AddressValue.single(address)


def _check_unicast(address: IPAddress, raw: str) -> None:
    if address.is_multicast:
        raise InputError(f"'{raw}': {address} is a multicast address; a host policy needs unicast")
    if address.version == 4 and int(address) == 0xFFFFFFFF:
        raise InputError(f"'{raw}': {address} is the broadcast address; a host policy needs "
                         "unicast")


@dataclass(frozen=True, slots=True)
class AddressFilter:
    """The ordered values of a policy's source or destination field."""

    values: tuple[AddressValue, ...]

    @property
    def family(self) -> Family:
        return self.values[0].family

    @property
    def is_any(self) -> bool:
        return any(v.is_any for v in self.values)

    def first_match(self, family: int, value: int) -> AddressValue | None:
        """The first value that contains the address (the initiator's choice), or None."""
        for candidate in self.values:
            if candidate.contains(family, value):
                return candidate
        return None

    def contains(self, family: int, value: int) -> bool:
        return self.first_match(family, value) is not None

    def intervals(self) -> IntervalSet:
        """The exact set of addresses the filter matches."""
        out = IntervalSet()
        for v in self.values:
            out = out.union(v.intervals())
        return out

    def with_family(self, family: Family) -> AddressFilter:
        """Re-home ``any`` values onto ``family`` (an ``any`` is family-neutral in the input)."""
        return AddressFilter(
            tuple(AddressValue.any(family) if v.kind == "any" else v for v in self.values)
        )

    def __str__(self) -> str:
        return ",".join(str(v) for v in self.values)
