"""``req.<name>``: the requirements file (errors with file, line, field), and the verdicts
against enumeration over small universes, with every violation replayed."""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qmcheck.model.formats.loader import load_scenario
from qmcheck.model.formats.requirements_file import (
    Requirement,
    Traffic,
    check_hosts,
    load_requirements_text,
)
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Host, Policy, Scenario
from qmcheck.properties.checks.deploy.requirements import check_requirement, judge, replay
from qmcheck.properties.checks.policy_bruteforce import universe
from tests.policy_strategies import address_text, policy_hosts


def _mirrored(p: Policy) -> Policy:
    return dataclasses.replace(p, source=p.destination, destination=p.source,
                               source_port=p.destination_port,
                               destination_port=p.source_port)


def in_traffic(t: Traffic, x: Packet, reverse: bool) -> bool:
    src, dst, sp, dp = t.source, t.destination, t.source_port, t.destination_port
    if reverse:
        src, dst, sp, dp = dst, src, dp, sp
    ok_addr = all(vs is None or any(v.contains(x.family, a) for v in vs)
                  for vs, a in ((src, x.src), (dst, x.dst)))
    return (ok_addr and (t.protocol is None or x.protocol == t.protocol)
            and sp.contains(x.sport) and dp.contains(x.dport))


def brute_violations(req: Requirement, scenario: Scenario, profiles: list[str]) -> bool:
    """Does some packet of the traffic (either way, either sender) break the requirement?"""
    a, b = (scenario.hosts[n] for n in req.between)
    t = req.traffic
    for sender, receiver in ((a, b), (b, a)):
        marks = []
        for vs_s, vs_d in ((t.source, t.destination), (t.destination, t.source)):
            from qmcheck.model.values.addresses import AddressFilter, AddressValue

            def filt(vs: tuple | None, fam: int) -> AddressFilter:  # type: ignore[type-arg]
                return AddressFilter(vs if vs else (AddressValue.any(fam),))  # type: ignore[arg-type]

            fam = next((v.family for vs in (vs_s, vs_d) if vs for v in vs), None)
            for sp, dp in ((t.source_port, t.destination_port),
                           (t.destination_port, t.source_port)):
                marks.append(Policy("mark", 1, filt(vs_s, fam or 4), filt(vs_d, fam or 4),
                                    sender.policies[0].action, fam, t.protocol, sp, dp))
        both = Host("both", sender.policies + tuple(_mirrored(p) for p in receiver.policies)
                    + tuple(marks))
        for family in t.families():
            for x in universe(both, family):
                if not (in_traffic(t, x, False) or in_traffic(t, x, True)):
                    continue
                for profile in profiles:
                    if judge(req, sender, receiver, x, profile) is not None:
                        return True
    return False


@st.composite
def requirement_cases(draw: st.DrawFn) -> tuple[Requirement, Scenario, str]:
    ha = draw(policy_hosts(max_policies=4, families=(4,)))
    hb = draw(policy_hosts(max_policies=4, families=(4,)))
    scenario = Scenario({"A": dataclasses.replace(ha, name="A"),
                         "B": dataclasses.replace(hb, name="B")})
    lines = ["requirements:", "  - name: r", "    between: [A, B]", "    traffic:"]
    for key in ("source", "destination"):
        if draw(st.booleans()):
            lines.append(f"      {key}: {draw(address_text(4))}")
    protocol = draw(st.sampled_from([None, "tcp", "udp", "icmp"]))
    if protocol:
        lines.append(f"      protocol: {protocol}")
        if protocol != "icmp" and draw(st.booleans()):
            lines.append(f"      destination-port: {draw(st.integers(1, 3))}")
    if len(lines) == 4:
        lines[-1] = "    traffic: {}"
    mode = draw(st.sampled_from(["must", "must-not"]))
    treatment = draw(st.sampled_from(["protect", "pass", "discard"]))
    lines.append(f"    {mode}: {treatment}")
    if (mode, treatment) == ("must", "protect") and draw(st.booleans()):
        lines.append("    transforms: [ESP_AES128_HMAC_SHA1]")
    req = load_requirements_text("\n".join(lines) + "\n", "<req>")[0]
    profile = draw(st.sampled_from(["hpux", "racoon", "strongswan", "libreswan"]))
    return req, scenario, profile


@settings(max_examples=120, deadline=None)
@given(requirement_cases())
def test_verdicts_agree_with_enumeration(case: tuple[Requirement, Scenario, str]) -> None:
    req, scenario, profile = case
    check = check_requirement(req, scenario, [profile])
    assert check.unknown is None
    assert bool(check.violations) == brute_violations(req, scenario, [profile])
    for v in check.violations:
        replay(req, scenario, v)


def test_guide_scenario_findings() -> None:
    scenario = load_scenario(None)
    text = (Path(__file__).resolve().parents[1] / "examples" / "require"
            / "requirements.yaml").read_text()
    reqs = load_requirements_text(text, "requirements.yaml")
    checks = {r.name: check_requirement(r, scenario, ["hpux"]) for r in reqs}
    telnet = checks["telnet-encrypted"].violations
    assert [v.reason for v in telnet] == [
        "hostB -> hostA negotiates ESP_3DES_HMAC_SHA1 for 10.2.2.2:23 -> 10.1.1.1:40000 tcp "
        "(hpux), not in the allow-list"]
    assert checks["no-cleartext-db"].violations == []
    assert checks["no-cleartext-db"].packets == 2 * 65536  # both ways, one address pair
    dns = checks["dns-in-clear"].violations
    assert dns[0].reason.startswith("hostB requires IPsec for 10.1.1.1:40000 -> 10.2.2.2:53 udp")


BASE = """requirements:
  - name: ok
    between: [hostA, hostB]
    traffic: {source: 10.1.1.1, destination: 10.2.2.2, protocol: tcp, destination-port: 22}
    must: protect
"""


@pytest.mark.parametrize("old,new,line,field,words", [
    ("between: [hostA, hostB]", "between: [hostA, hostC]", 3, "between", "unknown host 'hostC'"),
    ("source: 10.1.1.1,", "source: 10.1.1.300,", 4, "source", ""),
    ("destination-port: 22", "destination-port: 70000", 4, "destination-port", ""),
    ("protocol: tcp", "protocol: icmp", 4, "destination-port", "no ports"),
    ("traffic:", "trafic:", 4, "trafic", "did you mean 'traffic'"),
    ("must: protect", "must: encrypt", 5, "must", "not one of"),
    ("must: protect", "must: protect\n    must-not: pass", 2, "must", "exactly one"),
    ("must: protect", "must-not: pass\n    transforms: [AH_SHA1]", 6, "transforms",
     "goes with 'must: protect'"),
    ("must: protect", "must: protect\n    transforms: [ESP_ROT13]", 6, "transforms", ""),
    ("between: [hostA, hostB]", "between: [hostA]", 3, "between", "two different hosts"),
    ("name: ok", "name: two words", 2, "name", "one word"),
])
def test_file_errors_name_line_and_field(old: str, new: str, line: int, field: str,
                                          words: str) -> None:
    text = BASE.replace(old, new)
    assert text != BASE
    with pytest.raises(InputError) as info:
        reqs = load_requirements_text(text, "req.yaml")
        check_hosts(reqs, ["hostA", "hostB"])
    e = info.value
    assert (e.source, e.line, e.field) == ("req.yaml", line, field), str(e)
    assert words in str(e)


def test_unsafe_yaml_is_not_executed() -> None:
    text = BASE.replace("name: ok", "name: !!python/object/apply:os.system [echo hi]")
    with pytest.raises(InputError) as info:
        load_requirements_text(text, "req.yaml")
    assert info.value.line == 2


def test_duplicate_names_and_empty_files() -> None:
    twice = BASE + BASE.split("\n", 1)[1]
    with pytest.raises(InputError, match="defined twice"):
        load_requirements_text(twice, "r.yaml")
    for text in ("requirements: []\n", "other: 1\n", "requirements:\n  - 5\n"):
        with pytest.raises(InputError):
            load_requirements_text(text, "r.yaml")


def test_ipv6_traffic_and_family_mismatch() -> None:
    v6 = BASE.replace("10.1.1.1", "2001:db8::1").replace("10.2.2.2", "2001:db8::2")
    assert load_requirements_text(v6, "r.yaml")[0].traffic.families() == [6]
    mixed = BASE.replace("10.2.2.2", "2001:db8::2")
    with pytest.raises(InputError, match="different address families"):
        load_requirements_text(mixed, "r.yaml")
    assert ipaddress.ip_address("2001:db8::1")


@settings(max_examples=60, deadline=None)
@given(requirement_cases())
def test_engines_agree(case: tuple[Requirement, Scenario, str]) -> None:
    """Cells (exact enumeration) and z3 give the same verdict; z3's witnesses replay."""
    from qmcheck.properties.checks.deploy.requirements_smt import check_requirement_smt

    req, scenario, profile = case
    cells_check = check_requirement(req, scenario, [profile])
    smt = check_requirement_smt(req, scenario, [profile])
    assert smt.unknown is None
    assert bool(smt.violations) == bool(cells_check.violations)
    for v in smt.violations:
        replay(req, scenario, v)
