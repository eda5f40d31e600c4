"""Direction-specific policies (docs/SPEC.md 2): ``direction: out | in | both`` in the YAML
format, the concrete lookup, the per-direction ``policy.*`` analysis, ``policy.mirrored`` and
the peers encoding (whose agreement with brute force is in test_peers_differential)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qmcheck.model.formats.loader import load_text
from qmcheck.model.semantics.lookup import first_match, lookup
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.packet import make_packet
from qmcheck.model.values.policy import Host
from qmcheck.properties.checks.mirror import mirror_findings
from qmcheck.properties.checks.policy import POLICY_PROPERTIES, analyse
from qmcheck.properties.checks.policy_bruteforce import brute_force
from qmcheck.properties.cli.main import main
from tests.policy_strategies import policy_hosts
from tests.strategies import hosts, universe

HOST = """\
host: h
policies:
  - name: web-out
    direction: out
    source: 10.1.0.0/16
    destination: 10.2.0.0/16
    protocol: tcp
    destination-port: 443
    action: ESP_AES128_HMAC_SHA1
  - name: mgmt-in
    direction: in
    source: 10.1.0.5
    destination: 10.2.9.9
    protocol: tcp
    source-port: 22
    action: DISCARD
"""


def load(text: str) -> Host:
    host = load_text(text, "h.yaml")
    assert isinstance(host, Host)
    return host


def test_yaml_direction_and_lookup() -> None:
    host = load(HOST)
    web, mgmt = host.policy("web-out"), host.policy("mgmt-in")
    assert (web.direction, mgmt.direction) == ("out", "in")
    out = make_packet("10.1.0.5", "10.2.0.1", "tcp", 5000, 443, "out")
    assert lookup(host, out) is web
    # the reply (inbound) does not match the outbound-only policy: the default PASS applies
    reply = lookup(host, out.reversed())
    assert reply is not None and reply.implicit
    ssh_in = make_packet("10.2.9.9", "10.1.0.5", "tcp", 4000, 22, "in")
    assert lookup(host, ssh_in) is mgmt
    assert lookup(host, ssh_in.reversed()).implicit  # type: ignore[union-attr]
    assert host.to_yaml_dict()["policies"][0]["direction"] == "out"


def test_bad_direction_names_line_and_field() -> None:
    with pytest.raises(InputError) as e:
        load(HOST.replace("direction: in", "direction: inward"))
    assert (e.value.line, e.value.field) == (11, "direction")


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(policy_hosts(max_policies=5, families=(4,)), st.lists(
    st.sampled_from(["out", "in", "both"]), min_size=6, max_size=6))
def test_policy_checks_per_direction_agree_with_brute_force(host: Host, dirs: list[str]
                                                            ) -> None:
    """Each direction's view is analysed on its own: the findings are those brute force
    finds in each view, and every witness packet replays on the real host."""
    policies = tuple(p if p.implicit else replace(p, direction=d)  # type: ignore[arg-type]
                     for p, d in zip(host.policies, dirs, strict=False))
    host = replace(host, policies=policies)
    analysis = analyse(host)
    expected: dict[str, set[tuple[str, ...]]] = {p: set() for p in POLICY_PROPERTIES}
    for direction in ("out", "in"):
        truth = brute_force(host.view(direction))
        for prop in POLICY_PROPERTIES:
            if prop != "policy.uncovered":
                expected[prop] |= truth.subjects[prop]
    for prop in POLICY_PROPERTIES:
        if prop in ("policy.uncovered", "policy.determinism"):
            continue  # determinism: selector ties count inbound only
        found = {tuple(p.name for p in f.subject) for f in analysis.findings
                 if f.property == prop}
        assert found == expected[prop], (prop, found, expected[prop])
    for f in analysis.findings:
        if f.packet is None:
            continue
        assert f.message.startswith(("outbound", "inbound")) or not host.directional
        hit = lookup(host, f.packet)
        view_hit = first_match(host.view(f.packet.direction).ordered(), f.packet)
        assert (hit.name if hit else None) == (view_hit.name if view_hit else None)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(hosts(family=4, max_policies=4, directions=True))
def test_mirror_findings_agree_with_brute_force(host: Host) -> None:
    """Every (outbound, inbound) policy pair that brute force finds treating a packet and
    its reply differently is found, and every witness replays."""
    def key(p: object) -> str | None:
        return None if p is None else p.name  # type: ignore[attr-defined]

    truth = set()
    for packet in universe(4):
        if packet.direction != "out":
            continue
        o, i = lookup(host, packet), lookup(host, packet.reversed())
        if (o is not None and o.action.is_ipsec) != (i is not None and i.action.is_ipsec):
            truth.add((key(o), key(i)))
    findings = mirror_findings(host)
    assert all(f.verdict == "refuted" for f in findings)
    found = set()
    for f in findings:
        assert f.packet is not None
        o, i = lookup(host, f.packet), lookup(host, f.packet.reversed())
        assert (o is f.outbound) and (i is f.inbound)
        assert (o is not None and o.action.is_ipsec) != (i is not None and i.action.is_ipsec)
        found.add((key(o), key(i)))
    if not host.directional:
        assert found == set()
    else:
        assert truth <= found


def test_conflicts_reports_missing_mirror(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "h.yaml"
    path.write_text(HOST)
    assert main(["conflicts", str(path), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    mirrored = [r for r in report["results"] if r["property"] == "policy.mirrored"]
    refuted = [r for r in mirrored if r["verdict"] == "refuted"]
    assert refuted and refuted[0]["subject"][0] == "web-out"
    pkt = make_packet(**refuted[0]["witness"]["packet"])
    host = load(HOST)
    assert lookup(host, pkt) is host.policy("web-out")
    assert not lookup(host, pkt.reversed()).action.is_ipsec  # type: ignore[union-attr]


def test_peers_finds_a_one_way_responder(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """R protects only its outbound traffic toward I: I's protected packets arrive where R
    passes them (peers.symmetry), with a witness that the concrete lookups replay."""
    a = tmp_path / "a.yaml"
    b = tmp_path / "b.yaml"
    a.write_text("address: 10.1.0.1\npolicies:\n  - {name: all, source: 10.1.0.1, "
                 "destination: 10.2.0.1, action: ESP_AES128_HMAC_SHA1}\n")
    b.write_text("address: 10.2.0.1\npolicies:\n  - {name: out-only, direction: out, "
                 "source: 10.2.0.1, destination: 10.1.0.1, action: ESP_AES128_HMAC_SHA1}\n")
    assert main(["peers", str(a), str(b), "--format", "json"]) == 1
    results = json.loads(capsys.readouterr().out)["results"]
    bad = [r for r in results if r["verdict"] == "refuted"]
    props = {r["property"] for r in bad}
    assert "peers.symmetry" in props and "peers.negotiation" in props
    b_host = load_text(b.read_text(), "b.yaml")
    assert isinstance(b_host, Host)
    checked = 0
    for r in bad:
        if r["property"] == "peers.symmetry" and r.get("initiator") == "a":
            pkt = make_packet(**r["witness"]["packet"])
            arriving = lookup(b_host, pkt.as_seen_by_peer())
            assert arriving is not None and not arriving.action.is_ipsec
            checked += 1
    assert checked


def test_xfrm_import_round_trips_through_yaml() -> None:
    """A dump with a lone dir out, a lone dir in and a tunnel pair, written as YAML and read
    back, gives every packet of a small universe the same policy and action."""
    from itertools import product

    from qmcheck.model.formats.xfrm_dump import load_xfrm_text
    from qmcheck.model.formats.yaml_dump import dump_host

    dump = ("src 10.1.0.0/16 dst 10.2.0.0/16 \n\tdir out priority 3 ptype main \n"
            "\ttmpl src 198.51.100.1 dst 203.0.113.1\n\t\tproto esp reqid 1 mode tunnel\n"
            "src 10.2.0.0/16 dst 10.1.0.0/16 \n\tdir in priority 3 ptype main \n"
            "\ttmpl src 203.0.113.1 dst 198.51.100.1\n\t\tproto esp reqid 1 mode tunnel\n"
            "src 10.1.0.5/32 dst 0.0.0.0/0 proto tcp dport 22 \n\tdir out action block "
            "priority 1 ptype main \n"
            "src 0.0.0.0/0 dst 10.1.0.6/32 proto udp sport 53 \n\tdir in priority 2 ptype main"
            " \n\ttmpl src 0.0.0.0 dst 0.0.0.0\n\t\tproto esp reqid 2 mode transport\n")
    imported = load_xfrm_text(dump, "dump.txt")
    assert sorted(p.direction for p in imported.policies if not p.implicit) == [
        "both", "in", "out"]
    again = load_text(dump_host(imported), "again.yaml")
    assert isinstance(again, Host)
    addrs = ("10.1.0.5", "10.1.0.6", "10.2.0.1", "8.8.8.8")
    for src, dst, proto, direction in product(addrs, addrs, ("tcp", "udp"), ("out", "in")):
        for sport, dport in ((22, 53), (53, 22), (1000, 2000)):
            pkt = make_packet(src, dst, proto, sport, dport, direction)
            a, b = lookup(imported, pkt), lookup(again, pkt)
            assert (a.name, a.action, a.tunnel) == (b.name, b.action, b.tunnel)  # type: ignore[union-attr]
    # the lone dir in policy: inbound DNS replies to 10.1.0.6 from anywhere
    dns = make_packet("9.9.9.9", "10.1.0.6", "udp", 53, 4000, "in")
    assert lookup(imported, dns).action.is_ipsec  # type: ignore[union-attr]
    assert not lookup(imported, dns.reversed()).action.is_ipsec  # type: ignore[union-attr]
