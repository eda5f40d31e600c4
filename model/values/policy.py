"""Host policies, hosts and scenarios (docs/SPEC.md 2 and 8)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from qmcheck.model.values.addresses import (
    BITS,
    AddressFilter,
    AddressValue,
    Family,
    address_text,
)
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.protocols import ANY_PORT, PortRange, protocol_text
from qmcheck.model.values.transforms import PASS, Action

DEFAULT_POLICY_NAME = "default"
# The shipped default policy is searched after every configured one (legal priorities end at
# 2147483647).
DEFAULT_POLICY_PRIORITY = 2**31
PRIORITY_INCREMENT = 10
MAX_PRIORITY = 2**31 - 1

PolicyDirection = Literal["out", "in", "both"]
DIRECTIONS: tuple[PolicyDirection, ...] = ("out", "in", "both")


@dataclass(frozen=True, slots=True)
class Policy:
    """One host policy. ``family`` is None only when both address fields are ``any`` (the
    policy then matches IPv4 and IPv6). ``index`` is the file order, ``line`` the input line."""

    name: str
    priority: int
    source: AddressFilter
    destination: AddressFilter
    action: Action
    family: Family | None
    protocol: int | None = None
    source_port: PortRange = ANY_PORT
    destination_port: PortRange = ANY_PORT
    index: int = 0
    line: int | None = field(default=None, compare=False)
    implicit: bool = False
    direction: PolicyDirection = "both"
    tunnel: tuple[Family, int] | None = None  # tunnel mode: the remote gateway (docs/SPEC.md 2)

    def applies(self, direction: str) -> bool:
        """Does the policy apply to packets of this direction (``out`` or ``in``)?"""
        return self.direction == "both" or self.direction == direction

    @property
    def order_key(self) -> tuple[int, int]:
        """Search order: priority first, file order among equal priorities."""
        return (self.priority, self.index)

    def matches(self, packet: Packet) -> bool:
        """Does the policy match the packet (mirrored by direction, docs/SPEC.md 2); a policy of
        one direction matches only packets of that direction."""
        if self.direction != "both" and packet.direction != self.direction:
            return False
        if self.protocol is not None and packet.protocol != self.protocol:
            return False
        local, remote, lport, rport = packet.local_remote()
        if not (self.source_port.contains(lport) and self.destination_port.contains(rport)):
            return False
        if self.family is None:
            return True
        return self.source.contains(packet.family, local) and self.destination.contains(
            packet.family, remote
        )

    def describe(self) -> str:
        ports = lambda p: "" if p.is_any else f" port {p}"  # noqa: E731
        extra = "" if self.direction == "both" else f" {self.direction} only"
        if self.tunnel is not None:
            extra += f" tunnel to {address_text(*self.tunnel)}"
        return (
            f"{self.name} (priority {self.priority if not self.implicit else 'last'}"
            f"{extra}): "
            f"{self.source}{ports(self.source_port)} -> "
            f"{self.destination}{ports(self.destination_port)} "
            f"protocol {protocol_text(self.protocol)}: {self.action}"
        )

    def to_yaml_dict(self) -> dict[str, Any]:
        """The policy in the YAML format of docs/SPEC.md 8 (every field explicit)."""

        def addresses(f: AddressFilter) -> str | list[str]:
            texts = [str(v) for v in f.values]
            return texts[0] if len(texts) == 1 else texts

        return {
            "name": self.name,
            "priority": self.priority,
            "source": addresses(self.source),
            "source-port": str(self.source_port),
            "destination": addresses(self.destination),
            "destination-port": str(self.destination_port),
            "protocol": protocol_text(self.protocol),
            "action": self.action.to_json(),
            **({} if self.direction == "both" else {"direction": self.direction}),
            **({} if self.tunnel is None else {"tunnel": address_text(*self.tunnel)}),
        }


def default_policy(index: int, action: Action = PASS) -> Policy:
    """The guide's shipped default policy: everything, searched last."""
    anyv = AddressFilter((AddressValue.any(4),))
    return Policy(DEFAULT_POLICY_NAME, DEFAULT_POLICY_PRIORITY, anyv, anyv, action, None,
                  index=index, implicit=True)


@dataclass(frozen=True)
class Host:
    """A host: its name, its own addresses (optional) and its policies in file order."""

    name: str
    policies: tuple[Policy, ...]
    addresses: tuple[tuple[Family, int], ...] = ()
    source: str = field(default="<memory>", compare=False)
    default_action: str | None = "PASS"
    # The address list as written (addresses and prefixes, docs/SPEC.md 8) and the subnets a
    # gateway protects; ``addresses`` keeps the single addresses among them.
    address_values: tuple[AddressValue, ...] = ()
    protects: tuple[AddressValue, ...] = ()
    notes: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if self.addresses and not self.address_values:
            singles = tuple(AddressValue(f, "single", a, a, BITS[f]) for f, a in self.addresses)
            object.__setattr__(self, "address_values", singles)

    def ordered(self) -> tuple[Policy, ...]:
        """Policies in search order (priority, then file order); computed once per host."""
        cached: tuple[Policy, ...] | None = self.__dict__.get("_ordered")
        if cached is None:
            cached = tuple(sorted(self.policies, key=lambda p: p.order_key))
            object.__setattr__(self, "_ordered", cached)
        return cached

    def applicable(self, direction: str) -> tuple[Policy, ...]:
        """Policies in search order that apply to packets of ``direction`` (out or in)."""
        key = f"_applicable_{direction}"
        cached: tuple[Policy, ...] | None = self.__dict__.get(key)
        if cached is None:
            cached = tuple(p for p in self.ordered() if p.applies(direction))
            object.__setattr__(self, key, cached)
        return cached

    @property
    def directional(self) -> bool:
        """Does some policy apply to one direction only? (computed once per host)"""
        cached: bool | None = self.__dict__.get("_directional")
        if cached is None:
            cached = any(p.direction != "both" for p in self.policies)
            object.__setattr__(self, "_directional", cached)
        return cached

    @property
    def tunnelled(self) -> bool:
        """Does some policy name a tunnel end point? (computed once per host)"""
        cached: bool | None = self.__dict__.get("_tunnelled")
        if cached is None:
            cached = any(p.tunnel is not None for p in self.policies)
            object.__setattr__(self, "_tunnelled", cached)
        return cached

    def view(self, direction: str) -> Host:
        """The host as its ``direction`` lookup sees it: the policies that apply to that
        direction, each mirrored (``both``). For a host without direction-specific policies
        both views are the host itself."""
        if not self.directional:
            return self
        kept = tuple(replace(p, direction="both") for p in self.policies if p.applies(direction))
        return replace(self, name=self.name, policies=kept)

    def scope_values(self) -> tuple[AddressValue, ...]:
        """The address sets whose traffic this host's analyses cover: a gateway's protected
        subnets (its own addresses are the tunnel end points, not the traffic), otherwise
        its own addresses; empty: every address."""
        return self.protects or self.address_values

    def policy(self, name: str) -> Policy:
        for p in self.policies:
            if p.name == name:
                return p
        raise KeyError(name)

    def address_texts(self) -> list[str]:
        return [address_text(f, a) for f, a in self.addresses]

    def to_yaml_dict(self) -> dict[str, Any]:
        """The host in the YAML format (explicit policies; the implicit default as a key)."""
        out: dict[str, Any] = {"host": self.name}
        texts = ([str(v) for v in self.address_values] if self.address_values
                 else self.address_texts())
        if texts:
            out["address"] = texts[0] if len(texts) == 1 else texts
        if self.protects:
            out["protects"] = [str(v) for v in self.protects]
        out["default-action"] = self.default_action or "none"
        out["policies"] = [p.to_yaml_dict() for p in self.policies if not p.implicit]
        return out


@dataclass(frozen=True)
class Scenario:
    """Several hosts and the protocol options of a scenario file."""

    hosts: Mapping[str, Host]
    protocol: Mapping[str, Any] = field(default_factory=dict)
    source: str = "<memory>"
    protocol_lines: Mapping[str, int] = field(default_factory=dict)
