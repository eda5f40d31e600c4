"""Host policies, hosts and scenarios (docs/SPEC.md 2 and 8)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qmcheck.model.values.addresses import AddressFilter, Family, address_text
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.protocols import ANY_PORT, PortRange, protocol_text
from qmcheck.model.values.transforms import PASS, Action

DEFAULT_POLICY_NAME = "default"
# The shipped default policy is searched after every configured one (legal priorities end at
# 2147483647).
DEFAULT_POLICY_PRIORITY = 2**31
PRIORITY_INCREMENT = 10
MAX_PRIORITY = 2**31 - 1


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

    @property
    def order_key(self) -> tuple[int, int]:
        """Search order: priority first, file order among equal priorities."""
        return (self.priority, self.index)

    def matches(self, packet: Packet) -> bool:
        """Does the policy match the packet (mirrored by direction, docs/SPEC.md 2)."""
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
        return (
            f"{self.name} (priority {self.priority if not self.implicit else 'last'}): "
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
        }


def default_policy(index: int, action: Action = PASS) -> Policy:
    """The guide's shipped default policy: everything, searched last."""
    from qmcheck.model.values.addresses import AddressValue

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

    def ordered(self) -> tuple[Policy, ...]:
        """Policies in search order (priority, then file order); computed once per host."""
        cached: tuple[Policy, ...] | None = self.__dict__.get("_ordered")
        if cached is None:
            cached = tuple(sorted(self.policies, key=lambda p: p.order_key))
            object.__setattr__(self, "_ordered", cached)
        return cached

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
        texts = self.address_texts()
        if texts:
            out["address"] = texts[0] if len(texts) == 1 else texts
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
