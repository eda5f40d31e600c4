"""Gateways and tunnel mode (docs/SPEC.md 2 and 8): ``address`` lists with prefixes, ``protects``,
``tunnel``; the scope of two-host reports; ``peers`` on a site-to-site pair; ``peers.tunnel``
against brute force."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qmcheck.model.formats.loader import load_host, load_text
from qmcheck.model.semantics.lookup import lookup
from qmcheck.model.semantics.negotiation import PROFILE_OPTIONS
from qmcheck.model.values.addresses import parse_address_value
from qmcheck.model.values.errors import InputError
from qmcheck.model.values.packet import make_packet
from qmcheck.model.values.policy import Host
from qmcheck.properties.checks.peers import check_direction, concrete_verdict
from qmcheck.properties.cli.main import main
from tests.peers_oracle import brute_force
from tests.strategies import BASE4, hosts, text

SITES = Path(__file__).parent / "fixtures" / "sites"


def test_address_list_with_prefixes_and_protects() -> None:
    gw = load_host(str(SITES / "gw-a.yaml"))
    assert [str(v) for v in gw.address_values] == ["198.51.100.1"]
    assert [str(v) for v in gw.protects] == ["10.1.0.0/16"]
    assert gw.policy("lan").tunnel == (4, 0xCB007101)
    site = load_text("host: s\naddress: [10.10.0.0/16, 10.20.0.1]\npolicies: []\n", "s.yaml")
    assert isinstance(site, Host)
    assert [str(v) for v in site.address_values] == ["10.10.0.0/16", "10.20.0.1"]


@pytest.mark.parametrize(("text_", "line", "field"), [
    ("address: [10.1.0.0/33]\npolicies: []\n", 1, "address"),
    ("address:\n  - 10.1.0.1\n  - any\npolicies: []\n", 3, "address"),
    ("protects: 10.1.0.300/16\npolicies: []\n", 1, "protects"),
    ("policies:\n  - {name: a, action: PASS,\n     tunnel: 10.0.0.1}\n", 3, "tunnel"),
    ("policies:\n  - {name: a, action: ESP_AES128_HMAC_SHA1,\n     tunnel: nowhere}\n", 3,
     "tunnel"),
])
def test_bad_gateway_fields_name_line_and_field(text_: str, line: int, field: str) -> None:
    with pytest.raises(InputError) as e:
        load_text(text_, "g.yaml")
    assert (e.value.line, e.value.field) == (line, field)


def test_site_to_site_finds_the_transform_mismatch_inside_the_subnets(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Scope: the protected subnets, not only the gateways' own addresses; the mismatch of
    lan-web (AES256) against gw-b's lan (AES128) is found with a natural witness."""
    a, b = str(SITES / "gw-a.yaml"), str(SITES / "gw-b.yaml")
    assert main(["peers", a, b, "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["scope"] == {
        "gw-a": {"addresses": ["10.1.0.0/16"], "reason": "protected subnets"},
        "gw-b": {"addresses": ["10.2.0.0/16"], "reason": "protected subnets"}}
    bad = [r for r in report["results"] if r["verdict"] == "refuted"]
    neg = [r for r in bad if r["property"] == "peers.negotiation"]
    assert neg and neg[0]["subject"] == ["lan-web", "lan"]
    pkt = make_packet(**neg[0]["witness"]["packet"])
    assert str(pkt) == "10.1.0.1:49152 -> 10.2.5.1:443 tcp out"
    ga, gb = load_host(a), load_host(b)
    verdict = concrete_verdict(ga, gb, pkt, PROFILE_OPTIONS["hpux"])
    assert verdict.outcome.status == "NO_PROPOSAL_CHOSEN"
    assert main(["peers", a, b]) == 1
    lines = capsys.readouterr().out.splitlines()
    scope = [n for n, line in enumerate(lines) if line.startswith("scope:")]
    assert [lines[n] for n in scope] == [
        "scope: gw-a 10.1.0.0/16 (protected subnets); gw-b 10.2.0.0/16 (protected subnets)"]
    first_result = min(n for n, line in enumerate(lines) if line.startswith(("ERROR", "HOLDS")))
    assert scope[0] < first_result  # the scope is said before the results


def test_host_without_address_is_analysed_for_everything(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = tmp_path / "a.yaml"
    a.write_text("policies:\n  - {name: all, source: 10.1.0.0/16, destination: 10.2.0.0/16, "
                 "action: ESP_AES128_HMAC_SHA1}\n")
    assert main(["peers", str(a), str(SITES / "gw-b.yaml"), "--format", "json"]) == 1
    scope = json.loads(capsys.readouterr().out)["scope"]
    assert scope["a"] == {"addresses": ["0.0.0.0/0", "::/0"], "reason": "everything"}


def test_tunnel_end_point_mismatch_is_a_finding(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    wrong = tmp_path / "gw-a.yaml"
    wrong.write_text((SITES / "gw-a.yaml").read_text().replace("tunnel: 203.0.113.1",
                                                              "tunnel: 203.0.113.9"))
    assert main(["peers", str(wrong), str(SITES / "gw-b.yaml"), "--format", "json"]) == 1
    results = json.loads(capsys.readouterr().out)["results"]
    tun = [r for r in results if r["property"] == "peers.tunnel" and r["verdict"] == "refuted"]
    assert tun and "203.0.113.9" in tun[0]["message"]
    ga, gb = load_host(str(wrong)), load_host(str(SITES / "gw-b.yaml"))
    pkt = make_packet(**tun[0]["witness"]["packet"])
    assert "peers.tunnel" in concrete_verdict(ga, gb, pkt, PROFILE_OPTIONS["hpux"]).failed
    assert lookup(ga, pkt) is not None and lookup(ga, pkt).tunnel is not None  # type: ignore[union-attr]


def _tunnelled(host: Host, ends: list[int | None]) -> Host:
    policies = tuple(
        p if p.implicit or not p.action.is_ipsec or e is None
        else replace(p, tunnel=(4, BASE4 + 16 + e))
        for p, e in zip(host.policies, ends + [None] * len(host.policies), strict=False))
    return replace(host, policies=policies)


@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
@given(hosts(family=4, max_policies=3), hosts(family=4, max_policies=3),
       st.lists(st.one_of(st.none(), st.integers(0, 2)), min_size=3, max_size=3),
       st.lists(st.one_of(st.none(), st.integers(0, 2)), min_size=3, max_size=3),
       st.sampled_from(sorted(PROFILE_OPTIONS)))
def test_tunnel_findings_agree_with_brute_force(a: Host, b: Host, ea: list[int | None],
                                                eb: list[int | None], profile: str) -> None:
    """Gateways own BASE+16 (a) and BASE+17 (b); each IPsec policy may tunnel to BASE+16..18.
    The SMT findings (all four properties) are exactly brute force's, every witness replays."""
    own_a = (parse_address_value(text(4, 16)),)
    own_b = (parse_address_value(text(4, 17)),)
    lan_a = (parse_address_value(f"{text(4, 0)}/30"),)
    lan_b = (parse_address_value(f"{text(4, 4)}/30"),)
    ga = replace(_tunnelled(a, ea), name="a", address_values=own_a, protects=lan_a)
    gb = replace(_tunnelled(b, eb), name="b", address_values=own_b, protects=lan_b)
    options = PROFILE_OPTIONS[profile]
    # BASE+18 is a third gateway of the network (tunnels there go elsewhere) or nobody's
    for others in ((), (parse_address_value(text(4, 18)),)):
        report = check_direction(ga, gb, profile, others=others)
        for f in report.findings:
            assert f.verdict == "refuted" and f.packet is not None
            assert f.prop in concrete_verdict(ga, gb, f.packet, options, others).failed
        assert ({(f.prop, f.side, f.policy) for f in report.findings}
                == brute_force(ga, gb, options, others))


BATCH = """\
add ike main -remote 203.0.113.1 -authentication PSK
add tunnel lan -source 10.1.0.0/16 -destination 10.2.0.0/16 -tsource 198.51.100.1 \\
    -tdestination 203.0.113.1 -action ESP_AES128_HMAC_SHA2_256
add gateway web -source 10.1.0.0/16 -destination 10.2.5.0/24 -protocol tcp -priority 5 \\
    -tdestination 203.0.113.1 -action ESP_AES256_HMAC_SHA1
add host mgmt -source 198.51.100.1 -destination 203.0.113.1 -action PASS
"""


def test_batch_tunnel_and_gateway_records_load(tmp_path: Path) -> None:
    path = tmp_path / "gw.conf"
    path.write_text(BATCH)
    host = load_host(str(path))
    assert [(p.name, p.tunnel) for p in host.policies if not p.implicit] == [
        ("lan", (4, 0xCB007101)), ("web", (4, 0xCB007101)), ("mgmt", None)]
    assert host.policy("web").priority == 5 and host.policy("web").protocol == 6


@pytest.mark.parametrize(("text_", "field"), [
    ("add tunnel t -source 10.1.0.0/16 -action ESP_AES128_HMAC_SHA1\n", "-tdestination"),
    ("add tunnel t -tdestination 10.9.9.9 -tsource nowhere -action ESP_AES128_HMAC_SHA1\n",
     "-tsource"),
    ("add gateway g -tdestination 10.9.9.9 -action PASS\n", "tunnel"),
    ("add host h -tdestination 10.9.9.9 -action ESP_AES128_HMAC_SHA1\n", "-tdestination"),
])
def test_bad_tunnel_records_name_line_and_field(tmp_path: Path, text_: str, field: str
                                                ) -> None:
    path = tmp_path / "gw.conf"
    path.write_text(text_)
    with pytest.raises(InputError) as e:
        load_host(str(path))
    assert (e.value.line, e.value.field) == (1, field)


def test_sites_given_as_prefixes_show_the_mismatch_and_the_gap(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's user: two sites as ``address: <prefix>``; site A protects 10.10.0.0/16 ->
    10.20.0.0/16 with AES128 except a subnet with AES256 (a transform mismatch), and site B
    protects only 10.20.0.0/17 back (a gap: 10.20.128.0/17 is passed by B)."""
    a = tmp_path / "site-a.yaml"
    b = tmp_path / "site-b.yaml"
    a.write_text("host: site-a\naddress: 10.10.0.0/16\npolicies:\n"
                 "  - {name: db, priority: 5, source: 10.10.0.0/16, destination: 10.20.5.0/24,"
                 " action: [ESP_AES256_HMAC_SHA1]}\n"
                 "  - {name: lan, source: 10.10.0.0/16, destination: 10.20.0.0/16,"
                 " action: [ESP_AES128_HMAC_SHA1]}\n")
    b.write_text("host: site-b\naddress: 10.20.0.0/16\npolicies:\n"
                 "  - {name: lan, source: 10.20.0.0/17, destination: 10.10.0.0/16,"
                 " action: [ESP_AES128_HMAC_SHA1]}\n")
    assert main(["peers", str(a), str(b), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["scope"]["site-a"] == {"addresses": ["10.10.0.0/16"],
                                         "reason": "own addresses"}
    bad = [r for r in report["results"] if r["verdict"] == "refuted"
           and r["initiator"] == "site-a"]
    by_prop = {(r["property"], r["subject"][0]) for r in bad}
    assert ("peers.negotiation", "db") in by_prop  # NO_PROPOSAL_CHOSEN: AES256 vs AES128
    assert ("peers.symmetry", "lan") in by_prop  # the gap: B passes 10.20.128.0/17
    ha, hb = load_host(str(a)), load_host(str(b))
    for r in bad:
        pkt = make_packet(**r["witness"]["packet"])
        assert r["property"] in concrete_verdict(ha, hb, pkt, PROFILE_OPTIONS["hpux"]).failed
        assert not str(pkt).split(":")[0].endswith(".0")  # a host address, not a network


MODE_ANSWERS = {"hpux": "RFC 2407 4.5", "racoon": "NO_PROPOSAL_CHOSEN (ipsec-tools",
                "strongswan": "INVALID_ID_INFORMATION (strongSwan", "libreswan": None}


@pytest.mark.parametrize("profile", sorted(MODE_ANSWERS))
def test_mode_mismatch_follows_each_profile(profile: str, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """gw-a tunnels, gw-b's policy is transport mode. charon (quick_mode.c process_r) and racoon
    (proposal.c cmpsaprop_alloc) refuse the proposal; pluto (ikev1_spdb_struct.c
    parse_ipsec_sa_body) takes the initiator's mode, so under libreswan the mode is no finding.
    The SMT result and the concrete replay of its witness agree."""
    transport = tmp_path / "gw-b.yaml"
    transport.write_text((SITES / "gw-b.yaml").read_text().replace(
        "    tunnel: 198.51.100.1\n", ""))
    code = main(["peers", str(SITES / "gw-a.yaml"), str(transport), "--profile", profile,
                 "--format", "json"])
    results = json.loads(capsys.readouterr().out)["results"]
    tun = [r for r in results if r["property"] == "peers.tunnel" and r["verdict"] == "refuted"
           and "lan is tunnel mode" in r["message"]]
    ga, gb = load_host(str(SITES / "gw-a.yaml")), load_host(str(transport))
    pkt = make_packet("10.1.0.10", "10.2.0.20", "tcp", 50000, 443)
    verdict = concrete_verdict(ga, gb, pkt, PROFILE_OPTIONS[profile])
    answer = MODE_ANSWERS[profile]
    if answer is None:
        assert not tun and "peers.tunnel" not in verdict.failed
        return
    assert code == 1 and tun and answer in tun[0]["message"], results
    assert "tunnel mode" in tun[0]["message"] and "transport mode" in tun[0]["message"]
    assert "peers.tunnel" in verdict.failed and answer in verdict.tunnel_reason
    replayed = concrete_verdict(ga, gb, make_packet(**tun[0]["witness"]["packet"]),
                                PROFILE_OPTIONS[profile])
    assert "peers.tunnel" in replayed.failed
