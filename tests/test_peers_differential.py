"""The SMT encoding of the peers properties against the concrete semantics, on random host
pairs: the same verdicts (per property and policy) as brute force over a complete set of
representative packets, and every witness replays."""

from __future__ import annotations

import ipaddress

import z3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qmcheck.model.encodings.z3_negotiation import match, to_z3
from qmcheck.model.encodings.z3_policies import fresh_packet, policy_match
from qmcheck.model.semantics.negotiation import PROFILE_OPTIONS
from qmcheck.model.values.policy import Host
from qmcheck.properties.checks.peers import check_direction, concrete_verdict
from tests.peers_oracle import brute_force
from tests.strategies import BASE4, BASE6, hosts

PROFILES = sorted(PROFILE_OPTIONS)


def named(host: Host, name: str, addresses: tuple[tuple[int, int], ...] = ()) -> Host:
    return Host(name, host.policies, addresses, default_action=host.default_action)  # type: ignore[arg-type]


def compare(a: Host, b: Host, profile: str) -> None:
    options = PROFILE_OPTIONS[profile]
    report = check_direction(a, b, profile)
    for f in report.findings:
        assert f.verdict == "refuted", f"unconfirmed witness {f}"
        assert f.packet is not None
        replay = concrete_verdict(a, b, f.packet, options)
        assert f.prop in replay.failed
    smt = {(f.prop, f.side, f.policy) for f in report.findings}
    expected = brute_force(a, b, options)
    assert smt == expected, (profile, smt ^ expected, [p.describe() for p in a.ordered()],
                             [p.describe() for p in b.ordered()])


@settings(max_examples=70, deadline=None, suppress_health_check=list(HealthCheck))
@given(hosts(family=4, max_policies=4), hosts(family=4, max_policies=4),
       st.sampled_from(PROFILES))
def test_smt_agrees_with_brute_force_ipv4(a: Host, b: Host, profile: str) -> None:
    compare(named(a, "a"), named(b, "b"), profile)


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(hosts(family=6, max_policies=3), hosts(family=6, max_policies=3),
       st.sampled_from(PROFILES), st.integers(0, 7), st.integers(0, 7))
def test_smt_agrees_with_brute_force_ipv6_with_addresses(a: Host, b: Host, profile: str,
                                                         x: int, y: int) -> None:
    """Hosts with own addresses: only the traffic between those addresses counts."""
    compare(named(a, "a", ((6, BASE6 + x),)), named(b, "b", ((6, BASE6 + y),)), profile)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(hosts(family=4, max_policies=4, directions=True),
       hosts(family=4, max_policies=4, directions=True), st.sampled_from(PROFILES))
def test_smt_agrees_with_brute_force_direction_specific(a: Host, b: Host, profile: str) -> None:
    """Policies of one direction: I's outbound and R's inbound and reply lookups."""
    compare(named(a, "a"), named(b, "b"), profile)


@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(hosts(family=4, max_policies=3), hosts(family=4, max_policies=3),
       st.sampled_from(PROFILES), st.integers(0, 3), st.integers(0, 3))
def test_smt_agrees_with_brute_force_prefix_scope(a: Host, b: Host, profile: str, x: int,
                                                   y: int) -> None:
    """Hosts whose scope is a prefix (a site): every packet between the two prefixes."""
    from dataclasses import replace

    from qmcheck.model.values.addresses import parse_address_value
    from tests.strategies import text

    sa = (parse_address_value(f"{text(4, 2 * x)}/31"),)
    sb = (parse_address_value(f"{text(4, 2 * y)}/31"),)
    compare(replace(named(a, "a"), address_values=sa), replace(named(b, "b"), protects=sb),
            profile)


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(hosts(family=4, max_policies=5))
def test_fast_match_is_policy_match(h: Host) -> None:
    """The cached C-level match of smt_negotiation equals smt_encoding.policy_match."""
    p = fresh_packet(4)
    solver = z3.Solver()
    for policy in h.policies:
        solver.push()
        solver.add(to_z3(match(policy, p), p.local.ctx) != policy_match(policy, p))
        assert solver.check() == z3.unsat, policy.describe()
        solver.pop()


def test_base_addresses_are_unicast() -> None:
    assert not ipaddress.ip_address(BASE4).is_multicast
