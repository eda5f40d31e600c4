"""Which host pairs of a network can exchange protected traffic (``qmcheck check`` on N hosts).

A pair (A, B) is checked when some IPsec policy of one side can apply to traffic between
their scopes (docs/SPEC.md 8): an outbound IPsec policy of A whose source meets A's scope and
whose destination meets B's scope (or which tunnels to B's own address), or an inbound IPsec
policy of B for that traffic; and the same from B to A. Otherwise every ``peers.*`` property
holds for the pair without a query (no region of either side is an IPsec one, so there is no
bad packet: no negotiation, nothing to agree on, nothing protected by one side only), and
the pair is skipped and counted. The test is on the policies' address sets, exact per
family, so it is sound: it never skips a pair that a region could refute. One decision on
top (docs/SPEC.md 8 leaves it open): a host whose scope lies inside the subnets a gateway
protects is behind that gateway; it reaches the gateway's protected hosts directly and the
gateway in the clear, so that pair is skipped too.
"""

from __future__ import annotations

from dataclasses import dataclass

from qmcheck.model.semantics.lookup import tunnels_elsewhere, tunnels_to
from qmcheck.model.values.addresses import AddressFilter, AddressValue, max_address
from qmcheck.model.values.intervals import IntervalSet
from qmcheck.model.values.policy import Host, Policy


@dataclass(frozen=True)
class PairPlan:
    """The host pairs to check and those skipped, in scenario order."""

    checked: tuple[tuple[str, str], ...]
    skipped: tuple[tuple[str, str], ...]

    @property
    def total(self) -> int:
        return len(self.checked) + len(self.skipped)

    def to_json(self) -> dict[str, int]:
        return {"total": self.total, "checked": len(self.checked),
                "skipped": len(self.skipped)}

    def text(self) -> str:
        return (f"host pairs: {len(self.checked)} of {self.total} checked; "
                f"{len(self.skipped)} skipped (neither host protects any traffic toward the "
                "other: every peers.* property holds for them)")


def _scope(host: Host, family: int) -> IntervalSet:
    values = host.scope_values()
    if not values:
        return IntervalSet.span(0, max_address(family))
    return IntervalSet.of((v.lo, v.hi) for v in values if v.family == family)


def _field(f: AddressFilter, policy: Policy, family: int) -> IntervalSet:
    if policy.family is None:
        return IntervalSet.span(0, max_address(family))
    if policy.family != family:
        return IntervalSet()
    return f.intervals()


def _protects_toward(host: Host, peer: Host, direction: str,
                     others: tuple[AddressValue, ...]) -> bool:
    """Some IPsec policy of ``host`` for ``direction`` applies to traffic between ``host``'s
    scope (local side) and ``peer``'s scope (remote side), or tunnels to ``peer``."""
    for policy in host.applicable(direction):
        if not policy.action.is_ipsec:
            continue
        if direction == "out" and tunnels_to(policy, peer):
            return True
        if tunnels_elsewhere(policy, peer, others):
            continue  # its traffic goes to (or comes from) another gateway
        for family in (4, 6):
            local = _field(policy.source, policy, family)
            remote = _field(policy.destination, policy, family)
            if (local.intersects(_scope(host, family))
                    and remote.intersects(_scope(peer, family))):
                return True
    return False


def behind(host: Host, gateway: Host) -> bool:
    """Is ``host`` inside the subnets ``gateway`` protects? It reaches the gateway's other
    protected hosts directly, and the gateway itself in the clear."""
    inner = host.scope_values()
    return bool(inner and gateway.protects) and all(
        any(g.family == v.family and g.lo <= v.lo and v.hi <= g.hi for g in gateway.protects)
        for v in inner)


def can_exchange(a: Host, b: Host, others: tuple[AddressValue, ...] = ()) -> bool:
    """Can some packet between ``a`` and ``b`` meet an IPsec policy of either side (one
    that does not tunnel to another host of the network, whose addresses are ``others``)?
    A host behind a gateway does not exchange protected traffic with that gateway."""
    if behind(a, b) or behind(b, a):
        return False
    return (_protects_toward(a, b, "out", others) or _protects_toward(b, a, "in", others)
            or _protects_toward(b, a, "out", others) or _protects_toward(a, b, "in", others))


def plan_pairs(hosts: dict[str, Host]) -> PairPlan:
    """Every unordered pair of hosts, checked or skipped (see the module doc)."""
    names = list(hosts)
    checked: list[tuple[str, str]] = []
    skipped: list[tuple[str, str]] = []
    for x, a in enumerate(names):
        for b in names[x + 1:]:
            others = tuple(v for name, h in hosts.items() if name not in (a, b)
                           for v in h.address_values)
            (checked if can_exchange(hosts[a], hosts[b], others) else skipped).append((a, b))
    return PairPlan(tuple(checked), tuple(skipped))
