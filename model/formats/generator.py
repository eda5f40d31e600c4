"""Seeded generator of large, realistic host policy sets (benchmarks and scale tests).

A generated host is a gateway-like host with local subnets and many remote networks. Policies
mix host-to-host services, host-to-subnet and subnet-to-subnet rules, address ranges, port
ranges, several protocols, PASS, DISCARD and IPsec actions, a few broad rules that overlap
much of the set, exceptions placed before broader rules, duplicates, equal priorities and a
share of IPv6. The same ``(count, seed)`` always gives the same policies.
"""

from __future__ import annotations

import ipaddress
import random

from qmcheck.model.values.addresses import AddressFilter, AddressValue, Family
from qmcheck.model.values.policy import PRIORITY_INCREMENT, Host, Policy, default_policy
from qmcheck.model.values.protocols import ANY_PORT, PortRange
from qmcheck.model.values.transforms import DISCARD, PASS, Action, parse_action

BASE4 = int(ipaddress.IPv4Address("10.0.0.0"))
BASE6 = int(ipaddress.IPv6Address("2001:db8::"))
ACTIONS: tuple[Action, ...] = (
    PASS, DISCARD, parse_action("ESP_AES128_HMAC_SHA1"),
    parse_action(["ESP_AES256_HMAC_SHA2_256", "ESP_AES128_HMAC_SHA1"]), parse_action("AH_SHA1"),
)
SERVICES: tuple[tuple[int, int, int], ...] = (
    (6, 22, 22), (6, 23, 23), (6, 25, 25), (6, 80, 80), (6, 443, 443), (6, 8000, 8099),
    (6, 1024, 65535), (17, 53, 53), (17, 123, 123), (17, 161, 162), (17, 500, 500),
    (6, 3306, 3306), (6, 5432, 5432), (17, 5000, 5999),
)
OTHER_PROTOCOLS = (1, 50, 51, 47)


def _value(family: Family, lo: int, length: int) -> AddressValue:
    bits = 32 if family == 4 else 128
    if length == bits:
        return AddressValue(family, "single", lo, lo, bits)
    size = 1 << (bits - length)
    lo -= lo % size
    return AddressValue(family, "prefix", lo, lo + size - 1, length)


class _Generator:
    def __init__(self, count: int, seed: int, ipv6_share: float, broad_share: float) -> None:
        self.rng = random.Random(seed)
        self.broad_share = broad_share
        self.count = count
        self.ipv6_share = ipv6_share
        self.remote_nets = max(4, count // 200)  # /16 networks, about 200 policies each
        self.local_nets = 16  # local /24 subnets

    # addresses -------------------------------------------------------------------------
    def local(self, family: Family) -> AddressValue:
        rng = self.rng
        base = BASE4 if family == 4 else BASE6
        subnet = base + (rng.randrange(self.local_nets) << 8)
        if family == 6:
            subnet = base + (rng.randrange(self.local_nets) << 64)
        kind = rng.random()
        if kind < 0.55:
            offset = rng.randrange(1, 32)
            return _value(family, subnet + offset, 32 if family == 4 else 128)
        if kind < 0.85:
            return _value(family, subnet, 24 if family == 4 else 64)
        lo = subnet + rng.randrange(1, 100)
        return AddressValue(family, "range", lo, lo + rng.randrange(1, 60))

    def remote(self, family: Family) -> AddressValue:
        rng = self.rng
        net = rng.randrange(self.remote_nets)
        if family == 4:
            base = BASE4 + ((net + 256) << 16)
            kind = rng.random()
            if kind < 0.45:
                return _value(4, base + (rng.randrange(64) << 8) + rng.randrange(1, 32), 32)
            if kind < 0.8:
                return _value(4, base + (rng.randrange(64) << 8), 24)
            if kind < 0.92:
                return _value(4, base, 16)
            lo = base + (rng.randrange(64) << 8) + rng.randrange(1, 100)
            return AddressValue(4, "range", lo, lo + rng.randrange(1, 120))
        base = BASE6 + ((net + 256) << 80)
        if rng.random() < 0.5:
            return _value(6, base + (rng.randrange(64) << 64) + rng.randrange(1, 32), 128)
        return _value(6, base + (rng.randrange(64) << 64), 64)

    # one policy ------------------------------------------------------------------------
    def service(self) -> tuple[int | None, PortRange, PortRange]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.7:
            proto, lo, hi = rng.choice(SERVICES)
            return proto, ANY_PORT, PortRange(lo, hi)
        if roll < 0.8:
            proto, lo, hi = rng.choice(SERVICES)
            return proto, PortRange(lo, hi), ANY_PORT
        if roll < 0.88:
            return rng.choice(OTHER_PROTOCOLS), ANY_PORT, ANY_PORT
        return None, ANY_PORT, ANY_PORT

    def policy(self, name: str) -> Policy:
        rng = self.rng
        family: Family = 6 if rng.random() < self.ipv6_share else 4
        proto, sport, dport = self.service()
        src = [self.local(family)]
        dst = [self.remote(family)]
        if rng.random() < 0.05:
            dst.append(self.remote(family))
        return self.make(name, family, src, dst, proto, sport, dport, rng.choice(ACTIONS))

    def broad(self, name: str) -> Policy:
        """A rule over much of the address space: any or a whole local /20 toward any."""
        rng = self.rng
        proto, lo, hi = rng.choice([s for s in SERVICES if s[1] == s[2]])
        any4 = AddressValue.any(4)
        src = [any4 if rng.random() < 0.5 else _value(4, BASE4, 20)]
        return self.make(name, 4, src, [any4], proto, ANY_PORT, PortRange(lo, hi),
                         rng.choice(ACTIONS))

    def narrowed(self, name: str, policy: Policy) -> Policy:
        """An exception inside ``policy``: narrower addresses, another action."""
        fam: Family = policy.family or 4
        first = policy.source.values[0]
        src = [self.local(fam) if first.is_any else _value(fam, first.hi, 32 if fam == 4
                                                               else 128)]
        dst = [self.remote(fam) if policy.destination.is_any else policy.destination.values[0]]
        action = self.rng.choice([a for a in ACTIONS if a != policy.action])
        return self.make(name, fam, src, dst, policy.protocol, policy.source_port,
                         policy.destination_port, action)

    @staticmethod
    def make(name: str, family: Family, src: list[AddressValue], dst: list[AddressValue],
             protocol: int | None, sport: PortRange, dport: PortRange, action: Action
             ) -> Policy:
        if all(v.is_any for v in src + dst):
            family = None  # type: ignore[assignment]
        return Policy(name=name, priority=0, source=AddressFilter(tuple(src)),
                      destination=AddressFilter(tuple(dst)), action=action, family=family,
                      protocol=protocol, source_port=sport, destination_port=dport)

    def policies(self) -> list[Policy]:
        rng = self.rng
        out: list[Policy] = []
        while len(out) < self.count:
            name = f"p{len(out) + 1}"
            roll = rng.random()
            if roll < self.broad_share + 2 / self.count:
                out.append(self.broad(name))
            elif roll < 0.03 and out:
                exception_for = self.policy("_")
                out.append(self.narrowed(name, exception_for))
                if len(out) < self.count:
                    out.append(self.make(f"p{len(out) + 1}", exception_for.family or 4,
                                         list(exception_for.source.values),
                                         list(exception_for.destination.values),
                                         exception_for.protocol, exception_for.source_port,
                                         exception_for.destination_port,
                                         exception_for.action))
            elif roll < 0.05 and out:
                old = rng.choice(out)
                action = old.action if rng.random() < 0.5 else rng.choice(ACTIONS)
                out.append(self.make(name, old.family or 4, list(old.source.values),
                                     list(old.destination.values), old.protocol,
                                     old.source_port, old.destination_port, action))
            else:
                out.append(self.policy(name))
        return out


def generate_host(count: int, seed: int = 0, *, ipv6_share: float = 0.05,
                  default_action: str | None = "PASS", equal_share: float = 0.02,
                  broad_share: float = 0.00005) -> Host:
    """A host with ``count`` generated policies (plus the implicit default unless
    ``default_action`` is None). ``equal_share`` of the policies repeat the previous priority;
    about ``broad_share`` of them (plus two) are broad rules that overlap much of the set."""
    gen = _Generator(count, seed, ipv6_share, broad_share)
    raw = gen.policies()
    policies: list[Policy] = []
    priority = 0
    for index, p in enumerate(raw):
        if not (index and gen.rng.random() < equal_share):
            priority += PRIORITY_INCREMENT
        policies.append(Policy(p.name, priority, p.source, p.destination, p.action, p.family,
                               p.protocol, p.source_port, p.destination_port, index=index,
                               line=None))
    if default_action is not None:
        policies.append(default_policy(len(policies), PASS if default_action == "PASS"
                                       else DISCARD))
    return Host(f"generated-{count}-{seed}", tuple(policies), default_action=default_action)


DENSE_POOL_BITS = 24  # the dense profile draws from 10.0.0.0/8
DENSE_ACTIONS: tuple[Action, ...] = (PASS, DISCARD, parse_action("ESP_AES128_HMAC_SHA1"),
                                     parse_action("AH_SHA1"))


def _dense_address(rng: random.Random, pool_bits: int) -> AddressValue:
    """A prefix of length /12 to /32 (about 90%) or a range (about 10%) at a random address
    of the first ``2 ** pool_bits`` addresses of 10.0.0.0/8."""
    base = BASE4 + rng.randrange(1 << pool_bits)
    if rng.random() < 0.1:
        return AddressValue(4, "range", base, min(base + rng.randrange(1, 1 << 12),
                                                   BASE4 + (1 << 24) - 1))
    return _value(4, base, rng.randint(12, 32))


def _dense_ports(rng: random.Random) -> PortRange:
    roll = rng.random()
    if roll < 0.5:
        return ANY_PORT
    lo = rng.randrange(1, 65536)
    if roll < 0.75:
        return PortRange(lo, lo)
    return PortRange(lo, min(65535, lo + rng.randrange(1, 2000)))


def generate_dense_host(count: int, seed: int = 0, *, default_action: str | None = "PASS",
                        equal_share: float = 0.02, pool_bits: int = DENSE_POOL_BITS) -> Host:
    """The denser profile: IPv4 policies with independent random source and destination
    (prefix lengths /12 to /32 or ranges, about 10%, all inside 10.0.0.0/8), TCP, UDP, ICMP
    or any protocol, single ports and port ranges, four actions. Much more overlap than
    ``generate_host`` (``pool_bits`` < 24: a smaller pool, denser still); the same
    ``(count, seed)`` always gives the same policies."""
    rng = random.Random(seed)
    policies: list[Policy] = []
    priority = 0
    for index in range(count):
        if not (index and rng.random() < equal_share):
            priority += PRIORITY_INCREMENT
        protocol = rng.choice((6, 6, 17, 1, None))
        sport = dport = ANY_PORT
        if protocol in (6, 17):
            sport, dport = _dense_ports(rng), _dense_ports(rng)
        src = AddressFilter((_dense_address(rng, pool_bits),))
        dst = AddressFilter((_dense_address(rng, pool_bits),))
        policies.append(Policy(f"d{index + 1}", priority, src, dst, rng.choice(DENSE_ACTIONS),
                               4, protocol, sport, dport, index=index))
    if default_action is not None:
        policies.append(default_policy(len(policies), PASS if default_action == "PASS"
                                       else DISCARD))
    return Host(f"dense-{count}-{seed}", tuple(policies), default_action=default_action)


def host_yaml(host: Host) -> str:
    """The host as a YAML policy file (one flow-style mapping per policy, one per line)."""
    import json

    lines = [f"host: {host.name}", f"default-action: {host.default_action or 'none'}",
             "policies:"]
    for p in host.policies:
        if p.implicit:
            continue
        lines.append("  - " + json.dumps(p.to_yaml_dict(), separators=(", ", ": ")))
    return "\n".join(lines) + "\n"
