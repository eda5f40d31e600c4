"""Hypothesis strategies for the ``policy.*`` tests: small hosts that mix IPv4, IPv6 and
family-neutral policies over a few addresses, ports and protocols, with equal priorities,
duplicates and with or without the default policy. Built through the real loader path."""

from __future__ import annotations

import ipaddress

from hypothesis import strategies as st

from qmcheck.model.formats.builder import RawField, build_policies
from qmcheck.model.values.policy import Host

BASE = {4: int(ipaddress.IPv4Address("10.0.0.0")), 6: int(ipaddress.IPv6Address("2001:db8::"))}
SIZE = 8
ACTIONS = ("PASS", "DISCARD", "ESP_AES128_HMAC_SHA1", "AH_SHA1")


def addr(family: int, offset: int) -> str:
    return str(ipaddress.ip_address(BASE[family] + offset))


@st.composite
def address_text(draw: st.DrawFn, family: int, allow_any: bool = True) -> str:
    kinds = ["single", "prefix", "range"] + (["any"] if allow_any else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "any":
        return "any"
    if kind == "single":
        return addr(family, draw(st.integers(1, SIZE - 1)))
    if kind == "prefix":
        host_bits = draw(st.integers(1, 2))
        start = draw(st.integers(0, (SIZE >> host_bits) - 1)) << host_bits
        return f"{addr(family, start)}/{(32 if family == 4 else 128) - host_bits}"
    lo = draw(st.integers(1, SIZE - 2))
    hi = draw(st.integers(lo + 1, SIZE - 1))
    return f"{addr(family, lo)}-{addr(family, hi)}"


@st.composite
def raw_policy(draw: st.DrawFn, index: int, families: tuple[int, ...]) -> dict[str, RawField]:
    line = 10 * index + 3
    family = draw(st.sampled_from(families))
    raw = {"name": RawField(f"p{index}", line)}
    raw["priority"] = RawField(str(draw(st.integers(1, 4)) * 10), line)
    neutral = draw(st.integers(0, 5)) == 0
    if neutral:
        raw["source"] = RawField("any", line)
        raw["destination"] = RawField("any", line)
    else:
        count = draw(st.integers(1, 2))
        raw["source"] = RawField([draw(address_text(family)) for _ in range(count)], line)
        raw["destination"] = RawField(draw(address_text(family, allow_any=False)), line)
    protocol = draw(st.sampled_from(["any", "tcp", "udp", "icmp"]))
    raw["protocol"] = RawField(protocol, line)
    if protocol in ("tcp", "udp"):
        for key in ("source-port", "destination-port"):
            choice = draw(st.sampled_from(["any", "any", "single", "range"]))
            if choice == "single":
                raw[key] = RawField(str(draw(st.integers(1, 3))), line)
            elif choice == "range":
                raw[key] = RawField("1-2", line)
    raw["action"] = RawField(draw(st.sampled_from(ACTIONS)), line)
    return raw


@st.composite
def policy_hosts(draw: st.DrawFn, max_policies: int = 6, families: tuple[int, ...] = (4, 6),
                 default: bool | None = None) -> Host:
    """A host of 1..max_policies policies; sometimes a policy repeats an earlier one's
    fields (with the same or another action), the commonest source of dead policies."""
    count = draw(st.integers(1, max_policies))
    raws: list[tuple[dict[str, RawField], int]] = []
    for i in range(count):
        if raws and draw(st.integers(0, 4)) == 0:
            old = dict(draw(st.sampled_from(raws))[0])
            line = 10 * i + 3
            old = {k: RawField(v.value, line) for k, v in old.items()}
            old["name"] = RawField(f"p{i}", line)
            old["action"] = RawField(draw(st.sampled_from(ACTIONS)), line)
            raws.append((old, line))
        else:
            raws.append((draw(raw_policy(i, families)), 10 * i + 2))
    with_default = draw(st.booleans()) if default is None else default
    action = draw(st.sampled_from(["PASS", "DISCARD"])) if with_default else None
    policies = build_policies(raws, source="<generated>", default_action=action)
    return Host("h", policies, source="<generated>", default_action=action)
