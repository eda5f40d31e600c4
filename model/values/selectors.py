"""IKEv1 traffic selectors (client IDs): an address, subnet or range, a protocol and a port.

The wildcard 0 stands for any address (subnet 0/0), any protocol or any port.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from qmcheck.model.values.addresses import (
    BITS,
    AddressFilter,
    AddressValue,
    Family,
    address_text,
    max_address,
)
from qmcheck.model.values.protocols import PortRange, protocol_text

IdKind = Literal["addr", "subnet", "range"]
Wildcard = Literal["strict", "lenient", "ports"]  # "ports": lenient for ports only (racoon)
#: How the initiator derives its client IDs from the policy and the packet (docs/PROFILES.md):
#: ``ranges-exact`` (the seed: a range becomes the packet's address, a prefix stays a subnet
#: ID), ``packet-exact`` (every address value becomes the packet's address) and ``policy``
#: (the configured value as it is: racoon, strongSwan, Libreswan).
InitiatorIds = Literal["ranges-exact", "packet-exact", "policy"]
INITIATOR_IDS: tuple[InitiatorIds, ...] = ("ranges-exact", "packet-exact", "policy")


@dataclass(frozen=True, slots=True)
class Selector:
    """One client ID: ``ID_IPV4_ADDR``/``_SUBNET``/``_RANGE`` (or IPv6), protocol, port."""

    family: Family
    kind: IdKind
    lo: int
    hi: int
    protocol: int = 0
    port: int = 0

    @property
    def address_is_wildcard(self) -> bool:
        return self.lo == 0 and self.hi == max_address(self.family)

    def address_text(self) -> str:
        if self.kind == "addr":
            return address_text(self.family, self.lo)
        if self.kind == "subnet":
            length = BITS[self.family] - (self.hi - self.lo + 1).bit_length() + 1
            return f"{address_text(self.family, self.lo)}/{length}"
        return f"{address_text(self.family, self.lo)}-{address_text(self.family, self.hi)}"

    def id_type(self) -> str:
        suffix = {"addr": "ADDR", "subnet": "ADDR_SUBNET", "range": "ADDR_RANGE"}[self.kind]
        return f"ID_IPV{self.family}_{suffix}"

    def contains_address(self, family: int, value: int) -> bool:
        return family == self.family and self.lo <= value <= self.hi

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id_type(), "address": self.address_text(),
                "protocol": self.protocol, "port": self.port}

    def __str__(self) -> str:
        port = "" if self.port == 0 else f" port {self.port}"
        proto = "" if self.protocol == 0 else f" {protocol_text(self.protocol)}"
        return f"{self.address_text()}{proto}{port}"


def wildcard_selector(family: Family, protocol: int = 0, port: int = 0) -> Selector:
    return Selector(family, "subnet", 0, max_address(family), protocol, port)


def sent_as_value(value: AddressValue, rule: InitiatorIds) -> bool:
    """Is ``value`` (neither ``any`` nor a single address) sent as configured under ``rule``
    (a subnet or range ID), rather than replaced by the packet's address?"""
    if rule == "policy":
        return value.kind in ("prefix", "range")
    return rule == "ranges-exact" and value.kind == "prefix"


def derive_selector(value: AddressValue, family: Family, address: int, ports: PortRange,
                    port: int, protocol: int | None,
                    rule: InitiatorIds = "ranges-exact") -> Selector:
    """The initiator's client ID for one side of a packet (docs/SPEC.md 3, step 1).

    ``value`` is the first address value of the policy field that matched; ``any`` is sent as
    the wildcard 0 (subnet 0/0). ``rule`` decides the rest (``InitiatorIds``): under
    ``ranges-exact`` (guide p.158: "replaces any address or port number ranges with the exact
    address") a range becomes the packet's address and a prefix stays a subnet ID. Port: any
    -> 0, otherwise the packet's exact port (under every rule). Protocol: any -> 0.
    """
    proto = 0 if protocol is None else protocol
    sel_port = 0 if ports.is_any else port
    if value.is_any:
        return wildcard_selector(family, proto, sel_port)
    if sent_as_value(value, rule):
        kind: IdKind = "subnet" if value.kind == "prefix" else "range"
        return Selector(family, kind, value.lo, value.hi, proto, sel_port)
    return Selector(family, "addr", address, address, proto, sel_port)


def address_filter_contains(field: AddressFilter, family_any: bool, selector: Selector,
                            wildcard: Wildcard) -> bool:
    """Does one value of a policy's address field contain the selector's address?

    ``strict``: a wildcard selector is contained only in an ``any`` value (plain set
    containment). ``lenient``: a wildcard selector is contained in every field.
    """
    if selector.address_is_wildcard and wildcard == "lenient":
        return True
    if family_any:
        return True
    return any(v.contains_span(selector.family, selector.lo, selector.hi) for v in field.values)


def port_contains(ports: PortRange, selector_port: int, wildcard: Wildcard) -> bool:
    if selector_port == 0:
        return ports.is_any or wildcard in ("lenient", "ports")
    return ports.contains(selector_port)


def protocol_contains(protocol: int | None, selector_protocol: int, wildcard: Wildcard) -> bool:
    if protocol is None:
        return True
    if selector_protocol == 0:
        return wildcard == "lenient"
    return protocol == selector_protocol
