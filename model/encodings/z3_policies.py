"""z3 bit-vector encoding of packets and host policies: the base of every SMT check.

A symbolic packet is written in the host's own coordinates (local and remote address and port),
which is what mirrored policies compare; a witness is turned back into an outbound packet
(local = source). Each address family is analysed on its own (32- or 128-bit addresses).
"""

from __future__ import annotations

from dataclasses import dataclass

import z3

from qmcheck.model.values.addresses import BITS, AddressFilter, AddressValue, Family
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Policy
from qmcheck.model.values.protocols import PORT_PROTOCOLS, PortRange


@dataclass(frozen=True)
class SymPacket:
    """A symbolic packet of one family: addresses, ports and protocol as bit-vectors."""

    family: Family
    local: z3.BitVecRef
    remote: z3.BitVecRef
    lport: z3.BitVecRef
    rport: z3.BitVecRef
    protocol: z3.BitVecRef

    def well_formed(self) -> z3.BoolRef:
        """Ports are 0 for protocols without ports."""
        with_ports = z3.Or(*[self.protocol == p for p in sorted(PORT_PROTOCOLS)])
        return z3.Or(with_ports, z3.And(self.lport == 0, self.rport == 0))

    def variables(self) -> list[z3.BitVecRef]:
        return [self.local, self.remote, self.lport, self.rport, self.protocol]

    def concrete(self, model: z3.ModelRef) -> Packet:
        """The outbound packet (local = source) that a model assigns."""

        def value(v: z3.BitVecRef) -> int:
            return model.eval(v, model_completion=True).as_long()  # type: ignore[union-attr]

        return Packet(self.family, value(self.local), value(self.remote), value(self.protocol),
                      value(self.lport), value(self.rport), "out")


def fresh_packet(family: Family, tag: str = "") -> SymPacket:
    """New packet variables; ``tag`` keeps names apart when several packets are in one query."""
    bits = BITS[family]
    return SymPacket(
        family,
        z3.BitVec(f"local{tag}", bits),
        z3.BitVec(f"remote{tag}", bits),
        z3.BitVec(f"lport{tag}", 16),
        z3.BitVec(f"rport{tag}", 16),
        z3.BitVec(f"protocol{tag}", 8),
    )


def address_value_pred(value: AddressValue, var: z3.BitVecRef) -> z3.BoolRef:
    """``var`` lies in the value's interval (a prefix is encoded as a masked equality)."""
    bits = var.size()
    if value.is_any:
        return z3.BoolVal(True)
    if value.lo == value.hi:
        return var == z3.BitVecVal(value.lo, bits)
    if value.kind == "prefix" and value.prefix_len is not None:
        host_bits = bits - value.prefix_len
        return z3.Extract(bits - 1, host_bits, var) == z3.BitVecVal(value.lo >> host_bits,
                                                                    value.prefix_len)
    return z3.And(z3.ULE(z3.BitVecVal(value.lo, bits), var),
                  z3.ULE(var, z3.BitVecVal(value.hi, bits)))


def address_filter_pred(field: AddressFilter, var: z3.BitVecRef) -> z3.BoolRef:
    if field.is_any:
        return z3.BoolVal(True)
    return z3.Or(*[address_value_pred(v, var) for v in field.values])


def port_pred(ports: PortRange, var: z3.BitVecRef) -> z3.BoolRef:
    if ports.is_any:
        return z3.BoolVal(True)
    if ports.is_single:
        return var == ports.lo
    return z3.And(z3.ULE(z3.BitVecVal(ports.lo, 16), var), z3.ULE(var, z3.BitVecVal(ports.hi, 16)))


def policy_match(policy: Policy, packet: SymPacket) -> z3.BoolRef:
    """The policy matches the packet (the symbolic twin of ``Policy.matches``)."""
    if policy.family is not None and policy.family != packet.family:
        return z3.BoolVal(False)
    parts: list[z3.BoolRef] = []
    if policy.protocol is not None:
        parts.append(packet.protocol == policy.protocol)
    parts.append(port_pred(policy.source_port, packet.lport))
    parts.append(port_pred(policy.destination_port, packet.rport))
    if policy.family is not None:
        parts.append(address_filter_pred(policy.source, packet.local))
        parts.append(address_filter_pred(policy.destination, packet.remote))
    return z3.And(*parts)


def families_of(policies: list[Policy] | tuple[Policy, ...]) -> list[Family]:
    """The address families a set of policies concerns (a family-neutral policy counts for
    both only when no other policy names a family)."""
    named = sorted({p.family for p in policies if p.family is not None})
    return named or [4]  # type: ignore[return-value]
