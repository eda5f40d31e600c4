"""The profile rules of the responder (docs/PROFILES.md), concretely and in the SMT verdicts."""

from __future__ import annotations

from qmcheck.model.formats.loader import load_text
from qmcheck.model.semantics.negotiation import PROFILE_OPTIONS, NegotiationOptions, negotiate
from qmcheck.model.values.packet import make_packet
from qmcheck.model.values.policy import Host
from qmcheck.properties.checks.peers import check_direction

INITIATOR = """host: i
default-action: none
policies:
  - {name: web, source: 10.1.1.1, destination: 10.2.2.2, protocol: tcp,
     destination-port: 80, action: [ESP_AES128_HMAC_SHA1, ESP_3DES_HMAC_SHA1]}
  - {name: all, source: 10.1.1.1, destination: 10.2.2.2, action: [ESP_AES128_HMAC_SHA1]}
"""


def host(text: str, name: str = "r") -> Host:
    return load_text(text, f"{name}.yaml")  # type: ignore[return-value]


def responder(*policies: str) -> Host:
    return host("host: r\ndefault-action: none\npolicies:\n" + "".join(
        f"  - {p}\n" for p in policies))


INIT = host(INITIATOR, "i")
WEB = make_packet("10.1.1.1", "10.2.2.2", "tcp", 40000, 80)
ICMP = make_packet("10.1.1.1", "10.2.2.2", "icmp")


def negotiation_refuted(r: Host, profile: str) -> bool:
    return any(f.prop == "peers.negotiation" for f in check_direction(INIT, r, profile).findings)


def test_racoon_port_wildcard_is_lenient_only_for_ports() -> None:
    # the initiator's "all" sends protocol 0 and port 0; a TCP-only responder policy
    # takes a port wildcard under racoon, never a protocol wildcard
    r = responder("{name: web, source: 10.2.2.2, source-port: 80, destination: 10.1.1.1,"
                  " protocol: tcp, action: [ESP_AES128_HMAC_SHA1]}",
                  "{name: rest, source: 10.2.2.2, destination: 10.1.1.1,"
                  " action: [ESP_AES128_HMAC_SHA1]}")
    web_i = host("host: i2\ndefault-action: none\npolicies:\n  - {name: w, source: 10.1.1.1,"
                 " destination: 10.2.2.2, protocol: tcp, action: [ESP_AES128_HMAC_SHA1]}\n",
                 "i2")
    pkt = make_packet("10.1.1.1", "10.2.2.2", "tcp", 40000, 80)
    assert negotiate(web_i, r, pkt, PROFILE_OPTIONS["hpux"]).responder_policy.name == "rest"  # type: ignore[union-attr]
    assert negotiate(web_i, r, pkt, PROFILE_OPTIONS["racoon"]).responder_policy.name == "web"  # type: ignore[union-attr]
    assert negotiate(INIT, r, ICMP, PROFILE_OPTIONS["racoon"]).responder_policy.name == "rest"  # type: ignore[union-attr]
    # hence consistency fails differently: under hpux, R negotiates "rest" for port-80
    # traffic its lookup gives to "web"; under racoon, "web" for traffic its lookup gives to
    # "rest" (R's "rest" also protects UDP and ICMP that web_i does not: symmetry fails too)
    for profile, chosen, looked_up in (("hpux", "rest", "web"), ("racoon", "web", "rest")):
        findings = check_direction(web_i, r, profile).findings
        assert {f.prop for f in findings} == {"peers.consistency", "peers.symmetry"}
        (f,) = [f for f in findings if f.prop == "peers.consistency"]
        assert f.detail is not None and f.packet is not None
        assert f.detail.outcome.responder_policy.name == chosen  # type: ignore[union-attr]
        assert f.detail.responder_lookup.name == looked_up  # type: ignore[union-attr]
        assert (f.packet.dport == 80) == (profile == "hpux")


def test_strongswan_prefers_the_best_scoring_policy() -> None:
    # first match takes the broad policy; strongSwan scores the exact one higher
    r = responder("{name: broad, source: 10.2.2.0/24, destination: 10.1.1.0/24,"
                  " action: [AH_SHA1]}",
                  "{name: exact, source: 10.2.2.2, source-port: 80, destination: 10.1.1.1,"
                  " protocol: tcp, action: [ESP_3DES_HMAC_SHA1]}")
    hp = negotiate(INIT, r, WEB, PROFILE_OPTIONS["hpux"])
    sw = negotiate(INIT, r, WEB, PROFILE_OPTIONS["strongswan"])
    assert hp.status == "NO_PROPOSAL_CHOSEN" and hp.responder_policy.name == "broad"  # type: ignore[union-attr]
    assert sw.status == "accepted" and sw.responder_policy.name == "exact"  # type: ignore[union-attr]
    # responder's proposal order
    assert sw.accepted is not None and sw.accepted.name == "ESP_3DES_HMAC_SHA1"


def test_strongswan_narrowing_can_exclude_the_packet() -> None:
    # the responder only has a TCP policy for port 80: strongSwan accepts the initiator's
    # "all" selectors by narrowing them to TCP port 80, which no longer hold an ICMP packet
    r = responder("{name: web, source: 10.2.2.2, source-port: 80, destination: 10.1.1.1,"
                  " protocol: tcp, action: [ESP_AES128_HMAC_SHA1]}")
    out = negotiate(INIT, r, ICMP, PROFILE_OPTIONS["strongswan"])
    assert out.status == "accepted" and out.narrowed is not None and not out.covers_packet
    assert negotiate(INIT, r, ICMP, PROFILE_OPTIONS["hpux"]).status == "INVALID_ID_INFORMATION"
    (f,) = [f for f in check_direction(INIT, r, "strongswan").findings
            if f.prop == "peers.negotiation"]
    assert f.detail is not None and not f.detail.outcome.covers_packet


def test_libreswan_protocol_must_be_equal() -> None:
    r = responder("{name: any, source: 10.2.2.2, destination: 10.1.1.1,"
                  " action: [ESP_AES128_HMAC_SHA1]}")
    assert negotiate(INIT, r, WEB, PROFILE_OPTIONS["hpux"]).status == "accepted"
    assert negotiate(INIT, r, WEB, PROFILE_OPTIONS["libreswan"]).status == "INVALID_ID_INFORMATION"
    assert not negotiation_refuted(r, "hpux")
    assert negotiation_refuted(r, "libreswan")


def test_options_default_to_the_guide() -> None:
    assert NegotiationOptions() == PROFILE_OPTIONS["hpux"]


def test_libreswan_peer_port_must_be_equal() -> None:
    # the initiator names its source ports, so IDci carries the packet's port; a responder
    # policy for any port on that side contains it, but Libreswan compares for equality
    i = host("host: i3\ndefault-action: none\npolicies:\n  - {name: hi, source: 10.1.1.1,"
             " source-port: 1024-65535, destination: 10.2.2.2, protocol: tcp,"
             " action: [ESP_AES128_HMAC_SHA1]}\n", "i3")
    r = responder("{name: tcp, source: 10.2.2.2, destination: 10.1.1.1, protocol: tcp,"
                  " action: [ESP_AES128_HMAC_SHA1]}")
    pkt = make_packet("10.1.1.1", "10.2.2.2", "tcp", 40000, 80)
    assert negotiate(i, r, pkt, PROFILE_OPTIONS["hpux"]).status == "accepted"
    assert negotiate(i, r, pkt, PROFILE_OPTIONS["libreswan"]).status == "INVALID_ID_INFORMATION"
    refuted = {p: any(f.prop == "peers.negotiation" for f in check_direction(i, r, p).findings)
               for p in ("hpux", "libreswan")}
    assert refuted == {"hpux": False, "libreswan": True}
