"""The concrete semantics: packet lookup, selector derivation, responder search, proposals."""

from __future__ import annotations

from itertools import product

from hypothesis import given, settings
from hypothesis import strategies as st

from qmcheck.model.formats.loader import load_scenario, load_text
from qmcheck.model.formats.yaml_dump import dump_host
from qmcheck.model.semantics.lookup import lookup, lookup_order
from qmcheck.model.semantics.negotiation import (
    NegotiationOptions,
    choose_proposal,
    message1,
    negotiate,
    responder_search,
)
from qmcheck.model.values.packet import Packet, make_packet
from qmcheck.model.values.policy import Host, Policy
from qmcheck.model.values.selectors import Selector
from qmcheck.model.values.transforms import parse_transform
from tests.strategies import BASE4, BASE6, PORTS, PROTOCOLS, hosts, universe

UNIVERSE = {4: universe(4), 6: universe(6)}


def generated_packets(policy: Policy, family: int) -> set[Packet]:
    """Every universe packet a policy matches, generated from its fields (not by testing a
    predicate): the brute-force oracle of lookup."""
    base = BASE4 if family == 4 else BASE6
    if policy.family not in (None, family):
        return set()
    addresses = [base + i for i in range(8)]

    def field(f: object) -> list[int]:
        if policy.family is None:
            return addresses
        return [a for a in addresses if any(v.lo <= a <= v.hi for v in f.values)]  # type: ignore[attr-defined]

    locals_, remotes = field(policy.source), field(policy.destination)
    protocols = PROTOCOLS if policy.protocol is None else (policy.protocol,)
    out: set[Packet] = set()
    for proto in protocols:
        ports = PORTS if proto in (6, 17) else (0,)
        lports = [p for p in ports if policy.source_port.lo <= p <= policy.source_port.hi]
        rports = [p for p in ports if policy.destination_port.lo <= p <= policy.destination_port.hi]
        for local, remote, lp, rp in product(locals_, remotes, lports, rports):
            out.add(Packet(family, local, remote, proto, lp, rp, "out"))  # type: ignore[arg-type]
            out.add(Packet(family, remote, local, proto, rp, lp, "in"))  # type: ignore[arg-type]
    return out


@given(hosts(max_policies=6))
@settings(max_examples=60, deadline=None)
def test_lookup_equals_brute_force(host: Host) -> None:
    family = host.policies[0].family or 4
    sets = [(p, generated_packets(p, family)) for p in host.ordered()]
    for packet in UNIVERSE[family]:
        expected = next((p for p, members in sets if packet in members), None)
        assert lookup(host, packet) == expected


@given(hosts(max_policies=5, equal_priorities=True), st.randoms(use_true_random=False))
@settings(max_examples=40, deadline=None)
def test_equal_priorities_use_file_order(host: Host, rnd: object) -> None:
    names = [p.name for p in host.policies]
    file_order = {n: i for i, n in enumerate(names)}
    for packet in UNIVERSE[host.policies[0].family or 4][::7]:
        assert lookup(host, packet) == lookup_order(host.policies, packet, file_order)


def test_mirroring_inbound_uses_swapped_fields() -> None:
    host = load_scenario(None).hosts["hostA"]
    out = make_packet("10.1.1.1", "10.2.2.2", "tcp", 40000, 23, "out")
    back = out.reversed()  # 10.2.2.2:23 -> 10.1.1.1:40000 in
    assert lookup(host, out).name == "telnet-b"  # type: ignore[union-attr]
    assert lookup(host, back).name == "telnet-b"  # type: ignore[union-attr]
    assert lookup(host, out.as_seen_by_peer()).name != "telnet-b"  # type: ignore[union-attr]


@given(hosts(max_policies=5), st.data())
@settings(max_examples=60, deadline=None)
def test_derived_selectors_contain_the_packet(host: Host, data: st.DataObject) -> None:
    family = host.policies[0].family or 4
    outbound = [p for p in UNIVERSE[family] if p.direction == "out"]
    packet = data.draw(st.sampled_from(outbound))
    policy = lookup(host, packet)
    if policy is None or not policy.action.is_ipsec:
        return
    m1 = message1(policy, packet)
    for sel, address, port in ((m1.idci, packet.src, packet.sport),
                               (m1.idcr, packet.dst, packet.dport)):
        assert sel.contains_address(packet.family, address)
        assert sel.port in (0, port)
        assert sel.protocol in (0, packet.protocol)
        if sel.kind == "addr":
            assert sel.lo == address
    # the initiator's own policy, seen from the other side, contains its selectors
    mirrored = Host("mirror", (policy,))
    assert responder_search(mirrored, m1.idcr, m1.idci, "lenient") == policy


@given(hosts(max_policies=6))
@settings(max_examples=60, deadline=None)
def test_dump_and_load_round_trip(host: Host) -> None:
    again = load_text(dump_host(host), "<dump>")
    assert again == host
    assert dump_host(again) == dump_host(host)


def sel(address: str, protocol: int = 0, port: int = 0) -> Selector:
    p = make_packet(address, address)
    if address in ("0.0.0.0",):
        return Selector(4, "subnet", 0, 2**32 - 1, protocol, port)
    return Selector(4, "addr", p.src, p.src, protocol, port)


RESPONDER = """\
host: r
policies:
  - {name: telnet, source: 10.2.2.2, source-port: 23, destination: 10.1.1.0/24, protocol: tcp,
     action: [ESP_3DES_HMAC_SHA1, ESP_AES128_HMAC_SHA1]}
  - {name: any-tcp, source: 10.2.2.2, destination: any, protocol: tcp, action: [AH_SHA1]}
  - {name: clear, source: 10.2.2.2, destination: 10.1.1.1, action: PASS}
"""


def test_responder_search_strict_and_lenient() -> None:
    r = load_text(RESPONDER, "r.yaml")
    assert isinstance(r, Host)
    # exact selectors: the telnet policy contains them
    assert responder_search(r, sel("10.1.1.1", 6), sel("10.2.2.2", 6, 23)).name == "telnet"  # type: ignore[union-attr]
    # port wildcard: strict skips the telnet policy (port 23 is not "any"), lenient takes it
    assert responder_search(r, sel("10.1.1.1", 6), sel("10.2.2.2", 6), "strict").name == "any-tcp"  # type: ignore[union-attr]
    assert responder_search(r, sel("10.1.1.1", 6), sel("10.2.2.2", 6), "lenient").name == "telnet"  # type: ignore[union-attr]
    # address wildcard IDci: strict finds only the field that is any
    assert responder_search(r, sel("0.0.0.0", 6), sel("10.2.2.2", 6)).name == "any-tcp"  # type: ignore[union-attr]
    # protocol wildcard: strict only "any protocol" policies
    assert responder_search(r, sel("10.1.1.1"), sel("10.2.2.2")).name == "clear"  # type: ignore[union-attr]
    assert responder_search(r, sel("10.1.1.1"), sel("10.2.2.2"), "lenient").name == "telnet"  # type: ignore[union-attr]
    # nothing configured matches: the shipped default policy (PASS everything) does
    assert responder_search(r, sel("10.9.9.9", 17), sel("10.2.2.2", 17)).name == "default"  # type: ignore[union-attr]


def test_proposal_order() -> None:
    mine = tuple(parse_transform(t) for t in ("ESP_3DES_HMAC_SHA1", "ESP_AES128_HMAC_SHA1"))
    theirs = tuple(parse_transform(t) for t in ("ESP_AES128_HMAC_SHA1/3600",
                                                "ESP_3DES_HMAC_SHA1"))
    assert str(choose_proposal(theirs, mine, "initiator")) == "ESP_AES128_HMAC_SHA1/3600"
    assert str(choose_proposal(theirs, mine, "responder")) == "ESP_3DES_HMAC_SHA1"
    assert choose_proposal(theirs, (parse_transform("AH_MD5"),)) is None


def test_negotiation_outcomes_on_the_default_scenario() -> None:
    sc = load_scenario(None)
    a, b = sc.hosts["hostA"], sc.hosts["hostB"]
    telnet = negotiate(a, b, make_packet("10.1.1.1", "10.2.2.2", "tcp", 40000, 23))
    assert telnet.status == "accepted" and telnet.responder_policy.name == "telnet-a"  # type: ignore[union-attr]
    assert telnet.message1 is not None
    assert str(telnet.message1.idcr) == "10.2.2.2 tcp port 23"
    assert str(telnet.message1.idci) == "10.1.1.1 tcp"  # port any -> wildcard 0
    assert telnet.accepted is not None and telnet.accepted.name == "ESP_AES128_HMAC_SHA1"
    swan = negotiate(a, b, telnet.packet, NegotiationOptions("strict", "responder"))
    assert swan.accepted is not None and swan.accepted.name == "ESP_3DES_HMAC_SHA1"
    dns = negotiate(a, b, make_packet("10.1.1.1", "10.2.2.2", "udp", 5353, 53))
    assert dns.status == "not-protected"
    # racoon's lenient wildcards: the protocol wildcard of all-b lands on hostB's DNS PASS policy
    lenient = negotiate(a, b, make_packet("10.1.1.1", "10.2.2.2", "icmp"),
                        NegotiationOptions("lenient", "initiator"))
    assert lenient.status == "NO_PROPOSAL_CHOSEN" and lenient.responder_policy.name == "dns"  # type: ignore[union-attr]
    strict = negotiate(a, b, make_packet("10.1.1.1", "10.2.2.2", "icmp"))
    assert strict.status == "accepted" and strict.responder_policy.name == "all-a"  # type: ignore[union-attr]


def test_negotiation_failures_name_the_reason() -> None:
    i = load_text("host: i\npolicies:\n  - {name: p, source: 10.1.1.1,"
                  " destination: 10.2.2.2-10.2.2.255, action: [ESP_AES128_HMAC_SHA1]}\n",
                  "i.yaml")  # a range: sent as the packet's address (hpux, ranges-exact)
    r = load_text("host: r\ndefault-action: none\npolicies:\n  - {name: q, source: 10.2.2.2,"
                  " destination: 10.1.1.1, action: [AH_SHA1]}\n", "r.yaml")
    assert isinstance(i, Host) and isinstance(r, Host)
    pkt = make_packet("10.1.1.1", "10.2.2.2", "udp", 1, 2)
    out = negotiate(i, r, pkt)
    assert out.status == "NO_PROPOSAL_CHOSEN" and "shares no transform" in out.reason
    other = negotiate(i, r, make_packet("10.1.1.1", "10.2.2.3", "udp", 1, 2))
    assert other.status == "INVALID_ID_INFORMATION" and "no policy of r" in other.reason
