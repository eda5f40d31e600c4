"""The fast paths of ``peers`` (concrete pre-search of witnesses, replay on hosts cut down
by the index) against the simple path (z3 for every item, replay on the whole hosts): the
same findings on random generated host pairs, and the same concrete verdict per packet."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.peer_pairs import generate_independent_pair, generate_pair
from qmcheck.model.encodings.z3_negotiation import PairEncoding
from qmcheck.model.semantics.lookup import lookup
from qmcheck.model.semantics.negotiation import PROFILE_OPTIONS
from qmcheck.model.values.packet import Packet
from qmcheck.model.values.policy import Host, Policy
from qmcheck.properties.checks import peers
from qmcheck.properties.checks.peers import Replayer, check_direction, concrete_verdict

PROFILES = sorted(PROFILE_OPTIONS)


def findings(a: Host, b: Host, profile: str) -> set[tuple[str, str, str, str]]:
    rep = check_direction(a, b, profile)
    options = PROFILE_OPTIONS[profile]
    for f in rep.findings:  # every witness replays on the whole hosts, in its region
        assert f.verdict == "refuted" and f.packet is not None
        detail = concrete_verdict(a, b, f.packet, options)
        assert f.prop in detail.failed
        owner = (lookup(a, f.packet) if f.side == "I"
                 else lookup(b, f.packet.as_seen_by_peer()))
        assert owner is not None and owner.name == f.policy
    return {(f.prop, f.side, f.policy, f.verdict) for f in rep.findings}


def pair(kind: str, count: int, seed: int) -> tuple[Host, Host]:
    return (generate_independent_pair if kind == "independent" else generate_pair)(count, seed)


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(["independent", "mirrored"]), st.integers(20, 70),
       st.integers(0, 10_000), st.sampled_from(PROFILES))
def test_fast_and_simple_paths_find_the_same(kind: str, count: int, seed: int, profile: str
                                            ) -> None:
    a, b = pair(kind, count, seed)
    original = peers.INDEXED_REPLAY
    try:
        peers.INDEXED_REPLAY = 10**9  # simple: every item to z3, replay on whole hosts
        simple = findings(a, b, profile)
        peers.INDEXED_REPLAY = 0  # fast: pre-search, cut-down hosts
        fast = findings(a, b, profile)
    finally:
        peers.INDEXED_REPLAY = original
    assert fast == simple


def test_independent_pairs_do_refute() -> None:
    """The workload exercises the pre-search: it finds refutations, on both sides."""
    a, b = pair("independent", 60, 3)
    original = peers.INDEXED_REPLAY
    try:
        peers.INDEXED_REPLAY = 0
        found = findings(a, b, "hpux")
    finally:
        peers.INDEXED_REPLAY = original
    assert {side for _, side, _, _ in found} == {"I", "R"}


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(["independent", "mirrored"]), st.integers(0, 1000),
       st.sampled_from(PROFILES), st.data())
def test_cut_down_replay_is_the_whole_replay(kind: str, seed: int, profile: str,
                                             data: st.DataObject) -> None:
    """Random packets (inside policies' boxes, or anywhere), with and without a region
    hint (right or wrong): the same verdict as on the whole hosts."""
    a, b = pair(kind, 40, seed)
    options = PROFILE_OPTIONS[profile]
    enc = PairEncoding(a, b, 4, options)
    fast = Replayer(enc, a, b, options, concrete_verdict, indexed=True)
    policies = [p for p in a.policies + b.policies if p.family == 4]
    for _ in range(8):
        p = data.draw(st.sampled_from(policies))
        src = data.draw(st.sampled_from([p.source.values[0].lo, p.destination.values[0].lo,
                                         p.source.values[0].hi]))
        dst = data.draw(st.sampled_from([p.destination.values[0].lo, p.source.values[0].lo,
                                         p.destination.values[0].hi]))
        proto = p.protocol if p.protocol is not None else data.draw(st.sampled_from([6, 17, 1]))
        ports = proto in (6, 17)
        sport = data.draw(st.sampled_from([0, p.source_port.lo, p.destination_port.hi])
                          ) if ports else 0
        dport = data.draw(st.sampled_from([0, p.destination_port.lo, p.source_port.hi])
                          ) if ports else 0
        packet = Packet(4, src, dst, proto, sport, dport, "out")
        side = data.draw(st.sampled_from(["I", "R"]))
        order = enc.i_order if side == "I" else enc.r_order
        hint = data.draw(st.one_of(st.none(), st.tuples(st.just(side),
                                                        st.integers(0, len(order) - 1))))
        whole = concrete_verdict(a, b, packet, options)
        cut = fast(packet, hint)
        assert cut == whole
        assert fast.initiator_first(packet, hint) is whole.initiator_policy


def test_the_search_knows_every_property() -> None:
    from qmcheck.properties.checks import peers_search

    assert peers_search.PROPERTIES == peers.PROPERTIES


@pytest.mark.parametrize("kind", ["independent", "mirrored"])
def test_pairs_are_seeded(kind: str) -> None:
    assert pair(kind, 30, 5) == pair(kind, 30, 5)


def test_fast_path_reports_are_the_same_with_jobs() -> None:
    """Byte-identical results (witnesses included) in one process and in two, twice."""
    import json

    from qmcheck.properties.checks.peers import peers_results

    a, b = pair("independent", 80, 11)
    original = peers.INDEXED_REPLAY
    try:
        peers.INDEXED_REPLAY = 0
        runs = [json.dumps([r.to_dict() for r in peers_results(a, b, ["hpux", "strongswan"],
                                                               jobs=jobs)])
                for jobs in (1, 2, 1)]
    finally:
        peers.INDEXED_REPLAY = original
    assert runs[0] == runs[1] == runs[2] and '"refuted"' in runs[0]


POOL = ("any", "10.0.0.0/24", "10.0.0.5", "10.1.0.0/16", "10.1.2.3")
PORTS = ("any", "22", "1000-2000")
ESP = ("ESP_AES128_HMAC_SHA1",)


def _policy(n: int, src: str, dst: str, action: tuple[str, ...] | str,
            proto: int | None = None, dport: str = "any") -> Policy:
    from qmcheck.model.values.addresses import AddressFilter, parse_address_value
    from qmcheck.model.values.protocols import ANY_PORT, PortRange
    from qmcheck.model.values.transforms import parse_action

    s, d = parse_address_value(src, 4), parse_address_value(dst, 4)
    family = None if s.is_any and d.is_any else 4
    lo, _, hi = dport.partition("-")
    ports = ANY_PORT if dport == "any" else PortRange(int(lo), int(hi or lo))
    return Policy(f"p{n}", 10 * (n + 1), AddressFilter((s,)), AddressFilter((d,)),
                  parse_action(list(action) if isinstance(action, tuple) else action),
                  family, proto, ANY_PORT, ports, index=n)


def _host(name: str, rows: list[tuple[str, str, str, int | None, str]]) -> Host:
    from qmcheck.model.values.policy import default_policy

    actions = {"esp": ESP, "pass": "PASS", "discard": "DISCARD", "ah": ("AH_SHA1",)}
    policies = [_policy(n, s, d, actions[a], proto, port)
                for n, (s, d, a, proto, port) in enumerate(rows)]
    return Host(name, (*policies, default_policy(len(policies))))


ROWS = st.lists(st.tuples(st.sampled_from(POOL), st.sampled_from(POOL),
                          st.sampled_from(["esp", "esp", "pass", "discard", "ah"]),
                          st.sampled_from([None, 6]), st.sampled_from(PORTS)),
                min_size=1, max_size=7)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(ROWS, ROWS, st.sampled_from(PROFILES))
def test_cut_down_replay_with_wildcard_selectors(i_rows: list, r_rows: list, profile: str
                                                 ) -> None:
    """Hosts with ``any`` fields (wildcard selectors, which the responder's cut narrows
    to policies whose field covers the family under strict wildcards): on every packet
    of a grid over the address pool, the cut-down replay gives the whole hosts' verdict."""
    from qmcheck.model.values.addresses import parse_address_value

    a, b = _host("I", i_rows), _host("R", r_rows)
    options = PROFILE_OPTIONS[profile]
    enc = PairEncoding(a, b, 4, options)
    fast = Replayer(enc, a, b, options, concrete_verdict, indexed=True)
    addresses = sorted({v.lo + (1 if v.hi > v.lo else 0) for v in
                        (parse_address_value(x, 4) for x in POOL[1:])} | {0x0B000001})
    for src in addresses:
        for dst in addresses:
            for proto, dport in ((6, 22), (6, 1500), (1, 0)):
                packet = Packet(4, src, dst, proto, 40000 if proto == 6 else 0, dport, "out")
                assert fast(packet) == concrete_verdict(a, b, packet, options), packet


@pytest.mark.parametrize("profile", PROFILES)
def test_wildcard_selector_finds_the_policy_with_the_whole_field(profile: str) -> None:
    """I sends a wildcard IDci (its source is any) and port 0. Under racoon's rule (strict
    addresses, lenient ports) only R's second policy contains the selectors, and it does
    not match the packet itself (its port is 22, the packet's 40000), so only the
    responder's cut by the selectors keeps it; a cut that tested the wrong field (or
    dropped wildcard selectors) would leave R without a policy and invent
    INVALID_ID_INFORMATION. Every profile: the same verdict as on the whole hosts."""
    a = _host("I", [("any", "10.1.2.3", "esp", None, "any")])
    b = _host("R", [("10.1.2.3", "10.0.0.0/24", "esp", None, "any"),
                    ("10.1.2.3", "any", "esp", None, "22")])
    options = PROFILE_OPTIONS[profile]
    enc = PairEncoding(a, b, 4, options)
    fast = Replayer(enc, a, b, options, concrete_verdict, indexed=True)
    packet = Packet(4, 0x0A000005, 0x0A010203, 6, 40000, 22, "out")
    whole = concrete_verdict(a, b, packet, options)
    if profile == "racoon":
        chosen = whole.outcome.responder_policy
        assert chosen is not None and chosen.name == "p1"
        assert not chosen.matches(packet.as_seen_by_peer())
    assert fast(packet) == whole
