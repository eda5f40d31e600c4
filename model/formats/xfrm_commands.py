"""Translate a host's policies into Linux XFRM policies (``ip xfrm policy add`` commands).

A host policy is mirrored (docs/SPEC.md 2), an XFRM policy is not: each host policy becomes a ``dir
out`` policy with its own selectors and a ``dir in`` policy with source and destination
(addresses and ports) swapped; a policy of one direction becomes only that one. PASS becomes
``action allow``, DISCARD ``action block``, an IPsec action ``action allow`` with a template of
its first transform's protocol (``tmpl proto esp|ah mode transport level required``; the
algorithms live in SAs, not in the policy); a tunnel policy's template is ``mode tunnel`` with
the end points (``dir out``: from the host's own address of the tunnel's family to the remote
gateway; ``dir in``: the other way round). Kernel selectors hold one prefix and one port
(iproute2 sets the port mask to all ones), so a field with several values, an address range or a
small port range becomes several XFRM policies of the same priority; a policy that matches both
families (``any`` to ``any``) becomes an IPv4 and an IPv6 one. The kernel refuses a second
policy with the same selector and direction (EEXIST) whatever its priority: of such a group only
the first in search order is emitted, which changes no lookup. File order is kept.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass

from qmcheck.model.values.addresses import AddressFilter, AddressValue, Family, address_text
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.policy import Host, Policy
from qmcheck.model.values.protocols import PortRange

#: Port ranges up to this many ports are expanded into single-port policies.
MAX_PORT_EXPANSION = 64
ANY_PREFIX: dict[int, str] = {4: "0.0.0.0/0", 6: "::/0"}


@dataclass(frozen=True, slots=True, order=True)
class XfrmSelector:
    """The selector of one kernel policy (ports None: any)."""

    direction: str
    src: str
    dst: str
    protocol: int | None
    sport: int | None
    dport: int | None


def prefixes(value: AddressValue, family: Family) -> list[str]:
    """The prefixes that together cover one address value exactly."""
    if value.is_any:
        return [ANY_PREFIX[family]]
    if value.kind == "prefix":
        return [f"{ipaddress.ip_address(value.lo)}/{value.prefix_len}" if family == 4
                else f"{ipaddress.IPv6Address(value.lo)}/{value.prefix_len}"]
    make = ipaddress.IPv4Address if family == 4 else ipaddress.IPv6Address
    return [str(n) for n in ipaddress.summarize_address_range(make(value.lo), make(value.hi))]


def filter_prefixes(field: AddressFilter, family: Family) -> list[str]:
    out: list[str] = []
    for value in field.values:
        for p in prefixes(value, family):
            if p not in out:
                out.append(p)
    return out


def ports(rng: PortRange, policy: Policy, field: str) -> list[int | None]:
    if rng.is_any:
        return [None]
    if rng.hi - rng.lo + 1 > MAX_PORT_EXPANSION:
        raise InputError(
            f"policy '{policy.name}': port range {rng} has more than {MAX_PORT_EXPANSION} "
            "ports; an XFRM selector holds one port (iproute2 cannot set a port mask)",
            line=policy.line, field=field)
    return list(range(rng.lo, rng.hi + 1))


def selectors(policy: Policy) -> Iterator[XfrmSelector]:
    """The kernel selectors of one host policy, ``dir out`` ones first."""
    families: list[Family] = [policy.family] if policy.family is not None else [4, 6]
    for direction in [d for d in ("out", "in") if policy.applies(d)]:
        for family in families:
            srcs = filter_prefixes(policy.source, family)
            dsts = filter_prefixes(policy.destination, family)
            sports = ports(policy.source_port, policy, "source-port")
            dports = ports(policy.destination_port, policy, "destination-port")
            for s in srcs:
                for d in dsts:
                    for sp in sports:
                        for dp in dports:
                            if direction == "out":
                                yield XfrmSelector("out", s, d, policy.protocol, sp, dp)
                            else:
                                yield XfrmSelector("in", d, s, policy.protocol, dp, sp)


def action_words(policy: Policy, direction: str = "out", host: Host | None = None) -> str:
    action = policy.action
    if action.verdict == "PASS":
        return "action allow"
    if action.verdict == "DISCARD":
        return "action block"
    first = action.transforms[0]
    proto = "ah" if first.kind in ("AH", "AH+ESP") else "esp"
    if policy.tunnel is None:
        return f"action allow tmpl proto {proto} mode transport level required"
    family, remote = policy.tunnel
    local = next((v.lo for v in (host.address_values if host else ())
                  if v.family == family and v.kind == "single"), None)
    if local is None:
        raise InputError(f"policy '{policy.name}' tunnels to {address_text(family, remote)}, "
                         f"but the host has no IPv{family} address of its own for the local "
                         "end point", line=policy.line, field="tunnel")
    ends = (local, remote) if direction == "out" else (remote, local)
    return (f"action allow tmpl src {address_text(family, ends[0])} dst "
            f"{address_text(family, ends[1])} proto {proto} mode tunnel level required")


def command(selector: XfrmSelector, priority: int, action: str) -> str:
    """One ``xfrm policy add`` line (for ``ip -batch``; prefix ``ip `` for a shell)."""
    words = [f"xfrm policy add src {selector.src} dst {selector.dst}"]
    if selector.protocol is not None:
        words.append(f"proto {selector.protocol}")
        if selector.sport is not None:
            words.append(f"sport {selector.sport}")
        if selector.dport is not None:
            words.append(f"dport {selector.dport}")
    words.append(f"dir {selector.direction} priority {priority} {action}")
    return " ".join(words)


def to_xfrm_commands(host: Host) -> list[str]:
    """The ``xfrm policy add`` lines for a host, in file order (the implicit default PASS
    policy needs none: the kernel passes what no policy matches; a default DISCARD becomes
    block policies for everything at the default policy's priority)."""
    first_in_search: dict[XfrmSelector, str] = {}
    for policy in host.ordered():
        if policy.implicit:
            continue
        for sel in selectors(policy):
            first_in_search.setdefault(sel, policy.name)
    lines: list[str] = []
    emitted: set[XfrmSelector] = set()
    for policy in host.policies:
        if policy.implicit:
            if policy.action.verdict == "DISCARD":
                for direction in ("out", "in"):
                    for family in (4, 6):
                        any_ = ANY_PREFIX[family]
                        sel = XfrmSelector(direction, any_, any_, None, None, None)
                        if sel not in emitted:
                            lines.append(command(sel, policy.priority, "action block"))
                            emitted.add(sel)
            continue
        for sel in selectors(policy):
            if first_in_search[sel] == policy.name and sel not in emitted:
                lines.append(command(sel, policy.priority,
                                     action_words(policy, sel.direction, host)))
                emitted.add(sel)
    return lines
