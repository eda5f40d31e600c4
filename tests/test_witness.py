"""Natural witnesses (model/semantics/witness.py): a natural packet stays in the region of the
solver's witness, for one host and for two; and it looks like a real packet."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from qmcheck.model.formats.loader import load_scenario
from qmcheck.model.semantics.lookup import lookup
from qmcheck.model.semantics.negotiation import negotiate, profile_options
from qmcheck.model.semantics.witness import RegionIndex, is_host_address, natural_packet
from qmcheck.model.values.packet import Packet, make_packet
from qmcheck.model.values.policy import Host
from qmcheck.properties.checks.peers import concrete_verdict
from qmcheck.properties.checks.policy import analyse
from tests.strategies import ADDRESS_COUNT, BASE4, BASE6, hosts


@st.composite
def packets(draw: st.DrawFn, family: int) -> Packet:
    base = BASE4 if family == 4 else BASE6
    src, dst = (base + draw(st.integers(0, ADDRESS_COUNT)) for _ in range(2))
    proto = draw(st.sampled_from([0, 6, 17, 1]))
    ports = st.sampled_from([0, 1, 2, 3, 22, 40000]) if proto in (6, 17) else st.just(0)
    return Packet(family, src, dst, proto, draw(ports), draw(ports),  # type: ignore[arg-type]
                  draw(st.sampled_from(["out", "in"])))


def signature(host: Host, packet: Packet) -> list[bool]:
    return [p.matches(packet) for p in host.policies]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_one_host_natural_packet_keeps_every_match(data: st.DataObject) -> None:
    host = data.draw(hosts())
    family = host.policies[0].family or 4
    packet = data.draw(packets(family))
    focus = data.draw(st.lists(st.sampled_from(host.policies), max_size=2))
    natural = natural_packet(packet, host.policies, focus)
    assert signature(host, natural) == signature(host, packet)
    assert lookup(host, natural) is lookup(host, packet)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_two_hosts_natural_packet_negotiates_alike(data: st.DataObject) -> None:
    a = data.draw(hosts(family=4))
    b = data.draw(hosts(family=4))
    packet = data.draw(packets(4))
    packet = Packet(4, packet.src, packet.dst, packet.protocol, packet.sport, packet.dport,
                    "out")
    focus = data.draw(st.lists(st.sampled_from(a.policies), max_size=1))
    profile = data.draw(st.sampled_from(["hpux", "racoon", "strongswan", "libreswan"]))
    natural = natural_packet(packet, RegionIndex(a.policies, b.policies), focus)
    assert signature(a, natural) == signature(a, packet)
    assert signature(b, natural.as_seen_by_peer()) == signature(b, packet.as_seen_by_peer())
    options = profile_options(profile)
    before = concrete_verdict(a, b, packet, options)
    after = concrete_verdict(a, b, natural, options)
    assert after.failed == before.failed
    assert after.outcome.status == before.outcome.status
    assert after.outcome.responder_policy is before.outcome.responder_policy
    assert negotiate(a, b, natural, options).accepted == before.outcome.accepted


def host_of(text: str) -> Host:
    import tempfile
    from pathlib import Path

    from qmcheck.model.formats.loader import load_host_spec

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "h.yaml"
        path.write_text(text, encoding="utf-8")
        return load_host_spec(str(path))


def test_network_address_port_0_and_protocol_0_become_natural() -> None:
    host = host_of("address: 10.1.1.1\npolicies:\n"
                   "  - {name: ssh, source: 10.1.1.0/24, destination: 10.2.2.0/24, "
                   "protocol: tcp, destination-port: 22, action: [ESP_AES128_HMAC_SHA1]}\n")
    ssh = host.policies[0]
    raw = make_packet("10.1.1.0", "10.2.2.0", "tcp", 0, 22)
    natural = natural_packet(raw, host.policies, [ssh], src_addresses=host.addresses)
    assert str(natural) == "10.1.1.1:49152 -> 10.2.2.1:22 tcp out"
    assert lookup(host, natural) is ssh
    # an "any" policy: protocol 0 and port 0 become tcp to a service port from a client port
    anyp = host_of("policies:\n  - {name: all, source: any, destination: any, action: PASS}\n")
    zero = Packet(4, 1, 1, 0, 0, 0, "out")
    natural = natural_packet(zero, anyp.policies, anyp.policies[:1])
    assert natural.protocol == 6 and natural.sport >= 49152 and natural.dport == 443
    assert is_host_address(4, natural.src) and is_host_address(4, natural.dst)


def test_gap_witness_lies_in_the_gap_and_is_a_host_address() -> None:
    host = host_of("default-action: none\npolicies:\n"
                   "  - {name: web, source: 10.0.0.0/8, destination: any, protocol: tcp, "
                   "destination-port: 80, action: PASS}\n")
    findings = [f for f in analyse(host).findings if f.property == "policy.uncovered"]
    assert findings and findings[0].packet is not None
    gap = findings[0].packet
    assert lookup(host, gap) is None  # replayed: no policy matches it
    assert is_host_address(gap.family, gap.src) and is_host_address(gap.family, gap.dst)
    assert gap.protocol != 0


def test_builtin_scenario_witnesses_are_natural() -> None:
    scenario = load_scenario(None)
    for host in scenario.hosts.values():
        for f in analyse(host).findings:
            if f.packet is None:
                continue
            assert f.packet.protocol != 0 and f.packet.sport and f.packet.dport
            for value in (f.packet.src, f.packet.dst):
                assert is_host_address(4, value), ipaddress.ip_address(value)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 80)), min_size=1, max_size=120),
       st.data())
def test_separates_is_the_brute_force(spans: list[tuple[int, int]], data: st.DataObject
                                      ) -> None:
    """``_Spans.separates`` (scan or range-maximum tables) against every interval, at
    points next to the intervals' ends."""
    from qmcheck.model.semantics import witness

    intervals = [(lo, lo + width) for lo, width in spans]
    near = sorted({v + d for iv in intervals for v in iv for d in (-1, 0, 1) if v + d >= 0})
    a, b = data.draw(st.sampled_from(near)), data.draw(st.sampled_from(near))
    cut = witness._Spans(intervals)
    expected = any((lo <= a <= hi) != (lo <= b <= hi) for lo, hi in intervals)
    assert cut.separates(a, b) == expected
    original = witness.SCAN
    try:
        witness.SCAN = 0  # every stretch through the tables
        assert witness._Spans(intervals).separates(a, b) == expected
    finally:
        witness.SCAN = original


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 80)), min_size=1, max_size=120),
       st.integers(-2, 400))
def test_stabbing_tree_finds_every_span_holding_the_point(spans: list[tuple[int, int]],
                                                           x: int) -> None:
    """The centred interval tree (model/semantics/stabbing.py) against every interval: each
    span holding ``x`` exactly once, none other (a ``lo > x`` -> ``lo >= x`` or a missed
    ``center`` case fails it)."""
    from qmcheck.model.semantics.stabbing import _build, stab

    intervals = [(lo, lo + width, k) for k, (lo, width) in enumerate(spans)]
    assert sorted(stab(_build(intervals), x)) == [k for lo, hi, k in intervals
                                                   if lo <= x <= hi]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_same_protocol_region_is_the_scan(data: st.DataObject) -> None:
    """The indexed ``same_protocol_region`` (one host and two) answers as the scan of every
    policy naming either protocol, on protocol changes and on other changes."""
    a = data.draw(hosts(max_policies=8))
    family = a.policies[0].family or 4
    b = data.draw(hosts(family=family, max_policies=8))
    packet = data.draw(packets(family))
    proto = data.draw(st.sampled_from([0, 6, 17, 1, 50]))
    keep = proto in (6, 17) and packet.protocol in (6, 17)
    new = Packet(family, packet.src, packet.dst, proto,  # type: ignore[arg-type]
                 packet.sport if keep else 0, packet.dport if keep else 0, packet.direction)
    for index in (RegionIndex(a.policies), RegionIndex(a.policies, b.policies)):
        assert index.same_protocol_region(packet, new) == index.same_region_scan(packet, new)
